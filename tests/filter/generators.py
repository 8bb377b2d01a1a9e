"""Generators for differential filter testing: pcap-filter expressions and packets.

``ExpressionGenerator`` draws tier-1 expressions from the pcap-filter grammar (primitives with
their qualifiers, the implicit "repeat the last qualifier" form, accessors with arithmetic and
named constants, ``vlan``/``mpls``/``pppoes``/``geneve``/``vxlan`` prefixes, and ``and``/``or``/
``not`` with parentheses). ``PacketGenerator`` builds packets layer by layer for a link type:
Ethernet (with 802.1Q/QinQ tags, MPLS stacks, PPPoE sessions, LLC frames), Linux cooked v1/v2,
NULL/LOOP, raw IP; IPv4 with options and fragments, IPv6 with extension-header chains, ARP,
TCP/UDP/SCTP/ICMP/ICMPv6/IGMP, VXLAN and Geneve with an inner frame; and cuts some short
(caplen < wire length). Field values are drawn from ``Seeds``: the addresses and numbers in the
expression under test, so a random packet often matches a random filter.

Everything is driven by one ``random.Random``, so a (seed, index) pair reproduces a case.
"""

from __future__ import annotations

import ipaddress
import random
import re
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

# DLT_ values on Linux (pcap/dlt.h); DLT_RAW is 12 here, LINKTYPE_RAW 101 in files
EN10MB, RAW, NULL, LOOP, LINUX_SLL, LINUX_SLL2, IPV4, IPV6 = 1, 12, 0, 108, 113, 276, 228, 229
TIER1_DLTS = (EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP)
ETH_IP, ETH_IP6, ETH_ARP, ETH_RARP = 0x0800, 0x86DD, 0x0806, 0x8035
ETH_VLANS = (0x8100, 0x88A8, 0x9100)
ETH_MPLS, ETH_MPLS_MC, ETH_PPPOED, ETH_PPPOES = 0x8847, 0x8848, 0x8863, 0x8864
AF_INET6_VALUES = (24, 28, 30, 10, 23)  # BSDs, macOS, Linux, ...: libpcap checks several
WELL_KNOWN_PORTS = (20, 21, 22, 23, 25, 53, 67, 68, 80, 123, 161, 443, 514, 4789, 6081, 8080)
IP_PROTOS = (1, 2, 4, 6, 17, 41, 47, 50, 51, 58, 89, 103, 112, 132)


# -- seeds: the constants of an expression ------------------------------------------------------
_IPV4_RE = re.compile(r"(?<![\w:.])(\d{1,3}(?:\.\d{1,3}){0,3})(?:/(\d{1,2}))?(?![\w:])")
_IPV6_RE = re.compile(r"(?<![\w:])([0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})(?:/(\d{1,3}))?")
_MAC_RE = re.compile(r"(?<![\w:])([0-9a-fA-F]{1,2}(?:[:.-][0-9a-fA-F]{1,2}){5})(?![\w:])")
_INT_RE = re.compile(r"(?<![\w.:])(0[xX][0-9a-fA-F]+|\d+)(?![\w.:])")


@dataclass
class Seeds:
    """Values to build packets from: the expression's own, plus a few always-interesting ones."""

    ipv4: list[bytes] = field(default_factory=list)
    ipv6: list[bytes] = field(default_factory=list)
    macs: list[bytes] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)


def _ipv4_variants(text: str, prefix: str | None) -> list[bytes]:
    parts = [int(p) for p in text.split(".")]
    if any(p > 255 for p in parts):
        return []
    full = bytes(parts + [0] * (4 - len(parts)))
    bits = int(prefix) if prefix is not None else (len(parts) * 8 if len(parts) < 4 else 32)
    bits = min(bits, 32)
    host_bits = 32 - bits
    base = int.from_bytes(full, "big")
    values = {base, base | ((1 << host_bits) - 1), base ^ (1 << host_bits) if host_bits < 32 else 0}
    values |= {base + 1, (base & ~0xFF) | 0xFF}
    return [(v & 0xFFFFFFFF).to_bytes(4, "big") for v in values]


def _ipv6_variants(text: str, prefix: str | None) -> list[bytes]:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return []
    value = int(address)
    bits = min(int(prefix), 128) if prefix is not None else 128
    values = {value, value | ((1 << (128 - bits)) - 1), value ^ (1 << (128 - bits)) if bits else 0}
    return [(v & ((1 << 128) - 1)).to_bytes(16, "big") for v in values]


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in re.split(r"[:.-]", text))


