"""``pcapy query FILE... "SQL"``: SQL over the packets of capture files, by DuckDB.

The packets are the table ``packets`` (the columns of ``Reader.to_arrow``, docs/tables.md),
streamed to DuckDB batch by batch as it reads them. The result is printed as tab-separated
lines under a header line (``--format csv`` for CSV). Needs ``pip install 'pcapy-cffi[sql]'``.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pcapy

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
    pa = load("pyarrow", "arrow", "pcapy query")
    stream = packet_stream(files, None, True, args.expression, args.batch_size)
    failures: list[Exception] = []
    connection = duckdb.connect()
    connection.register("packets", pa.RecordBatchReader.from_batches(
        stream.schema, _noting_failure(stream, failures)))
    try:
        relation = connection.sql(sql)
        if relation is None:
            return 0
        columns, rows = relation.columns, relation.fetchall()
    except duckdb.Error as err:
        if failures:  # reading the files failed: their error, not DuckDB's account of it
            raise failures[0] from err
        raise CommandError(f"query: {err}") from err
    _print(columns, rows, args.format)
    return 0


def _noting_failure(stream: Any, failures: list[Exception]) -> Iterator[Any]:
    """The stream's batches; what reading them raised is also kept in ``failures`` (DuckDB
    reports it as an error of its own, a Python traceback in its text)."""
    try:
        yield from stream
    except (pcapy.PcapError, OSError, ValueError) as err:
        failures.append(err)
        raise


def _print(columns: list[str], rows: list[tuple[Any, ...]], form: str) -> None:
    writer = csv.writer(sys.stdout, delimiter="\t" if form == "tsv" else ",",
                        lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
