"""``pcapy query FILE... "SQL"``: SQL over the packets of capture files, by DuckDB.

The packets are the table ``packets`` (the columns of ``Reader.to_arrow``, docs/tables.md),
streamed to DuckDB batch by batch as it reads them. The result is printed as tab-separated
lines under a header line (``--format csv`` for CSV). Needs ``pip install 'pcapy-cffi[sql]'``.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from typing import Any

from ._args import Parser
from ._common import PROG, CommandError
from ._tables import load, packet_stream


def run(argv: Sequence[str]) -> int:
    """Run the query; print its result."""
    parser = Parser(prog=f"{PROG} query",
                    description="Run SQL over capture files (the table is named packets).")
    parser.add_argument("words", nargs="+", metavar="FILE... SQL",
                        help="capture files, then the SQL query")
    parser.add_argument("--filter", dest="expression", metavar="EXPR",
                        help="a BPF expression applied before rows are built")
    parser.add_argument("--format", choices=("tsv", "csv"), default="tsv")
    parser.add_argument("--batch-size", type=int, default=65536, metavar="N")
    args = parser.parse_args(argv)
    if len(args.words) < 2:
        raise CommandError("give one or more capture files, then the SQL query")
    *files, sql = args.words
    duckdb = load("duckdb", "sql", "pcapy query")
    stream = packet_stream(files, None, True, args.expression, args.batch_size)
    connection = duckdb.connect()
    connection.register("packets", stream)
    try:
        relation = connection.sql(sql)
    except duckdb.Error as err:
        raise CommandError(f"query: {err}") from err
    if relation is None:
        return 0
    _print(relation.columns, relation.fetchall(), args.format)
    return 0


def _print(columns: list[str], rows: list[tuple[Any, ...]], form: str) -> None:
    writer = csv.writer(sys.stdout, delimiter="\t" if form == "tsv" else ",",
                        lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