def _literal(text: str) -> int:
    """A number as libpcap's scanner reads it: 0x hex, a leading 0 octal, else decimal."""
    if text[:2].lower() == "0x":
        return int(text, 16)
    if len(text) > 1 and text[0] == "0" and set(text) <= set("01234567"):
        return int(text, 8)
    return int(text, 10)


def seeds_from_expression(expression: str) -> Seeds:
    seeds = Seeds()
    for match in _MAC_RE.finditer(expression):
        seeds.macs.append(_mac(match.group(1)))
    without_macs = _MAC_RE.sub(" ", expression)
    for match in _IPV6_RE.finditer(without_macs):
        seeds.ipv6 += _ipv6_variants(match.group(1), match.group(2))
    without_v6 = _IPV6_RE.sub(" ", without_macs)
    for match in _IPV4_RE.finditer(without_v6):
        if "." in match.group(1) or match.group(2):
            seeds.ipv4 += _ipv4_variants(match.group(1), match.group(2))
    dotted_removed = _IPV4_RE.sub(lambda m: " " if "." in m.group(0) else m.group(0), without_v6)
    for match in _INT_RE.finditer(dotted_removed):
        value = _literal(match.group(1))
        seeds.ints += [value, value + 1, value - 1]
    seeds.ints = [v & 0xFFFFFFFF for v in seeds.ints]
    return seeds


# -- packets ------------------------------------------------------------------------------------
def _checksumless(data: bytes) -> bytes:
    return data  # checksums are never looked at by filters; left as whatever was drawn


