"""Packets in batches for the columnar output: where each packet lies, without a Python object each.

A ``RawBatch`` is one contiguous buffer and, per packet, where its bytes start, its lengths and
its time stamp in nanoseconds (numpy arrays), plus per-packet pcapng facts where there are any.

Two producers:

- ``pcap_batches``: classic pcap files read by the savefile engine without a filter. It takes over
  the engine's cursor, reads the stream in large blocks, and walks the records of a block with
  one Python statement per record to collect their offsets, a piece at a time as the piece is
  read; each record's header and its packet's first bytes (``heads``, which the decoder reads
  too) are copied out with numpy as the walk goes, a few thousand records at a time. Records
  longer than the snapshot length are clipped to the snapshot length when the batch is made,
  as libpcap clips them. A record the fast walk must not handle (an
  invalid length, a truncated end) goes to the engine's own careful reader, so errors are
  libpcap's.
- ``packet_batches``: any Reader (pcapng, filters, live captures), packet by packet through the
  Reader's iterator, which applies its filter first. Packets are joined into one buffer.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._columns import PREFIX, Bytes, Ints
from ._errors import SavefileError
from ._savefile import SavefileSource
from ._savefile._linktype import max_snaplen_for_dlt
from ._savefile._pcap import PcapRecordStream
from ._savefile._stream import ByteSource
from ._source import PacketSource

#: Bytes read per block by the classic-pcap walk: packets of one batch share one buffer. Where
#: a batch of ``batch_size`` packets would hold more, blocks grow to up to ``BLOCK_GROWTH``
#: times this: a batch's fixed part (~150 numpy and Arrow calls, ~1 ms) is then shared by more
#: packets (8 -> 32 MiB: ~90 -> ~25 ns a packet for 740-byte packets), while a small
#: ``batch_size`` keeps memory small.
BLOCK_SIZE = 8 << 20
BLOCK_GROWTH = 4
#: Bytes read into a block at a time, each piece walked at once: the size of the CPU's
#: level-2 cache here, where pieces of 1-2 MiB walked fastest (512 KiB-4 MiB measured).
PIECE_SIZE = 1 << 20
#: Bytes a block has past its end, so that the heads of a record at its end lie in it too
#: (bytes past a packet are never read as its fields).
SPARE = PREFIX
_INT64_MAX = (1 << 63) - 1
_NATIVE = "<" if sys.byteorder == "little" else ">"


@dataclass
class RawBatch:
    """Packets of one batch: ``buffer[starts[i]:starts[i] + caplens[i]]`` is packet i."""

    buffer: Union[bytes, bytearray]
    starts: Ints
    caplens: Ints
    lengths: Ints
    ts_ns: Ints
    dlts: Ints
    seconds: Ints  # the time stamp as the file stores it: seconds and fraction
    fractions: Ints
    ts_valid: Optional[npt.NDArray[np.bool_]] = None  # where ts_ns fits timestamp[ns]
    interface_ids: Optional[Ints] = None  # pcapng: -1 where a packet has no interface
    # pcapng: each packet's code in the distinct interface names (-1: none), and those names
    interface_names: Optional[tuple[Ints, list[str]]] = None
    flags: Optional[list[Optional[int]]] = None  # pcapng: None if no packet has any
    comments: Optional[list[Optional[str]]] = None  # pcapng: None if no packet has any
    heads: Optional[Bytes] = None  # each packet's first bytes from column head_at (see rows_at)
    head_at: int = 0

    def __len__(self) -> int:
        return len(self.starts)


def pcap_batches(source: PacketSource, batch_size: int) -> Optional[Iterator[RawBatch]]:
    """Batches from a classic pcap source the fast walk can read; ``None`` if it cannot."""
    if not isinstance(source, SavefileSource):
        return None
    records = source.unfiltered_pcap_records()
    if records is None or records.fast_limit < 0:  # fix-ups or swapped lengths: the careful way
        return None
    return _walk(source.stream, source.dlt, records, batch_size)


def _walk(stream: ByteSource, dlt: int, records: PcapRecordStream,
          batch_size: int) -> Iterator[RawBatch]:
    records.park()
    cursor = records.cursor
    header = records.header
    unit = 1 if header.nanosecond else 1000
    layout = np.dtype(header.byte_order + "u4")
    hsize = header.record_struct.size
    caplen_at = _caplen_reader(header.byte_order)
    scan = _scan_native if header.byte_order == _NATIVE else _scan
    allowed = _Lengths(header.snapshot, max_snaplen_for_dlt(header.dlt))
    # The engine's first chunk joins the first block, sized as the next ones are, from the
    # records of that chunk: a batch costs as much again for its fixed part (its numpy calls)
    # as for ~4 MiB of packets, so no small first batch (a Dask worker's range of tens of MB
    # is then one batch, not two).
    tail = cursor.unread()
    size = _first_block_size(tail, caplen_at, hsize, batch_size)
    block = _Block(stream, tail, size, ended=cursor.ended)
    base, position = cursor.file_offset(), 0
    heads = _Heads.reused(hsize + PREFIX, batch_size)
    try:
        while True:
            heads.start(block)
            position = _walk_block(block, position, scan, caplen_at, hsize, batch_size, heads)
            if heads.taken:
                size = _block_size(batch_size, (position - int(heads.offsets[0])) / heads.taken)
                batch, invalid_at = _pcap_batch(block.kept(), heads.batch(), hsize, layout, unit,
                                                dlt, allowed)
                if invalid_at is not None:
                    position = invalid_at
                if batch is not None:
                    yield batch
                    continue
            invalid = (position + hsize <= block.filled
                       and caplen_at(block.view, position)[0] > allowed.most)
            if not invalid and not block.at_end:  # the block is full: on in a new one
                block, base, position = block.following(position, size), base + position, 0
                continue
            # An invalid length, or the end of the stream: the careful reader raises libpcap's
            # error for that length or for a record cut short, or finds the clean end. What the
            # walk leaves is never a whole valid record, but were it one, it is read, not lost.
            cursor.restart(block.rest(), block.unwalked(position), base + position)
            for packet in iter(records.read_carefully, None):
                yield packets_batch([packet], dlt)
            return
    finally:
        cursor.restart(block.rest(), block.unwalked(position), base + position)
        heads.release()


def _first_block_size(tail: Any, caplen_at: Any, hsize: int, batch_size: int) -> int:
    """``_block_size`` for the records the engine has read ahead (``tail``, up to 256 KiB);
    ``BLOCK_SIZE`` if it holds no whole record."""
    starts: list[int] = []
    end = _scan(memoryview(tail).cast("B"), 0, caplen_at, hsize, 1 << 16, starts)
    return _block_size(batch_size, end / len(starts)) if starts else BLOCK_SIZE


def _block_size(batch_size: int, record_size: float) -> int:
    """Bytes to read next: about a batch of records of ``record_size`` bytes, at least
    ``BLOCK_SIZE`` and at most ``BLOCK_GROWTH`` times it."""
    return max(BLOCK_SIZE, min(int(batch_size * record_size), BLOCK_SIZE * BLOCK_GROWTH))


@dataclass(frozen=True)
class _Lengths:
    """The captured lengths libpcap takes from a file: up to ``most`` (the link type's
    maximum; longer is an error), clipped to ``snapshot`` (the rest of the record skipped)."""

    snapshot: int
    most: int


class _Block:
    """A buffer of the stream, filled a piece (``PIECE_SIZE``) at a time as the walk reaches
    the end of what it holds, so each record header is walked while the kernel's copy has just
    left it in the CPU's cache. (Read whole, a block of 8-32 MiB outgrew the 1 MiB level-2
    cache: the walk then waited on memory for each header, a quarter more time a record.)

    A plain file (or ``read_range``'s pieces of one) is read straight into the buffer
    (``readinto``): the only copy of the packet bytes is the kernel's. Other streams (gzip,
    pipes) are copied in from their chunks. The buffer comes from pyarrow's memory pool, not
    a ``bytearray``: it is not zeroed first, and the pool keeps its pages for the next block.
    With glibc's malloc, an 8 MiB ``bytearray`` is fresh pages each time wherever
    ``MALLOC_TRIM_THRESHOLD_`` is set (as dask.distributed sets it for its workers), whose
    page faults cost a third more CPU than reading the packets.
    """

    def __init__(self, stream: ByteSource, tail: Any, want: int, *, ended: bool = False) -> None:
        # The rest of a file joins this block when it is at most half a block more: no small
        # last batch (a batch's fixed part, its numpy calls and dictionaries, costs as much as
        # several MiB of packets).
        left = stream.remaining()
        if ended:
            want = 0
        elif left is not None and 0 < left <= want * 3 // 2:
            want = left
        self.filled = len(tail)
        # (SPARE bytes more, never read into: every record's heads lie in the buffer)
        self.buffer = pa.allocate_buffer(self.filled + want + SPARE)
        self.view = memoryview(self.buffer).cast("B")[:self.filled + want]
        self.view[:self.filled] = memoryview(tail).cast("B")
        self.at_end = ended  # the stream gave nothing more
        self._stream = stream
        self.sized = left is not None  # a plain file (a pipe's size is not known)
        # Whether the last read gave less than asked (for the tail: the engine's read may
        # have), so a stream of unknown size may have nothing more at once.
        self.short = True

    def fill(self) -> bool:
        """Read the next piece; False if the block is full or the stream has ended."""
        end = min(self.filled + PIECE_SIZE, len(self.view))
        if end == self.filled or self.at_end:
            return False
        stream = self._stream
        if stream.direct:
            got = stream.readinto(self.view[self.filled:end])
        else:
            piece = stream.read(end - self.filled)
            got = len(piece)
            self.view[self.filled:self.filled + got] = piece
        if not got:
            self.at_end = True
            return False
        self.filled += got
        self.short = self.filled < end
        return True

    def may_wait(self) -> bool:
        """Whether the next read may wait for data: from a stream of unknown size (a pipe, a
        FIFO) whose last read gave less than asked. (A gzip file's reads give all they are
        asked for until its end.)"""
        return self.short and not self.sized

    def items(self, width: int) -> Any:
        """The buffer as ``width``-byte numpy items, one at each byte (``V<width>``)."""
        array = np.frombuffer(self.buffer, np.uint8)
        return np.ndarray((len(array) - width + 1,), f"V{width}", array, 0, (1,))

    def kept(self) -> pa.Buffer:
        """What the block holds so far (it goes on filling past this, never within it)."""
        return self.buffer.slice(0, self.filled)

    def unwalked(self, position: int) -> bytes:
        return bytes(self.view[position:self.filled])

    def rest(self) -> Iterator[bytes]:
        """The stream after this block, for the engine's cursor: nothing once the stream has
        ended (as for the engine's own reads, an end found stays the end)."""
        return iter(()) if self.at_end else _rest(self._stream)

    def following(self, position: int, want: int) -> _Block:
        """The next block: what this one holds from ``position`` on, then ``want`` bytes more."""
        return _Block(self._stream, self.view[position:self.filled], want)


def _walk_block(block: _Block, position: int, scan: Any, caplen_at: Any, hsize: int,
                room: int, heads: _Heads) -> int:
    """``_scan`` the block from ``position``, reading a piece more each time the walk reaches
    the end of what it holds, until ``room`` records are taken, the block is full, or some
    are and the next read may wait (``may_wait``): what a capture still being written has
    given goes out at once, not after a read that waits for more. The records' ``heads``
    are copied out as the walk goes."""
    walked = heads.walked
    while True:
        position = scan(block.view[:block.filled], position, caplen_at, hsize,
                        room - heads.taken - len(walked), walked)
        heads.take()
        count = heads.taken + len(walked)
        if count >= room or (count and block.may_wait()) or not block.fill():
            heads.take(every=True)
            return position


class _Heads:
    """Each record's offset, and its header and packet's first ``PREFIX`` bytes (``width``
    bytes in all), copied out of the block as the walk takes the records, ``GATHER_ROWS`` at
    a time, while the walk's last pieces are still in the CPU's caches: one gather of a whole
    32 MiB block afterwards cost three times as much a record (the bytes came from memory).

    The arrays are the walk's, reused by every batch and then by the next walk (``release``):
    a batch's ``heads`` are valid until the next batch is asked for (the Arrow batch built
    from them does not keep them), and no batch asks ``malloc`` for megabytes of new pages
    (each 4 KiB a page fault when first written). The walk appends offsets
    to ``walked``, emptied as they are copied out: its Python ints are freed a few thousand
    at a time, while in the cache, and their memory taken again by the next ones.
    """

    GATHER_ROWS = 4096

    #: Records the arrays have room for at first, if a batch may have as many; more, and they
    #: grow. (``np.empty``: ``malloc`` gives memory freed before where it can, and only rows
    #: written are read.)
    ROOM = 1 << 16
    items: Any  # the block's bytes as width-byte items (``start``)

    @classmethod
    def reused(cls, width: int, batch_size: int) -> _Heads:
        """The arrays of a walk that has ended (``release``), if they fit, else new ones: a
        Dask worker reads range after range, and new arrays of 7 MiB a range were 1,800 page
        faults a range, 5% of its time."""
        try:
            heads = _SPARE_HEADS.pop()
        except IndexError:
            return cls(width, batch_size)
        if heads.width != width or len(heads.offsets) < min(batch_size, cls.ROOM):
            return cls(width, batch_size)
        return heads

    def release(self) -> None:
        """Keep the arrays for the next walk (``reused``): the walk is over. (Not its last
        block: the pool would keep up to 32 MiB alive for nothing.)"""
        self.walked.clear()
        self.items = _NO_ITEMS
        if len(_SPARE_HEADS) < _SPARES_KEPT:
            _SPARE_HEADS.append(self)

    def __init__(self, width: int, batch_size: int) -> None:
        self.items = _NO_ITEMS
        self.width = width
        self._allocate(min(batch_size, self.ROOM))
        self.taken = 0  # records of the batch copied out
        self.walked: list[int] = []  # offsets of records walked, not yet copied out

    def start(self, block: _Block) -> None:
        """Begin a batch of records from ``block``."""
        self.taken = 0
        self.items = block.items(self.width)

    def take(self, every: bool = False) -> None:
        """Copy out the records ``walked``, once there are ``GATHER_ROWS`` of them
        (``every``: however few)."""
        walked = self.walked
        first, end = self.taken, self.taken + len(walked)
        if end - first < (1 if every else self.GATHER_ROWS):
            return
        if end > len(self.offsets):
            self._grow(max(end, 2 * len(self.offsets)))
        # (struct packs a list of ints ~40% faster than np.fromiter converts it)
        offsets = np.frombuffer(struct.pack(f"={end - first}q", *walked), np.int64)
        walked.clear()
        self.offsets[first:end] = offsets
        rows = self.rows[first:end]
        rows[:] = self.items[offsets]
        # (as 16-byte items: a copy of the (n, 16) bytes took five times as long)
        self.header_items[first:end] = np.ndarray((end - first,), "V16", rows, 0,
                                                  (self.width,))
        self.taken = end

    def batch(self) -> tuple[Ints, Bytes, Bytes]:
        """The offsets, headers (a (n, 16) array) and heads (a (n, width) array) of the
        batch's ``n`` records."""
        n = self.taken
        return (self.offsets[:n], self.headers[:n],
                self.rows[:n].view(np.uint8).reshape(n, self.width))

    def _allocate(self, size: int) -> None:
        self.offsets = np.empty(size, np.int64)
        self.rows = np.empty(size, f"V{self.width}")
        # The records' first 16 bytes (time stamp, caplen, len) apart, copied from the rows
        # while they are in the cache: a pass over the rows afterwards reads a line a row.
        self.headers = np.empty((size, 16), np.uint8)
        self.header_items = self.headers.view("V16")[:, 0]

    def _grow(self, size: int) -> None:
        offsets, rows, headers = self.offsets, self.rows, self.headers
        self._allocate(size)
        self.offsets[:self.taken] = offsets[:self.taken]
        self.rows[:self.taken] = rows[:self.taken]
        self.headers[:self.taken] = headers[:self.taken]


_NO_ITEMS = np.zeros(0, np.uint8)
#: Arrays of walks that have ended, for the next ones (list operations are atomic: threads
#: may share it); at most ``_SPARES_KEPT`` (~7 MiB each).
_SPARE_HEADS: list[_Heads] = []
_SPARES_KEPT = 2


def _rest(stream: ByteSource) -> Iterator[bytes]:
    """The stream's remaining bytes as chunks, for the engine's cursor after the walk."""
    while True:
        chunk = stream.read(BLOCK_SIZE)
        if not chunk:
            return
        yield chunk


def _caplen_reader(byte_order: str) -> Any:
    """``reader(buffer, offset)[0]``: the caplen of the record header at ``offset``."""
    return struct.Struct(byte_order + "8xI").unpack_from


def _scan(buffer: Any, position: int, caplen_at: Any, hsize: int, room: int,
          starts: list[int]) -> int:
    """Append the offsets of up to ``room`` whole records from ``position``; the next offset.

    Stops before a record that does not lie wholly in ``buffer`` (``_pcap_batch`` then cuts
    the batch before a record longer than the snapshot length). The loop is the one piece of
    Python run per packet here, so it does the least it can: it takes each record as it comes
    and moves on by its caplen, and only afterwards gives back the last one or two if they
    ran past the end (a header cut short raises ``struct.error`` at once; a packet cut short
    moves past ``len(buffer)``, and the header after it is then cut short).
    """
    append = starts.append
    try:
        for _ in range(room >> 2):  # four records a turn: a tenth less time a record
            append(position)
            position += hsize + caplen_at(buffer, position)[0]
            append(position)
            position += hsize + caplen_at(buffer, position)[0]
            append(position)
            position += hsize + caplen_at(buffer, position)[0]
            append(position)
            position += hsize + caplen_at(buffer, position)[0]
        for _ in range(room & 3):
            append(position)
            position += hsize + caplen_at(buffer, position)[0]
    except struct.error:  # fewer than a header's bytes at the last offset taken
        position = starts.pop()
    end = len(buffer)
    while position > end:  # the record before does not lie wholly in the buffer
        position = starts.pop()
    return position


def _scan_native(buffer: Any, position: int, caplen_at: Any, hsize: int, room: int,
                 starts: list[int]) -> int:
    """``_scan`` for a file in the machine's byte order (most are), ~5% faster: each caplen
    is an item of one of four views of the buffer as 32-bit words (``_words_at_eight``), not
    the result of a call (``caplen_at`` is not used). A caplen not wholly in the buffer
    raises ``IndexError`` at once."""
    words = _words_at_eight(buffer)
    append = starts.append
    try:
        for _ in range(room >> 2):
            append(position)
            position += hsize + words[position & 3][position >> 2]
            append(position)
            position += hsize + words[position & 3][position >> 2]
            append(position)
            position += hsize + words[position & 3][position >> 2]
            append(position)
            position += hsize + words[position & 3][position >> 2]
        for _ in range(room & 3):
            append(position)
            position += hsize + words[position & 3][position >> 2]
    except IndexError:  # fewer than a header's first 12 bytes at the last offset taken
        position = starts.pop()
    end = len(buffer)
    while position > end:  # the record before does not lie wholly in the buffer
        position = starts.pop()
    return position


def _words_at_eight(buffer: Any) -> list[memoryview]:
    """The buffer's 32-bit words in the machine's byte order, four ways: item ``p >> 2`` of
    view ``p & 3`` is the word 8 bytes past ``p`` (a record header's caplen, if one is at
    ``p``), for any ``p``; an index error if that word is not wholly in the buffer."""
    words = []
    for start in range(8, 12):
        count = max(0, (len(buffer) - start) // 4)
        words.append(buffer[start:start + 4 * count].cast("I"))
    return words


def _pcap_batch(buffer: Any, taken: tuple[Ints, Bytes, Bytes], hsize: int,
                layout: np.dtype[Any], unit: int, dlt: int,
                allowed: _Lengths) -> tuple[Optional[RawBatch], Optional[int]]:
    """The batch of the records ``taken`` (their offsets and heads, see ``_Heads``), up to
    the first with an invalid captured length, and that record's offset (``None`` if there
    is none). Records longer than the snapshot length are clipped to it, as libpcap clips
    them. The header's four 32-bit fields (seconds, fraction, caplen, len) are read from the
    heads here, and the decoder reads the packets' first fields from them.
    """
    offsets, headers, heads = taken
    words: npt.NDArray[np.uint32] = headers.view(layout)
    seconds, fractions, caplens, lengths = words.T.astype(np.int64, order="C")
    cut = None
    if int(caplens.max()) > allowed.snapshot:
        invalid = np.flatnonzero(caplens > allowed.most)
        if len(invalid):
            first = int(invalid[0])
            cut = int(offsets[first])
            if not first:
                return None, cut
            offsets, seconds, fractions = offsets[:first], seconds[:first], fractions[:first]
            caplens, lengths, heads = caplens[:first], lengths[:first], heads[:first]
        caplens = np.minimum(caplens, allowed.snapshot)
    ts = seconds * 1_000_000_000 + fractions * unit
    dlts = np.full(len(offsets), dlt, np.int64)
    batch = RawBatch(buffer, offsets + hsize, caplens, lengths, ts, dlts, seconds, fractions)
    batch.heads, batch.head_at = heads, hsize
    return batch, cut


def packet_batches(packets: Iterator[Any], batch_size: int, dlt: int,
                   pcapng: bool) -> Iterator[RawBatch]:
    """Batches of up to ``batch_size`` packets from a ``(Pkthdr, bytes)`` iterator."""
    while True:
        taken = _PacketColumns.take(packets, batch_size)
        if taken is None:
            return
        yield taken.batch(dlt, pcapng)
        if taken.ended:
            return


#: Packets taken from the iterator at a time and turned into columns at once (``zip``). Their
#: tuples then die young, before the cyclic GC promotes them: a batch of 65,536 header tuples
#: kept alive while it filled made the GC's collections half the time of a pcapng to_arrow
#: (4.4 us a packet; 2.7 with 1,024 at a time, 1.9 with 256 or 64).
_SUB_BATCH = 256
#: Seconds below which a time stamp in nanoseconds fits an int64 whatever its fraction.
_SAFE_SECONDS = (_INT64_MAX - 999_999_999) // 1_000_000_000


@dataclass
class _PacketColumns:
    """Packets of a batch as columns: their bytes, and each header field (seconds, fraction,
    caplen, len; pcapng: interface, options) as a list over the batch."""

    datas: list[bytes]
    fields: list[list[Any]]
    units_per_second: int
    ended: bool  # the iterator ended (or gave fewer than asked) within this batch

    @classmethod
    def take(cls, packets: Iterator[Any], count: int) -> Optional[_PacketColumns]:
        """Up to ``count`` packets from ``packets``; None if it has none."""
        datas: list[bytes] = []
        fields: list[list[Any]] = []
        units, ended = 0, False
        while len(datas) < count:
            want = min(_SUB_BATCH, count - len(datas))
            chunk = list(islice(packets, want))
            if chunk:
                headers, data = zip(*chunk)
                units = units or headers[0].units_per_second
                datas += data
                if not fields:
                    fields = [list(field) for field in zip(*headers)]
                else:
                    for column, field in zip(fields, zip(*headers)):
                        column.extend(field)
            if len(chunk) < want:
                ended = True
                break
        return cls(datas, fields, units, ended) if datas else None

    def batch(self, dlt: int, pcapng: bool) -> RawBatch:
        """The batch, with each field turned into an array at once."""
        datas, fields = self.datas, self.fields
        n = len(datas)
        caplens = np.fromiter(map(len, datas), np.int64, n)
        starts = np.zeros(n, np.int64)
        np.cumsum(caplens[:-1], out=starts[1:])
        unit = 1_000_000_000 // self.units_per_second
        seconds: npt.NDArray[Any] = np.asarray(fields[0], np.uint64)
        fractions = np.asarray(fields[1], np.int64)
        ts_valid = None
        if max(fields[0]) <= _SAFE_SECONDS:
            stamps = seconds.astype(np.int64) * 1_000_000_000 + fractions * unit
        else:  # past 2262-04-11: no timestamp[ns] (ts_sec/ts_frac have it)
            exact = [s * 1_000_000_000 + f * unit for s, f in zip(fields[0], fields[1])]
            ts_valid = np.array([t <= _INT64_MAX for t in exact])
            stamps = np.asarray([t if t <= _INT64_MAX else 0 for t in exact], np.int64)
        batch = RawBatch(b"".join(datas), starts, caplens, np.asarray(fields[3], np.int64),
                         stamps, np.full(n, dlt, np.int64), seconds, fractions, ts_valid)
        if pcapng:
            _pcapng_facts(batch, fields[4], fields[5])
        return batch


def packets_batch(chunk: list[Any], dlt: int, *, pcapng: bool = False) -> RawBatch:
    """One batch from a list of ``(Pkthdr, bytes)``."""
    taken = _PacketColumns.take(iter(chunk), len(chunk))
    assert taken is not None
    return taken.batch(dlt, pcapng)


def _pcapng_facts(batch: RawBatch, interfaces: list[Any], options: list[Any]) -> None:
    """Each packet's interface (id, link type, name) and flags and comment, found once per
    distinct interface, and only for the packets that have options."""
    n = len(interfaces)
    first = interfaces[0]
    if interfaces.count(first) == n:  # (one interface, most batches: a count by identity)
        distinct, codes = [first], np.zeros(n, np.int64)
    else:
        index = {id(interface): interface for interface in interfaces}
        where = {key: k for k, key in enumerate(index)}
        distinct = list(index.values())
        codes = np.fromiter(map(where.__getitem__, map(id, interfaces)), np.int64, n)
    ids = np.array([-1 if i is None else i.id for i in distinct], np.int64)
    dlts = np.array([batch.dlts[0] if i is None else i.dlt for i in distinct], np.int64)
    batch.interface_ids, batch.dlts = ids[codes], dlts[codes]
    names = [None if i is None else i.name for i in distinct]
    spelled = list(dict.fromkeys(name for name in names if name is not None))
    name_codes = np.array([-1 if name is None else spelled.index(name) for name in names],
                          np.int64)
    batch.interface_names = name_codes[codes], spelled
    if options.count(None) < n:
        facts = [(None, None) if o is None else _flags_and_comment(o) for o in options]
        flags = [flag for flag, _ in facts]
        comments = [comment for _, comment in facts]
        batch.flags = None if flags.count(None) == n else flags
        batch.comments = None if comments.count(None) == n else comments


def _flags_and_comment(options: Any) -> tuple[Optional[int], Optional[str]]:
    """A packet's flags and first comment, from its options; None for each it lacks, and for
    both where its options cannot be read: a malformed option does not stop libpcap (which
    does not read options) or ``next()`` from giving the packet (its options raise when asked
    for), so it does not stop the rows either."""
    try:
        return options.flags, options.comments[0] if options.comments else None
    except SavefileError:
        return None, None
