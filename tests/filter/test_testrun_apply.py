"""libpcap's TESTrun apply blocks on tier-1 savefiles: pcapy's compiler gives libpcap's verdicts.

Each block's expression is compiled for its savefile (link type, snapshot length, byte order)
by libpcap 1.10.3 (``pcap_compile`` on ``pcap_open_offline`` of the file) and by pcapy's
compiler, optimised and unoptimised, and run over every packet of the file. pcapy's verdicts
must be libpcap 1.10.3's on every packet; they are also compared with TESTrun's expected
results (libpcap master's), and where 1.10.3 and master differ the block is listed.
"""

from __future__ import annotations

import functools

import pytest

import pcapy
from filter import differential, oracle, testrun
from pcapy._bpf_vm import compile_program

pytestmark = pytest.mark.usefixtures("libpcap")
SAVEFILES = testrun.FIXTURE / "savefiles"
BLOCKS = testrun.fixture()["apply"]


@functools.cache
def savefile_packets(name: str) -> list[tuple[bytes, int]]:
    reader = pcapy.open_offline(str(SAVEFILES / name))
    packets = []
    while True:
        header, data = reader.next()
        if header is None:
            return packets
        packets.append((bytes(data), header.getlen()))


def run_both(block: dict) -> dict:
    """Verdicts per packet: libpcap's and ours, optimised and unoptimised."""
    from pcapy._filter import compile_filter

    path = SAVEFILES / block["savefile"]
    packets = savefile_packets(block["savefile"])
    netmask = oracle.parse_netmask(block["netmask"])
    out: dict = {"packets": packets}
    for optimize in (True, False):
        try:
            program, dlt, snaplen = oracle.compile_on_savefile(block["expr"], str(path), optimize,
                                                               netmask)
            out[("libpcap", optimize)] = oracle.verdicts(oracle.run_on_libpcap(program), program,
                                                         packets)
        except oracle.Rejected as err:
            out[("libpcap", optimize)] = str(err)
            dlt = oracle.dlt_value(block["DLT"])
            snaplen = pcapy.open_offline(str(path)).snapshot()
        try:
            ours = compile_filter(block["expr"], dlt, snaplen, optimize=optimize, netmask=netmask,
                                  savefile_swapped=oracle.savefile_is_swapped(path))
            out[("ours", optimize)] = oracle.verdicts(compile_program(ours), ours, packets)
        except pcapy.BPFError as err:
            out[("ours", optimize)] = str(err)
    return out


@pytest.mark.parametrize("block", BLOCKS, ids=[b["name"] for b in BLOCKS])
def test_apply_block(block):
    got = run_both(block)
    assert len(got["packets"]) == len(block["results"])
    for optimize in (True, False):
        libpcap, ours = got[("libpcap", optimize)], got[("ours", optimize)]
        if isinstance(ours, str):  # refused: only outside tier 1, and only what libpcap compiles
            assert ours.startswith(differential.UNSUPPORTED), ours
            assert differential.uses_outside_tier1(block["expr"]), block["expr"]
            continue
        if isinstance(libpcap, str):  # syntax newer than 1.10.3: master's results are the bar
            assert differential.words(block["expr"]) & differential.NEWER_THAN_LIBPCAP_1_10, libpcap
            assert ours == block["results"], f"optimize={optimize}: pcapy {ours}, master {block['results']}"
            continue
        assert ours == libpcap, f"optimize={optimize}: pcapy {ours}, libpcap 1.10.3 {libpcap}"


def test_most_apply_blocks_run_and_match_master():
    """How many blocks pcapy compiles, and how many give exactly TESTrun's (master's) results."""
    compiled = matching = 0
    for block in BLOCKS:
        got = run_both(block)
        ours = got[("ours", True)]
        if isinstance(ours, str):
            continue
        compiled += 1
        matching += ours == block["results"] and got[("ours", False)] == block["results"]
    print(f"apply: {compiled} of {len(BLOCKS)} blocks compiled by pcapy, {matching} give master's results")
    assert compiled >= 60
    assert matching == compiled  # pcapy gives 1.10.3's verdicts (above); here those are master's
