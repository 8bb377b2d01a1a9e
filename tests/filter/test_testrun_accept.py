"""libpcap's TESTrun accept blocks (tier 1): pcapy's compiler gives libpcap's verdicts.

Every expression of every tier-1 accept block (tests/data/filtertests, 890 expressions) is
compiled by libpcap 1.10.3 and by pcapy's compiler, optimised and unoptimised, and the programs
run over real packets of that link type and packets generated from the expression's constants
(``testrun.packets_for``): libpcap's programs on libpcap's interpreter, pcapy's on pcapy's
executor and on libpcap's interpreter. Verdicts must be identical; where libpcap's optimised and
unoptimised programs disagree with each other (libpcap's optimiser moves loads that reject a
truncated packet), pcapy's must give one of the two. Cases libpcap 1.10.3 itself rejects are
counted and listed, not dropped; cases pcapy refuses must be outside tier 1.
"""

from __future__ import annotations

import functools

import pytest

from filter import differential, oracle, testrun

pytestmark = pytest.mark.usefixtures("libpcap")


@pytest.fixture(autouse=True, scope="module")
def _savefiles_in_tmp(tmp_path_factory):
    oracle.use_scratch_dir(tmp_path_factory.mktemp("savefiles"))


@functools.cache
def results() -> list[tuple[testrun.TestrunCase, differential.CaseResult, list]]:
    from pcapy._filter import compile_filter

    out = []
    for item in testrun.accept_cases():
        packets = testrun.packets_for(item.case)
        out.append((item, differential.compare(item.case, packets, compile_filter), packets))
    return out


def test_the_fixture_has_every_tier1_expression():
    cases = testrun.accept_cases()
    assert len(cases) == 890  # shared/filtertests/README.md: ~890 of the 2,230 expressions
    assert {oracle.dlt_value(name) for name in oracle.TIER1_NAMES} == {c.case.dlt for c in cases}


def test_every_verdict_is_libpcaps():
    failures = []
    for _item, result, packets in results():
        failures += [d.describe() for d in differential.unexplained(result, packets)]
    assert not failures, f"{len(failures)} disagreements:\n" + "\n".join(failures[:40])


def test_most_pairs_are_compared():
    compared = [r for _, r, _ in results() if r.pairs and r.ours_unopt_error is None]
    pairs = sum(r.pairs for r in compared)
    print(f"accept: {len(compared)} expressions compared over {pairs} (expression, packet) pairs")
    # 890 expressions: all but libpcap 1.10.3's rejections and pcapy's unsupported ones
    assert len(compared) >= 600, len(compared)
    assert pairs >= 400_000, pairs


def test_libpcap_1_10_rejections_are_listed_with_their_reason():
    """Cases 1.10.3 rejects although master accepts them: each has a reason of its own."""
    rejected = [(item, r) for item, r, _ in results()
                if r.libpcap_unopt_error is not None and r.libpcap_opt_error is not None]
    reasons = {"names", "newer syntax", "private codegen flag", "other"}
    by_reason: dict[str, list[str]] = {reason: [] for reason in reasons}
    skips = {b["name"]: b for b in testrun.fixture()["accept"]}
    for item, r in rejected:
        block = skips[item.block]
        if differential.words(item.case.expression) & differential.NEWER_THAN_LIBPCAP_1_10:
            by_reason["newer syntax"].append(item.label)
        elif block["skip"] and ("file" in block["skip"] or "musl" in block["skip"]):
            by_reason["names"].append(item.label)  # host/net/ether names from system files
        elif block["linuxext"]:
            by_reason["private codegen flag"].append(item.label)
        else:
            by_reason["other"].append(f"{item.label}: {r.libpcap_unopt_error}")
    # pcapy's compiler refuses all of them too, except the syntax newer than 1.10.3
    for item, r in rejected:
        if item.label not in by_reason["newer syntax"]:
            assert r.ours_unopt_error is not None, item.label
    assert rejected, "libpcap 1.10.3 rejects some of master's accept cases (vxlan at least)"
    print({reason: len(labels) for reason, labels in by_reason.items()})
    print("\n".join(by_reason["other"]))


def test_what_pcapy_refuses_is_outside_tier1():
    refused = [(item, r) for item, r, _ in results()
               if r.libpcap_unopt_error is None and r.ours_unopt_error is not None]
    for item, r in refused:
        assert r.ours_unopt_error.startswith(differential.UNSUPPORTED), (item.label, r.ours_unopt_error)
        assert differential.uses_outside_tier1(item.case.expression), item.label


def test_libpcap_disagrees_with_itself_only_on_truncated_packets():
    """Where libpcap's optimised and unoptimised programs differ, the packet is cut short
    (its caplen below the wire length): the unoptimised program's extra load fails there."""
    for item, r, _ in results():
        for data, wirelen in r.libpcap_split:
            assert len(data) < wirelen or len(data) < 64, (item.label, data.hex())
