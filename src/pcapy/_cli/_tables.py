"""What ``convert`` and ``query`` share: the packets of several files as one Arrow stream.

The stream reads the files one after the other through ``Reader.to_arrow`` (a filter applies
first), with a progress bar on standard error when it is a terminal (bytes of the files read,
estimated from each packet's captured length plus its record header).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import pcapy

from ._common import CommandError
from .progress import Progress, file_size

RECORD_OVERHEAD = 16  # bytes of a classic pcap record header (pcapng blocks: about twice that)


def load(module: str, extra: str, command: str) -> Any:
    """Import an optional dependency, or say which extra to install."""
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        package = module.split(".", maxsplit=1)[0]
        raise CommandError(
            f"{command} needs {package}: pip install 'pcapy-cffi[{extra}]' ({err})"
        ) from err


def packet_stream(files: Sequence[str], columns: Optional[list[str]], decode: bool,
                  expression: Optional[str], batch_size: int) -> Any:
    """One ``pyarrow.RecordBatchReader`` over every file (the columns all files have)."""
    pa = load("pyarrow", "arrow", "this command")
    arrow = load("pcapy.arrow", "arrow", "this command")
    formats = {_format(path) for path in files}
    file_format = "pcapng" if formats == {"pcapng"} else "pcap"
    try:
        schema = arrow.schema(file_format, columns, decode=decode)
    except ValueError as err:
        raise CommandError(str(err)) from err
    if len(files) == 1:
        reader = _open(files[0], expression)
        stream = reader.to_arrow(batch_size, schema.names, decode)
        schema = stream.schema  # with the file's header in the metadata
        batches: Iterator[Any] = _with_progress([stream], files)
    else:
        streams = (_open(p, expression).to_arrow(batch_size, schema.names, decode) for p in files)
        batches = (b.replace_schema_metadata(None) for b in _with_progress(streams, files))
    return pa.RecordBatchReader.from_batches(schema, batches)


def _format(path: str) -> str:
    with pcapy.open_offline(path) as reader:
        return reader.file_format or "pcap"


def _open(path: str, expression: Optional[str]) -> pcapy.Reader:
    reader = pcapy.open_offline(path)
    if expression:
        reader.setfilter(expression)
    return reader


def _with_progress(streams: Any, files: Sequence[str]) -> Iterator[Any]:
    total = sum(max(file_size(path), 0) for path in files)
    with Progress(total, os.path.basename(files[0]) if len(files) == 1 else
                  f"{len(files)} files") as progress:
        for stream in streams:
            for batch in stream:
                progress.advance(_bytes_of(batch))
                yield batch


def _bytes_of(batch: Any) -> int:
    if "caplen" in batch.schema.names:
        caplens = batch.column("caplen")
        return int(sum(caplens.to_numpy(zero_copy_only=False))) + RECORD_OVERHEAD * len(batch)
    return RECORD_OVERHEAD * len(batch)
