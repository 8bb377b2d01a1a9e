"""Deeply nested expressions: pcapy's compiler accepts what libpcap's parser accepts, and no more.

libpcap's parser is bison's, whose stack holds at most 10,000 states: past that libpcap refuses
with "memory exhausted". Each shape below nests one construct; the deepest nesting libpcap
accepts is found by bisection against libpcap itself, and at that depth (and at 200) pcapy's
programs give libpcap's verdicts on real packets of the corpus and generated ones, while one
level more is refused by both, with libpcap's message.
"""

from __future__ import annotations

import sys
from typing import Callable

import pytest

from filter import differential, oracle, testrun
from filter.generators import EN10MB, Case

pytestmark = pytest.mark.usefixtures("libpcap")

SHAPES: dict[str, Callable[[int], str]] = {
    "parentheses": lambda n: "(" * n + "tcp" + ")" * n,
    "not": lambda n: "not " * n + "udp",
    "not-in-parentheses": lambda n: "(not " * n + "ip" + ")" * n,
    "arithmetic-parentheses": lambda n: "(" * n + "ip[9]" + ")" * n + " = 6",
    "negation": lambda n: "-" * n + "ip[8] = 0",
    "vlan-number": lambda n: "vlan " + "(" * n + "1" + ")" * n,
    "not-host": lambda n: "host " + "not " * n + "10.0.0.1",
    "qualified-host": lambda n: "(" * n + "src or dst host 192.168.1.1" + ")" * n,
    "nested-loads": lambda n: "ip[" * n + "0" + "]" * n + " = 0x45",
}
# At their deepest these two compile to more than the 4,096 instructions (BPF_MAXINSNS) pcapy's
# compiler ever gives, which libpcap's pcap_compile does not check (docs/filters.md).
LONGER_THAN_THE_KERNEL_TAKES = {"negation", "nested-loads"}


def _libpcap_error(expression: str) -> str | None:
    import pcapy

    try:  # (no host names in these: straight to libpcap, without the oracle's DNS guard)
        pcapy.compile(EN10MB, oracle.TESTRUN_SNAPLEN, expression, 0, 0xFFFFFFFF,
                      compiler="libpcap")
    except pcapy.BPFError as err:
        return str(err)
    return None


# The deepest nesting of each shape libpcap's parser takes (found once by bisection against
# libpcap 1.10.3; bison's stack holds 10,000 states). The tests hold both parsers to it: each
# takes this depth and refuses one level more with "memory exhausted".
DEEPEST = {
    "parentheses": 9_995, "not": 9_996, "not-in-parentheses": 4_998,
    "arithmetic-parentheses": 9_993, "negation": 9_993, "vlan-number": 9_994,
    "not-host": 9_995, "qualified-host": 9_993, "nested-loads": 4_997,
}


@pytest.fixture(scope="module")
def deepest() -> dict[str, int]:
    assert set(DEEPEST) == set(SHAPES)
    return DEEPEST


def test_pcapys_parser_takes_the_deepest_and_refuses_one_more():
    from pcapy import BPFError
    from pcapy._filter import run_nested
    from pcapy._filter._parser import parse

    for shape, depth in DEEPEST.items():
        run_nested(parse, SHAPES[shape](depth))
        with pytest.raises(BPFError, match="memory exhausted"):
            run_nested(parse, SHAPES[shape](depth + 1))


@pytest.fixture(autouse=True, scope="module")
def _savefiles_in_tmp(tmp_path_factory):
    oracle.use_scratch_dir(tmp_path_factory.mktemp("savefiles"))


def _compare(expression: str) -> differential.CaseResult:
    from pcapy._filter import compile_filter

    case = Case(expression, EN10MB)
    packets = [*testrun.corpus_sample(EN10MB)[:150], *testrun.packets_for(case, 40)[-60:]]
    result = differential.compare(case, packets, compile_filter)
    assert result.ours_opt_error is None, result.ours_opt_error
    assert result.ours_unopt_error is None, result.ours_unopt_error
    assert result.pairs == len(packets)
    assert not differential.unexplained(result, packets), \
        "\n".join(d.describe() for d in result.disagreements[:5])
    return result


@pytest.mark.parametrize("shape", SHAPES)
def test_libpcaps_verdicts_at_depth_200(shape):
    _compare(SHAPES[shape](200))


@pytest.mark.parametrize("shape", SHAPES)
def test_libpcaps_verdicts_at_the_deepest_libpcap_accepts(shape, deepest):
    from pcapy import BPFError
    from pcapy._filter import compile_filter

    assert deepest[shape] >= 4_900  # two symbols a level at most: half of bison's stack
    expression = SHAPES[shape](deepest[shape])
    if shape not in LONGER_THAN_THE_KERNEL_TAKES:
        _compare(expression)
        return
    assert _libpcap_error(expression) is None
    with pytest.raises(BPFError, match=r"more than the 4096 \(BPF_MAXINSNS\)"):
        compile_filter(expression, EN10MB)


@pytest.mark.parametrize("shape", SHAPES)
def test_one_level_deeper_is_refused_with_libpcaps_message(shape, deepest):
    from pcapy import BPFError
    from pcapy._filter import compile_filter

    expression = SHAPES[shape](deepest[shape] + 1)
    message = _libpcap_error(expression)
    assert message == "can't parse filter expression: memory exhausted"
    for optimize in (True, False):
        with pytest.raises(BPFError) as refused:
            compile_filter(expression, EN10MB, optimize=optimize)
        assert str(refused.value) == message


def test_the_public_entry_points_take_it_and_leave_the_recursion_limit(deepest):
    import pcapy

    limit = sys.getrecursionlimit()
    expression = SHAPES["parentheses"](deepest["parentheses"])
    program = pcapy.compile(EN10MB, 65536, expression, 0, 0xFFFFFFFF, compiler="pcapy")
    instructions = program.get_bpf()
    assert set(instructions[-2:]) == {(6, 0, 0, 65536), (6, 0, 0, 0)}  # tcp: accept, reject
    assert pcapy.BPFProgram(expression, EN10MB, compiler="pcapy").get_bpf() == instructions
    assert sys.getrecursionlimit() == limit


def test_far_beyond_is_refused_quickly():
    from pcapy import BPFError
    from pcapy._filter import compile_filter

    for expression in ("(" * 30_000 + "tcp" + ")" * 30_000, "! " * 30_000 + "tcp"):
        with pytest.raises(BPFError, match="memory exhausted"):
            compile_filter(expression, EN10MB)
