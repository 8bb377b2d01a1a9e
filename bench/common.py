"""Helpers shared by the benchmark workers (``bench/workers/*.py``) and ``bench/run.py``.

A worker is one small script per implementation, run as ``<venv>/bin/python workers/<impl>.py
MODE FILE [--out PATH] [--port N]`` in the implementation's own venv. It runs exactly one mode
once and prints one JSON line on stdout:

- ``{"mode", "elapsed_ns", "packets", "checksum", "maxrss_kib", ...}`` for a measured pass, or
- ``{"skip": "reason"}`` when the implementation cannot do that mode.

``packets`` and ``checksum`` (the sum of the packets' wire lengths, or of their captured
lengths where an API gives no wire length: the generated files are never truncated, so the two
agree) let ``run.py`` check that every implementation read the same thing.

This module must import nothing outside the standard library: every venv imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

BENCH_DIR = Path(__file__).resolve().parent
WORKERS_DIR = BENCH_DIR / "workers"
BENCH_CPU = 1  # workers run here; live-capture senders run on the other CPU
SENDER_CPU = 0
FILTER_EXPR = "tcp port 80"
BATCH_SIZE = 1024
IDLE_SECONDS = 1.0  # live: stop this long after the last packet, once senders are done
LIVE_GUARD_SECONDS = 60.0  # live: give up whatever happens after this long


class Skip(Exception):
    """Raised by a mode that the implementation cannot do; the message says why."""


def fix_sys_path(worker_file: str) -> None:
    """Drop ``bench/workers`` from ``sys.path`` (a worker named ``pcapy.py`` would shadow the
    library) and put ``bench/`` on it so the worker can import this module."""
    here = str(Path(worker_file).resolve().parent)
    sys.path[:] = [p for p in sys.path if p and str(Path(p).resolve()) != here]
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))


def pin_cpu(cpu: int) -> bool:
    """Pin this process to one CPU when the platform allows; return whether it did."""
    setaffinity = getattr(os, "sched_setaffinity", None)
    if setaffinity is None or cpu >= (os.cpu_count() or 1):
        return False
    try:
        setaffinity(0, {cpu})
    except OSError:
        return False
    return True


def maxrss_kib() -> int:
    """Peak resident set size of this process so far, in KiB.

    On Linux this is ``VmHWM`` from /proc/self/status: ``ru_maxrss`` keeps the high-water mark
    of the process that forked us (run.py) across ``exec``, so it is never below the launcher's
    RSS. Elsewhere, ``resource.getrusage(RUSAGE_SELF).ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def file_crc(path: str) -> tuple[int, int]:
    """``(size, crc32)`` of a file, read in 1 MiB pieces."""
    crc = 0
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


@dataclass
class Args:
    """A worker's command line."""

    mode: str
    file: str
    out: Optional[str]
    port: int
    verify: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pass:
    """What one measured pass produced."""

    elapsed_ns: int
    packets: int
    checksum: int
    extra: dict[str, Any] = field(default_factory=dict)


class Timer:
    """``with Timer() as t: ...`` then ``t.ns``; perf_counter_ns around the timed region."""

    ns: int = 0

    def __enter__(self) -> Timer:
        self._start = time.perf_counter_ns()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ns = time.perf_counter_ns() - self._start


Mode = Callable[[Args], Pass]


def parse_args(argv: Optional[list[str]] = None) -> Args:
    parser = argparse.ArgumentParser(description="run one benchmark mode once, print JSON")
    parser.add_argument("mode")
    parser.add_argument("file", help="input capture (for 'live': the interface)")
    parser.add_argument("--out", help="output file for dump/ngwrite")
    parser.add_argument("--port", type=int, default=0, help="live: UDP destination port")
    parser.add_argument("--verify", action="store_true",
                        help="dump/ngwrite: report size and CRC-32 of the output")
    ns = parser.parse_args(argv)
    return Args(ns.mode, ns.file, ns.out, ns.port, ns.verify)


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def worker_main(impl: str, version: str, module_file: str, modes: dict[str, Mode]) -> None:
    """Run the mode named on the command line and print its JSON line."""
    args = parse_args()
    pinned = pin_cpu(BENCH_CPU)
    handler = modes.get(args.mode)
    if handler is None:
        emit({"impl": impl, "mode": args.mode, "skip": f"{impl} has no '{args.mode}' mode"})
        return
    rss_start = maxrss_kib()
    try:
        result = handler(args)
    except Skip as why:
        emit({"impl": impl, "mode": args.mode, "skip": str(why)})
        return
    payload: dict[str, Any] = {
        "impl": impl,
        "version": version,
        "module": module_file,
        "mode": args.mode,
        "pinned": pinned,
        "elapsed_ns": result.elapsed_ns,
        "packets": result.packets,
        "checksum": result.checksum,
        "maxrss_kib": maxrss_kib(),
        "rss_after_import_kib": rss_start,
    }
    if args.verify and args.mode in ("dump", "ngwrite") and args.out and os.path.exists(args.out):
        payload["out_size"], payload["out_crc"] = file_crc(args.out)
    payload.update(result.extra)
    emit(payload)


