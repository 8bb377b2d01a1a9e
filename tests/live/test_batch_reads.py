"""Batched live reads (pcapy._live_batch): the same packets as one pcap_next_ex each, none lost.

Two handles open on ``lo`` at the same time receive the same packets, so one handle per read
path compares them: bytes and lengths exactly, time stamps to within a millisecond (each packet
socket takes its own time stamp for an outgoing loopback packet; they differ by a microsecond
or so, while a unit or byte-order mistake would be off by far more). The other tests stop a loop in
the middle of a batch (break, count, exception) and check that the packets libpcap had already
handed over come out next, in order.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

import pcapy
from live.lab import (
    CANNOT_DUMP_TO_MEMORY,
    LOOPBACK,
    WAIT,
    collect_next,
    open_lo,
    payloads,
    send_udp,
    udp_payload,
)
from pcapy._libpcap import Handle
from pcapy._live_batch import BatchReaders

pytestmark = pytest.mark.live
CHOOSES_READ_PATH = True  # each test picks its handles' read paths (see conftest.READ_PATHS)


def _open(port: int, *, batched: bool, nano: bool = False) -> pcapy.Reader:
    previous = Handle.can_dump_to_memory
    if not batched:  # the read path is chosen when the handle is activated
        Handle.can_dump_to_memory = CANNOT_DUMP_TO_MEMORY  # type: ignore[method-assign]
    try:
        reader = pcapy.create("lo")
        reader.set_snaplen(65535)
        reader.set_timeout(50)
        if nano:
            reader.set_tstamp_precision(pcapy.PCAP_TSTAMP_PRECISION_NANO)
        reader.activate()
    finally:
        Handle.can_dump_to_memory = previous  # type: ignore[method-assign]
    reader.setfilter(f"udp dst port {port} and dst host {LOOPBACK}")
    return reader


@pytest.mark.parametrize("nano", [False, True], ids=["usec", "nsec"])
def test_batched_and_per_packet_reads_agree_exactly(udp_port: int, nano: bool) -> None:
    sent = payloads(300, tag=b"agree")
    with _open(udp_port, batched=True, nano=nano) as batched, \
            _open(udp_port, batched=False, nano=nano) as single:
        send_udp(udp_port, sent)
        from_batches = collect_next(batched, len(sent))
        one_by_one = collect_next(single, len(sent))
    assert [udp_payload(data) for _hdr, data in from_batches] == sent
    assert [data for _hdr, data in from_batches] == [data for _hdr, data in one_by_one]
    for (batch_hdr, _), (single_hdr, _) in zip(from_batches, one_by_one):
        assert type(batch_hdr) is type(single_hdr)
        assert batch_hdr[2:] == single_hdr[2:]  # caplen, len
        assert abs(batch_hdr.ts_ns - single_hdr.ts_ns) < 1_000_000
    expected_class = pcapy.NanoPkthdr if nano else pcapy.Pkthdr
    assert {type(hdr) for hdr, _data in from_batches} == {expected_class}
    sec, nsec = from_batches[0][0].getts_ns()
    assert abs(sec + nsec / 1e9 - time.time()) < 60


def test_breakloop_in_a_callback_keeps_the_rest_of_the_batch(udp_port: int) -> None:
    sent = payloads(200, tag=b"brk")
    got: list[bytes] = []
    with _open(udp_port, batched=True) as reader:
        send_udp(udp_port, sent)

        def stop_at_ten(_hdr: Any, data: bytes) -> None:
            got.append(udp_payload(data))
            if len(got) == 10:
                reader.breakloop()

        reader.loop(-1, stop_at_ten)
        assert got == sent[:10]
        got.extend(udp_payload(data) for _hdr, data in collect_next(reader, 190))
    assert got == sent


def test_a_callback_exception_keeps_the_rest_of_the_batch(udp_port: int) -> None:
    sent = payloads(100, tag=b"exc")
    got: list[bytes] = []
    with _open(udp_port, batched=True) as reader:
        send_udp(udp_port, sent)

        def fail_on_fifth(_hdr: Any, data: bytes) -> None:
            got.append(udp_payload(data))
            if len(got) == 5:
                raise KeyError("stop here")

        with pytest.raises(KeyError):
            reader.dispatch(-1, fail_on_fifth)
        deadline = time.monotonic() + WAIT
        while len(got) < len(sent) and time.monotonic() < deadline:
            reader.dispatch(-1, lambda _hdr, data: got.append(udp_payload(data)))
    assert got == sent


def test_dispatch_counts_and_next_share_the_pending_packets(udp_port: int) -> None:
    sent = payloads(50, tag=b"mix")
    got: list[bytes] = []
    with _open(udp_port, batched=True) as reader:
        send_udp(udp_port, sent)
        assert reader.dispatch(3, lambda _hdr, data: got.append(udp_payload(data))) == 3
        got.extend(udp_payload(data) for _hdr, data in collect_next(reader, 7))
        for hdr, data in reader:
            got.append(udp_payload(data))
            assert hdr.getcaplen() == len(data)
            if len(got) == 30:
                break
        reader.loop(20, lambda _hdr, data: got.append(udp_payload(data)))
    assert got == sent


def test_handles_read_in_batches_where_open_memstream_exists(udp_port: int) -> None:
    with open_lo(udp_port) as reader:
        drain = reader._live._drain  # the read path this handle chose at activation
        assert isinstance(getattr(drain, "__self__", None), BatchReaders)
