"""``pcapy [-r FILE | -i IFACE] [options] [expression]``: read or capture, filter, then print
each packet (printer.py) or write it (``-w``).

Reading and capture run in ``run_capture``: the listing options first (``-D``, ``-L``,
``-d``), then a Reader is opened, its banner printed and its packets handled.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pcapy

from ._args import parse_args
from ._linktypes import linktype_text
from .devices import print_devices
from .live import (
    PacketCounter,
    choose_linktype,
    close_on_error,
    list_linktypes,
    live_batches,
    open_live,
    print_statistics,
)
from .output import FileLimitReachedError, open_output
from .program import print_program
from .progress import Progress
from .stopping import StopSignals, stop_signals


def run_capture(argv: Sequence[str]) -> int:
    """``pcapy [options] [expression]``: list, compile, read, capture or write packets."""
    args = parse_args(argv)
    if args.list_interfaces:
        print_devices(sys.stdout)
        return 0
    if args.list_linktypes and not args.read and (args.interface or not args.dump_program):
        return list_linktypes(args)  # tcpdump: -L needs a device; a file ignores it
    if args.dump_program:
        return print_program(args)
    if args.workers is not None:
        from .workers import run_workers  # noqa: PLC0415 - loads the worker pool

        return run_workers(args)
    reader = open_reader(args)
    try:
        with stop_signals() as stop:
            _banner(describe_source(reader, args))
            return _process(reader, args, stop)
    finally:
        reader.close()


def open_reader(args: argparse.Namespace) -> pcapy.Reader:
    """The Reader the options ask for: a savefile, or an activated live capture."""
    if args.read:
        reader = pcapy.open_offline(args.read)  # -y is for captures: tcpdump ignores it here
    else:
        args.interface = args.interface or pcapy.lookupdev()
        reader = open_live(args.interface, args)
        close_on_error(reader, choose_linktype, reader, args)
    if args.filter:
        try:
            reader.setfilter(args.filter, compiler=args.compiler)
        except BaseException:
            reader.close()
            raise
    return reader


def describe_source(reader: pcapy.Reader, args: argparse.Namespace) -> str:
    """tcpdump's first line: ``reading from file ...`` or ``listening on ...``."""
    linktype = linktype_text(reader.datalink())
    if args.read:
        return (f"reading from file {args.read}, link-type {linktype}, "
                f"snapshot length {reader.snapshot()}")
    return (f"listening on {args.interface}, link-type {linktype}, "
            f"snapshot length {reader.snapshot()} bytes")


def _banner(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _process(reader: pcapy.Reader, args: argparse.Namespace, stop: StopSignals) -> int:
    output = open_output(reader, args)
    counter = PacketCounter(output.handle, args.count or 0, stop)
    try:
        if not args.read:
            return _capture_live(reader, counter)
        with Progress.for_file(args.read) if args.write else Progress(0) as progress:
            _read_file(reader, counter, progress)
    finally:
        output.close()
    if args.count_only:
        print_count(counter.count)
    return 0


def print_count(count: int) -> None:
    """``--count``'s line, on standard output."""
    sys.stdout.write(f"{count} packet{'' if count == 1 else 's'}\n")
    sys.stdout.flush()


def _read_file(reader: pcapy.Reader, counter: PacketCounter, progress: Progress) -> None:
    """Handle the file's packets until its end, ``-c`` or a stop signal."""
    overhead = record_overhead(reader)
    progress.update(overhead)
    try:
        for header, data in reader:
            counter(header, data)
            progress.advance(header.getcaplen() + overhead)
            if counter.done:
                break
    except (KeyboardInterrupt, FileLimitReachedError):
        pass


def record_overhead(reader: pcapy.Reader) -> int:
    """Bytes of file per record besides the packet (for progress): 16 for pcap, 32 for an
    Enhanced Packet Block."""
    return 32 if reader.file_format == "pcapng" else 16


def _capture_live(reader: pcapy.Reader, counter: PacketCounter) -> int:
    interrupted = False
    try:
        for _ in live_batches(reader, counter):
            if counter.done:
                break
    except KeyboardInterrupt:
        interrupted = True
    except FileLimitReachedError:
        pass
    sys.stdout.flush()
    print_statistics(reader, counter.count, interrupted)
    return 0
