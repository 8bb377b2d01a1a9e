#!/usr/bin/env python3
"""Two builds of our pcapy in one process, their passes alternating: which one is faster.

    python bench/ab_trees.py OLD_SITE_PACKAGES NEW_SITE_PACKAGES [--reps 41] [--packets 300000]

Each SITE_PACKAGES holds an installed pcapy (``pip install --target DIR PATH`` or a venv's
``site-packages``). Both are imported into this process under the name ``pcapy`` (each build's
modules are put back in ``sys.modules`` before its pass, so its lazy imports find its own), and
each repetition runs every mode once with each build, the order alternating. The report gives,
per mode, the best CPU time a packet of each build (user + system, ``getrusage``) and their
difference.

Why in one process: on a shared VM a pass's time moves by +-30% from one process to the next
(the host, the CPU's clock), more than the differences that matter (a few percent). Passes
alternating in one process, on one pinned CPU, meet the same conditions; the best of many is
each build's cost without interference. Uses the files of ``bench/run.py`` (``bench/data``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import resource
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_CPU, pin_cpu

DATA = Path(__file__).resolve().parent / "data"
SKIPPED = ("arrow", "dask", "__main__", "_cli")  # optional extras and the command line
BATCH = struct.Struct("=IIII")
MODES = (("next", "usec.pcap"), ("loop", "usec.pcap"), ("iter", "usec.pcap"),
         ("filter", "usec.pcap"), ("batch", "usec.pcap"), ("next", "nsec.pcap"),
         ("next", "usec.pcapng"), ("loop", "usec.pcapng"))


def load(site: str) -> tuple[ModuleType, dict[str, ModuleType]]:
    """Import the pcapy in ``site`` and all its modules; return it and its ``sys.modules``."""
    for name in [name for name in sys.modules if name.split(".")[0] == "pcapy"]:
        del sys.modules[name]
    sys.path.insert(0, site)
    try:
        package = importlib.import_module("pcapy")
        for info in pkgutil.walk_packages(package.__path__, "pcapy."):
            if not any(part in SKIPPED for part in info.name.split(".")):
                import_unless_optional(info.name)
    finally:
        sys.path.remove(site)
    return package, {name: module for name, module in sys.modules.items()
                     if name.split(".")[0] == "pcapy"}


def import_unless_optional(name: str) -> None:
    """Import a module of pcapy, unless it needs an extra this interpreter lacks (numpy...)."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if (missing.name or "pcapy").split(".")[0] == "pcapy":
            raise


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_pass(pcapy: Any, mode: str, path: Path) -> int:
    """Read the whole file in ``mode``; the sum of the lengths seen (so nothing is skipped)."""
    reader = pcapy.open_offline(str(path))
    total = 0
    if mode == "iter":
        for hdr, _data in reader:
            total += hdr.getlen()
    elif mode == "next":
        hdr, _data = reader.next()
        while hdr is not None:
            total += hdr.getlen()
            hdr, _data = reader.next()
    elif mode == "batch":
        buffer, meta = reader.next_batch(1024)
        while meta:
            view = memoryview(buffer)
            for _sec, _usec, offset, caplen in BATCH.iter_unpack(meta):
                total += len(view[offset:offset + caplen])
            buffer, meta = reader.next_batch(1024)
    else:  # loop, filter
        if mode == "filter":
            reader.setfilter("tcp port 443")

        def callback(hdr: Any, _data: bytes) -> None:
            nonlocal total
            total += hdr.getlen()

        reader.loop(-1, callback)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--reps", type=int, default=41)
    parser.add_argument("--packets", type=int, default=300_000)
    args = parser.parse_args()
    pin_cpu(BENCH_CPU)
    builds = {"old": load(args.old), "new": load(args.new)}
    best: dict[tuple[str, str], dict[str, float]] = {}
    for rep in range(args.reps):
        for mode, suffix in MODES:
            path = DATA / f"{args.packets}-{suffix}"
            totals = set()
            for name in ("old", "new") if rep % 2 == 0 else ("new", "old"):
                package, modules = builds[name]
                sys.modules.update(modules)
                started = cpu_seconds()
                totals.add(one_pass(package, mode, path))
                cost = (cpu_seconds() - started) * 1e9 / args.packets
                slot = best.setdefault((mode, suffix), {})
                slot[name] = min(slot.get(name, cost), cost)
            if len(totals) != 1:
                raise SystemExit(f"{mode} {suffix}: the builds read different packets")
    print(f"best of {args.reps}, CPU ns a packet (user + system), pinned to CPU {BENCH_CPU}")
    for (mode, suffix), cost in best.items():
        change = cost["new"] / cost["old"] - 1
        print(f"{mode:7} {suffix:12} old {cost['old']:6.0f}  new {cost['new']:6.0f}  {change:+.1%}")


if __name__ == "__main__":
    main()
