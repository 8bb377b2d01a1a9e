"""Capturing bounded UDP bursts to 127.0.0.1 on ``lo``: every read path, options and stats."""

from __future__ import annotations

import select
import time

import pytest

import pcapy
from live.lab import WAIT, collect_next, open_lo, payloads, send_udp, udp_payload

pytestmark = pytest.mark.live


def test_next_captures_every_datagram_in_order(udp_port: int) -> None:
    sent = payloads(50)
    with open_lo(udp_port) as reader:
        send_udp(udp_port, sent)
        packets = collect_next(reader, len(sent))
    assert [udp_payload(data) for _hdr, data in packets] == sent
    for hdr, data in packets:
        assert type(hdr) is pcapy.Pkthdr
        assert hdr.getcaplen() == hdr.getlen() == len(data) == 14 + 20 + 8 + 100
        sec, usec = hdr.getts()
        assert abs(sec + usec / 1e6 - time.time()) < 60


def test_dispatch_returns_how_many_it_processed(udp_port: int) -> None:
    sent = payloads(30)
    got: list[bytes] = []
    with open_lo(udp_port) as reader:
        send_udp(udp_port, sent)
        assert reader.dispatch(5, lambda _hdr, data: got.append(udp_payload(data))) == 5
        deadline = time.monotonic() + WAIT
        while len(got) < len(sent) and time.monotonic() < deadline:
            before = len(got)
            count = reader.dispatch(-1, lambda _hdr, data: got.append(udp_payload(data)))
            assert count == len(got) - before
    assert got == sent


def test_loop_processes_exactly_cnt_packets(udp_port: int) -> None:
    sent = payloads(40)
    got: list[bytes] = []
    with open_lo(udp_port) as reader:
        send_udp(udp_port, sent)
        assert reader.loop(25, lambda _hdr, data: got.append(udp_payload(data))) is None
        assert got == sent[:25]
        reader.loop(15, lambda _hdr, data: got.append(udp_payload(data)))
    assert got == sent


def test_iteration_yields_header_and_bytes(udp_port: int) -> None:
    sent = payloads(20, tag=b"iter")
    got: list[bytes] = []
    with open_lo(udp_port) as reader:
        send_udp(udp_port, sent)
        for hdr, data in reader:
            assert hdr.getcaplen() == len(data)
            got.append(udp_payload(data))
            if len(got) == len(sent):
                break
    assert got == sent


def test_stats_count_each_loopback_datagram_twice(udp_port: int) -> None:
    sent = payloads(60)
    with open_lo(udp_port) as reader:
        # lo traffic that came before the filter was installed is counted too: start from here
        recv_before, drop_before, ifdrop_before = reader.stats()
        send_udp(udp_port, sent)
        assert len(collect_next(reader, len(sent))) == len(sent)
        recv, drop, ifdrop = reader.stats()
    # The kernel counts a datagram on lo going out and coming in; libpcap shows it once.
    assert recv - recv_before == 2 * len(sent)
    assert (drop, ifdrop) == (drop_before, ifdrop_before) == (0, 0)


def test_callback_exception_propagates_and_the_next_loop_continues(udp_port: int) -> None:
    sent = payloads(6)
    got: list[bytes] = []

    def callback(_hdr: pcapy.Pkthdr, data: bytes) -> None:
        got.append(udp_payload(data))
        if len(got) == 2:
            raise LookupError("stop here")

    with open_lo(udp_port) as reader:
        send_udp(udp_port, sent)
        with pytest.raises(LookupError, match="stop here"):
            reader.loop(-1, callback)
        reader.loop(4, callback)
    assert got == sent


def test_nanosecond_precision_reaches_the_header(udp_port: int) -> None:
    reader = pcapy.create("lo")
    assert reader.set_tstamp_precision(pcapy.PCAP_TSTAMP_PRECISION_NANO) == 0
    assert reader.set_timeout(50) == 0
    assert reader.activate() == 0
    with reader:
        assert reader.get_tstamp_precision() == pcapy.TstampPrecision.NANO
        reader.setfilter(f"udp dst port {udp_port}")
        before = time.time_ns()
        send_udp(udp_port, payloads(10))
        packets = collect_next(reader, 10)
    assert len(packets) == 10
    assert all(type(hdr) is pcapy.NanoPkthdr for hdr, _ in packets)
    nsecs = [hdr.getts_ns()[1] for hdr, _ in packets]
    assert all(0 <= nsec < 10**9 for nsec in nsecs)
    assert any(nsec % 1000 for nsec in nsecs)  # really nanoseconds, not microseconds * 1000
    assert all(abs(hdr.ts_ns - before) < 10 * 10**9 for hdr, _ in packets)
    assert packets[0][0].getts()[1] == nsecs[0] // 1000


def test_create_options_return_status_and_take_effect(udp_port: int) -> None:
    reader = pcapy.create("lo")
    assert reader.set_snaplen(60) == 0
    assert reader.set_promisc(0) == 0
    assert reader.set_timeout(50) == 0
    assert reader.set_buffer_size(1 << 20) == 0
    assert reader.set_immediate_mode(0) == 0
    assert reader.activate() == 0
    with reader:
        assert reader.snapshot() == 60
        for setter in (reader.set_snaplen, reader.set_promisc, reader.set_timeout,
                       reader.set_buffer_size, reader.set_rfmon, reader.set_immediate_mode):
            assert setter(1) == pcapy.PCAP_ERROR_ACTIVATED
        assert reader.activate() == pcapy.PCAP_ERROR_ACTIVATED
        reader.setfilter(f"udp dst port {udp_port}")
        send_udp(udp_port, payloads(1))
        [(hdr, data)] = collect_next(reader, 1)
    assert (hdr.getcaplen(), hdr.getlen(), len(data)) == (60, 142, 60)


