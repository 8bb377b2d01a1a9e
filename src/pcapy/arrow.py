"""Captures as Arrow tables: ``Reader.to_arrow()``, ``to_parquet()``, and back: ``write_arrow()``.

Needs the ``arrow`` extra (``pip install pcapy-cffi[arrow]``: pyarrow and numpy); ``import pcapy``
never imports it. A Reader becomes a ``pyarrow.RecordBatchReader`` that streams the file in batches
of up to ``batch_size`` packets, so memory stays bounded by the batch, not the file.

Schema (every column nullable where the packet may not have it):

=================  ========================  ===============================================
column             type                      what
=================  ========================  ===============================================
ts                 timestamp[ns, tz=UTC]     exact (microsecond files are scaled by 1000)
caplen, len        uint32                    captured and wire length
linktype           uint16                    the DLT_ value (``Reader.datalink()``)
interface_id       uint32                    pcapng only: the packet's interface id
interface          dictionary<string>        pcapng only: the interface's ``if_name``
flags              uint32                    pcapng only: ``epb_flags``, where present
direction          uint8                     pcapng only: ``epb_flags & 3`` (1 in, 2 out)
comment            string                    pcapng only: the packet's first comment
data               binary_view               the packet bytes (views into the read buffer)
eth_src, eth_dst   dictionary<string>        Ethernet addresses, ``aa:bb:cc:dd:ee:ff``
ethertype          uint16                    after any 802.1Q/802.1ad tags
vlan               list<uint16>              VLAN ids, outermost first (null: no ethertype)
ip_version         uint8                     4 or 6
src, dst           dictionary<string>        IPv4 dotted quad / IPv6 RFC 5952 text
ip_proto           uint8                     the transport protocol (after IPv6 extensions)
ttl                uint8                     IPv4 TTL / IPv6 hop limit
ip_frag            bool                      a fragment (not a whole packet)
sport, dport       uint16                    TCP, UDP, SCTP ports (whole packets only)
tcp_flags          uint16                    the 12 flag bits of the TCP header
tcp_seq            uint32                    the raw TCP sequence number
payload_len        uint32                    bytes after the TCP/UDP header (or IP header)
=================  ========================  ===============================================

Addresses are text, kept as dictionaries: in each batch ``src`` and ``dst`` (and ``eth_src`` and
``eth_dst``) share one dictionary, in which each distinct address is stored once. DuckDB,
Polars and pandas compare them with string literals and print them as they read.
The schema metadata holds, under ``b"pcapy"``, the file's header as JSON (classic pcap: magic,
version, snapshot length, link-type field...; pcapng: sections and the interfaces known when
``to_arrow`` was called).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._args import as_positive_int
from ._columns import Column, ListColumn, NumberText, decode, rows_at
from ._columns_scan import RawBatch, packet_batches, pcap_batches
from ._reader import engine_of

if TYPE_CHECKING:
    from ._reader import Reader

__all__ = ["COLUMNS", "DECODED_COLUMNS", "schema", "to_arrow", "to_parquet", "write_arrow"]

_TEXT = pa.dictionary(pa.int32(), pa.string())
_BASE = (("ts", pa.timestamp("ns", tz="UTC")), ("caplen", pa.uint32()), ("len", pa.uint32()),
         ("linktype", pa.uint16()))
# Opt-in: the time stamp exactly as stored (for write_arrow's byte-identical copies, and times
# timestamp[ns] cannot hold: before 1677 or after 2262).
_RAW_TIME = (("ts_sec", pa.uint64()), ("ts_frac", pa.uint32()))
_PCAPNG = (("interface_id", pa.uint32()), ("interface", _TEXT), ("flags", pa.uint32()),
           ("direction", pa.uint8()), ("comment", pa.string()))
_DATA = (("data", pa.binary_view()),)
_DECODED = (
    ("eth_src", _TEXT), ("eth_dst", _TEXT), ("ethertype", pa.uint16()),
    ("vlan", pa.list_(pa.uint16())), ("ip_version", pa.uint8()), ("src", _TEXT), ("dst", _TEXT),
    ("ip_proto", pa.uint8()), ("ttl", pa.uint8()), ("ip_frag", pa.bool_()),
    ("sport", pa.uint16()), ("dport", pa.uint16()), ("tcp_flags", pa.uint16()),
    ("tcp_seq", pa.uint32()), ("payload_len", pa.uint32()),
)
#: Every column name, in schema order (the pcapng ones appear only for pcapng files).
COLUMNS = tuple(name for name, _ in (*_BASE, *_PCAPNG, *_DATA, *_DECODED, *_RAW_TIME))
#: The columns ``decode=True`` adds.
DECODED_COLUMNS = tuple(name for name, _ in _DECODED)
_TYPES = dict((*_BASE, *_PCAPNG, *_DATA, *_DECODED, *_RAW_TIME))
METADATA_KEY = b"pcapy"
DEFAULT_BATCH_SIZE = 65536


def schema(file_format: str, columns: Optional[Iterable[str]] = None, *,
           decode: bool = True) -> pa.Schema:
    """The schema ``to_arrow`` gives a ``'pcap'`` or ``'pcapng'`` file (without metadata)."""
    return pa.schema([(name, _TYPES[name]) for name in _names(file_format, columns, decode)])


def _names(file_format: str, columns: Optional[Iterable[str]], decode: bool) -> list[str]:
    available = [name for name, _ in (*_BASE, *(_PCAPNG if file_format == "pcapng" else ()),
                                      *_DATA, *(_DECODED if decode else ()))]
    if columns is None:
        return available
    available += [name for name, _ in _RAW_TIME]
    names = [columns] if isinstance(columns, str) else list(columns)
    for name in names:
        if name not in _TYPES:
            raise ValueError(f"unknown column {name!r}; the columns are: {', '.join(COLUMNS)}")
        if name not in available:
            why = "decode=False" if name in DECODED_COLUMNS else "a classic pcap file"
            raise ValueError(f"column {name!r} is not available with {why}")
    return names


def to_arrow(reader: Reader, batch_size: int = DEFAULT_BATCH_SIZE,
             columns: Optional[Iterable[str]] = None, decode: bool = True) -> pa.RecordBatchReader:
    """The rest of ``reader``'s packets as a ``pyarrow.RecordBatchReader`` (see the module doc).

    ``columns`` picks and orders columns (default: all); ``decode=False`` leaves out the decoded
    ones. A filter set with ``setfilter`` applies before rows are built. The Reader is consumed.
    """
    batch_size = as_positive_int("batch_size", batch_size)
    file_format = reader.file_format or "live"
    names = _names(file_format, columns, decode)
    metadata = {METADATA_KEY: json.dumps(_file_metadata(reader)).encode()}
    arrow_schema = pa.schema([(name, _TYPES[name]) for name in names], metadata=metadata)
    raw = _raw_batches(reader, batch_size, file_format == "pcapng")
    batches = (_record_batch(batch, arrow_schema, _SPELLINGS) for batch in raw)
    return pa.RecordBatchReader.from_batches(arrow_schema, batches)


def _raw_batches(reader: Reader, batch_size: int, pcapng: bool) -> Iterator[RawBatch]:
    fast = None if pcapng else pcap_batches(engine_of(reader), batch_size)
    if fast is not None:
        return fast
    return packet_batches(iter(reader), batch_size, reader.datalink(), pcapng)


def _record_batch(raw: RawBatch, arrow_schema: pa.Schema, spellings: _Spellings) -> pa.RecordBatch:
    names = arrow_schema.names
    arrays: dict[str, pa.Array] = {}
    if any(name in DECODED_COLUMNS for name in names):
        data = np.frombuffer(raw.buffer, np.uint8)
        wanted = frozenset(names)
        decoded = decode(data, raw.starts, raw.caplens, raw.dlts, wanted, raw.heads, raw.head_at)
        for name, column in decoded.columns.items():
            if name in wanted and not isinstance(column, NumberText):
                arrays[name] = _array(column, _TYPES[name])
        for pair in _SHARED_DICTIONARIES:
            texts = [name for name in pair if name in wanted]
            if texts:
                spelled = _spelled([_number_text(decoded.columns[name]) for name in texts],
                                   spellings)
                arrays.update(zip(texts, spelled))
    n = len(raw)
    arrays["ts"] = pa.Array.from_buffers(_TYPES["ts"], n, [None, pa.py_buffer(raw.ts_ns)])
    if raw.ts_valid is not None:
        arrays["ts"] = pa.array(raw.ts_ns, _TYPES["ts"], mask=~raw.ts_valid)
    if "ts_sec" in names or "ts_frac" in names:
        arrays["ts_sec"] = pa.array(raw.seconds.astype(np.uint64))
        arrays["ts_frac"] = pa.array(raw.fractions.astype(np.uint32))
    arrays["caplen"] = pa.array(raw.caplens.astype(np.uint32))
    arrays["len"] = pa.array(raw.lengths.astype(np.uint32))
    arrays["linktype"] = pa.array(raw.dlts.astype(np.uint16))
    if "data" in names:
        heads = None if raw.heads is None else raw.heads[:, raw.head_at:]
        arrays["data"] = binary_view(raw.buffer, raw.starts, raw.caplens, heads)
    if raw.interface_ids is not None:
        _pcapng_arrays(raw, arrays)
    return pa.RecordBatch.from_arrays([arrays[name] for name in names], schema=arrow_schema)


def _pcapng_arrays(raw: RawBatch, arrays: dict[str, pa.Array]) -> None:
    ids, names = raw.interface_ids, raw.interface_names
    assert ids is not None
    assert names is not None
    n = len(ids)
    arrays["interface_id"] = _masked(ids.astype(np.uint32), ids >= 0, pa.uint32())
    codes, spelled = names
    arrays["interface"] = pa.DictionaryArray.from_arrays(
        _masked(codes.astype(np.int32), codes >= 0, pa.int32()), pa.array(spelled, pa.string()))
    if raw.flags is None:
        arrays["flags"], arrays["direction"] = pa.nulls(n, pa.uint32()), pa.nulls(n, pa.uint8())
    else:
        arrays["flags"] = pa.array(raw.flags, pa.uint32())
        arrays["direction"] = pc.bit_wise_and(arrays["flags"], 3).cast(pa.uint8())
    arrays["comment"] = (pa.nulls(n, pa.string()) if raw.comments is None
                         else pa.array(raw.comments, pa.string()))


def _array(column: Column | NumberText | ListColumn, arrow_type: pa.DataType) -> pa.Array:
    if isinstance(column, ListColumn):
        values = pa.array(column.values, pa.uint16())
        offsets = pa.array(column.offsets, pa.int32())
        return pa.ListArray.from_arrays(offsets, values, mask=pa.array(~column.valid))
    assert isinstance(column, Column)
    if column.valid is None:
        return pa.array(column.values, arrow_type)
    return _masked(column.values, column.valid, arrow_type)


def _number_text(column: Column | NumberText | ListColumn) -> NumberText:
    assert isinstance(column, NumberText)
    return column


def _masked(values: Any, valid: Any, arrow_type: pa.DataType) -> pa.Array:
    """``values`` where ``valid``, null elsewhere: integers get a validity bitmap packed by
    numpy beside their own buffer (``pa.array(values, mask=...)`` builds the array element by
    element: ~2 ns an element against ~0.4)."""
    if not pa.types.is_integer(arrow_type) or values.dtype != arrow_type.to_pandas_dtype():
        return pa.array(values, arrow_type, mask=~valid)
    bitmap = np.packbits(valid, bitorder="little")
    data = np.ascontiguousarray(values)
    return pa.Array.from_buffers(arrow_type, len(data), [pa.py_buffer(bitmap), pa.py_buffer(data)])


_HEX = pa.array([f"{i:02x}" for i in range(256)])
_DECIMAL = pa.array([str(i) for i in range(256)])
#: _Spellings kept of each kind of address for the next batches (an address is spelled again
#: only after this many others, as in a scan of the whole address space).
_SPELLINGS_KEPT = 1 << 16


#: Columns whose text shares one dictionary in a batch: the hosts of a capture are mostly both
#: sources and destinations, so each is looked up and stored once, not once a column.
_SHARED_DICTIONARIES = (("src", "dst"), ("eth_src", "eth_dst"))


def _spelled(columns: list[NumberText], spellings: _Spellings) -> list[pa.Array]:
    """Dictionary arrays of the columns' text, sharing one dictionary in which each distinct
    value of them all is spelled once.

    The columns' own values (IPv4 or MAC addresses, one a row) are encoded in one pass over
    all their rows, nulls kept, so each column's codes are a slice of the result; the IPv6
    addresses of the rows that have them (``rest``) are encoded after them and written over
    their rows.
    """
    n = len(columns[0].valid)
    codes, table = _spell_rows(columns, spellings)
    indices = [codes[i * n:(i + 1) * n] for i in range(len(columns))]
    valids = [column.valid for column in columns]
    live = [(i, column.rest) for i, column in enumerate(columns)
            if column.rest is not None and column.rest.valid.any()]
    tables = [table]
    if live:
        codes6, table6 = _spell_ipv6([rest for _, rest in live], spellings)
        at = 0
        for i, rest in live:
            count = len(rest.numbers)
            indices[i] = np.array(indices[i])
            indices[i][np.flatnonzero(rest.valid)] = codes6[at:at + count] + len(table)
            valids[i] = valids[i] | rest.valid
            at += count
        tables.append(table6)
    dictionary = pa.concat_arrays(tables)
    # (safe=False: the codes index the dictionary by their making; checking costs a pass)
    return [pa.DictionaryArray.from_arrays(_masked(codes, valid, pa.int32()), dictionary,
                                           safe=False)
            for codes, valid in zip(indices, valids)]


def _spell_rows(columns: list[NumberText], spellings: _Spellings) -> tuple[Any, pa.Array]:
    """(a code for every row of the columns one after another, any where the row is not
    valid; distinct spellings) of integer-valued columns (IPv4, MAC addresses)."""
    numbers = np.concatenate([column.numbers for column in columns])
    valid = np.concatenate([column.valid for column in columns])
    if not valid.any():
        return np.zeros(len(numbers), np.int32), pa.array([], pa.string())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    values = pa.Array.from_buffers(pa.from_numpy_dtype(numbers.dtype), len(numbers),
                                   [bitmap, pa.py_buffer(np.ascontiguousarray(numbers))])
    encoded = values.dictionary_encode()
    indices = encoded.indices
    codes = np.frombuffer(indices.buffers()[1], np.int32, len(indices), indices.offset * 4)
    return codes, spellings.texts(columns[0].kind, encoded.dictionary.to_numpy())


def _spell_ipv6(parts: list[NumberText], spellings: _Spellings) -> tuple[Any, pa.Array]:
    """(codes, distinct spellings) of the IPv6 addresses of ``parts`` one after another: one
    code for each address, in order."""
    numbers = np.ascontiguousarray(np.concatenate([part.numbers for part in parts]))
    # The 16 bytes as one month_day_nano_interval each: Arrow hashes that type's values three
    # times as fast as binary(16)'s, and any 16 bytes are one (equal when their bytes are).
    values = pa.Array.from_buffers(_OCTETS16, len(numbers), [None, pa.py_buffer(numbers)])
    encoded = values.dictionary_encode()
    return encoded.indices.to_numpy(), spellings.texts("ipv6", _octets(encoded.dictionary))


_OCTETS16 = pa.month_day_nano_interval()


def _octets(array: pa.Array) -> Any:
    """The values of a 16-byte array (``_OCTETS16``) without nulls as 16-byte numpy items
    (``V16``), which sort and compare as their bytes do."""
    start = array.offset * 16
    octets = np.frombuffer(array.buffers()[1], np.uint8)[start:start + len(array) * 16]
    return octets.view("V16")


class _Spellings:
    """The text of the addresses met in the earlier batches, by kind.

    The batches of a capture mostly repeat the addresses of the batches before: each address
    is spelled once (vectorised for IPv4 and MAC addresses, by ``inet_ntop`` for IPv6), then
    looked up, for all the distinct addresses of a batch at once, in a sorted array of those
    already spelled (``searchsorted``; IPv6 addresses as 16-byte items). One table serves
    every stream of the process (``_SPELLINGS``): the byte ranges of one capture, read one
    after another by a Dask worker, spell its addresses once between them, as one read of the
    whole file does. Threads may share it: each call works on what it read of the table, and
    a table replaced meanwhile loses at most the other's additions.
    """

    def __init__(self) -> None:
        self._sorted: dict[str, tuple[Any, pa.Array]] = {}

    def texts(self, kind: str, distinct: Any) -> pa.Array:
        """The text of the addresses ``distinct`` of ``kind`` (``"ipv4"`` or ``"mac"``:
        integers; ``"ipv6"``: 16-byte items), in their order."""
        keys, texts = self._sorted.get(kind) or (distinct[:0], pa.array([], pa.string()))
        where = np.minimum(np.searchsorted(keys, distinct), max(len(keys) - 1, 0))
        known = keys[where] == distinct if len(keys) else np.zeros(len(distinct), np.bool_)
        if known.all():
            return texts.take(pa.array(where))
        missing = distinct[~known]
        new_texts = _spell(kind, missing)
        keys, texts, where = _merged(keys, texts, missing, new_texts, distinct)
        if len(keys) <= _SPELLINGS_KEPT:
            self._sorted[kind] = keys, texts
        return texts.take(pa.array(where))


_SPELLINGS = _Spellings()


def _merged(keys: Any, texts: pa.Array, missing: Any, new_texts: pa.Array,
            distinct: Any) -> tuple[Any, pa.Array, Any]:
    """The sorted keys and texts with ``missing`` added, and where ``distinct`` lie in them."""
    keys = np.concatenate([keys, missing])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    texts = pa.concat_arrays([texts, new_texts]).take(pa.array(order))
    return keys, texts, np.searchsorted(keys, distinct)


def _spell(kind: str, distinct: Any) -> pa.Array:
    if kind == "ipv6":
        return pa.array([socket.inet_ntop(socket.AF_INET6, bytes(address))
                         for address in distinct], pa.string())
    if kind == "mac":
        parts = [_HEX.take(pa.array((distinct >> shift) & 0xFF)) for shift in range(40, -8, -8)]
        return pc.binary_join_element_wise(*parts, ":")
    parts = [_DECIMAL.take(pa.array((distinct >> shift) & 0xFF)) for shift in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def binary_view(buffer: Union[bytes, bytearray], starts: Any, caplens: Any,
                heads: Optional[Any] = None) -> pa.Array:
    """The packets as a ``binary_view`` array pointing into ``buffer`` (no packet is copied).

    A view is 16 bytes: the length, then either the bytes themselves (12 or fewer, zero
    padded) or a 4-byte prefix, the data buffer's index (0, but for batches past 2 GiB) and
    the offset in it (Arrow's columnar format spec). ``heads``, if given, holds each packet's
    first bytes (at least 12 columns, any bytes past its end), copied out already; else they
    are gathered here.
    """
    n = len(starts)
    data = np.frombuffer(buffer, np.uint8) if len(buffer) else np.zeros(1, np.uint8)
    first = rows_at(data, starts, _INLINE) if heads is None else heads[:, :_INLINE]
    views = np.empty((n, 4), np.int32)
    views[:, 0] = caplens
    inline = views.view(np.uint8)[:, 4:]
    inline[:] = first  # (one 12-byte copy a row)
    cut = np.flatnonzero(caplens < _INLINE)
    if len(cut):  # zeros past the packet's end
        inline[cut] = np.where(np.arange(_INLINE) < caplens[cut, None], inline[cut], 0)
    long = caplens > _INLINE
    # A view's offset is 32 bits: past 2 GiB (a batch of large packets), the data are slices
    # starting every _SPAN bytes, each holding whole any packet that starts in it.
    span = _SPAN if len(buffer) > _INT32_MAX else _INT32_MAX + 1
    views[:, 2] = np.where(long, starts // span, views[:, 2])
    views[:, 3] = np.where(long, starts % span, views[:, 3])
    whole = pa.py_buffer(buffer)
    slices = [whole.slice(at, min(len(buffer) - at, _INT32_MAX))
              for at in range(0, max(len(buffer), 1), span)]
    return pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), *slices])


_INLINE = 12  # bytes a binary_view holds in itself
_INT32_MAX = (1 << 31) - 1
_SPAN = 1 << 30  # (packets are far shorter than 1 GiB: one starting in a slice ends in it)


def _file_metadata(reader: Reader) -> dict[str, Any]:
    header = reader.file_header
    file_format = reader.file_format
    if file_format == "pcap":
        return {"format": "pcap", "byte_order": header.byte_order,
                "nanosecond": header.nanosecond, "kuznetzov": header.kuznetzov,
                "version": [header.version_major, header.version_minor],
                "thiszone": header.thiszone, "sigfigs": header.sigfigs,
                "snaplen": header.snaplen, "linktype_field": header.linktype_field,
                "dlt": header.dlt}
    if file_format == "pcapng":
        return {"format": "pcapng",
                "sections": [_section(s) for s in header.sections],
                "interfaces": [_interface(i) for i in header.interfaces]}
    return {"format": "live", "dlt": reader.datalink(), "snaplen": reader.snapshot()}


def _section(section: Any) -> dict[str, Any]:
    return {"index": section.index, "byte_order": section.byte_order,
            "version": [section.version_major, section.version_minor],
            "hardware": section.hardware, "os": section.os, "userappl": section.userappl,
            "comments": list(section.comments)}


def _interface(interface: Any) -> dict[str, Any]:
    return {"id": interface.id, "section": interface.section, "linktype": interface.linktype,
            "dlt": interface.dlt, "snaplen": interface.snaplen, "tsresol": interface.tsresol,
            "tsoffset": interface.tsoffset, "name": interface.name,
            "description": interface.description, "comments": list(interface.comments)}


def file_metadata(arrow_schema: pa.Schema) -> dict[str, Any]:
    """The file facts ``to_arrow`` stored in a schema's metadata (``{}`` if there are none)."""
    raw = (arrow_schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


PathOrReader = Union[str, "os.PathLike[str]", "Reader"]


def to_parquet(path_or_reader: PathOrReader, out: Union[str, os.PathLike[str]], *,
               batch_size: int = DEFAULT_BATCH_SIZE, columns: Optional[Iterable[str]] = None,
               decode: bool = True, filter: Optional[str] = None,
               compression: str = "zstd") -> int:
    """Write a capture (a path or a Reader) to a Parquet file; return the number of rows.

    ``filter`` is a BPF expression applied first (as ``setfilter``). The file is written batch by
    batch, one row group per batch or more, so memory stays bounded.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    stream = _open_stream(path_or_reader, batch_size, columns, decode, filter)
    rows = 0
    with pq.ParquetWriter(os.fspath(out), stream.schema, compression=compression) as writer:
        for batch in stream:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _open_stream(path_or_reader: PathOrReader, batch_size: int,
                 columns: Optional[Iterable[str]], decode: bool,
                 filter: Optional[str]) -> pa.RecordBatchReader:
    from ._offline import open_offline  # noqa: PLC0415
    from ._reader import Reader  # noqa: PLC0415

    reader = path_or_reader if isinstance(path_or_reader, Reader) else open_offline(path_or_reader)
    if filter is not None:
        reader.setfilter(filter)
    return to_arrow(reader, batch_size, columns, decode)


Batches = Union[pa.Table, pa.RecordBatchReader, pa.RecordBatch, Iterable[pa.RecordBatch]]


def write_arrow(table_or_batches: Batches, path: Union[str, os.PathLike[str]], *,
                format: Optional[str] = None) -> int:
    """Write packets from Arrow columns (``ts``, ``caplen``, ``len``, ``data``...) to a file.

    The format is ``format`` (``'pcap'`` or ``'pcapng'``), else the one named in the schema
    metadata, else the file name's extension. Classic pcap gets the original file header (byte
    order, version, precision, snapshot length, link-type field) when the metadata has it, so a
    file read with ``to_arrow`` and written back is the same file, byte for byte (exceptions:
    see docs/tables.md). pcapng gets one interface per distinct ``interface_id``/``linktype``/
    ``interface`` with its original time-stamp resolution. Returns the number of packets.
    """
    arrow_schema, batches = _batches(table_or_batches)
    missing = {"ts", "caplen", "len", "data"} - set(arrow_schema.names)
    if missing:
        raise ValueError(f"write_arrow needs the columns {sorted(missing)}")
    metadata = file_metadata(arrow_schema)
    chosen = format or metadata.get("format")
    if chosen not in ("pcap", "pcapng"):
        chosen = "pcapng" if os.fspath(path).endswith(".pcapng") else "pcap"
    with open(path, "wb") as out:
        if chosen == "pcap":
            return _write_pcap(out, metadata, batches)
        return _write_pcapng(out, metadata, batches)


def _batches(value: Batches) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    if isinstance(value, pa.Table):
        return value.schema, iter(value.to_batches())
    if isinstance(value, pa.RecordBatch):
        return value.schema, iter([value])
    if isinstance(value, pa.RecordBatchReader):
        return value.schema, iter(value)
    batches = list(value)
    if not batches:
        raise ValueError("write_arrow needs at least one record batch (or a table)")
    return batches[0].schema, iter(batches)


_MAGIC = {(False, False): 0xA1B2C3D4, (True, False): 0xA1B23C4D, (False, True): 0xA1B2CD34}


def _write_pcap(out: Any, metadata: dict[str, Any], batches: Iterator[pa.RecordBatch]) -> int:
    first = next(batches, None)
    if metadata.get("format") == "pcap":
        order, nano = metadata["byte_order"], metadata["nanosecond"]
        kuznetzov = metadata["kuznetzov"]
        major, minor = metadata["version"]
        fields = (metadata["thiszone"], metadata["sigfigs"], metadata["snaplen"],
                  metadata["linktype_field"])
    else:
        from ._savefile._linktype import dlt_to_linktype  # noqa: PLC0415

        order, nano, kuznetzov, major, minor = "<", True, False, 2, 4
        dlt = int(first.column("linktype")[0].as_py()) if first is not None and \
            "linktype" in first.schema.names and first.num_rows else 1
        fields = (0, 0, int(metadata.get("snaplen", 262144)), dlt_to_linktype(dlt))
    out.write(struct.pack(order + "IHHiIII", _MAGIC[nano, kuznetzov], major, minor, *fields))
    record = struct.Struct(order + ("IIII8x" if kuznetzov else "IIII"))
    stored = metadata.get("format") == "pcap"  # ts_sec/ts_frac are in this file's units
    count = 0
    for batch in ([first] if first is not None else []) + list(batches):
        count += _write_records(out, batch, record, 1 if nano else 1000, stored)
    return count


def _write_records(out: Any, batch: pa.RecordBatch, record: struct.Struct, unit: int,
                   stored: bool) -> int:
    if stored and "ts_sec" in batch.schema.names and "ts_frac" in batch.schema.names:
        sec = batch.column("ts_sec").to_numpy()
        frac = batch.column("ts_frac").to_numpy()
    else:
        ts = batch.column("ts").cast(pa.int64()).to_numpy()
        sec, frac = np.divmod(ts, 1_000_000_000)
        frac //= unit
    caplens = batch.column("caplen").to_pylist()
    lengths = batch.column("len").to_pylist()
    datas = batch.column("data").to_pylist()
    pack = record.pack
    pieces = []
    for s, f, caplen, length, data in zip(sec.tolist(), frac.tolist(), caplens, lengths, datas):
        pieces.append(pack(s, f, caplen, length))
        pieces.append(data)
    out.write(b"".join(pieces))
    return len(datas)


def _write_pcapng(out: Any, metadata: dict[str, Any], batches: Iterator[pa.RecordBatch]) -> int:
    from ._pkthdr import PcapngPkthdr, make_header  # noqa: PLC0415
    from ._savefile._pcapng_types import PacketOptions  # noqa: PLC0415
    from ._savefile._pcapng_writer import PcapngWriter  # noqa: PLC0415

    known = metadata.get("interfaces", []) if metadata.get("format") == "pcapng" else []
    interfaces: dict[tuple[Any, ...], Any] = {}
    writer: Optional[PcapngWriter] = None
    count = 0
    for batch in batches:
        for row in batch.to_pylist():
            if row.get("ts_sec") is not None and metadata.get("format") == "pcapng":
                sec, nsec = row["ts_sec"], row["ts_frac"]
            else:
                sec, nsec = divmod(_ts_ns(row["ts"]), 1_000_000_000)
            # Times a 64-bit count of nanoseconds cannot hold go on a microsecond twin.
            coarse = sec * 1_000_000_000 + nsec > _MAX_U64 and nsec % 1000 == 0
            key = (row.get("interface_id"), row.get("linktype"), row.get("interface"), coarse)
            interface = interfaces.get(key)
            if interface is None:
                interface = interfaces[key] = _make_interface(key, known)
            if writer is None:
                writer = PcapngWriter(out.write, interface.dlt, interface.snaplen, nanosecond=True)
            options = None
            if row.get("flags") is not None or row.get("comment") is not None:
                comments = [row["comment"]] if row.get("comment") is not None else []
                options = PacketOptions(comments=comments, flags=row.get("flags"))
            fields = (sec, nsec, row["caplen"], row["len"], interface, options)
            writer.write_packet(make_header(PcapngPkthdr, fields), row["data"])
            count += 1
    if writer is None:  # no packets: the section and its interfaces still say what was read
        first = _make_interface((0, known[0]["dlt"] if known else 1, None, False), known)
        PcapngWriter(out.write, first.dlt, first.snaplen, nanosecond=True)
    return count


_MAX_U64 = (1 << 64) - 1


def _ts_ns(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(value.value)  # pandas Timestamp (pyarrow gives these for tz-aware ns)


def _make_interface(key: tuple[Any, ...], known: list[dict[str, Any]]) -> Any:
    from ._savefile._linktype import dlt_to_linktype, max_snaplen_for_dlt  # noqa: PLC0415
    from ._savefile._pcapng_types import (  # noqa: PLC0415
        Interface,
        InterfaceOption,
        Option,
        encode_options,
    )

    interface_id, dlt, name, coarse = key
    dlt = 1 if dlt is None else dlt
    found = next((i for i in known if (i["id"], i["dlt"], i["name"]) == (interface_id, dlt, name)),
                 None)
    found = found or {"snaplen": max_snaplen_for_dlt(dlt), "tsresol": 10**9, "tsoffset": 0,
                      "linktype": dlt_to_linktype(dlt)}
    if coarse:
        found = {**found, "tsresol": 10**6}
    options = [Option(InterfaceOption.NAME, name.encode())] if name is not None else []
    return Interface(id=interface_id or 0, section=0, offset=0, byte_order="<",
                     linktype=found["linktype"], dlt=dlt, snaplen=found["snaplen"],
                     snapshot=found["snaplen"] or max_snaplen_for_dlt(dlt),
                     tsresol=found["tsresol"], tsoffset=found["tsoffset"],
                     option_bytes=encode_options(options, "<") if options else b"")


