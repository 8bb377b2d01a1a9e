"""A read interrupted by an exception from the file (a KeyboardInterrupt, an I/O error) loses
nothing and repeats nothing: the next call goes on from where it stopped.

The file object here is a real ``io.BytesIO`` whose ``read`` raises ``KeyboardInterrupt`` on
chosen calls, as Ctrl-C does when it lands while pcapy waits on a slow disk or a pipe. Each
interruption reaches the careful path (a record or block straddling two read chunks), where
it used to kill ``next()``'s generator (the rest of the file then looked like its end), and
rewind a ``loop()`` over blocks the careful path had already handled (a pcapng interface
block was read twice, so later interface numbers shifted).
"""

from __future__ import annotations

import io
import struct
import sys
from typing import Callable

import pytest

import pcapy
from helpers import pcap_bytes, pcapng_block, udp_frame

PACKETS = 2_400  # about 1.3 MB: five read chunks of 256 KiB and more
PAYLOAD = b"p" * 480


class InterruptedFile(io.BytesIO):
    """A file whose read calls numbered in ``interrupt_at`` (from 1) raise KeyboardInterrupt."""

    def __init__(self, data: bytes, interrupt_at: set[int]) -> None:
        super().__init__(data)
        self.reads = 0
        self.interrupt_at = interrupt_at

    def read(self, size: int | None = -1) -> bytes:
        self._count()
        return super().read(size)

    def read1(self, size: int | None = -1) -> bytes:
        self._count()
        return super().read1(size)

    def _count(self) -> None:
        self.reads += 1
        if self.reads in self.interrupt_at:
            raise KeyboardInterrupt


def _pcap() -> bytes:
    return pcap_bytes([(1_700_000_000 + i, 0, udp_frame(i.to_bytes(4, "big") + PAYLOAD), 522)
                       for i in range(PACKETS)])


def _pcapng() -> bytes:
    # a new interface every 97 packets (link types alternating), each packet on the newest
    blocks = [pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    interface = -1
    for i in range(PACKETS):
        if i % 97 == 0:
            interface += 1
            blocks.append(pcapng_block(1, struct.pack("<HHI", 1 if interface % 2 else 228, 0, 0)))
        data = udp_frame(i.to_bytes(4, "big") + PAYLOAD)
        units = (1_700_000_000 + i) * 1_000_000
        fixed = struct.pack("<IIIII", interface, units >> 32, units & 0xFFFFFFFF, len(data),
                            len(data))
        blocks.append(pcapng_block(6, fixed + data + bytes(-len(data) % 4)))
    return b"".join(blocks)


FORMATS = {"pcap": _pcap, "pcapng": _pcapng}


def _key(hdr: pcapy.Pkthdr, data: bytes) -> tuple[object, ...]:
    interface = getattr(hdr, "interface", None)
    return (*hdr.getts_ns(), hdr.getlen(), data,
            None if interface is None else (interface.id, interface.dlt))


def _by_next(reader: pcapy.Reader) -> list[tuple[object, ...]]:
    got = []
    while True:
        try:
            hdr, data = reader.next()
        except KeyboardInterrupt:
            continue
        if hdr is None:
            return got
        got.append(_key(hdr, data))


def _by_loop(reader: pcapy.Reader) -> list[tuple[object, ...]]:
    got: list[tuple[object, ...]] = []
    while True:
        try:
            reader.loop(-1, lambda hdr, data: got.append(_key(hdr, data)))
        except KeyboardInterrupt:
            continue
        return got


def _by_iteration(reader: pcapy.Reader) -> list[tuple[object, ...]]:
    got: list[tuple[object, ...]] = []
    while True:
        try:
            got.extend(_key(hdr, data) for hdr, data in reader)
        except KeyboardInterrupt:
            continue
        return got


def _by_dispatch(reader: pcapy.Reader) -> list[tuple[object, ...]]:
    got: list[tuple[object, ...]] = []
    while True:
        try:
            if not reader.dispatch(7, lambda hdr, data: got.append(_key(hdr, data))):
                return got
        except KeyboardInterrupt:
            continue


WAYS: dict[str, Callable[[pcapy.Reader], list[tuple[object, ...]]]] = {
    "next": _by_next, "loop": _by_loop, "iteration": _by_iteration, "dispatch": _by_dispatch,
}


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("file_format", sorted(FORMATS))
def test_a_read_interrupted_by_the_file_goes_on_where_it_stopped(file_format: str, way: str):
    data = FORMATS[file_format]()
    expected = WAYS[way](pcapy.open_offline(io.BytesIO(data)))
    assert len(expected) == PACKETS
    for interrupt_at in ({2}, {3}, {2, 3}, {4, 6}, {2, 3, 4, 5, 6}):
        stream = InterruptedFile(data, interrupt_at)
        got = WAYS[way](pcapy.open_offline(stream))
        assert stream.reads > max(interrupt_at), "the interruptions never happened"
        assert got == expected, f"interrupted at reads {sorted(interrupt_at)}"


def test_an_interrupt_inside_a_run_of_metadata_blocks_repeats_none_of_them():
    # A run of blocks kept or counted in one pass (statistics, interfaces between them and in a
    # run of their own) is not undone by an interrupt landing in its middle: the next read goes
    # on after the last block done with. (The pass used to put the cursor back at its start:
    # every interface added before the interrupt was added again, shifting later interface
    # numbers.)
    idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 65535))
    isb = pcapng_block(5, struct.pack("<III", 0, 0, 7))
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    last = pcapng_block(6, struct.pack("<IIIII", 3_000, 0, 1, 4, 4) + b"last")
    data = shb + idb + (isb + idb) * 1_500 + idb * 1_500 + isb * 1_500 + last
    calls = 0
    # (function, its caller): an interface or statistics block kept by the pass
    IN_THE_PASS = {("add_interface", "_skim"), ("add_interface", "_skim_interfaces"),
                   ("_append_statistics", "_keep_statistics_in_skim")}

    def interrupt_every_700th_block(frame, event, _argument):  # noqa: ANN001, ANN202
        nonlocal calls
        called, caller = frame.f_code.co_name, frame.f_back.f_code.co_name
        if event == "call" and (called, caller) in IN_THE_PASS:
            calls += 1
            if calls % 700 == 0:
                raise KeyboardInterrupt

    reader = pcapy.open_offline(io.BytesIO(data))
    interrupts = 0
    tracer = sys.gettrace()  # coverage.py's, under scripts/test: put back afterwards
    try:
        while True:
            sys.settrace(interrupt_every_700th_block)  # (a tracer that raised is removed)
            try:
                hdr, payload = reader.next()
                break
            except KeyboardInterrupt:
                interrupts += 1
    finally:
        sys.settrace(tracer)
    assert interrupts >= 8  # of the ~6,000 blocks kept by the pass
    assert payload == b"last" and hdr.interface.id == 3_000
    info = reader.file_header
    assert len(info.interfaces) == 3_001 and len(info.statistics) == 3_000
    assert [i.id for i in info.interfaces] == list(range(3_001))
    assert len({s.offset for s in info.statistics}) == 3_000
