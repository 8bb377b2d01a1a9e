"""A bounded random differential in CI: generated expressions and packets, pcapy vs libpcap.

The long run (>= 10**6 pairs) is fuzz/filter_diff.py; this is a seeded sample of it, bounded
in time: expressions from the tier-1 grammar on random link types, netmasks and savefile byte
orders, packets built from each expression's constants, compared as the long run compares
them (tests/filter/differential.py). Every disagreement fails, except where libpcap's optimised
and unoptimised programs disagree with each other (pcapy may give either verdict there).
"""

from __future__ import annotations

import random

import pytest

from filter import differential, generators, oracle

pytestmark = pytest.mark.usefixtures("libpcap")


@pytest.fixture(autouse=True, scope="module")
def _savefiles_in_tmp(tmp_path_factory):
    oracle.use_scratch_dir(tmp_path_factory.mktemp("savefiles"))

SEEDS = (1, 2)
CASES = 150  # per seed: about 6 s of CPU each
PACKETS_PER_CASE = 40


def run_sample(seed: int) -> tuple[int, int, list[str], list[str]]:
    """(cases, pairs compared, disagreements not allowed, known divergences)."""
    from pcapy._filter import compile_filter

    rng = random.Random(seed)
    expressions = generators.ExpressionGenerator(rng)
    cases = pairs = 0
    failures: list[str] = []
    known: list[str] = []
    while cases < CASES:
        case = expressions.case()
        maker = generators.PacketGenerator(rng, generators.seeds_from_expression(case.expression))
        packets = [maker.packet(case.dlt, case.savefile_swapped) for _ in range(PACKETS_PER_CASE)]
        result = differential.compare(case, packets, compile_filter)
        cases += 1
        if result.ours_unopt_error is None and result.libpcap_unopt_error is None:
            pairs += result.pairs
        for disagreement in result.disagreements:
            reason = differential.explained(disagreement, result, packets, outside_allowed=False)
            if reason is None:
                failures.append(disagreement.describe())
            elif reason == differential.PROVES_REJECTS_ALL:
                known.append(case.expression)
    return cases, pairs, failures, known


@pytest.mark.parametrize("seed", SEEDS)
def test_random_expressions_give_libpcaps_verdicts(seed):
    cases, pairs, failures, known = run_sample(seed)
    assert not failures, f"seed {seed}: {len(failures)} disagreements:\n" + "\n".join(failures[:20])
    assert pairs >= 2000, (cases, pairs)  # the sample is not empty
    # Known divergence (docs/filters.md, Verification): pcapy refuses with "expression rejects
    # all packets" what libpcap 1.10.3's optimiser compiles into a program rejecting every
    # packet tried; the verdicts agree, the compile outcome does not. Listed, and kept rare.
    assert len(known) <= cases // 20, known


def test_the_packet_generator_covers_its_layers():
    """Packets really contain what the generator claims: tags, MPLS, PPPoE, options, chains."""
    rng = random.Random(3)
    maker = generators.PacketGenerator(rng, generators.seeds_from_expression("vlan 10 and port 80"))
    frames = [maker.frame(generators.EN10MB) for _ in range(3000)]
    ethertypes = {int.from_bytes(f[12:14], "big") for f in frames}
    assert {0x0800, 0x86DD, 0x0806, 0x8035, 0x8100, 0x88A8, 0x8847, 0x8864} <= ethertypes
    assert any(f[12:14] == b"\x81\x00" and f[16:18] in (b"\x81\x00", b"\x88\xa8") for f in frames) or \
        any(f[12:14] == b"\x88\xa8" and f[16:18] == b"\x81\x00" for f in frames)  # QinQ
    ipv4 = [f[14:] for f in frames if f[12:14] == b"\x08\x00" and len(f) > 34]
    assert any(p[0] & 0x0F > 5 for p in ipv4)  # options
    assert any(int.from_bytes(p[6:8], "big") & 0x3FFF for p in ipv4)  # fragments
    ipv6 = [f[14:] for f in frames if f[12:14] == b"\x86\xdd" and len(f) > 54]
    assert {p[6] for p in ipv6} & {0, 43, 44, 60, 51}  # extension headers
    assert {p[9] for p in ipv4} >= {1, 6, 17, 132}
    assert any(int.from_bytes(f[14:16], "big") in (10, 80) or b"\x00\x50" in f for f in frames)
    cut = [maker.packet(generators.EN10MB) for _ in range(400)]
    assert any(len(data) < wirelen for data, wirelen in cut)  # truncated caplen


def test_expression_generator_covers_the_language():
    rng = random.Random(4)
    texts = " ".join(generators.ExpressionGenerator(rng).case().expression for _ in range(600))
    for word in ("host", "net", "mask", "ether", "port", "portrange", "proto", "protochain",
                 "vlan", "mpls", "pppoes", "geneve", "len", "less", "greater", "broadcast",
                 "multicast", "tcpflags", "not", "and", "or", "src", "dst", "[", "inbound"):
        assert word in texts, word
