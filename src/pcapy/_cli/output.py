"""Where handled packets go: printed as tcpdump prints them, or written with ``-w``."""

from __future__ import annotations

import argparse
import sys
from typing import Protocol

import pcapy

from .printer import PacketPrinter


class Output(Protocol):
    """A destination of packets: ``handle`` each one, ``close`` at the end (flushing)."""

    def handle(self, header: pcapy.Pkthdr, data: bytes) -> None: ...

    def close(self) -> None: ...


class PrintedOutput:
    """Packets printed on standard output."""

    def __init__(self, printer: PacketPrinter) -> None:
        self.handle = printer.print_packet

    def close(self) -> None:
        sys.stdout.flush()


class WrittenOutput:
    """Packets written to one savefile (``-w FILE``)."""

    def __init__(self, dumper: pcapy.Dumper) -> None:
        self.dumper = dumper
        self.handle = dumper.dump

    def close(self) -> None:
        self.dumper.close()
        sys.stdout.flush()


def open_output(reader: pcapy.Reader, args: argparse.Namespace) -> Output:
    """The output the options ask for."""
    if args.write:
        return WrittenOutput(reader.dump_open(args.write, format=args.format))
    return PrintedOutput(PacketPrinter(reader.datalink(), args, sys.stdout))
