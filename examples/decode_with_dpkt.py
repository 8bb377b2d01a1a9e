"""Decode packets read by pcapy with dpkt, or with scapy, whichever is installed.

    python examples/decode_with_dpkt.py capture.pcap
    python examples/decode_with_dpkt.py --library scapy capture.pcapng

pcapy reads and filters; a dissector library decodes. Each packet is decoded from its own link
layer: in a pcapng file every interface has its link type (``hdr.interface.dlt``; a merged
capture may hold Ethernet and Linux cooked packets side by side), so the reader's
``datalink()``, which is the first interface's, is only the fallback. Ethernet, Linux cooked
capture (SLL and SLL2) and raw IP are decoded; other link types are named and skipped. With
dpkt the result is the class names of the layers; with scapy its ``summary()`` (scapy binds IP,
TCP and UDP to the link layers only once ``scapy.layers.inet`` and ``inet6`` are imported: with
``scapy.layers.l2`` alone a frame decodes as ``Ether / Raw``). If neither library is installed
the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Callable, Optional

import pcapy

Decoder = Callable[[bytes], str]
#: link type -> a function decoding one packet of it
Decoders = dict[int, Decoder]
LIBRARIES = ("dpkt", "scapy")


def dpkt_decoders() -> Decoders:
    """dpkt's classes per link type; a packet is described by its layers' class names."""
    ethernet = importlib.import_module("dpkt.ethernet")
    sll = importlib.import_module("dpkt.sll")
    sll2 = importlib.import_module("dpkt.sll2")
    ip = importlib.import_module("dpkt.ip")
    ip6 = importlib.import_module("dpkt.ip6")

    def layers(packet: object) -> str:
        names = []
        while hasattr(packet, "data") and not isinstance(packet, bytes):
            names.append(type(packet).__name__)
            packet = packet.data
        return " / ".join(names)

    def raw_ip(data: bytes) -> str:
        return layers(ip6.IP6(data) if data[:1] and data[0] >> 4 == 6 else ip.IP(data))

    return {
        pcapy.DLT_EN10MB: lambda data: layers(ethernet.Ethernet(data)),
        pcapy.DLT_LINUX_SLL: lambda data: layers(sll.SLL(data)),
        pcapy.DLT_LINUX_SLL2: lambda data: layers(sll2.SLL2(data)),
        pcapy.DLT_RAW: raw_ip,
        pcapy.DLT_IPV4: raw_ip,
        pcapy.DLT_IPV6: raw_ip,
    }


def scapy_decoders() -> Decoders:
    """scapy's link-layer classes per link type, with the IP layers bound to them."""
    layer2 = importlib.import_module("scapy.layers.l2")
    # Binds IP/IPv6, TCP, UDP, ICMP... to Ether and the cooked headers: without these imports
    # scapy decodes everything past the link layer as Raw.
    importlib.import_module("scapy.layers.inet")
    inet6 = importlib.import_module("scapy.layers.inet6")
    inet = sys.modules["scapy.layers.inet"]

    def raw_ip(data: bytes) -> str:
        layer = inet6.IPv6 if data[:1] and data[0] >> 4 == 6 else inet.IP
        return str(layer(data).summary())

    return {
        pcapy.DLT_EN10MB: lambda data: str(layer2.Ether(data).summary()),
        pcapy.DLT_LINUX_SLL: lambda data: str(layer2.CookedLinux(data).summary()),
        pcapy.DLT_LINUX_SLL2: lambda data: str(layer2.CookedLinuxV2(data).summary()),
        pcapy.DLT_RAW: raw_ip,
        pcapy.DLT_IPV4: raw_ip,
        pcapy.DLT_IPV6: raw_ip,
    }


def load_decoders(wanted: Optional[str]) -> Optional[tuple[str, Decoders]]:
    """The decoders of ``wanted`` (or of the first installed library), or None."""
    for name in (wanted,) if wanted else LIBRARIES:
        if importlib.util.find_spec(name) is not None:
            return name, (dpkt_decoders() if name == "dpkt" else scapy_decoders())
    return None


def packet_link_type(header: pcapy.Pkthdr, reader: pcapy.Reader) -> int:
    """The packet's own link type: its pcapng interface's, else the reader's."""
    interface = getattr(header, "interface", None)
    return int(interface.dlt) if interface is not None else reader.datalink()


def decode_file(path: str, decoders: Decoders, count: int) -> None:
    """Print one line per packet: its number and what the library makes of it."""
    with pcapy.open_offline(path) as reader:
        for number, (header, data) in enumerate(reader, 1):
            linktype = packet_link_type(header, reader)
            decode = decoders.get(linktype)
            if decode is None:
                line = f"link type {pcapy.datalink_name(linktype)} not decoded; skipped"
            else:
                line = decode(data)
            print(f"{number}: {line}")
            if number == count:
                break


def main(argv: Optional[list[str]] = None) -> int:
    """Decode the file named on the command line."""
    parser = argparse.ArgumentParser(description="Decode packets with dpkt or scapy.")
    parser.add_argument("capture", help="pcap or pcapng file")
    parser.add_argument("-c", "--count", type=int, default=0, help="decode only COUNT packets")
    parser.add_argument("--library", choices=LIBRARIES, help="the library to decode with "
                        "(default: dpkt if installed, else scapy)")
    args = parser.parse_args(argv)
    found = load_decoders(args.library)
    if found is None:
        missing = args.library or "neither dpkt nor scapy"
        print(f"{missing} is not installed (pip install {args.library or 'dpkt'}); nothing to do")
        return 0
    decode_file(args.capture, found[1], args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
