"""The leak check of stress/leaks.py, bounded for CI: the same workloads, a few seconds each.

300,000 packets read (every reading mode, with and without filters), 3,000 reader, dumper and
filter open/close cycles (closed by ``close()``, ``with``, reference counting and the cycle
collector) and, as root, 200 live handles on ``lo`` (about 40 ms each, nearly all of it in the
kernel). RSS may not grow by more than 16 MiB over a workload, tracemalloc must find nothing
still allocated once it is over, and no descriptor may be left open. Each result line is
printed (``pytest -rP`` shows them); the long runs are in stress/README.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from conftest import REPO, is_root, libpcap_available

RSS_LIMIT = 16 << 20
# Bytes tracemalloc may still see once a workload is over. The record loops compiled for the
# last 64 filters stay cached (with their sources in linecache), up to ~0.35 MiB whatever the
# workload's length: a leak of even 200 bytes a cycle (3,000 cycles) is over the limit.
STILL_ALLOCATED_LIMIT = 512 << 10


def load_stress_module() -> ModuleType:
    path = REPO / "stress" / "leaks.py"
    spec = importlib.util.spec_from_file_location("pcapy_stress_leaks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building a class
    spec.loader.exec_module(module)
    return module


leaks = load_stress_module()
pytestmark = pytest.mark.untraced  # tracemalloc would count coverage's own allocations
needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="needs /proc to read the current RSS")


def check(result: object) -> None:
    print(f"[measured] {result.line()}")  # type: ignore[attr-defined]
    assert result.rss_growth < RSS_LIMIT, result.line()  # type: ignore[attr-defined]
    assert result.traced_current < STILL_ALLOCATED_LIMIT, result.line()  # type: ignore[attr-defined]
    assert result.fds_end <= result.fds_start, result.line()  # type: ignore[attr-defined]


@needs_proc
def test_reading_300k_packets(tmp_path: Path) -> None:
    capture = leaks.make_capture(tmp_path / "read.pcap", 60_000)
    check(leaks.read_workload(capture, 300_000, filters=libpcap_available()))


@needs_proc
# A reader dropped inside a reference cycle is closed by the collector, but its file object's
# own finalizer may run first and say so with a ResourceWarning (see stress/README.md). As an
# error, each warning would be kept, with its file, by pytest's unraisable-exception hook, and
# look like a leak.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_3k_open_close_cycles(tmp_path: Path) -> None:
    small = leaks.make_capture(tmp_path / "small.pcap", 20)
    check(leaks.cycles_workload(small, tmp_path, 3_000))


@needs_proc
@pytest.mark.live
@pytest.mark.skipif(not (is_root() and libpcap_available()),
                    reason=f"live capture needs root and libpcap; running as uid {os.geteuid()}")
def test_200_live_handles_on_lo() -> None:
    check(leaks.live_workload(200))
