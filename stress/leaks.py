#!/usr/bin/env python3
"""Long-run leak check: memory and descriptors stay flat over millions of operations.

Three workloads, each measured on its own after a warm-up (so caches, imports and libpcap's
first-use allocations are not counted):

- ``read``: ``--packets`` packets (default 10,000,000) read from a generated capture, re-read
  as often as needed, cycling through every way of reading (iteration, ``next()``, ``loop()``,
  ``dispatch()``, ``next_batch()``, each with and without a filter);
- ``cycles``: ``--cycles`` (default 100,000) open/use/close cycles of a reader, a dumper (pcap
  and pcapng) and a compiled filter, closed in turn by ``close()``, by a ``with`` block, by
  reference counting and by the cycle collector;
- ``live``: ``--live-handles`` (default 10,000) live handles on ``lo`` opened, used (filter,
  stats, a non-blocking read) and closed the same three ways (root only; skipped otherwise).

Each prints the resident set size (RSS) before and after, tracemalloc's current and peak
traced memory over the workload, and the open descriptors before and after. The exit status
is 1 if any RSS grew by more than ``--limit-mib`` (default 16) or a descriptor was left open.
See stress/README.md; tests/test_leaks_bounded.py runs the same workloads, smaller, in CI.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pcapy

REPO = Path(__file__).resolve().parents[1]
GEN_PCAP = REPO.parent / "shared" / "bench" / "gen_pcap.py"
MIB = 1 << 20
CB = lambda _hdr, _data: None  # noqa: E731


def rss_bytes() -> int:
    """The current resident set size (Linux /proc; elsewhere the peak, from getrusage)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource  # noqa: PLC0415 - POSIX only

        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def open_fds() -> int:
    """How many descriptors this process has open (-1 where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


@dataclass
class Measurement:
    name: str
    work: str
    seconds: float
    rss_start: int
    rss_end: int
    traced_current: int
    traced_peak: int
    fds_start: int
    fds_end: int

    @property
    def rss_growth(self) -> int:
        return self.rss_end - self.rss_start

    def line(self) -> str:
        return (f"{self.name:<6} {self.work} in {self.seconds:.1f} s: "
                f"RSS {self.rss_start / MIB:.1f} -> {self.rss_end / MIB:.1f} MiB "
                f"({self.rss_growth / MIB:+.1f}); tracemalloc current "
                f"{self.traced_current / MIB:.2f} MiB, peak {self.traced_peak / MIB:.2f} MiB; "
                f"fds {self.fds_start} -> {self.fds_end}")


def measure(name: str, work: str, run: Callable[[], object],
            warm_up: Callable[[], object]) -> Measurement:
    """Warm up, then run the workload under tracemalloc, with RSS and fds around it."""
    warm_up()
    gc.collect()
    rss_start, fds_start = rss_bytes(), open_fds()
    started = time.monotonic()
    tracemalloc.start()
    try:
        run()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.monotonic() - started
    return Measurement(name, work, seconds, rss_start, rss_bytes(), current, peak, fds_start,
                       open_fds())


# -- the capture to read -----------------------------------------------------------------------
def make_capture(path: Path, count: int) -> Path:
    """A realistic capture of ``count`` packets: the shared generator if present, else our own."""
    if GEN_PCAP.is_file():
        subprocess.run([sys.executable, str(GEN_PCAP), str(path), "--count", str(count)],
                       check=True, capture_output=True)
        return path
    frame = bytes.fromhex("001122334455 66778899aabb 0800".replace(" ", "")) + bytes(86)
    records = b"".join(struct.pack("<IIII", 1_700_000_000 + n // 1000, n % 1000 * 1000,
                                   len(frame), len(frame)) + frame for n in range(count))
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + records)
    return path


# -- workload 1: reading -----------------------------------------------------------------------
def _iterate(reader: pcapy.Reader) -> int:
    return sum(1 for _ in reader)


def _next(reader: pcapy.Reader) -> int:
    count, read = 0, reader.next
    while read()[0] is not None:
        count += 1
    return count


def _loop(reader: pcapy.Reader) -> int:
    seen = [0]

    def callback(_hdr: object, _data: bytes) -> None:
        seen[0] += 1

    reader.loop(-1, callback)
    return seen[0]


def _dispatch(reader: pcapy.Reader) -> int:
    count = 0
    while (got := reader.dispatch(1000, CB)) > 0:
        count += got
    return count


def _next_batch(reader: pcapy.Reader) -> int:
    count = 0
    while meta := reader.next_batch(4096)[1]:
        count += len(meta) // 16
    return count


READ_MODES = (_iterate, _next, _loop, _dispatch, _next_batch)


def read_packets(path: Path, total: int, *, filters: bool) -> int:
    """Read ``path`` over and over, cycling through the reading modes, until ``total`` packets
    have been read (filtered passes count the packets the file holds, read or not)."""
    read, file_packets, rounds = 0, 0, 0
    while read < total:
        mode = READ_MODES[rounds % len(READ_MODES)]
        with pcapy.open_offline(str(path)) as reader:
            if filters and rounds % 2:
                reader.setfilter("tcp port 80" if rounds % 4 == 1 else "udp or icmp")
                got = mode(reader)
                read += file_packets or got
            else:
                got = mode(reader)
                file_packets = file_packets or got
                read += got
        rounds += 1
    return read


def read_workload(path: Path, total: int, *, filters: bool = True) -> Measurement:
    """Read ``total`` packets of ``path``, after reading all of it once in every mode (with and
    without a filter), so that the high-water mark of the allocator is reached beforehand and
    only growth from then on is counted."""
    with pcapy.open_offline(str(path)) as reader:
        file_packets = sum(1 for _ in reader)
    warm_up_packets = 2 * len(READ_MODES) * file_packets
    return measure("read", f"{total:,} packets", lambda: read_packets(path, total, filters=filters),
                   lambda: read_packets(path, warm_up_packets, filters=filters))


# -- workload 2: open/close cycles -------------------------------------------------------------
def _finish(obj: object, i: int) -> None:
    """End an object's life the i-th way: close(), or leave it to refcounting or the GC."""
    way = i % 3
    if way == 0:
        obj.close()  # type: ignore[attr-defined]
    elif way == 2:
        cycle: list[object] = [obj]
        cycle.append(cycle)  # only the cycle collector frees this one
    # way 1: dropped here, freed by reference counting


