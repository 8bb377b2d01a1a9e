"""The ``pcapy`` command: tcpdump's everyday flags over pcapy's public API, and ``pcapy stats``.

``pcapy [-r FILE | -i IFACE] [options] [expression]`` reads a savefile or captures live, filters
with a BPF expression and prints one tcpdump-style line per packet (``pcapy._decode``), or
writes the packets with ``-w``. The flags mean what they mean to tcpdump; the output equals
``tcpdump -nn``'s (``-v``: ``tcpdump -v -nn``'s) for the protocols the decoder knows. Names are
never looked up: ``-n`` is accepted for compatibility and changes nothing. ``-d`` prints the
compiled filter program as ``tcpdump -d`` does (``-dd`` as C, ``-ddd`` as decimal). ``-L``
lists a device's link types and ``-y`` chooses one, in tcpdump 4.99's words (LINUX_SLL2 is
the default on ``any``, as there).

``pcapy stats FILE...`` summarises capture files instead: packets, bytes, time span, rates,
link types, protocols and the busiest address pairs. ``pcapy convert FILE... -o OUT.parquet``
writes their packets as columns, ``pcapy query FILE... "SQL"`` runs DuckDB over them
(docs/tables.md; the ``arrow`` and ``sql`` extras); ``pcapy index FILE...`` writes the range
index ``pcapy.split`` reads its boundaries from.

Every error is one line on standard error, ``pcapy: <message>``, and exit status 1.

The package, one module a concern (imports flow down this list):

    __init__.py    main(): picks the subcommand, turns errors into one line and a status
    capture.py     reading (-r) and capture (-i), printing or writing (-w)
    stats.py       pcapy stats
    convert.py     pcapy convert;  query.py: pcapy query;  _tables.py: their Arrow stream
    index.py       pcapy index
    _args.py       the capture command's parser, in option groups (add a flag there)
    live.py        opening a device, waiting for packets, signals, closing statistics
    printer.py     one packet's text: time stamp, summary, hex dump
    program.py     -d/-dd/-ddd;  devices.py: -D;  _linktypes.py: link type names
    progress.py    a progress bar for long work, on terminals only
    _common.py     PROG, CommandError, report()

Adding a subcommand: write ``pcapy/_cli/NAME.py`` with ``def run(argv: Sequence[str]) -> int``
(its own ``_args.Parser``; raise ``CommandError`` for usage problems) and add one line to
``SUBCOMMANDS`` below. The module is imported only when its subcommand runs, so it may import
optional extras (pyarrow, duckdb) at its top. A ``build_parser()`` in it puts its options in
the manual page (``python -m pcapy._cli.manpage > docs/pcapy.1``); the page is only stable if
the module imports without the extras (import them inside ``run``), since a module that
cannot be imported is left out of it.

The command uses only pcapy's public API; it is imported only when the command runs.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Optional

import pcapy

from ._common import CommandError, error_message, quiet_broken_pipe, report
from .capture import run_capture

#: ``pcapy NAME ...`` -> the module (in this package) whose ``run(argv)`` handles it
SUBCOMMANDS: dict[str, str] = {
    "stats": "stats",
    "convert": "convert",
    "query": "query",
    "index": "index",
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns the exit status (the console script passes it to ``exit``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    open_closed_streams()
    try:
        return run_command(args)
    except (CommandError, pcapy.PcapError, OSError, ValueError) as err:
        if isinstance(err, BrokenPipeError):
            return quiet_broken_pipe()
        report(error_message(err))
        return 1
    except KeyboardInterrupt:
        return 0


def open_closed_streams() -> None:
    """Started with standard output or error closed (``pcapy ... >&-``), Python has None
    there; like tcpdump, write into the void instead (its writes fail unseen, status 0)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 (lives as long as sys)


def run_command(args: Sequence[str]) -> int:
    """Run the subcommand ``args[0]`` names, else the capture command over all of ``args``."""
    name = args[0] if args else ""
    if name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{SUBCOMMANDS[name]}")
        status: int = module.run(args[1:])
        return status
    return run_capture(args)
