"""Split a capture into one pcap file per flow (the 5-tuple, both directions together).

    python examples/split_flows.py capture.pcap flows/

Every TCP or UDP packet over IPv4 or IPv6 goes to
``flows/<proto>_<addr>_<port>__<addr>_<port>.pcap``, the endpoints in sorted order so both
directions of a conversation share a file; every other packet goes to ``flows/other.pcap``.
Each output keeps the input's link type, snapshot length and time-stamp precision
(``Reader.dump_open``). Prints one line per file: packets, then name.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import struct
import sys
from typing import Optional

import pcapy

#: offset of the network layer and of the ethertype (None: raw IP) per link type
LINK_LAYERS = {pcapy.DLT_EN10MB: (14, 12), pcapy.DLT_LINUX_SLL: (16, 14),
               pcapy.DLT_RAW: (0, None), pcapy.DLT_IPV4: (0, None), pcapy.DLT_IPV6: (0, None)}
PROTOCOL_NAMES = {6: "tcp", 17: "udp"}

Endpoint = tuple[str, int]
FlowKey = tuple[str, Endpoint, Endpoint]


def flow_key(data: bytes, linktype: int) -> Optional[FlowKey]:
    """``("tcp", (addr, port), (addr, port))`` with the endpoints sorted, or None."""
    start, type_offset = LINK_LAYERS.get(linktype, (-1, None))
    if start < 0:
        return None
    if type_offset is not None and data[type_offset:type_offset + 2] not in (b"\x08\x00",
                                                                             b"\x86\xdd"):
        return None
    packet = data[start:]
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        proto, transport = packet[9], packet[(packet[0] & 0x0F) * 4:]
        src = str(ipaddress.IPv4Address(packet[12:16]))
        dst = str(ipaddress.IPv4Address(packet[16:20]))
    elif len(packet) >= 40 and packet[0] >> 4 == 6:
        proto, transport = packet[6], packet[40:]
        src = str(ipaddress.IPv6Address(packet[8:24]))
        dst = str(ipaddress.IPv6Address(packet[24:40]))
    else:
        return None
    if proto not in PROTOCOL_NAMES or len(transport) < 4:
        return None
    sport, dport = struct.unpack_from("!HH", transport)
    first, second = sorted([(src, sport), (dst, dport)])
    return PROTOCOL_NAMES[proto], first, second


def file_name(key: Optional[FlowKey]) -> str:
    """The output file's name for a flow (``other.pcap`` for packets outside any flow)."""
    if key is None:
        return "other.pcap"
    proto, (addr1, port1), (addr2, port2) = key
    return f"{proto}_{addr1.replace(':', '-')}_{port1}__{addr2.replace(':', '-')}_{port2}.pcap"


def split(path: str, directory: str) -> dict[str, int]:
    """Write every flow of ``path`` to its own file in ``directory``; packets per file name."""
    os.makedirs(directory, exist_ok=True)
    dumpers: dict[str, pcapy.Dumper] = {}
    counts: dict[str, int] = {}
    with pcapy.open_offline(path) as reader:
        linktype = reader.datalink()
        try:
            for header, data in reader:
                name = file_name(flow_key(data, linktype))
                if name not in dumpers:
                    dumpers[name] = reader.dump_open(os.path.join(directory, name))
                dumpers[name].dump(header, data)
                counts[name] = counts.get(name, 0) + 1
        finally:
            for dumper in dumpers.values():
                dumper.close()
    return counts


def main(argv: Optional[list[str]] = None) -> int:
    """Split the file named on the command line."""
    parser = argparse.ArgumentParser(description="Split a capture into one file per flow.")
    parser.add_argument("capture", help="pcap or pcapng file to split")
    parser.add_argument("directory", help="where to write the per-flow files")
    args = parser.parse_args(argv)
    try:
        counts = split(args.capture, args.directory)
    except pcapy.PcapError as err:
        print(f"split_flows: {err}", file=sys.stderr)
        return 1
    for name, count in sorted(counts.items()):
        print(f"{count:8d} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
