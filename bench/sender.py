"""Loopback burst sender for the ``live`` mode: K 100-byte UDP datagrams to 127.0.0.1:PORT.

Bounded by count and by time; sends nowhere but 127.0.0.1. Prints one JSON line:
``{"sent": n, "errors": e, "start_ns": t0, "end_ns": t1}`` (CLOCK_MONOTONIC, comparable across
processes). run.py binds a UDP socket on the port (and never reads it) so that no ICMP "port
unreachable" comes back; datagrams that overflow that socket are dropped after the capture
point.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time

LOOPBACK = "127.0.0.1"  # the only destination this tool ever sends to
PAYLOAD_SIZE = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="stop after this long")
    parser.add_argument("--cpu", type=int, default=-1, help="pin to this CPU (-1: don't)")
    parser.add_argument("--start-at", type=int, default=0,
                        help="CLOCK_MONOTONIC ns to start at (lets several senders start together)")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    payload = bytes(PAYLOAD_SIZE)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((LOOPBACK, args.port))
    send = sock.send
    monotonic_ns = time.monotonic_ns
    while monotonic_ns() < args.start_at:
        time.sleep(0.0005)
    start = monotonic_ns()
    deadline = start + int(args.seconds * 1e9)
    sent = errors = 0
    remaining = args.count
    while remaining > 0:
        step = min(remaining, 256)
        for _ in range(step):
            try:
                send(payload)
            except OSError:  # ENOBUFS / ECONNREFUSED: count it, keep going
                errors += 1
        sent += step
        remaining -= step
        if monotonic_ns() > deadline:
            break
    end = monotonic_ns()
    sock.close()
    print(json.dumps({"sent": sent - errors, "errors": errors, "start_ns": start, "end_ns": end}))


if __name__ == "__main__":
    main()
