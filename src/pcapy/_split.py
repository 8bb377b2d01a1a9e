"""Exact byte ranges of a capture file: where records start, found by walking them (no I/O here).

A range may start only where the reader itself would pass: on the chain of records walked from
the file's start. Classic pcap has no index and no sync marker, and a record's bytes can look
like a header (a pcap file carried in a TCP stream; and in nearly every real capture, where a
record's captured length equals its wire length, the "shadow" chain 4 bytes into every record
reads as well-formed records up to the last one). No look at the bytes near a cut can tell
those chains from the file's own, and on a damaged or still-growing file even a chain search
that converges can pick a wrong one. So boundaries come from the reader's own chain:
``skim_pcap_records`` walks the 16-byte record headers (24 in Kuznetzov's format) from a known
record start, one ``unpack_from`` a record, checking captured lengths as the reader does; it
stops where the reader would stop with an error. pcapng is framed the same way, block by block
(``skim_pcapng_packets`` for runs of packet blocks, ``pcapng_block_at`` for the rest), and a range
carries its section's Section Header Block and Interface Description Blocks (``context``), so it
reads with the right byte order, link types and time-stamp resolutions. The walk costs a small
part of reading the packets (docs/tables.md gives the numbers); a sidecar index
(``pcapy._range_index``) keeps its result for the next split.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Optional

__all__ = ["Block", "ByteRange", "PcapLayout", "pcapng_block_at", "skim_pcap_records",
           "skim_pcapng_packets"]


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of a capture file that start on a record boundary of the file.

    ``context`` lists ``(offset, size)`` pieces of the file read before the range: the classic
    pcap file header, or a pcapng section's header and interface blocks. ``whole`` means the
    file is read as it is, from its start (gzip files: one range). ``split`` only makes ranges
    whose start the reader itself passes when reading the file from its start.
    """

    start: int
    end: int
    context: tuple[tuple[int, int], ...] = ()
    whole: bool = False

    @property
    def size(self) -> int:
        """Bytes in the range (without its context)."""
        return self.end - self.start


@dataclass(frozen=True)
class PcapLayout:
    """What the walk needs to know of a classic pcap file's records."""

    byte_order: str  # "<" or ">"
    header_size: int  # 16, or 24 for Kuznetzov's format
    max_caplen: int  # a larger captured length is an error for the reader: its walk ends
    lengths_swapped: int = 0  # _pcap's NOT_SWAPPED (0), MAYBE_SWAPPED (1), SWAPPED (2)


def skim_pcap_records(buffer: bytes, position: int, stop: int,
                      layout: PcapLayout) -> tuple[int, bool]:
    """Walk the records of ``buffer`` from ``position`` (a record start) until one starts at or
    after ``stop`` or its header is not wholly in ``buffer``; returns ``(position, refused)``.

    ``refused``: the record at ``position`` has a captured length the reader refuses, so the
    reader's walk (and this one) ends there. Records may end past the buffer: only headers are
    read.
    """
    header_size = layout.header_size
    max_caplen = layout.max_caplen
    last = len(buffer) - header_size
    if layout.lengths_swapped:
        return _skim_swapped(buffer, position, stop, layout)
    caplen_at = struct.Struct(layout.byte_order + "I").unpack_from
    while position < stop and position <= last:
        caplen = caplen_at(buffer, position + 8)[0]
        if caplen > max_caplen:
            return position, True
        position += header_size + caplen
    return position, False


def _skim_swapped(buffer: bytes, position: int, stop: int,
                  layout: PcapLayout) -> tuple[int, bool]:
    """``skim_pcap_records`` for files whose writer swapped the two lengths (libpcap's rule)."""
    lengths_at = struct.Struct(layout.byte_order + "II").unpack_from
    always = layout.lengths_swapped == 2
    last = len(buffer) - layout.header_size
    while position < stop and position <= last:
        caplen, length = lengths_at(buffer, position + 8)
        if always or caplen > length:
            caplen = length
        if caplen > layout.max_caplen:
            return position, True
        position += layout.header_size + caplen
    return position, False


_BLOCK_HEAD = {order: struct.Struct(order + "II") for order in "<>"}
_SHB = 0x0A0D0D0A
_EPB = 6
_BYTE_ORDER_MAGIC = 0x1A2B3C4D


def skim_pcapng_packets(buffer: bytes, position: int, stop: int,
                        byte_order: str) -> int:
    """Walk whole Enhanced Packet Blocks of ``buffer`` from ``position`` while they start before
    ``stop``; returns the position of the first block it did not pass (another type, or one that
    is not wholly in ``buffer``, or its length or trailer is wrong: ``pcapng_block_at`` decides)."""
    head_at = _BLOCK_HEAD[byte_order].unpack_from
    trailer_at = struct.Struct(byte_order + "I").unpack_from
    size = len(buffer)
    while position < stop and position + 12 <= size:
        block_type, length = head_at(buffer, position)
        end = position + length
        if (block_type != _EPB or length < 12 or length & 3 or end > size
                or trailer_at(buffer, end - 4)[0] != length):
            return position
        position = end
    return position


@dataclass(frozen=True)
class Block:
    """One pcapng block head: where it is, its type and total length, its section's order."""

    offset: int
    block_type: int
    length: int
    byte_order: str


def pcapng_block_at(buffer: bytes, position: int, buffer_start: int,
                    byte_order: str) -> Optional[Block]:
    """The block at ``position`` of ``buffer`` (file offset ``buffer_start``), or None if it
    does not lie wholly in ``buffer`` or its length is not a multiple of 4 of at least 12 bytes,
    or its trailer does not repeat its length. A Section Header Block sets the byte order of
    what follows (its byte-order magic says it)."""
    if position + 12 > len(buffer):
        return None
    if struct.unpack_from("<I", buffer, position)[0] == _SHB:
        magic = struct.unpack_from("<I", buffer, position + 8)[0]
        byte_order = "<" if magic == _BYTE_ORDER_MAGIC else ">"
    block_type, length = _BLOCK_HEAD[byte_order].unpack_from(buffer, position)
    if length < 12 or length % 4 or position + length > len(buffer):
        return None
    if struct.unpack_from(byte_order + "I", buffer, position + length - 4)[0] != length:
        return None
    return Block(buffer_start + position, block_type, length, byte_order)
