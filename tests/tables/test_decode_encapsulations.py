"""Decoded columns through the encapsulations the corpus hardly has: 802.1Q and 802.1ad tags,
MPLS label stacks, PPPoE sessions and IPv6 extension headers, each frame built with scapy and
compared with ``tshark -T fields`` (as test_tshark_agreement does on the corpus)."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

import pcapy
from helpers import pcap_bytes
from tables.test_tshark_agreement import compare_file

pytest.importorskip("pyarrow")
layers = pytest.importorskip("scapy.all")
mpls = pytest.importorskip("scapy.contrib.mpls")

SRC6, DST6 = "2001:db8::1", "2001:db8::2"


def frames() -> list[tuple[bytes, list[int]]]:
    """Each frame and the 802.1Q/802.1ad tags it carries, outermost first."""
    eth = layers.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    ip4 = layers.IP(src="192.0.2.1", dst="198.51.100.2", ttl=33)
    tcp = layers.TCP(sport=1234, dport=80, flags="SA", seq=0x01020304)
    udp = layers.UDP(sport=5353, dport=53)
    built = [
        (eth / layers.Dot1Q(vlan=100) / ip4 / tcp, [100]),
        (eth / layers.Dot1AD(vlan=10) / layers.Dot1Q(vlan=20) / ip4 / udp, [10, 20]),
        (eth / layers.Dot1Q(vlan=7) / layers.IPv6(src=SRC6, dst=DST6, hlim=9) / udp, [7]),
        (eth / mpls.MPLS(label=16, s=0) / mpls.MPLS(label=17, s=1) / ip4 / udp, []),
        (eth / mpls.MPLS(label=18, s=1) / layers.IPv6(src=SRC6, dst=DST6) / tcp, []),
        (eth / layers.PPPoE(sessionid=1) / layers.PPP(proto=0x21) / ip4 / tcp, []),
        (eth / layers.PPPoE(sessionid=2) / layers.PPP(proto=0x57)
         / layers.IPv6(src=SRC6, dst=DST6) / udp, []),
        (eth / layers.IPv6(src=SRC6, dst=DST6) / layers.IPv6ExtHdrHopByHop()
         / layers.IPv6ExtHdrDestOpt() / udp, []),
        (eth / layers.IPv6(src=SRC6, dst=DST6) / layers.IPv6ExtHdrRouting() / tcp, []),
        (eth / layers.IPv6(src=SRC6, dst=DST6) / layers.IPv6ExtHdrFragment(offset=0, m=0) / tcp,
         []),
        (eth / layers.IPv6(src=SRC6, dst=DST6) / layers.AH(nh=17, payloadlen=4, spi=1,
                                                         icv=b"\x00" * 12) / udp, []),
    ]
    return [(bytes(frame), tags) for frame, tags in built]


@pytest.mark.tools
def test_encapsulated_packets_decode_as_tshark_decodes_them(tmp_path):
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (scripts/test installs it)")
    built = frames()
    path = tmp_path / "encapsulations.pcap"
    path.write_bytes(pcap_bytes([(i, 0, data, len(data)) for i, (data, _) in enumerate(built)]))
    agree, total, diffs = Counter(), Counter(), []
    assert compare_file(tshark, path, agree, total, diffs)
    assert diffs == []
    assert total["src"] == len(built)
    # tshark's transport fields are compared only under a TCP or UDP next header (not behind
    # IPv6 extension headers): the ports scapy reads from the same frames are, everywhere.
    table = pcapy.open_offline(str(path)).to_arrow(columns=["vlan", "sport", "dport"]).read_all()
    assert table.column("vlan").to_pylist() == [tags for _, tags in built]
    assert [(row["sport"], row["dport"]) for row in table.to_pylist()] == [
        scapy_ports(data) for data, _ in built
    ]


def scapy_ports(data: bytes) -> tuple[int, int]:
    frame = layers.Ether(data)
    if layers.AH in frame:  # scapy leaves what follows AH undissected; here it is UDP (nh=17)
        frame = layers.UDP(bytes(frame[layers.AH].payload))
    transport = frame[layers.TCP] if layers.TCP in frame else frame[layers.UDP]
    return transport.sport, transport.dport
