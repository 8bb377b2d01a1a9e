"""Printing packets: time stamp, the decoder's summary, hex dumps, as tcpdump prints them."""

from __future__ import annotations

import argparse
import time
from typing import TextIO

import pcapy

from .._decode import TcpSequences, hex_and_ascii_lines, hex_lines, summarize

#: pcapy's ``MAXIMUM_SNAPLEN``: tcpdump flags records claiming more as invalid
MAXIMUM_SNAPLEN = 262144


class PacketPrinter:
    """Formats packets as tcpdump does: time stamp, summary, optional hex dump."""

    def __init__(self, linktype: int, args: argparse.Namespace, out: TextIO) -> None:
        self.linktype = linktype
        self.out = out
        self.nano = args.precision == "nano"
        self.show_time = not args.no_time
        self.link_header = args.link_header
        self.quiet = args.quiet
        self.hex_level = max(args.hex, args.hex_ascii)
        self.with_ascii = bool(args.hex_ascii)
        self.flush = args.line_buffered
        self.tcp = None if args.absolute else TcpSequences()
        self.verbose = bool(args.verbose)

    def print_packet(self, header: pcapy.Pkthdr, data: bytes) -> None:
        """Write one packet's line(s)."""
        self.out.write(self.format_packet(header, data) + "\n")
        if self.flush:
            self.out.flush()

    def format_packet(self, header: pcapy.Pkthdr, data: bytes) -> str:
        """The text tcpdump prints for one packet, without the final newline."""
        invalid = invalid_header(header)
        if invalid:
            return invalid
        summary = summarize(data, packet_linktype(header, self.linktype),
                            wire_length=header.getlen(),
                            link_header=self.link_header, quiet=self.quiet, tcp=self.tcp,
                            default_hex=not (self.hex_level or self.quiet),
                            verbose=self.verbose)
        text = summary.text
        if self.show_time:
            text = format_time(header, self.nano) + " " + text
        return text + self._hex(data, summary.link_length)

    def _hex(self, data: bytes, link_length: int) -> str:
        if not self.hex_level:
            return ""
        if self.hex_level == 1:
            if len(data) <= link_length:
                return ""
            data = data[link_length:]
        lines = hex_and_ascii_lines(data) if self.with_ascii else hex_lines(data)
        return "".join("\n\t" + line for line in lines)


def invalid_header(header: pcapy.Pkthdr) -> str:
    """tcpdump's ``[Invalid header: ...]`` line for impossible lengths, or ``""``."""
    caplen, length = header.getcaplen(), header.getlen()
    problems = []
    if caplen == 0:
        problems.append(" caplen==0")
    if length == 0:
        problems.append(" len==0")
    elif length < caplen:
        problems.append(f" len({length}) < caplen({caplen})")
    if caplen > MAXIMUM_SNAPLEN:
        problems.append(f" caplen({caplen}) > {MAXIMUM_SNAPLEN}")
    if length > MAXIMUM_SNAPLEN:
        problems.append(f" len({length}) > {MAXIMUM_SNAPLEN}")
    return "[Invalid header:" + ",".join(problems) + "]" if problems else ""


def format_time(header: pcapy.Pkthdr, nano: bool) -> str:
    """``HH:MM:SS.ffffff`` in local time (9 digits with ``nano``), as tcpdump prints it."""
    seconds, fraction = header.getts_ns() if nano else header.getts()
    try:
        clock = time.strftime("%H:%M:%S", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return "[Error converting time]"
    return f"{clock}.{fraction:09d}" if nano else f"{clock}.{fraction:06d}"



def packet_linktype(header: pcapy.Pkthdr, default: int) -> int:
    """The DLT of a packet: its pcapng interface's, else the reader's ``default``."""
    dlt = getattr(header.interface, "dlt", None)
    return dlt if isinstance(dlt, int) else default
