"""pcapy's compiled filters in the kernel: SO_ATTACH_FILTER on an AF_PACKET socket on ``lo``.

For each expression, pcapy's compiler makes the program, which is attached to a packet socket
on ``lo`` with nothing but Python's socket module and struct (no cffi, no libpcap); generated
Ethernet frames (addresses in 127.0.0.0/8 and ::1 only) are sent on ``lo`` through a second
packet socket, and the frames the kernel lets through must be exactly those whose in-process
verdict (pcapy's executor over the same program, and libpcap's own program) is non-zero. Each
frame crosses ``lo`` twice (going out and coming back), so each must arrive twice or never.

A third, unfiltered socket sees every frame: the test reads until that socket has all of them
and a final fence frame, so it waits for the kernel, never for a fixed time. Every frame ends
with a random per-run marker, so traffic of other programs on ``lo`` is ignored.

Left out, because there the kernel's BPF is not libpcap's userland BPF by design (not a
compiler matter): VLAN tags (the kernel strips them before packet sockets see a received
frame), ``inbound``/``outbound``/``ifindex`` (ancillary loads the kernel answers), shifts by a
packet-dependent amount (the kernel masks the count; libpcap gives 0 from 32 on), and
``protochain`` (its backward jump is refused by the kernel, as the compiler's docs say).
"""

from __future__ import annotations

import array
import os
import random
import select
import socket
import struct
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pcapy  # noqa: E402
from filter import generators, oracle  # noqa: E402
from pcapy._bpf_vm import compile_program  # noqa: E402

pytestmark = pytest.mark.live
CHOOSES_READ_PATH = True  # no pcapy handle here: one run, not one per read path

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
SNAPLEN = 262144
FRAMES_PER_EXPRESSION = 48
RANDOM_EXPRESSIONS = 24
WAIT_SECONDS = 10.0
FIXED_EXPRESSIONS = (
    "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp",
    "tcp port 80", "udp and dst port 53", "tcp src portrange 1-1024", "host 127.0.0.1",
    "ip src net 127.0.0.0/8 and not ip dst host 127.0.0.1", "ip6 host ::1",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "icmp[icmptype] == icmp-echo",
    "ip[8] = 64 or ip[1] & 0xfc != 0", "len > 100", "less 80", "ether broadcast",
    "ether multicast", "ip multicast", "ip6 multicast", "ether proto 0x88b5", "mpls",
    "mpls 100 and ip", "pppoes and ip", "pppoes 0x1234", "geneve", "geneve and ip",
    "ip proto 132 or ip6 proto 58", "ip[6:2] & 0x1fff != 0", "udp[8:4] = 0x08000000",
)
_KERNEL_DIFFERS = ("inbound", "outbound", "ifindex", "protochain", "vlan", "<<", ">>")


def attach(sock: socket.socket, program: tuple[tuple[int, int, int, int], ...]) -> None:
    """setsockopt(SO_ATTACH_FILTER) with a struct sock_fprog built by struct and array."""
    filters = array.array("B", b"".join(struct.pack("=HBBI", *insn) for insn in program))
    address, _length = filters.buffer_info()
    fprog = struct.pack("@HP", len(program), address)  # unsigned short len; sock_filter *
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def packet_socket(program: tuple[tuple[int, int, int, int], ...] | None) -> socket.socket:
    """A packet socket on lo; the filter is attached before it binds, so none gets past it."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    if program is not None:
        attach(sock, program)
    sock.bind(("lo", ETH_P_ALL))
    sock.setblocking(False)
    return sock


def frames_for(expression: str, rng: random.Random, marker: bytes) -> list[bytes]:
    maker = generators.PacketGenerator(rng, generators.seeds_from_expression(expression),
                                       loopback_only=True)
    frames: list[bytes] = []
    while len(frames) < FRAMES_PER_EXPRESSION:
        frame = maker.poke(maker.frame(generators.EN10MB))
        if int.from_bytes(frame[12:14], "big") in generators.ETH_VLANS or not _local(frame):
            continue
        frames.append(frame + marker + struct.pack("!I", len(frames)))
    return frames


def _local(frame: bytes) -> bool:
    """IPv4 and IPv6 frames (outer header) go to 127.0.0.0/8 or ::1 only."""
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == generators.ETH_IP and len(frame) >= 34:
        return frame[30] == 127
    if ethertype == generators.ETH_IP6 and len(frame) >= 54:
        return frame[38:54] == b"\x00" * 15 + b"\x01"
    return True


def receive(sock: socket.socket, marker: bytes, seen: dict[int, list[int]]) -> None:
    """Read what is queued; count each marked frame's copies by packet type."""
    while True:
        try:
            data, address = sock.recvfrom(65536)
        except BlockingIOError:
            return
        at = data.rfind(marker)
        if at >= 0 and len(data) == at + len(marker) + 4:
            index = struct.unpack_from("!I", data, at + len(marker))[0]
            seen.setdefault(index, []).append(address[2])


