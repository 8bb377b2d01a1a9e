"""Decode packets read by pcapy with dpkt, or with scapy, whichever is installed.

    python examples/decode_with_dpkt.py capture.pcap

pcapy reads and filters; a dissector library decodes. With dpkt the Ethernet frames are
parsed by ``dpkt.ethernet.Ethernet``; with scapy by ``scapy.layers.l2.Ether`` (its
``summary()``). If neither is installed the script says so and exits 0. Only Ethernet
captures are decoded; other link types are reported and skipped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Callable, Optional

import pcapy

Decoder = Callable[[bytes], str]


def find_library() -> Optional[tuple[str, ModuleType]]:
    """``("dpkt", module)`` or ``("scapy", module)``, or None when neither is importable."""
    for name, module_name in (("dpkt", "dpkt.ethernet"), ("scapy", "scapy.layers.l2")):
        module = _import(module_name)
        if module is not None:
            return name, module
    return None


def _import(module_name: str) -> Optional[ModuleType]:
    try:
        return importlib.import_module(module_name)
    except ImportError:
        return None


def dpkt_decoder(ethernet: ModuleType) -> Decoder:
    """Describe a frame with dpkt: the class names of its layers, outermost first."""
    def decode(data: bytes) -> str:
        layer = ethernet.Ethernet(data)
        names = []
        while hasattr(layer, "data") and not isinstance(layer, bytes):
            names.append(type(layer).__name__)
            layer = layer.data
        return " / ".join(names)

    return decode


def scapy_decoder(layer2: ModuleType) -> Decoder:
    """Describe a frame with scapy's one-line ``summary()``."""
    def decode(data: bytes) -> str:
        return str(layer2.Ether(data).summary())

    return decode


def main(argv: Optional[list[str]] = None) -> int:
    """Decode the file named on the command line."""
    parser = argparse.ArgumentParser(description="Decode packets with dpkt or scapy.")
    parser.add_argument("capture", help="pcap or pcapng file")
    parser.add_argument("-c", "--count", type=int, default=0, help="decode only COUNT packets")
    args = parser.parse_args(argv)
    found = find_library()
    if found is None:
        print("neither dpkt nor scapy is installed (pip install dpkt); nothing to do")
        return 0
    name, module = found
    decode = dpkt_decoder(module) if name == "dpkt" else scapy_decoder(module)
    with pcapy.open_offline(args.capture) as reader:
        if reader.datalink() != pcapy.DLT_EN10MB:
            print(f"link type {pcapy.datalink_name(reader.datalink())} is not Ethernet; skipped")
            return 0
        for number, (_, data) in enumerate(reader, 1):
            print(f"{number}: {decode(data)}")
            if number == args.count:
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
