"""libpcap's device list (``pcap_findalldevs``) and ``pcap_lookupnet``, as plain Python values.

``find_all_devices()`` walks the ``pcap_if_t`` list and copies everything out before
``pcap_freealldevs``: names, descriptions, flags, and each address as its family number and the
raw bytes of its ``struct sockaddr``. How many bytes a sockaddr has depends on its family (and,
on BSD and macOS, on its ``sa_len``); turning the bytes into text is ``pcapy._devices``' job.
"""

from __future__ import annotations

import socket
from typing import Any, NamedTuple, Optional

from .._errors import PcapError
from . import _status
from ._cdef import PCAP_ERRBUF_SIZE
from ._loader import load

# Bytes in each family's sockaddr, for systems whose sockaddr has no length byte (Linux, Windows).
_SOCKADDR_SIZES: dict[int, int] = {
    socket.AF_INET: 16,  # sockaddr_in
    socket.AF_INET6: 28,  # sockaddr_in6
}
_AF_PACKET = getattr(socket, "AF_PACKET", None)
if _AF_PACKET is not None:
    _SOCKADDR_SIZES[_AF_PACKET] = 20  # sockaddr_ll
_PLAIN_SOCKADDR_SIZE = 16


class RawSockaddr(NamedTuple):
    """One ``struct sockaddr``: its family number and its bytes."""

    family: int
    data: bytes


class RawAddress(NamedTuple):
    """One ``pcap_addr``: each of its four sockaddrs, or None where libpcap gave NULL."""

    address: Optional[RawSockaddr]
    netmask: Optional[RawSockaddr]
    broadcast: Optional[RawSockaddr]
    destination: Optional[RawSockaddr]


class RawDevice(NamedTuple):
    """One ``pcap_if_t``, copied out of libpcap's list."""

    name: str
    description: Optional[str]
    flags: int
    addresses: tuple[RawAddress, ...]


def find_all_devices() -> list[RawDevice]:
    """``pcap_findalldevs``, in libpcap's order; PcapError with libpcap's message on failure."""
    libpcap = load()
    ffi, lib = libpcap.ffi, libpcap.lib
    errbuf = ffi.new("char[]", PCAP_ERRBUF_SIZE)
    first = ffi.new("pcap_if_t **")
    if lib.pcap_findalldevs(first, errbuf) < 0:
        raise PcapError(_status.errbuf_message(ffi, errbuf))
    try:
        return [_device(ffi, entry) for entry in _linked(ffi, first[0])]
    finally:
        lib.pcap_freealldevs(first[0])


def lookup_net(device: Optional[str]) -> tuple[int, int]:
    """``pcap_lookupnet``: the device's IPv4 network and netmask as host-order integers.

    Both are 0 when libpcap cannot tell (no IPv4 address, the "any" device...), as in pcapy.
    libpcap stores them in network byte order; here 10.0.0.0 is 0x0A000000 on every machine.
    """
    if device is None:
        return (0, 0)
    libpcap = load()
    ffi, lib = libpcap.ffi, libpcap.lib
    errbuf = ffi.new("char[]", PCAP_ERRBUF_SIZE)
    net = ffi.new("bpf_u_int32 *")
    mask = ffi.new("bpf_u_int32 *")
    if lib.pcap_lookupnet(device.encode("utf-8"), net, mask, errbuf) < 0:
        return (0, 0)
    return (_host_order(ffi, net), _host_order(ffi, mask))


def _host_order(ffi: Any, value: Any) -> int:
    return int.from_bytes(ffi.buffer(value, 4)[:], "big")


def _linked(ffi: Any, entry: Any) -> list[Any]:
    entries = []
    while entry != ffi.NULL:
        entries.append(entry)
        entry = entry.next
    return entries


def _device(ffi: Any, entry: Any) -> RawDevice:
    description = None
    if entry.description != ffi.NULL:
        description = _text(ffi, entry.description)
    addresses = tuple(
        RawAddress(
            _sockaddr(ffi, address.addr),
            _sockaddr(ffi, address.netmask),
            _sockaddr(ffi, address.broadaddr),
            _sockaddr(ffi, address.dstaddr),
        )
        for address in _linked(ffi, entry.addresses)
    )
    return RawDevice(_text(ffi, entry.name), description, int(entry.flags), addresses)


def _text(ffi: Any, chars: Any) -> str:
    return str(ffi.string(chars).decode("utf-8", "replace"))


def _sockaddr(ffi: Any, pointer: Any) -> Optional[RawSockaddr]:
    if pointer == ffi.NULL:
        return None
    family = int(pointer.sa_family)
    length = _sockaddr_length(ffi, pointer, family)
    return RawSockaddr(family, ffi.buffer(pointer, length)[:])


def _sockaddr_length(ffi: Any, pointer: Any, family: int) -> int:
    # BSD and macOS sockaddrs carry their own length; elsewhere it follows from the family.
    if any(name == "sa_len" for name, _ in ffi.typeof("struct sockaddr").fields):
        return max(int(pointer.sa_len), 2)
    return _SOCKADDR_SIZES.get(family, _PLAIN_SOCKADDR_SIZE)
