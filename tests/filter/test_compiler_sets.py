"""Long ``host ... or host ...`` filters: a search tree, libpcap's verdicts, BPF_MAXINSNS.

The executor here is a plain step-by-step BPF interpreter (classic BPF as the kernel and
libpcap's ``bpf_filter`` run it) that also counts the comparisons a packet costs; pcapy's own
executor translates programs into Python and has no steps to count.
"""

from __future__ import annotations

import ipaddress
import math
import random
import struct

import pytest

import pcapy
from conftest import libpcap_available
from pcapy._bpf import BPFProgram
from pcapy._filter import MAX_INSTRUCTIONS, compile_filter

DLT_EN10MB = 1
ACCEPT = 262144


def run_counting(program: tuple[tuple[int, int, int, int], ...], packet: bytes) -> tuple[int, int]:
    """(verdict, conditional jumps executed) for a program without loops."""
    a = x = 0
    memory = [0] * 16
    pc = jumps = 0
    while True:
        code, jt, jf, k = program[pc]
        cls, mode, size = code & 0x07, code & 0xE0, {0x00: 4, 0x08: 2, 0x10: 1}[code & 0x18]
        pc += 1
        if cls in (0x00, 0x01) and mode in (0x20, 0x40, 0xA0):  # packet loads
            offset = k + (x if mode == 0x40 else 0)
            if offset + size > len(packet):
                return 0, jumps
            value = int.from_bytes(packet[offset : offset + size], "big")
            if mode == 0xA0:
                x = 4 * (packet[k] & 0xF)
            elif cls == 0x00:
                a = value
        elif cls == 0x00:
            a = {0x00: k, 0x60: memory[k % 16], 0x80: len(packet)}[mode]
        elif cls == 0x01:
            x = {0x00: k, 0x60: memory[k % 16], 0x80: len(packet)}[mode]
        elif cls == 0x02:
            memory[k] = a
        elif cls == 0x03:
            memory[k] = x
        elif cls == 0x04:
            operand = x if code & 0x08 else k
            a = _alu(code & 0xF0, a, operand)
        elif cls == 0x05:
            if code & 0xF0 == 0x00:
                pc += k
                continue
            jumps += 1
            operand = x if code & 0x08 else k
            taken = _condition(code & 0xF0, a, operand)
            pc += jt if taken else jf
        elif cls == 0x06:
            return k, jumps
        else:
            x, a = (a, a) if code & 0xF8 == 0x00 else (x, x)


def _alu(op: int, a: int, b: int) -> int:
    results = {0x00: a + b, 0x10: a - b, 0x20: a * b, 0x40: a | b, 0x50: a & b, 0x60: a << b,
               0x70: a >> b, 0xA0: a ^ b, 0x80: -a}
    return results[op] & 0xFFFFFFFF


def _condition(op: int, a: int, b: int) -> bool:
    return {0x10: a == b, 0x20: a > b, 0x30: a >= b, 0x40: bool(a & b)}[op]


def ipv4_packet(source: str, destination: str, ethertype: int = 0x0800) -> bytes:
    ethernet = bytes(6) + bytes.fromhex("020000000001") + struct.pack("!H", ethertype)
    if ethertype == 0x0806:  # ARP: sender IP at 28, target IP at 38
        body = bytes.fromhex("0001080006040001") + bytes(6) + ipaddress.IPv4Address(
            source).packed + bytes(6) + ipaddress.IPv4Address(destination).packed
        return ethernet + body
    header = bytes.fromhex("450000280001000040110000")
    return (ethernet + header + ipaddress.IPv4Address(source).packed
            + ipaddress.IPv4Address(destination).packed + bytes(8))


