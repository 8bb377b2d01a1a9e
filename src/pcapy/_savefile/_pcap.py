"""Classic pcap: the file header, the record stream, and the writer's byte layout.

Nothing here does I/O. ``parse_file_header`` reads the 24-byte header from bytes;
``iter_records`` turns an iterator of byte chunks (from a file, a pipe, gzip, or a test's
literal) into ``(Pkthdr, bytes)`` pairs. It agrees with libpcap master's sf-pcap.c packet for
packet, including where it fails and what it says:

- magic numbers give the byte order, the time-stamp unit (micro or nano) and the record layout
  (Kuznetzov's "modified" format has 8 more bytes per record header);
- versions 2.0-2.4 and 543.0 are read; caplen and len are swapped for versions below 2.3 (and for
  2.3 when caplen > len), as those writers stored them the other way round;
- a snapshot length of 0 or above INT_MAX in the header means "the link type's maximum";
- a record longer than the snapshot length but within the link type's maximum is clipped to the
  snapshot length (the rest of the record is skipped); one beyond the maximum is an error;
- an end of file between records is the end; inside a record it is an error.

The hot loop handles a record that lies wholly in the current chunk with one ``unpack_from``,
one slice and one C-level tuple construction; everything unusual (chunk refills, clipping,
swapped lengths, pseudo-header fix-ups, errors) goes through ``_slow_record``.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, Optional

from .._errors import MalformedSavefileError, TruncatedSavefileError, UnsupportedVersionError
from .._pkthdr import NanoPkthdr, Pkthdr
from ._linktype import (
    LINKTYPE_FCS_PRESENT,
    LINKTYPE_MASK,
    LINKTYPE_RESERVED_MASK,
    adjust_snapshot,
    dlt_to_linktype,
    linktype_to_dlt,
    max_snaplen_for_dlt,
)
from ._pseudo import needs_post_processing, post_process

FILE_HEADER_SIZE = 24

# magic as it appears in the first four bytes -> (byte order, nanosecond?, Kuznetzov?)
MAGICS: dict[bytes, tuple[str, bool, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False, False),
    b"\xa1\xb2\xc3\xd4": (">", False, False),
    b"\x4d\x3c\xb2\xa1": ("<", True, False),
    b"\xa1\xb2\x3c\x4d": (">", True, False),
    b"\x34\xcd\xb2\xa1": ("<", False, True),
    b"\xa1\xb2\xcd\x34": (">", False, True),
}
MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D

_HOST_ORDER = "<" if sys.byteorder == "little" else ">"
_EN10MB = 1
_INT_MAX = 0x7FFFFFFF

# Lengths swapped by old writers (sf-pcap.c's lengths_swapped)
NOT_SWAPPED, MAYBE_SWAPPED, SWAPPED = 0, 1, 2


@dataclass(frozen=True)
class PcapFileHeader:
    """A classic pcap file header, decoded, plus what a reader derives from it."""

    byte_order: str
    nanosecond: bool
    kuznetzov: bool
    version_major: int
    version_minor: int
    thiszone: int
    sigfigs: int
    snaplen: int
    linktype_field: int

    @property
    def linktype(self) -> int:
        """The LINKTYPE_ value (the low 16 bits of the link-type field)."""
        return self.linktype_field & LINKTYPE_MASK

    @property
    def dlt(self) -> int:
        """The DLT_ value libpcap's ``pcap_datalink()`` reports for this file."""
        return linktype_to_dlt(self.linktype)

    @property
    def fcs_length(self) -> Optional[int]:
        """Bytes of FCS at the end of each packet, if the file says (in 16-bit units x2)."""
        if self.linktype_field & LINKTYPE_FCS_PRESENT:
            return ((self.linktype_field >> 28) & 0xF) * 2
        return None

    @property
    def snapshot(self) -> int:
        """The snapshot length a reader enforces (libpcap's ``pcap_snapshot()``)."""
        snapshot = adjust_snapshot(self.dlt, self.snaplen)
        if self.kuznetzov and self.dlt == _EN10MB:
            # libpcap: those files' snaplen did not count the Ethernet header.
            snapshot = min(snapshot + 14, _INT_MAX)
        return snapshot

    @property
    def lengths_swapped(self) -> int:
        """Whether records store (len, caplen) instead of (caplen, len)."""
        if self.version_major == 543:
            return SWAPPED
        if self.version_minor < 3:
            return SWAPPED
        return MAYBE_SWAPPED if self.version_minor == 3 else NOT_SWAPPED

    @property
    def record_struct(self) -> struct.Struct:
        """The layout of one record header: ``(sec, fraction, caplen, len)`` then padding."""
        padding = "8x" if self.kuznetzov else ""
        return struct.Struct(f"{self.byte_order}IIII{padding}")

    @property
    def header_class(self) -> type[Pkthdr]:
        """The Pkthdr class whose fraction unit matches this file's time stamps."""
        return NanoPkthdr if self.nanosecond else Pkthdr

    @property
    def swapped(self) -> bool:
        """Whether the file's byte order differs from this machine's."""
        return self.byte_order != _HOST_ORDER


