"""Writers: packets to classic pcap bytes (pcapng lives in ``_pcapng_writer``).

A writer owns no file name and opens nothing: it is handed a binary stream's ``write``. Each
record goes out in one ``write`` call (header and data joined), so an interruption between two
calls can never leave half a record behind.
"""

from __future__ import annotations

import struct
from typing import Callable, Union

from .._errors import PcapError
from .._pkthdr import NanoPkthdr, Pkthdr
from ._pcap import build_file_header

BytesLike = Union[bytes, bytearray, memoryview]
_MAX_U32 = 0xFFFFFFFF


class PcapWriter:
    """Writes classic pcap (version 2.4), with microsecond or nanosecond time stamps."""

    file_format = "pcap"

    def __init__(
        self, write: Callable[[bytes], object], dlt: int, snaplen: int, *, nanosecond: bool
    ) -> None:
        self._write = write
        self.dlt = dlt
        self.snaplen = snaplen
        self.nanosecond = nanosecond
        self._units = 1_000_000_000 if nanosecond else 1_000_000
        #: the header class whose fields this file stores unchanged (for the Dumper's fast path)
        self.native_header: type[Pkthdr] = NanoPkthdr if nanosecond else Pkthdr
        self._pack = struct.Struct("<IIII").pack
        write(build_file_header(dlt, snaplen, nanosecond=nanosecond))

    def write_packet(self, hdr: Pkthdr, data: BytesLike) -> None:
        """Append one record; ``data`` beyond ``hdr``'s caplen is not written."""
        sec, fraction, caplen, length = hdr[0], hdr[1], hdr[2], hdr[3]
        units = hdr.units_per_second
        if units != self._units:
            fraction = fraction * self._units // units
        if not 0 <= sec <= _MAX_U32:
            raise PcapError(f"time stamp {sec} s does not fit a pcap file (32-bit seconds)")
        if not 0 <= fraction <= _MAX_U32:
            # a corrupt fraction (>= 1 s) read from another file, scaled up to nanoseconds
            raise PcapError(
                f"time stamp fraction {fraction} does not fit a pcap file (32-bit field)"
            )
        if len(data) != caplen:
            if len(data) < caplen:
                caplen = len(data)  # write what there is, and say so in the header
            else:
                data = data[:caplen]
        self._write(self._pack(sec, fraction, caplen, length) + data)
