"""What every part of the command shares: its name, its one error type and how errors are told."""

from __future__ import annotations

import os
import sys

PROG = "pcapy"


class CommandError(Exception):
    """A problem to report as ``pcapy: <message>`` with exit status 1."""



def error_message(err: BaseException) -> str:
    """The text after ``pcapy: `` for an exception (``FILE: strerror`` for an OSError)."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


def report(message: str) -> None:
    """Write ``pcapy: message`` on standard error."""
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def quiet_broken_pipe() -> int:
    """The reader of our output went away (``pcapy -r f | head``): stop without a word."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0
