"""Reader.next_batch: pcapy-ng's batch layout, the same packets as next(), zero-copy on pcap."""

from __future__ import annotations

import io
import struct

import pytest

import pcapy
from conftest import CORPUS, corpus_files, manifest
from helpers import NSEC_MAGIC, pcap_bytes, sample_records, udp_frame

# Files with packets to read (pcapng files libpcap stops early in are read to the end by pcapy;
# the three with no interface at all are refused at open, as by libpcap).
READABLE = [p for p in corpus_files("pcap") + corpus_files("pcapng")
            if manifest()[p]["libpcap_result"] != "open-failed"]


def batched(reader: pcapy.Reader, size: int) -> list[tuple[int, int, int, bytes]]:
    out = []
    while True:
        buffer, meta = reader.next_batch(size)
        if not meta:
            return out
        for sec, usec, offset, caplen in struct.iter_unpack("=IIII", meta):
            out.append((sec, usec, caplen, bytes(buffer[offset:offset + caplen])))


def one_by_one(reader: pcapy.Reader) -> list[tuple[int, int, int, bytes]]:
    return [(*h.getts(), h.getcaplen(), d) for h, d in reader]


@pytest.mark.parametrize("name", READABLE)
def test_batches_hold_the_same_packets_as_next(name):
    path = CORPUS / name
    expected = one_by_one(pcapy.open_offline(str(path)))
    if any(sec > 0xFFFFFFFF for sec, *_ in expected):
        with pytest.raises(pcapy.PcapError, match="32-bit seconds"):
            batched(pcapy.open_offline(str(path)), 7)
        return
    assert batched(pcapy.open_offline(str(path)), 7) == expected


@pytest.mark.usefixtures("libpcap")
@pytest.mark.parametrize("name", [p for p in READABLE if p.startswith("pcap/")
                                  and manifest()[p]["libpcap_linktype"].startswith("1:")])
def test_batches_respect_the_filter(name):
    path = CORPUS / name
    reader = pcapy.open_offline(str(path))
    reader.setfilter("udp or arp")
    expected = one_by_one(reader)
    reader = pcapy.open_offline(str(path))
    reader.setfilter("udp or arp")
    assert batched(reader, 3) == expected


def test_nanosecond_files_give_microseconds_like_pcapy_ng():
    data = pcap_bytes([(1, 123456789, b"abc", 3)], magic=NSEC_MAGIC)
    buffer, meta = pcapy.open_offline(io.BytesIO(data)).next_batch(10)
    assert struct.unpack("=IIII", meta)[:2] == (1, 123456)


def test_batches_and_next_interleave():
    reader = pcapy.open_offline(io.BytesIO(pcap_bytes(sample_records(10))))
    first = reader.next()[0].getts()[0] - 1700000000
    buffer, meta = reader.next_batch(3)
    middle = [sec - 1700000000 for sec, *_ in struct.iter_unpack("=IIII", meta)]
    rest = [h.getts()[0] - 1700000000 for h, _ in reader]
    assert [first, *middle, *rest] == list(range(10))
    assert reader.next_batch(5) == (b"", b"")


def test_bad_batch_sizes():
    records = [(1700000000 + i, 0, udp_frame(b"x"), 43) for i in range(300)]
    reader = pcapy.open_offline(io.BytesIO(pcap_bytes(records)))
    assert len(reader.next_batch(0)[1]) == 256 * 16  # pcapy-ng: a count <= 0 means 256
    assert len(reader.next_batch(-5)[1]) == 44 * 16
    with pytest.raises(TypeError):
        reader.next_batch("4")  # type: ignore[arg-type]
    reader.close()
    with pytest.raises(ValueError, match="pcap is closed"):
        reader.next_batch(4)