# -- the rss mode ------------------------------------------------------------------------------
def rss_pass(packets: Iterator[int]) -> Pass:
    """Consume an iterator of wire lengths: 10 packets, note ru_maxrss, then the rest.

    The iterator must already have opened the file, so the baseline is "after import + open +
    10 packets" and the growth is what reading the rest of the file adds to the peak.
    """
    count = 0
    total = 0
    for length in packets:
        count += 1
        total += length
        if count == 10:
            break
    base = maxrss_kib()
    with Timer() as t:
        for length in packets:
            count += 1
            total += length
    peak = maxrss_kib()
    return Pass(t.ns, count, total, {"rss_base_kib": base, "rss_peak_kib": peak,
                                     "rss_growth_kib": peak - base})


# -- the live mode -----------------------------------------------------------------------------
class LiveControl:
    """The worker's side of the live protocol with run.py.

    The worker opens its capture, then calls ``ready()`` (prints ``READY``); run.py starts the
    senders, and writes ``done`` on the worker's stdin once they have all finished. The worker
    keeps capturing until ``IDLE_SECONDS`` pass without a packet after ``done`` (``finished()``).
    """

    def __init__(self) -> None:
        self.done = False
        self.first_packet: Optional[int] = None
        self.last_packet = time.monotonic_ns()
        self.started = time.monotonic_ns()

    @staticmethod
    def ready() -> None:
        sys.stdout.write("READY\n")
        sys.stdout.flush()

    def wait(self, fd: int, timeout: float = 0.1) -> bool:
        """Wait until ``fd`` or stdin is readable; handle stdin; True if ``fd`` is readable."""
        watched: list[Any] = [fd] if self.done else [fd, sys.stdin]
        readable, _, _ = select.select(watched, [], [], timeout)
        if sys.stdin in readable:
            self.poll_stdin()
        return fd in readable

    def poll_stdin(self) -> None:
        line = sys.stdin.readline()
        if not line or line.strip() == "done":
            self.done = True

    def got(self, count: int) -> None:
        """Record that ``count`` (> 0) packets were just captured."""
        now = time.monotonic_ns()
        if self.first_packet is None:
            self.first_packet = now
        self.last_packet = now

    def finished(self) -> bool:
        now = time.monotonic_ns()
        if now - self.started > LIVE_GUARD_SECONDS * 1e9:
            return True
        return self.done and (now - self.last_packet) >= IDLE_SECONDS * 1e9

    def result(self, captured: int, recv: int, drop: int, ifdrop: int) -> Pass:
        span = (self.last_packet - self.first_packet) if self.first_packet else 0
        return Pass(span, captured, 0, {"captured": captured, "ps_recv": recv,
                                        "ps_drop": drop, "ps_ifdrop": ifdrop,
                                        "capture_span_ns": span})


