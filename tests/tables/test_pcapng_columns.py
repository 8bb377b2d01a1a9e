"""The pcapng columns of to_arrow (interface id and name, flags, direction, comment), built for a
batch at once, equal what each packet's header says, whatever the batch size: interfaces
interleaved, two with one name, one without a name, packets with and without options."""

from __future__ import annotations

import struct

import pytest

import pcapy
from helpers import pcapng_block, pcapng_option

pa = pytest.importorskip("pyarrow")

COLUMNS = ["interface_id", "interface", "flags", "direction", "comment", "ts", "data"]


def shb() -> bytes:
    return pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(name: str | None, linktype: int = 1) -> bytes:
    options = b"" if name is None else pcapng_option(2, name.encode()) + pcapng_option(0, b"")
    return pcapng_block(1, struct.pack("<HHI", linktype, 0, 0) + options)


def epb(if_id: int, units: int, data: bytes, flags: int | None = None,
        comment: str | None = None) -> bytes:
    options = b""
    if comment is not None:
        options += pcapng_option(1, comment.encode())
    if flags is not None:
        options += pcapng_option(2, struct.pack("<I", flags))
    if options:
        options += pcapng_option(0, b"")
    fixed = struct.pack("<IIIII", if_id, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
    return pcapng_block(6, fixed + data + bytes(-len(data) % 4) + options)


@pytest.fixture
def capture(tmp_path):
    blocks = [shb(), idb("eth0"), idb("eth1"), idb("eth0"), idb(None)]
    for i in range(40):
        flags = (None, 1, 2, 0x10000)[i % 4] if i % 3 else None
        comment = f"packet {i}" if i % 5 == 0 else None
        blocks.append(epb((i * 7) % 4, 1_700_000_000_000_000 + i, bytes([i]) * (i % 20),
                          flags, comment))
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(b"".join(blocks))
    return path


def expected_rows(path):
    rows = []
    for hdr, data in pcapy.open_offline(str(path)):
        options = hdr.options
        flags = None if options is None else options.flags
        rows.append({"interface_id": hdr.interface.id, "interface": hdr.interface.name,
                     "flags": flags, "direction": None if flags is None else flags & 3,
                     "comment": hdr.comment, "ts": hdr.ts_ns, "data": data})
    return rows


@pytest.mark.parametrize("batch_size", [1, 3, 4, 7, 1000])
def test_pcapng_columns_equal_each_packets_header(capture, batch_size):
    expected = expected_rows(capture)
    assert {row["interface"] for row in expected} == {"eth0", "eth1", None}
    assert {row["direction"] for row in expected} == {None, 0, 1, 2}
    stream = pcapy.open_offline(str(capture)).to_arrow(batch_size=batch_size, columns=COLUMNS)
    rows = []
    for batch in stream:
        batch.validate(full=True)
        for row in batch.to_pylist():
            rows.append({**row, "ts": row["ts"].value})
    assert rows == expected


def test_a_batch_of_one_interface_without_options_has_null_flags_and_comments(capture):
    stream = pcapy.open_offline(str(capture)).to_arrow(batch_size=1, columns=COLUMNS)
    first = stream.read_next_batch()  # packet 0: options with a comment only
    second = stream.read_next_batch()  # packet 1: flags 1
    assert first.column("flags").null_count == 1
    assert first.column("comment").to_pylist() == ["packet 0"]
    assert second.column("direction").to_pylist() == [1]
    assert second.column("comment").null_count == 1
