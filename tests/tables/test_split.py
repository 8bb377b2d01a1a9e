"""split/read_range: every range starts where the reader passes, so any range read alone gives
exactly the file's packets between its start and its end.

The truth is walked here independently (``record_starts``, ``packet_blocks``: a plain loop over
the file's records from its start). Each corpus file gets ``SPLIT_CUTS`` random cut points (10^4
by default: the walk takes every cut of a file in one pass), hypothesis draws random sets of
cuts whose ranges are read, and generated files carry what fools a search near the cut: pcap
records inside TCP payloads, payloads made of record headers, the "shadow" chain 4 bytes into
every record dressed up as the likelier one, damage in the middle and a truncated end.
"""

from __future__ import annotations

import bisect
import gzip
import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pcapy
from pcapy._boundaries import boundaries
from pcapy._range_index import load_index, sidecar_path
from pcapy._ranges import range_bytes_read, ranges_at
from pcapy._split import ByteRange
from tables.tables_helpers import CORPUS, corpus_paths, serial_read

SPLIT_CUTS = int(os.environ.get("PCAPY_SPLIT_CUTS", "10000"))
PACKET_BLOCKS = (2, 3, 6)


def readable_files(*folders: str) -> list[str]:
    """Corpus files the serial read takes to their end without an error."""
    return [name for name in corpus_paths(*folders) if serial_read(CORPUS / name)[1] is None]


def record_starts(data: bytes) -> list[int]:
    """Every record offset of an undamaged classic pcap file, walked from its header."""
    magic = data[:4]
    order = "<" if magic[0] in (0xD4, 0x4D, 0x34) else ">"
    header = 24 if magic in (b"\xa1\xb2\xcd\x34", b"\x34\xcd\xb2\xa1") else 16
    major, minor = struct.unpack_from(order + "HH", data, 4)
    position, starts = 24, []
    while position < len(data):
        starts.append(position)
        caplen, length = struct.unpack_from(order + "II", data, position + 8)
        if major == 543 or minor < 3 or (minor == 3 and caplen > length):
            caplen = length  # libpcap's rule for writers that swapped the two lengths
        position += header + caplen
    assert position == len(data)
    return starts


