"""Structure-aware inputs for the ``hostile`` fuzz target: floods and huge blocks (pcapng), and
floods of classic pcap records.

A mutated byte string is a recipe, not a file: its first bytes choose a shape (a flood of one
block type, a flood of options in one block, a flood of name records, one huge block, a mix of
every block type, a flood of classic pcap records of one length), its size (up to
``MAX_SIZE``, 16 MiB decompressed) and whether the file is gzip-wrapped; the rest supplies
option codes, lengths and filler. So a few bytes of input reach the costs that byte-level
mutation of a 64 KiB file never reaches (issue 12 item 8), and every input is a well-framed
file that gets past the first blocks.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Iterator

MAX_SIZE = 16 << 20
SHB, IDB, PB, SPB, NRB, ISB, EPB, DSB = 0x0A0D0D0A, 1, 2, 3, 4, 5, 6, 10
CUSTOM, CUSTOM_NO_COPY = 0xBAD, 0x40000BAD
OTHER_TYPES = (7, 8, 9, 0x101, 0x102, 0x80000001, 0x12345678)
OPTION_BLOCKS = (SHB, IDB, EPB, PB, NRB, ISB, DSB, CUSTOM)


class Recipe:
    """The input read as a stream of small integers (0 once it runs out)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def byte(self) -> int:
        if self.position >= len(self.data):
            return 0
        self.position += 1
        return self.data[self.position - 1]

    def word(self) -> int:
        return self.byte() | self.byte() << 8

    def rest(self, size: int) -> bytes:
        chunk = self.data[self.position : self.position + size]
        self.position += len(chunk)
        return chunk


