"""Filtered savefile reading in C: libpcap reads and filters, pcapy parses only what matches.

Running a filter in Python costs a few hundred nanoseconds a packet however lean the code;
libpcap reads and filters a classic pcap file at C speed. Crossing the FFI for every matching
packet would give most of that back, so nothing crosses per packet: ``pcap_dispatch`` is given
libpcap's own ``pcap_dump`` as its callback, which appends each matching record to an in-memory
stream (the C library's ``open_memstream``). One call hands Python a batch of records in the
classic pcap layout (this machine's byte order, the file's time-stamp precision, caplen already
clipped, pseudo-headers already fixed up), which the pure-Python engine then parses like any
other chunk of a savefile. The stream is rewound after each batch, so memory stays bounded by
one batch.

``MemoryDumpReader`` also reports the file offset where each batch began, so the engine can
resume in Python at an exact packet when the filter changes or libpcap reports an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._errors import PcapError
from ._filters import Instruction, set_handle_filter
from ._loader import load
from ._status import errbuf_message, handle_error

_SEEK_SET = 0
_PRECISION_MICRO, _PRECISION_NANO = 0, 1


def available() -> bool:
    """Whether this machine can read filtered savefiles in C (libpcap and open_memstream)."""
    try:
        libpcap = load()
    except PcapError:
        return False
    return libpcap.libc is not None and libpcap.has("pcap_open_offline_with_tstamp_precision")


class MemoryDumpReader:
    """libpcap reading ``path`` from ``offset`` with a filter, matches dumped to memory."""

    def __init__(
        self, path: str, offset: int, nanosecond: bool, instructions: Sequence[Instruction]
    ) -> None:
        libpcap = load()
        self._ffi, self._lib, self._libc = libpcap.ffi, libpcap.lib, libpcap.libc
        self._handle: Any = None
        self._dumper: Any = None
        self._buffer = self._ffi.new("char **")
        self._size = self._ffi.new("size_t *")
        try:
            self._open(path, nanosecond)
            self._start_at(offset)
            set_handle_filter(self._handle, instructions)
            self._open_memory_dump()
        except BaseException:
            self.close()
            raise
        self.next_offset = offset  # where libpcap's next read begins

    def _open(self, path: str, nanosecond: bool) -> None:
        ffi, lib = self._ffi, self._lib
        errbuf = ffi.new("char[]", 256)
        precision = _PRECISION_NANO if nanosecond else _PRECISION_MICRO
        handle = lib.pcap_open_offline_with_tstamp_precision(
            path.encode("utf-8", "surrogateescape"), precision, errbuf
        )
        if handle == ffi.NULL:
            raise PcapError(errbuf_message(ffi, errbuf))
        self._handle = handle

    def _start_at(self, offset: int) -> None:
        stream = self._lib.pcap_file(self._handle)
        if stream == self._ffi.NULL or self._libc.fseek(stream, offset, _SEEK_SET) != 0:
            raise PcapError(f"cannot position libpcap's reader at byte {offset}")
        self._stream = stream

    def _open_memory_dump(self) -> None:
        ffi, lib, libc = self._ffi, self._lib, self._libc
        memory = libc.open_memstream(self._buffer, self._size)
        if memory == ffi.NULL:
            raise PcapError("open_memstream failed")
        dumper = lib.pcap_dump_fopen(self._handle, memory)
        if dumper == ffi.NULL:
            message = handle_error(ffi, lib, self._handle)
            self._close_memory(memory)
            raise PcapError(message or "pcap_dump_fopen failed")
        self._dumper = dumper
        self._callback = ffi.cast("pcap_handler", ffi.addressof(lib, "pcap_dump"))
        self._user = ffi.cast("unsigned char *", dumper)
        self._take()  # drop the file header pcap_dump_fopen wrote

    def read_batch(self, max_packets: int) -> tuple[int, bytes]:
        """Up to ``max_packets`` matching records as bytes, and how many there are (0 at EOF).

        Raises PcapError with libpcap's message if the file is damaged; ``next_offset`` then
        still holds where the failed batch began.
        """
        count = self._lib.pcap_dispatch(self._handle, max_packets, self._callback, self._user)
        if count < 0:
            raise PcapError(handle_error(self._ffi, self._lib, self._handle))
        records = self._take()
        self.next_offset = int(self._libc.ftell(self._stream))
        return count, records

    def _take(self) -> bytes:
        """The bytes dumped since the last call; the memory stream is rewound for reuse."""
        self._lib.pcap_dump_flush(self._dumper)
        size = self._size[0]
        data = bytes(self._ffi.buffer(self._buffer[0], size)) if size else b""
        self._libc.fseek(self._lib.pcap_dump_file(self._dumper), 0, _SEEK_SET)
        return data

    def _close_memory(self, memory: Any) -> None:
        self._libc.fclose(memory)
        if self._buffer[0] != self._ffi.NULL:
            self._libc.free(self._buffer[0])
            self._buffer[0] = self._ffi.NULL

    def close(self) -> None:
        """Release the dumper, its memory and the pcap handle; safe to call twice."""
        if self._dumper is not None:
            self._lib.pcap_dump_close(self._dumper)  # fclose()s the memory stream
            self._dumper = None
            if self._buffer[0] != self._ffi.NULL:
                self._libc.free(self._buffer[0])
                self._buffer[0] = self._ffi.NULL
        if self._handle is not None:
            self._lib.pcap_close(self._handle)
            self._handle = None

    def __del__(self) -> None:
        if getattr(self, "_lib", None) is not None:
            self.close()
