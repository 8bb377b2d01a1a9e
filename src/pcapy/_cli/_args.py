"""The capture command's arguments: one parser, built from option groups.

Adding a flag: put one ``group.add_argument(...)`` line in the group it belongs to (each
``add_*_options`` function below is one section of ``--help``; a new section is one more
entry in ``OPTION_GROUPS``) and, if it needs checking beyond argparse, a line in
``check_args``. The code that acts on it reads ``args.<dest>``
(capture.py for capture and reading). A subcommand (``pcapy stats``) has its own parser in
its own module: see ``SUBCOMMANDS`` in ``pcapy._cli``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, Callable

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


def add_output_options(group: Any) -> None:
    """Writing packets to a file, and when to stop."""
    group.add_argument("-w", dest="write", metavar="FILE",
                       help="write packets to FILE ('-': stdout); pcapng if it ends in "
                            ".pcapng")
    group.add_argument("--format", choices=("pcap", "pcapng"), help="format written by -w")
    group.add_argument("-c", dest="count", type=int, default=0, metavar="COUNT",
                       help="stop after COUNT packets")


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
    group.add_argument("-t", action="store_true", dest="no_time", help="print no time stamp")
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
    parser.add_argument("--version", action="version", version=f"pcapy {pcapy.__version__}")
    parser.add_argument("expression", nargs="*", help="a BPF filter expression")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parsed and checked options; raises ``CommandError`` on a usage problem."""
    return check_args(build_parser().parse_args(argv))


def check_args(args: argparse.Namespace) -> argparse.Namespace:
    """Checks argparse cannot make, and the values derived from the options."""
    if args.read and args.interface:
        raise CommandError("-r and -i cannot be used together")
    if args.count < 0:
        raise CommandError(f"invalid packet count {args.count}")
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"invalid number of workers {args.workers}")
    if args.snaplen < 0:
        raise CommandError(f"invalid snaplen {args.snaplen}")
    args.snaplen = args.snaplen or DEFAULT_SNAPLEN
    args.filter = " ".join(args.expression)
    # checked now, whatever the source, as tcpdump does
    args.dlt = parse_linktype(args.linktype) if args.linktype is not None else None
    return args
