"""Shared fixtures: the conformance corpus, libpcap availability, tool availability."""

from __future__ import annotations

import csv
import functools
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows keyed by path (e.g. 'pcap/afs.pcap')."""
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return {row["path"]: row for row in csv.DictReader(lines, delimiter="\t")}


def corpus_files(folder: str, fmt: str | None = None) -> list[str]:
    if not CORPUS.is_dir():
        return []
    rows = manifest().values()
    return sorted(r["path"] for r in rows if r["path"].startswith(folder + "/") and (fmt is None or r["format"] == fmt))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the conformance corpus is not at {CORPUS}")
    return CORPUS


def pytest_configure(config: pytest.Config) -> None:
    """Python's usual Ctrl-C handler, even in a run started with SIGINT ignored.

    Tests send SIGINT to this process and to the children it starts and expect a
    KeyboardInterrupt. A shell without job control starts a background job (``cmd &`` in a
    script) with SIGINT ignored, and then Python installs no handler and its children inherit
    the ignored signal; with a handler here, children start with the default again (exec).
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Live tests in one pytest-xdist group (scripts/test runs the traced pass on several
    workers with ``--dist loadgroup``): they run one after another on one worker, so that no
    two captures on ``lo`` or two namespace labs are ever set up at once; the others spread."""
    for item in items:
        if item.get_closest_marker("live") is not None:
            item.add_marker(pytest.mark.xdist_group("live"))


def libpcap_available() -> bool:
    import pcapy._libpcap as lp

    try:
        lp.load()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def libpcap() -> None:
    if not libpcap_available():
        pytest.skip("libpcap cannot be loaded on this machine")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def tcpdump() -> str:
    return require_tool("tcpdump")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


TIME_LIMIT = 30  # seconds for one live test; the slowest takes a few seconds


@pytest.fixture(autouse=True)
def _time_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a live test that runs past ``TIME_LIMIT`` instead of hanging the whole run.

    SIGALRM's handler raises in the main thread, which pcapy's waits let through (that is
    what they are built for), so even a capture stuck waiting ends with a clear error.
    """
    if request.node.get_closest_marker("live") is None or not hasattr(signal, "SIGALRM"):
        yield
        return

    marker = request.node.get_closest_marker("time_limit")
    limit = int(marker.args[0]) if marker is not None else TIME_LIMIT

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"live test ran past {limit} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def _tracing_kept() -> Iterator[None]:
    """Fail a test that leaves this thread's trace function changed, and put it back.

    scripts/test measures coverage with coverage.py's tracer (``sys.settrace``): a test that
    drops it (pdb's ``continue`` does) would leave every later test in this process unmeasured,
    and the report would call code never run that the suite runs.
    """
    tracer = sys.gettrace()
    yield
    left = sys.gettrace()
    if left is not tracer:
        sys.settrace(tracer)
        pytest.fail(f"the test left the trace function changed ({tracer!r} -> {left!r})")
