"""Decoded columns against ``tshark -T fields`` (the same fields) on every corpus file tshark reads.

Compared: packets of the link types the decoder knows (Ethernet, Linux cooked v1/v2, raw IP,
BSD loopback); elsewhere our columns are null by design. Reassembly is off in tshark
(``ip.defragment``, ``tcp.desegment_tcp_streams``), and transport fields are compared where the
outer IP header's protocol is TCP or UDP (tshark's first occurrence of ``udp.srcport`` in an ICMP
error is the quoted packet's). The per-folder agreement is printed (``-s``) and must be >= 99.5%
for every field; every disagreement is listed when it is not.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

import pcapy
from tables.tables_helpers import CORPUS, corpus_paths

FIELDS = {  # our column -> the tshark fields giving it (the first that has a value)
    "caplen": ["frame.cap_len"], "len": ["frame.len"],
    "eth_src": ["eth.src"], "eth_dst": ["eth.dst"],
    "src": ["ip.src", "ipv6.src"], "dst": ["ip.dst", "ipv6.dst"],
    "ttl": ["ip.ttl", "ipv6.hlim"],
    "sport": ["tcp.srcport", "udp.srcport"], "dport": ["tcp.dstport", "udp.dstport"],
    "tcp_flags": ["tcp.flags"], "tcp_seq": ["tcp.seq_raw"],
}
TRANSPORT = {"sport", "dport", "tcp_flags", "tcp_seq"}
DECODED_LINKS = {pcapy.DLT_EN10MB, pcapy.DLT_LINUX_SLL, pcapy.DLT_LINUX_SLL2, pcapy.DLT_RAW,
                 pcapy.DLT_IPV4, pcapy.DLT_IPV6, pcapy.DLT_NULL, pcapy.DLT_LOOP}
TSHARK_FIELDS = [f for fields in FIELDS.values() for f in fields] + ["ip.proto", "ipv6.nxt"]


def tshark_rows(tshark: str, path) -> list[dict[str, str]] | None:
    args = [tshark, "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
            "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields", "-E", "separator=|",
            "-E", "occurrence=f"]
    for field in TSHARK_FIELDS:
        args += ["-e", field]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        return None
    return [dict(zip(TSHARK_FIELDS, line.split("|"))) for line in result.stdout.splitlines()]


def value(column: str, text: str):
    if text == "":
        return None
    if column == "tcp_flags":
        return int(text, 16)
    return text if column in ("eth_src", "eth_dst", "src", "dst") else int(text)


def compare_file(tshark: str, path, agree: Counter, total: Counter, diffs: list,
                 tshark_output: Future | None = None) -> bool:
    """Our columns against tshark's fields (``tshark_output``: tshark already started)."""
    try:
        ours = pcapy.open_offline(path).to_arrow(columns=[*FIELDS, "linktype"]).read_all()
    except pcapy.PcapError:
        return False
    theirs = tshark_rows(tshark, path) if tshark_output is None else tshark_output.result()
    if theirs is None or len(theirs) != ours.num_rows:
        return False
    for index, (row, fields) in enumerate(zip(ours.to_pylist(), theirs)):
        if row["linktype"] not in DECODED_LINKS:
            continue
        protocol = fields["ip.proto"] or fields["ipv6.nxt"]
        for column, names in FIELDS.items():
            if column in TRANSPORT and protocol not in ("6", "17"):
                continue
            expected = next((value(column, fields[n]) for n in names if fields[n] != ""), None)
            total[column] += 1
            if row[column] == expected:
                agree[column] += 1
            else:
                diffs.append((path.name, index, column, row[column], expected))
    return True


@pytest.mark.tools
@pytest.mark.parametrize("folder", ["pcap", "pcapng"])
def test_decoded_columns_equal_tshark_fields(folder):
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (scripts/test installs it)")
    agree, total, diffs = Counter(), Counter(), []
    names = corpus_paths(folder)
    with ThreadPoolExecutor(4) as pool:  # tshark's start-up is mostly waiting: several at once
        outputs = [pool.submit(tshark_rows, tshark, CORPUS / name) for name in names]
        compared = sum(compare_file(tshark, CORPUS / name, agree, total, diffs, output)
                       for name, output in zip(names, outputs))
    assert compared > 0
    print(f"\n{folder}: {compared} of {len(names)} files compared")
    for column in FIELDS:
        share = 100 * agree[column] / total[column] if total[column] else 100.0
        print(f"  {column:10} {agree[column]:6}/{total[column]:<6} {share:6.2f}%")
    low = [c for c in FIELDS if total[c] and agree[c] < 0.995 * total[c]]
    assert not low, diffs[:50]