def block(block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    length = len(body) + 12
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


def section() -> bytes:
    return block(SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def interface(linktype: int = 1, snaplen: int = 0, options: bytes = b"") -> bytes:
    return block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + options)


def packet(interface_id: int = 0, data: bytes = b"\0" * 42, options: bytes = b"") -> bytes:
    padded = data + bytes(-len(data) % 4)
    fixed = struct.pack("<IIIII", interface_id, 1, 2, len(data), len(data))
    return block(EPB, fixed + padded + options)


def _fixed_part(block_type: int, recipe: Recipe) -> bytes:
    """The part of a block before its options (enough for the reader to reach them)."""
    if block_type == SHB:
        return struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    if block_type == IDB:
        return struct.pack("<HHI", (1, 231, 228, 113)[recipe.byte() % 4], 0, 0)
    if block_type == EPB:
        return struct.pack("<IIIII", 0, 1, 2, 4, 4) + b"abcd"
    if block_type == PB:
        return struct.pack("<HHIIII", 0, 0, 1, 2, 4, 4) + b"abcd"
    if block_type == NRB:
        return struct.pack("<HH", 0, 0)  # no records, then options
    if block_type == ISB:
        return struct.pack("<III", 0, 1, 2)
    if block_type == DSB:
        return struct.pack("<II", 0x544C534B, 4) + b"key\n"
    return struct.pack("<I", 32473)  # a Custom Block's PEN


def _repeat(item: bytes, size: int) -> Iterator[bytes]:
    count = max(1, size // max(1, len(item)))
    run = item * min(count, 4096)
    for _ in range(count // 4096):
        yield run
    yield item * (count % 4096)


def _flood(recipe: Recipe, size: int) -> Iterator[bytes]:
    kinds = (IDB, ISB, SHB, NRB, DSB, CUSTOM, CUSTOM_NO_COPY, *OTHER_TYPES)
    block_type = kinds[recipe.byte() % len(kinds)]
    body = recipe.rest(recipe.byte() % 32)
    if block_type == IDB:
        item = interface(options=body and option(2, body))
    elif block_type in (SHB, ISB, DSB, NRB):
        item = block(block_type, _fixed_part(block_type, recipe))
    else:
        item = block(block_type, struct.pack("<I", 32473) + body)
    yield from _repeat(item, size)


def _option_flood(recipe: Recipe, size: int) -> Iterator[bytes]:
    block_type = OPTION_BLOCKS[recipe.byte() % len(OPTION_BLOCKS)]
    code = recipe.word() % 24 or 1
    value = recipe.rest(recipe.byte() % 12)
    fixed = _fixed_part(block_type, recipe)
    item = option(code, value)
    count = max(1, (min(size, MAX_SIZE - 4096) - len(fixed)) // len(item))
    length = 12 + len(fixed) + count * len(item)
    yield struct.pack("<II", block_type, length) + fixed
    yield from _repeat(item, count * len(item))
    yield struct.pack("<I", length)


def _record_flood(recipe: Recipe, size: int) -> Iterator[bytes]:
    record_type = recipe.byte() % 6
    value = recipe.rest(recipe.byte() % 24)
    record = struct.pack("<HH", record_type or 1, len(value)) + value + bytes(-len(value) % 4)
    count = max(1, min(size, MAX_SIZE - 4096) // len(record))
    length = 12 + count * len(record) + 4
    yield struct.pack("<II", NRB, length)
    yield from _repeat(record, count * len(record))
    yield struct.pack("<HHI", 0, 0, length)


def _huge_block(recipe: Recipe, size: int) -> Iterator[bytes]:
    block_type = (*OPTION_BLOCKS, SPB, *OTHER_TYPES)[recipe.byte() % 16]
    fill = recipe.rest(4).ljust(4, b"\0")
    length = max(16, min(size, MAX_SIZE - 4096)) & ~3
    yield struct.pack("<II", block_type, length)
    yield from _repeat(fill, length - 12)
    yield struct.pack("<I", length)


def _mix(recipe: Recipe, size: int) -> Iterator[bytes]:
    """A sequence of every kind of block with small options, as the recipe says."""
    made = 0
    while made < size and recipe.position < len(recipe.data):
        choice = recipe.byte() % 12
        options = b"".join(option(recipe.byte() % 20, recipe.rest(recipe.byte() % 9))
                           for _ in range(recipe.byte() % 4))
        if choice == 0:
            item = section()
        elif choice == 1:
            item = interface((1, 231, 0, 113)[recipe.byte() % 4], recipe.word(), options)
        elif choice in (2, 3):
            item = packet(recipe.byte() % 3, recipe.rest(recipe.byte() % 64), options)
        elif choice == 4:
            item = block(SPB, struct.pack("<I", recipe.byte()) + recipe.rest(recipe.byte() % 64))
        else:
            block_type = (PB, NRB, ISB, DSB, CUSTOM, CUSTOM_NO_COPY, OTHER_TYPES[0])[choice - 5]
            item = block(block_type, _fixed_part(block_type, recipe) + options)
        made += len(item)
        yield item


def _classic_records(recipe: Recipe, size: int) -> Iterator[bytes]:
    """A flood of classic pcap records of one captured length (the file header is
    ``classic_header``'s): with a small snapshot length, each is clipped as it is read."""
    caplen = recipe.word() % 2048
    item = struct.pack("<IIII", 1_700_000_000, 0, caplen, caplen) + recipe.rest(caplen).ljust(
        caplen, b"\0")
    yield from _repeat(item, size)


def classic_header(recipe: Recipe) -> bytes:
    snaplen = recipe.word() % 1024  # 0: the link type's maximum
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)


_SHAPES = (_flood, _option_flood, _record_flood, _huge_block, _mix, _classic_records)

#: Recipes for the inputs of issue 12 (regression seeds of the ``hostile`` target): shape, flags
#: (1 gzip, 2 if_tsresol, 4 a packet at the end), log2 of the size, then the shape's own bytes.
RECIPES = {
    "idb_flood": bytes([0, 5, 23, 0, 0]),
    "idb_empty_options": bytes([1, 5, 24, 1, 1, 0, 0, 0]),
    "lt231_options": bytes([1, 5, 24, 1, 1, 0, 0, 1]),
    "nrb_records": bytes([2, 5, 24, 1, 2, 0x61, 0]),
    "epb_empty_options": bytes([1, 5, 24, 2, 1, 0, 0]),
    "section_flood": bytes([0, 5, 24, 2]),
    "isb_flood": bytes([0, 5, 24, 1]),
    "custom_flood": bytes([0, 5, 24, 5, 0]),
    "huge_custom": bytes([3, 5, 24, 7, 0, 0, 0, 0]),
    "mix": bytes([4, 6, 12]) + bytes(range(256)) * 4,
    # 8 MiB of 100-byte records, each longer than the snapshot length (50 bytes)
    "clipped_records": bytes([5, 0, 23, 50, 0, 100, 0]),
    # an Enhanced Packet Block whose options end in an opt_endofopt of length 3, then another
    "bad_packet_options": bytes([4, 0, 12, 2, 1, 0, 3, 0x61, 0x62, 0x63, 0, 4, 1, 2, 3, 4,
                                 2, 0, 0, 4, 5, 6, 7, 8]),
}


def build(data: bytes) -> tuple[bytes, int, int]:
    """The file a recipe describes (gzip-wrapped if it says so), its size decompressed, and its
    largest block's size."""
    recipe = Recipe(data)
    shape = _SHAPES[recipe.byte() % len(_SHAPES)]
    flags = recipe.byte()
    limit = min(MAX_SIZE, int(os.environ.get("PCAPY_FUZZ_MAX_SIZE", MAX_SIZE)))
    size = min(limit, 1 << (recipe.byte() % 25))
    if shape is _classic_records:
        head, tail = classic_header(recipe), b""
    else:
        head = section() + interface(options=option(9, b"\x06") if flags & 2 else b"")
        tail = packet() if flags & 4 else b""
    body = b"".join(shape(recipe, size))
    raw = head + body + tail
    largest = max(len(head), len(body) if shape is not _flood and shape is not _mix else 65536)
    if flags & 1:
        return gzip.compress(raw, compresslevel=1, mtime=0), len(raw), largest
    return raw, len(raw), largest
