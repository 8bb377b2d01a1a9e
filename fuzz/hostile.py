"""Hostile capture files: tiny on disk, large when read (issue 12), made here, never stored.

Each generator yields the decompressed bytes of one file in chunks, so a 128 MiB input never
sits in memory whole; ``write(name, path)`` gzips one to a file (most are a few KB to a few
hundred KB compressed). The same inputs serve as regression tests
(tests/savefile/test_hostile.py) and as fuzzing seeds (``seeds.py`` takes the small ones).

| name | what it is |
| --- | --- |
| ``idb_flood`` | 500k Interface Description Blocks in one section (10 MB) |
| ``idb_empty_options`` | one 16 MiB IDB made of 4M empty opt_comment options |
| ``lt231_options`` | link type 231 (block limit 128 MiB), then a 128 MiB IDB of empty options |
| ``lt231_custom`` | the same, then a 128 MiB Custom Block |
| ``nrb_records`` | a 16 MiB Name Resolution Block of 1.4M one-letter IPv4 records |
| ``epb_empty_options`` | an Enhanced Packet Block with 16 MiB of empty options (``hdr.options``) |
| ``section_flood`` | 5M Section Header Blocks (140 MB) |
| ``isb_flood`` | 5M Interface Statistics Blocks (120 MB) |
| ``custom_flood`` | 5M Custom Blocks (80 MB) |
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

MIB = 1 << 20
_REPEAT_CHUNK = 4096  # blocks repeated per chunk yielded


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def section_header() -> bytes:
    """A little-endian Section Header Block, version 1.0, no options."""
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def interface(linktype: int = 1, snaplen: int = 65535, options: bytes = b"") -> bytes:
    return _block(1, struct.pack("<HHI", linktype, 0, snaplen) + options)


def packet(data: bytes = b"\0" * 60, interface_id: int = 0, options: bytes = b"") -> bytes:
    padded = data + bytes(-len(data) % 4)
    fixed = struct.pack("<IIIII", interface_id, 0, 1_000_000, len(data), len(data))
    return _block(6, fixed + padded + options)


def _repeat(block: bytes, count: int) -> Iterator[bytes]:
    run = block * _REPEAT_CHUNK
    full, rest = divmod(count, _REPEAT_CHUNK)
    for _ in range(full):
        yield run
    yield block * rest


def _big_block(block_type: int, fixed: bytes, filler: bytes, total: int) -> Iterator[bytes]:
    """A block of ``total`` bytes: its fixed part, then ``filler`` repeated (total % 4 == 0)."""
    body = total - 12 - len(fixed)
    count, rest = divmod(body, len(filler))
    assert rest == 0, "the filler must tile the body"
    yield struct.pack("<II", block_type, total) + fixed
    yield from _repeat(filler, count)
    yield struct.pack("<I", total)


_EMPTY_COMMENT = struct.pack("<HH", 1, 0)


def idb_flood(count: int = 500_000) -> Iterator[bytes]:
    yield section_header()
    yield from _repeat(interface(), count)
    yield packet()


def idb_empty_options(total: int = 16 * MIB) -> Iterator[bytes]:
    yield section_header()
    yield from _big_block(1, struct.pack("<HHI", 1, 0, 65535), _EMPTY_COMMENT, total)
    yield packet()


def lt231_options(total: int = 128 * MIB) -> Iterator[bytes]:
    yield section_header()
    yield interface(linktype=231, snaplen=0)
    yield from _big_block(1, struct.pack("<HHI", 1, 0, 65535), _EMPTY_COMMENT, total)
    yield packet()


def lt231_custom(total: int = 128 * MIB) -> Iterator[bytes]:
    yield section_header()
    yield interface(linktype=231, snaplen=0)
    yield from _big_block(0xBAD, struct.pack("<I", 32473), b"\0" * 4, total)
    yield packet()


def nrb_records(total: int = 16 * MIB) -> Iterator[bytes]:
    record = struct.pack("<HH4s2s", 1, 6, b"\x0a\0\0\x01", b"a\0") + b"\0\0"  # 12 bytes
    yield section_header()
    yield interface()
    fixed = b""
    body = total - 12 - 4  # room for nrb_record_end
    count = body // len(record)
    size = 12 + count * len(record) + 4
    yield struct.pack("<II", 4, size) + fixed
    yield from _repeat(record, count)
    yield struct.pack("<HH", 0, 0) + struct.pack("<I", size)
    yield packet()


def epb_empty_options(total: int = 16 * MIB) -> Iterator[bytes]:
    yield section_header()
    yield interface()
    data = b"\0" * 60
    fixed = struct.pack("<IIIII", 0, 0, 1_000_000, len(data), len(data)) + data
    yield from _big_block(6, fixed, _EMPTY_COMMENT, total)


def section_flood(count: int = 5_000_000) -> Iterator[bytes]:
    yield section_header() + interface() + packet()
    yield from _repeat(section_header(), count)


def isb_flood(count: int = 5_000_000) -> Iterator[bytes]:
    yield section_header() + interface() + packet()
    yield from _repeat(_block(5, struct.pack("<III", 0, 0, 0)), count)


def custom_flood(count: int = 5_000_000) -> Iterator[bytes]:
    yield section_header() + interface() + packet()
    yield from _repeat(_block(0xBAD, struct.pack("<I", 32473)), count)


INPUTS: dict[str, Callable[[], Iterator[bytes]]] = {
    "idb_flood": idb_flood,
    "idb_empty_options": idb_empty_options,
    "lt231_options": lt231_options,
    "lt231_custom": lt231_custom,
    "nrb_records": nrb_records,
    "epb_empty_options": epb_empty_options,
    "section_flood": section_flood,
    "isb_flood": isb_flood,
    "custom_flood": custom_flood,
}


def write(chunks: Iterator[bytes], path: Path, *, compress: bool = True) -> int:
    """Write the chunks to ``path`` (gzipped unless told); return the decompressed size."""
    size = 0
    opener = gzip.open if compress else open
    with opener(path, "wb") as out:  # type: ignore[operator]
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    return size


def gzip_fname_bomb(size: int = 4 * MIB) -> bytes:
    """A gzip header whose FNAME field never ends (issue 12 item 2)."""
    return b"\x1f\x8b\x08\x08" + b"\0" * 6 + b"a" * size
