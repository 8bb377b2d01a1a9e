"""Exact byte ranges of a capture file: where records provably start (no I/O here).

Classic pcap has no index and no sync marker: a record header is 16 bytes (24 in Kuznetzov's
format) whose captured length says where the next one starts. To start reading at an arbitrary
cut, ``find_pcap_boundary`` looks at every offset a record covering the cut could end at (all
offsets within one maximal record after the cut) and follows the chain of headers from each.
Chains are deterministic from a position, so they are kept as a set of current positions: the
lowest is advanced one record at a time (a header whose captured length exceeds the link type's
maximum, which the reader itself refuses, kills its chain), and two chains reaching the same
offset merge. When one position is left, every surviving chain passes through it; the true
chain, made of the file's real records, is among them (its first record after the cut is one
of the candidates), so that position is a real record boundary: proven, not guessed. A chain
running into the end of the file cannot merge with others; if the candidates do not converge
within the look-ahead the caller allows, there is no boundary here and the range grows. This is
RAPCAP's candidate refinement (Anderson et al., 2017), with tcpslice's "a header followed by a
plausible header" generalised to "all chains but one die or merge".

pcapng is framed: each block says its type and total length, and repeats the length at its
end. ``pcapng_blocks`` walks the block heads of a buffer; a range starts on a block boundary and
carries its section's Section Header Block and Interface Description Blocks (``context``), so it
reads with the right byte order, link types and time-stamp resolutions.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

__all__ = ["ByteRange", "NeedMore", "PcapLayout", "find_pcap_boundary", "pcapng_blocks"]


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of a capture file that start on a proven record boundary.

    ``context`` lists ``(offset, size)`` pieces of the file read before the range: the classic
    pcap file header, or a pcapng section's header and interface blocks. ``whole`` means the
    file is read as it is, from its start (gzip files: one range).
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
    """What the boundary search needs to know of a classic pcap file."""

    byte_order: str  # "<" or ">"
    header_size: int  # 16, or 24 for Kuznetzov's format
    max_caplen: int  # a larger captured length is an error for the reader: not a record
    lengths_swapped: int = 0  # _pcap's NOT_SWAPPED (0), MAYBE_SWAPPED (1), SWAPPED (2)

    @property
    def max_record(self) -> int:
        """The most bytes one record can take."""
        return self.header_size + self.max_caplen


@dataclass(frozen=True)
class NeedMore:
    """The search needs the window to reach ``size`` bytes past its start."""

    size: int


Found = Union[int, NeedMore, None]


def find_pcap_boundary(window: bytes, window_start: int, file_size: int,
                       layout: PcapLayout) -> Found:
    """The first proven record start at or after ``window_start``; see the module docstring.

    ``window`` holds the file's bytes from ``window_start``. Returns a file offset (``file_size``
    when no record starts after the cut), ``NeedMore`` when the chains need bytes past the
    window (and the file has them), or ``None`` when the candidates cannot converge.
    """
    end = file_size - window_start  # the file's end, relative to the window
    have = len(window)
    span = struct.Struct(layout.byte_order + "II")
    # The end of the file is a candidate too (when the cut lies in the last record): chains
    # arriving exactly there merge with it; it is never advanced.
    reach = min(layout.max_record, end)
    positions = [p for p in range(reach) if _plausible(window, p, have, span, layout)]
    if end <= layout.max_record:
        positions.append(end)
    members = set(positions)
    heapq.heapify(positions)
    past_end = 0  # chains running past the end of the file: they merge with nothing
    while len(members) + past_end > 1:
        position = heapq.heappop(positions)
        if position == end:
            return None  # the end and a chain running past it: nothing is proven
        members.discard(position)
        following = _advance(window, position, have, end, span, layout)
        if isinstance(following, NeedMore):
            return following if window_start + have < file_size else None
        if following is None:
            continue
        if following > end:
            past_end += 1
        elif following not in members:
            members.add(following)
            heapq.heappush(positions, following)
    if past_end or not members:
        return None
    return window_start + positions[0]


def _record_size(window: bytes, position: int, span: struct.Struct,
                 layout: PcapLayout) -> int:
    """The bytes of the record at ``position``, or -1 if the reader would refuse its length."""
    caplen: int
    length: int
    caplen, length = span.unpack_from(window, position + 8)
    swapped = layout.lengths_swapped
    if swapped == 2 or (swapped == 1 and caplen > length):
        caplen = length
    if caplen > layout.max_caplen:
        return -1
    return layout.header_size + caplen


def _plausible(window: bytes, position: int, have: int, span: struct.Struct,
               layout: PcapLayout) -> bool:
    if position + layout.header_size > have:
        return True  # decided when advanced (with more of the file)
    return _record_size(window, position, span, layout) >= 0


def _advance(window: bytes, position: int, have: int, end: int, span: struct.Struct,
             layout: PcapLayout) -> Union[int, NeedMore, None]:
    """The next record's position on this chain; ``None`` if this is not a record."""
    if position + layout.header_size > end:
        return end + 1  # a partial header at the end of the file: runs past it
    if position + layout.header_size > have:
        return NeedMore(max(2 * have, position + layout.max_record))
    size = _record_size(window, position, span, layout)
    if size < 0:
        return None
    return position + size


_BLOCK_HEAD = {order: struct.Struct(order + "II") for order in "<>"}
_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D


@dataclass(frozen=True)
class Block:
    """One pcapng block head: where it is, its type and total length, its section's order."""

    offset: int
    block_type: int
    length: int
    byte_order: str


def pcapng_blocks(buffer: bytes, buffer_start: int, byte_order: str) -> Iterator[Block]:
    """The whole block heads in ``buffer`` (file offset ``buffer_start``), in order.

    A Section Header Block sets the byte order of what follows (its byte-order magic says it).
    Stops at the first block that does not lie wholly in ``buffer`` or whose length is not a
    multiple of 4 of at least 12 bytes, or whose trailer does not repeat its length.
    """
    position = 0
    while position + 12 <= len(buffer):
        block_type = struct.unpack_from("<I", buffer, position)[0]
        if block_type == _SHB:
            if position + 12 > len(buffer):
                return
            magic = struct.unpack_from("<I", buffer, position + 8)[0]
            byte_order = "<" if magic == _BYTE_ORDER_MAGIC else ">"
        block_type, length = _BLOCK_HEAD[byte_order].unpack_from(buffer, position)
        if length < 12 or length % 4 or position + length > len(buffer):
            return
        trailer = struct.unpack_from(byte_order + "I", buffer, position + length - 4)[0]
        if trailer != length:
            return
        yield Block(buffer_start + position, block_type, length, byte_order)
        position += length
