"""Live capture on several cores: packets handled and dropped when the handler costs ~20 us.

A paced sender offers UDP datagrams of 64 flows (source ports) to 127.0.0.1 at a rate above what
one process can handle with that handler (~45k packets/s); the capture is

- pcapy's ``capture_parallel`` with 1 and with 2 workers (flow hash, IP defragmentation), and
- pcapy-ng 2.x driven the same way: N processes, each ``open_live`` + ``set_fanout`` + a
  ``dispatch`` loop running the same handler (pcapy-ng has the call, not the pool),

interleaved, R repetitions. Reported, never asserted: this is a benchmark, and the machine may be
busy. Each row: datagrams sent, packets the handlers ran on, the kernel's drops (``ps_drop``
summed over the workers), and handled as a share of sent. On ``lo`` each datagram is seen twice
by a packet socket (sent and received; libpcap skips the sent copy), so ``ps_drop`` counts
both copies.

Run as root, with our package importable (the repository's venv) and pcapy-ng in another venv:

    .venv/bin/python bench/bench_fanout.py --ng-python /path/to/venv/bin/python

Traffic goes only to 127.0.0.1 and every send loop is bounded by count and time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import select
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

LOOPBACK = "127.0.0.1"
FLOWS = 64
HANDLER_US = 20
DRAIN_SECONDS = 1.5  # after the last datagram: the rings empty into the handlers
SNAPLEN = 256
FANOUT_HASH_DEFRAG = 0 | 0x8000


class Spin:
    """The handler: HANDLER_US microseconds of this thread's CPU time per packet (a busy wait
    on the thread's CPU clock, so time spent descheduled on a busy machine does not count)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, hdr: Any, data: bytes) -> None:
        clock = time.thread_time_ns
        end = clock() + HANDLER_US * 1000
        while clock() < end:
            pass
        self.count += 1

    def result(self) -> int:
        return self.count


