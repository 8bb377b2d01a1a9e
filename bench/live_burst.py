"""Capture rate on a loopback burst: how many of N UDP datagrams our pcapy captures, and how fast.

Not a test: run it as root, ``python bench/live_burst.py [--count 200000] [--rounds 3]``.
It binds a UDP socket on a free port of 127.0.0.1 (never read, so no ICMP comes back), opens
``lo`` with a ``udp dst port P`` filter, then starts ``--senders`` processes of
``bench/sender.py``, which send ``--count`` 100-byte datagrams in all to 127.0.0.1:P, bounded
by count and by ``--seconds``. Capture runs in this process, pinned to CPU 1; senders on CPU 0.
The capture stops once the senders are done and no packet has come for ``IDLE`` seconds.

Modes (``--modes``), each doing the same work per packet (a Pkthdr and the packet's bytes, then
``hdr.getlen()``):

- ``loop``: ``reader.loop(-1, callback)``: pcapy's own read path (pcap_next_ex, non-blocking,
  poll in slices), stopped by ``breakloop()`` from a watcher thread.
- ``next``: ``reader.next()`` in a loop (one Python call per packet).
- ``dispatch``: ``setnonblock(1)``, ``select()`` on ``getfd()``, ``dispatch(-1, callback)``:
  the benchmark harness's way.
- ``raw-next-ex``: the bare ``pcap_next_ex`` loop, no Reader, no generator (the FFI floor of
  pcapy's design).
- ``raw-dispatch-cb``: the alternative design: ``pcap_dispatch`` with an ``ffi.callback``,
  calling the per-packet work from inside the callback (its FFI floor).
- ``dispatch-batches``: that alternative as pcapy would use it, behind a generator and a loop
  shaped like ``Reader.loop`` (compare with ``loop``).

``--backlog --buffer-mb 128`` lets the whole burst pile up in the kernel ring before reading
starts, so ``capture pkts/s`` is then the rate each mode reads at, with no sender competing.

Prints one line per round and a median summary per mode; ``--json`` prints JSON lines instead.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pcapy
from pcapy import _libpcap
from pcapy._libpcap._handle import pkthdr_struct
from pcapy._live import DRAIN_BATCH

BENCH = Path(__file__).resolve().parent
SENDER = BENCH / "sender.py"
LOOPBACK = "127.0.0.1"  # the only address this benchmark sends to
IDLE = 0.5  # seconds without a packet, after the senders finish, that end a capture
GUARD = 60.0  # seconds after which a round gives up whatever happens
CAPTURE_CPU, SENDER_CPU = 1, 0


class Progress:
    """Counts packets and tells a watcher when the capture has gone idle after the senders."""

    def __init__(self) -> None:
        self.captured = 0
        self.first = 0.0
        self.last = time.monotonic()
        self.senders_done = False
        self.started = time.monotonic()

    def got(self) -> None:
        now = time.monotonic()
        if not self.first:
            self.first = now
        self.captured += 1
        self.last = now

    def finished(self) -> bool:
        now = time.monotonic()
        if now - self.started > GUARD:
            return True
        return self.senders_done and now - self.last > IDLE


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > cpu:  # type: ignore[operator]
        os.sched_setaffinity(0, {cpu})


def start_senders(port: int, count: int, senders: int, seconds: float,
                  cpu: int) -> list[subprocess.Popen[str]]:
    start_at = time.monotonic_ns() + 300_000_000  # let every sender start before the first sends
    share = count // senders
    return [
        subprocess.Popen(
            [sys.executable, str(SENDER), "--port", str(port),
             "--count", str(share + (count % senders if i == 0 else 0)),
             "--seconds", str(seconds), "--cpu", str(cpu), "--start-at", str(start_at)],
            stdout=subprocess.PIPE, text=True)
        for i in range(senders)
    ]


def collect_senders(procs: list[subprocess.Popen[str]], progress: Progress) -> dict[str, int]:
    totals = {"sent": 0, "errors": 0, "start_ns": 0, "end_ns": 0}
    starts, ends = [], []
    for proc in procs:
        out, _ = proc.communicate(timeout=GUARD)
        result = json.loads(out.strip().splitlines()[-1])
        totals["sent"] += result["sent"]
        totals["errors"] += result["errors"]
        starts.append(result["start_ns"])
        ends.append(result["end_ns"])
    totals["start_ns"], totals["end_ns"] = min(starts), max(ends)
    progress.senders_done = True
    return totals


# -- the capture modes: each takes (reader, progress) and returns when progress.finished() ------
def per_packet(progress: Progress) -> Callable[[Any, bytes], None]:
    got = progress.got

    def callback(hdr: Any, _data: bytes) -> None:
        hdr.getlen()
        got()

    return callback


def stop_when_finished(reader: Any, progress: Progress) -> threading.Thread:
    def watch() -> None:
        while not progress.finished():
            time.sleep(0.05)
        reader.breakloop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def mode_loop(reader: Any, progress: Progress) -> None:
    watcher = stop_when_finished(reader, progress)
    reader.loop(-1, per_packet(progress))
    watcher.join()


def mode_next(reader: Any, progress: Progress) -> None:
    callback = per_packet(progress)
    next_packet = reader.next
    while True:
        hdr, data = next_packet()
        if hdr is not None:
            callback(hdr, data)
        elif progress.finished():  # checked only when idle, as the other modes do
            return


def mode_dispatch(reader: Any, progress: Progress) -> None:
    reader.setnonblock(1)
    fd = reader.getfd()
    callback = per_packet(progress)
    while not progress.finished():
        select.select([fd], [], [], 0.05)
        reader.dispatch(-1, callback)


def raw_parts(reader: Any) -> tuple[Any, Any, Any, Any]:
    libpcap = _libpcap.load()
    handle = reader._live._handle  # private on purpose: the benchmark measures the layers below
    return libpcap.ffi, libpcap.lib, handle._pcap, handle


def mode_raw_next_ex(reader: Any, progress: Progress) -> None:
    ffi, lib, pcap, handle = raw_parts(reader)
    fd = handle.selectable_fd()
    header_out = ffi.new("struct pcap_pkthdr **")
    data_out = ffi.new("const unsigned char **")
    size = ffi.sizeof("struct pcap_pkthdr")
    unpack, buffer, new, cls = pkthdr_struct(ffi).unpack_from, ffi.buffer, tuple.__new__, pcapy.Pkthdr
    next_ex, callback = lib.pcap_next_ex, per_packet(progress)
    while True:
        status = next_ex(pcap, header_out, data_out)
        if status == 1:
            fields = unpack(buffer(header_out[0], size))
            callback(new(cls, fields), buffer(data_out[0], fields[2])[:])
        elif status == 0:
            if progress.finished():
                return
            select.select([fd], [], [], 0.05)
        else:
            raise RuntimeError(f"pcap_next_ex returned {status}")


def mode_raw_dispatch_cb(reader: Any, progress: Progress) -> None:
    ffi, lib, pcap, handle = raw_parts(reader)
    fd = handle.selectable_fd()
    size = ffi.sizeof("struct pcap_pkthdr")
    unpack, buffer, new, cls = pkthdr_struct(ffi).unpack_from, ffi.buffer, tuple.__new__, pcapy.Pkthdr
    callback = per_packet(progress)

    @ffi.callback("pcap_handler")
    def on_packet(_user: Any, header: Any, data: Any) -> None:
        fields = unpack(buffer(header, size))
        callback(new(cls, fields), buffer(data, fields[2])[:])

    dispatch = lib.pcap_dispatch
    while not progress.finished():
        if dispatch(pcap, -1, on_packet, ffi.NULL) == 0:
            select.select([fd], [], [], 0.05)


def mode_dispatch_batches(reader: Any, progress: Progress) -> None:
    """The alternative engine as pcapy would have to use it: ``pcap_dispatch`` fills a batch
    through an ``ffi.callback``, a generator yields it, and a loop shaped like ``Reader.loop``
    calls the user's callback (the shape ``loop`` measures for the ``pcap_next_ex`` engine)."""
    ffi, lib, pcap, handle = raw_parts(reader)
    fd = handle.selectable_fd()
    size = ffi.sizeof("struct pcap_pkthdr")
    unpack, buffer, new, cls = pkthdr_struct(ffi).unpack_from, ffi.buffer, tuple.__new__, pcapy.Pkthdr
    batch: list[tuple[Any, bytes]] = []
    append = batch.append

    @ffi.callback("pcap_handler")
    def on_packet(_user: Any, header: Any, data: Any) -> None:
        fields = unpack(buffer(header, size))
        append((new(cls, fields), buffer(data, fields[2])[:]))

    def packets() -> Any:
        dispatch = lib.pcap_dispatch
        while not progress.finished():
            if dispatch(pcap, DRAIN_BATCH, on_packet, ffi.NULL) == 0:
                select.select([fd], [], [], 0.05)
                continue
            yield from batch
            batch.clear()

    callback, remaining = per_packet(progress), -1
    source = reader._live  # private on purpose: Reader.loop's own per-packet checks
    for hdr, data in packets():
        callback(hdr, data)
        remaining -= 1
        if remaining == 0 or source.break_requested:
            break


