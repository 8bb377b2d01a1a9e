"""The classic-pcap engine on byte literals: any chunking, every truncation, filters mid-stream."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pcapy
from helpers import NSEC_MAGIC, pcap_bytes, sample_records
from pcapy._savefile import _pcap


def chunked(data: bytes, sizes: list[int]):
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)] if sizes else 1
        yield data[pos:pos + size]
        pos += size
        i += 1


def records_of(data: bytes, sizes: list[int]) -> list[tuple[tuple[int, ...], bytes]]:
    header = _pcap.parse_file_header(data[:24])
    return [(tuple(h), d) for h, d in _pcap.iter_records(header, chunked(data[24:], sizes))]


FILE = pcap_bytes(sample_records(12))
EXPECTED = records_of(FILE, [len(FILE)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=8))
def test_any_chunking_gives_the_same_records(sizes):
    assert records_of(FILE, sizes) == EXPECTED


@pytest.mark.parametrize("cut", range(25, len(FILE)))
def test_every_truncation_point_raises_or_ends_cleanly(cut):
    data = FILE[:cut]
    boundaries = {24}
    pos = 24
    for _, d in EXPECTED:
        pos += 16 + len(d)
        boundaries.add(pos)
    if cut in boundaries:
        assert len(records_of(data, [7])) == sum(1 for b in boundaries if 24 < b <= cut)
    else:
        with pytest.raises(pcapy.TruncatedSavefileError, match="truncated dump file") as info:
            records_of(data, [7])
        assert info.value.offset is not None and 24 <= info.value.offset <= cut


def test_caplen_above_snaplen_is_clipped_and_the_rest_skipped():
    data = pcap_bytes([(1, 0, b"A" * 100, 100), (2, 0, b"B" * 5, 5)], snaplen=10)
    got = records_of(data, [3])
    assert got == [((1, 0, 10, 100), b"A" * 10), ((2, 0, 5, 5), b"B" * 5)]


def test_caplen_above_the_link_maximum_is_an_error():
    data = bytearray(pcap_bytes([(1, 0, b"A" * 4, 4)]))
    data[24 + 8:24 + 12] = (300_000).to_bytes(4, "little")
    with pytest.raises(pcapy.MalformedSavefileError, match="invalid packet capture length 300000"):
        records_of(bytes(data), [1000])


def test_big_endian_nanosecond_and_swapped_lengths():
    big = pcap_bytes([(1, 5, b"xyz", 9)], order=">", magic=NSEC_MAGIC)
    assert records_of(big, [4]) == [((1, 5, 3, 9), b"xyz")]
    old = pcap_bytes([(1, 0, b"abcd", 4)], version=(2, 2))  # < 2.3 stored (len, caplen)
    assert records_of(old, [100]) == [((1, 0, 4, 4), b"abcd")]


@pytest.mark.parametrize(
    ("field", "message"),
    [((1, 4), "unsupported pcap savefile version 1.4"), ((2, 5), "unsupported pcap savefile version 2.5")],
)
def test_versions_refused(field, message):
    with pytest.raises(pcapy.UnsupportedVersionError, match=message):
        pcapy.open_offline(io.BytesIO(pcap_bytes([], version=field)))


def test_reserved_linktype_bits_refused():
    with pytest.raises(pcapy.MalformedSavefileError, match=r"reserved field not zero \(0x00300000\)"):
        pcapy.open_offline(io.BytesIO(pcap_bytes([], linktype=0x00300001)))


@pytest.mark.usefixtures("libpcap")
def test_changing_filters_between_packets_keeps_the_position():
    reader = pcapy.open_offline(io.BytesIO(pcap_bytes(sample_records(12))))
    seen = [reader.next()[0].getts()[0] - 1700000000]
    reader.setfilter("udp dst port 83 or udp dst port 85 or udp dst port 90")
    seen.append(reader.next()[0].getts()[0] - 1700000000)
    reader.setfilter("udp")
    seen.append(reader.next()[0].getts()[0] - 1700000000)
    reader.setfilter("udp dst port 90 or udp dst port 91")
    seen += [h.getts()[0] - 1700000000 for h, _ in reader]
    assert seen == [0, 3, 4, 10, 11]


def test_loop_dispatch_and_next_interleave_without_losing_packets():
    reader = pcapy.open_offline(io.BytesIO(pcap_bytes(sample_records(12))))
    order = []
    reader.loop(2, lambda h, d: order.append(h.getts()[0] - 1700000000))
    order.append(reader.next()[0].getts()[0] - 1700000000)
    assert reader.dispatch(3, lambda h, d: order.append(h.getts()[0] - 1700000000)) == 3
    order += [h.getts()[0] - 1700000000 for h, _ in reader]
    assert order == list(range(12))


def test_a_damaged_record_fails_every_later_read_the_same_way():
    data = pcap_bytes(sample_records(3))
    damaged = io.BytesIO(data[:-5])  # the last record is cut short
    reader = pcapy.open_offline(damaged)
    seen = []
    with pytest.raises(pcapy.TruncatedSavefileError) as first:
        reader.loop(-1, lambda h, d: seen.append(h))
    assert len(seen) == 2
    with pytest.raises(pcapy.TruncatedSavefileError) as again:
        reader.loop(-1, lambda h, d: seen.append(h))
    assert str(again.value) == str(first.value)
    assert len(seen) == 2  # nothing after the damage is parsed as a record


def test_next_raises_the_failure_again_instead_of_looking_like_eof():
    reader = pcapy.open_offline(io.BytesIO(pcap_bytes(sample_records(3))[:-5]))
    assert reader.next()[0] is not None
    assert reader.next()[0] is not None
    for _ in range(3):
        with pytest.raises(pcapy.TruncatedSavefileError, match="only got 40"):
            reader.next()
    clean = pcapy.open_offline(io.BytesIO(pcap_bytes(sample_records(1))))
    assert clean.next()[0] is not None
    assert clean.next() == (None, b"")
    assert clean.next() == (None, b"")
