"""``open_offline``: a Reader over the pure-Python savefile engine."""

from __future__ import annotations

import io
import os

from ._offload import LIBPCAP_FILTERS
from ._reader import Reader
from ._savefile import open_savefile
from ._savefile._stream import PathOrFile


def open_offline(filename: PathOrFile) -> Reader:
    """Open a savefile for reading: a path, ``'-'`` for standard input, or a binary file object.

    Reads classic pcap (either byte order, micro- or nanosecond, Kuznetzov's format), pcapng and
    gzip-compressed files of either, without libpcap.
    """
    _check_target(filename)
    return Reader(open_savefile(filename, filter_backend=LIBPCAP_FILTERS))


def _check_target(filename: object) -> None:
    """Refuse, with a message naming the argument, what the engine would trip over later."""
    if isinstance(filename, (str, bytes, os.PathLike)):
        path = os.fspath(filename)
        if ("\x00" if isinstance(path, str) else b"\x00") in path:
            raise ValueError(f"open_offline() path must not contain NUL characters: {path!r}")
    elif isinstance(filename, io.TextIOBase):
        raise TypeError("open_offline() needs a file object opened in binary mode ('rb')")
