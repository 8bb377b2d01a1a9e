"""pcapy's filter compiler (pcapy._filter) on its own: instructions, verdicts, errors.

Verdicts are compared with libpcap's compiler where libpcap loads; the fixture-wide
comparisons (TESTrun's cases, generated expressions and packets) live in test_differential*.py.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pcapy
from conftest import libpcap_available
from pcapy._bpf import BPFProgram
from pcapy._bpf_vm import validate
from pcapy._filter import compile_filter

DLT_EN10MB, DLT_RAW, DLT_NULL, DLT_LINUX_SLL = 1, 12, 0, 113

ETH_IPV4_TCP = bytes.fromhex(
    "001122334455" "66778899aabb" "0800"  # Ethernet
    "45000028000100004006" "0000" "0a000001" "0a000002"  # IPv4 10.0.0.1 -> 10.0.0.2, TCP
    "04d20050" "00000000" "00000000" "5002ffff" "00000000"  # TCP 1234 -> 80, SYN
)


def verdict(expression: str, packet: bytes, linktype: int = DLT_EN10MB, **options: object) -> int:
    program = compile_filter(expression, linktype, **options)  # type: ignore[arg-type]
    # trusted as libpcap's output is: protochain loops back, which only the kernel refuses
    return BPFProgram._compiled(program, linktype).filter(packet)


@pytest.mark.parametrize(
    ("expression", "accepted"),
    [
        ("", True),
        ("ip", True),
        ("ip6", False),
        ("tcp", True),
        ("udp", False),
        ("host 10.0.0.1", True),
        ("src host 10.0.0.2", False),
        ("dst host 10.0.0.2", True),
        ("net 10.0.0.0/8", True),
        ("net 10.0.0.0 mask 255.255.0.0", True),
        ("port 80", True),
        ("tcp dst port 80", True),
        ("udp port 80", False),
        ("portrange 70-90", True),
        ("src port 80", False),
        ("tcp[tcpflags] & tcp-syn != 0", True),
        ("tcp[tcpflags] & tcp-ack != 0", False),
        ("ether src 66:77:88:99:aa:bb", True),
        ("ether dst 66:77:88:99:aa:bb", False),
        ("ether proto 0x800", True),
        ("ip proto 6", True),
        ("proto \\tcp", True),
        ("len > 50", True),
        ("less 53", False),
        ("greater 54", True),
        ("host 10.0.0.9 or 10.0.0.1", True),
        ("not host 10.0.0.9 and not 10.0.0.1", False),
        ("ip[9] = 6 and ip[2:2] = 40", True),
        ("vlan", False),
        ("ip broadcast", False),
        ("ether multicast", False),
        ("port http", True),
        ("protochain 6", True),
    ],
)
def test_verdicts_on_an_ethernet_tcp_packet(expression: str, accepted: bool) -> None:
    result = verdict(expression, ETH_IPV4_TCP, netmask=0xFFFFFF00)
    assert (result == 262144) is accepted


def test_a_load_past_the_end_rejects() -> None:
    assert verdict("tcp dst port 80", ETH_IPV4_TCP) == 262144
    assert verdict("tcp dst port 80", ETH_IPV4_TCP[:36]) == 0


@pytest.mark.parametrize(
    "expression",
    ["host", "tcp and", "port 99999", "net 10.0.0.1/8", "1 / 0 = 1", "ip[0:3] = 1",
     "ether host 1.2.3.4", "((tcp)", "tcp[0] @ 1", "host 1.2.3.4.5.6", "0x100000000 = 1"],
)
def test_bad_expressions_raise_bpferror(expression: str) -> None:
    with pytest.raises(pcapy.BPFError):
        compile_filter(expression, DLT_EN10MB)


@pytest.mark.parametrize("expression", ["wlan type mgt", "vpi 1", "host localhost", "gateway x"])
def test_unsupported_parts_are_named(expression: str) -> None:
    with pytest.raises(pcapy.BPFError, match="not supported by pcapy's filter compiler"):
        compile_filter(expression, DLT_EN10MB)


def test_unsupported_link_type_is_named() -> None:
    with pytest.raises(pcapy.BPFError, match="link type 127"):
        compile_filter("ip", 127)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "éß€", max_size=60))
def test_any_text_gives_a_program_or_bpferror(text: str) -> None:
    try:
        program = compile_filter(text, DLT_EN10MB)
    except pcapy.BPFError:
        return
    validate(program)


WORDS = ["host", "net", "port", "src", "dst", "and", "or", "not", "tcp", "udp", "ip", "ip6",
         "(", ")", "10.0.0.1", "80", "ether", "proto", "vlan", "mpls", "[", "]", ":", "2", "=",
         "!", "&", "+", "len", "portrange", "1-9", "::1", "/", "8", "icmp", "arp", "geneve"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_any_word_soup_gives_a_program_or_bpferror(words: list[str]) -> None:
    try:
        program = compile_filter(" ".join(words), DLT_EN10MB)
    except pcapy.BPFError:
        return
    validate(program)


# --- the optimiser keeps every packet load a path runs ----------------------------------------

# Each ends in a disjunct decided at compile time (``0 <= 1``) after a packet load: jump
# threading once sent the edge into that block straight to its end, which dropped the load of
# ether[29:2], so a frame too short for it was accepted (found as pppoes-or-link-bytes in
# test_differential_regressions.py). libpcap's unoptimised program rejects such a frame.
THREADED_PAST_A_LOAD = [
    "ip6 or (ether[29:2] != 8 or 0 <= 1)",
    "ether[20:2] = 0x57 or ether[20:2] = 0x57 or ether[29:2] = 8 or 1 = 1",
    "pppoes && 0xc3 == igmp[0:4] || ip6 or (link[9:2] != 8 or 0 <= 1)",
]
NOT_IPV6_FRAME = bytes.fromhex("000000000000649c02d6c8b9" "88a8" "300388a8f0098863" "1104" + "00" * 26)


@pytest.mark.parametrize("expression", THREADED_PAST_A_LOAD)
def test_threading_keeps_a_load_no_path_ran_yet(expression: str) -> None:
    optimised = BPFProgram._compiled(compile_filter(expression, DLT_EN10MB), DLT_EN10MB)
    plain = BPFProgram._compiled(compile_filter(expression, DLT_EN10MB, optimize=False),
                                 DLT_EN10MB)
    cuts = [NOT_IPV6_FRAME[:length] for length in range(len(NOT_IPV6_FRAME) + 1)]
    verdicts = [optimised.filter(cut) for cut in cuts]
    assert verdicts == [plain.filter(cut) for cut in cuts]
    assert verdicts[30] == 0  # ether[29:2] needs 31 bytes
    assert verdicts[31] == 262144
    if libpcap_available():
        from pcapy import _libpcap  # noqa: PLC0415 - the reference, when libpcap loads

        reference = _libpcap.compile_filter(DLT_EN10MB, 262144, expression, False, 0xFFFFFFFF)
        theirs = BPFProgram._compiled(reference, DLT_EN10MB)
        assert verdicts == [theirs.filter(cut) for cut in cuts]


# --- DLT_NULL and DLT_LOOP: address families, savefile rules, byte order -------------------------

AF_VALUES = (2, 10, 24, 28, 30, 0x02000000, 0x1C000000)


def loopback_packets() -> list[bytes]:
    ipv4 = bytes.fromhex("45000014000100004006000001020304050607 08".replace(" ", ""))
    ipv6 = bytes.fromhex("60000000000006400000000000000000000000000000000100000000000000000000"
                         "000000000002")
    return [family.to_bytes(4, order) + payload
            for family in AF_VALUES for order in ("big", "little") for payload in (ipv4, ipv6)]


@pytest.mark.skipif(not libpcap_available(), reason="libpcap is the reference here")
@pytest.mark.parametrize("linktype", [DLT_NULL, 108])
@pytest.mark.parametrize("swapped", [None, False, True])
@pytest.mark.parametrize("expression", ["ip", "ip6", "tcp", "not ip6", "ip or ip6"])
def test_loopback_families_as_libpcap_sees_them(
    linktype: int, swapped: bool | None, expression: str
) -> None:
    from pcapy import _libpcap  # noqa: PLC0415 - the reference, when libpcap loads
    from pcapy._savefile._linktype import dlt_to_linktype  # noqa: PLC0415

    shape = None if swapped is None else _libpcap.SavefileShape(dlt_to_linktype(linktype), swapped)
    try:
        reference = _libpcap.compile_filter(linktype, 262144, expression, True, 0, shape)
    except pcapy.BPFError:
        with pytest.raises(pcapy.BPFError):
            compile_filter(expression, linktype, savefile_swapped=swapped)
        return
    ours = compile_filter(expression, linktype, savefile_swapped=swapped)
    theirs_program = BPFProgram._compiled(reference, linktype)
    ours_program = BPFProgram._compiled(ours, linktype)
    for packet in loopback_packets():
        assert ours_program.filter(packet) == theirs_program.filter(packet), packet[:4].hex()


def test_cli_compiler_flag_lists_pcapys_program(capsys: pytest.CaptureFixture[str]) -> None:
    from pcapy._cli import main  # noqa: PLC0415

    assert main(["-d", "--compiler", "pcapy", "tcp dst port 80"]) == 0
    listing = capsys.readouterr().out.splitlines()
    program = compile_filter("tcp dst port 80", DLT_EN10MB)
    assert len(listing) == len(program)
    assert listing[0] == "(000) ldh      [12]"
    assert listing[-1] == f"({len(program) - 1:03d}) ret      #262144"
