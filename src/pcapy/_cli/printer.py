"""Printing packets: time stamp, the decoder's summary, hex dumps, as tcpdump prints them."""

from __future__ import annotations

import argparse
import time
from typing import Optional, TextIO

import pcapy

from .._decode import TcpSequences, can_print, hex_and_ascii_lines, hex_lines, summarize
from ._common import report
from ._linktypes import linktype_text

#: pcapy's ``MAXIMUM_SNAPLEN``: tcpdump flags records claiming more as invalid
MAXIMUM_SNAPLEN = 262144


class PacketPrinter:
    """Formats packets as tcpdump does: number, time stamp, summary, optional dump."""

    def __init__(self, linktype: int, args: argparse.Namespace, out: TextIO) -> None:
        self.linktype = linktype
        self.out = out
        self.times = TimeStamps(args.time_format, args.precision == "nano")
        self.numbered = args.number
        self.number = 0
        self.link_header = args.link_header
        self.quiet = args.quiet
        self.hex_level = max(args.hex, args.hex_ascii)
        self.with_ascii = bool(args.hex_ascii)
        self.ascii_level = args.ascii
        self.flush = args.line_buffered or getattr(args, "packet_buffered", False)  # -l, -U
        self.tcp = None if args.absolute else TcpSequences()
        self.verbose = bool(args.verbose)
        self.unprintable: set[int] = set()

    def print_packet(self, header: pcapy.Pkthdr, data: bytes) -> None:
        """Write one packet's line(s)."""
        self.out.write(self.format_packet(header, data) + "\n")
        if self.flush:
            self.out.flush()

    def format_packet(self, header: pcapy.Pkthdr, data: bytes) -> str:
        """The text tcpdump prints for one packet, without the final newline."""
        self.number += 1
        number = f"{self.number:5d}  " if self.numbered else ""
        invalid = invalid_header(header)
        if invalid:
            return number + invalid
        linktype = packet_linktype(header, self.linktype)
        self._say_if_unprintable(linktype)
        summary = summarize(data, linktype, wire_length=header.getlen(),
                            link_header=self.link_header, quiet=self.quiet, tcp=self.tcp,
                            default_hex=not (self.hex_level or self.quiet),
                            verbose=self.verbose)
        return (number + self.times.format(header) + summary.text
                + self._dump(data, summary.link_length))

    def _say_if_unprintable(self, linktype: int) -> None:
        """One line on standard error, the first time a link type cannot be decoded; its
        packets are then printed as tcpdump prints them (``UNSUPPORTED`` and a hex dump)."""
        if linktype in self.unprintable or can_print(linktype):
            return
        self.unprintable.add(linktype)
        report(f"packets of link type {linktype_text(linktype)} are not decoded; "
               "they are printed in hex, as tcpdump prints them")

    def _dump(self, data: bytes, link_length: int) -> str:
        """``-x``/``-X``/``-A`` (``-xx``/``-XX``/``-AA``: with the link-layer header)."""
        level = self.hex_level or self.ascii_level
        if not level:
            return ""
        if level == 1:
            if len(data) <= link_length:
                return ""
            data = data[link_length:]
        if not self.hex_level:
            return "\n" + ascii_text(data)
        lines = hex_and_ascii_lines(data) if self.with_ascii else hex_lines(data)
        return "".join("\n\t" + line for line in lines)


def ascii_text(data: bytes) -> str:
    """``-A``: the bytes as text; other than tab, space and newline, what is not printable
    is a dot; a CR is left out where a newline or the end follows it."""
    out = []
    for index, byte in enumerate(data):
        if byte == 0x0D:
            if len(data) - index - 1 > 1 and data[index + 1] != 0x0A:
                out.append(".")
        elif 0x20 < byte < 0x7F or byte in (0x09, 0x20, 0x0A):
            out.append(chr(byte))
        else:
            out.append(".")
    return "".join(out)


class TimeStamps:
    """tcpdump's time stamp column, by the number of ``-t`` given.

    0: local ``HH:MM:SS.frac``; 1: none; 2: seconds since the Epoch; 3: the time since the
    previous packet; 4: local date and time; 5: the time since the first packet. The
    fraction has 6 digits (9 with nanosecond precision); a time stamp whose seconds have
    bit 31 set prints ``[Error converting time]``, as in tcpdump 4.99.
    """

    def __init__(self, mode: int, nano: bool) -> None:
        self.mode = min(mode, 5)
        self.nano = nano
        self.unit = 1_000_000_000 if nano else 1_000_000
        self.reference: Optional[tuple[int, int]] = None

    def format(self, header: pcapy.Pkthdr) -> str:
        """The column for this packet, with its trailing space (``""`` for ``-t``)."""
        if self.mode == 1:
            return ""
        seconds, fraction = header.getts_ns() if self.nano else header.getts()
        if self.mode in (3, 5):
            return self._delta(seconds, fraction) + " "
        if self.mode == 2:
            text = f"{seconds}{self._fraction(fraction)}"
            return ("[Error converting time]" if seconds & 0x80000000 else text) + " "
        return self._clock(seconds, fraction, local=True, date=self.mode == 4) + " "

    def _fraction(self, fraction: int) -> str:
        return f".{fraction:09d}" if self.nano else f".{fraction:06d}"

    def _clock(self, seconds: int, fraction: int, *, local: bool, date: bool) -> str:
        if seconds & 0x80000000:
            return "[Error converting time]"
        try:
            moment = time.localtime(seconds) if local else time.gmtime(seconds)
        except (OverflowError, OSError, ValueError):
            return "[Error converting time]"
        pattern = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
        return time.strftime(pattern, moment) + self._fraction(fraction)

    def _delta(self, seconds: int, fraction: int) -> str:
        """`` HH:MM:SS.frac`` (``-`` instead of the space when earlier than the reference)."""
        now = seconds * self.unit + fraction
        if self.reference is None or self.reference == (0, 0):
            self.reference = (seconds, fraction)
        start = self.reference[0] * self.unit + self.reference[1]
        if self.mode == 3:
            self.reference = (seconds, fraction)
        sign = "-" if now < start else " "
        whole, part = divmod(abs(now - start), self.unit)
        return sign + self._clock(whole, part, local=False, date=False)


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


def packet_linktype(header: pcapy.Pkthdr, default: int) -> int:
    """The DLT of a packet: its pcapng interface's, else the reader's ``default``."""
    dlt = getattr(header.interface, "dlt", None)
    return dlt if isinstance(dlt, int) else default
