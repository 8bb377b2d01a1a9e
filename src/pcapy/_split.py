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
of the candidates), so that position is a real record boundary: proven, not guessed. The proof
assumes a file the reader reads to its end without error (its own chain ends exactly at the
end of the file), so a chain running past the end dies too. If the candidates do not converge
within the look-ahead the caller allows, there is no boundary here and the range grows. This is
RAPCAP's candidate refinement (Anderson et al., 2017), with tcpslice's "a header followed by a
plausible header" generalised to "all chains but one die or merge".

pcapng is framed: each block says its type and total length, and repeats the length at its
end. ``pcapng_blocks`` walks the block heads of a buffer; a range starts on a block boundary and
carries its section's Section Header Block and Interface Description Blocks (``context``), so it
reads with the right byte order, link types and time-stamp resolutions.
"""

from __future__ import annotations

import functools
import heapq
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Union

__all__ = ["ByteRange", "Likely", "NeedMore", "PcapLayout", "find_pcap_boundary", "pcapng_blocks"]


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, end)`` of a capture file that start on a proven record boundary.

    ``context`` lists ``(offset, size)`` pieces of the file read before the range: the classic
    pcap file header, or a pcapng section's header and interface blocks. ``whole`` means the
    file is read as it is, from its start (gzip files: one range). ``proven`` is False for a
    start found by the tie-break (``Likely``): reading the range before it confirms it (or
    raises ``TruncatedSavefileError``), so use all the ranges of a split together.
    """

    start: int
    end: int
    context: tuple[tuple[int, int], ...] = ()
    whole: bool = False
    proven: bool = True

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
    fraction_limit: int = 1_000_000  # time-stamp fraction units (10**6, or 10**9 for nsec)
    #: also drop headers a capture tool would not write (a fraction of a second >= 1 s, a
    #: captured length above the wire length or a wire length >= 2**24): a tie-break for
    #: chains that never merge, whose result the previous range must confirm (see ``Likely``)
    likely: bool = False

    @property
    def max_record(self) -> int:
        """The most bytes one record can take."""
        return self.header_size + self.max_caplen


@dataclass(frozen=True)
class Likely:
    """A boundary found only with the tie-break of ``PcapLayout.likely``: not proven here.

    It is confirmed when the range before it, read from a boundary that is proven, ends
    exactly there: the reader raises ``TruncatedSavefileError`` otherwise, so a wrong guess
    fails loudly and never passes as packets.
    """

    offset: int


@dataclass(frozen=True)
class NeedMore:
    """The search needs the window to reach ``size`` bytes past its start."""

    size: int


Found = Union[int, Likely, NeedMore, None]


def find_pcap_boundary(window: bytes, window_start: int, file_size: int,
                       layout: PcapLayout) -> Found:
    """The first proven record start at or after ``window_start``; see the module docstring.

    ``window`` holds the file's bytes from ``window_start``. Returns a file offset (``file_size``
    when no record starts after the cut), ``NeedMore`` when the chains need bytes past the
    window (and the file has them), or ``None`` when the candidates cannot converge. When the
    chains converge only at the end of the file (a "shadow" chain can run beside the file's
    own: at 4 bytes in, a header whose captured length is the real wire length), the search
    runs again with the tie-break and returns ``Likely(offset)``.
    """
    found = _search(window, window_start, file_size, layout)
    if found != file_size or file_size - window_start <= layout.max_record or layout.likely:
        return found
    likely = _search(window, window_start, file_size, replace(layout, likely=True))
    return Likely(likely) if isinstance(likely, int) and likely < file_size else found


def _search(window: bytes, window_start: int, file_size: int, layout: PcapLayout) -> Found:
    end = file_size - window_start  # the file's end, relative to the window
    have = len(window)
    span = struct.Struct(layout.byte_order + "II")
    reach = min(layout.max_record, end)
    # Each candidate's chain starts at the record after it (a later point of the same chain,
    # so whatever they converge to is as proven). The end of the file is a candidate too (the
    # cut may lie in the last record): chains arriving exactly there merge with it.
    members: set[int] = set()
    for position in _candidates(window, reach, have, span, layout):
        following = _advance(window, position, have, end, span, layout)
        if isinstance(following, NeedMore):
            return following if window_start + have < file_size else None
        if following is not None and following <= end:
            members.add(following)
    if end <= layout.max_record:
        members.add(end)
    found = _converge(window, members, have, end, span, layout)
    if isinstance(found, NeedMore):
        return found if window_start + have < file_size else None
    return None if found is None else window_start + found


def _converge(window: bytes, members: set[int], have: int, end: int,
              span: struct.Struct, layout: PcapLayout) -> Union[int, NeedMore, None]:
    """Advance the lowest chain until one position is left (the proven boundary) or none.

    A chain that dies (a length the reader refuses, or a record running past the end of the
    file) is not the file's own chain, which reads to its end: it is dropped.
    """
    positions = sorted(members)  # a sorted list is a heap
    while len(members) > 1:
        position = heapq.heappop(positions)
        if position == end:
            return None  # (cannot happen: the end is the largest position)
        members.discard(position)
        following = _advance(window, position, have, end, span, layout)
        if isinstance(following, NeedMore) or following is None:
            if following is not None:
                return following
            continue
        if following > end:
            continue
        if following not in members:
            members.add(following)
            heapq.heappush(positions, following)
    return positions[0] if members else None


def _record_size(window: bytes, position: int, span: struct.Struct,
                 layout: PcapLayout) -> int:
    """The bytes of the record at ``position``, or -1 if the reader would refuse its length."""
    caplen: int
    length: int
    caplen, length = span.unpack_from(window, position + 8)
    if layout.likely and (caplen > length or length >= 1 << 24 or span.unpack_from(
            window, position)[1] >= layout.fraction_limit):
        return -1
    swapped = layout.lengths_swapped
    if swapped == 2 or (swapped == 1 and caplen > length):
        caplen = length
    if caplen > layout.max_caplen:
        return -1
    return layout.header_size + caplen


def _candidates(window: bytes, reach: int, have: int, span: struct.Struct,
                layout: PcapLayout) -> list[int]:
    """The offsets below ``reach`` whose header the reader would accept (lengths in range)."""
    if layout.lengths_swapped or layout.max_caplen >= 1 << 24:
        return [p for p in range(reach) if _plausible(window, p, have, span, layout)]
    # A captured length below 2**24 has a zero top byte: a C-speed scan finds the offsets
    # worth unpacking (the exact check follows).
    shift = 10 if layout.byte_order == "<" else 8
    pattern = _length_pattern(layout.byte_order, layout.max_caplen >> 16)
    found = [m.start() - shift for m in pattern.finditer(window, shift, reach + shift + 2)]
    tail = range(max(0, have - layout.header_size + 1), reach)  # headers past the window
    return sorted({p for p in found if 0 <= p < reach
                   and _plausible(window, p, have, span, layout)} | set(tail))


@functools.lru_cache(maxsize=8)
def _length_pattern(byte_order: str, top: int) -> re.Pattern[bytes]:
    """Where a 32-bit length's two high bytes are (0, at most ``top``), as a lookahead."""
    high = re.escape(bytes([top]))
    if byte_order == "<":
        return re.compile(b"(?=[\\x00-" + high + b"]\\x00)")
    return re.compile(b"(?=\\x00[\\x00-" + high + b"])")


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
