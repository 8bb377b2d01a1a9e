"""``open_offline``: a Reader over the pure-Python savefile engine."""

from __future__ import annotations

from ._offload import offload
from ._reader import Reader
from ._savefile import open_savefile
from ._savefile._stream import PathOrFile


def open_offline(filename: PathOrFile) -> Reader:
    """Open a savefile for reading: a path, ``'-'`` for standard input, or a binary file object.

    Reads classic pcap (either byte order, micro- or nanosecond, Kuznetzov's format), pcapng and
    gzip-compressed files of either, without libpcap.
    """
    source = open_savefile(filename)
    source.offload = offload
    return Reader(source)