class PacketGenerator:
    """Random packets for a link type, with field values drawn from ``seeds``.

    ``loopback_only`` keeps every IPv4 address in 127.0.0.0/8 and every IPv6 address ::1, and
    leaves out VLAN tags (the kernel strips them on receive): for traffic sent on ``lo``.
    """

    def __init__(self, rng: random.Random, seeds: Seeds | None = None, *,
                 loopback_only: bool = False) -> None:
        self.rng = rng
        self.seeds = seeds or Seeds()
        self.loopback_only = loopback_only

    # values -----------------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def number(self, bits: int, *common: int) -> int:
        """A value of ``bits`` bits: a seed, a common value, an edge, or random."""
        rng, mask = self.rng, (1 << bits) - 1
        roll = rng.random()
        if roll < 0.45 and self.seeds.ints:
            return rng.choice(self.seeds.ints) & mask
        if roll < 0.7 and common:
            return rng.choice(common) & mask
        if roll < 0.8:
            return rng.choice((0, 1, mask, mask >> 1, (mask >> 1) + 1)) & mask
        return rng.getrandbits(bits)

    def ipv4(self) -> bytes:
        rng = self.rng
        if self.loopback_only:
            return bytes((127, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
        roll = rng.random()
        if roll < 0.5 and self.seeds.ipv4:
            return rng.choice(self.seeds.ipv4)
        if roll < 0.65:
            return rng.choice((b"\xff\xff\xff\xff", b"\xe0\x00\x00\x01", b"\x0a\x00\x00\x01",
                               b"\xc0\xa8\x01\xff", b"\x00\x00\x00\x00", b"\x7f\x00\x00\x01"))
        return rng.getrandbits(32).to_bytes(4, "big")

    def ipv6(self) -> bytes:
        rng = self.rng
        if self.loopback_only:
            return b"\x00" * 15 + b"\x01"
        roll = rng.random()
        if roll < 0.5 and self.seeds.ipv6:
            return rng.choice(self.seeds.ipv6)
        if roll < 0.65:
            return rng.choice((bytes.fromhex("ff020000000000000000000000000001"),
                               bytes.fromhex("fe800000000000000000000000000001"),
                               b"\x00" * 15 + b"\x01", b"\x00" * 16))
        return rng.getrandbits(128).to_bytes(16, "big")

    def mac(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45 and self.seeds.macs:
            return rng.choice(self.seeds.macs)
        if roll < 0.65:
            return rng.choice((b"\xff" * 6, b"\x01\x00\x5e\x00\x00\x01", b"\x33\x33\x00\x00\x00\x01",
                               b"\x00" * 6, b"\x02\x00\x00\x00\x00\x01"))
        return rng.getrandbits(48).to_bytes(6, "big")

    def port(self) -> int:
        return self.number(16, *WELL_KNOWN_PORTS)

    def payload(self, limit: int = 48) -> bytes:
        rng = self.rng
        data = bytearray(rng.randbytes(rng.randrange(limit + 1)))
        if data and self.seeds.ints and self.chance(0.3):
            value = rng.choice(self.seeds.ints)
            at = rng.randrange(len(data))
            data[at:at + 4] = value.to_bytes(4, "big")
        return bytes(data)

    # transport --------------------------------------------------------------------------------
    def transport(self, proto: int, *, v6: bool) -> bytes:
        rng = self.rng
        if proto == 6:
            offset = 5 if self.chance(0.7) else rng.randrange(0, 16)
            options = rng.randbytes(max(offset - 5, 0) * 4)
            flags = self.number(8, 0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x01, 0x20, 0xC2)
            return struct.pack("!HHIIBBHHH", self.port(), self.port(), rng.getrandbits(32),
                               rng.getrandbits(32), offset << 4, flags, self.number(16), 0,
                               self.number(16)) + options + self.payload()
        if proto == 17:
            sport, dport = self.port(), self.port()
            if self.chance(0.15):
                return self.tunnel(sport)
            body = self.payload()
            return struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body
        if proto == 132:
            chunk = struct.pack("!BBH", self.number(8, 0, 1, 2, 3), 0, 4) + self.payload(16)
            return struct.pack("!HHII", self.port(), self.port(), rng.getrandbits(32), 0) + chunk
        if proto in (1, 58):
            types = (128, 129, 133, 134, 135, 136, 1, 2, 3, 4) if v6 else (0, 3, 5, 8, 11, 13, 17)
            return struct.pack("!BBH", self.number(8, *types), self.number(8, 0, 1, 3), 0) + \
                self.payload()
        if proto == 2:
            return struct.pack("!BBH4s", self.number(8, 0x11, 0x16, 0x17, 0x22), 0, 0,
                               self.ipv4()) + self.payload(8)
        return self.payload()

    def tunnel(self, sport: int) -> bytes:
        """UDP carrying VXLAN (4789) or Geneve (6081) and an inner Ethernet frame."""
        rng = self.rng
        inner = self.ethernet(depth=1)
        if self.chance(0.5):
            dport = 4789 if self.chance(0.8) else self.port()
            header = struct.pack("!BBHI", 0x08, 0, 0, (self.number(24) << 8))
        else:
            dport = 6081 if self.chance(0.8) else self.port()
            options = rng.randbytes(4 * rng.randrange(3))
            proto = 0x6558 if self.chance(0.8) else self.number(16, ETH_IP, ETH_IP6)
            header = struct.pack("!BBHI", len(options) // 4, 0, proto,
                                 self.number(24) << 8) + options
        body = header + inner
        return struct.pack("!HHHH", sport, dport, 8 + len(body), 0) + body

    # network ----------------------------------------------------------------------------------
    def ip_proto(self) -> int:
        return self.number(8, *IP_PROTOS)

    def ipv4_packet(self, depth: int = 0) -> bytes:
        rng = self.rng
        ihl = 5 if self.chance(0.75) else rng.randrange(5, 16)
        options = bytes(rng.choice((0, 1, 7, 68, 130, 148, rng.getrandbits(8)))
                        for _ in range((ihl - 5) * 4))
        proto = self.ip_proto()
        if proto == 4 and depth < 1:
            body = self.ipv4_packet(depth + 1)
        elif proto == 41 and depth < 1:
            body = self.ipv6_packet(depth + 1)
        else:
            body = self.transport(proto, v6=False)
        fragment = 0
        if self.chance(0.25):
            fragment = rng.choice((0x2000, 0x4000, rng.getrandbits(13), 0x2000 | rng.getrandbits(13)))
        version = 4 if self.chance(0.97) else rng.randrange(16)
        total = 20 + len(options) + len(body)
        header = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, self.number(8, 0, 0x10, 0xB8),
                             total if self.chance(0.9) else self.number(16), rng.getrandbits(16),
                             fragment, self.number(8, 1, 64, 128, 255), proto, 0,
                             self.ipv4(), self.ipv4())
        return header + options + body

    def ipv6_packet(self, depth: int = 0) -> bytes:
        rng = self.rng
        chain = [rng.choice((0, 43, 44, 60, 51)) for _ in range(rng.choice((0, 0, 0, 1, 2, 3, 4)))]
        upper = self.ip_proto()
        if upper == 41 and depth < 1:
            body = self.ipv6_packet(depth + 1)
        elif upper == 4 and depth < 1:
            body = self.ipv4_packet(depth + 1)
        else:
            body = self.transport(upper, v6=True)
        headers = b""
        next_headers = [*chain[1:], upper]
        for kind, following in zip(chain, next_headers):
            headers += self.extension_header(kind, following)
        first = chain[0] if chain else upper
        version = 6 if self.chance(0.97) else rng.randrange(16)
        payload = headers + body
        return struct.pack("!IHBB16s16s", version << 28 | rng.getrandbits(20), len(payload), first,
                           self.number(8, 1, 64, 255), self.ipv6(), self.ipv6()) + payload

    def extension_header(self, kind: int, following: int) -> bytes:
        rng = self.rng
        if kind == 44:  # fragment: fixed 8 bytes
            return struct.pack("!BBHI", following, 0, rng.getrandbits(16), rng.getrandbits(32))
        if kind == 51:  # AH: length in 4-byte words minus 2
            words = rng.randrange(1, 5)
            return struct.pack("!BBH", following, words, 0) + \
                rng.randbytes(words * 4 + 4)
        units = rng.randrange(0, 3)  # hop-by-hop, routing, destination options
        return struct.pack("!BB", following, units) + \
            rng.randbytes(units * 8 + 6)

    def arp_packet(self) -> bytes:
        return struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, self.number(16, 1, 2, 3, 4),
                           self.mac(), self.ipv4(), self.mac(), self.ipv4())

    def network(self, ethertype: int, depth: int) -> bytes:
        if ethertype == ETH_IP:
            return self.ipv4_packet()
        if ethertype == ETH_IP6:
            return self.ipv6_packet()
        if ethertype in (ETH_ARP, ETH_RARP):
            return self.arp_packet()
        if ethertype in (ETH_MPLS, ETH_MPLS_MC):
            return self.mpls_stack()
        if ethertype == ETH_PPPOES:
            return self.pppoe_session()
        if ethertype == ETH_PPPOED:
            return struct.pack("!BBHH", 0x11, self.number(8, 9, 7, 0x19), self.number(16), 0)
        if ethertype in ETH_VLANS and depth < 2:
            return self.vlan_tag(depth)
        return self.payload()

    def ethertype(self, depth: int = 0) -> int:
        kinds = [ETH_IP] * 5 + [ETH_IP6] * 3 + [ETH_ARP, ETH_RARP, ETH_MPLS, ETH_PPPOES, ETH_PPPOED]
        if not self.loopback_only and depth < 2:
            kinds += list(ETH_VLANS) * 2
        if self.chance(0.1):
            return self.number(16, 0x88CC, 0x8906, 0x0842)
        return self.rng.choice(kinds)

    def vlan_tag(self, depth: int) -> bytes:
        inner = self.ethertype(depth + 1)
        tci = self.number(3) << 13 | self.number(1) << 12 | self.number(12, 1, 10, 100, 4095)
        return struct.pack("!HH", tci, inner) + self.network(inner, depth + 1)

    def mpls_stack(self) -> bytes:
        rng = self.rng
        labels = rng.randrange(1, 4)
        stack = b""
        for level in range(labels):
            bottom = 1 if level == labels - 1 else int(self.chance(0.05))
            stack += struct.pack("!I", self.number(20, 0, 1, 2, 100) << 12 | rng.getrandbits(3) << 9 |
                                 bottom << 8 | self.number(8, 64, 255))
        inner = rng.choice((self.ipv4_packet, self.ipv6_packet, self.payload))()
        return stack + inner

    def pppoe_session(self) -> bytes:
        rng = self.rng
        proto = self.number(16, 0x0021, 0x0057, 0xC021, 0x8021)
        inner = self.ipv4_packet() if proto == 0x0021 else \
            self.ipv6_packet() if proto == 0x0057 else self.payload()
        body = struct.pack("!H", proto) + inner
        return struct.pack("!BBHH", 0x11 if self.chance(0.9) else rng.getrandbits(8), 0,
                           self.number(16, 1, 0x1234), len(body)) + body

    # link layers ------------------------------------------------------------------------------
    def ethernet(self, depth: int = 0) -> bytes:
        rng = self.rng
        dst, src = self.mac(), self.mac()
        if not self.loopback_only and self.chance(0.06):  # 802.3 with LLC
            body = struct.pack("!BBB", rng.choice((0x42, 0xAA, 0xE0, 0xFE, 0xF0)),
                               rng.choice((0x42, 0xAA, 0xE0, 0xFE)), rng.getrandbits(8))
            body += self.payload()
            return dst + src + struct.pack("!H", len(body)) + body
        ethertype = self.ethertype(depth)
        return dst + src + struct.pack("!H", ethertype) + self.network(ethertype, depth)

    def linux_sll(self) -> bytes:
        ethertype = self.ethertype()
        address = self.mac() + b"\x00\x00"
        return struct.pack("!HHH8sH", self.number(16, 0, 1, 2, 3, 4), self.number(16, 1, 772, 778),
                           6, address, ethertype) + self.network(ethertype, 0)

    def linux_sll2(self) -> bytes:
        ethertype = self.ethertype()
        return struct.pack("!HHIHBB8s", ethertype, 0, self.number(32, 1, 2, 7, 10),
                           self.number(16, 1, 772), self.number(8, 0, 1, 2, 3, 4), 6,
                           self.mac() + b"\x00\x00") + self.network(ethertype, 0)

    def raw_ip(self, dlt: int) -> bytes:
        if dlt == IPV4 or (dlt == RAW and self.chance(0.55)):
            return self.ipv4_packet()
        return self.ipv6_packet()

    def null_or_loop(self, dlt: int, swapped: bool | None) -> bytes:
        """A 4-byte address family, as DLT_LOOP (big-endian) or DLT_NULL (host order) has it."""
        family = self.number(32, 2, *AF_INET6_VALUES)
        if dlt == LOOP:
            order = ">"
        else:
            host = "<" if sys.byteorder == "little" else ">"
            other = ">" if host == "<" else "<"
            order = other if (swapped or (swapped is None and self.chance(0.15))) else host
            if self.chance(0.1):
                order = other if order == host else host
        inner = self.ipv4_packet() if family == 2 else \
            self.ipv6_packet() if family in AF_INET6_VALUES else self.raw_ip(RAW)
        return struct.pack(order + "I", family) + inner

    def frame(self, dlt: int, swapped: bool | None = None) -> bytes:
        if dlt == EN10MB:
            return self.ethernet()
        if dlt == LINUX_SLL:
            return self.linux_sll()
        if dlt == LINUX_SLL2:
            return self.linux_sll2()
        if dlt in (NULL, LOOP):
            return self.null_or_loop(dlt, swapped)
        return self.raw_ip(dlt)

    def poke(self, data: bytes) -> bytes:
        """Write a seed value at a random place: accessors compare arbitrary offsets."""
        if not data or not self.seeds.ints or not self.chance(0.25):
            return data
        rng = self.rng
        size = rng.choice((1, 2, 4))
        value = rng.choice(self.seeds.ints) & ((1 << (8 * size)) - 1)
        at = rng.randrange(len(data))
        out = bytearray(data)
        out[at:at + size] = value.to_bytes(size, "big")[: len(data) - at]
        return bytes(out)

    def packet(self, dlt: int, swapped: bool | None = None) -> tuple[bytes, int]:
        """``(captured bytes, wire length)``; a quarter of them are cut short."""
        data = self.poke(self.frame(dlt, swapped))
        if self.seeds.ints and self.chance(0.15):  # lengths near the expression's numbers
            target = self.rng.choice(self.seeds.ints)
            if len(data) < target <= 1600:
                data += bytes(target - len(data))
        wirelen = len(data)
        if self.chance(0.25):
            data = data[: self.rng.randrange(len(data) + 1)]
        return data, wirelen


def with_truncations(packets: Sequence[tuple[bytes, int]], rng: random.Random, cuts: int
                     ) -> list[tuple[bytes, int]]:
    """The packets, then ``cuts`` random truncations of each (same wire length)."""
    out = list(packets)
    for data, wirelen in packets:
        out += [(data[: rng.randrange(len(data) + 1)], wirelen) for _ in range(cuts)]
    return out


def corpus_reframed(frame: bytes, dlt: int, rng: random.Random) -> bytes | None:
    """An Ethernet frame's network layer under another tier-1 link layer (or None)."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    network = frame[14:]
    if dlt == EN10MB:
        return frame
    if dlt in (RAW, IPV4, IPV6):
        wanted = {RAW: (ETH_IP, ETH_IP6), IPV4: (ETH_IP,), IPV6: (ETH_IP6,)}[dlt]
        return network if ethertype in wanted else None
    if dlt in (NULL, LOOP):
        family = {ETH_IP: 2, ETH_IP6: rng.choice(AF_INET6_VALUES)}.get(ethertype)
        if family is None:
            return None
        order = ">" if dlt == LOOP else ("<" if sys.byteorder == "little" else ">")
        return struct.pack(order + "I", family) + network
    if dlt == LINUX_SLL:
        return struct.pack("!HHH8sH", rng.randrange(5), 1, 6, frame[6:12] + b"\0\0",
                           ethertype) + network
    return struct.pack("!HHIHBB8s", ethertype, 0, rng.randrange(1, 9), 1, rng.randrange(5), 6,
                       frame[6:12] + b"\0\0") + network


# -- expressions --------------------------------------------------------------------------------
DIRECTIONS = ("", "src ", "dst ", "src or dst ", "src and dst ")
RELATIONS = ("=", "==", "!=", "<", "<=", ">", ">=")
ARITH_OPS = ("+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>")
ACCESSOR_PROTOS = ("ether", "link", "ip", "ip6", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp",
                   "arp", "rarp")
NAMED_CONSTANTS = ("tcpflags", "tcp-fin", "tcp-syn", "tcp-rst", "tcp-push", "tcp-ack", "tcp-urg",
                   "tcp-ece", "tcp-cwr", "icmptype", "icmpcode", "icmp-echoreply", "icmp-unreach",
                   "icmp-sourcequench", "icmp-redirect", "icmp-echo", "icmp-routeradvert",
                   "icmp-routersolicit", "icmp-timxceed", "icmp-paramprob", "icmp-tstamp",
                   "icmp-tstampreply", "icmp-ireq", "icmp-ireqreply", "icmp-maskreq",
                   "icmp-maskreply", "icmp6type", "icmp6code", "icmp6-echo", "icmp6-echoreply",
                   "icmp6-multicastlistenerquery", "icmp6-routersolicit", "icmp6-routeradvert",
                   "icmp6-neighborsolicit", "icmp6-neighboradvert", "icmp6-redirect",
                   "icmp6-destinationunreach", "icmp6-packettoobig", "icmp6-timeexceeded",
                   "icmp6-parameterproblem")
PORT_NAMES = ("http", "https", "domain", "ssh", "telnet", "smtp", "ntp", "snmp", "ftp", "bootps")
PROTO_NAMES = ("\\tcp", "\\udp", "\\icmp", "\\sctp", "\\igmp", "\\icmp6", "\\ah", "\\esp", "\\pim",
               "\\vrrp", "\\ip", "\\ip6", "\\arp", "\\rarp")
NULLARY = ("ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6", "igmp",
           "ether broadcast", "ether multicast", "broadcast", "multicast", "ip multicast",
           "ip6 multicast", "ip broadcast", "inbound", "outbound", "pppoed", "vlan", "mpls",
           "pppoes", "geneve", "ah", "esp", "pim", "vrrp", "carp")


@dataclass
class Case:
    """A generated expression and what it is compiled for."""

    expression: str
    dlt: int
    netmask: int = 0xFFFFFFFF
    savefile_swapped: bool | None = None


class ExpressionGenerator:
    """Random tier-1 pcap-filter expressions (most compile; some are meant not to)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._qualifier = ""  # the last qualified primitive, for the implicit-repeat form

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def number(self) -> int:
        rng = self.rng
        return rng.choice((0, 1, 2, 4, 6, 8, 10, 13, 17, 20, 40, 53, 64, 80, 100, 255, 443,
                           1500, 4095, 65535, 0x800, rng.randrange(256), rng.randrange(65536),
                           rng.getrandbits(32)))

    def ipv4(self) -> str:
        rng = self.rng
        address = rng.choice(("10.0.0.1", "192.168.1.1", "127.0.0.1", "255.255.255.255",
                              "224.0.0.1", "172.16.5.4"))
        if rng.random() < 0.5:
            address = ".".join(str(rng.randrange(256)) for _ in range(4))
        return address

    def net4(self) -> str:
        rng = self.rng
        octets = [str(rng.randrange(256)) for _ in range(4)]
        form = rng.randrange(4)
        if form == 0:
            bits = rng.choice((0, 8, 12, 16, 24, 30, 32))
            kept = ".".join(octets[: max(1, (bits + 7) // 8)] if rng.random() < 0.3 else octets)
            return f"{kept}/{bits}"
        if form == 1:
            return ".".join(octets[: rng.randrange(1, 4)])
        if form == 2:
            return f"{'.'.join(octets)} mask {rng.choice(('255.255.255.0', '255.0.0.0', '255.255.0.0', '0.0.0.0', '255.255.255.255'))}"
        return self.ipv4()

    def ipv6(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return rng.choice(("::1", "fe80::1", "ff02::1", "2001:db8::1", "::"))
        return str(ipaddress.IPv6Address(rng.getrandbits(128)))

    def mac(self) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return rng.choice(("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "00:00:00:00:00:00"))
        raw = rng.getrandbits(48).to_bytes(6, "big")
        if rng.random() < 0.15:
            return ".".join(raw[i:i + 2].hex() for i in (0, 2, 4))
        return ":".join(f"{b:02x}" for b in raw)

    def port(self) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return self.pick(PORT_NAMES)
        return str(rng.choice((*WELL_KNOWN_PORTS, rng.randrange(65536))))

    # primitives --------------------------------------------------------------------------------
    def host(self) -> tuple[str, str]:
        rng = self.rng
        direction = self.pick(DIRECTIONS)
        kind = rng.randrange(6)
        if kind == 0:
            qualifier = f"ether {direction}host "
            return qualifier, qualifier + self.mac()
        if kind == 1:
            qualifier = f"{self.pick(('', 'ip6 '))}{direction}host "
            return qualifier, qualifier + self.ipv6()
        if kind == 2:
            qualifier = f"{self.pick(('', 'ip ', 'ip6 ', 'ip6 ', 'ip6 '))}{direction}net "
            if "ip6" in qualifier:
                return qualifier, qualifier + f"{self.ipv6()}/{rng.choice((0, 16, 48, 64, 128))}"
            return qualifier, qualifier + self.net4()
        proto = self.pick(("", "", "ip ", "arp ", "rarp "))
        qualifier = f"{proto}{direction}host "
        return qualifier, qualifier + self.ipv4()

    def port_primitive(self) -> tuple[str, str]:
        rng = self.rng
        proto = self.pick(("", "tcp ", "udp ", "sctp "))
        direction = self.pick(DIRECTIONS)
        if rng.random() < 0.3:
            low = rng.randrange(65536)
            high = rng.choice((low, low + rng.randrange(100), rng.randrange(65536)))
            qualifier = f"{proto}{direction}portrange "
            return qualifier, qualifier + f"{low}-{min(high, 65535)}"
        qualifier = f"{proto}{direction}port "
        return qualifier, qualifier + self.port()

    def protocol_primitive(self) -> str:
        rng = self.rng
        kind = rng.randrange(7)
        if kind == 0:
            return f"ether proto {self.pick(PROTO_NAMES[10:] + ('0x800', '0x86dd', '34916', str(self.number())))}"
        if kind == 1:
            return f"{self.pick(('', 'ip ', 'ip6 '))}proto {self.pick(PROTO_NAMES[:10] + (str(rng.randrange(256)),))}"
        if kind == 2:
            target = self.pick(("6", "17", "58", "\\tcp", "\\udp", str(rng.randrange(256))))
            return f"{self.pick(('', 'ip ', 'ip6 '))}protochain {target}"
        if kind == 3:
            relation = self.pick(("len <= ", "len >= ", "less ", "greater ", "len = ", "len > "))
            return relation + str(rng.choice((0, 40, 60, 64, 100, 200, 1500, rng.randrange(2000))))
        if kind == 4:
            encapsulation = self.pick(("vlan", "mpls", "pppoes", "geneve"))
            limit = {"vlan": 4095, "mpls": 1048575, "pppoes": 65535}.get(encapsulation, 16777215)
            value = rng.choice((0, 1, 10, 100, limit, rng.randrange(limit + 1)))
            return encapsulation if rng.random() < 0.4 else f"{encapsulation} {value}"
        return self.pick(NULLARY)

    def arith(self, depth: int = 0) -> str:
        rng = self.rng
        roll = rng.random()
        if depth > 2 or roll < 0.35:
            return rng.choice((str(self.number()), f"0x{rng.randrange(256):x}", self.pick(NAMED_CONSTANTS), "len"))
        if roll < 0.65:
            return self.accessor(depth + 1)
        if roll < 0.7:
            return f"-{self.arith(depth + 1)}"
        left, right = self.arith(depth + 1), self.arith(depth + 1)
        text = f"{left} {self.pick(ARITH_OPS)} {right}"
        return f"({text})" if rng.random() < 0.5 else text

    def accessor(self, depth: int = 0) -> str:
        rng = self.rng
        proto = self.pick(ACCESSOR_PROTOS)
        index = str(rng.choice((0, 1, 2, 6, 8, 9, 12, 13, 16, 20, 23, 40))) \
            if depth > 1 or rng.random() < 0.7 else self.arith(depth + 1)
        if proto == "tcp" and rng.random() < 0.2:
            index = "tcpflags"
        if proto in ("icmp", "icmp6") and rng.random() < 0.2:
            index = f"{proto}type"
        size = self.pick(("", ":1", ":2", ":4"))
        return f"{proto}[{index}{size}]"

    def relation(self) -> str:
        rng = self.rng
        left = self.accessor() if rng.random() < 0.8 else self.arith()
        if rng.random() < 0.4:
            left = f"{left} & {self.pick(NAMED_CONSTANTS[:9] + ('0xff', '0x1fff', '0xf0', '1'))}"
        return f"{left} {self.pick(RELATIONS)} {self.arith()}"

    def primitive(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            self._qualifier, text = self.host()
        elif roll < 0.5:
            self._qualifier, text = self.port_primitive()
        elif roll < 0.75:
            return self.protocol_primitive()
        else:
            return self.relation()
        return text

    def bare_repeat(self) -> str | None:
        """The implicit form: a bare value reusing the last qualifiers (``port 80 or 443``)."""
        qualifier = self._qualifier
        if not qualifier:
            return None
        if "port" in qualifier:
            return self.port() if "range" not in qualifier else f"{self.rng.randrange(1000)}-{self.rng.randrange(1000, 65536)}"
        if "ether" in qualifier:
            return self.mac()
        if "ip6" in qualifier and "net" in qualifier:
            return f"{self.ipv6()}/64"
        if "net" in qualifier:
            return self.net4()
        return self.ipv6() if "ip6" in qualifier else self.ipv4()

    def term(self, depth: int) -> str:
        rng = self.rng
        roll = rng.random()
        if depth < 3 and roll < 0.12:
            return f"not {self.term(depth + 1)}" if rng.random() < 0.6 else f"!{self.term(depth + 1)}"
        if depth < 3 and roll < 0.25:
            return f"({self.expression(depth + 1)})"
        return self.primitive()

    def expression(self, depth: int = 0) -> str:
        rng = self.rng
        parts = [self.term(depth)]
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3)) if depth < 3 else 0):
            joiner = self.pick((" and ", " or ", " && ", " || "))
            bare = self.bare_repeat() if rng.random() < 0.2 else None
            parts.append(joiner + (bare if bare is not None else self.term(depth)))
        return "".join(parts)

    def prefixed(self) -> str:
        """An expression, sometimes after an encapsulation that shifts what follows."""
        rng = self.rng
        body = self.expression()
        if rng.random() < 0.2:
            prefix = self.pick(("vlan", "vlan 10", "vlan and vlan", "mpls", "mpls 100", "pppoes",
                                "pppoes 0x1234", "geneve", "geneve 7",
                                "mpls and mpls 1"))
            return f"{prefix} and {body}"
        return body

    def case(self) -> Case:
        rng = self.rng
        dlt = rng.choice((EN10MB,) * 6 + (LINUX_SLL, LINUX_SLL2, RAW, IPV4, IPV6, NULL, LOOP))
        swapped = rng.choice((None, None, False, True)) if dlt in (NULL, LOOP) else None
        netmask = rng.choice((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFF00, 0xFFFF0000, 0))
        self._qualifier = ""
        return Case(self.prefixed(), dlt, netmask, swapped)
