"""Device listing (no privilege needed) and the pieces of live capture that run without a capture."""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time

import pytest

import pcapy
from pcapy import _devices
from pcapy._libpcap import _devices as raw_devices
from pcapy._libpcap import load
from pcapy._libpcap._handle import pkthdr_struct
from pcapy._live import SelectorWaiter, SleepWaiter


def test_findalldevs_names_match_list_devices_in_libpcaps_order() -> None:
    names = pcapy.findalldevs()
    assert names == [device.name for device in pcapy.list_devices()]
    assert "lo" in names


def test_loopback_device_is_described() -> None:
    [lo] = [device for device in pcapy.list_devices() if device.name == "lo"]
    assert lo.loopback and lo.up and lo.running and not lo.wireless
    assert lo.connection_status == "not applicable"
    assert pcapy.DeviceAddress("AF_INET", "127.0.0.1", "255.0.0.0") in lo.addresses
    with pytest.raises(AttributeError):
        lo.name = "eth9"  # type: ignore[misc]  # frozen


def test_lookupdev_is_the_first_device_unless_it_is_a_loopback() -> None:
    devices = raw_devices.find_all_devices()
    if devices[0].flags & _devices.PCAP_IF_LOOPBACK:
        with pytest.raises(pcapy.PcapError, match="no suitable device"):
            pcapy.lookupdev()
    else:
        assert pcapy.lookupdev() == devices[0].name


def test_no_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw_devices, "find_all_devices", list)
    with pytest.raises(pcapy.PcapError, match="No valid interfaces to open"):
        pcapy.findalldevs()
    with pytest.raises(pcapy.PcapError, match="no suitable device found"):
        pcapy.lookupdev()
    assert pcapy.list_devices() == []


def test_only_a_loopback_device(monkeypatch: pytest.MonkeyPatch) -> None:
    loopback = raw_devices.RawDevice("lo", None, _devices.PCAP_IF_LOOPBACK, ())
    monkeypatch.setattr(raw_devices, "find_all_devices", lambda: [loopback])
    assert pcapy.findalldevs() == ["lo"]
    with pytest.raises(pcapy.PcapError, match="no suitable device found"):
        pcapy.lookupdev()


@pytest.mark.parametrize(("flags", "status"), [
    (0x00, "unknown"), (0x10, "connected"), (0x20, "disconnected"), (0x30, "not applicable"),
])
def test_device_flags(flags: int, status: str) -> None:
    device = pcapy.Device("wlan0", "Wi-Fi", (), flags | 0x0E)
    assert (device.loopback, device.up, device.running, device.wireless) == (
        False, True, True, True)
    assert device.connection_status == status


def sockaddr(family: int, body: bytes) -> raw_devices.RawSockaddr:
    return raw_devices.RawSockaddr(family, struct.pack("=H", family) + body)


def test_ipv4_address_text() -> None:
    data = sockaddr(socket.AF_INET, b"\x00\x00" + bytes([192, 0, 2, 7]) + bytes(8))
    assert _devices.format_sockaddr(data, "eth0") == "192.0.2.7"


def test_ipv6_address_text_with_and_without_scope() -> None:
    address = socket.inet_pton(socket.AF_INET6, "fe80::1")
    body = b"\x00\x00" + bytes(4) + address
    scoped = sockaddr(socket.AF_INET6, body + (3).to_bytes(4, sys.byteorder))
    assert _devices.format_sockaddr(scoped, "eth0") == "fe80::1%eth0"
    unscoped = sockaddr(socket.AF_INET6, body + bytes(4))
    assert _devices.format_sockaddr(unscoped, "eth0") == "fe80::1"


def test_short_bsd_netmask_is_padded() -> None:
    # BSD routing sockets cut a netmask's trailing zero bytes: 255.0.0.0 with sa_len 5
    assert _devices.format_sockaddr(raw_devices.RawSockaddr(2, b"\x05\x02\x00\x00\xff"),
                                    "em0") == "255.0.0.0"


@pytest.mark.skipif(not hasattr(socket, "AF_PACKET"), reason="AF_PACKET is Linux's")
def test_linux_link_layer_address_text() -> None:
    body = b"\x00\x03" + bytes(4) + b"\x00\x01" + b"\x00" + b"\x06" + bytes.fromhex("02fc00000001") + bytes(2)
    data = sockaddr(socket.AF_PACKET, body)
    assert _devices.format_sockaddr(data, "eth0") == "02:fc:00:00:00:01"
    assert _devices.family_name(socket.AF_PACKET) == "AF_PACKET"


def test_bsd_link_layer_address_text() -> None:
    # struct sockaddr_dl: len, family, index, type, nlen, alen, slen, then "en0" and the MAC
    data = bytes([20, 18, 4, 0, 6, 3, 6, 0]) + b"en0" + bytes.fromhex("a4834f000001")
    assert _devices._sockaddr_dl_text(data) == "a4:83:4f:00:00:01"


def test_unknown_family() -> None:
    assert _devices.format_sockaddr(raw_devices.RawSockaddr(250, bytes(16)), "x") is None
    assert _devices.family_name(250) == "250"
    assert _devices.family_name(socket.AF_INET6) == "AF_INET6"


def test_pkthdr_struct_matches_cffis_layout() -> None:
    ffi = load().ffi
    header = ffi.new("struct pcap_pkthdr *")
    header.ts.tv_sec, header.ts.tv_usec, header.caplen, header.len = 1_700_000_000, 999_999, 60, 1514
    layout = pkthdr_struct(ffi)
    assert layout.size <= ffi.sizeof("struct pcap_pkthdr")
    assert layout.unpack_from(ffi.buffer(header)) == (1_700_000_000, 999_999, 60, 1514)


@pytest.mark.parametrize("kind", ["selector", "sleep"])
def test_waiters_time_out_and_wake_at_once(kind: str) -> None:
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # never readable
    waiter = SelectorWaiter(quiet.fileno()) if kind == "selector" else SleepWaiter()
    started = time.monotonic()
    waiter.wait(0.05)
    assert 0.04 <= time.monotonic() - started < 0.5
    threading.Timer(0.05, waiter.wake).start()
    started = time.monotonic()
    waiter.wait(5.0)
    assert time.monotonic() - started < 0.5
    waiter.wake()  # a wake-up with nobody waiting ends the next wait at once
    started = time.monotonic()
    waiter.wait(5.0)
    assert time.monotonic() - started < 0.5
    waiter.close()
    waiter.wake()  # harmless after close
    quiet.close()
