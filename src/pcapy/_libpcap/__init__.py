"""The boundary with libpcap: the only package that imports cffi or touches C data.

Everything it exports takes and returns Python values; cdata never leaves it. libpcap is loaded
on first use (``load()``), so importing this package costs nothing and needs no libpcap.
"""

from __future__ import annotations

from ._devices import RawAddress, RawDevice, RawSockaddr, find_all_devices, lookup_net
from ._filters import Instruction, SavefileShape, compile_filter, set_handle_filter
from ._handle import Handle, PacketDrain, PacketReader
from ._loader import ENV_OVERRIDE, Libpcap, load
from ._memdump import MemoryDump

__all__ = [
    "ENV_OVERRIDE",
    "Instruction",
    "Libpcap",
    "SavefileShape",
    "compile_filter",
    "lib_version",
    "load",
    "set_handle_filter",
    # live capture and devices
    "Handle",
    "MemoryDump",
    "PacketDrain",
    "PacketReader",
    "RawAddress",
    "RawDevice",
    "RawSockaddr",
    "find_all_devices",
    "lookup_net",
]


def lib_version() -> str:
    """libpcap's version string, e.g. 'libpcap version 1.10.3 (with TPACKET_V3)'."""
    return load().version