MODES: dict[str, Callable[[Any, Progress], None]] = {
    "loop": mode_loop,
    "next": mode_next,
    "dispatch": mode_dispatch,
    "raw-next-ex": mode_raw_next_ex,
    "raw-dispatch-cb": mode_raw_dispatch_cb,
    "dispatch-batches": mode_dispatch_batches,
}


def open_capture(args: argparse.Namespace) -> Any:
    reader = pcapy.create("lo")
    reader.set_snaplen(65535)
    reader.set_timeout(args.to_ms)
    if args.buffer_mb:
        reader.set_buffer_size(args.buffer_mb << 20)
    if reader.activate() < 0:
        sys.exit("cannot activate a capture on lo")
    return reader


def run_round(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((LOOPBACK, 0))
    port = sink.getsockname()[1]
    reader = open_capture(args)
    reader.setfilter(f"udp dst port {port}")
    progress = Progress()
    procs = start_senders(port, args.count, args.senders, args.seconds, args.sender_cpu)
    totals: dict[str, int] = {}
    collector = threading.Thread(target=lambda: totals.update(collect_senders(procs, progress)))
    collector.start()
    if args.backlog:  # read only once everything sits in the ring: the pure reading rate
        collector.join()
        progress.first = progress.last = time.monotonic()  # the rate counts from here
    MODES[mode](reader, progress)
    collector.join()
    recv, drop, ifdrop = reader.stats()
    reader.close()
    sink.close()
    span = progress.last - progress.first if progress.captured else 0.0
    send_span = (totals["end_ns"] - totals["start_ns"]) / 1e9
    return {
        "mode": mode, "sent": totals["sent"], "send_errors": totals["errors"],
        "captured": progress.captured, "ps_recv": recv, "ps_drop": drop, "ps_ifdrop": ifdrop,
        "offered_pps": round(totals["sent"] / send_span) if send_span else 0,
        "capture_pps": round(progress.captured / span) if span else 0,
        "captured_pct": round(100 * progress.captured / totals["sent"], 2) if totals["sent"] else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="senders stop after this long")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sender-cpu", type=int, default=SENDER_CPU,
                        help="pin the senders to this CPU (-1: anywhere, competing with capture)")
    parser.add_argument("--to-ms", type=int, default=100)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--buffer-mb", type=int, default=0,
                        help="kernel buffer size (0: libpcap's default, 2 MB)")
    parser.add_argument("--backlog", action="store_true",
                        help="start reading after the senders finish (needs a buffer that holds"
                             " the whole burst, e.g. --buffer-mb 128): measures reading alone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("live_burst.py captures on lo: run it as root (or with CAP_NET_RAW)")
    pin(CAPTURE_CPU)
    modes = args.modes.split(",")
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for round_number in range(args.rounds):
        for mode in modes:  # interleaved, so machine noise spreads over every mode
            result = run_round(mode, args)
            results[mode].append(result)
            print(json.dumps(result) if args.json else f"round {round_number + 1}: {result}")
    if not args.json:
        print("\nmedians: mode, captured %, ps_drop, offered pkts/s, capture pkts/s")
        for mode, rows in results.items():
            print(f"  {mode:16} {statistics.median(r['captured_pct'] for r in rows):7.2f}%"
                  f" {statistics.median(r['ps_drop'] for r in rows):8.0f}"
                  f" {statistics.median(r['offered_pps'] for r in rows):10.0f}"
                  f" {statistics.median(r['capture_pps'] for r in rows):10.0f}")


if __name__ == "__main__":
    main()
