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

``FLOOD_UNITS`` and ``flood(name, size)`` make files of one block type of any size (every
metadata block type, and packet blocks with options), for issue 12's 10 MB/s per block type.
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


# Floods of one block type (issue 12's 10 MB/s of metadata-only input, per block type): the
# unit each repeats, after a Section Header Block and an interface, up to a size, then an
# interface and a packet.
# bench/bench_pcapng_metadata.py measures them; tests/savefile/test_metadata_speed.py checks
# the budget on small ones. Packet blocks carry options, read through ``hdr.options``.
def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + bytes(-len(value) % 4)


_END = struct.pack("<HH", 0, 0)
_CUSTOM_OPTIONS = _option(2988, struct.pack("<I", 32473) + b"vendor text") + _option(
    2989, struct.pack("<I", 32473) + b"\1\2\3\4\5\6")
_SECTION_OPTIONS = (_option(2, b"x86_64 box") + _option(3, b"Linux 6.1")
                    + _option(4, b"pcapy hostile.py") + _option(1, b"a section comment"))
_ISB_SOME = (_option(2, struct.pack("<II", 0, 1)) + _option(3, struct.pack("<II", 0, 9))
             + _option(4, struct.pack("<Q", 1000)) + _option(5, struct.pack("<Q", 3)) + _END)
_ISB_ALL = (_ISB_SOME[:-4] + _option(6, struct.pack("<Q", 990)) + _option(7, struct.pack("<Q", 1))
            + _option(8, struct.pack("<Q", 989)) + _option(1, b"statistics at the end")
            + _CUSTOM_OPTIONS + _END)
_PACKET_OPTIONS = (_option(1, b"a packet comment") + _option(2, struct.pack("<I", 1))
                   + _option(3, b"\2" + b"\xaa" * 4) + _option(5, struct.pack("<Q", 7)) + _END)


def _section_with_options() -> bytes:
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _SECTION_OPTIONS + _END)


def _interfaces(options: Callable[[int], bytes], count: int = 1000) -> bytes:
    """A section of ``count`` interfaces (a section may hold 65,536), each with its options."""
    return section_header() + b"".join(interface(options=options(i)) for i in range(count))


def _many_interface_options(index: int) -> bytes:
    name = f"eth{index}".encode()
    return (_option(2, name) + _option(3, b"a description of " + name) + _option(1, b"a comment")
            + _option(4, bytes([10, 0, index >> 8 & 255, index & 255]) + b"\xff\xff\xff\0")
            + _option(5, bytes(15) + bytes([index & 255]) + bytes([64]))
            + _option(6, b"\0\1\2\3\4" + bytes([index & 255]))
            + _option(8, struct.pack("<Q", 10**9))
            + _option(9, b"\x09") + _option(11, b"\0tcp port 80") + _option(12, b"Linux 6.1")
            + _option(13, b"\4") + _option(15, b"a NIC") + _CUSTOM_OPTIONS + _END)


def _name_records(count: int = 500) -> bytes:
    records = b"".join(
        _option(1, bytes([10, 1, i >> 8, i & 255]) + f"host-{i}.example.org\0".encode())
        for i in range(count))
    return _block(4, records + _END + _option(2, b"ns.example.org") + _option(3, b"\x0a\0\0\x35")
                  + _END)


def _packet_block(options: bytes) -> bytes:
    data = b"\0" * 60
    return _block(2, struct.pack("<HHIIII", 0, 0, 0, 1_000_000, 60, 60) + data + options)


FLOOD_UNITS: dict[str, Callable[[], bytes]] = {
    "shb": section_header,
    "shb_options": _section_with_options,
    "idb_same": lambda: _interfaces(lambda _: b""),
    "idb_distinct": lambda: _interfaces(lambda i: _option(2, f"eth{i}".encode()) + _END),
    "idb_options": lambda: _interfaces(_many_interface_options),
    "idb_snaplens": lambda: section_header() + b"".join(
        interface(snaplen=1_000 + i) for i in range(1000)),  # the smallest all different
    "isb_none": lambda: _block(5, struct.pack("<III", 0, 0, 7)),
    "isb_some": lambda: _block(5, struct.pack("<III", 0, 0, 7) + _ISB_SOME),
    "isb_all": lambda: _block(5, struct.pack("<III", 0, 0, 7) + _ISB_ALL),
    "nrb": _name_records,
    "dsb": lambda: _block(10, struct.pack("<II", 0x544C534B, 100) + b"CLIENT_RANDOM " * 7
                          + b"\n\0" + _option(1, b"keys") + _END),
    "custom": lambda: _block(0xBAD, struct.pack("<I", 32473) + b"vendor data " * 3),
    "custom_nocopy": lambda: _block(0x40000BAD, struct.pack("<I", 32473) + b"vendor data " * 3),
    "unknown": lambda: _block(0x80000123, b"local use " * 4),
    "epb_options": lambda: packet(options=_PACKET_OPTIONS),
    "spb": lambda: _block(3, struct.pack("<I", 60) + b"\0" * 60),
    "pb_options": lambda: _packet_block(_PACKET_OPTIONS),
}


def flood(name: str, size: int) -> Iterator[bytes]:
    """A file of about ``size`` bytes that is the unit of ``FLOOD_UNITS[name]`` repeated."""
    unit = FLOOD_UNITS[name]()
    head = section_header() + interface()
    yield head
    count = max(1, (size - len(head)) // len(unit))
    per_chunk = max(1, MIB // len(unit))  # a chunk of about 1 MiB, whatever the unit
    for done in range(0, count, per_chunk):
        yield unit * min(per_chunk, count - done)
    yield interface() + packet()  # after a flood of sections, the last one needs an interface
