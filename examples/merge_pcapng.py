"""Merge several captures into one pcapng file, in time order, keeping each source's interfaces.

    python examples/merge_pcapng.py merged.pcapng a.pcap b.pcapng c.pcap.gz

Packets from all inputs are interleaved by time stamp (``heapq.merge`` over the readers, so
memory stays flat however big the files are). pcapy's pcapng writer gives every source
interface its own Interface Description Block, with its link type, snapshot length, name,
options and time-stamp resolution, when a packet read from pcapng is dumped. Classic pcap
inputs have no interfaces of their own, so each is first converted to a temporary pcapng file
(one interface per input file); their packets then carry an interface like any other.
Packet comments and other per-packet options are copied too. The writer also declares its
default interface first (the first input's link type), which stays unused here.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Optional

import pcapy

Packet = tuple[pcapy.Pkthdr, bytes]


def as_pcapng(path: str, workdir: str, index: int) -> str:
    """``path`` itself if it is pcapng, else a pcapng copy of it in ``workdir``."""
    with pcapy.open_offline(path) as reader:
        first = next(iter(reader), None)
        if first is None or first[0].interface is not None:
            return path
        copy = os.path.join(workdir, f"{index}.pcapng")
        with reader.dump_open(copy, format="pcapng", precision="nano") as dumper:
            dumper.dump(*first)
            for header, data in reader:
                dumper.dump(header, data)
    return copy


def timed(reader: pcapy.Reader) -> Iterator[tuple[int, int, Packet]]:
    """``(time in ns, sequence, packet)``: the sort key ``heapq.merge`` needs, stable per file."""
    for sequence, (header, data) in enumerate(reader):
        yield header.ts_ns, sequence, (header, data)


def merge(output: str, inputs: list[str]) -> int:
    """Write the time-ordered union of ``inputs`` to ``output``; returns the packet count."""
    with tempfile.TemporaryDirectory() as workdir, contextlib.ExitStack() as stack:
        readers = [stack.enter_context(pcapy.open_offline(as_pcapng(path, workdir, index)))
                   for index, path in enumerate(inputs)]
        first = readers[0]
        dumper = stack.enter_context(pcapy.Dumper(output, first.datalink(), first.snapshot(),
                                                  precision="nano", format="pcapng"))
        count = 0
        for _, _, (header, data) in heapq.merge(*(timed(reader) for reader in readers)):
            dumper.dump(header, data)
            count += 1
    return count


def main(argv: Optional[list[str]] = None) -> int:
    """Merge the files named on the command line."""
    parser = argparse.ArgumentParser(description="Merge captures into one pcapng file by time.")
    parser.add_argument("output", help="the pcapng file to write")
    parser.add_argument("inputs", nargs="+", help="pcap or pcapng files (gzip too)")
    args = parser.parse_args(argv)
    try:
        count = merge(args.output, args.inputs)
    except pcapy.PcapError as err:
        print(f"merge_pcapng: {err}", file=sys.stderr)
        return 1
    print(f"{count} packets from {len(args.inputs)} files written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
