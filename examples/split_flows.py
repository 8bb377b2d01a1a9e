"""Split a capture into one pcap file per flow (the 5-tuple, both directions together).

    python examples/split_flows.py capture.pcap flows/

Every TCP or UDP packet over IPv4 or IPv6 goes to
``flows/<proto>_<addr>_<port>__<addr>_<port>.pcap``, the endpoints in sorted order so both
directions of a conversation share a file; every other packet goes to ``flows/other.pcap``.
Each output keeps the input's link type and snapshot length (``Reader.dump_open``). Prints one
line per file: packets, then name.

A capture may hold far more flows than a process may open files, so at most ``--max-open``
(default 64) outputs are open at once: the one used least recently is closed to make room, and
reopened for appending when its flow shows up again (``OpenFlows``).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import struct
import sys
from collections import OrderedDict
from typing import IO, Optional, cast

import pcapy

#: offset of the network layer and of the ethertype (None: raw IP) per link type
LINK_LAYERS = {pcapy.DLT_EN10MB: (14, 12), pcapy.DLT_LINUX_SLL: (16, 14),
               pcapy.DLT_RAW: (0, None), pcapy.DLT_IPV4: (0, None), pcapy.DLT_IPV6: (0, None)}
PROTOCOL_NAMES = {6: "tcp", 17: "udp"}
DEFAULT_MAX_OPEN = 64
PCAP_FILE_HEADER_SIZE = 24

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


class _Appending(io.RawIOBase):
    """A file reopened to add records: the file header a new Dumper writes first is dropped,
    since the file already starts with one."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._skip = PCAP_FILE_HEADER_SIZE

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        dropped = min(self._skip, len(view))
        self._skip -= dropped
        self._file.write(view[dropped:])
        return len(view)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self.closed:
            try:
                super().close()  # flushes first
            finally:
                self._file.close()


class OpenFlows:
    """The per-flow Dumpers, at most ``max_open`` of them open (least recently used closed)."""

    def __init__(self, reader: pcapy.Reader, directory: str, max_open: int) -> None:
        self._reader, self._directory, self._max_open = reader, directory, max(max_open, 1)
        self._open: OrderedDict[str, tuple[pcapy.Dumper, Optional[_Appending]]] = OrderedDict()
        self._started: set[str] = set()

    def dumper(self, name: str) -> pcapy.Dumper:
        """The Dumper for file ``name``: open already, reopened for appending, or new."""
        entry = self._open.get(name)
        if entry is not None:
            self._open.move_to_end(name)
            return entry[0]
        if len(self._open) >= self._max_open:
            self._close(*self._open.popitem(last=False))
        path = os.path.join(self._directory, name)
        appending = _Appending(path) if name in self._started else None
        target = path if appending is None else cast(IO[bytes], appending)
        dumper = self._reader.dump_open(target)
        self._started.add(name)
        self._open[name] = (dumper, appending)
        return dumper

    @staticmethod
    def _close(_name: str, entry: tuple[pcapy.Dumper, Optional[_Appending]]) -> None:
        dumper, appending = entry
        dumper.close()
        if appending is not None:
            appending.close()

    def close(self) -> None:
        """Close every file still open."""
        while self._open:
            self._close(*self._open.popitem(last=False))


def split(path: str, directory: str, max_open: int = DEFAULT_MAX_OPEN) -> dict[str, int]:
    """Write every flow of ``path`` to its own file in ``directory``; packets per file name."""
    os.makedirs(directory, exist_ok=True)
    counts: dict[str, int] = {}
    with pcapy.open_offline(path) as reader:
        linktype = reader.datalink()
        flows = OpenFlows(reader, directory, max_open)
        try:
            for header, data in reader:
                name = file_name(flow_key(data, linktype))
                flows.dumper(name).dump(header, data)
                counts[name] = counts.get(name, 0) + 1
        finally:
            flows.close()
    return counts


def main(argv: Optional[list[str]] = None) -> int:
    """Split the file named on the command line."""
    parser = argparse.ArgumentParser(description="Split a capture into one file per flow.")
    parser.add_argument("capture", help="pcap or pcapng file to split")
    parser.add_argument("directory", help="where to write the per-flow files")
    parser.add_argument("--max-open", type=int, default=DEFAULT_MAX_OPEN,
                        help="most output files open at once (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        counts = split(args.capture, args.directory, args.max_open)
    except pcapy.PcapError as err:
        print(f"split_flows: {err}", file=sys.stderr)
        return 1
    for name, count in sorted(counts.items()):
        print(f"{count:8d} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