def packet_blocks(data: bytes) -> list[int]:
    """Every packet block offset of an undamaged pcapng file, walked from its start."""
    position, order, starts = 0, "<", []
    while position < len(data):
        if data[position:position + 4] == b"\x0a\x0d\x0d\x0a":
            order = "<" if data[position + 8:position + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        block_type, length = struct.unpack_from(order + "II", data, position)
        if block_type in PACKET_BLOCKS:
            starts.append(position)
        position += length
    assert position == len(data)
    return starts


def truth(data: bytes) -> list[int]:
    """Where ranges may start: each packet's record or block offset, in file order."""
    return packet_blocks(data) if data[:4] == b"\x0a\x0d\x0d\x0a" else record_starts(data)


def cuts_for(size: int, count: int, seed: int) -> list[int]:
    every = range(size + 1)
    return sorted(every if len(every) <= count else random.Random(seed).sample(every, count))


@pytest.mark.parametrize("name", readable_files("pcap", "pcapng"))
def test_each_cut_moves_to_the_first_packet_at_or_after_it(name):
    path = CORPUS / name
    data = path.read_bytes()
    starts = truth(data)
    cuts = cuts_for(len(data), SPLIT_CUTS, seed=len(data))
    with open(path, "rb") as f:
        found = boundaries(f, len(data), cuts)
    expected = [starts[bisect.bisect_left(starts, cut)] for cut in cuts
                if bisect.bisect_left(starts, cut) < len(starts)]
    assert [offset for offset, _ in found] == expected


def packets_by_range(path, ranges) -> list[list]:
    """Each range read alone (its own Reader)."""
    result = []
    for byte_range in ranges:
        with pcapy.read_range(path, byte_range) as reader:
            result.append(read_all(reader))
    return result


def read_all(reader):
    return read_into(reader, [])


def read_into(reader, packets: list) -> list:
    """Append the reader's packets (serial_read's shape) one by one: kept up to an error."""
    dlt = reader.datalink()
    for h, d in reader:
        packets.append((*h.getts_ns(), h[2], h[3], bytes(d),
                        h.interface.dlt if h.interface else dlt,
                        h.interface.name if h.interface else None))
    return packets


def assert_ranges_exact(path: Path, ranges: list[ByteRange]) -> int:
    """Every range alone gives exactly the serial read's packets from its start to its end."""
    expected, error = serial_read(path)
    assert error is None
    starts = truth(path.read_bytes())
    size = path.stat().st_size
    assert ranges[-1].end == size and all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
    for byte_range, got in zip(ranges, packets_by_range(path, ranges)):
        first = bisect.bisect_left(starts, byte_range.start)
        last = bisect.bisect_left(starts, byte_range.end)
        assert byte_range.start in starts or first == 0, byte_range
        assert got == expected[first:last], byte_range
    return len(ranges)


@pytest.mark.parametrize("name", readable_files("pcap", "pcapng"))
def test_split_ranges_read_alone_are_the_serial_read(name):
    path = CORPUS / name
    for n in (1, 2, 3, 5, 8, 13):
        ranges = pcapy.split(path, n)
        assert 1 <= len(ranges) <= n
        assert_ranges_exact(path, ranges)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_cuts_read_alone_are_the_serial_read(data):
    names = readable_files("pcap", "pcapng")
    path = CORPUS / data.draw(st.sampled_from(names))
    size = path.stat().st_size
    cuts = sorted(data.draw(st.lists(st.integers(0, size), max_size=6)))
    assert_ranges_exact(path, ranges_at(path, cuts))


def pcap_file(records, linktype=1, fraction=0):
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    return header + b"".join(
        struct.pack("<IIII", 1_700_000_000 + i, fraction or i, len(d), len(d)) + d
        for i, d in enumerate(records))


def tcp_segment(payload: bytes, seq: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", 40000, 5001, seq, 0, 5 << 4, 0x18, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                     b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp + payload


def adversarial_files() -> dict[str, bytes]:
    rng = random.Random(7)
    inner = pcap_file([bytes(rng.randrange(40, 200)) for _ in range(400)])
    segments = [inner[i:i + 1400] for i in range(0, len(inner), 1400)]
    carried = pcap_file([tcp_segment(s, i * 1400) for i, s in enumerate(segments)])
    fake = []  # payloads made of record headers whose lengths chain through the payload
    for i in range(300):
        body = b""
        while len(body) < 600:
            size = rng.randrange(0, 40)
            body += struct.pack("<IIII", 1_700_000_000, 0, size, size) + bytes(size)
        fake.append(tcp_segment(body, i))
    # The shadow chain 4 bytes in (captured length == wire length everywhere) made to look like
    # the likelier one: the real records have a fraction of a second >= 10**6 (as a capture
    # tool would not write), the shadow's wire length (the packet's first 4 bytes) exceeds its
    # captured length. A guess by plausibility picks the shadow.
    trap = pcap_file([b"\xff\xff\x00\x00" + rng.randbytes(rng.randrange(20, 300))
                      for _ in range(500)], fraction=2_000_000)
    return {"pcap-in-tcp": carried, "headers-in-payloads": pcap_file(fake),
            "zero-payloads": pcap_file([bytes(rng.randrange(0, 100)) for _ in range(500)]),
            "likely-shadow": trap}


@pytest.mark.parametrize("kind", sorted(adversarial_files()))
def test_adversarial_files_give_no_false_boundary(kind, tmp_path):
    data = adversarial_files()[kind]
    path = tmp_path / f"{kind}.pcap"
    path.write_bytes(data)
    starts = record_starts(data)
    cuts = cuts_for(len(data), SPLIT_CUTS, seed=1)
    with open(path, "rb") as f:
        found = [offset for offset, _ in boundaries(f, len(data), cuts)]
    assert set(found) <= set(starts)
    assert len(found) == sum(1 for cut in cuts if cut <= starts[-1])
    for n in (2, 7, 16, 64):
        assert_ranges_exact(path, pcapy.split(path, n))


def damaged_files() -> dict[str, tuple[bytes, int]]:
    """Files the serial read stops in with an error: the data and the offset of the damage."""
    rng = random.Random(3)
    good = pcap_file([rng.randbytes(rng.randrange(60, 1500)) for _ in range(300)])
    starts = record_starts(good)
    middle = starts[150]
    bad_length = bytearray(good)
    struct.pack_into("<I", bad_length, middle + 8, 1 << 30)  # a captured length refused
    truncated = good[:starts[-1] + 30]  # the last record cut short (a capture still written)
    partial_header = good + b"\x00" * 10  # a header cut short after the last record
    return {"bad-length": (bytes(bad_length), middle),
            "truncated-end": (truncated, starts[-1]),
            "partial-header": (partial_header, len(good))}


def failing_files() -> list[str]:
    return [name for name in corpus_paths("broken", "pcap", "pcapng")
            if serial_read(CORPUS / name)[1] is not None]


def read_in_ranges(path: Path, ranges: list[ByteRange]) -> tuple[list, str | None]:
    """The ranges' packets, each range read alone, in order, and the error that ended them."""
    got: list = []
    try:
        for byte_range in ranges:
            with pcapy.read_range(path, byte_range) as reader:
                read_into(reader, got)
    except pcapy.PcapError as err:
        return got, type(err).__name__
    return got, None


def split_or_error(path: Path, n: int) -> tuple[list[ByteRange], str | None]:
    try:
        return pcapy.split(path, n), None
    except pcapy.PcapError as err:  # the file header itself: as open_offline says
        return [], type(err).__name__


@pytest.mark.parametrize("name", failing_files())
def test_a_corpus_file_the_reader_fails_on_fails_the_same_in_ranges(name):
    path = CORPUS / name
    expected, error = serial_read(path)
    for n in (1, 3, 8):
        ranges, split_error = split_or_error(path, n)
        if split_error is not None:
            assert (split_error, expected) == (error, [])
            continue
        assert read_in_ranges(path, ranges) == (expected, error)


@pytest.mark.parametrize("kind", sorted(damaged_files()))
def test_a_damaged_file_is_cut_only_before_the_damage(kind, tmp_path):
    data, damage = damaged_files()[kind]
    path = tmp_path / f"{kind}.pcap"
    path.write_bytes(data)
    expected, error = serial_read(path)
    assert error is not None
    for n in (2, 5, 16, 64, 0):
        ranges = pcapy.split(path, n) if n else ranges_at(path, [damage - 1, len(data) - 1])
        assert all(r.start <= damage for r in ranges)  # the range holding the damage goes on
        assert n in (0, 2) or len(ranges) > 2
        for byte_range in ranges[:-1]:  # each one alone: exact packets, no error
            assert read_in_ranges(path, [byte_range])[1] is None
        assert read_in_ranges(path, ranges) == (expected, error)


def pcapng_block(block_type: int, body: bytes) -> bytes:
    return struct.pack("<II", block_type, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_a_block_larger_than_a_read(tmp_path):
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
    packets = [pcapng_block(6, struct.pack("<IIIII", 0, 0, i, 60, 60) + bytes(60))
               for i in range(6)]
    big = pcapng_block(0x80000BAD, bytes(3 << 20))  # a local-use block: the reader skips it
    data = shb + idb + b"".join(packets[:3]) + big + b"".join(packets[3:])
    path = tmp_path / "big.pcapng"
    path.write_bytes(data)
    start = len(shb + idb) + 3 * len(packets[0])
    for cuts in ([start + 10], [start - 1, start + 5, start + len(big)], [100, len(data) - 1]):
        assert_ranges_exact(path, ranges_at(path, cuts))


def test_an_index_past_its_last_point_and_odd_index_files(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes((CORPUS / "pcap" / "example.pcap").read_bytes())
    index = tmp_path / "x.index"
    pcapy.build_index(path, index)
    document = json.loads(index.read_text())
    assert_ranges_exact(path, ranges_at(path, [document["points"][-1][0] + 1], index))
    for change, message in (({"pcapy_index": 2}, "index format 2"),
                            ({"points": document["points"][::-1]}, "not increasing")):
        index.write_text(json.dumps({**document, **change}))
        with pytest.raises(pcapy.PcapError, match=message):
            pcapy.split(path, 3, index=index)
    Path(sidecar_path(path)).write_text("[]")  # an unreadable sidecar: the file is walked
    assert load_index(path, None) is None
    assert_ranges_exact(path, pcapy.split(path, 3))


def test_not_a_capture(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"not a capture"))
    with open(path, "rb") as f:
        assert boundaries(f, path.stat().st_size, [5]) == []
    with pytest.raises(pcapy.PcapError, match="not a pcap or pcapng file"):
        ranges_at(path, [5])


def test_the_index_gives_the_boundaries(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes((CORPUS / "pcap" / "example.pcap").read_bytes())
    written = pcapy.build_index(path)
    assert written == sidecar_path(path)
    index = load_index(path, None)
    assert index is not None
    points = {offset for offset, _ in index.points}
    assert points <= set(record_starts(path.read_bytes()))
    for n in (2, 5, 9):
        ranges = pcapy.split(path, n)
        assert {r.start for r in ranges[1:]} <= points
        assert_ranges_exact(path, ranges)


@pytest.mark.parametrize("name", ["pcapng/pcapng-example.pcapng", "pcap/example.pcap"])
def test_an_index_elsewhere(name, tmp_path):
    path = CORPUS / name
    out = pcapy.build_index(path, tmp_path / "the.index")
    for n in (3, 8):
        ranges = pcapy.split(path, n, index=out)
        assert_ranges_exact(path, ranges)


def test_a_stale_index_is_not_used(tmp_path):
    path = tmp_path / "x.pcap"
    data = (CORPUS / "pcap" / "example.pcap").read_bytes()
    path.write_bytes(data)
    pcapy.build_index(path)
    os.utime(path, ns=(0, 0))
    assert load_index(path, None) is None  # the sidecar no longer matches: the file is walked
    with pytest.raises(pcapy.PcapError, match="does not match"):
        pcapy.split(path, 5, index=sidecar_path(path))
    os.remove(sidecar_path(path))
    assert_ranges_exact(path, pcapy.split(path, 5))
    bad = tmp_path / "bad.index"
    bad.write_text("{not json")
    with pytest.raises(pcapy.PcapError, match="cannot read the range index"):
        pcapy.split(path, 5, index=bad)
    with pytest.raises(pcapy.PcapError, match="not a pcap or pcapng"):
        pcapy.build_index(bad)


def test_the_index_command(tmp_path):
    path = tmp_path / "x.pcapng"
    path.write_bytes((CORPUS / "pcapng" / "pcapng-example.pcapng").read_bytes())
    done = subprocess.run([sys.executable, "-m", "pcapy", "index", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"pcapy: {path}: index written to {sidecar_path(path)}\n"
    index = load_index(path, None)
    assert index is not None and index.points
    assert_ranges_exact(path, pcapy.split(path, 6))
    done = subprocess.run([sys.executable, "-m", "pcapy", "index", str(path), str(path), "-o",
                           str(tmp_path / "y")], capture_output=True, text=True, timeout=120,
                          check=False)
    assert (done.returncode, done.stderr) == (1, "pcapy: -o OUT takes one FILE\n")


def test_gzip_is_one_range(tmp_path):
    path = tmp_path / "x.pcap.gz"
    path.write_bytes(gzip.compress((CORPUS / "pcap" / "example.pcap").read_bytes()))
    ranges = pcapy.split(path, 4)
    assert ranges == [ByteRange(0, path.stat().st_size, whole=True)]
    got = [p for packets in packets_by_range(path, ranges) for p in packets]
    assert got == serial_read(CORPUS / "pcap" / "example.pcap")[0]


def test_read_range_reads_only_its_range():
    path = CORPUS / "pcap" / "example.pcap"
    ranges = pcapy.split(path, 4)
    assert len(ranges) == 4
    for byte_range in ranges:
        reader = pcapy.read_range(path, byte_range)
        count = sum(1 for _ in reader)
        assert count > 0
        assert range_bytes_read(reader) == byte_range.size + 24
        reader.close()


@pytest.mark.usefixtures("libpcap")
def test_read_range_filters_loops_and_tables():
    path = CORPUS / "pcap" / "example.pcap"
    ranges = pcapy.split(path, 3)
    reader = pcapy.open_offline(path)
    reader.setfilter("udp")
    expected = [bytes(d) for _, d in reader]
    got, looped = [], []
    for byte_range in ranges:
        reader = pcapy.read_range(path, byte_range)
        reader.setfilter("udp")
        got += reader.to_arrow(columns=["data"]).read_all().column("data").to_pylist()
        reader = pcapy.read_range(path, byte_range)
        reader.setfilter("udp")
        reader.loop(-1, lambda h, d: looped.append(bytes(d)))
    assert got == expected
    assert looped == expected


def test_a_range_not_ending_on_a_record_fails_loudly():
    path = CORPUS / "pcap" / "example.pcap"
    ranges = pcapy.split(path, 2)
    wrong = ByteRange(ranges[0].start, ranges[0].end + 4, ranges[0].context)
    with pytest.raises(pcapy.TruncatedSavefileError):
        for _ in pcapy.read_range(path, wrong):
            pass


def test_bad_arguments():
    path = CORPUS / "pcap" / "example.pcap"
    with pytest.raises(ValueError, match="n must be a positive int"):
        pcapy.split(path, 0)
    with pytest.raises(TypeError, match="ByteRange"):
        pcapy.read_range(path, (0, 10))
