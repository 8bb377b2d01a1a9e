"""Capture with asyncio: ``async for hdr, data in reader`` next to other tasks.

    python examples/async_capture.py -i lo -c 5 'udp port 9'
    python examples/async_capture.py -r capture.pcap 'tcp'

The reader is iterated with ``async for``: a live capture is waited on with the event loop's
``add_reader`` (no thread, no blocking call), a savefile is read in batches that give the loop
a turn. A ticker task runs meanwhile to show the loop stays responsive; at the end the script
prints how many packets it saw and how often the ticker ran. ``--timeout`` bounds a live run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Optional

import pcapy


def open_reader(args: argparse.Namespace) -> pcapy.Reader:
    """A savefile reader, or an activated live capture on ``args.interface``."""
    if args.read:
        reader = pcapy.open_offline(args.read)
    else:
        reader = pcapy.create(args.interface)
        reader.set_timeout(100)
        reader.set_immediate_mode(1)
        if reader.activate() < 0:
            message = reader.geterr()  # libpcap's reason, e.g. "You don't have permission..."
            reader.close()
            raise pcapy.PcapError(message)
    if args.expression:
        reader.setfilter(" ".join(args.expression))
    if not args.read:  # as tcpdump says it: the capture is open (scripts may wait for it)
        print(f"listening on {args.interface}, link-type "
              f"{pcapy.datalink_name(reader.datalink())}", file=sys.stderr, flush=True)
    return reader


async def ticker(period: float, ticks: list[int]) -> None:
    """Count how often the event loop lets us run."""
    while True:
        await asyncio.sleep(period)
        ticks[0] += 1


async def capture(reader: pcapy.Reader, count: int) -> int:
    """Print packets until ``count`` (0: all) have been seen; returns how many were."""
    seen = 0
    packets = reader.__aiter__()
    try:
        async for header, data in packets:
            seen += 1
            sec, usec = header.getts()
            print(f"{sec}.{usec:06d} caplen {header.getcaplen()} len {header.getlen()} "
                  f"first bytes {data[:8].hex()}", flush=True)
            if seen == count:
                break
    finally:
        aclose = getattr(packets, "aclose", None)  # release the descriptor now, not at GC
        if aclose is not None:
            await aclose()
    return seen


async def run(args: argparse.Namespace) -> int:
    """Capture next to a ticker; print the totals."""
    reader = open_reader(args)
    ticks = [0]
    tick_task = asyncio.create_task(ticker(0.05, ticks))
    seen = 0
    try:
        seen = await asyncio.wait_for(capture(reader, args.count), args.timeout)
    except asyncio.TimeoutError:
        print("timed out", flush=True)
    finally:
        tick_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick_task
        reader.close()
    print(f"{seen} packets, ticker ran {ticks[0]} times")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Parse the options and run the capture."""
    parser = argparse.ArgumentParser(description="Capture or read packets with asyncio.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", "--interface", help="device to capture on")
    source.add_argument("-r", "--read", help="savefile to read")
    parser.add_argument("-c", "--count", type=int, default=0, help="stop after COUNT packets")
    parser.add_argument("--timeout", type=float, default=None, help="give up after SECONDS")
    parser.add_argument("expression", nargs="*", help="BPF filter")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except pcapy.PcapError as err:
        print(f"async_capture: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
