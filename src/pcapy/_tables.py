"""The table functions as ``pcapy`` exports them: they load ``pcapy.arrow`` (and pyarrow) on call.

``import pcapy`` stays free of pyarrow and numpy: these wrappers import the ``arrow`` module only
when a table is asked for, and name the extra to install when it is missing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._reader import Reader


def table_function(name: str) -> Callable[..., Any]:
    """A function of ``pcapy.arrow``, or a ModuleNotFoundError naming the extra to install."""
    try:
        from . import arrow  # noqa: PLC0415 - pyarrow loads only when tables are asked for
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"{name} needs pyarrow and numpy: pip install 'pcapy-cffi[arrow]' ({err})"
        ) from err
    return getattr(arrow, name.rpartition(".")[2])  # type: ignore[no-any-return]


def to_parquet(path_or_reader: Union[str, os.PathLike[str], Reader],
               out: Union[str, os.PathLike[str]], *, batch_size: int = 65536,
               columns: Optional[Iterable[str]] = None, decode: bool = True,
               filter: Optional[str] = None, compression: str = "zstd") -> int:
    """Write a capture (a path or a Reader) to a Parquet file; return the number of rows.

    The columns are ``Reader.to_arrow``'s (see ``pcapy.arrow``); ``filter`` is a BPF expression
    applied first. Needs ``pip install 'pcapy-cffi[arrow]'``.
    """
    function = table_function("to_parquet")
    return int(function(path_or_reader, out, batch_size=batch_size, columns=columns,
                        decode=decode, filter=filter, compression=compression))


def write_arrow(table_or_batches: Any, path: Union[str, os.PathLike[str]], *,
                format: Optional[str] = None) -> int:
    """Write packets from Arrow columns (a table, a RecordBatchReader or batches) to a pcap or
    pcapng file; return the number of packets. See ``pcapy.arrow.write_arrow``."""
    function = table_function("write_arrow")
    return int(function(table_or_batches, path, format=format))
