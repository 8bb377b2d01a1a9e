"""Dumper: pcapy's savefile writer, on the pure-Python writers.

``Reader.dump_open(path)`` opens one with the reader's link type, snapshot length and time-stamp
precision; ``Dumper(path, linktype, snaplen)`` opens one without a reader (pcapy could not).
``'-'`` means standard output. The format is classic pcap unless the name ends in ``.pcapng``
or ``format='pcapng'`` is given.

``dump(hdr, data)`` never reads past ``data`` (pcapy wrote ``hdr.caplen`` bytes whatever the
buffer's size): a buffer shorter than the header's caplen is written as it is, with the caplen
corrected. Records are written whole; ``flush()`` pushes everything written so far to the file,
and ``close()`` (also called by ``with`` and by garbage collection) flushes and closes it.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from typing import IO, Any, Callable, Optional, Union

from ._constants import DLT_EN10MB, TstampPrecision
from ._errors import PcapError
from ._pkthdr import Pkthdr
from ._savefile._writer import PcapWriter

BytesLike = Union[bytes, bytearray, memoryview]
PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]
_BUFFER_SIZE = 1 << 16
_FORMATS = ("pcap", "pcapng")
_RECORD = struct.Struct("<IIII")


def _precision_is_nano(precision: Union[int, str, None]) -> bool:
    if precision is None:
        return False
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
        for name, value in (("linktype", linktype), ("snaplen", snaplen)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if not 0 < snaplen <= 0xFFFFFFFF:
            raise ValueError(f"snaplen must be in 1..4294967295, got {snaplen}")
        nanosecond = _precision_is_nano(precision)
        self._closed = True
        self._file, self._owned, self.name = _open_output(target)
        try:
            self._writer = _make_writer(
                self._file.write, _choose_format(self.name, format), linktype, snaplen, nanosecond
            )
        except BaseException:
            self._close_file()
            raise
        self._closed = False
        self._write: Callable[[bytes], object] = self._file.write
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
        # case of copying from a reader) is packed and written in one go.
        if type(header) is self._native_header and type(data) is bytes and len(data) == header[2]:
            try:
                self._write(self._pack(*header) + data)
            except struct.error:
                pass  # a time stamp too large for the format: the checked path says so
            else:
                return
        self._dump_checked(header, data)

    def _dump_checked(self, header: Pkthdr, data: BytesLike) -> None:
        if self._closed:
            raise PcapError("Dumper is already closed.")
        if not isinstance(header, Pkthdr):
            raise PcapError(f"Not a pkthdr object (got {type(header).__name__})")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"packet data must be bytes-like, not {type(data).__name__}")
        self._writer.write_packet(header, data)

    def flush(self) -> None:
        """Make everything dumped so far visible to other readers of the file."""
        if self._closed:
            raise PcapError("Dumper is already closed.")
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file; calling it again does nothing."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self._native_header = None  # later dump() calls take the checked path, which refuses
        finish = getattr(self._writer, "finish", None)
        try:
            if finish is not None:
                finish()
        finally:
            self._close_file()

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


def _open_output(target: PathOrFile) -> tuple[Any, bool, str]:
    if isinstance(target, (str, os.PathLike)):
        path = os.fspath(target)
        if path == "-":
            return sys.stdout.buffer, False, "-"
        try:
            return open(path, "wb", buffering=_BUFFER_SIZE), True, path
        except OSError as err:
            raise PcapError(f"{path}: {err.strerror or err}") from err
    if callable(getattr(target, "write", None)):
        return target, False, str(getattr(target, "name", "<file object>"))
    raise TypeError(
        f"dump target must be a path, '-' or a binary file object, not {type(target).__name__}"
    )


def _make_writer(write: Any, file_format: str, dlt: int, snaplen: int, nanosecond: bool) -> Any:
    if file_format == "pcapng":
        from ._savefile._pcapng_writer import PcapngWriter  # noqa: PLC0415

        return PcapngWriter(write, dlt, snaplen, nanosecond=nanosecond)
    return PcapWriter(write, dlt, snaplen, nanosecond=nanosecond)