_FILE_HEADER = {order: struct.Struct(f"{order}4xHHiIII") for order in "<>"}


def parse_file_header(data: bytes) -> PcapFileHeader:
    """Decode a classic pcap file header; ``data`` starts with one of the six pcap magics.

    Raises ``TruncatedSavefileError`` if ``data`` is shorter than 24 bytes and
    ``UnsupportedVersionError`` / ``MalformedSavefileError`` where libpcap refuses the file.
    """
    byte_order, nanosecond, kuznetzov = MAGICS[bytes(data[:4])]
    if len(data) < FILE_HEADER_SIZE:
        raise TruncatedSavefileError(
            f"truncated dump file; tried to read {FILE_HEADER_SIZE} file header bytes, "
            f"only got {len(data) - 4}",  # libpcap counts the bytes after the magic
            offset=len(data),
        )
    major, minor, thiszone, sigfigs, snaplen, linktype_field = _FILE_HEADER[
        byte_order
    ].unpack_from(data)
    if not ((major == 2 and minor <= 4) or (major == 543 and minor == 0)):
        raise UnsupportedVersionError(
            f"unsupported pcap savefile version {major}.{minor}", offset=4
        )
    if linktype_field & LINKTYPE_RESERVED_MASK:
        raise MalformedSavefileError(
            "savefile linktype reserved field not zero "
            f"(0x{linktype_field & LINKTYPE_RESERVED_MASK:08x})",
            offset=20,
        )
    return PcapFileHeader(
        byte_order, nanosecond, kuznetzov, major, minor, thiszone, sigfigs, snaplen, linktype_field
    )


def build_file_header(
    linktype: int, snaplen: int, *, nanosecond: bool, byte_order: str = "<"
) -> bytes:
    """The 24 bytes that start a classic pcap file (version 2.4) for a DLT_ value."""
    stored = dlt_to_linktype(linktype)
    if stored < 0:
        raise ValueError(f"link type {linktype} has no LINKTYPE_ value to store in a file")
    magic = MAGIC_NSEC if nanosecond else MAGIC_USEC
    return struct.pack(f"{byte_order}IHHiIII", magic, 2, 4, 0, 0, snaplen, stored)


class _Cursor:
    """The slow path's view of the stream: the current chunk, a position, and refills."""

    __slots__ = ("buffer", "chunks", "offset", "position")

    def __init__(self, chunks: Iterator[bytes], buffer: bytes, offset: int) -> None:
        self.chunks = chunks
        self.buffer = buffer  # bytes from file offset `offset` on
        self.offset = offset
        self.position = 0

    def available(self) -> int:
        return len(self.buffer) - self.position

    def fill(self, wanted: int) -> int:
        """Make ``wanted`` bytes available past ``position`` if the stream has them."""
        if self.available() >= wanted:
            return wanted
        pieces = [self.buffer[self.position :]]
        have = len(pieces[0])
        for chunk in self.chunks:
            pieces.append(chunk)
            have += len(chunk)
            if have >= wanted:
                break
        self.offset += self.position
        self.buffer = b"".join(pieces)
        self.position = 0
        return min(have, wanted)

    def take(self, size: int) -> bytes:
        start = self.position
        self.position = start + size
        return self.buffer[start : self.position]

    def skip(self, size: int) -> int:
        """Skip up to ``size`` bytes, reading through chunks; return how many were skipped."""
        skipped = 0
        while skipped < size:
            if self.available() == 0 and self.fill(1) == 0:
                break
            step = min(self.available(), size - skipped)
            self.position += step
            skipped += step
        return skipped

    def file_offset(self) -> int:
        return self.offset + self.position


