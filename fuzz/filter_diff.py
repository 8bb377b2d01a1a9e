"""The long differential run: pcapy's filter compiler against libpcap, verdict for verdict.

    python fuzz/filter_diff.py --pairs 1000000 --seed 1 --report REPORT.txt

Draws expressions from tests/filter/generators.py's grammar (tier 1, random link type, netmask
and savefile byte order), builds ``--packets-per-case`` packets from each expression's constants
and three random truncations of each (so 4 x that many pairs per expression), and compares, for
every (expression, packet) pair, the verdicts of libpcap 1.10.3's optimised and unoptimised
programs (``pcap_compile`` + libpcap's own interpreter) with pcapy's compiler's optimised and
unoptimised programs (on pcapy's executor and on libpcap's interpreter), plus reject parity
(tests/filter/differential.py). It stops after ``--pairs`` pairs whose verdicts were compared.

The report (rewritten every ``--every`` seconds and at the end) lists every disagreement that is
not allowed, grouped by kind, with expression, link type, packet hex and both verdicts; then the
allowed ones (libpcap's optimised and unoptimised programs disagreeing with each other, or
looping) by expression. Exit status 1 if any disagreement is not allowed.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from filter import differential, generators


@dataclass
class Tally:
    """What the run has seen so far."""

    started: float = field(default_factory=time.monotonic)
    cases: int = 0
    compiled_by_both: int = 0
    pairs: int = 0
    rejected_by_both: int = 0
    categories: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[differential.Disagreement] = field(default_factory=list)
    libpcap_split: dict[str, int] = field(default_factory=dict)
    libpcap_loops: dict[str, int] = field(default_factory=dict)
    allowed: list[str] = field(default_factory=list)


def run_case(rng: random.Random, expressions: generators.ExpressionGenerator,
             packets_per_case: int, tally: Tally) -> None:
    from pcapy._filter import compile_filter  # noqa: PLC0415 - the tree under test

    case = expressions.case()
    packets = generators.PacketGenerator(rng, generators.seeds_from_expression(case.expression))
    batch = [packets.packet(case.dlt, case.savefile_swapped) for _ in range(packets_per_case)]
    batch = generators.with_truncations(batch, rng, 3)  # what a short packet does matters most
    result = differential.compare(case, batch, compile_filter)
    tally.cases += 1
    if result.libpcap_unopt_error is not None and result.ours_unopt_error is not None:
        tally.rejected_by_both += 1
    if result.ours_unopt_error is None and result.libpcap_unopt_error is None:
        tally.compiled_by_both += 1
        tally.pairs += result.pairs
    for disagreement in result.disagreements:
        reason = differential.explained(disagreement, result, batch, outside_allowed=False)
        if reason is None:
            tally.failures.append(disagreement)
        else:
            tally.categories[reason.split(":")[0]] += 1
            tally.allowed.append(f"{reason} -- {disagreement.case.expression!r} on "
                                 f"{differential.DLT_NAMES[disagreement.case.dlt]}")
    name = f"{case.expression!r} on {differential.DLT_NAMES[case.dlt]}"
    if result.libpcap_split:
        tally.libpcap_split[name] = len(result.libpcap_split)
    if result.libpcap_loops:
        tally.libpcap_loops[name] = len(result.libpcap_loops)


def report(tally: Tally, args: argparse.Namespace, finished: bool) -> str:
    elapsed = time.monotonic() - tally.started
    lines = [
        "pcapy filter compiler vs libpcap 1.10.3: differential run "
        f"({'finished' if finished else 'in progress'})",
        f"command: python fuzz/filter_diff.py --pairs {args.pairs} --seed {args.seed} "
        f"--packets-per-case {args.packets_per_case}",
        f"elapsed {elapsed:.0f} s; {tally.cases} expressions, {tally.compiled_by_both} compiled "
        f"by both, {tally.rejected_by_both} rejected by both; {tally.pairs} (expression, packet) "
        "pairs compared",
        f"disagreements not allowed: {len(tally.failures)}",
        f"allowed reject-parity differences: {dict(tally.categories)}",
        f"expressions where libpcap's optimised and unoptimised programs disagree: "
        f"{len(tally.libpcap_split)}; where libpcap's program loops forever: "
        f"{len(tally.libpcap_loops)}",
        "",
    ]
    groups: dict[str, list[differential.Disagreement]] = collections.defaultdict(list)
    for failure in tally.failures:
        groups[failure.kind].append(failure)
    for kind, failures in sorted(groups.items()):
        lines.append(f"== {kind}: {len(failures)} ==")
        seen: set[tuple[str, str, int]] = set()
        for failure in failures:
            if failure.key() in seen:
                continue  # one packet per expression is enough to reproduce it
            seen.add(failure.key())
            lines += [failure.describe(), ""]
    lines.append("== allowed: libpcap's optimised and unoptimised compiles disagree ==")
    lines += sorted(tally.allowed)
    lines.append("== allowed: libpcap's optimised and unoptimised programs disagree ==")
    lines += [f"{name}: {count} packets" for name, count in sorted(tally.libpcap_split.items())]
    lines.append("== allowed: libpcap's program never returns (pcapy's loops the same way) ==")
    lines += [f"{name}: {count} packets" for name, count in sorted(tally.libpcap_loops.items())]
    return "\n".join(lines) + "\n"


def write_report(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--packets-per-case", type=int, default=100)
    parser.add_argument("--report", type=Path, required=True,
                        help="where to write the report, e.g. /tmp/filterverify-report.txt")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between reports")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    expressions = generators.ExpressionGenerator(rng)
    tally = Tally()
    next_report = time.monotonic() + args.every
    while tally.pairs < args.pairs:
        run_case(rng, expressions, args.packets_per_case, tally)
        if time.monotonic() >= next_report:
            write_report(args.report, report(tally, args, finished=False))
            sys.stdout.write(f"{tally.cases} expressions, {tally.pairs} pairs, "
                             f"{len(tally.failures)} disagreements\n")
            sys.stdout.flush()
            next_report = time.monotonic() + args.every
    text = report(tally, args, finished=True)
    write_report(args.report, text)
    sys.stdout.write(text)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
