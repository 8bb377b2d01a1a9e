"""pcapy's demo: capture real packets on loopback, save them, read them back, filter them.

1. Opens ``lo`` with ``pcapy.open_live`` and a BPF filter for one UDP port.
2. Sends a bounded burst of UDP datagrams to 127.0.0.1 (and nowhere else) from a thread.
3. Captures them with ``next()``, writing each to a pcap file and a pcapng file.
4. Reads both files back with ``open_offline``, checks they agree, and applies a filter offline.

Live capture needs root (or CAP_NET_RAW + CAP_NET_ADMIN). Without it, the demo says so and runs
steps 3-4 on packets it builds itself, which needs no privilege and not even libpcap.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import pcapy

PORT = 47_123
COUNT = 20


def send_burst(count: int, port: int) -> None:
    """Send ``count`` small datagrams to 127.0.0.1 only, paced so none is lost."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(count):
            sock.sendto(f"pcapy demo packet {i:03d}".encode(), ("127.0.0.1", port))
            time.sleep(0.005)


def capture(count: int) -> list[tuple[pcapy.Pkthdr, bytes]]:
    """Capture ``count`` of our datagrams on lo (or give up after 10 s)."""
    reader = pcapy.open_live("lo", 65535, 0, 100)
    with reader:
        reader.setfilter(f"udp dst port {PORT} and host 127.0.0.1")
        net = f"{reader.getnet()}/{reader.getmask()}"
        print(f"capturing on lo: datalink {reader.datalink()}, net {net}")
        sender = threading.Thread(target=send_burst, args=(count, PORT))
        sender.start()
        packets = []
        deadline = time.monotonic() + 10
        while len(packets) < count and time.monotonic() < deadline:
            hdr, data = reader.next()
            if hdr is not None:
                packets.append((hdr, data))
        sender.join()
        recv, drop, _ifdrop = reader.stats()
        print(f"captured {len(packets)} packets; kernel: received {recv}, dropped {drop}")
    return packets


def built_packets(count: int) -> list[tuple[pcapy.Pkthdr, bytes]]:
    """Packets made by hand: Ethernet/IPv4/UDP to 127.0.0.1."""
    out = []
    now = time.time_ns()
    for i in range(count):
        payload = f"pcapy demo packet {i:03d}".encode()
        udp = (
            PORT.to_bytes(2, "big") * 2 + (8 + len(payload)).to_bytes(2, "big") + b"\0\0" + payload
        )
        ip = (
            bytes([0x45, 0]) + (20 + len(udp)).to_bytes(2, "big") + bytes(4) + bytes([64, 17, 0, 0])
        )
        frame = bytes(12) + b"\x08\x00" + ip + bytes([127, 0, 0, 1]) * 2 + udp
        ts = now + i * 1000
        out.append(
            (pcapy.Pkthdr(ts // 10**9, caplen=len(frame), len=len(frame), nsec=ts % 10**9), frame)
        )
    return out


def save_and_reread(packets: list[tuple[pcapy.Pkthdr, bytes]], directory: Path) -> None:
    """Write the packets as pcap and pcapng, read both back, filter offline."""
    for name in ("demo.pcap", "demo.pcapng"):
        path = directory / name
        with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 65535, precision="nano") as dumper:
            for hdr, data in packets:
                dumper.dump(hdr, data)
        with pcapy.open_offline(str(path)) as reader:
            again = list(reader)
        same = [(h.getts_ns(), d) for h, d in again] == [(h.getts_ns(), d) for h, d in packets]
        size = path.stat().st_size
        print(f"{name}: {size} bytes, {len(again)} packets read back, identical: {same}")
        if not same:
            raise SystemExit(f"{name} did not read back identically")
    for hdr, data in packets[:3]:
        sec, nsec = hdr.getts_ns()
        stamp = time.strftime("%H:%M:%S", time.gmtime(sec))
        payload = data[42:].decode(errors="replace")
        print(f"  {stamp}.{nsec:09d} caplen {hdr.getcaplen():4d}  {payload!r}")
    try:
        with pcapy.open_offline(str(directory / "demo.pcap")) as reader:
            reader.setfilter("udp and len > 0")
            print(f"offline filter 'udp and len > 0' keeps {sum(1 for _ in reader)} packets")
    except pcapy.LibpcapNotFoundError as err:
        print(f"(offline filtering needs libpcap's compiler: {err})")


def main() -> int:
    """Run the demo; returns the exit status."""
    print(f"pcapy {pcapy.__version__} on Python {sys.version.split()[0]}")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        print("not root: live capture needs CAP_NET_RAW; using packets built by hand instead")
        packets = built_packets(COUNT)
    else:
        packets = capture(COUNT)
        if len(packets) != COUNT:
            print(f"expected {COUNT} packets, captured {len(packets)}", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="pcapy-demo-") as tmp:
        save_and_reread(packets, Path(tmp))
    print("demo finished: all packets captured, written and read back")
    return 0


if __name__ == "__main__":
    sys.exit(main())
