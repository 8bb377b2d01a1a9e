"""``-D``: the capture devices, with their flags and addresses, as tcpdump lists them."""

from __future__ import annotations

import socket
from typing import Any, TextIO

import pcapy

_IF_FLAGS = ((0x2, "Up"), (0x4, "Running"), (0x1, "Loopback"), (0x8, "Wireless"))
_CONNECTION = {0x00: "Connection status unknown", 0x10: "Connected", 0x20: "Disconnected"}
_ASSOCIATION = {0x00: "Association status unknown", 0x10: "Associated", 0x20: "Not associated"}


def print_devices(out: TextIO) -> None:
    """``tcpdump -D`` lines, each followed by the device's addresses when known."""
    lister = getattr(pcapy, "list_devices", None)
    devices: list[Any] = list(lister()) if lister is not None else list(pcapy.findalldevs())
    for number, device in enumerate(devices, 1):
        out.write(device_line(number, device) + "\n")
        for address in getattr(device, "addresses", None) or ():
            line = address_line(address)
            if line:
                out.write("\t" + line + "\n")


def device_line(number: int, device: Any) -> str:
    """``1.lo [Up, Running, Loopback]``: number, name, description and flags."""
    if isinstance(device, str):
        return f"{number}.{device}"
    text = f"{number}.{device.name}"
    description = getattr(device, "description", None)
    if description:
        text += f" ({description})"
    flags = getattr(device, "flags", 0)
    if flags:
        text += f" [{format_flags(int(flags))}]"
    return text


def format_flags(flags: int) -> str:
    """tcpdump's rendering of ``PCAP_IF_*`` flags."""
    names = [name for bit, name in _IF_FLAGS if flags & bit]
    status = (_ASSOCIATION if flags & 0x8 else _CONNECTION).get(flags & 0x30)
    text = ", ".join(names) or "none"
    return f"{text}, {status}" if status else text


def address_line(address: Any) -> str:
    """``inet 127.0.0.1 netmask 255.0.0.0``, from ``(family, address, netmask, ...)``."""
    fields = ("family", "address", "netmask", "broadcast", "destination")
    values = [getattr(address, name, None) for name in fields]
    if all(value is None for value in values) and isinstance(address, tuple):
        values = list(address) + [None] * (5 - len(address))
    family, addr, netmask, broadcast, destination = values[:5]
    if not addr:
        return ""
    parts = [_family_name(family), str(addr)]
    for label, value in (("netmask", netmask), ("broadcast", broadcast),
                         ("destination", destination)):
        if value:
            parts += [label, str(value)]
    return " ".join(parts)


_FAMILY_NAMES = {"AF_INET": "inet", "AF_INET6": "inet6", "AF_PACKET": "link", "AF_LINK": "link"}


def _family_name(family: object) -> str:
    """``inet``, ``inet6`` or ``link`` for a family given by name (``"AF_INET"``) or number."""
    if isinstance(family, int):
        try:
            family = socket.AddressFamily(family).name
        except ValueError:
            return f"family {int(family)}"
    return _FAMILY_NAMES.get(str(family), str(family)) if family else "address"

