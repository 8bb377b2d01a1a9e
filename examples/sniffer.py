"""A small sniffer: capture on an interface with a BPF filter and print one line per packet.

    python examples/sniffer.py -i lo 'udp port 5353'
    python examples/sniffer.py -i eth0 -c 10 tcp

It shows the live-capture recipe: ``pcapy.create()``, the options, ``activate()``, a filter,
then ``loop()`` until the count is reached or Ctrl-C. Each line gives the time, the addresses
and ports (IPv4 and IPv6 over Ethernet, Linux cooked capture or raw IP) and the length.
Needs capture privileges (root, or CAP_NET_RAW and CAP_NET_ADMIN on Linux).
"""

from __future__ import annotations

import argparse
import ipaddress
import struct
import sys
import time
from typing import Optional

import pcapy

#: where the network layer starts for each link type, and where its ethertype is
LINK_LAYERS = {pcapy.DLT_EN10MB: (14, 12), pcapy.DLT_LINUX_SLL: (16, 14),
               pcapy.DLT_RAW: (0, None)}
TRANSPORTS = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}


def describe(data: bytes, linktype: int) -> str:
    """``10.0.0.1.5353 > 224.0.0.251.5353 UDP`` for IP packets, ``non-IP`` otherwise."""
    start, type_offset = LINK_LAYERS.get(linktype, (0, None))
    if type_offset is not None and data[type_offset:type_offset + 2] not in (b"\x08\x00",
                                                                             b"\x86\xdd"):
        return "non-IP"
    network = data[start:]
    parsed = parse_ip(network)
    if parsed is None:
        return "non-IP"
    src, dst, proto, transport = parsed
    name = TRANSPORTS.get(proto, f"ip-proto-{proto}")
    if proto in (6, 17) and len(transport) >= 4:
        sport, dport = struct.unpack_from("!HH", transport)
        return f"{src}.{sport} > {dst}.{dport} {name}"
    return f"{src} > {dst} {name}"


def parse_ip(packet: bytes) -> Optional[tuple[str, str, int, bytes]]:
    """(source, destination, protocol, transport bytes) of an IPv4 or IPv6 packet."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        header_length = (packet[0] & 0x0F) * 4
        src, dst = ipaddress.IPv4Address(packet[12:16]), ipaddress.IPv4Address(packet[16:20])
        return str(src), str(dst), packet[9], packet[header_length:]
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        src6, dst6 = ipaddress.IPv6Address(packet[8:24]), ipaddress.IPv6Address(packet[24:40])
        return str(src6), str(dst6), packet[6], packet[40:]
    return None


def open_capture(device: str, snaplen: int, promiscuous: bool) -> pcapy.Reader:
    """An activated capture handle on ``device``."""
    reader = pcapy.create(device)
    reader.set_snaplen(snaplen)
    reader.set_promisc(int(promiscuous))
    reader.set_timeout(100)
    reader.set_immediate_mode(1)
    if reader.activate() < 0:
        message = reader.geterr()  # libpcap's reason, e.g. "You don't have permission..."
        reader.close()
        raise pcapy.PcapError(message)
    return reader


def main(argv: Optional[list[str]] = None) -> int:
    """Capture and print until the count is reached or Ctrl-C."""
    parser = argparse.ArgumentParser(description="Capture packets and print a line for each.")
    parser.add_argument("-i", "--interface", required=True, help="device to capture on")
    parser.add_argument("-c", "--count", type=int, default=0, help="stop after COUNT packets")
    parser.add_argument("-s", "--snaplen", type=int, default=65535)
    parser.add_argument("-p", "--no-promisc", action="store_true")
    parser.add_argument("expression", nargs="*", help="BPF filter, e.g. 'udp port 5353'")
    args = parser.parse_args(argv)
    try:
        reader = open_capture(args.interface, args.snaplen, not args.no_promisc)
        if args.expression:
            reader.setfilter(" ".join(args.expression))
    except pcapy.PcapError as err:
        print(f"sniffer: {err}", file=sys.stderr)
        return 1
    linktype = reader.datalink()
    # As tcpdump says it: the capture is open from here on (scripts may wait for this line).
    print(f"listening on {args.interface}, link-type {pcapy.datalink_name(linktype)}",
          file=sys.stderr, flush=True)

    def show(header: pcapy.Pkthdr, data: bytes) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(header.getts()[0]))
        print(f"{stamp}.{header.getts()[1]:06d} {describe(data, linktype)}, "
              f"length {header.getlen()}", flush=True)

    try:
        reader.loop(args.count, show)
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
