"""The capture command's arguments: one parser, built from option groups.

Adding a flag: put one ``group.add_argument(...)`` line in the group it belongs to (each
``add_*_options`` function below is one section of ``--help``; a new section is one more
entry in ``OPTION_GROUPS``) and, if it needs checking beyond argparse, a line in
``check_args``. Then regenerate the manual page, ``python -m pcapy._cli.manpage >
docs/pcapy.1`` (tests/cli/test_tcpdump_flags.py fails while it is stale). The code that
acts on it reads ``args.<dest>`` (capture.py for capture and reading). A subcommand
(``pcapy stats``) has its own parser in its own module: see ``SUBCOMMANDS`` in ``pcapy._cli``.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import Any, Callable, Optional

import pcapy

from ._common import PROG, CommandError
from ._linktypes import parse_linktype

DEFAULT_SNAPLEN = 262144


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported as one ``pcapy: ...`` line (status 1)."""

    def error(self, message: str) -> Any:
        raise CommandError(message)


def add_source_options(group: Any) -> None:
    """Where packets come from: a device or a file, and how a capture is set up."""
    group.add_argument("-D", "--list-interfaces", action="store_true",
                       help="list the capture devices, with addresses and flags")
    group.add_argument("-i", "--interface", metavar="IFACE", help="capture on IFACE")
    group.add_argument("-L", "--list-data-link-types", dest="list_linktypes",
                       action="store_true",
                       help="list the link types IFACE can capture with (for -y), and exit")
    group.add_argument("-r", dest="read", metavar="FILE",
                       help="read packets from FILE ('-': stdin)")
    group.add_argument("-s", "--snapshot-length", dest="snaplen", type=int,
                       default=DEFAULT_SNAPLEN, metavar="SNAPLEN",
                       help="bytes kept of each packet (0: 262144)")
    group.add_argument("-p", "--no-promiscuous-mode", dest="no_promisc", action="store_true",
                       help="do not put the interface in promiscuous mode")
    group.add_argument("--immediate", "--immediate-mode", dest="immediate",
                       action="store_true", help="deliver packets as soon as they arrive")
    group.add_argument("--workers", type=int, metavar="N",
                       help="capture with N processes sharing IFACE by flow (Linux "
                            "PACKET_FANOUT); -w writes their packets merged by time")
    group.add_argument("-B", "--buffer-size", dest="buffer_kib", metavar="KIB",
                       type=number("invalid packet buffer size"),
                       help="the capture buffer's size, in KiB")
    group.add_argument("-Q", "--direction", metavar="DIRECTION", type=direction,
                       help="capture packets sent 'in', 'out' or both ('inout')")
    group.add_argument("-y", "--linktype", metavar="LINKTYPE",
                       help="capture with this link type (one -L lists; default LINUX_SLL2 "
                            "on 'any'), or compile -d for it without a file or device; "
                            "a name (case-insensitive) or a number")


def add_filter_options(group: Any) -> None:
    """The filter expression and how it is compiled."""
    group.add_argument("-d", action="count", default=0, dest="dump_program",
                       help="print the compiled filter (-dd: as C, -ddd: as decimal)")
    group.add_argument("-O", "--no-optimize", dest="no_optimize", action="store_true",
                       help="do not optimise the filter program")
    group.add_argument("--compiler", choices=("auto", "libpcap", "pcapy"), default="auto",
                       help="the filter compiler: libpcap's, pcapy's own, or auto (libpcap's "
                            "when it loads; the default)")
    group.add_argument("-F", dest="filter_file", metavar="FILE",
                       help="read the filter expression from FILE ('#' starts a comment); "
                            "an expression on the command line is then ignored")


def add_output_options(group: Any) -> None:
    """Writing packets to a file, and when to stop."""
    group.add_argument("-w", dest="write", metavar="FILE",
                       help="write packets to FILE ('-': stdout); pcapng if it ends in "
                            ".pcapng")
    group.add_argument("--format", choices=("pcap", "pcapng"), help="format written by -w")
    group.add_argument("-c", dest="count", metavar="COUNT", type=number("invalid packet count"),
                       help="stop after COUNT packets")
    group.add_argument("-C", dest="file_size", metavar="MILLIONS", type=number("invalid file size"),
                       help="with -w: before writing a packet, start a new file once the "
                            "current one holds more than MILLIONS x 1,000,000 bytes (FILE, "
                            "FILE1, FILE2, ...)")
    group.add_argument("-G", dest="rotate_seconds", metavar="SECONDS",
                       type=number("invalid number of seconds", minimum=0),
                       help="with -w: start a new file every SECONDS seconds; FILE is a "
                            "strftime pattern (e.g. 'dump-%%H%%M%%S.pcap')")
    group.add_argument("-W", dest="file_count", metavar="COUNT",
                       type=number("invalid number of output files"),
                       help="with -C: keep COUNT files, reused in a ring (FILE0, FILE1, ...); "
                            "with -G alone: stop after COUNT files")
    group.add_argument("-U", "--packet-buffered", dest="packet_buffered", action="store_true",
                       help="write each packet out as soon as it is handled (to the -w "
                            "file, else to standard output)")
    group.add_argument("--count", dest="count_only", action="store_true",
                       help="print only the number of packets read from the file")