# -- the modes of pcapy's API (our pcapy and pcapy-ng share them) -------------------------------
def pcapy_modes(pcapy: Any, *, can_write_pcapng: bool) -> dict[str, Mode]:
    """The benchmark modes for a module with pcapy's API (``open_offline``, ``Reader`` ...)."""

    def m_next(a: Args) -> Pass:
        n = total = 0
        with Timer() as t:
            reader = pcapy.open_offline(a.file)
            hdr, _data = reader.next()
            while hdr is not None:
                n += 1
                total += hdr.getlen()
                hdr, _data = reader.next()
        return Pass(t.ns, n, total)

    def loop_pass(a: Args, expression: Optional[str] = None) -> Pass:
        """``loop(-1, callback)`` over the file, after ``setfilter(expression)`` if given."""
        n = total = 0

        def callback(hdr: Any, _data: bytes) -> None:
            nonlocal n, total
            n += 1
            total += hdr.getlen()

        with Timer() as t:
            reader = pcapy.open_offline(a.file)
            if expression is not None:
                reader.setfilter(expression)
            reader.loop(-1, callback)
        return Pass(t.ns, n, total)

    def m_loop(a: Args) -> Pass:
        return loop_pass(a)

    def m_iter(a: Args) -> Pass:
        n = total = 0
        with Timer() as t:
            reader = pcapy.open_offline(a.file)
            if not hasattr(reader, "__iter__"):
                raise Skip("Reader is not iterable")
            for hdr, _data in reader:
                n += 1
                total += hdr.getlen()
        return Pass(t.ns, n, total)

    def m_filter(a: Args) -> Pass:
        return loop_pass(a, FILTER_EXPR)

    def copy_to(a: Args) -> Pass:
        if a.out is None:
            raise Skip("no --out given")
        n = total = 0
        with Timer() as t:
            reader = pcapy.open_offline(a.file)
            dumper = reader.dump_open(a.out)
            dump = dumper.dump

            def callback(hdr: Any, data: bytes) -> None:
                nonlocal n, total
                n += 1
                total += hdr.getlen()
                dump(hdr, data)

            reader.loop(-1, callback)
            dumper.close()
        return Pass(t.ns, n, total)

    def m_ngwrite(a: Args) -> Pass:
        if not can_write_pcapng:
            raise Skip("cannot write pcapng (libpcap writes classic pcap only)")
        try:
            return copy_to(a)
        except Exception as err:  # the pcapng writer may not exist yet
            raise Skip(f"pcapng writing failed: {type(err).__name__}: {err}") from err

    def m_batch(a: Args) -> Pass:
        n = total = 0
        reader = pcapy.open_offline(a.file)
        next_batch = getattr(reader, "next_batch", None)
        if next_batch is None:
            raise Skip("Reader has no next_batch()")
        with Timer() as t:
            first = next_batch(BATCH_SIZE)
            if _is_packed_batch(first):  # pcapy-ng: (buffer, packed (sec, usec, off, caplen))
                import struct  # noqa: PLC0415

                unpack = struct.Struct("=IIII").iter_unpack
                buf, meta = first
                while meta:
                    view = memoryview(buf)
                    for _sec, _usec, off, caplen in unpack(meta):
                        view[off:off + caplen]
                        n += 1
                        total += caplen
                    buf, meta = next_batch(BATCH_SIZE)
            else:  # a sequence of (hdr, data) pairs; empty at EOF
                batch = first
                while batch:
                    for hdr, _data in batch:
                        n += 1
                        total += hdr.getlen()
                    batch = next_batch(BATCH_SIZE)
        return Pass(t.ns, n, total, {"batch_size": BATCH_SIZE})

    def m_rss(a: Args) -> Pass:
        def lengths() -> Iterator[int]:
            reader = pcapy.open_offline(a.file)
            hdr, _data = reader.next()
            while hdr is not None:
                yield hdr.getlen()
                hdr, _data = reader.next()

        return rss_pass(lengths())

    def m_live(a: Args) -> Pass:
        try:
            reader = pcapy.open_live(a.file, 65535, 0, 100)
            reader.setfilter(f"udp dst port {a.port}")
            reader.setnonblock(1)
            fd = reader.getfd()
        except Exception as err:
            raise Skip(f"open_live failed: {type(err).__name__}: {err}") from err
        ctl = LiveControl()
        captured = 0

        def callback(hdr: Any, _data: bytes) -> None:
            hdr.getlen()

        ctl.ready()
        while not ctl.finished():
            ctl.wait(fd)
            got = reader.dispatch(-1, callback)
            if got > 0:
                captured += got
                ctl.got(got)
        recv, drop, ifdrop = reader.stats()
        return ctl.result(captured, recv, drop, ifdrop)

    return {"next": m_next, "loop": m_loop, "iter": m_iter, "filter": m_filter,
            "dump": copy_to, "ngread": m_next, "ngwrite": m_ngwrite, "batch": m_batch,
            "rss": m_rss, "live": m_live}


def _is_packed_batch(value: object) -> bool:
    return (isinstance(value, tuple) and len(value) == 2
            and all(isinstance(v, (bytes, bytearray, memoryview)) for v in value))
