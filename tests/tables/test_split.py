"""split/read_range: proven record boundaries; the ranges' packets are the file's packets.

The search (``pcapy._split``, no I/O) is checked on its own over many cut points per corpus file:
whatever it returns must be a real record start at or after the cut (or nothing). The default
run takes ``SPLIT_CUTS`` random cuts per file (every cut of files smaller than that);
``PCAPY_SPLIT_CUTS=10000`` runs the issue's 10^4 cuts per file (minutes, not seconds).
"""

from __future__ import annotations

import os
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pcapy
from pcapy._ranges import _pcap_layout, range_bytes_read
from pcapy._split import ByteRange, Likely, find_pcap_boundary
from tables.tables_helpers import CORPUS, corpus_paths, serial_read

SPLIT_CUTS = int(os.environ.get("PCAPY_SPLIT_CUTS", "100"))
BIG_FILE = 200_000  # bytes: files this large get a tenth of the cuts by default (0.1 s a cut)


def readable_files(*folders: str) -> list[str]:
    """Corpus files the serial read takes to their end without an error."""
    return [name for name in corpus_paths(*folders) if serial_read(CORPUS / name)[1] is None]


def classic_files() -> list[str]:
    return [n for n in readable_files("pcap") if pcapy.open_offline(CORPUS / n).file_format == "pcap"]


def record_starts(data: bytes) -> set[int]:
    """Every record offset of a classic pcap file, walked from its header (the truth)."""
    layout, position = _pcap_layout(data[:64])
    swapped = layout.lengths_swapped
    starts = set()
    while position + layout.header_size <= len(data):
        starts.add(position)
        caplen, length = struct.unpack_from(layout.byte_order + "II", data, position + 8)
        if swapped == 2 or (swapped == 1 and caplen > length):
            caplen = length
        position += layout.header_size + caplen
    assert position == len(data)
    starts.add(len(data))
    return starts


def check_cut(data: bytes, starts: set[int], cut: int) -> bool:
    """The search's answer is a real record start at or after the cut (or nothing)."""
    layout, _ = _pcap_layout(data[:64])
    found = find_pcap_boundary(data[cut:], cut, len(data), layout)
    if isinstance(found, Likely):  # the tie-break: not a proof, but it must still be right here
        found = found.offset
    assert found is None or (found >= cut and found in starts), (cut, found)
    return found is not None


def cuts_for(data: bytes, count: int, seed: int) -> list[int]:
    every = range(24, len(data) + 1)
    if len(every) <= count:
        return list(every)
    return random.Random(seed).sample(every, count)


@pytest.mark.parametrize("name", classic_files())
def test_search_never_returns_a_false_boundary(name):
    data = (CORPUS / name).read_bytes()
    starts = record_starts(data)
    count = SPLIT_CUTS if len(data) < BIG_FILE or "PCAPY_SPLIT_CUTS" in os.environ \
        else max(3, SPLIT_CUTS // 30)
    cuts = cuts_for(data, count, seed=len(data))
    proven = sum(check_cut(data, starts, cut) for cut in cuts)
    assert proven == len(cuts)  # on an undamaged file every cut finds a boundary


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_search_on_random_cuts(data):
    names = [n for n in classic_files() if (CORPUS / n).stat().st_size < BIG_FILE]
    name = data.draw(st.sampled_from(names))
    content = (CORPUS / name).read_bytes()
    cut = data.draw(st.integers(24, len(content)))
    check_cut(content, record_starts(content), cut)


def ranges_packets(path, ranges):
    packets = []
    for byte_range in ranges:
        with pcapy.read_range(path, byte_range) as reader:
            packets += serial_read_reader(reader)
    return packets


def serial_read_reader(reader):
    dlt = reader.datalink()
    return [(*h.getts_ns(), h[2], h[3], bytes(d), h.interface.dlt if h.interface else dlt,
             h.interface.name if h.interface else None) for h, d in reader]


@pytest.mark.parametrize("name", readable_files("pcap", "pcapng"))
def test_ranges_concatenated_are_the_serial_read(name):
    path = CORPUS / name
    expected, _ = serial_read(path)
    size = path.stat().st_size
    for n in (1, 2, 3, 5, 8, 13):
        ranges = pcapy.split(path, n)
        assert 1 <= len(ranges) <= n
        assert ranges[-1].end == size
        assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
        assert ranges_packets(path, ranges) == expected, n


def test_gzip_is_one_range(tmp_path):
    import gzip

    path = tmp_path / "x.pcap.gz"
    path.write_bytes(gzip.compress((CORPUS / "pcap" / "example.pcap").read_bytes()))
    ranges = pcapy.split(path, 4)
    assert ranges == [ByteRange(0, path.stat().st_size, whole=True)]
    assert ranges_packets(path, ranges) == serial_read(CORPUS / "pcap" / "example.pcap")[0]


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


def pcap_file(records, linktype=1):
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    return header + b"".join(struct.pack("<IIII", 1_700_000_000 + i, i, len(d), len(d)) + d
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
    # payloads made of record headers whose lengths chain through the payload
    fake = []
    for i in range(300):
        body = b""
        while len(body) < 600:
            size = rng.randrange(0, 40)
            body += struct.pack("<IIII", 1_700_000_000, 0, size, size) + bytes(size)
        fake.append(tcp_segment(body, i))
    return {"pcap-in-tcp": carried, "headers-in-payloads": pcap_file(fake),
            "zero-payloads": pcap_file([bytes(rng.randrange(0, 100)) for _ in range(500)])}


@pytest.mark.parametrize("kind", sorted(adversarial_files()))
def test_adversarial_payloads_give_no_false_boundary(kind, tmp_path):
    data = adversarial_files()[kind]
    starts = record_starts(data)
    cuts = cuts_for(data, SPLIT_CUTS // 5, seed=1)
    for cut in cuts:
        check_cut(data, starts, cut)
    path = tmp_path / f"{kind}.pcap"
    path.write_bytes(data)
    expected, _ = serial_read(path)
    for n in (2, 7, 16):
        assert ranges_packets(path, pcapy.split(path, n)) == expected


def test_a_wrong_start_fails_loudly_in_the_range_before_it(tmp_path):
    # what confirms a Likely boundary: a range that does not end on a record boundary raises
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
