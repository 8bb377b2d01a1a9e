"""A looping program (``ip6 protochain``) ends on every packet (issue 12's "every wait ends").

libpcap's protochain code sets its offset to ``(len + 2) * 4`` after an AH header instead of
adding that to it, so an AH header whose length field is 8, right after the IPv6 header,
sends the walk back to itself: libpcap's interpreter goes round forever on that packet. pcapy
bounds a looping program's rounds by the packet's size and rejects such a packet, and never
hands a looping program to libpcap's interpreter (the savefile offload).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pcapy
from conftest import libpcap_available
from helpers import pcap_bytes

AH = bytes([51, 8, 0, 0]) + bytes(36)  # next header AH again; (8 + 2) * 4 = 40: itself
LOOPBACK6 = bytes(15) + b"\x01"
CYCLING = struct.pack("!IHBB16s16s", 0x60000000, len(AH), 51, 64, LOOPBACK6, LOOPBACK6) + AH
UDP = struct.pack("!HHHH", 5000, 53, 8, 0)
PLAIN_UDP = struct.pack("!IHBB16s16s", 0x60000000, len(UDP), 17, 64, LOOPBACK6, LOOPBACK6) + UDP

COMPILERS = ["pcapy", pytest.param("libpcap", marks=pytest.mark.skipif(
    not libpcap_available(), reason="libpcap cannot be loaded on this machine"))]


@pytest.mark.parametrize("compiler", COMPILERS)
def test_a_cycling_header_chain_is_rejected_not_looped_on(compiler: str) -> None:
    program = pcapy.compile(pcapy.DLT_RAW, 65535, "ip6 protochain 58", 1, 0, compiler=compiler)
    assert program.loops
    assert program.filter(CYCLING) == 0
    udp = pcapy.compile(pcapy.DLT_RAW, 65535, "ip6 protochain 17", 1, 0, compiler=compiler)
    assert udp.filter(PLAIN_UDP) != 0  # a real chain still walks to its end


def test_forward_only_programs_do_not_loop() -> None:
    assert not pcapy.compile(pcapy.DLT_RAW, 65535, "udp port 53", 1, 0, compiler="pcapy").loops


@pytest.mark.parametrize("compiler", COMPILERS)
def test_a_savefile_filtered_with_protochain_is_read_to_its_end(tmp_path: Path,
                                                                compiler: str) -> None:
    path = tmp_path / "cycle.pcap"
    records = [(1, 0, packet, len(packet)) for packet in (CYCLING, PLAIN_UDP, CYCLING, PLAIN_UDP)]
    path.write_bytes(pcap_bytes(records, linktype=pcapy.DLT_RAW))
    with pcapy.open_offline(str(path)) as reader:
        reader.setfilter("ip6 protochain 17", compiler=compiler)
        assert [data for _, data in reader] == [PLAIN_UDP, PLAIN_UDP]
