"""``next()`` follows every other way of reading a savefile, with no lock and no rebinding.

``Reader.next`` is bound once: ``next()`` on a chain of the source's runs (``next_runs``), each
a record loop generator, the last an ``AfterEnd``. Loops, batches, filters and iterations
start new runs; a ``reader.next`` kept by the caller before them reads on from where they
stopped, an iteration ended by ``breakloop()`` leaves the rest of the file to ``next()``, and
a damaged file raises its error on every call after its last packet. On classic pcap and
pcapng alike.
"""

from __future__ import annotations

import io
import struct

import pytest

import pcapy
from helpers import pcap_bytes, pcapng_block, udp_frame

COUNT = 12
BASE = 1_700_000_000


def _pcap(count: int = COUNT) -> bytes:
    return pcap_bytes([(BASE + i, 0, udp_frame(i.to_bytes(4, "big")), 46) for i in range(count)])


def _pcapng(count: int = COUNT) -> bytes:
    blocks = [
        pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
        pcapng_block(1, struct.pack("<HHI", 1, 0, 0)),
    ]
    for i in range(count):
        data = udp_frame(i.to_bytes(4, "big"))
        units = (BASE + i) * 1_000_000
        fixed = struct.pack("<IIIII", 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
        blocks.append(pcapng_block(6, fixed + data + bytes(-len(data) % 4)))
    return b"".join(blocks)


FORMATS = {"pcap": _pcap, "pcapng": _pcapng}


@pytest.fixture(params=sorted(FORMATS))
def capture(request: pytest.FixtureRequest):
    def make(count: int = COUNT) -> pcapy.Reader:
        return pcapy.open_offline(io.BytesIO(FORMATS[request.param](count)))

    return make


def _index(hdr: pcapy.Pkthdr) -> int:
    return hdr.getts()[0] - BASE


def _indices(read, count: int) -> list[int]:
    return [_index(read()[0]) for _ in range(count)]


def test_a_kept_next_reads_on_after_loop_dispatch_and_next_batch(capture):
    reader = capture()
    kept = reader.next
    assert _indices(kept, 2) == [0, 1]
    seen: list[int] = []
    reader.loop(2, lambda hdr, _data: seen.append(_index(hdr)))
    assert seen == [2, 3]
    assert _indices(kept, 1) == [4]
    assert reader.dispatch(2, lambda hdr, _data: seen.append(_index(hdr))) == 2
    assert seen == [2, 3, 5, 6]
    assert _indices(kept, 1) == [7]
    _buffer, meta = reader.next_batch(2)
    assert [sec - BASE for sec, _usec, _off, _len in struct.iter_unpack("=IIII", meta)] == [8, 9]
    assert _indices(kept, 2) == [10, 11]
    assert kept() == (None, b"")
    assert reader.next() == (None, b"")


def test_next_during_an_iteration_takes_the_following_packet(capture):
    reader = capture()
    taken: list[int] = []
    iterated: list[int] = []
    for hdr, _data in reader:
        iterated.append(_index(hdr))
        if _index(hdr) % 3 == 0:
            taken.append(_index(reader.next()[0]))
    assert iterated == [0, 2, 3, 5, 6, 8, 9, 11]
    assert taken == [1, 4, 7, 10]
    assert reader.next() == (None, b"")


def test_an_iteration_ended_by_breakloop_leaves_the_rest_to_next_and_iteration(capture):
    reader = capture()
    kept = reader.next
    assert _indices(kept, 1) == [0]
    iterated = []
    for hdr, _data in reader:
        iterated.append(_index(hdr))
        if len(iterated) == 3:
            reader.breakloop()
    assert iterated == [1, 2, 3]
    assert _indices(kept, 2) == [4, 5]
    assert [_index(hdr) for hdr, _data in reader] == [6, 7, 8, 9, 10, 11]
    assert kept() == (None, b"")


def test_a_breakloop_before_an_iteration_ends_it_at_once_and_is_consumed(capture):
    reader = capture()
    reader.breakloop()
    assert list(reader) == []
    assert _indices(reader.next, 1) == [0]
    assert len(list(reader)) == COUNT - 1


def test_a_filter_set_between_reads_applies_to_a_kept_next(capture):
    reader = capture()
    kept = reader.next
    assert _indices(kept, 1) == [0]
    reader.setfilter("len > 1000")  # no packet is that long
    assert kept() == (None, b"")
    reader.setfilter("")
    assert kept() == (None, b"")  # the end stays the end


def test_a_damaged_file_raises_on_every_next_after_its_last_packet(capture):
    data = FORMATS["pcap"](3)[:-10]  # the third record is cut short
    reader = pcapy.open_offline(io.BytesIO(data))
    kept = reader.next
    assert _indices(kept, 2) == [0, 1]
    for _attempt in range(3):
        with pytest.raises(pcapy.PcapError, match="truncated"):
            kept()
    assert reader.next is kept
