"""compile(), BPFProgram and setfilter: libpcap's compiler, tcpdump's verdicts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import pcapy
from conftest import corpus_files, manifest
from helpers import pcap_bytes, sample_records, udp_frame

pytestmark = pytest.mark.usefixtures("libpcap")

EXPRESSIONS = [
    "tcp port 80", "udp", "icmp", "arp", "ip6", "tcp", "ip", "not tcp", "vlan",
    "tcp[tcpflags] & tcp-syn != 0", "len > 200", "ip[2:2] > 100", "udp port 53",
    "portrange 1-1024", "ether broadcast", "ip multicast", "ip6 and udp", "greater 1000",
]


def tcpdump_ddd(tcpdump: str, expr: str, linktype: str = "EN10MB", optimize: bool = True) -> list[tuple[int, ...]]:
    args = [tcpdump, "-ddd", "-y", linktype] + ([] if optimize else ["-O"]) + [expr]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split("\n")
    return [tuple(int(x) for x in line.split()) for line in out[1:] if line.strip()]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_compile_gives_tcpdumps_program(tcpdump, expr):
    program = pcapy.compile(pcapy.DLT_EN10MB, 262144, expr, 1, 0)
    assert program.get_bpf() == tcpdump_ddd(tcpdump, expr)


def test_bpfprogram_constructor_and_manual_alias():
    program = pcapy.BPFProgram("udp port 80")
    assert pcapy.Bpf is pcapy.BPFProgram
    assert program.filter(udp_frame(b"hello", dport=80)) == 65536  # pcapy returns the snaplen
    assert program.filter(udp_frame(b"hello", dport=81)) == 0
    assert program.filter(bytearray(udp_frame(b"x", dport=80))) != 0
    with pytest.raises(TypeError):
        program.filter("not bytes")  # type: ignore[arg-type]


def test_from_instructions_needs_no_compiler(tcpdump):
    program = pcapy.BPFProgram.from_instructions(tcpdump_ddd(tcpdump, "udp port 80"))
    assert program.filter(udp_frame(b"x", dport=80))
    assert not program.filter(udp_frame(b"x", dport=81))


@pytest.mark.parametrize("bad", ["tcp port", "host", "ether proto nonsense", "port 99999999"])
def test_bad_expressions_raise_bpf_error_with_libpcaps_message(bad):
    with pytest.raises(pcapy.BPFError) as info:
        pcapy.compile(pcapy.DLT_EN10MB, 65535, bad, 1, 0)
    assert str(info.value)  # libpcap's own words
    assert isinstance(info.value, pcapy.PcapError)  # catchable the pcapy way


def test_syntax_error_message_matches_pcapy():
    with pytest.raises(pcapy.PcapError, match="^can't parse filter expression: syntax error$"):
        pcapy.compile(pcapy.DLT_EN10MB, 65535, "tcp port", 1, 0)


@pytest.mark.parametrize(
    "args",
    [("1", 65535, "tcp", 1, 0), (1, 65535, b"tcp", 1, 0), (1, None, "tcp", 1, 0), (1, 0, "tcp", 1, 0),
     (1, 65535, "tcp", 1, 0.5), (1, 65535, "t\x00cp", 1, 0)],
)
def test_compile_argument_checks(args):
    with pytest.raises((TypeError, ValueError)):
        pcapy.compile(*args)


def test_link_type_mismatch_is_a_bpf_error():
    with pytest.raises(pcapy.BPFError):
        pcapy.compile(pcapy.DLT_RAW, 65535, "ether host 00:11:22:33:44:55", 1, 0)


def tcpdump_count(tcpdump: str, path: Path, expr: str) -> int:
    out = subprocess.run([tcpdump, "--count", "-r", str(path), expr], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+) packets?", out.stdout + out.stderr)
    assert match, out.stderr
    return int(match.group(1))


ETHERNET_FILES = [p for p in corpus_files("pcap", "pcap") if manifest()[p]["libpcap_linktype"].startswith("1:")][:12]


@pytest.mark.parametrize("name", ETHERNET_FILES)
@pytest.mark.parametrize("expr", ["tcp", "udp", "ip6 or arp", "tcp port 80", "len > 100"])
def test_setfilter_counts_equal_tcpdump(corpus, tcpdump, name, expr):
    path = corpus / name
    with pcapy.open_offline(str(path)) as reader:
        reader.setfilter(expr)
        ours = sum(1 for _ in reader)
    assert ours == tcpdump_count(tcpdump, path, expr)


def test_setfilter_applies_from_the_current_position(tmp_path: Path):
    path = tmp_path / "f.pcap"
    path.write_bytes(pcap_bytes(sample_records(6)))  # dports 80..85
    reader = pcapy.open_offline(str(path))
    assert reader.next()[0] is not None  # packet 0 (port 80) consumed unfiltered
    reader.setfilter("udp dst port 82 or udp dst port 80")
    hdr, data = reader.next()
    assert hdr.getts()[0] == 1700000002
    assert reader.next() == (None, b"")
    reader.setfilter("udp")  # a new filter replaces the old one (nothing left to read)
    assert reader.next() == (None, b"")


def test_setfilter_accepts_a_compiled_program_and_rejects_bytes(tmp_path: Path):
    path = tmp_path / "f.pcap"
    path.write_bytes(pcap_bytes(sample_records(6)))
    reader = pcapy.open_offline(str(path))
    reader.setfilter(pcapy.compile(pcapy.DLT_EN10MB, 65535, "udp dst port 83", 1, 0))
    assert [h.getts()[0] for h, _ in reader] == [1700000003]
    with pytest.raises(TypeError):
        reader.setfilter(b"udp")  # type: ignore[arg-type]
    with pytest.raises(pcapy.PcapError, match="syntax error"):
        reader.setfilter("udp port")
