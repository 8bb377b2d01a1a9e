"""Filters on a savefile are compiled with libpcap's savefile rules (issue 11, item 8).

libpcap's code generator treats a savefile ``pcap_t`` differently from ``pcap_open_dead``: on
DLT_NULL, ``ip6`` matches every BSD AF_INET6 value (24, 28, 30), and the address family of a
file written in the other byte order is swapped. Both read paths (libpcap's offloaded one and
pcapy's BPF executor) must give tcpdump's counts.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, udp_frame

pytestmark = pytest.mark.usefixtures("libpcap")

QUIC_VN = Path(__file__).parent / "data" / "tcpdump" / "quic_vn.pcap"
DLT_NULL_AF_INET, BSD_AF_INET6 = 2, 24
OTHER_ORDER = ">" if sys.byteorder == "little" else "<"


@pytest.fixture(params=["offloaded", "python"])
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setenv("PCAPY_FILTER_IN_PYTHON", "1")
    return str(request.param)


def count(path: Path, expression: str) -> int:
    reader = pcapy.open_offline(str(path))
    reader.setfilter(expression)
    return sum(1 for _ in reader)


def tcpdump_count(tcpdump: str, path: Path, expression: str) -> int:
    out = subprocess.run([tcpdump, "-nr", str(path), expression], capture_output=True,
                         text=True, check=True).stdout
    return len(out.splitlines())


def test_quic_vn_ip6_matches_bsd_af_inet6(read_path, tcpdump):
    assert count(QUIC_VN, "ip6") == tcpdump_count(tcpdump, QUIC_VN, "ip6") == 25


def null_frame(order: str, family: int, payload: bytes) -> bytes:
    return struct.pack(order + "I", family) + payload


def other_order_null_file(tmp_path: Path, ipv4: int, ipv6: int) -> Path:
    """A DLT_NULL file written on a machine of the other byte order: header and AF value."""
    ip_packet = udp_frame(b"x")[14:]
    frames = [null_frame(OTHER_ORDER, DLT_NULL_AF_INET, ip_packet)] * ipv4
    frames += [null_frame(OTHER_ORDER, BSD_AF_INET6, b"\x60" + bytes(47))] * ipv6
    records = [(1_700_000_000 + i, 0, frame, len(frame)) for i, frame in enumerate(frames)]
    path = tmp_path / "null-other-order.pcap"
    path.write_bytes(pcap_bytes(records, linktype=pcapy.DLT_NULL, order=OTHER_ORDER))
    return path


def test_other_byte_order_dlt_null_file(read_path, tcpdump, tmp_path):
    path = other_order_null_file(tmp_path, ipv4=21, ipv6=4)
    assert count(path, "ip") == tcpdump_count(tcpdump, path, "ip") == 21
    assert count(path, "ip6") == tcpdump_count(tcpdump, path, "ip6") == 4


def test_compile_is_unchanged_and_savefile_rules_differ():
    """``compile()`` keeps libpcap's live rules (pcap_open_dead); the savefile seam does not."""
    live = pcapy.compile(pcapy.DLT_NULL, 65535, "ip6", 1, 0)
    savefile = pcapy._bpf.compile_for(pcapy.DLT_NULL, 65535, "ip6", 1, 0, savefile_swapped=False)
    assert live != savefile
    assert len(savefile) > len(live)  # three AF_INET6 values instead of this platform's one
    # BPF loads the 4-byte family big-endian: the program compares the file's bytes as such
    for swapped, order in ((False, "="), (True, OTHER_ORDER)):
        program = pcapy._bpf.compile_for(pcapy.DLT_NULL, 65535, "ip", 1, 0,
                                         savefile_swapped=swapped)
        family_as_loaded = int.from_bytes(struct.pack(order + "I", DLT_NULL_AF_INET), "big")
        assert (0x15, 0, 1, family_as_loaded) in program.get_bpf()


def test_savefile_seam_reports_bad_expression():
    with pytest.raises(pcapy.BPFError, match="syntax error"):
        pcapy._bpf.compile_for(pcapy.DLT_EN10MB, 65535, "tcp port", 1, 0, savefile_swapped=True)


def test_ethernet_savefile_programs_equal_open_dead_ones():
    for swapped in (False, True):
        program = pcapy._bpf.compile_for(pcapy.DLT_EN10MB, 65535, "tcp port 80", 1, 0,
                                         savefile_swapped=swapped)
        assert program == pcapy.compile(pcapy.DLT_EN10MB, 65535, "tcp port 80", 1, 0)
