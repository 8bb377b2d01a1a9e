#!/usr/bin/env python3
"""Profile our pcapy's hot paths with cProfile: ``profile_paths.py FILE [MODE ...]``.

Run it with the benchmark venv's Python so it profiles the built package, e.g.
``bench/.venvs/pcapy/bin/python bench/profile_paths.py bench/data/300000-usec.pcap``.
Modes: next, loop, iter, filter, dump (default: all). Prints the top functions by own time
(``tottime``) for each. cProfile adds a fixed cost per Python call, so the shares it shows are
inflated for code made of many small calls; compare them with the plain timings of run.py.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from typing import Any, Callable

import pcapy


def do_next(path: str) -> None:
    reader = pcapy.open_offline(path)
    hdr, _data = reader.next()
    while hdr is not None:
        hdr.getlen()
        hdr, _data = reader.next()


def do_loop(path: str) -> None:
    pcapy.open_offline(path).loop(-1, lambda hdr, _data: hdr.getlen())


def do_iter(path: str) -> None:
    reader = pcapy.open_offline(path)  # keep a reference: see the note in bench/README.md
    for hdr, _data in reader:
        hdr.getlen()


def do_filter(path: str) -> None:
    reader = pcapy.open_offline(path)
    reader.setfilter("tcp port 80")
    reader.loop(-1, lambda hdr, _data: hdr.getlen())


def do_dump(path: str) -> None:
    reader = pcapy.open_offline(path)
    fd, out = tempfile.mkstemp(suffix=".pcap", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.close(fd)
    try:
        dumper = reader.dump_open(out)
        dump = dumper.dump

        def callback(hdr: Any, data: bytes) -> None:
            hdr.getlen()
            dump(hdr, data)

        reader.loop(-1, callback)
        dumper.close()
    finally:
        os.unlink(out)


MODES: dict[str, Callable[[str], None]] = {
    "next": do_next, "loop": do_loop, "iter": do_iter, "filter": do_filter, "dump": do_dump}


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path, modes = sys.argv[1], sys.argv[2:] or list(MODES)
    print(f"pcapy {pcapy.__version__} from {pcapy.__file__}")
    for mode in modes:
        start = time.perf_counter()
        MODES[mode](path)
        plain = time.perf_counter() - start
        profiler = cProfile.Profile()
        profiler.enable()
        MODES[mode](path)
        profiler.disable()
        print(f"\n===== {mode}: {plain:.3f} s without the profiler =====")
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