def wait_for(sock: socket.socket, marker: bytes, seen: dict[int, list[int]],
             done: callable) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done() and time.monotonic() < deadline:
        select.select([sock], [], [], max(deadline - time.monotonic(), 0))
        receive(sock, marker, seen)


def kernel_verdicts(program, frames: list[bytes], marker: bytes) -> dict[int, list[int]]:
    """Which frames the kernel passes through ``program``: index -> packet types of copies."""
    fence = len(frames)
    fence_frame = frames[0][:-4] + struct.pack("!I", fence)
    with packet_socket(program) as filtered, packet_socket(None) as everything, \
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sender:
        sender.bind(("lo", 0))
        for frame in frames:
            sender.send(frame)
        all_seen: dict[int, list[int]] = {}
        wait_for(everything, marker, all_seen,
                 lambda: all(len(all_seen.get(i, ())) >= 2 for i in range(len(frames))))
        assert all(len(all_seen.get(i, ())) == 2 for i in range(len(frames))), \
            "not every frame crossed lo twice"
        passed: dict[int, list[int]] = {}
        receive(filtered, marker, passed)
        sender.send(fence_frame)  # once the fence is back, everything before it was filtered
        wait_for(everything, marker, all_seen, lambda: len(all_seen.get(fence, ())) >= 2)
        receive(filtered, marker, passed)
    passed.pop(fence, None)
    return passed


def live_expressions() -> list[str]:
    from pcapy._filter import compile_filter

    rng = random.Random(20261206)
    chosen = list(FIXED_EXPRESSIONS)
    expressions = generators.ExpressionGenerator(rng)
    while len(chosen) < len(FIXED_EXPRESSIONS) + RANDOM_EXPRESSIONS:
        text = expressions.expression()
        if any(word in text for word in _KERNEL_DIFFERS):
            continue
        try:
            oracle.compile_reference(text, generators.EN10MB, SNAPLEN)
            compile_filter(text, generators.EN10MB, SNAPLEN)
        except (oracle.Rejected, pcapy.BPFError):
            continue  # reject parity is tests/filter's business; here only programs matter
        chosen.append(text)
    return chosen


@pytest.mark.parametrize("expression", live_expressions())
def test_the_kernel_passes_what_the_verdicts_say(expression):
    from pcapy._filter import compile_filter

    program = compile_filter(expression, generators.EN10MB, SNAPLEN)
    marker = os.urandom(12)
    frames = frames_for(expression, random.Random(expression), marker)
    ours = compile_program(program)
    reference = oracle.compile_reference(expression, generators.EN10MB, SNAPLEN)
    libpcap = oracle.run_on_libpcap(reference)
    expected = {i for i, frame in enumerate(frames) if ours(frame, len(frame))}
    assert expected == {i for i, frame in enumerate(frames) if libpcap(frame, len(frame))}
    passed = kernel_verdicts(program, frames, marker)
    assert set(passed) == expected, (
        f"kernel passed {sorted(set(passed) - expected)} that the verdicts reject and dropped "
        f"{sorted(expected - set(passed))} that they accept")
    for index, kinds in passed.items():  # once going out, once coming back
        assert len(kinds) == 2 and kinds.count(PACKET_OUTGOING) == 1, (index, kinds)


def test_the_sample_has_both_verdicts():
    """Across the expressions, the kernel is shown frames it must pass and frames it must drop."""
    from pcapy._filter import compile_filter

    accepted = rejected = 0
    for expression in FIXED_EXPRESSIONS:
        run = compile_program(compile_filter(expression, generators.EN10MB, SNAPLEN))
        for frame in frames_for(expression, random.Random(expression), b"m" * 12):
            if run(frame, len(frame)):
                accepted += 1
            else:
                rejected += 1
    assert accepted >= 100 and rejected >= 100, (accepted, rejected)
