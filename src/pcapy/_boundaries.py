"""Where ranges of a capture file may start: the reader's own walk of its records, from its start.

``boundaries(f, size, targets)`` walks the file once (in 1 MiB reads) and gives, for each target
offset, the first record start at or after it (classic pcap), or the first packet block at or
after it with its section's Section Header Block and Interface Description Blocks (pcapng).
The walk stops where the reader would stop with an error (a captured length it refuses, a
block whose framing is wrong, a record running past the end of the file): targets after that
get no boundary, so the range before them grows to the end and reports the error when read,
as the serial read does. The pure record logic is in ``pcapy._split``.
"""

from __future__ import annotations

from typing import IO, Optional

from ._split import Block, PcapLayout, pcapng_block_at, skim_pcap_records, skim_pcapng_packets

__all__ = ["Boundary", "Context", "boundaries", "file_kind", "first_offset"]

#: ``(offset, size)`` pieces of the file a range starting at a boundary needs read before it
Context = tuple[tuple[int, int], ...]
#: a record (or packet block) start the reader passes, and its context
Boundary = tuple[int, Context]

READ_SIZE = 1 << 20
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_IDB = 1
_PACKET_BLOCKS = frozenset({2, 3, 6})  # obsolete packet, simple packet, enhanced packet
_PCAP_HEADER = 24


def file_kind(head: bytes) -> Optional[str]:
    """``"pcap"`` or ``"pcapng"`` from a file's first bytes (64 of them); None for anything
    else (gzip, or not a capture)."""
    from ._savefile._pcap import MAGICS  # noqa: PLC0415

    if head[:4] in MAGICS and len(head) >= _PCAP_HEADER:
        return "pcap"
    if head[:4] == b"\x0a\x0d\x0d\x0a":
        return "pcapng"
    return None


def first_offset(kind: str) -> int:
    """Where the first range of a file of this kind starts (past the classic pcap header)."""
    return _PCAP_HEADER if kind == "pcap" else 0


def boundaries(f: IO[bytes], size: int, targets: list[int]) -> list[Boundary]:
    """For each of the sorted ``targets``, the first boundary at or after it (see the module
    docstring); fewer than the targets when the walk ends first."""
    f.seek(0)
    head = f.read(64)
    kind = file_kind(head)
    if kind == "pcap":
        return _pcap_boundaries(f, size, _pcap_layout(head), targets)
    if kind == "pcapng":
        return _pcapng_boundaries(f, size, targets)
    return []


def _pcap_layout(head: bytes) -> PcapLayout:
    from ._savefile._linktype import max_snaplen_for_dlt  # noqa: PLC0415
    from ._savefile._pcap import parse_file_header  # noqa: PLC0415

    header = parse_file_header(head[:_PCAP_HEADER])
    return PcapLayout(header.byte_order, header.record_struct.size,
                      max_snaplen_for_dlt(header.dlt), header.lengths_swapped)


def _read(f: IO[bytes], offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def _pcap_boundaries(f: IO[bytes], size: int, layout: PcapLayout,
                     targets: list[int]) -> list[Boundary]:
    context = ((0, _PCAP_HEADER),)
    found: list[Boundary] = []
    position = base = _PCAP_HEADER
    buffer = _read(f, base, READ_SIZE)
    for target in targets:
        while True:
            at, refused = skim_pcap_records(buffer, position - base, target - base, layout)
            position = base + at
            if refused:
                return found  # the reader stops here with an error
            if position >= target:
                break
            if position + layout.header_size > size:
                return found  # the end of the file (a truncated last record: the reader's error)
            base = position
            buffer = _read(f, base, READ_SIZE)
        if position >= size:
            return found  # no record starts at or after the target
        found.append((position, context))
    return found


class _BlockReader:
    """The pcapng file read in 1 MiB pieces: the block at an offset, read again when it is not
    wholly in the piece held."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self.f = f
        self.size = size
        self.base = 0
        self.buffer = b""

    def block_at(self, offset: int, byte_order: str) -> Optional[Block]:
        block = pcapng_block_at(self.buffer, offset - self.base, self.base, byte_order)
        if block is None and offset + 12 <= self.size:
            self.base, self.buffer = offset, _read(self.f, offset, READ_SIZE)
            block = pcapng_block_at(self.buffer, 0, offset, byte_order)
            length = _block_length(self.buffer, byte_order)
            if block is None and READ_SIZE < length <= self.size - offset:  # a big block
                self.buffer = _read(self.f, offset, length)
                block = pcapng_block_at(self.buffer, 0, offset, byte_order)
        return block

    def skip_packets(self, offset: int, stop: int, byte_order: str) -> int:
        """Past the Enhanced Packet Blocks held from ``offset`` that start before ``stop``."""
        return self.base + skim_pcapng_packets(self.buffer, offset - self.base,
                                               stop - self.base, byte_order)


def _block_length(head: bytes, byte_order: str) -> int:
    """The total length a block head says (a Section Header Block in its own byte order)."""
    if len(head) < 12:
        return 0
    if head[:4] == b"\x0a\x0d\x0d\x0a":
        byte_order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    return int.from_bytes(head[4:8], "little" if byte_order == "<" else "big")


def _pcapng_boundaries(f: IO[bytes], size: int, targets: list[int]) -> list[Boundary]:
    found: list[Boundary] = []
    reader = _BlockReader(f, size)
    context: list[tuple[int, int]] = []
    offset, byte_order = 0, "<"
    waiting = iter(targets)
    target = next(waiting, None)
    while target is not None and offset < size:
        offset = reader.skip_packets(offset, target, byte_order)
        block = reader.block_at(offset, byte_order)
        if block is None:
            return found  # a damaged block (or the end of the file): the reader stops here
        while target is not None and block.offset >= target and (
                block.block_type in _PACKET_BLOCKS):
            found.append((block.offset, tuple(context)))
            target = next(waiting, None)
        if block.block_type == _PCAPNG_SHB:
            context = [(block.offset, block.length)]
        elif block.block_type == _PCAPNG_IDB:
            context.append((block.offset, block.length))
        byte_order = block.byte_order
        offset = block.offset + block.length
    return found
