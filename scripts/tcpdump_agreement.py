"""How many of tcpdump's packet lines ``pcapy -r`` prints identically, per corpus file and overall.

For every capture under the corpus's ``pcap/`` and ``pcapng/`` folders that tcpdump prints at
least one line for, runs ``tcpdump -nn -r FILE`` and ``python -m pcapy -r FILE`` (TZ=UTC, the same
extra options for both) and compares their standard output line by line, aligned with
``difflib`` (a missing or extra line costs one line, not the rest of the file). A file counts
as identical when both outputs are equal byte for byte.

    python scripts/tcpdump_agreement.py [--corpus DIR] [--json] [-- TCPDUMP/PCAPY OPTIONS]

The last line is ``overall: MATCHED/TOTAL lines (P%), I/N files identical``.
tests/cli/test_agreement.py asserts the overall fraction stays above a floor.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FOLDERS = ("pcap", "pcapng")
ENV = {**os.environ, "TZ": "UTC"}


@dataclass
class FileAgreement:
    """One file's result: tcpdump's line count, how many pcapy printed identically."""

    name: str
    tcpdump_lines: int
    matched_lines: int
    identical: bool


def output_lines(command: list[str], timeout: float = 120) -> list[bytes]:
    """The command's standard output, split into lines."""
    result = subprocess.run(command, capture_output=True, env=ENV, timeout=timeout, check=False)
    return result.stdout.splitlines()


def compare(path: Path, name: str, options: list[str]) -> FileAgreement:
    """tcpdump's and pcapy's output for one file, compared."""
    theirs = output_lines(["tcpdump", "-nn", *options, "-r", str(path)])
    ours = output_lines([sys.executable, "-m", "pcapy", *options, "-r", str(path)])
    matcher = difflib.SequenceMatcher(None, theirs, ours, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return FileAgreement(name, len(theirs), matched, theirs == ours)


def corpus_files(corpus: Path) -> list[tuple[Path, str]]:
    """(path, name relative to the corpus) of every capture in the compared folders."""
    return [(path, f"{folder}/{path.name}") for folder in FOLDERS
            for path in sorted((corpus / folder).iterdir()) if path.is_file()]


def measure(corpus: Path, options: list[str], jobs: int = 2) -> list[FileAgreement]:
    """Every corpus file tcpdump prints something for, compared."""
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        results = pool.map(lambda item: compare(*item, options), corpus_files(corpus))
        return [result for result in results if result.tcpdump_lines]


def totals(results: list[FileAgreement]) -> tuple[int, int, int, int]:
    """(matched lines, tcpdump's lines, identical files, files)."""
    return (sum(r.matched_lines for r in results), sum(r.tcpdump_lines for r in results),
            sum(r.identical for r in results), len(results))


def summary_line(results: list[FileAgreement]) -> str:
    """``overall: M/T lines (P%), I/N files identical``."""
    matched, lines, identical, files = totals(results)
    share = 100 * matched / lines if lines else 100.0
    return (f"overall: {matched}/{lines} lines ({share:.1f}%), "
            f"{identical}/{files} files identical")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("options", nargs="*", help="options given to both programs")
    args = parser.parse_args()
    if shutil.which("tcpdump") is None:
        parser.error("tcpdump is not installed")
    results = measure(args.corpus, args.options)
    for result in results:
        if args.json:
            print(json.dumps(asdict(result)))
        else:
            mark = "=" if result.identical else " "
            print(f"{mark} {result.matched_lines:5d}/{result.tcpdump_lines:<5d} {result.name}")
    print(summary_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