def test_tstamp_type_statuses() -> None:
    with pcapy.create("lo") as reader:
        assert reader.set_tstamp_type(pcapy.TstampType.HOST) == 0
        # lo offers only host time stamps: asking for the adapter's is a warning status
        assert reader.set_tstamp_type(pcapy.TstampType.ADAPTER) == (
            pcapy.PCAP_WARNING_TSTAMP_TYPE_NOTSUP)
        assert reader.activate() == 0
        assert reader.set_tstamp_type(pcapy.TstampType.HOST) == pcapy.PCAP_ERROR_ACTIVATED
        assert reader.set_tstamp_precision(1) == pcapy.PCAP_ERROR_ACTIVATED


def test_immediate_mode_delivers_before_the_read_timeout(udp_port: int) -> None:
    reader = pcapy.create("lo")
    reader.set_timeout(5000)
    assert reader.set_immediate_mode(1) == 0
    assert reader.activate() == 0
    with reader:
        reader.setfilter(f"udp dst port {udp_port}")
        send_udp(udp_port, payloads(1))
        started = time.monotonic()
        hdr, _data = reader.next()
        elapsed = time.monotonic() - started
    assert hdr is not None
    assert elapsed < 1.0


def test_rfmon_on_loopback_is_an_error_status_not_an_exception() -> None:
    with pcapy.create("lo") as reader:
        assert reader.set_rfmon(1) == 0
        assert reader.activate() == pcapy.PCAP_ERROR_RFMON_NOTSUP
        # libpcap crashes when a handle whose activation failed is activated again
        with pytest.raises(pcapy.HandleStateError, match="create\\(\\) a new one"):
            reader.activate()


def test_activation_warning_is_warned_and_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = pcapy.create("lo")
    handle = reader._live._handle  # type: ignore[union-attr]
    real_activate = handle.activate
    # libpcap 1.10.3 loses its only warning Linux could give here ("any" + promisc), so the
    # warning status is simulated over a real activation.
    monkeypatch.setattr(handle, "activate",
                        lambda: real_activate() or pcapy.PCAP_WARNING_PROMISC_NOTSUP)
    with pytest.warns(pcapy.PcapWarning, match="support promiscuous mode") as warned:
        status = reader.activate()
    assert status == pcapy.PCAP_WARNING_PROMISC_NOTSUP
    assert warned[0].filename == __file__  # attributed to the caller's line
    assert reader.datalink() == pcapy.DLT_EN10MB
    reader.close()


def test_getfd_is_readable_when_packets_wait(udp_port: int) -> None:
    with open_lo(udp_port, to_ms=20) as reader:
        fd = reader.getfd()
        assert fd >= 0
        reader.setnonblock(1)
        # Traffic on lo between activation and setfilter (other tests' TCP, on a busy machine)
        # sits in the ring and makes the fd readable; libpcap filters it in userland. Drain it,
        # then nothing waits: the fd stays quiet for 0.1 s.
        for _ in range(50):
            if not select.select([fd], [], [], 0.1)[0]:
                break
            assert reader.dispatch(-1, lambda *_: None) == 0  # none of it is ours
        assert select.select([fd], [], [], 0.1)[0] == []
        send_udp(udp_port, payloads(3))
        assert select.select([fd], [], [], WAIT)[0] == [fd]
        assert reader.dispatch(-1, lambda *_: None) == 3


def test_nonblocking_next_and_dispatch_return_at_once(udp_port: int) -> None:
    with open_lo(udp_port, to_ms=2000) as reader:
        assert reader.getnonblock() == 0
        reader.setnonblock(1)
        assert reader.getnonblock() == 1
        started = time.monotonic()
        assert reader.next() == (None, b"")
        assert reader.dispatch(-1, lambda *_: None) == 0
        assert time.monotonic() - started < 0.2
        reader.setnonblock(0)
        assert reader.getnonblock() == 0


def test_sendpacket_accepts_bytes_like_objects(udp_port: int) -> None:
    with open_lo(udp_port) as sniffer, pcapy.open_live("lo", 65535, 0, 50) as sender:
        send_udp(udp_port, payloads(1))
        [(_hdr, frame)] = collect_next(sniffer, 1)
        sender.sendpacket(bytearray(frame))
        sender.sendpacket(memoryview(frame))
        sender.sendpacket(frame)
        assert [data for _hdr, data in collect_next(sniffer, 3)] == [frame] * 3
        with pytest.raises(TypeError):
            sender.sendpacket("not bytes")  # type: ignore[arg-type]


def test_setfilter_with_a_compiled_program(udp_port: int) -> None:
    program = pcapy.compile(pcapy.DLT_EN10MB, 65535, f"udp dst port {udp_port}", 1, 0)
    with pcapy.open_live("lo", 65535, 0, 50) as reader:
        reader.setfilter(program)
        send_udp(udp_port, payloads(2))
        assert len(collect_next(reader, 2)) == 2


def test_any_device_and_none(udp_port: int) -> None:
    with pcapy.open_live(None, 65535, 0, 50) as reader:  # type: ignore[arg-type]
        assert reader.datalink() == pcapy.DLT_LINUX_SLL
        assert reader.getnet() == reader.getmask() == "0.0.0.0"
        reader.setfilter(f"udp dst port {udp_port}")
        send_udp(udp_port, payloads(2))
        assert len(collect_next(reader, 2)) == 2


def test_lo_network_and_mask() -> None:
    with pcapy.open_live("lo", 100, 0, 10) as reader:
        assert (reader.getnet(), reader.getmask()) == ("127.0.0.0", "255.0.0.0")
