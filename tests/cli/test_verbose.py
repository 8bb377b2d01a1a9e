"""``-v``: tcpdump 4.99's verbose lines, against ``tcpdump -v -nn`` on the same bytes.

Three sources of packets, every one compared with tcpdump's output for it:

- crafted packets: the decoder's own samples (``test_decode.SAMPLES``) and the ones below,
  which exercise what -v adds (IPv4 TOS/ECN, flags, options and header checksum; IPv6 class
  and flow label; TCP, UDP-over-IPv6, ICMP and ICMPv6 checksums, right and wrong; the datagram
  an ICMP error quotes; IPv6 extension-header options; neighbor discovery; MLDv2; ARP; DNS
  record owners; HTTP messages line by line), each cut at every length, with -v, -v -e, -v -q
  and -v -q -e: all must be equal;
- real captures from the conformance corpus (Ethernet, Linux cooked v1/v2, raw IPv4, BSD
  loopback; IPv4, IPv6, TCP, UDP, ICMP, DNS, HTTP): a packet whose last layer carries an
  application protocol pcapy's decoder does not decode (RIP, AFS, PPTP, DHCP, babel...) is
  counted per file under a named reason, and even then our line must be the start of
  tcpdump's, up to where our decoder stops; every other packet must be equal;
- the ``pcapy -v`` command itself, whose output must equal tcpdump's for whole files.

Not reproduced (documented in ``pcapy._decode``): IPv4 timestamp options, the IPv6 jumbo
option, NDP options other than link-layer address, prefix, MTU and RDNSS, MLDv2 queries.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import pcapy
from cli.test_decode import (
    IP6_A,
    IP6_B,
    IP_A,
    IP_B,
    MAC_A,
    SAMPLES,
    arp,
    dns,
    ether,
    ext6,
    icmp,
    in_ether,
    in_ether6,
    ipv4,
    question,
    record,
    tcp,
    udp,
)
from live.lab import in_netns
from pcapy._decode import Summary, TcpSequences, summarize

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ENV = {**os.environ, "TZ": "UTC"}
EN10MB = pcapy.DLT_EN10MB


# -- checksums, so crafted packets can be right as well as wrong -------------------------------
def internet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def set_checksum(data: bytes, at: int, pseudo: bytes = b"") -> bytes:
    value = internet_checksum(pseudo + data[:at] + b"\x00\x00" + data[at + 2:])
    return data[:at] + struct.pack("!H", value) + data[at + 2:]


def good_ipv4(payload: bytes, proto: int, **fields: object) -> bytes:
    """An IPv4 packet whose header checksum is right."""
    packet = ipv4(payload, proto, **fields)  # type: ignore[arg-type]
    hlen = (packet[0] & 0x0F) * 4
    return set_checksum(packet[:hlen], 10) + packet[hlen:]


def pseudo4(proto: int, length: int) -> bytes:
    return IP_A + IP_B + struct.pack("!BBH", 0, proto, length)


def pseudo6(proto: int, length: int) -> bytes:
    return IP6_A + IP6_B + struct.pack("!IxxxB", length, proto)


def ipv6_header(payload: bytes, next_header: int, first_word: int = 0x60000000,
                hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", first_word, len(payload), next_header, hop_limit, IP6_A,
                       IP6_B) + payload


def icmp6(kind: int, code: int, rest: bytes, good: bool = True) -> bytes:
    message = struct.pack("!BBH", kind, code, 0) + rest
    return set_checksum(message, 2, pseudo6(58, len(message))) if good else message


def ndp(kind: int, rest: bytes) -> bytes:
    return ether(ipv6_header(icmp6(kind, 0, rest), 58, hop_limit=255), 0x86DD)


def http(payload: bytes) -> bytes:
    segment = tcp(51000, 80, 1, 1, 0x18, payload)
    return ether(good_ipv4(set_checksum(segment, 16, pseudo4(6, len(segment))), 6))


IP6_T = socket.inet_pton(socket.AF_INET6, "fe80::99")
LINK_ADDRESS = b"\x01\x01" + MAC_A
PREFIX = struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 2592000, 0xFFFFFFFF, 0,
                     socket.inet_pton(socket.AF_INET6, "2001:db8::"))
QUOTED_TCP = good_ipv4(tcp(1234, 80, 1, 2, 0x18, b"payload!"), 6, src=IP_B, dst=IP_A)
QUOTED_DNS = good_ipv4(udp(4000, 53, dns(7, 0x0100, [question("example.com")])), 17)
GOOD_TCP = tcp(40000, 443, 10, 20, 0x18, b"0123456789")

#: packets for what -v adds; with the decoder's own SAMPLES, compared at every length
VERBOSE_SAMPLES: dict[str, tuple[int, bytes]] = {
    # the IPv4 header
    "ipv4-ecn-ce-df": (EN10MB, ether(good_ipv4(udp(1, 2, b"x"), 17, frag=0x4000)[:1] + b"\x03"
                                     + good_ipv4(udp(1, 2, b"x"), 17, frag=0x4000)[2:])),
    "ipv4-dscp-flags": (EN10MB, ether(set_checksum(
        ipv4(udp(1, 2, b"x"), 17, frag=0xE000)[:1] + b"\xb9"
        + ipv4(udp(1, 2, b"x"), 17, frag=0xE000)[2:20], 10) + udp(1, 2, b"x"))),
    "ipv4-several-options": (EN10MB, ether(good_ipv4(udp(1, 2, b""), 17, options=(
        b"\x01\x94\x04\x12\x34\x83\x0b\x08" + IP_A + IP_B + b"\x82\x05\x00\x00\x00\x00")))),
    "ipv4-bad-option-length": (EN10MB, ether(good_ipv4(udp(1, 2, b""), 17,
                                                       options=b"\x19\x09\x00\x00"))),
    "ipv4-record-route": (EN10MB, ether(good_ipv4(udp(1, 2, b""), 17,
                                                  options=b"\x07\x07\x04" + IP_A + b"\x00"))),
    # checksums
    "tcp-good-checksum": (EN10MB, ether(good_ipv4(set_checksum(GOOD_TCP, 16, pseudo4(
        6, len(GOOD_TCP))), 6))),
    "tcp-good-checksum-ipv6": (EN10MB, ether(ipv6_header(set_checksum(GOOD_TCP, 16, pseudo6(
        6, len(GOOD_TCP))), 6), 0x86DD)),
    "tcp-first-fragment": (EN10MB, ether(good_ipv4(GOOD_TCP, 6, frag=0x2000))),
    "udp6-good-checksum": (EN10MB, ether(ipv6_header(set_checksum(
        udp(5000, 9999, b"hello"), 6, pseudo6(17, 13)), 17, 0x6B812345), 0x86DD)),
    "dns6-good-checksum": (EN10MB, ether(ipv6_header(set_checksum(udp(5000, 53, dns(
        3, 0x0100, [question("example.com")])), 6, pseudo6(17, 37)), 17, 0x60000ABC), 0x86DD)),
    "icmp-good-checksum": (EN10MB, ether(good_ipv4(set_checksum(icmp(
        8, 0, b"\x00\x01\x00\x02", b"abcdefgh"), 2), 1))),
    "icmp6-good-checksum": (EN10MB, ether(ipv6_header(icmp6(128, 0, b"\x00\x01\x00\x02abcd"),
                                                      58), 0x86DD)),
    # what an ICMP error quotes
    "icmp-unreachable-quoting-tcp": (EN10MB, ether(good_ipv4(set_checksum(icmp(
        3, 1, body=QUOTED_TCP), 2), 1))),
    "icmp-time-exceeded-quoting-dns": (EN10MB, ether(good_ipv4(set_checksum(icmp(
        11, 0, body=QUOTED_DNS), 2), 1))),
    "icmp-parameter-problem": (EN10MB, ether(good_ipv4(icmp(12, 0, b"\x14\x00\x00\x00",
                                                            QUOTED_TCP[:28]), 1))),
    # IPv6 extension headers
    "ipv6-hop-by-hop-options": (EN10MB, ether(ipv6_header(
        ext6(17, b"\x05\x02\x00\x01\x01\x00") + udp(1, 2, b"x"), 0), 0x86DD)),
    "ipv6-destination-home-address": (EN10MB, ether(ipv6_header(
        ext6(17, b"\xc9\x10" + IP6_A + b"\x1e\x02\xaa\xbb\x00\x00\x00\x00") + udp(1, 2, b"x"),
        60), 0x86DD)),
    "ipv6-bad-router-alert": (EN10MB, ether(ipv6_header(
        ext6(17, b"\x05\x03\x00\x01\x00\x00") + udp(1, 2, b"x"), 0), 0x86DD)),
    "ipv6-fragment-identified": (EN10MB, ether(ipv6_header(
        b"\x11\x00\x00\x01\x12\x34\x56\x78" + udp(7, 8, b"zz"), 44), 0x86DD)),
    # neighbor discovery and MLDv2
    "ndp-solicitation": (EN10MB, ndp(135, b"\x00" * 4 + IP6_T + LINK_ADDRESS)),
    "ndp-advertisement": (EN10MB, ndp(136, b"\xe0\x00\x00\x00" + IP6_T + b"\x02\x01" + MAC_A)),
    "ndp-router-solicitation": (EN10MB, ndp(133, b"\x00" * 4 + LINK_ADDRESS)),
    "ndp-router-advertisement": (EN10MB, ndp(134, b"\x40\xc8\x07\x08" + struct.pack(
        "!II", 30000, 1000) + LINK_ADDRESS + struct.pack("!BBHI", 5, 1, 0, 1500) + PREFIX)),
    "ndp-router-advertisement-rdnss": (EN10MB, ndp(134, b"\x40\x18\x00\x00" + bytes(8)
                                                   + struct.pack("!BBHI16s", 25, 3, 0, 300, IP6_T)
                                                   + struct.pack("!BB6s", 99, 1, b"abcdef"))),
    "ndp-redirect": (EN10MB, ndp(137, b"\x00" * 4 + IP6_T + IP6_B + b"\x02\x01" + MAC_A)),
    "mld2-report": (EN10MB, ether(ipv6_header(ext6(58, b"\x05\x02\x00\x00\x01\x00") + icmp6(
        143, 0, b"\x00\x00\x00\x02" + b"\x04\x00\x00\x01" + IP6_T + IP6_B
        + b"\x03\x00\x00\x00" + IP6_T), 0, hop_limit=1), 0x86DD)),
    # tunnels, ARP, DNS
    "ipv6-in-ipv4": (EN10MB, ether(good_ipv4(ipv6_header(udp(1, 2, b"x"), 17), 41))),
    "ipv4-in-ipv6": (EN10MB, ether(ipv6_header(good_ipv4(udp(1, 2, b"x"), 17), 4), 0x86DD)),
    "ipv6-truncated": (EN10MB, ether(struct.pack("!IHBB16s16s", 0x60000000, 100, 17, 64, IP6_A,
                                                 IP6_B) + udp(1, 2, b"x"), 0x86DD)),
    "arp-verbose": (EN10MB, ether(arp(1, MAC_A, IP_A, b"\x00" * 6, IP_B), 0x0806)),
    "dns-inline-owner": (EN10MB, in_ether(udp(53, 5000, dns(9, 0x8180, [], [record(
        1, IP_A, b"\x04host\x07example\x00")], (0, 1, 0, 0))), 17)),
    # HTTP, line by line
    "http-request-lines": (EN10MB, http(b"GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")),
    "http-response-with-body": (EN10MB, http(b"HTTP/1.1 200 OK\r\n\r\nbody")),
    "http-line-feeds-and-tabs": (EN10MB, http(b"GET /\tHTTP/1.1\nHost: y\n\n")),
    "http-binary-header": (EN10MB, http(b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n")),
    "http-not-a-request": (EN10MB, http(b"\x16\x03\x01binary")),
    # and the remaining IPv6 and IPv4 protocols of the samples, over the other checksums
    "icmp6-echo-bad-checksum": (EN10MB, in_ether6(icmp(128, 0, b"\x00\x03\x00\x04"), 58)),
    "ipv6-other-protocol": (EN10MB, in_ether6(b"\x00" * 8, 253)),
}


# -- tcpdump as the reference ------------------------------------------------------------------
def tcpdump_v(path: Path, *options: str) -> list[str]:
    """``tcpdump -v -nn -t`` packet texts: continuation lines (tab or 4 spaces) joined."""
    result = subprocess.run(["tcpdump", "-v", "-nn", "-t", *options, "-r", str(path)],
                            capture_output=True, check=False, env=ENV)
    packets: list[str] = []
    for line in result.stdout.decode("latin-1").split("\n")[:-1]:
        if (line.startswith(("\t", "    "))) and packets:
            packets[-1] += "\n" + line
        else:
            packets.append(line)
    return packets


def write_pcap(path: Path, linktype: int, packets: list[tuple[bytes, int]]) -> None:
    with pcapy.Dumper(str(path), linktype, 262144) as dumper:
        for index, (data, length) in enumerate(packets):
            dumper.dump(pcapy.Pkthdr(1_700_000_000 + index, 0, len(data), length), data)


def test_crafted_samples_are_well_formed() -> None:
    assert set(VERBOSE_SAMPLES).isdisjoint(SAMPLES)
    good = VERBOSE_SAMPLES["tcp-good-checksum"][1]
    assert internet_checksum(good[14:34]) == 0  # the helpers really make right checksums
    assert internet_checksum(pseudo4(6, len(GOOD_TCP)) + good[34:]) == 0


@pytest.mark.tools
@pytest.mark.parametrize("options", [("-v",), ("-v", "-e"), ("-v", "-q"), ("-v", "-q", "-e")])
def test_every_sample_cut_at_every_length_matches_tcpdump(tcpdump: str, tmp_path: Path,
                                                          options: tuple[str, ...]) -> None:
    by_link: dict[int, list[bytes]] = {}
    for linktype, data in {**SAMPLES, **VERBOSE_SAMPLES}.values():
        by_link.setdefault(linktype, []).append(data)
    compared = 0
    for linktype, frames in by_link.items():
        cuts = [(frame[:cut], len(frame)) for frame in frames for cut in range(1, len(frame) + 1)]
        path = tmp_path / f"{linktype}.pcap"
        write_pcap(path, linktype, cuts)
        expected = tcpdump_v(path, *options[1:])
        state = TcpSequences()
        ours = [summarize(data, linktype, wire_length=length, link_header="-e" in options,
                          quiet="-q" in options, tcp=state, default_hex="-q" not in options,
                          verbose=True).text for data, length in cuts]
        assert len(ours) == len(expected)
        assert [pair for pair in zip(ours, expected) if pair[0] != pair[1]][:3] == []
        compared += len(ours)
    assert compared > 7000


def test_verbose_adds_nothing_unless_asked() -> None:
    for linktype, data in VERBOSE_SAMPLES.values():
        plain = summarize(data, linktype).text
        assert "cksum" not in plain and "(tos " not in plain and "hlim " not in plain


def test_ipv4_layout_is_two_lines_ipv6_one() -> None:
    four = summarize(VERBOSE_SAMPLES["tcp-good-checksum"][1], verbose=True).text
    assert four.split("\n") == [
        "IP (tos 0x0, ttl 64, id 1, offset 0, flags [none], proto TCP (6), length 50)",
        "    10.0.0.1.40000 > 10.0.0.2.443: Flags [P.], cksum 0xfdab (correct), seq 10:20, "
        "ack 20, win 64240, length 10"]
    six = summarize(VERBOSE_SAMPLES["udp6-good-checksum"][1], verbose=True).text
    assert six == ("IP6 (class 0xb8, flowlabel 0x12345, hlim 64, next-header UDP (17) payload "
                   "length: 13) fe80::1.5000 > ff02::fb.9999: [udp sum ok] UDP, length 5")


# -- real captures from the corpus ---------------------------------------------------------------
def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the conformance corpus is not at {CORPUS} (need {name})")
    return path


def our_verbose(path: Path) -> list[Summary]:
    state = TcpSequences()
    with pcapy.open_offline(str(path)) as reader:
        return [summarize(data, reader.datalink(), wire_length=header.getlen(), tcp=state,
                          verbose=True) for header, data in reader]


#: where our line stops when the packet's application protocol is one we do not decode
_UNDECODED = [
    ("UDP payload", re.compile(r"UDP, length \d+$")),
    ("IP protocol", re.compile(r" ip-proto-\d+ \d+$")),
    ("TCP payload", re.compile(r", length [1-9]\d*$")),
    # the first data packet of an AFS call or reply: tcpdump decodes the service's arguments
    ("Rx call", re.compile(r" rx data seq 1 ser \d+ \(\d+\)$")),
]


def undecoded(text: str) -> tuple[str, str] | None:
    """``(reason, the part of our line tcpdump's must start with)``, or None if decoded."""
    for reason, tail in _UNDECODED:
        match = tail.search(text)
        if match is not None:
            return reason, text[:match.start()] if reason != "TCP payload" else text
    return None


#: file -> (packets, {reason: packets we do not decode}); every other packet equals tcpdump's
CORPUS_FILES: dict[str, tuple[int, dict[str, int]]] = {
    "pcap/example.pcap": (4631, {"UDP payload": 1}),  # RIP
    "pcap/tcp-handshake-nano.pcap": (3, {}),
    "pcap/sll2.pcap": (3, {}),
    "pcap/LINKTYPE_IPV4.pcap": (1, {}),
    "pcapng/NullLoopback.pcap": (3, {}),
    "pcapng/err-buffertoosmall.pcapng": (27, {}),
    "pcapng/icmp-length-zero.pcapng": (1, {}),
    "pcap/afs.pcap": (601, {"UDP payload": 4, "Rx call": 124}),  # AFS calls and replies
    "pcap/pptp.pcap": (23, {"TCP payload": 7, "IP protocol": 1}),  # PPTP control, GRE
    "pcap/babel_rtt.pcap": (9, {"UDP payload": 9}),  # babel over IPv6
    "pcap/ipv6_mobility_1.pcap": (16, {"IP protocol": 16}),  # IPv6 mobility headers
    "pcapng/dhcp-option-108.pcapng": (2, {"UDP payload": 2}),
}


@pytest.mark.tools
@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_captures_match_tcpdump(tcpdump: str, name: str) -> None:
    path = corpus_file(name)
    expected = tcpdump_v(path)
    summaries = our_verbose(path)
    packets, skipped = CORPUS_FILES[name]
    assert len(summaries) == len(expected) == packets
    reasons: Counter[str] = Counter()
    for index, (summary, theirs) in enumerate(zip(summaries, expected)):
        verdict = undecoded(summary.text) if summary.text != theirs else None
        if verdict is None:
            assert summary.text == theirs, index
            continue
        reason, head = verdict
        reasons[reason] += 1
        assert theirs.startswith(head), (index, summary.text, theirs)
    assert dict(reasons) == skipped


@pytest.mark.tools
def test_corpus_covers_ipv4_ipv6_tcp_udp_icmp_dns_http(tcpdump: str) -> None:
    seen: set[str] = set()
    for name in CORPUS_FILES:
        for summary in our_verbose(corpus_file(name)):
            seen.update(summary.protocols)
    assert {"IPv4", "IPv6", "TCP", "UDP", "ICMP", "DNS", "HTTP", "SLL", "SLL2"} <= seen


# -- the command -----------------------------------------------------------------------------
def pcapy_cmd(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pcapy", *args], capture_output=True,
                          env=ENV, timeout=120, check=False)


@pytest.mark.tools
@pytest.mark.parametrize("name", ["pcap/tcp-handshake-nano.pcap", "pcap/sll2.pcap",
                                  "pcapng/NullLoopback.pcap", "pcapng/err-buffertoosmall.pcapng",
                                  "pcap/LINKTYPE_IPV4.pcap"])
@pytest.mark.parametrize("options", [("-v",), ("-v", "-e"), ("-vv",), ("-v", "-x")])
def test_the_command_prints_what_tcpdump_prints(tcpdump: str, name: str,
                                                options: tuple[str, ...]) -> None:
    path = corpus_file(name)
    ours = pcapy_cmd(*options, "-nn", "-r", str(path))
    theirs = subprocess.run(["tcpdump", "-v" if options[0] == "-vv" else options[0],
                             *options[1:], "-nn", "-r", str(path)],
                            capture_output=True, env=ENV, timeout=60, check=False)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


def test_the_command_without_v_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "one.pcap"
    write_pcap(path, EN10MB, [(VERBOSE_SAMPLES["tcp-good-checksum"][1], 74)])
    result = pcapy_cmd("-t", "-nn", "-r", str(path))
    assert result.stdout.decode() == ("IP 10.0.0.1.40000 > 10.0.0.2.443: Flags [P.], seq 10:20, "
                                      "ack 20, win 64240, length 10\n")


# -- real traffic: two network namespaces of our own, joined by a veth pair -------------------
@pytest.fixture
def veth_pair() -> Iterator[tuple[str, str, str]]:
    """Namespaces A and B (created here, deleted afterwards) joined by a veth pair, with
    10.213.0.1/24 and fd00:213::1/64 on A's end, .2 and ::2 on B's (no duplicate address
    detection, so the addresses work at once): ``(namespace A, its device, namespace B)``."""
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("network namespaces need root")
    suffix = secrets.token_hex(3)
    ns_a, ns_b, dev_a, dev_b = (f"pcapy-v-{suffix}-a", f"pcapy-v-{suffix}-b", f"pva{suffix}",
                                f"pvb{suffix}")
    try:
        for command in (["netns", "add", ns_a], ["netns", "add", ns_b],
                        ["link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name",
                         dev_b, "netns", ns_b]):
            ip(*command)
        for ns, dev, host in ((ns_a, dev_a, 1), (ns_b, dev_b, 2)):
            ip("-n", ns, "addr", "add", f"10.213.0.{host}/24", "dev", dev)
            ip("-n", ns, "addr", "add", f"fd00:213::{host}/64", "dev", dev, "nodad")
            ip("-n", ns, "link", "set", dev, "up")
        yield ns_a, dev_a, ns_b
    finally:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def exchange(ns_a: str, ns_b: str) -> None:
    """From A to B, over IPv4 and IPv6: a TCP connection carrying a request, UDP to a closed
    port (B answers with ICMP errors quoting it) and ICMP echoes (B replies). Bounded: a
    handful of packets each."""
    listeners = [in_netns(ns_b, listen, family, address) for family, address in
                 ((socket.AF_INET, "10.213.0.2"), (socket.AF_INET6, "fd00:213::2"))]
    try:
        in_netns(ns_a, send_from_a)
        for listener in listeners:
            connection, _ = listener.accept()
            connection.recv(100)
            connection.close()
    finally:
        for listener in listeners:
            listener.close()


def listen(family: int, address: str) -> socket.socket:
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((address, 8080))
    server.listen(1)
    server.settimeout(5)
    return server


def send_from_a() -> None:
    for family, peer in ((socket.AF_INET, "10.213.0.2"), (socket.AF_INET6, "fd00:213::2")):
        with socket.create_connection((peer, 8080), timeout=5) as client:
            client.sendall(b"GET /verbose HTTP/1.1\r\nHost: b\r\n\r\n")
        with socket.socket(family, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"to a closed port", (peer, 9))
        proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
        with socket.socket(family, socket.SOCK_RAW, proto) as pinger:
            kind = 8 if family == socket.AF_INET else 128  # the kernel sums ICMPv6 itself
            echo = struct.pack("!BBHHH", kind, 0, 0, 0x1234, 1) + b"pcapy -v"
            if family == socket.AF_INET:
                echo = set_checksum(echo, 2)
            pinger.sendto(echo, (peer, 0))


#: What ``exchange`` makes the capture on A's device show; reading ends once it has shown all
#: of it (and the exchange is over), however long a loaded machine takes.
EXCHANGE_SHOWS = frozenset({"request v4", "request v6", "unreachable v4", "unreachable v6",
                            "echo reply v4", "echo reply v6", "neighbor solicitation"})


def exchange_kinds(frame: bytes) -> set[str]:
    """Which of ``EXCHANGE_SHOWS`` an Ethernet frame captured on A's device is (if any)."""
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800 and len(frame) > 34:
        header = (frame[14] & 0x0F) * 4
        proto, payload, version = frame[23], frame[14 + header:], "v4"
        icmp = {0: "echo reply", 3: "unreachable"} if proto == 1 else {}
    elif ethertype == 0x86DD and len(frame) > 54:
        proto, payload, version = frame[20], frame[54:], "v6"
        icmp = {129: "echo reply", 1: "unreachable", 135: "neighbor solicitation"} \
            if proto == 58 else {}
    else:
        return set()
    if proto == 6 and b"GET /verbose" in payload:
        return {f"request {version}"}
    kind = icmp.get(payload[0]) if payload else None
    if kind is None:
        return set()
    return {kind if kind == "neighbor solicitation" else f"{kind} {version}"}


def exchange_shown(exchanged: concurrent.futures.Future[None], seen: set[str]) -> bool:
    """The exchange is over (or failed) and the capture has shown all it must."""
    return exchanged.done() and (exchanged.exception() is not None or seen >= EXCHANGE_SHOWS)


@pytest.mark.live
@pytest.mark.tools
def test_real_traffic_between_namespaces_matches_tcpdump(tcpdump: str, tmp_path: Path,
                                                         veth_pair: tuple[str, str, str]) -> None:
    ns_a, dev_a, ns_b = veth_pair
    path = tmp_path / "veth.pcap"
    reader = in_netns(ns_a, pcapy.open_live, dev_a, 65535, 0, 20)
    # Read while the exchange runs: left unread for a second, the kernel's ring (a block per
    # read timeout) fills and drops packets.
    with reader, reader.dump_open(str(path)) as dumper, \
            concurrent.futures.ThreadPoolExecutor(1) as pool:
        exchanged = pool.submit(exchange, ns_a, ns_b)
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while not exchange_shown(exchanged, seen) and time.monotonic() < deadline:
            header, data = reader.next()
            if header is not None:
                dumper.dump(header, data)
                seen |= exchange_kinds(data)
        exchanged.result()
        assert seen >= EXCHANGE_SHOWS, f"not captured within 20 s: {EXCHANGE_SHOWS - seen}"
        assert reader.stats()[1] == 0
    summaries, expected = our_verbose(path), tcpdump_v(path)
    assert len(summaries) == len(expected) >= 20
    assert [(s.text, t) for s, t in zip(summaries, expected) if s.text != t] == []
    text = "\n".join(summary.text for summary in summaries)
    # what the exchange must have shown (a checksum computed by the NIC's offload may be
    # "wrong" as captured, on either side of the veth)
    for pattern in (r"IP6 \(", r"proto TCP \(6\)", r"cksum 0x[0-9a-f]{4} \((in)?correct",
                    r"\[(udp sum ok|bad udp cksum 0x[0-9a-f]{4} -> 0x[0-9a-f]{4}!)\] UDP, length 16",
                    r"\[icmp6 sum ok\]", r"ICMP6, neighbor solicitation, length \d+, who has",
                    r"source link-address option", r"udp port 9 unreachable",
                    r"\n\tIP \(tos", r"ICMP6, destination unreachable", r"ICMP echo reply",
                    r"ICMP6, echo reply", r"HTTP, length: 34\n\tGET /verbose HTTP/1.1"):
        assert re.search(pattern, text), (pattern, text)
