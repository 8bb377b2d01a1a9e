"""``split`` and ``read_range``: a capture file as exact byte ranges, each readable on its own.

The search logic is in ``_split`` (no I/O); this module reads what it asks for. ``split(path, n)``
cuts the file at ``n - 1`` evenly spaced offsets and moves each cut to a proven record boundary
(classic pcap: candidate chains, reading a window after the cut that grows while the search asks;
pcapng: the block heads, walked from the start). A cut with no proven boundary within
``MAX_LOOKAHEAD`` bytes is dropped, so its range grows into the next: never a wrong packet.
gzip files cannot be entered in the middle: they are one range.

``read_range(path, byte_range)`` opens a Reader over exactly that range: the context pieces (the
file header, or the section's SHB and IDBs) followed by the range's bytes, read as one savefile.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any, Optional, Union

from ._args import as_positive_int
from ._errors import PcapError
from ._reader import Reader, engine_of
from ._split import ByteRange, Likely, NeedMore, PcapLayout, find_pcap_boundary, pcapng_blocks

if TYPE_CHECKING:
    from ._savefile._stream import ByteSource

PathLike = Union[str, "os.PathLike[str]"]

#: How far past a cut the classic-pcap search reads for a proof, and then for a likely boundary
#: (``_split.Likely``) before giving the cut up.
PROOF_LOOKAHEAD = 4 << 20
MAX_LOOKAHEAD = 64 << 20
_FIRST_WINDOW = 256 << 10
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_IDB = 1
_PACKET_BLOCKS = frozenset({2, 3, 6})  # obsolete packet, simple packet, enhanced packet
_WALK_READ = 1 << 20


def split(path: PathLike, n: int) -> list[ByteRange]:
    """At most ``n`` byte ranges covering every packet of ``path`` once, in order.

    Each range starts on a proven record boundary (see ``pcapy._split``); concatenating the
    packets of ``read_range(path, r)`` for every range gives the packets of the whole file. A
    gzip-compressed file is one range.
    """
    n = as_positive_int("n", n)
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(64)
        if _is_pcap(head):
            return _split_pcap(f, head, size, n)
        if head[:4] == b"\x0a\x0d\x0d\x0a" and n > 1:
            return _split_pcapng(f, size, n)
    return [ByteRange(0, size, whole=True)]  # gzip, one-range pcapng, other: as it is


def _is_pcap(head: bytes) -> bool:
    from ._savefile._pcap import MAGICS  # noqa: PLC0415

    return head[:4] in MAGICS and len(head) >= 24


def _pcap_layout(head: bytes) -> tuple[PcapLayout, int]:
    from ._savefile._linktype import max_snaplen_for_dlt  # noqa: PLC0415
    from ._savefile._pcap import parse_file_header  # noqa: PLC0415

    header = parse_file_header(head[:24])
    layout = PcapLayout(header.byte_order, header.record_struct.size,
                        max_snaplen_for_dlt(header.dlt), header.lengths_swapped,
                        10**9 if header.nanosecond else 10**6)
    return layout, 24


def _split_pcap(f: IO[bytes], head: bytes, size: int, n: int) -> list[ByteRange]:
    layout, first = _pcap_layout(head)
    cuts = sorted({first + (size - first) * i // n for i in range(1, n)})
    starts, proven = [first], [True]
    for cut in cuts:
        if cut <= starts[-1]:
            continue
        boundary = _pcap_boundary(f, cut, size, layout)
        offset = boundary.offset if isinstance(boundary, Likely) else boundary
        if offset is not None and starts[-1] < offset < size:
            starts.append(offset)
            proven.append(not isinstance(boundary, Likely))
    ends = [*starts[1:], size]
    return [ByteRange(s, e, ((0, first),), proven=p) for s, e, p in zip(starts, ends, proven)]


def _pcap_boundary(f: IO[bytes], cut: int, size: int,
                   layout: PcapLayout) -> Union[int, Likely, None]:
    """Search with a window that grows as asked: a proof within ``PROOF_LOOKAHEAD`` bytes, else
    the tie-break within ``MAX_LOOKAHEAD`` (see ``_split.Likely``)."""
    found = _search_growing(f, cut, size, layout, PROOF_LOOKAHEAD)
    if found is not None:
        return found
    likely = _search_growing(f, cut, size, replace(layout, likely=True), MAX_LOOKAHEAD)
    return Likely(likely) if isinstance(likely, int) else None


def _search_growing(f: IO[bytes], cut: int, size: int, layout: PcapLayout,
                    limit: int) -> Union[int, Likely, None]:
    want = _FIRST_WINDOW
    while True:
        f.seek(cut)
        window = f.read(want)
        found = find_pcap_boundary(window, cut, size, layout)
        if not isinstance(found, NeedMore):
            return found
        if found.size > limit:
            return None
        want = found.size


def _split_pcapng(f: IO[bytes], size: int, n: int) -> list[ByteRange]:
    """Ranges at block boundaries near the cuts, each with its section's SHB and IDBs."""
    cuts = [size * i // n for i in range(1, n)]
    ranges: list[ByteRange] = []
    context: list[tuple[int, int]] = []
    start = 0
    start_context: tuple[tuple[int, int], ...] = ()
    for block in _walk_blocks(f, size):
        # Ranges start at packet blocks: an IDB always precedes them, so the context has one.
        at_cut = bool(cuts) and block.offset >= cuts[0] and block.block_type in _PACKET_BLOCKS
        if at_cut and block.offset > start:
            ranges.append(ByteRange(start, block.offset, start_context))
            start = block.offset
            start_context = () if block.block_type == _PCAPNG_SHB else tuple(context)
        while at_cut and cuts and cuts[0] <= block.offset:
            cuts.pop(0)
        if block.block_type == _PCAPNG_SHB:
            context = [(block.offset, block.length)]
        elif block.block_type == _PCAPNG_IDB:
            context.append((block.offset, block.length))
    ranges.append(ByteRange(start, size, start_context))
    return ranges


def _walk_blocks(f: IO[bytes], size: int) -> Any:
    """Every block head of the file, read in pieces of about a MiB (a damaged block ends it)."""
    offset, byte_order = 0, "<"
    while offset < size:
        f.seek(offset)
        buffer = f.read(_WALK_READ)
        moved = False
        for block in pcapng_blocks(buffer, offset, byte_order):
            yield block
            byte_order = block.byte_order
            offset = block.offset + block.length
            moved = True
        if not moved:
            big = _one_block(f, offset, byte_order)
            if big is None:
                return  # a damaged block: the last range reads to the end and reports it
            yield big
            byte_order = big.byte_order
            offset = big.offset + big.length


def _one_block(f: IO[bytes], offset: int, byte_order: str) -> Any:
    f.seek(offset)
    head = f.read(12)
    if len(head) < 12:
        return None
    import struct  # noqa: PLC0415

    length = struct.unpack_from(byte_order + "I", head, 4)[0]
    if head[:4] == b"\x0a\x0d\x0d\x0a":
        return None  # a section header larger than a read: unusual enough to stop here
    f.seek(offset)
    blocks = list(pcapng_blocks(f.read(length), offset, byte_order))
    return blocks[0] if blocks else None


class RangeFile:
    """A read-only binary file object: the context pieces, then the range, of a file on disk.

    ``bytes_read`` counts what was read from the file (context included).
    """

    def __init__(self, path: str, byte_range: ByteRange) -> None:
        self.name = f"{path}[{byte_range.start}:{byte_range.end}]"
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        pieces = list(byte_range.context)
        if byte_range.whole:
            pieces = [(0, byte_range.end)]
        else:
            pieces.append((byte_range.start, byte_range.end - byte_range.start))
        self._pieces = pieces
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        while self._pieces:
            offset, left = self._pieces[0]
            if left <= 0:
                self._pieces.pop(0)
                continue
            want = left if size < 0 else min(size, left)
            self._file.seek(offset)
            data = self._file.read(want)
            if not data:
                self._pieces.pop(0)  # the file is shorter than the range: its end
                continue
            self._pieces[0] = (offset + len(data), left - len(data))
            self.bytes_read += len(data)
            return data
        return b""

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()


def read_range(path: PathLike, byte_range: ByteRange) -> Reader:
    """A Reader over exactly ``byte_range`` of ``path`` (from ``split``): iteration, ``loop``,
    ``setfilter``, ``to_arrow`` all work; it reads only the range and its context."""
    if not isinstance(byte_range, ByteRange):
        raise TypeError(f"byte_range must be a pcapy.ByteRange, not {type(byte_range).__name__}")
    from ._offload import LIBPCAP_FILTERS  # noqa: PLC0415
    from ._savefile import open_savefile  # noqa: PLC0415

    range_file = RangeFile(os.fspath(path), byte_range)
    try:
        # What open_offline(range_file) builds, the file then closed with the source.
        source = open_savefile(range_file, filter_backend=LIBPCAP_FILTERS)  # type: ignore[arg-type]
    except BaseException:
        range_file.close()
        raise
    source.stream.take_ownership()
    return Reader(source)


def _savefile_stream(reader: Reader) -> Optional[ByteSource]:
    """The stream a savefile Reader reads; None for a live capture."""
    from ._savefile import SavefileSource  # noqa: PLC0415

    source = engine_of(reader)
    return source.stream if isinstance(source, SavefileSource) else None


def range_bytes_read(reader: Reader) -> int:
    """How many bytes of its file a ``read_range`` Reader has read so far."""
    stream = _savefile_stream(reader)
    range_file = None if stream is None else stream.file
    if not isinstance(range_file, RangeFile):
        raise PcapError("this Reader was not opened by read_range()")
    return range_file.bytes_read
