"""``pcapy convert FILE... -o OUT.parquet [--columns C,...] [EXPR]``: captures to Parquet.

The columns are ``Reader.to_arrow``'s (docs/tables.md); the BPF expression, if any, keeps only
the packets it matches. Written batch by batch (bounded memory), with a progress bar on a
terminal. Needs the ``arrow`` extra.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._args import Parser
from ._common import PROG
from ._tables import load, packet_stream


def run(argv: Sequence[str]) -> int:
    """Convert the files; print how many packets were written (on standard error)."""
    parser = Parser(prog=f"{PROG} convert",
                    description="Write capture files as one Parquet file of packet columns.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng files")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="the Parquet file to write")
    parser.add_argument("--columns", metavar="C,...", help="the columns to keep, in order")
    parser.add_argument("--no-decode", action="store_true",
                        help="leave out the decoded columns (addresses, ports...)")
    parser.add_argument("--batch-size", type=int, default=65536, metavar="N",
                        help="packets per batch (and row group)")
    parser.add_argument("--compression", default="zstd", help="Parquet compression codec")
    parser.add_argument("--filter", dest="expression", metavar="EXPR",
                        help="a BPF expression (or give it after the files, as tcpdump does)")
    args, rest = parser.parse_known_args(argv)
    files, expression = split_expression(args.files + rest, args.expression)
    columns = args.columns.split(",") if args.columns else None
    parquet = load("pyarrow.parquet", "arrow", "pcapy convert")
    stream = packet_stream(files, columns, not args.no_decode, expression, args.batch_size)
    rows = 0
    with parquet.ParquetWriter(args.output, stream.schema,
                               compression=args.compression) as writer:
        for batch in stream:
            writer.write_batch(batch)
            rows += batch.num_rows
    sys.stderr.write(f"{PROG}: {rows} packets written to {args.output}\n")
    return 0


def split_expression(words: list[str], expression: str | None) -> tuple[list[str], str | None]:
    """Files, then a filter: the first word that is not an existing file starts the filter."""
    import os  # noqa: PLC0415

    for index, word in enumerate(words):
        if not os.path.exists(word) and word != "-":
            tail = " ".join(words[index:])
            return words[:index], " ".join(w for w in (expression, tail) if w) or None
    return words, expression
