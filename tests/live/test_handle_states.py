"""Errors: missing devices and privileges, calls that don't fit the handle's state, bad filters.

Tests without the ``live`` mark need no privilege: ``pcap_create`` works for anyone, and an
unactivated handle is exactly what an unprivileged process ends up with.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys

import pytest

import pcapy
from live.lab import open_lo, payloads, send_udp, udp_payload
from pcapy._libpcap._status import PRIVILEGE_HINT


def test_unactivated_handle_refuses_to_read() -> None:
    with pcapy.create("lo") as reader:
        for read in (reader.next, lambda: reader.loop(1, print),
                     lambda: reader.dispatch(1, print), lambda: list(reader)):
            with pytest.raises(pcapy.HandleStateError, match="hasn't been activated"):
                read()


def test_unactivated_handle_refuses_what_needs_activation() -> None:
    with pcapy.create("lo") as reader:
        for call in (reader.stats, lambda: reader.setfilter("tcp"), reader.snapshot,
                     lambda: reader.setdirection(pcapy.PCAP_D_IN),
                     lambda: reader.sendpacket(b"\x00" * 60),
                     lambda: reader.setfilter(pcapy.BPFProgram("tcp"))):
            with pytest.raises(pcapy.HandleStateError, match="hasn't been activated") as info:
                call()
            assert isinstance(info.value, pcapy.PcapError)


def test_unactivated_handle_answers_what_it_knows() -> None:
    with pcapy.create("lo") as reader:
        assert reader.datalink() == pcapy.PCAP_ERROR_NOT_ACTIVATED  # as pcapy
        assert reader.getfd() == -1
        assert reader.getnonblock() == 0
        reader.setnonblock(1)
        assert reader.getnonblock() == 1
        assert reader.get_tstamp_precision() == pcapy.TstampPrecision.MICRO
        assert reader.getnet() == "127.0.0.0"
        assert "live" in repr(reader)


def test_create_accepts_a_missing_device_until_activation() -> None:
    reader = pcapy.create("nosuchdev0")
    assert reader.set_snaplen(100) == 0
    reader.close()


def test_every_method_of_a_closed_live_reader_raises_value_error() -> None:
    reader = pcapy.create("lo")
    reader.close()
    reader.close()  # idempotent
    calls = [reader.next, reader.stats, reader.getfd, reader.datalink, reader.activate,
             reader.getnet, reader.getmask, reader.getnonblock, reader.__enter__,
             reader.breakloop, lambda: reader.loop(1, print), lambda: reader.dispatch(1, print),
             lambda: reader.setfilter("tcp"), lambda: reader.set_snaplen(10),
             lambda: reader.setnonblock(1), lambda: reader.sendpacket(b"x"),
             lambda: reader.setdirection(0), lambda: reader.dump_open("/dev/null")]
    for call in calls:
        with pytest.raises(ValueError, match="pcap is closed"):
            call()


def test_argument_types_are_checked() -> None:
    with pytest.raises(TypeError):
        pcapy.open_live(b"lo", 100, 0, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pcapy.open_live("lo", "100", 0, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pcapy.create(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NUL"):
        pcapy.create("lo\x00")
    with pcapy.create("lo") as reader, pytest.raises(TypeError):
        reader.set_snaplen("big")  # type: ignore[arg-type]


@pytest.mark.live
def test_a_dropped_capture_is_closed(udp_port: int) -> None:
    reader = open_lo(udp_port)
    fd = reader.getfd()
    os.fstat(fd)
    del reader
    gc.collect()
    with pytest.raises(OSError):  # ffi.gc closed the pcap_t, and with it the descriptor
        os.fstat(fd)


@pytest.mark.live
def test_iterating_a_temporary_reader(udp_port: int) -> None:
    packets = iter(open_lo(udp_port))
    gc.collect()
    send_udp(udp_port, payloads(2))
    assert udp_payload(next(packets)[1]) == payloads(2)[0]


@pytest.mark.live
def test_missing_device_raises_no_such_device_with_libpcaps_message() -> None:
    with pytest.raises(pcapy.NoSuchDeviceError, match="nosuchdev0: No such device") as info:
        pcapy.open_live("nosuchdev0", 100, 0, 10)
    assert info.value.status == pcapy.PCAP_ERROR_NO_SUCH_DEVICE
    assert isinstance(info.value, pcapy.PcapError)
    with pcapy.create("nosuchdev0") as reader:
        assert reader.activate() == pcapy.PCAP_ERROR_NO_SUCH_DEVICE  # returned, as pcapy


@pytest.mark.live
def test_missing_privilege_says_which_capabilities_are_needed() -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop privileges")
    code = ("import pcapy\n"
            "try:\n    pcapy.open_live('lo', 100, 0, 10)\n"
            "except pcapy.CapturePermissionError as err:\n    print(err.status, err)\n"
            "r = pcapy.create('lo')\nprint(r.activate())\n")
    result = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                             "--inh-caps=-all", sys.executable, "-c", code],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "HOME": "/"})
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith(f"{pcapy.PCAP_ERROR_PERM_DENIED} lo: ")
    assert PRIVILEGE_HINT in first
    assert second == str(pcapy.PCAP_ERROR_PERM_DENIED)


@pytest.mark.live
def test_bad_filters_raise_bpf_errors() -> None:
    with pcapy.open_live("lo", 100, 0, 10) as reader:
        with pytest.raises(pcapy.BPFError, match="syntax error"):
            reader.setfilter("tcp port")
        with pytest.raises(pcapy.BPFError, match="802.11"):
            reader.setfilter("wlan type mgt")  # a filter for another link type
        wrong_link = pcapy.compile(pcapy.DLT_RAW, 100, "tcp", 1, 0)
        with pytest.raises(pcapy.BPFError, match="link type RAW"):
            reader.setfilter(wrong_link)
        reader.setfilter("tcp")  # still usable


@pytest.mark.live
def test_stats_and_datalink_after_activation() -> None:
    reader = pcapy.create("lo")
    assert reader.activate() == 0
    with reader:
        assert reader.datalink() == pcapy.DLT_EN10MB
        recv, drop, ifdrop = reader.stats()
        assert drop == ifdrop == 0
        assert recv >= 0


@pytest.mark.live
def test_sendpacket_waits_while_the_send_buffer_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    with pcapy.open_live("lo", 100, 0, 10) as reader:
        assert reader._live is not None
        handle = reader._live._handle
        outcomes = iter([False, False, True])  # EAGAIN twice, then sent
        monkeypatch.setattr(handle, "sendpacket", lambda _data: next(outcomes))
        reader.sendpacket(bytes(60))
        assert next(outcomes, "all used") == "all used"
        reader.setnonblock(1)  # non-blocking: a full buffer is an error at once
        monkeypatch.setattr(handle, "sendpacket", lambda _data: False)
        with pytest.raises(pcapy.CaptureError, match="send"):
            reader.sendpacket(bytes(60))
