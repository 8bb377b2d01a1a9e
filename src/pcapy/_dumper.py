"""Dumper: pcapy's savefile writer, on the pure-Python writers.

``Reader.dump_open(path)`` opens one with the reader's link type, snapshot length and time-stamp
precision; ``Dumper(path, linktype, snaplen)`` opens one without a reader (pcapy could not).
``'-'`` means standard output. The format is classic pcap unless the name ends in ``.pcapng``
or ``format='pcapng'`` is given.

``dump(hdr, data)`` never reads past ``data`` (pcapy wrote ``hdr.caplen`` bytes whatever the
buffer's size): a buffer shorter than the header's caplen is written as it is, with the caplen
corrected. Records are written whole; ``flush()`` pushes everything written so far to the file,
and ``close()`` (also called by ``with`` and by garbage collection) flushes and closes it.

Whole records, even on Ctrl-C. A record goes to the file object in one ``write`` call. When it
fits the file's buffer, that call either copies all of it or (if flushing older records was
interrupted first) none of it. A larger record bypasses the buffer: CPython writes it straight
to the descriptor and runs signal handlers after each partial write, so a SIGINT arriving
mid-record (a short write, common on pipes) would raise KeyboardInterrupt with half a record in
the file. Such records are written with the usual asynchronous signals blocked in the main
thread (``pthread_sigmask``, about 5 us a record); a signal that arrives meanwhile is handled as
soon as the record is complete. Files the Dumper opens, ``'-'`` included (its own buffer on the
standard output's descriptor, as pcapy's C stdio stream was), have a 64 KiB buffer; for a file
object of the caller's, whose buffer size cannot be known, records over 1 KiB (the smallest
buffer CPython gives a file by default) take the careful path.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import signal
import struct
import sys
import threading
from typing import IO, Any, Callable, Optional, Union

from ._args import as_int
from ._constants import DLT_EN10MB, TstampPrecision
from ._errors import DumpError, PcapError
from ._pkthdr import Pkthdr
from ._savefile._writer import PcapWriter

BytesLike = Union[bytes, bytearray, memoryview]
PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]
_BUFFER_SIZE = 1 << 16
_SMALLEST_BUFFER = 1024  # st_blksize of a terminal: CPython's default buffer for it
_FORMATS = ("pcap", "pcapng")
_RECORD = struct.Struct("<IIII")
#: Signals whose Python handlers could interrupt a record half-written (see the module doc).
_DEFERRED_SIGNALS = frozenset(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)


def _precision_is_nano(precision: Union[int, str, None]) -> bool:
    if precision is None:
        return False
    if not isinstance(precision, str):
        precision = as_int("precision", precision)
    if precision in (TstampPrecision.NANO, "nano", "nsec", "ns"):
        return True
    if precision in (TstampPrecision.MICRO, "micro", "usec", "us"):
        return False
    raise ValueError(f"precision must be 'micro' or 'nano' (or TstampPrecision), not {precision!r}")


def _choose_format(name: str, file_format: Optional[str]) -> str:
    if file_format is None:
        return "pcapng" if name.lower().endswith((".pcapng", ".pcapng.gz")) else "pcap"
    if file_format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}, not {file_format!r}")
    return file_format


class Dumper:
    """Writes packets to a savefile (pcapy's Dumper, plus flush, context manager and pcapng)."""

    def __init__(
        self,
        target: PathOrFile,
        linktype: int = DLT_EN10MB,
        snaplen: int = 65535,
        *,
        precision: Union[int, str, None] = None,
        format: Optional[str] = None,
    ) -> None:
        linktype, snaplen = as_int("linktype", linktype), as_int("snaplen", snaplen)
        if not 0 < snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen must be in 1..4294967295, got {snaplen}")
        nanosecond = _precision_is_nano(precision)
        self._closed = True
        self._failure: Optional[DumpError] = None  # once a write fails, the file is cut
        self._file, self._owned, self.name = _open_output(target)
        #: the longest record the file's buffer surely takes whole (see the module doc)
        self._whole_record = _BUFFER_SIZE if self._owned else _SMALLEST_BUFFER
        try:
            self._writer = _make_writer(
                _record_writer(self._file.write, self._whole_record),
                _choose_format(self.name, format), linktype, snaplen, nanosecond,
            )
            self._file.flush()  # a file that cannot take its header fails here, not later
        except OSError as err:
            with contextlib.suppress(OSError):
                self._close_file()
            raise _dump_error(self.name, err) from err
        except BaseException:
            self._close_file()
            raise
        self._closed = False
        self._write: Callable[[bytes], object] = self._file.write
        self._fast_limit = self._whole_record - _RECORD.size  # longest data for the fast path
        #: headers a classic pcap file stores unchanged; None turns the fast path off
        self._native_header: Optional[type] = getattr(self._writer, "native_header", None)
        self._pack = _RECORD.pack

    @property
    def file_format(self) -> str:
        """``'pcap'`` or ``'pcapng'``."""
        return str(self._writer.file_format)

    def dump(self, header: Pkthdr, data: BytesLike) -> None:
        """Write one packet: a ``Pkthdr`` (from a reader, or built) and its bytes."""
        # Fast path: a header at the file's resolution and data of exactly caplen bytes (the
        # case of copying from a reader) that fit the file's buffer are packed and written in
        # one go.
        if (type(header) is self._native_header and type(data) is bytes
                and len(data) == header[2] <= self._fast_limit):
            try:
                self._write(self._pack(*header) + data)
            except struct.error:
                pass  # a time stamp too large for the format: the checked path says so
            except OSError as err:
                raise self._failed(err) from err
            else:
                return
        self._dump_checked(header, data)

    def _dump_checked(self, header: Pkthdr, data: BytesLike) -> None:
        if self._closed:
            raise PcapError("Dumper is already closed.")
        if self._failure is not None:
            raise copy.copy(self._failure)
        if not isinstance(header, Pkthdr):
            raise PcapError(f"Not a pkthdr object (got {type(header).__name__})")
        if not isinstance(data, (bytes, bytearray)):
            data = _byte_view(data)
        try:
            self._writer.write_packet(header, data)
        except OSError as err:
            raise self._failed(err) from err

    def _failed(self, err: OSError) -> DumpError:
        """Remember a failed write: this call and every later one raise it."""
        self._failure = _dump_error(self.name, err)
        self._native_header = None  # later dump() calls take the checked path, which raises
        return copy.copy(self._failure)

    def flush(self) -> None:
        """Make everything dumped so far visible to other readers of the file."""
        if self._closed:
            raise PcapError("Dumper is already closed.")
        if self._failure is not None:
            raise copy.copy(self._failure)
        try:
            self._file.flush()
        except OSError as err:
            raise self._failed(err) from err

    def close(self) -> None:
        """Flush and close the file; calling it again does nothing."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._native_header = None  # later dump() calls take the checked path, which refuses
        finish = getattr(self._writer, "finish", None)
        try:
            try:
                if finish is not None:
                    finish()
            finally:
                self._close_file()
        except OSError as err:
            if self._failure is None:  # reported once, where it happened
                raise self._failed(err) from err

    def _close_file(self) -> None:
        try:
            self._file.flush()
        finally:
            if self._owned:
                self._file.close()

    def __enter__(self) -> Dumper:
        if self._closed:
            raise PcapError("Dumper is already closed.")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):  # a finaliser has no one to report to
                self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Dumper {self.name!r} {self.file_format} {state}>"


def _dump_error(name: str, err: OSError) -> DumpError:
    return DumpError(err.errno, f"{name}: {err.strerror or err}")


def _byte_view(data: object) -> BytesLike:
    """``data`` as a flat view of bytes, so that ``len()`` counts bytes (an ``array('I')``, a
    memoryview of another format or a strided one would otherwise write garbage)."""
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"packet data must be bytes-like, not {type(data).__name__}") from None
    if view.c_contiguous:
        return view.cast("B")
    return view.tobytes()


def _record_writer(write: Callable[[bytes], object], whole_record: int) -> Callable[[bytes], None]:
    """The writers' ``write``: one whole record or block per call (see the module doc).

    A closure over the file's ``write``, not a method, so that the writer does not hold the
    Dumper: a dropped Dumper is closed at once by reference counting, not by a later GC pass.
    """

    def write_record(record: bytes) -> None:
        if len(record) <= whole_record:
            write(record)
        else:
            _write_deferring_signals(write, record)

    return write_record


def _write_deferring_signals(write: Callable[[bytes], object], record: bytes) -> None:
    """``write(record)`` with asynchronous signals held back until it returns (main thread).

    Only the main thread runs Python signal handlers; elsewhere this is a plain write.
    """
    if not hasattr(signal, "pthread_sigmask") or (
        threading.current_thread() is not threading.main_thread()
    ):
        write(record)
        return
    # Read the mask first (changing nothing), so that the finally clause restores it even if a
    # handler raises from the call that blocks (pthread_sigmask runs pending handlers).
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED_SIGNALS)
        write(record)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _open_output(target: PathOrFile) -> tuple[Any, bool, str]:
    if isinstance(target, (str, os.PathLike)):
        path = os.fspath(target)
        if not isinstance(path, str):
            raise TypeError(f"dump target path must be a str, not {type(path).__name__}")
        if "\x00" in path:
            raise ValueError(f"dump target path must not contain NUL characters: {path!r}")
        if path == "-":
            return _standard_output()
        try:
            return open(path, "wb", buffering=_BUFFER_SIZE), True, path
        except OSError as err:
            raise PcapError(f"{path}: {err.strerror or err}") from err
    if callable(getattr(target, "write", None)):
        return _checked_file_object(target), False, str(getattr(target, "name", "<file object>"))
    raise TypeError(
        f"dump target must be a path, '-' or a binary file object, not {type(target).__name__}"
    )


def _standard_output() -> tuple[Any, bool, str]:
    """Our own buffer on the standard output's descriptor (closing it leaves the descriptor
    open), or, when ``sys.stdout`` has no descriptor (replaced by a test harness), its buffer."""
    try:
        fd = sys.stdout.buffer.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stdout.buffer, False, "-"
    sys.stdout.flush()  # what was printed before goes first
    return open(fd, "wb", buffering=_BUFFER_SIZE, closefd=False), True, "-"


def _checked_file_object(target: Any) -> Any:
    if isinstance(target, io.TextIOBase):
        raise TypeError("dump target file object must be opened in binary mode ('wb')")
    writable = getattr(target, "writable", None)
    if callable(writable) and not writable():
        raise ValueError("dump target file object is not open for writing")
    if not callable(getattr(target, "flush", None)):
        raise PcapError(
            f"dump target file object {type(target).__name__} has no flush() method "
            "(the Dumper flushes it on flush() and close())"
        )
    return target


def _make_writer(write: Any, file_format: str, dlt: int, snaplen: int, nanosecond: bool) -> Any:
    if file_format == "pcapng":
        from ._savefile._pcapng_writer import PcapngWriter  # noqa: PLC0415

        return PcapngWriter(write, dlt, snaplen, nanosecond=nanosecond)
    return PcapWriter(write, dlt, snaplen, nanosecond=nanosecond)
