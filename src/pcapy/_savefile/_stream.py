"""The I/O edge of the savefile engine: turn a path, ``'-'`` or a file object into chunks.

The parsers never read; they consume an iterator of ``bytes`` chunks. This module opens what the
user named, looks at the first bytes to undo gzip compression, and hands out the first chunk plus
an iterator over the rest. Regular files are read unbuffered in large chunks (one copy, no
double buffering); pipes and file objects are read with ``read1`` where they have it, so a
reader sees packets as soon as a writer on the other end of a pipe flushes them.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import stat
import sys
import threading
import weakref
import zlib
from collections.abc import Iterator
from typing import IO, Any, Callable, Optional, Union

from .._errors import MalformedSavefileError, PcapError, TruncatedSavefileError

CHUNK_SIZE = 256 * 1024
GZIP_MAGIC = b"\x1f\x8b"

PathOrFile = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", IO[bytes]]


class _Prefixed(io.RawIOBase):
    """A read-only raw stream over another one's ``read``, starting with bytes already read
    from it; what the gzip layer reads through, buffered (``_prefixed_reader``).

    gzip's header parser reads the FNAME and FCOMMENT fields one byte per call: the buffered
    reader serves each in C from a chunk it refills here, so an unterminated field costs time
    linear in its length, at the standard library's own speed.
    """

    def __init__(self, prefix: bytes, read: Callable[[int], Optional[bytes]]) -> None:
        super().__init__()
        self._prefix: Optional[memoryview] = memoryview(prefix)
        self._read = read

    def readinto(self, buffer: Any) -> Optional[int]:
        target = memoryview(buffer).cast("B")
        prefix = self._prefix
        if prefix is not None:
            size = min(len(prefix), len(target))
            target[:size] = prefix[:size]
            self._prefix = prefix[size:] if size < len(prefix) else None
            return size
        data = self._read(len(target))
        if data is None:  # a non-blocking stream with nothing to read yet
            return None
        target[:len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def _prefixed_reader(prefix: bytes, read: Callable[[int], bytes]) -> io.BufferedReader:
    return io.BufferedReader(_Prefixed(prefix, read), CHUNK_SIZE)


class ByteSource:
    """An opened capture stream: its name, its first bytes, and an iterator over the rest."""

    def __init__(self, name: str, stream: Any, owned: bool) -> None:
        self._io_lock = threading.Lock()
        self._closed = self._close_pending = False
        self.name = name
        self._stream = stream  # what close() closes when we opened it
        self._owned = owned
        # Collected with the last reader or iterator that used it, we close what we opened,
        # quietly, even inside a collected cycle (a Reader does not close its file when
        # collected, since `for p in open_offline(f)` keeps iterating after the Reader is gone).
        self._release = weakref.finalize(self, stream.close) if owned else None
        self._read: Callable[[int], bytes] = getattr(stream, "read1", None) or stream.read
        self._position = 0  # bytes of the (decompressed) stream read so far
        self.first = self._read_first()
        #: the file's path when we opened it (a plain file or a FIFO: see
        #: ``regular_file_descriptor`` for what libpcap may read)
        self.path: Optional[str] = name if owned else None
        #: whether ``readinto`` fills buffers straight from a plain file: one pcapy opened, or
        #: a file object that says it reads one (``reads_plain_file``: ``read_range``'s)
        self.direct = self.path is not None or getattr(stream, "reads_plain_file", False) is True
        if self.first[:2] == GZIP_MAGIC:
            self._read = self._gunzip()
            self._position = 0
            self.first = self._read_first()
            self.path = None
            self.direct = False

    def _read_first(self) -> bytes:
        """Read until at least a file header's worth of bytes (or EOF) is in hand."""
        pieces: list[bytes] = []
        have = 0
        while have < 64:
            piece = self._read_checked(CHUNK_SIZE)
            if not piece:
                break
            pieces.append(piece)
            have += len(piece)
        return b"".join(pieces)

    def _gunzip(self) -> Callable[[int], bytes]:
        prefixed = _prefixed_reader(self.first, self._read)
        wrapped = gzip.GzipFile(fileobj=prefixed, mode="rb")
        read: Callable[[int], bytes] = wrapped.read
        return read

    def _read_checked(self, size: int) -> bytes:
        # Under the I/O lock, so that close() from another thread never closes the descriptor
        # in the middle of a read, and no read ever reaches a descriptor closed (and perhaps
        # reused by another file) since: such a read raises PcapError instead.
        with self._io_lock:
            self._refuse_closed()
            return self._read_unlocked(size)

    def _refuse_closed(self) -> None:
        if self._close_pending or self._closed:
            self._close_now()
            raise PcapError(f"{self.name}: the savefile was closed")

    def _read_unlocked(self, size: int) -> bytes:
        try:
            data = self._read(size)
        except EOFError as err:  # gzip: the compressed stream ends before its end marker
            raise TruncatedSavefileError(
                f"{self.name}: truncated gzip stream: {err}", offset=self._position
            ) from err
        except (gzip.BadGzipFile, zlib.error) as err:  # a damaged gzip header, data or trailer
            raise MalformedSavefileError(
                f"{self.name}: damaged gzip stream: {err}", offset=self._position
            ) from err
        except OSError as err:
            raise PcapError(f"{self.name}: error reading dump file: {err}") from err
        if data is None:  # a non-blocking stream with nothing to read yet
            raise PcapError(f"{self.name}: non-blocking streams are not supported")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(
                f"{self.name}: the file object must be opened in binary mode "
                f"(read() returned {type(data).__name__})"
            )
        self._position += len(data)
        return bytes(data)

    def read(self, size: int) -> bytes:
        """Up to ``size`` more bytes of the (decompressed) stream; ``b""`` at its end."""
        return self._read_checked(size)

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` straight from a plain file (``direct``: no gzip layer, and no copy
        but the kernel's); how many bytes came, 0 at the end of the file."""
        if not self.direct:
            raise PcapError(f"{self.name}: not a plain file pcapy opened; use read()")
        with self._io_lock:
            self._refuse_closed()
            try:
                got = int(self._stream.readinto(buffer))
            except OSError as err:
                raise PcapError(f"{self.name}: error reading dump file: {err}") from err
            self._position += got
            return got

    def remaining(self) -> Optional[int]:
        """Bytes left to read in a ``direct`` stream (a size hint: a file may still grow), or
        None when that is not known."""
        if not self.direct:
            return None
        try:
            counted = getattr(self._stream, "remaining", None)
            if counted is not None:
                return int(counted())
            return os.fstat(self._stream.fileno()).st_size - int(self._stream.tell())
        except (OSError, ValueError):
            return None

    @property
    def file(self) -> Any:
        """The file object read: the one given to ``open_stream``, or the one it opened."""
        return self._stream

    def chunks(self) -> Iterator[bytes]:
        """The stream's remaining bytes, chunk by chunk, until EOF.

        Not a generator: an exception from one read (a KeyboardInterrupt, an I/O error) leaves
        the iterator usable, so the next read goes on from there rather than finding a dead
        generator's silent end.
        """
        return iter(functools.partial(self._read_checked, CHUNK_SIZE), b"")

    def seek(self, offset: int) -> None:
        """Continue reading at ``offset`` (plain files only: see ``path``)."""
        if self.path is None:
            raise PcapError(f"{self.name}: cannot seek in this stream")
        with self._io_lock:
            if self._closed or self._close_pending:
                raise PcapError(f"{self.name}: the savefile was closed")
            self._stream.seek(offset)

    def regular_file_descriptor(self) -> int:
        """The descriptor of the plain file we opened and read from, or -1 (a pipe, a FIFO,
        a gzip stream, stdin, a file object): what libpcap may be handed to read from."""
        if self.path is None:
            return -1
        try:
            fd = int(self._stream.fileno())
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except (AttributeError, OSError, ValueError):
            return -1
        return fd if regular else -1

    def fileno(self) -> int:
        """The descriptor being read, or -1 (pcapy's ``getfd()`` on a savefile)."""
        try:
            return int(self._stream.fileno())
        except (AttributeError, OSError, ValueError):
            return -1

    def close(self) -> None:
        """Close what we opened: now, or, if another thread is inside a read, as soon as that
        read returns (by that thread; no read follows)."""
        self._close_pending = True
        if self._io_lock.acquire(blocking=False):
            try:
                self._close_now()
            finally:
                self._io_lock.release()

    def take_ownership(self) -> None:
        """Close the stream with this source from now on (a file object pcapy made itself,
        such as ``read_range``'s)."""
        if self._release is None:
            self._owned = True
            self._release = weakref.finalize(self, self._stream.close)

    def _close_now(self) -> None:
        if not self._closed:
            self._closed = True
            if self._release is not None:
                self._release()


def open_stream(target: PathOrFile) -> ByteSource:
    """Open a path (``'-'`` is stdin) or wrap a binary file object; raise PcapError on failure."""
    if isinstance(target, (str, bytes, os.PathLike)):
        path = os.fsdecode(target)
        if path == "-":
            stdin = sys.stdin.buffer
            return ByteSource("-", stdin, owned=False)
        try:
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by ByteSource.close
        except OSError as err:
            raise PcapError(f"{path}: {err.strerror or err}") from err
        try:
            return ByteSource(path, raw, owned=True)
        except BaseException:
            raw.close()
            raise
    if callable(getattr(target, "read", None)):
        name = str(getattr(target, "name", "<file object>"))
        return ByteSource(name, target, owned=False)
    raise TypeError(
        "open_offline() needs a path, '-' or a binary file object, "
        f"not {type(target).__name__}"
    )