def random_hosts(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    hosts: set[str] = set()
    while len(hosts) < count:
        hosts.add(f"10.{generator.randrange(256)}.{generator.randrange(256)}."
                  f"{generator.randrange(1, 255)}")
    return sorted(hosts, key=lambda _: generator.random())


def test_a_thousand_hosts_cost_logarithmic_comparisons() -> None:
    hosts = random_hosts(1000, seed=1)
    program = compile_filter(" or ".join(f"host {h}" for h in hosts), DLT_EN10MB)
    assert len(program) <= MAX_INSTRUCTIONS
    bound = 4 * math.log2(len(hosts)) + 16
    for source, destination, member in [(hosts[0], "1.1.1.1", True), ("1.1.1.1", hosts[500], True),
                                        (hosts[999], hosts[3], True), ("1.1.1.1", "2.2.2.2", False),
                                        ("10.0.0.0", "10.255.255.255", False)]:
        verdict, jumps = run_counting(program, ipv4_packet(source, destination))
        assert (verdict == ACCEPT) is member
        assert jumps <= bound, (jumps, bound)
    assert BPFProgram._compiled(program, DLT_EN10MB).filter(
        ipv4_packet(hosts[123], "9.9.9.9")) == ACCEPT


def test_ten_thousand_consecutive_hosts_become_one_range() -> None:
    hosts = [str(ipaddress.IPv4Address(0x0A000001 + i)) for i in range(10000)]
    program = compile_filter(" or ".join(f"host {h}" for h in hosts), DLT_EN10MB)
    assert len(program) < 64
    assert run_counting(program, ipv4_packet(hosts[5000], "1.1.1.1"))[0] == ACCEPT
    assert run_counting(program, ipv4_packet("10.0.0.0", "1.1.1.1"))[0] == 0


def test_more_than_bpf_maxinsns_is_refused_by_name() -> None:
    hosts = random_hosts(3000, seed=2)
    with pytest.raises(pcapy.BPFError, match=r"more than the 4096 \(BPF_MAXINSNS\)"):
        compile_filter(" or ".join(f"host {h}" for h in hosts), DLT_EN10MB)


PATTERNS = ["host {}", "src host {}", "dst host {}", "ip host {}", "net {}/24", "src net {}/16",
            "host {}"]


@pytest.mark.skipif(not libpcap_available(), reason="libpcap is the reference here")
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("linktype", [1, 113, 12])
def test_host_sets_give_libpcaps_verdicts_even_on_truncated_packets(
    pattern: str, linktype: int
) -> None:
    hosts = random_hosts(40, seed=3)
    if "net" in pattern:
        hosts = [str(ipaddress.IPv4Network(f"{h}/{pattern[-2:]}", strict=False).network_address)
                 for h in hosts]
    expression = " or ".join(pattern.format(h) for h in hosts)
    ours = BPFProgram._compiled(compile_filter(expression, linktype), linktype)
    theirs = pcapy.compile(linktype, 262144, expression, 1, 0, compiler="libpcap")
    unoptimized = pcapy.compile(linktype, 262144, expression, 0, 0, compiler="libpcap")
    prefix = {1: b"", 113: bytes(14), 12: b""}[linktype]
    packets = []
    for source, destination in [(hosts[0], hosts[1]), (hosts[5], "1.2.3.4"), ("1.2.3.4", hosts[7]),
                                ("1.2.3.4", "5.6.7.8"), (hosts[0], "5.6.7.8")]:
        for ethertype in (0x0800, 0x0806, 0x8035):
            frame = ipv4_packet(source, destination, ethertype)
            packet = (frame[12:14] + frame[14:]) if linktype == 113 else frame
            packet = prefix + packet if linktype == 113 else packet
            packet = frame[14:] if linktype == 12 else packet
            packets += [packet[:cut] for cut in range(len(packet) + 1)]
    for packet in packets:
        expected = theirs.filter(packet)
        if expected != unoptimized.filter(packet):
            continue  # libpcap disagrees with itself: either answer is libpcap's
        assert ours.filter(packet) == expected, packet.hex()


def tcp_packet(source: str, destination: str, source_port: int, destination_port: int) -> bytes:
    frame = bytearray(ipv4_packet(source, destination))
    frame[23] = 6  # TCP
    return bytes(frame[:34]) + struct.pack("!HH", source_port, destination_port) + bytes(16)


@pytest.mark.skipif(not libpcap_available(), reason="libpcap is the reference here")
@pytest.mark.parametrize("pairs", [2, 30])
def test_host_port_pairs_are_no_longer_than_libpcaps(pairs: int) -> None:
    """``(host A and port P) or ...``: each pair's port code is one block for TCP, UDP and SCTP
    (identical blocks merged), and ARP/RARP's address loads, after which nothing can accept,
    are gone; libpcap's optimised program is the bar, its verdicts the reference."""
    hosts = random_hosts(pairs, seed=4)
    expression = " or ".join(f"(host {h} and port {1024 + i})" for i, h in enumerate(hosts))
    program = compile_filter(expression, DLT_EN10MB)
    theirs = pcapy.compile(DLT_EN10MB, 262144, expression, 1, 0, compiler="libpcap")
    assert len(program) <= len(theirs.get_bpf())
    unoptimized = pcapy.compile(DLT_EN10MB, 262144, expression, 0, 0, compiler="libpcap")
    ours = BPFProgram._compiled(program, DLT_EN10MB)
    packets = [tcp_packet(hosts[0], "1.2.3.4", 1024, 9), tcp_packet("1.2.3.4", hosts[-1], 9,
               1023 + pairs), tcp_packet(hosts[0], "1.2.3.4", 1025, 9),
               ipv4_packet(hosts[1], "1.2.3.4", 0x0806)]
    for packet in (whole[:cut] for whole in packets for cut in range(len(whole) + 1)):
        expected = theirs.filter(packet)
        if expected == unoptimized.filter(packet):
            assert ours.filter(packet) == expected, packet.hex()


# --- IPv6 host sets ---------------------------------------------------------------------------


def ipv6_packet(source: int, destination: int, linktype: int = DLT_EN10MB) -> bytes:
    header = (bytes.fromhex("6000000000081140") + source.to_bytes(16, "big")
              + destination.to_bytes(16, "big") + bytes(8))
    prefix = {DLT_EN10MB: bytes(12) + b"\x86\xdd", 113: bytes(14) + b"\x86\xdd", 12: b"",
              229: b""}[linktype]
    return prefix + header


def ipv6_addresses(count: int, seed: int) -> list[int]:
    """Random addresses, many sharing their first one, two or three words with others."""
    generator = random.Random(seed)
    words = [generator.getrandbits(32) for _ in range(3)]
    addresses = []
    for _ in range(count):
        shared = generator.randrange(4)
        address = generator.getrandbits(128 - 32 * shared)
        for word in words[:shared]:
            address |= word << (128 - 32 * shared)
            shared -= 1
        addresses.append(address)
    return addresses


def ipv6_text(address: int) -> str:
    return str(ipaddress.IPv6Address(address))


@pytest.mark.parametrize(("qualifier", "count"), [("host", 150), ("ip6 src host", 400),
                                                  ("dst host", 400)])
def test_ipv6_host_sets_cost_logarithmic_comparisons(qualifier: str, count: int) -> None:
    generator = random.Random(count)
    addresses = [generator.getrandbits(128) for _ in range(count)]
    program = compile_filter(" or ".join(f"{qualifier} {ipv6_text(a)}" for a in addresses),
                             DLT_EN10MB)
    assert len(program) <= MAX_INSTRUCTIONS
    bound = 4 * math.log2(count) + 16  # linear chains cost up to 8 comparisons an address
    direction = "src" if "src" in qualifier else "dst" if "dst" in qualifier else "either"
    for source, destination in [(addresses[0], 1), (1, addresses[count // 2]), (2, 3),
                                (addresses[-1], addresses[3]), (addresses[count // 3], 5)]:
        verdict, jumps = run_counting(program, ipv6_packet(source, destination))
        member = (direction != "dst" and source in addresses) or (
            direction != "src" and destination in addresses)
        assert (verdict == ACCEPT) is member
        assert jumps <= bound, (jumps, bound)


def test_consecutive_ipv6_hosts_become_one_range() -> None:
    base = 0x20010DB8 << 96
    program = compile_filter(" or ".join(f"host {ipv6_text(base + i)}" for i in range(1, 3001)),
                             DLT_EN10MB)
    assert len(program) < 64
    assert run_counting(program, ipv6_packet(7, base + 3000))[0] == ACCEPT
    assert run_counting(program, ipv6_packet(base + 3001, base))[0] == 0


IPV6_PATTERNS = ["host {}", "ip6 host {}", "src host {}", "ip6 dst host {}"]


@pytest.mark.skipif(not libpcap_available(), reason="libpcap is the reference here")
@pytest.mark.parametrize("pattern", IPV6_PATTERNS)
@pytest.mark.parametrize("linktype", [1, 113, 12, 229])
def test_ipv6_host_sets_give_libpcaps_verdicts_even_on_truncated_packets(
    pattern: str, linktype: int
) -> None:
    """The order of terms matters to a packet cut inside the destination address: the sets
    repeat addresses and share prefixes so that it does (a term's position is what the
    program keeps of the source, so some first appear past the count of distinct ones)."""
    pool = ipv6_addresses(16, seed=5)
    chooser = random.Random(6)  # addresses repeated, then new ones at positions past 16
    terms = [chooser.choice(pool[:8]) for _ in range(16)] + pool[8:]
    expression = " or ".join(pattern.format(ipv6_text(a)) for a in terms)
    ours = BPFProgram._compiled(compile_filter(expression, linktype), linktype)
    theirs = pcapy.compile(linktype, 262144, expression, 1, 0, compiler="libpcap")
    unoptimized = pcapy.compile(linktype, 262144, expression, 0, 0, compiler="libpcap")
    generator = random.Random(7)
    compared = 0
    for _ in range(40):
        source, destination = (generator.choice([*pool, *terms[:3], generator.getrandbits(128),
                                                 generator.choice(pool) ^ 1 << generator.choice(
                                                     [0, 40, 70, 100])])
                               for _ in range(2))
        packet = ipv6_packet(source, destination, linktype)
        for cut in range(len(packet) + 1):
            expected = theirs.filter(packet[:cut])
            if expected == unoptimized.filter(packet[:cut]):
                assert ours.filter(packet[:cut]) == expected, (cut, packet.hex())
                compared += 1
    assert compared > 1000
