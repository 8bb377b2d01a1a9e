"""Micro-benchmark of pcapy._bpf_vm: ns per call of a compiled classic BPF filter.

Run from the repository root::

    python3 bench/bench_bpf_vm.py

It compiles ``tcp port 80`` (and a few other filters) as ``tcpdump -ddd -y EN10MB``
prints them (a built-in copy of the ``tcp port 80`` program is used when tcpdump is
not installed) and times the compiled function on a matching TCP/80 packet, a
non-matching UDP packet and an ARP packet, with :mod:`timeit` (best of several runs).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import timeit
from pathlib import Path
from typing import Callable, Optional

try:
    from pcapy._bpf_vm import Instruction, Packet, compile_program
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from pcapy._bpf_vm import Instruction, Packet, compile_program

# `tcpdump -ddd -y EN10MB 'tcp port 80'` (tcpdump 4.99.3, libpcap 1.10.3).
TCP_PORT_80: list[Instruction] = [
    (40, 0, 0, 12),
    (21, 0, 6, 34525),
    (48, 0, 0, 20),
    (21, 0, 15, 6),
    (40, 0, 0, 54),
    (21, 12, 0, 80),
    (40, 0, 0, 56),
    (21, 10, 11, 80),
    (21, 0, 10, 2048),
    (48, 0, 0, 23),
    (21, 0, 8, 6),
    (40, 0, 0, 20),
    (69, 6, 0, 8191),
    (177, 0, 0, 14),
    (72, 0, 0, 14),
    (21, 2, 0, 80),
    (72, 0, 0, 16),
    (21, 0, 1, 80),
    (6, 0, 0, 262144),
    (6, 0, 0, 0),
]

MACS = bytes.fromhex("00112233445566778899aabb")
IPV4_TCP_80 = (
    MACS
    + b"\x08\x00"
    + bytes.fromhex("450000340000400040060000c0a80001c0a80002")  # IPv4, TCP
    + bytes.fromhex("c35000500000000000000000801000000000000000000000")  # 50000 -> 80
)
IPV4_UDP_53 = (
    MACS
    + b"\x08\x00"
    + bytes.fromhex("4500002c0000400040110000c0a80001c0a80002")  # IPv4, UDP
    + bytes.fromhex("c3500035001800000000010000010000000000000000")  # 50000 -> 53
)
ARP = (
    b"\xff" * 6
    + MACS[6:]
    + b"\x08\x06"
    + bytes.fromhex("000108000604000166778899aabbc0a80001000000000000c0a80002")
    + bytes(18)  # padding to 60 bytes
)
PACKETS = {"TCP/80 (match)": IPV4_TCP_80, "UDP/53 (no match)": IPV4_UDP_53, "ARP": ARP}
EXTRA_FILTERS = [
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "tcp and (port 80 or port 443 or port 8080)",
    "net 192.168.0.0/16",
    "ip6 protochain 6",
]


def tcpdump_program(expression: str) -> Optional[list[Instruction]]:
    """The program `tcpdump -ddd -y EN10MB EXPRESSION` prints, or None without tcpdump."""
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        return None
    lines = subprocess.run(
        [tcpdump, "-ddd", "-y", "EN10MB", "--", expression],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    count = int(lines[0])
    fields = [[int(f) for f in line.split()] for line in lines[1 : count + 1]]
    return [(c, jt, jf, k) for c, jt, jf, k in fields]


def ns_per_call(
    function: Callable[[Packet, int], object], packet: Packet, number: int = 200_000
) -> float:
    """Best-of-7 time of ``function(packet, len(packet))``, in nanoseconds."""
    timer = timeit.Timer("f(p, w)", globals={"f": function, "p": packet, "w": len(packet)})
    return min(timer.repeat(number=number, repeat=7)) / number * 1e9


def do_nothing(packet: Packet, wirelen: int) -> int:
    """A filter that does no work, to show the cost of the call alone."""
    return wirelen


def measure(name: str, program: list[Instruction]) -> None:
    f = compile_program(program)
    print(f"{name}  ({len(program)} instructions)")
    for label, packet in PACKETS.items():
        kinds: dict[str, Packet] = {
            "bytes": packet,
            "bytearray": bytearray(packet),
            "memoryview": memoryview(packet),
        }
        shown = "  ".join(f"{kind} {ns_per_call(f, p):5.0f} ns" for kind, p in kinds.items())
        print(f"  {label:18} -> {f(packet, len(packet)):6d}   {shown}")


def main() -> None:
    empty = ns_per_call(do_nothing, b"")
    print(f"Python {sys.version.split()[0]}; calling a do-nothing filter costs {empty:.0f} ns\n")
    program = tcpdump_program("tcp port 80")
    if program is None:
        print("tcpdump not installed: using the built-in copy of the program")
    measure("tcp port 80", program or TCP_PORT_80)
    for expression in EXTRA_FILTERS:
        extra = tcpdump_program(expression)
        if extra is not None:
            measure(expression, extra)


if __name__ == "__main__":
    main()
