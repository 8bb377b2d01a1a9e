"""libpcap's TESTrun reject tests on tier-1 link types: reject parity with libpcap 1.10.3.

TESTrun's reject tests compile optimised (filtertest's default). For each, pcapy's compiler
and libpcap 1.10.3 must both refuse the expression, or both compile it (master refuses a few
that 1.10.3 still compiles: those are counted). The accept blocks on every other link type
(``outside`` in the fixture) must be refused by pcapy's compiler with a BPFError.
"""

from __future__ import annotations

import functools

import pytest

import pcapy
from filter import differential, oracle, testrun

pytestmark = pytest.mark.usefixtures("libpcap")


def compiles_ours(expression: str, dlt: int, netmask: int) -> str | None:
    from pcapy._filter import compile_filter

    try:
        compile_filter(expression, dlt, optimize=True, netmask=netmask)
    except pcapy.BPFError as err:
        return str(err)
    return None


def compiles_libpcap(expression: str, dlt: int, netmask: int) -> str | None:
    try:
        oracle.compile_reference(expression, dlt, optimize=True, netmask=netmask)
    except oracle.Rejected as err:
        return str(err)
    return None


@functools.cache
def reject_outcomes() -> list[tuple[dict, str | None, str | None]]:
    out = []
    for case in testrun.fixture()["reject"]:
        dlt, netmask = oracle.dlt_value(case["DLT"]), oracle.parse_netmask(case["netmask"])
        out.append((case, compiles_libpcap(case["expr"], dlt, netmask),
                    compiles_ours(case["expr"], dlt, netmask)))
    return out


def unsupported(case: dict, lib: str | None, ours: str | None) -> bool:
    """libpcap 1.10.3 compiles it, pcapy's compiler says it does not implement it (not tier 1)."""
    return (lib is None and ours is not None and ours.startswith(differential.UNSUPPORTED)
            and differential.uses_outside_tier1(case["expr"]))


def test_reject_parity():
    outcomes = reject_outcomes()
    assert len(outcomes) == 3456
    mismatched = [f"{case['name']} {case['DLT']} {case['expr']!r}: libpcap "
                  f"{lib or 'compiles'}, pcapy {ours or 'compiles'}"
                  for case, lib, ours in outcomes
                  if (lib is None) != (ours is None) and not unsupported(case, lib, ours)]
    assert not mismatched, f"{len(mismatched)} differ:\n" + "\n".join(mismatched[:40])


def test_most_rejects_are_rejected_by_both():
    outcomes = reject_outcomes()
    both = sum(1 for _case, lib, ours in outcomes if lib is not None and ours is not None)
    compiled = sum(1 for _case, lib, ours in outcomes if lib is None and ours is None)
    refused = sum(1 for case, lib, ours in outcomes if unsupported(case, lib, ours))
    print(f"reject: {both} rejected by both, {compiled} compiled by both (master rejects them, "
          f"libpcap 1.10.3 does not), {refused} compiled by 1.10.3 and outside pcapy's tier 1")
    assert both + compiled + refused == len(outcomes)
    assert both >= 3350


def test_every_other_link_type_is_refused():
    refused = 0
    for block in testrun.fixture()["outside"]:
        dlt = oracle.dlt_value(block["DLT"])
        for expression in block["aliases"]:
            message = compiles_ours(expression, dlt, oracle.PCAP_NETMASK_UNKNOWN)
            assert message is not None, f"{block['name']} on {block['DLT']}: {expression!r}"
            refused += 1
    assert refused == 1340