def add_printing_options(group: Any) -> None:
    """How each packet is printed."""
    group.add_argument("-n", action="count", default=0,
                       help="accepted for compatibility: names are never looked up")
    group.add_argument("-e", action="store_true", dest="link_header",
                       help="print the link-layer header")
    group.add_argument("-x", action="count", default=0, dest="hex",
                       help="print each packet in hex (-xx: with its link-layer header)")
    group.add_argument("-X", action="count", default=0, dest="hex_ascii",
                       help="print each packet in hex and ASCII (-XX: with the link header)")
    group.add_argument("--time-precision", "--time-stamp-precision", dest="precision",
                       choices=("micro", "nano"), default="micro",
                       help="time stamps in microseconds (default) or nanoseconds")
    group.add_argument("--micro", dest="precision", action="store_const", const="micro",
                       help="time stamps in microseconds")
    group.add_argument("--nano", dest="precision", action="store_const", const="nano",
                       help="time stamps in nanoseconds")
    group.add_argument("-t", action="count", default=0, dest="time_format",
                       help="-t: no time stamp; -tt: seconds since the Epoch; -ttt: time since "
                            "the previous packet; -tttt: date and time; -ttttt: time since "
                            "the first packet")
    group.add_argument("-#", "--number", dest="number", action="store_true",
                       help="print each packet's number first")
    group.add_argument("-A", action="count", default=0, dest="ascii",
                       help="print each packet as text (-AA: with its link-layer header)")
    group.add_argument("-S", "--absolute-tcp-sequence-numbers", dest="absolute",
                       action="store_true", help="print absolute TCP sequence numbers")
    group.add_argument("-q", action="store_true", dest="quiet",
                       help="print less protocol detail")
    group.add_argument("-v", action="count", default=0, dest="verbose",
                       help="print IP header details and verified checksums, as tcpdump -v "
                            "(-vv and -vvv print the same)")
    group.add_argument("-l", action="store_true", dest="line_buffered",
                       help="flush standard output after every packet")


#: (section title, function adding its options): the parser's groups, in ``--help`` order
OPTION_GROUPS: list[tuple[str, Callable[[Any], None]]] = [
    ("source", add_source_options),
    ("filter", add_filter_options),
    ("output", add_output_options),
    ("printing", add_printing_options),
]


def build_parser() -> argparse.ArgumentParser:
    """The capture command's options (tcpdump's letters where they mean the same)."""
    parser = Parser(prog=PROG, description="Read, capture, filter and print packets the way "
                    "tcpdump does (output as with tcpdump -nn).",
                    epilog="pcapy stats FILE [FILE ...] summarises capture files.")
    for title, add_options in OPTION_GROUPS:
        add_options(parser.add_argument_group(f"{title} options"))
    parser.add_argument("--version", action=VersionAction, nargs=0,
                        help="print pcapy's and libpcap's versions, and exit")
    parser.add_argument("expression", nargs="*", help="a BPF filter expression")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parsed and checked options; raises ``CommandError`` on a usage problem."""
    return check_args(build_parser().parse_args(argv))


def number(complaint: str, minimum: int = 1) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``, else ``complaint VALUE`` (tcpdump's
    words for its -c, -B, -C, -G and -W)."""
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise CommandError(f"{complaint} {text}")
        return value
    return parse


#: -Q's words (any case), as pcap_setdirection takes them
DIRECTIONS = {"in": pcapy.PCAP_D_IN, "out": pcapy.PCAP_D_OUT, "inout": pcapy.PCAP_D_INOUT}


def direction(text: str) -> int:
    """-Q's argument as a ``PCAP_D_*`` value."""
    value = DIRECTIONS.get(text.lower())
    if value is None:
        raise CommandError(f"unknown capture direction `{text}'")
    return value


class VersionAction(argparse.Action):
    """``--version``: pcapy's version and libpcap's (as tcpdump prints both), then exit 0."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        sys.stdout.write(f"{PROG} version {pcapy.__version__}\n{libpcap_version()}\n")
        sys.stdout.flush()
        parser.exit(0)


def libpcap_version() -> str:
    """``pcap_lib_version()``'s text, or why there is none."""
    from .._libpcap import lib_version  # noqa: PLC0415 (loads libpcap: only when asked)

    try:
        return lib_version()
    except pcapy.PcapError as err:
        return f"libpcap: not available ({err})"


def read_filter_file(path: str) -> str:
    """-F: the file's text with each ``#`` comment blanked to the end of its line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            text = source.read()
    except OSError as err:
        raise CommandError(f"can't open {path}: {err.strerror}") from err
    return "\n".join(line.split("#", 1)[0] for line in text.split("\n"))


def check_args(args: argparse.Namespace) -> argparse.Namespace:
    """Checks argparse cannot make, and the values derived from the options."""
    for path in (args.read, args.write):
        if path == "":  # tcpdump: fopen("") fails, not a capture or standard output
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "")
    if args.read and args.interface:
        raise CommandError("-r and -i cannot be used together")
    if args.time_format > 5:
        raise CommandError("only -t, -tt, -ttt, -tttt and -ttttt are supported")
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"invalid number of workers {args.workers}")
    if args.snaplen < 0:
        raise CommandError(f"invalid snaplen {args.snaplen}")
    args.snaplen = args.snaplen or DEFAULT_SNAPLEN
    args.filter = (read_filter_file(args.filter_file) if args.filter_file
                   else " ".join(args.expression))
    # checked now, whatever the source, as tcpdump does
    args.dlt = parse_linktype(args.linktype) if args.linktype is not None else None
    return args