# -- the sender (run as its own process) ------------------------------------------------------
def send(port: int, rate: int, seconds: float) -> dict[str, Any]:
    """``rate`` datagrams a second for ``seconds``, round robin over FLOWS sockets."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(FLOWS)]
    for sock in sockets:
        sock.connect((LOOPBACK, port))
    payload = bytes(64)
    total = int(rate * seconds)
    per_ms = max(1, rate // 1000)
    sent = errors = 0
    start = time.monotonic()
    deadline = start + seconds + 5  # bounded even if pacing falls behind
    while sent + errors < total and time.monotonic() < deadline:
        due = start + (sent + errors) / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        for index in range(per_ms):
            try:
                sockets[(sent + errors + index) % FLOWS].send(payload)
                sent += 1
            except OSError:
                errors += 1
    elapsed = time.monotonic() - start
    for sock in sockets:
        sock.close()
    return {"sent": sent, "errors": errors, "seconds": elapsed}


def run_sender(port: int, rate: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "send", "--port", str(port), "--rate",
                          str(rate), "--seconds", str(seconds)], check=True,
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    return dict(json.loads(out))


# -- ours --------------------------------------------------------------------------------------
def run_ours(workers: int, port: int, rate: int, seconds: float) -> dict[str, Any]:
    import pcapy  # noqa: PLC0415 - this file also runs under pcapy-ng's venv

    capture = pcapy.ParallelCapture("lo", handler=Spin, workers=workers, snaplen=SNAPLEN,
                                    filter=f"udp dst port {port}")
    capture.start()
    try:
        sent = run_sender(port, rate, seconds)
        time.sleep(DRAIN_SECONDS)
    finally:
        result = capture.stop()
    return {"sent": sent["sent"], "send_seconds": sent["seconds"],
            "handled": result.stats.handled, "dropped": result.stats.dropped,
            "per_worker": [worker.stats.handled for worker in result.workers]}


# -- pcapy-ng, driven the same way ------------------------------------------------------------
def ng_worker(port: int, group: int, ready: Any, stop: Any, report: Any) -> None:
    import pcapy  # noqa: PLC0415 - pcapy-ng, in its own venv

    reader = pcapy.open_live("lo", SNAPLEN, 0, 50)
    reader.setfilter(f"udp dst port {port}")
    reader.set_fanout(group, FANOUT_HASH_DEFRAG)
    handler = Spin()
    # libpcap's timeout on Linux starts with the first packet, so a blocking dispatch never
    # returns on an idle link: wait in select() and dispatch without blocking.
    reader.setnonblock(1)
    fd = reader.getfd()
    ready.release()
    while not stop.is_set():
        if select.select([fd], [], [], 0.05)[0]:
            reader.dispatch(-1, handler)
    received, dropped, _ifdropped = reader.stats()
    report.put({"handled": handler.count, "received": received, "dropped": dropped})


def ng_pool(workers: int, port: int) -> None:
    """Start the pool, say READY, wait for a line on stdin, stop, print the JSON outcome."""
    context = multiprocessing.get_context("spawn")
    ready, stop, report = context.Semaphore(0), context.Event(), context.Queue()
    group = secrets.randbelow(0xFFFF) + 1
    processes = [context.Process(target=ng_worker, args=(port, group, ready, stop, report))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire(timeout=60)
    print("READY", flush=True)
    sys.stdin.readline()
    stop.set()
    outcomes = [report.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(10)
    print(json.dumps(outcomes), flush=True)


def run_ng(python: str, workers: int, port: int, rate: int, seconds: float) -> dict[str, Any]:
    with subprocess.Popen([python, __file__, "ng-pool", "--workers", str(workers), "--port",
                           str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as pool:
        assert pool.stdin is not None
        assert pool.stdout is not None
        if pool.stdout.readline().strip() != "READY":
            raise RuntimeError("pcapy-ng's pool did not start")
        sent = run_sender(port, rate, seconds)
        time.sleep(DRAIN_SECONDS)
        out, _ = pool.communicate("stop\n", timeout=60)
    outcomes = json.loads(out.strip().splitlines()[-1])
    return {"sent": sent["sent"], "send_seconds": sent["seconds"],
            "handled": sum(o["handled"] for o in outcomes),
            "dropped": sum(o["dropped"] for o in outcomes),
            "per_worker": [o["handled"] for o in outcomes]}


# -- the schedule ------------------------------------------------------------------------------
def bench(args: argparse.Namespace) -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # no ICMP "port unreachable" back
    sink.bind((LOOPBACK, 0))
    port = sink.getsockname()[1]
    rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for rep in range(args.reps):
        for workers in (1, 2):
            runs = [("pcapy", lambda w=workers: run_ours(w, port, args.rate, args.seconds))]
            if args.ng_python:
                runs.append(("pcapy-ng", lambda w=workers: run_ng(args.ng_python, w, port,
                                                                  args.rate, args.seconds)))
            if rep % 2:
                runs.reverse()
            for name, run in runs:
                outcome = run()
                rows.setdefault((name, workers), []).append(outcome)
                print(f"[rep {rep}] {name} x{workers}: {json.dumps(outcome)}", flush=True)
    sink.close()
    report(rows, args)


def report(rows: dict[tuple[str, int], list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"\nhandler {HANDLER_US} us/packet, offered {args.rate} datagrams/s for "
          f"{args.seconds} s over {FLOWS} flows on lo, {args.reps} repetitions (medians)\n")
    print("| library | workers | sent | handled | handled % | kernel drops (ps_drop) | "
          "handled/s | per worker |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, workers), outcomes in sorted(rows.items(), key=lambda item: (item[0][1],
                                                                             item[0][0])):
        sent = statistics.median(o["sent"] for o in outcomes)
        handled = statistics.median(o["handled"] for o in outcomes)
        dropped = statistics.median(o["dropped"] for o in outcomes)
        rate = statistics.median(o["handled"] / (o["send_seconds"] + DRAIN_SECONDS)
                                 for o in outcomes)
        split = " / ".join(str(o["per_worker"]) for o in outcomes)
        print(f"| {name} | {workers} | {sent:.0f} | {handled:.0f} | {100 * handled / sent:.1f} | "
              f"{dropped:.0f} | {rate:.0f} | {split} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sender = sub.add_parser("send")
    sender.add_argument("--port", type=int, required=True)
    sender.add_argument("--rate", type=int, required=True)
    sender.add_argument("--seconds", type=float, required=True)
    pool = sub.add_parser("ng-pool")
    pool.add_argument("--workers", type=int, required=True)
    pool.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=int, default=70_000, help="datagrams a second offered")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long to send")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--ng-python", help="a Python with pcapy-ng 2.x installed")
    args = parser.parse_args()
    if args.command == "send":
        print(json.dumps(send(args.port, args.rate, args.seconds)))
    elif args.command == "ng-pool":
        ng_pool(args.workers, args.port)
    else:
        if os.geteuid() != 0:
            sys.exit("live capture needs root")
        bench(args)


if __name__ == "__main__":
    main()
