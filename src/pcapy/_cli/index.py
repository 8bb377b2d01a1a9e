"""``pcapy index FILE... [-o OUT]``: write the range index ``pcapy.split`` reads boundaries from.

One pass over each file's record headers; the index is written beside the file
(``FILE.pcapy-index``, where ``split`` and ``pcapy.dask.read_pcap`` find it) or to ``-o OUT``
(one file only). See docs/tables.md, "Exact byte ranges".
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pcapy

from ._args import Parser
from ._common import PROG, CommandError


def build_parser() -> Parser:
    """The ``pcapy index`` parser (also read by the manual page)."""
    parser = Parser(prog=f"{PROG} index",
                    description="Write the range index of capture files (for pcapy.split).")
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng files")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="where to write the index (one FILE only; default FILE.pcapy-index)")
    return parser


def run(argv: Sequence[str]) -> int:
    """Index the files; say where each index went (on standard error)."""
    args = build_parser().parse_args(argv)
    if args.output is not None and len(args.files) != 1:
        raise CommandError("-o OUT takes one FILE")
    for path in args.files:
        written = pcapy.build_index(path, args.output)
        sys.stderr.write(f"{PROG}: {path}: index written to {written}\n")
    return 0
