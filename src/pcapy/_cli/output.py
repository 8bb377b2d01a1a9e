"""Where handled packets go: printed as tcpdump prints them, counted only (``--count``), or
written with ``-w`` (with ``-U`` flushed per packet; with ``-C``/``-G``/``-W`` rotated through
several files, named and reused as tcpdump 4.99 names and reuses them)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Optional, Protocol

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


class CountedOutput:
    """``--count``: nothing per packet (the caller counts them)."""

    def handle(self, header: pcapy.Pkthdr, data: bytes) -> None:
        """Nothing to do: counting is the caller's."""

    def close(self) -> None:
        sys.stdout.flush()


class WrittenOutput:
    """Packets written to one savefile (``-w FILE``), flushed per packet with ``-U``."""

    def __init__(self, dumper: pcapy.Dumper, packet_buffered: bool) -> None:
        self.dumper = dumper
        self.packet_buffered = packet_buffered

    def handle(self, header: pcapy.Pkthdr, data: bytes) -> None:
        self.dumper.dump(header, data)
        if self.packet_buffered:
            self.dumper.flush()

    def close(self) -> None:
        self.dumper.close()
        sys.stdout.flush()


class FileLimitReachedError(Exception):
    """``-G`` with ``-W`` (and no ``-C``): the last file is complete; the capture ends."""


class RotatingOutput:
    """``-w FILE`` with ``-C``, ``-G`` and/or ``-W``: a new file when the current one holds more
    than ``-C`` millions of bytes (checked before each packet) or ``-G`` seconds have passed on
    the clock.

    Names: with ``-G`` FILE is a ``strftime`` pattern of the file's start time; with ``-C`` a
    number follows (1, 2, ...; with ``-W N`` padded to the digits of N-1, starting at 0 and
    reused in a ring of N files). ``-G`` with ``-W`` and no ``-C`` stops after N files.
    """

    def __init__(self, open_file: Callable[[str], pcapy.Dumper], args: argparse.Namespace,
                 clock: Callable[[], float] = time.time) -> None:
        self.open_file = open_file
        self.pattern = args.write
        self.size_limit = (args.file_size or 0) * 1_000_000
        self.seconds = args.rotate_seconds or 0
        self.file_count = args.file_count or 0
        self.digits = len(str(self.file_count - 1)) if self.file_count > 1 else 0
        self.packet_buffered = args.packet_buffered
        self.clock = clock
        self.started = clock()
        self.files_done = 0
        self.number = 0
        self.name = self._file_name(0, self.digits if self.size_limit else 0)
        self.dumper: Optional[pcapy.Dumper] = open_file(self.name)
        self.written = 0

    def handle(self, header: pcapy.Pkthdr, data: bytes) -> None:
        if self.seconds and self.clock() - self.started >= self.seconds:
            self._next_period()
        if self.size_limit and self._size() > self.size_limit:
            self._next_size()
        assert self.dumper is not None
        self.dumper.dump(header, data)
        if self.packet_buffered:
            self.dumper.flush()

    def _size(self) -> int:
        """Bytes in the current file so far (what ``pcap_dump_ftell`` reports)."""
        assert self.dumper is not None
        self.dumper.flush()
        try:
            return os.path.getsize(self.name)
        except OSError:
            return 0

    def _next_period(self) -> None:
        self._close_current()
        self.started = self.clock()
        self.files_done += 1
        if not self.size_limit and self.file_count and self.files_done >= self.file_count:
            report_limit(self.file_count)
            raise FileLimitReachedError
        self.number = 0
        self.name = self._file_name(0, self.digits if self.size_limit else 0)
        self.dumper = self.open_file(self.name)

    def _next_size(self) -> None:
        self._close_current()
        self.number += 1
        if self.file_count and self.number >= self.file_count:
            self.number = 0
        self.name = self._file_name(self.number, self.digits)
        self.dumper = self.open_file(self.name)

    def _file_name(self, number: int, digits: int) -> str:
        base = (time.strftime(self.pattern, time.localtime(self.started)) if self.seconds
                else self.pattern)
        return base if number == 0 and digits == 0 else f"{base}{number:0{digits}d}"

    def _close_current(self) -> None:
        if self.dumper is not None:
            self.dumper.close()
            self.dumper = None

    def close(self) -> None:
        self._close_current()
        sys.stdout.flush()


def report_limit(count: int) -> None:
    """tcpdump's words when ``-G``/``-W`` has written its last file."""
    sys.stderr.write(f"Maximum file limit reached: {count}\n")
    sys.stderr.flush()


def open_output(reader: pcapy.Reader, args: argparse.Namespace) -> Output:
    """The output the options ask for."""
    if args.write:
        def open_file(name: str) -> pcapy.Dumper:
            return reader.dump_open(name, format=args.format)

        if args.file_size or args.rotate_seconds:
            return RotatingOutput(open_file, args)
        return WrittenOutput(open_file(args.write), args.packet_buffered)
    if args.count_only:
        return CountedOutput()
    return PrintedOutput(PacketPrinter(reader.datalink(), args, sys.stdout))