def one_cycle(i: int, capture: Path, out_dir: Path, with_libpcap: bool) -> None:
    """Open, use and end a reader, a dumper and (with libpcap) a filter."""
    if i % 4 == 1:
        with pcapy.open_offline(str(capture)) as reader:
            hdr, data = reader.next()
    else:
        reader = pcapy.open_offline(str(capture))
        hdr, data = reader.next()
        _finish(reader, i)
    # A new name each time: re-truncating one file makes ext4 flush it on close (auto_da_alloc),
    # which would dominate the run. A str, not a Path: pathlib interns every name it parses,
    # and the interning table's growth would be counted here.
    path = os.path.join(out_dir, f"cycle-{i}.{'pcapng' if i % 2 else 'pcap'}")
    if i % 4 == 3:
        with pcapy.Dumper(path) as dumper:
            dumper.dump(hdr, data)
    else:
        dumper = pcapy.Dumper(path)
        dumper.dump(hdr, data)
        _finish(dumper, i)
    os.unlink(path)
    if with_libpcap:
        program = pcapy.compile(pcapy.DLT_EN10MB, 65535, f"udp port {i % 50_000 + 1}", 1, 0)
        program.filter(data)
        if i % 4 == 0:  # a new program makes a new record loop: a bounded cache of 64 of them
            with pcapy.open_offline(str(capture)) as reader:
                reader.setfilter(program)
                reader.next()
    if i % 1000 == 999:
        gc.collect()  # as the collector would: the cycles above are freed here


def run_cycles(count: int, capture: Path, out_dir: Path, start: int = 0) -> None:
    with_libpcap = libpcap_loads()
    for i in range(start, start + count):
        one_cycle(i, capture, out_dir, with_libpcap)


def cycles_workload(capture: Path, out_dir: Path, count: int) -> Measurement:
    return measure("cycles", f"{count:,} reader/dumper/filter cycles",
                   lambda: run_cycles(count, capture, out_dir),
                   lambda: run_cycles(min(count, 400), capture, out_dir, start=count))


# -- workload 3: live handles ------------------------------------------------------------------
def one_live_handle(i: int) -> None:
    if i % 5 == 4:
        reader = pcapy.create("lo")
        reader.set_snaplen(256)
        reader.set_buffer_size(1 << 20)
        reader.activate()
    else:
        reader = pcapy.open_live("lo", 256, 0, 10)
    if i % 2:
        reader.setfilter(f"udp dst port {i % 50_000 + 1}")
    reader.setnonblock(1)
    reader.next()  # non-blocking: returns at once
    reader.stats()
    if i % 4 == 1:
        with reader:
            reader.getfd()
    else:
        _finish(reader, i)
    if i % 100 == 99:
        gc.collect()


def run_live(count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        one_live_handle(i)


def live_workload(count: int) -> Measurement:
    return measure("live", f"{count:,} handles on lo", lambda: run_live(count),
                   lambda: run_live(min(count, 20), start=count))


def libpcap_loads() -> bool:
    try:
        import pcapy._libpcap as libpcap  # noqa: PLC0415

        libpcap.load()
    except Exception:  # any failure to load means "no libpcap"
        return False
    return True


def can_capture() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and libpcap_loads()


# -- command line ------------------------------------------------------------------------------
def workloads(args: argparse.Namespace, work_dir: Path) -> Iterator[Optional[Measurement]]:
    if "read" in args.only:
        capture = make_capture(work_dir / "read.pcap", args.file_packets)
        yield read_workload(capture, args.packets)
        capture.unlink()
    if "cycles" in args.only:
        small = make_capture(work_dir / "small.pcap", 20)
        yield cycles_workload(small, work_dir, args.cycles)
    if "live" in args.only:
        if not can_capture():
            print("live   skipped: needs root and libpcap")
            yield None
        else:
            yield live_workload(args.live_handles)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=10_000_000)
    parser.add_argument("--file-packets", type=int, default=250_000,
                        help="packets in the generated capture that is re-read")
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--live-handles", type=int, default=10_000)
    parser.add_argument("--limit-mib", type=float, default=16.0)
    parser.add_argument("--only", default="read,cycles,live",
                        help="comma-separated workloads to run (read, cycles, live)")
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    failed = False
    work_dir = Path(tempfile.mkdtemp(prefix="pcapy-leaks-"))
    try:
        for result in workloads(args, work_dir):
            if result is None:
                continue
            print(result.line(), flush=True)
            if result.rss_growth > args.limit_mib * MIB:
                print(f"FAIL   {result.name}: RSS grew by more than {args.limit_mib} MiB")
                failed = True
            if result.fds_end > result.fds_start:
                print(f"FAIL   {result.name}: {result.fds_end - result.fds_start} descriptors "
                      "left open")
                failed = True
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
