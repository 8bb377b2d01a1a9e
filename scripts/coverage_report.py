"""Coverage of the test run: src/pcapy (lines and branches) and the generated variants.

Run by scripts/test after pytest ran under ``coverage run`` with ``PCAPY_CODEGEN_DIR`` set, so
every variant pcapy._codegen compiled was also written to that directory and measured from
there. Prints the report for src/pcapy and a summary of the generated code by family (such as
``pcap driver inlined``), and exits non-zero when src/pcapy is under the floor (``fail_under``
in pyproject.toml) or when a family of generated code was never compiled or none of its
variants ever ran.

    python scripts/coverage_report.py GENERATED_DIR
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import coverage


def first_body_line(source: str) -> int:
    """The first statement of the innermost function: reached only when the variant runs."""
    functions = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)]
    return max(function.body[0].lineno for function in functions)


def family_runs(data: coverage.CoverageData, directory: Path) -> dict[str, list[bool]]:
    """For each family of variants (``pcap driver inlined``...), whether each one compiled ran.

    A variant's file is named after its family and a digest of its source (pcapy._codegen).
    """
    executed = {Path(name).resolve(): data.lines(name) or [] for name in data.measured_files()}
    families: dict[str, list[bool]] = {}
    for path in sorted(directory.glob("*.py")):
        start = first_body_line(path.read_text(encoding="utf-8"))
        ran = any(line >= start for line in executed.get(path.resolve(), []))
        family = path.stem.rsplit("_", 1)[0].replace("_", " ")
        families.setdefault(family, []).append(ran)
    return families


#: The floor for a run as an ordinary user: the live tests skip (capturing needs root), so the
#: live-capture code is never run; measured 73.5% so on the whole suite, 2026-12-06.
UNPRIVILEGED_FLOOR = 72.0


def floor_for_this_user(fail_under: object) -> tuple[float, str]:
    """The floor that applies to this run (pyproject's ``fail_under`` as root, the lower
    ``UNPRIVILEGED_FLOOR`` otherwise) and a note saying which it is."""
    floor = float(fail_under) if isinstance(fail_under, (int, float)) else 0.0
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return floor, ""
    return (min(floor, UNPRIVILEGED_FLOOR),
            f" for an ordinary user, whose run skips the live tests; {floor:g}% as root")


def main() -> int:
    directory = Path(sys.argv[1])
    cov = coverage.Coverage()
    cov.load()
    src = str(Path("*", "src", "pcapy", "*"))
    status = 0
    try:
        total = cov.report(include=[src], skip_covered=True, show_missing=False)
    except coverage.exceptions.CoverageException as error:  # under fail_under
        print(f"coverage: {error}")
        status = 1
    else:
        floor, whose = floor_for_this_user(cov.get_option("report:fail_under"))
        print(f"coverage of src/pcapy: {total:.1f}% (lines and branches; floor {floor:g}%{whose})")
        if total < floor:
            status = 1
    generated = str(directory.resolve() / "*")
    try:
        rate = cov.report(include=[generated], file=_Discard())
    except coverage.exceptions.NoDataError:
        rate = 0.0
    families = family_runs(cov.get_data(), directory)
    compiled = sum(len(runs) for runs in families.values())
    ran = sum(sum(runs) for runs in families.values())
    print(f"generated code: {len(families)} families, {compiled} distinct variants compiled, "
          f"{ran} of them run; {rate:.1f}% of their lines and branches")
    for family, runs in sorted(families.items()):
        print(f"  {family:32} {sum(runs):4} of {len(runs):4} run")
    idle = [family for family, runs in families.items() if not any(runs)]
    if idle:
        print("families compiled but never run: " + ", ".join(sorted(idle)))
        status = 1
    missing = sorted(expected_families() - set(families))
    if missing:
        print("families no test compiled: " + ", ".join(missing))
        status = 1
    return status


def expected_families() -> set[str]:
    """Every family the generators have (``python -m pcapy._codegen list``), each record loop
    without a filter, with one inlined and with one called."""
    from pcapy._codegen.__main__ import FAMILIES  # noqa: PLC0415 - pcapy is the venv's

    expected = set()
    for family in FAMILIES:
        shapes = [""] if family.startswith("bpf") else ["", " inlined", " called"]
        expected.update(family + shape for shape in shapes)
    return expected


class _Discard:
    def write(self, _text: str) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
