"""``pcapy -i IFACE --workers N [-w FILE] [expression]``: capture with N worker processes.

The workers share the device through one ``PACKET_FANOUT`` group (``pcapy.ParallelCapture``),
by flow hash, so each flow is printed (or written) by one worker. The banner is printed once
every worker listens, and the closing lines are the single capture's, for all workers together.
Without ``-w`` each worker prints its own packets, a whole line at a time: lines never mix, but
packets of different flows may come out of time order. With ``-w FILE`` the workers write files
of their own, merged by time stamp into FILE when the capture ends (pcapng keeps each worker's
interface; classic pcap, as ``-w`` chooses it, has one).
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
from typing import Any, Optional

import pcapy

from ._common import CommandError, quiet_broken_pipe
from ._linktypes import linktype_text
from .live import open_live, statistics_lines, write_statistics
from .printer import PacketPrinter
from .stopping import stop_signals

#: options of a single capture the workers do not take, and why
_REFUSED = (
    ("read", "--workers needs a live capture (-i), not -r"),
    ("count", "-c cannot be used with --workers"),
    ("linktype", "-y cannot be used with --workers"),
)


class PrintPackets:
    """A worker's handler: tcpdump's lines for its packets, flushed one packet at a time."""

    def __init__(self, linktype: int, args: argparse.Namespace) -> None:
        self.linktype = linktype
        self.args = args
        self._printer: Optional[PacketPrinter] = None

    def __call__(self, header: pcapy.Pkthdr, data: bytes) -> None:
        if self._printer is None:
            options = copy.copy(self.args)
            options.line_buffered = True  # whole lines: the workers share standard output
            self._printer = PacketPrinter(self.linktype, options, sys.stdout)
        self._printer.print_packet(header, data)


def run_workers(args: argparse.Namespace) -> int:
    """Capture with ``args.workers`` processes; the single capture's banner and statistics."""
    check_worker_args(args)
    args.interface = args.interface or pcapy.lookupdev()
    linktype, snapshot = probe(args)
    scratch = _scratch_directory(args.write) if args.write else None
    try:
        capture = pcapy.ParallelCapture(
            args.interface, workers=args.workers, filter=args.filter or None,
            snaplen=args.snaplen, promisc=not args.no_promisc, immediate=args.immediate,
            handler=None if scratch else PrintPackets(linktype, args),
            worker_files=os.path.join(scratch, "worker-{worker}.pcapng") if scratch else None,
        )
        result = _capture(capture, args, linktype, snapshot)
        if result is None:
            return quiet_broken_pipe()
        if scratch is not None:
            pcapy.merge_by_time([worker.output for worker in result.workers if worker.output],
                          args.write, file_format=args.format)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    total = result.stats
    write_statistics(statistics_lines(total.handled, total.received, total.dropped,
                                      total.interface_dropped), result.interrupted)
    return 0


def check_worker_args(args: argparse.Namespace) -> None:
    """Refuse the options a pool cannot honour, with the reason."""
    for name, message in _REFUSED:
        if getattr(args, name, None):
            raise CommandError(message)
    if args.precision == "nano":
        raise CommandError("--time-precision nano cannot be used with --workers")


def probe(args: argparse.Namespace) -> tuple[int, int]:
    """Open the device as a single capture would (its errors and warnings, the filter's
    errors, before any worker starts); its link type and snapshot length."""
    reader = open_live(args.interface, args)
    try:
        if args.filter:
            reader.setfilter(args.filter)
        return reader.datalink(), reader.snapshot()
    finally:
        reader.close()


def _capture(capture: Any, args: argparse.Namespace, linktype: int,
             snapshot: int) -> Optional[Any]:
    """Start, say we listen, run to Ctrl-C or SIGTERM; None if standard output was closed."""
    def banner() -> None:
        sys.stderr.write(f"listening on {args.interface}, link-type {linktype_text(linktype)}, "
                         f"snapshot length {snapshot} bytes\n")
        sys.stderr.flush()

    with stop_signals():
        try:
            return capture.run(ready=banner)
        except pcapy.WorkerError as error:
            if isinstance(error.__cause__, BrokenPipeError):
                return None  # `pcapy ... | head`: the reader went away
            raise


def _scratch_directory(target: str) -> str:
    """A directory for the workers' files: beside the output (same file system), or the
    system's for standard output."""
    folder = None if target == "-" else os.path.dirname(os.path.abspath(target))
    return tempfile.mkdtemp(prefix=".pcapy-workers-", dir=folder)
