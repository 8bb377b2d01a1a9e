"""Capture devices: pcapy's ``findalldevs()`` and ``lookupdev()``, and the typed ``list_devices()``.

All three read libpcap's device list (``pcap_findalldevs``, through ``_libpcap._devices``), in
libpcap's order: up and running interfaces first, loopback devices after the others.
``list_devices()`` turns each entry into a frozen ``Device`` with its flags and its addresses
as text: IPv4 and IPv6 in their usual notation (an IPv6 scope as ``%device``), link-layer
addresses (Linux ``AF_PACKET``, BSD and macOS ``AF_LINK``) as colon-separated hex.

``lookupdev()`` does what libpcap's own ``pcap_lookupdev`` does since 1.9 (that function is
deprecated, and not thread-safe): the first device of ``pcap_findalldevs``, unless that is a
loopback device, which means there is no other.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import Optional

from ._errors import PcapError
from ._libpcap import _devices as _raw  # the module, so tests can stand in for libpcap

PCAP_IF_LOOPBACK = 0x00000001
PCAP_IF_UP = 0x00000002
PCAP_IF_RUNNING = 0x00000004
PCAP_IF_WIRELESS = 0x00000008
PCAP_IF_CONNECTION_STATUS = 0x00000030
_CONNECTION_STATUS = {
    0x00: "unknown",
    0x10: "connected",
    0x20: "disconnected",
    0x30: "not applicable",
}

_AF_PACKET = getattr(socket, "AF_PACKET", None)  # Linux
_AF_LINK = getattr(socket, "AF_LINK", None)  # BSD, macOS


@dataclass(frozen=True)
class DeviceAddress:
    """One address of a device, each part as text (None where libpcap has none).

    ``family`` is the socket module's name for the address family (``"AF_INET"``,
    ``"AF_INET6"``, ``"AF_PACKET"``, ``"AF_LINK"``), or its number for one it does not know.
    """

    family: str
    address: Optional[str]
    netmask: Optional[str] = None
    broadcast: Optional[str] = None
    destination: Optional[str] = None


@dataclass(frozen=True)
class Device:
    """A device libpcap can capture on: name, description, addresses and ``PCAP_IF_*`` flags."""

    name: str
    description: Optional[str]
    addresses: tuple[DeviceAddress, ...]
    flags: int

    @property
    def loopback(self) -> bool:
        """A loopback interface (PCAP_IF_LOOPBACK)."""
        return bool(self.flags & PCAP_IF_LOOPBACK)

    @property
    def up(self) -> bool:
        """The interface is up (PCAP_IF_UP)."""
        return bool(self.flags & PCAP_IF_UP)

    @property
    def running(self) -> bool:
        """The interface is running (PCAP_IF_RUNNING)."""
        return bool(self.flags & PCAP_IF_RUNNING)

    @property
    def wireless(self) -> bool:
        """A wireless interface, 802.11 or other (PCAP_IF_WIRELESS)."""
        return bool(self.flags & PCAP_IF_WIRELESS)

    @property
    def connection_status(self) -> str:
        """'connected', 'disconnected', 'not applicable' (e.g. loopback) or 'unknown'."""
        return _CONNECTION_STATUS[self.flags & PCAP_IF_CONNECTION_STATUS]


def findalldevs() -> list[str]:
    """Names of the devices that can be opened for capture, in libpcap's order."""
    names = [device.name for device in _raw.find_all_devices()]
    if not names:
        raise PcapError("No valid interfaces to open")
    return names


def lookupdev() -> str:
    """The name of a device suitable for ``open_live``: libpcap's first non-loopback device."""
    devices = _raw.find_all_devices()
    if not devices or devices[0].flags & PCAP_IF_LOOPBACK:
        raise PcapError("no suitable device found")
    return devices[0].name


def list_devices() -> list[Device]:
    """Every device libpcap can capture on, with its addresses and flags, in libpcap's order."""
    return [_device(raw) for raw in _raw.find_all_devices()]


def _device(raw: _raw.RawDevice) -> Device:
    addresses = tuple(_address(raw.name, entry) for entry in raw.addresses)
    return Device(raw.name, raw.description, addresses, raw.flags)


def _address(device: str, raw: _raw.RawAddress) -> DeviceAddress:
    family = raw.address.family if raw.address is not None else _first_family(raw)
    return DeviceAddress(
        family_name(family),
        format_sockaddr(raw.address, device),
        format_sockaddr(raw.netmask, device),
        format_sockaddr(raw.broadcast, device),
        format_sockaddr(raw.destination, device),
    )


def _first_family(raw: _raw.RawAddress) -> int:
    for part in raw:
        if part is not None:
            return part.family
    return socket.AF_UNSPEC


def family_name(family: int) -> str:
    """``"AF_INET"`` for 2, and so on; the number as text for a family Python does not know."""
    try:
        return socket.AddressFamily(family).name
    except ValueError:
        return str(family)


def format_sockaddr(sockaddr: Optional[_raw.RawSockaddr], device: str) -> Optional[str]:
    """The address in a sockaddr as text, or None if there is none or its family is unknown."""
    if sockaddr is None:
        return None
    family, data = sockaddr
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, _padded(data, 8)[4:8])
    if family == socket.AF_INET6:
        return _ipv6_text(_padded(data, 28), device)
    if family == _AF_PACKET:
        return _link_layer_text(_padded(data, 20), data_offset=12, length_offset=11)
    if family == _AF_LINK:
        return _sockaddr_dl_text(data)
    return None


def _padded(data: bytes, size: int) -> bytes:
    # BSD routing sockets trim trailing zero bytes from netmasks (a short sa_len).
    return data.ljust(size, b"\x00")


def _ipv6_text(data: bytes, device: str) -> str:
    text = socket.inet_ntop(socket.AF_INET6, data[8:24])
    scope_id = int.from_bytes(data[24:28], sys.byteorder)  # sin6_scope_id, host byte order
    return f"{text}%{device}" if scope_id else text


def _link_layer_text(data: bytes, *, data_offset: int, length_offset: int) -> Optional[str]:
    length = data[length_offset]
    return _hex_colons(data[data_offset : data_offset + length]) if length else None


def _sockaddr_dl_text(data: bytes) -> Optional[str]:
    # struct sockaddr_dl: len, family, index(2), type, nlen, alen, slen, then name and address.
    data = _padded(data, 8)
    name_length, address_length = data[5], data[6]
    start = 8 + name_length
    address = data[start : start + address_length]
    return _hex_colons(address) if address else None


def _hex_colons(data: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in data)


for _cls in (Device, DeviceAddress):
    _cls.__module__ = "pcapy"
del _cls
