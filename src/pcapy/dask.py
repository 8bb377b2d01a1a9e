"""Captures as a Dask DataFrame: one partition per exact byte range (``pcapy.split``).

Needs the ``dask`` extra (``pip install 'pcapy-cffi[dask]'``: dask[dataframe,distributed], pyarrow,
numpy). ``read_pcap(paths)`` splits each file into ranges of about ``split_bytes`` and builds the
DataFrame with ``dask.dataframe.from_map``: a task reads its range with ``read_range`` and
``Reader.to_arrow``, so workers read only their own bytes (plus the file header, or a pcapng
section's header and interface blocks) and no packet is read twice. Columns keep their Arrow
types (``pandas.ArrowDtype``): exact nanosecond time stamps, nullable unsigned integers, text
addresses. A BPF ``filter`` applies in each task before rows are built.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa

from . import arrow
from ._args import as_positive_int
from ._ranges import range_bytes_read, read_range, split
from ._split import ByteRange

__all__ = ["read_pcap", "read_partition"]

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_SPLIT_BYTES = 64 << 20

#: What each range cost in this process, by (path, start, end): bytes read from the file (the
#: context pieces included) and CPU seconds of the task's thread. How a test (or a curious user,
#: through ``Client.run``) sees that a worker read only its range and did no redundant work.
RANGE_STATS: dict[tuple[str, int, int], tuple[int, float]] = {}


def read_pcap(paths: Union[PathLike, Sequence[PathLike]], split_bytes: int = DEFAULT_SPLIT_BYTES,
              columns: Optional[Iterable[str]] = None, filter: Optional[str] = None,
              decode: bool = True, batch_size: int = arrow.DEFAULT_BATCH_SIZE) -> Any:
    """A ``dask.dataframe.DataFrame`` of the packets of ``paths`` (a path or a list of paths).

    Each file is cut into ranges of about ``split_bytes`` bytes; ``columns``/``decode`` are
    ``Reader.to_arrow``'s, ``filter`` a BPF expression. Partitions follow the files' order.
    """
    split_bytes = as_positive_int("split_bytes", split_bytes)
    files = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [
        os.fspath(p) for p in paths]
    if not files:
        raise ValueError("read_pcap needs at least one path")
    names = _common_columns(files, columns, decode)
    parts = [(path, byte_range) for path in files
             for byte_range in split(path, max(1, math.ceil(os.path.getsize(path) / split_bytes)))]
    meta = _pandas(arrow.schema("pcapng", names, decode=decode).empty_table())
    dataframe: Any = dd  # (dask's annotations are partial: from_map is untyped)
    return dataframe.from_map(read_partition, parts, columns=names, filter=filter,
                              decode=decode, batch_size=batch_size, meta=meta,
                              enforce_metadata=False)


def _common_columns(files: list[str], columns: Optional[Iterable[str]],
                    decode: bool) -> list[str]:
    from ._offline import open_offline  # noqa: PLC0415

    formats = set()
    for path in files:
        with open_offline(path) as reader:
            formats.add(reader.file_format or "pcap")
    file_format = "pcapng" if formats == {"pcapng"} else "pcap"
    return list(arrow.schema(file_format, columns, decode=decode).names)


def read_partition(part: tuple[str, ByteRange], columns: list[str],
                   filter: Optional[str] = None, decode: bool = True,
                   batch_size: int = arrow.DEFAULT_BATCH_SIZE) -> pd.DataFrame:
    """One partition: the packets of one byte range as a pandas DataFrame (Arrow dtypes)."""
    path, byte_range = part
    started = time.thread_time()
    with read_range(path, byte_range) as reader:
        if filter is not None:
            reader.setfilter(filter)
        table = reader.to_arrow(batch_size, columns, decode).read_all()
        read = range_bytes_read(reader)
    frame = _pandas(table)
    RANGE_STATS[(path, byte_range.start, byte_range.end)] = (read, time.thread_time() - started)
    return frame


def _pandas(table: pa.Table) -> pd.DataFrame:
    """A DataFrame with Arrow dtypes; dictionaries as plain strings, views as binary (so that
    partitions agree on their types whatever their dictionaries). Built column by column
    (``ArrowExtensionArray``, no copy): ``Table.to_pandas`` costs twice as much per call, which
    a partition pays once."""
    columns = {field.name: pd.arrays.ArrowExtensionArray(_plain(column, field.type))
               for field, column in zip(table.schema, table.columns)}
    return pd.DataFrame(columns, copy=False)


def _plain(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_dictionary(kind):
        return column.cast(kind.value_type)
    if kind == pa.binary_view():
        return column.cast(pa.binary())
    return column