def iter_records(
    header: PcapFileHeader, chunks: Iterator[bytes], buffer: bytes = b"", offset: int = 24
) -> Iterator[tuple[Pkthdr, bytes]]:
    """Yield every record of a classic pcap stream as ``(Pkthdr, data)``.

    ``buffer`` holds bytes already read past the file header (at file offset ``offset``);
    ``chunks`` yields the rest of the stream. Raises a ``SavefileError`` where libpcap would fail.
    """
    cursor = _Cursor(chunks, buffer, offset)
    record = header.record_struct
    unpack_from = record.unpack_from
    record_size = record.size
    make = tuple.__new__
    cls = header.header_class
    snapshot = header.snapshot
    # Records that need more than slicing never take the fast path.
    fast_limit = snapshot
    if header.lengths_swapped != NOT_SWAPPED or needs_post_processing(header.dlt, header.swapped):
        fast_limit = -1
    slow = _slow_record_reader(header, cursor)
    while True:
        buf = cursor.buffer
        pos = cursor.position
        end = len(buf)
        # Fast path: whole records inside the current chunk.
        while pos + record_size <= end:
            fields = unpack_from(buf, pos)
            start = pos + record_size
            stop = start + fields[2]
            if fields[2] > fast_limit or stop > end:
                break
            yield make(cls, fields), buf[start:stop]
            pos = stop
        cursor.position = pos
        item = slow()
        if item is None:
            return
        yield item


def _slow_record_reader(
    header: PcapFileHeader, cursor: _Cursor
) -> Callable[[], Optional[tuple[Pkthdr, bytes]]]:
    """Read one record at the cursor the careful way: refills, clipping, fix-ups, errors."""
    record = header.record_struct
    cls = header.header_class
    snapshot = header.snapshot
    dlt = header.dlt
    max_caplen = max_snaplen_for_dlt(dlt)
    lengths_swapped = header.lengths_swapped
    post = needs_post_processing(dlt, header.swapped)

    def read_one() -> Optional[tuple[Pkthdr, bytes]]:
        record_offset = cursor.file_offset()
        got = cursor.fill(record.size)
        if got == 0:
            return None
        if got < record.size:
            raise TruncatedSavefileError(
                f"truncated dump file; tried to read {record.size} header bytes, only got {got}",
                offset=record_offset,
            )
        sec, frac, caplen, length = record.unpack(cursor.take(record.size))
        if lengths_swapped == SWAPPED or (lengths_swapped == MAYBE_SWAPPED and caplen > length):
            caplen, length = length, caplen
        data = _read_data(caplen, length, record_offset)
        hdr: Pkthdr = tuple.__new__(cls, (sec, frac, len(data), length))
        if post:
            hdr, data = post_process(dlt, header.swapped, hdr, data)
        return hdr, data

    def _read_data(caplen: int, length: int, record_offset: int) -> bytes:
        if caplen > max_caplen:
            limit = f"snaplen of {snapshot}" if caplen > snapshot else f"maximum of {max_caplen}"
            raise MalformedSavefileError(
                f"invalid packet capture length {caplen}, bigger than {limit}",
                offset=record_offset,
            )
        keep = min(caplen, snapshot)
        got = cursor.fill(keep)
        if got < keep:
            raise TruncatedSavefileError(
                f"truncated dump file; tried to read {keep} captured bytes, only got {got}",
                offset=cursor.file_offset(),
            )
        data = cursor.take(keep)
        if caplen > keep:
            skipped = cursor.skip(caplen - keep)
            if skipped < caplen - keep:
                raise TruncatedSavefileError(
                    f"truncated dump file; tried to read {caplen} captured bytes, "
                    f"only got {keep + skipped}",
                    offset=cursor.file_offset(),
                )
        return data

    return read_one
