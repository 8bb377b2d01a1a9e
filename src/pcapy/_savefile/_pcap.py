"""Classic pcap: the file header, the record stream, and the writer's byte layout.

Nothing here does I/O. ``parse_file_header`` reads the 24-byte header from bytes;
``iter_records`` turns an iterator of byte chunks (from a file, a pipe, gzip, or a test's
literal) into ``(Pkthdr, bytes)`` pairs. It agrees with libpcap master's sf-pcap.c packet for
packet, including where it fails and what it says:

- magic numbers give the byte order, the time-stamp unit (micro or nano) and the record layout
  (Kuznetzov's "modified" format has 8 more bytes per record header);
- versions 2.0-2.4 and 543.0 are read; caplen and len are swapped for versions below 2.3 (and for
  2.3 when caplen > len), as those writers stored them the other way round;
- a snapshot length of 0 or above INT_MAX in the header means "the link type's maximum";
- a record longer than the snapshot length but within the link type's maximum is clipped to the
  snapshot length (the rest of the record is skipped); one beyond the maximum is an error;
- an end of file between records is the end; inside a record it is an error.

The hot loop handles a record that lies wholly in the current chunk with one ``unpack_from``,
one slice and one C-level tuple construction; everything unusual (chunk refills, clipping,
swapped lengths, pseudo-header fix-ups, errors) goes through ``_slow_record_reader``. The loop
is generated (``loop_source``, through ``pcapy._codegen``) once per way of delivering packets
and per filter, so a filter's statements run inside it.
"""

from __future__ import annotations

import copy
import functools
import re
import struct
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Protocol, Union

from .._codegen import (
    BASE,
    CAPLEN,
    LOAD_U16,
    LOAD_U32,
    PACKET,
    WIRELEN,
    Emitter,
    Line,
    compile_variant,
    indented,
    signature,
)
from .._errors import (
    MalformedSavefileError,
    SavefileError,
    TruncatedSavefileError,
    UnsupportedVersionError,
)
from .._pkthdr import NanoPkthdr, Pkthdr, header_builder
from .._source import BATCH_META, Breakable, LinkTypeCompiler
from ._cursor import Cursor
from ._linktype import (
    LINKTYPE_FCS_PRESENT,
    LINKTYPE_MASK,
    LINKTYPE_RESERVED_MASK,
    adjust_snapshot,
    dlt_to_linktype,
    linktype_to_dlt,
    max_snaplen_for_dlt,
)
from ._pseudo import needs_post_processing, post_process

FILE_HEADER_SIZE = 24

# magic as it appears in the first four bytes -> (byte order, nanosecond?, Kuznetzov?)
MAGICS: dict[bytes, tuple[str, bool, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False, False),
    b"\xa1\xb2\xc3\xd4": (">", False, False),
    b"\x4d\x3c\xb2\xa1": ("<", True, False),
    b"\xa1\xb2\x3c\x4d": (">", True, False),
    b"\x34\xcd\xb2\xa1": ("<", False, True),
    b"\xa1\xb2\xcd\x34": (">", False, True),
}
MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D

_HOST_ORDER = "<" if sys.byteorder == "little" else ">"
_EN10MB = 1
_INT_MAX = 0x7FFFFFFF

# Lengths swapped by old writers (sf-pcap.c's lengths_swapped)
NOT_SWAPPED, MAYBE_SWAPPED, SWAPPED = 0, 1, 2


@dataclass(frozen=True)
class PcapFileHeader:
    """A classic pcap file header, decoded, plus what a reader derives from it."""

    byte_order: str
    nanosecond: bool
    kuznetzov: bool
    version_major: int
    version_minor: int
    thiszone: int
    sigfigs: int
    snaplen: int
    linktype_field: int

    @property
    def interfaces(self) -> tuple[()]:
        """A classic pcap file has no pcapng interfaces."""
        return ()

    @property
    def linktype(self) -> int:
        """The LINKTYPE_ value (the low 16 bits of the link-type field)."""
        return self.linktype_field & LINKTYPE_MASK

    @property
    def dlt(self) -> int:
        """The DLT_ value libpcap's ``pcap_datalink()`` reports for this file."""
        return linktype_to_dlt(self.linktype)

    @property
    def fcs_length(self) -> Optional[int]:
        """Bytes of FCS at the end of each packet, if the file says (in 16-bit units x2)."""
        if self.linktype_field & LINKTYPE_FCS_PRESENT:
            return ((self.linktype_field >> 28) & 0xF) * 2
        return None

    @property
    def snapshot(self) -> int:
        """The snapshot length a reader enforces (libpcap's ``pcap_snapshot()``)."""
        snapshot = adjust_snapshot(self.dlt, self.snaplen)
        if self.kuznetzov and self.dlt == _EN10MB:
            # libpcap: those files' snaplen did not count the Ethernet header.
            snapshot = min(snapshot + 14, _INT_MAX)
        return snapshot

    @property
    def lengths_swapped(self) -> int:
        """Whether records store (len, caplen) instead of (caplen, len)."""
        if self.version_major == 543:
            return SWAPPED
        if self.version_minor < 3:
            return SWAPPED
        return MAYBE_SWAPPED if self.version_minor == 3 else NOT_SWAPPED

    @property
    def record_struct(self) -> struct.Struct:
        """The layout of one record header: ``(sec, fraction, caplen, len)`` then padding."""
        padding = "8x" if self.kuznetzov else ""
        return struct.Struct(f"{self.byte_order}IIII{padding}")

    @property
    def header_class(self) -> type[Pkthdr]:
        """The Pkthdr class whose fraction unit matches this file's time stamps."""
        return NanoPkthdr if self.nanosecond else Pkthdr

    @property
    def swapped(self) -> bool:
        """Whether the file's byte order differs from this machine's."""
        return self.byte_order != _HOST_ORDER


_FILE_HEADER = {order: struct.Struct(f"{order}4xHHiIII") for order in "<>"}


def parse_file_header(data: bytes) -> PcapFileHeader:
    """Decode a classic pcap file header; ``data`` starts with one of the six pcap magics.

    Raises ``TruncatedSavefileError`` if ``data`` is shorter than 24 bytes and
    ``UnsupportedVersionError`` / ``MalformedSavefileError`` where libpcap refuses the file.
    """
    byte_order, nanosecond, kuznetzov = MAGICS[bytes(data[:4])]
    if len(data) < FILE_HEADER_SIZE:
        raise TruncatedSavefileError(
            f"truncated dump file; tried to read {FILE_HEADER_SIZE} file header bytes, "
            f"only got {len(data) - 4}",  # libpcap counts the bytes after the magic
            offset=len(data),
        )
    major, minor, thiszone, sigfigs, snaplen, linktype_field = _FILE_HEADER[
        byte_order
    ].unpack_from(data)
    if not ((major == 2 and minor <= 4) or (major == 543 and minor == 0)):
        raise UnsupportedVersionError(
            f"unsupported pcap savefile version {major}.{minor}", offset=4
        )
    if linktype_field & LINKTYPE_RESERVED_MASK:
        raise MalformedSavefileError(
            "savefile linktype reserved field not zero "
            f"(0x{linktype_field & LINKTYPE_RESERVED_MASK:08x})",
            offset=20,
        )
    return PcapFileHeader(
        byte_order, nanosecond, kuznetzov, major, minor, thiszone, sigfigs, snaplen, linktype_field
    )


def build_file_header(
    linktype: int, snaplen: int, *, nanosecond: bool, byte_order: str = "<"
) -> bytes:
    """The 24 bytes that start a classic pcap file (version 2.4) for a DLT_ value."""
    stored = dlt_to_linktype(linktype)
    if stored < 0:
        raise ValueError(f"link type {linktype} has no LINKTYPE_ value to store in a file")
    magic = MAGIC_NSEC if nanosecond else MAGIC_USEC
    return struct.pack(f"{byte_order}IHHiIII", magic, 2, 4, 0, 0, snaplen, stored)


InPlaceFilter = Callable[[bytes, int, int, int], int]


class PacketFilter(Protocol):
    """A compiled filter as the record loop uses it (``pcapy.BPFProgram`` is one)."""

    @property
    def in_place_function(self) -> InPlaceFilter: ...

    def inline_statements(self, deliver: Sequence[Line]) -> Optional[list[Line]]: ...


Statements = tuple[Line, ...]


class PerPacket(NamedTuple):
    """The statements a record loop runs for each record of its fast path, and how a filter
    takes part in them (``shape``): ``""`` (none), ``"inlined"`` or ``"called"`` (through its
    in-place function). The shape is part of the variant's family name."""

    statements: Statements
    shape: str = ""

    def family(self, name: str) -> str:
        return f"{name} {self.shape}" if self.shape else name


def fast_path(emitter: Emitter, more: str, per_packet: Statements) -> None:
    """The loop over the records lying wholly in the current chunk (shared with the batch
    loop): ``per_packet`` runs for each, with its packet at ``PACKET[BASE:stop]``; ``more``
    is a condition (ending in ``and``) checked before each record."""
    with emitter.block(f"while {more}pos + record_size <= end"):
        emitter.line(
            f"fields = unpack_from({PACKET}, pos)",
            f"{BASE} = pos + record_size",
            f"{CAPLEN} = fields[2]",
            f"stop = {BASE} + {CAPLEN}",
        )
        with emitter.block(f"if {CAPLEN} > fast_limit or stop > end"):
            emitter.line("break")
        emitter.line("pos = stop")
        emitter.lines(per_packet)


@dataclass(frozen=True)
class LoopKind:
    """One way of delivering packets from a record loop (the pcapng engine uses these too).

    ``deliver`` runs for a packet read in place, ``deliver_item`` for an ``item`` the slow path
    returned; ``more`` is checked before each record, ``stop`` after the fast path (where the
    loop returns ``result``). A generator parks when it is closed (``GeneratorExit`` at a
    ``yield``), keeping its position; a driver keeps its position however it ends.
    """

    name: str
    deliver: Statements
    deliver_item: Statements
    more: str = ""
    stop: str = ""
    result: str = ""
    on_stop: tuple[str, ...] = ()  # statements run when ``stop`` ends the loop

    @property
    def generator(self) -> bool:
        return not self.result

    def returns(self) -> str:
        return f"return {self.result}" if self.result else "return"

    def stops(self) -> tuple[str, ...]:
        """What the loop does when ``stop`` holds after the fast path."""
        return (*self.on_stop, self.returns())

    def leave(self, emitter: Emitter) -> None:
        """The handler that keeps the loop's position when it stops."""
        if self.generator:
            # close() at a yield parks the generator; its position is kept for the next one.
            with emitter.block("except GeneratorExit"):
                emitter.line("cursor.position = pos", "raise")
            return
        # However a driver ends (count reached, break, a callback's exception), the position
        # stays just past the last packet delivered, unless the slow path moved to a new chunk
        # or was itself interrupted (``pos`` is -1 inside it: what it read stays read, so an
        # interface block is never read twice).
        with emitter.block("finally"), emitter.block(f"if pos >= 0 and cursor.buffer is {PACKET}"):
            emitter.line("cursor.position = pos")


def _lines(*texts: str) -> Statements:
    return tuple((0, text) for text in texts)


_PACKET_IN_PLACE = f"{PACKET}[{BASE}:stop]"
GENERATOR = LoopKind(
    "generator", _lines(f"yield make(fields), {_PACKET_IN_PLACE}"), _lines("yield item")
)
# A generator that ends at a breakloop() (Reader iteration), consuming the request as loops do.
ITERATOR = LoopKind(
    "iterator",
    GENERATOR.deliver,
    GENERATOR.deliver_item,
    more="not source.break_requested and ",
    stop="source.break_requested",
    on_stop=("cursor.position = pos", "source.break_requested = False"),
)
DRIVER = LoopKind(
    "driver",
    _lines(f"callback(make(fields), {_PACKET_IN_PLACE})", "left -= 1"),
    _lines("callback(*item)", "left -= 1"),
    more="left and not source.break_requested and ",
    stop="not left or source.break_requested",
    result="left",
)
# loop(-1) needs no count: a driver that keeps none does 4% less work a packet (measured).
UNCOUNTED_DRIVER = LoopKind(
    "uncounted driver",
    _lines(f"callback(make(fields), {_PACKET_IN_PLACE})"),
    _lines("callback(*item)"),
    more="not source.break_requested and ",
    stop="source.break_requested",
    result="left",
)
_LOOP_KINDS = {kind.name: kind for kind in (GENERATOR, ITERATOR, DRIVER, UNCOUNTED_DRIVER)}
RUN_PARAMETERS = ("cursor", "unpack_from", "record_size", "make", "fast_limit", "slow", "accept",
                  LOAD_U16, LOAD_U32, "callback", "left", "source")


def loop_source(per_packet: PerPacket, kind: LoopKind) -> str:
    """The record loop: the fast path, then one record the careful way, until the end.

    ``pos`` always points past the last record delivered, so stopping at a delivery loses
    nothing. ``per_packet`` is ``kind.deliver``, or a filter with it inlined.
    """
    emitter = Emitter()
    with emitter.block(signature("run", RUN_PARAMETERS)):
        emitter.line(f"{PACKET}, pos = cursor.buffer, cursor.position", f"end = len({PACKET})")
        with emitter.block("try"), emitter.block("while True"):
            fast_path(emitter, kind.more, per_packet.statements)
            if kind.stop:
                with emitter.block(f"if {kind.stop}"):
                    emitter.line(*kind.stops())
            emitter.line(
                "cursor.position = pos",
                "pos = -1",  # the careful path owns the position until it returns
                "item = slow()",
                f"{PACKET}, pos = cursor.buffer, cursor.position",
                f"end = len({PACKET})",
            )
            with emitter.block("if item is None"):
                emitter.line(kind.returns())
            with emitter.block("if accept is None or accept(item[1], 0, len(item[1]), item[0][3])"):
                emitter.lines(kind.deliver_item)
        kind.leave(emitter)
    return emitter.source()


@functools.lru_cache(maxsize=64)
def _record_loop(per_packet: PerPacket, kind_name: str) -> Callable[..., Any]:
    kind = _LOOP_KINDS[kind_name]
    family = per_packet.family(f"pcap {kind.name}")
    return compile_variant(family, loop_source(per_packet, kind), "run")


_WIRELEN_USE = re.compile(rf"\b{WIRELEN}\b")


def per_packet(packet_filter: Optional[PacketFilter], deliver: Statements) -> PerPacket:
    """``deliver`` behind the filter: inlined when it can be, else a call of its in-place form
    (``accept``); the classic loop reads the wire length from ``fields[3]``."""
    if packet_filter is None:
        return PerPacket(deliver)
    inlined = packet_filter.inline_statements(deliver)
    if inlined is None:
        called = ((0, f"if accept({PACKET}, {BASE}, {CAPLEN}, fields[3]):"), *indented(deliver))
        return PerPacket(called, "called")
    if any(_WIRELEN_USE.search(text) for _depth, text in inlined):
        inlined = [(0, f"{WIRELEN} = fields[3]"), *inlined]
    return PerPacket(tuple(inlined), "inlined")


# Batches in pcapy-ng's layout (see PcapRecordStream.next_batch): a buffer and, per packet,
# four native uint32 (sec, usec, offset, caplen) locating the packet in that buffer. The buffer
# is the read chunk itself, so no packet byte is copied.
BATCH_PARAMETERS = ("cursor", "unpack_from", "record_size", "fast_limit", "accept", LOAD_U16,
                    LOAD_U32, "meta", "pack_into", "left")


def batch_source(per_packet: PerPacket) -> str:
    """The batch loop: the fast path only, packing each packet's place into ``meta``."""
    emitter = Emitter()
    with emitter.block(signature("batch", BATCH_PARAMETERS)):
        emitter.line(
            f"{PACKET}, pos = cursor.buffer, cursor.position", f"end = len({PACKET})", "used = 0"
        )
        with emitter.block("try"):
            fast_path(emitter, "left and ", per_packet.statements)
        with emitter.block("finally"):
            emitter.line("cursor.position = pos")
        emitter.line(f"return {PACKET}, used")
    return emitter.source()


def batch_deliver(nanosecond: bool) -> Statements:
    usec = "fields[1] // 1000" if nanosecond else "fields[1]"
    return _lines(
        f"pack_into(meta, used, fields[0], {usec}, {BASE}, {CAPLEN})", "used += 16", "left -= 1"
    )


@functools.lru_cache(maxsize=64)
def _batch_loop(per_packet: PerPacket) -> Callable[..., tuple[bytes, int]]:
    return compile_variant(per_packet.family("pcap batch"), batch_source(per_packet), "batch")


_u16 = struct.Struct(">H").unpack_from
_u32 = struct.Struct(">I").unpack_from


class PcapRecordStream:
    """The records of a classic pcap stream, with a filter that can change between packets.

    ``iterate(packet_filter)`` returns a generator of ``(Pkthdr, data)`` from the current
    position; ``drive(packet_filter, callback, cnt, source)`` calls ``callback(hdr, data)`` for
    up to ``cnt`` packets without a generator in between (pcapy's ``loop``/``dispatch``). A
    filter is run where each packet lies in the read buffer, and inlined into the record loop
    when it can be, so a rejected packet costs no call, no object and no copy. Starting either
    parks the running generator at the packet it last returned (``park()``: it is closed, and
    keeps its position).

    After a damaged record, the stream stays failed: every later read raises the same error
    rather than parsing what follows the damage as records.
    """

    def __init__(self, header: PcapFileHeader, chunks: Iterator[bytes], buffer: bytes,
                 offset: int) -> None:
        self.header = header
        self._cursor = Cursor(chunks, buffer, offset)
        self._slow = _StickyFailure(_slow_record_reader(header, self._cursor), self._cursor)
        self._running: Optional[Generator[tuple[Pkthdr, bytes], None, None]] = None
        # Records that need more than slicing never take the fast path: clipping to the
        # snapshot, and the link type's maximum (a snapshot length may exceed it).
        self._fast_limit = min(header.snapshot, max_snaplen_for_dlt(header.dlt))
        if header.lengths_swapped != NOT_SWAPPED or needs_post_processing(
            header.dlt, header.swapped
        ):
            self._fast_limit = -1
        self._record = header.record_struct
        self._make = header_builder(header.header_class)
        self._batch_deliver = batch_deliver(header.nanosecond)
        # The loops compiled for the filter in use, by kind: a batch or a new generator after
        # each one costs a look-up, not a hash of the loop's statements (``_Loops``).
        self._loops = _Loops()
        self._meta = bytearray()  # next_batch's scratch: 16 bytes a packet

    def iterate(
        self, packet_filter: Optional[PacketFilter] = None, until_break: Optional[Breakable] = None
    ) -> Iterator[tuple[Pkthdr, bytes]]:
        """A generator over the remaining records that ``packet_filter`` (if any) accepts; with
        ``until_break``, it also ends at (and consumes) ``until_break.break_requested``."""
        self.park()
        kind = GENERATOR if until_break is None else ITERATOR
        run, arguments = self._loop(packet_filter, kind)
        self._running = run(**arguments, callback=None, left=0, source=until_break)
        return self._running

    def drive(self, packet_filter: Optional[PacketFilter], callback: Callable[..., object],
              cnt: int, source: Breakable, *, counted: bool = True) -> int:
        """Call ``callback`` for up to ``cnt`` packets (all for ``cnt <= 0``), until
        ``source.break_requested``; return how many. Call ``iterate`` again afterwards.

        ``counted=False`` with ``cnt <= 0`` (``loop(-1)``) keeps no count and returns 0.
        """
        self.park()
        left = cnt if cnt > 0 else -1
        kind = UNCOUNTED_DRIVER if left < 0 and not counted else DRIVER
        run, arguments = self._loop(packet_filter, kind)
        return left - int(run(**arguments, callback=callback, left=left, source=source))

    def next_batch(
        self, packet_filter: Optional[PacketFilter], max_packets: int
    ) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` packets as ``(buffer, meta)`` (pcapy-ng's ``next_batch``).

        ``meta`` holds four native-endian uint32 per packet, ``(sec, usec, offset, caplen)``,
        locating it in ``buffer``; an empty ``meta`` means the end of the file. Packets lying
        in the current read chunk come out without a copy (``buffer`` is the chunk); one that
        needs the careful path comes alone, in a buffer of its own. Call ``iterate`` again
        before using a generator.
        """
        self.park()
        run, arguments = self._loop(packet_filter, BATCH)
        accept = arguments["accept"]
        if len(self._meta) < 16 * max_packets:
            self._meta = bytearray(16 * max_packets)
        meta = self._meta
        while True:
            buffer, used = run(**arguments, meta=meta, left=max_packets)
            if used:
                with memoryview(meta) as view:
                    return buffer, view[:used].tobytes()
            item = self._slow()
            if item is None:
                return b"", b""
            hdr, data = item
            if accept is None or accept(data, 0, len(data), hdr[3]):
                return data, BATCH_META.pack(hdr[0], hdr.getts()[1], 0, len(data))

    @property
    def failure(self) -> Optional[SavefileError]:
        """The error that ended the stream, if a damaged record did."""
        return self._slow.failure

    @property
    def exhausted(self) -> bool:
        """Whether reading found the end of the file, or failed: a generator that ended did
        so there, not because an exception (a KeyboardInterrupt) went through it."""
        return self._slow.ended or self._slow.failure is not None

    @property
    def cursor(self) -> Cursor:
        """Where reading stands: a walk of its own over the records (the table output's block
        walk) takes it over after ``park()`` and leaves it where the next record starts."""
        return self._cursor

    @property
    def fast_limit(self) -> int:
        """The longest record a walk may slice as it lies; longer ones (clipped to the
        snapshot length) go to ``read_carefully``. -1: every record goes there (swapped
        lengths, pseudo-header fix-ups)."""
        return self._fast_limit

    def read_carefully(self) -> Optional[tuple[Pkthdr, bytes]]:
        """The record at the cursor by the careful path (libpcap's clipping, checks and
        messages), or None at the end of the file."""
        return self._slow()

    def resume_offset(self) -> int:
        """Stop the running generator; the file offset of the next record it would read."""
        self.park()
        return self._cursor.file_offset()

    def set_link_compiler(self, compile_for_link: Optional[LinkTypeCompiler]) -> None:
        """Nothing to compile: a classic pcap file has one link type."""

    def park(self) -> None:
        """Stop the running generator where it is; the next read starts after its last packet.

        Closing a generator another thread is inside raises ValueError and changes nothing:
        it stays the running one (see ``Reader``, threads).
        """
        running = self._running
        if running is not None:
            running.close()  # it saves its position
            self._running = None

    def _loop(self, packet_filter: Optional[PacketFilter],
              kind: Union[LoopKind, str]) -> tuple[Callable[..., Any], dict[str, Any]]:
        """The loop of ``kind`` (or ``BATCH``) for ``packet_filter``, and the arguments that
        stay the same from one run to the next (each run adds its own: the callback, the
        count, the batch's ``meta``)."""
        loops = self._loops
        if packet_filter is not loops.packet_filter:
            loops.reset(packet_filter)
        name = kind if isinstance(kind, str) else kind.name
        found = loops.by_kind.get(name)
        if found is None:
            found = loops.by_kind[name] = self._build_loop(packet_filter, kind)
        return found

    def _build_loop(self, packet_filter: Optional[PacketFilter],
                    kind: Union[LoopKind, str]) -> tuple[Callable[..., Any], dict[str, Any]]:
        record = self._record
        accept = packet_filter.in_place_function if packet_filter is not None else None
        arguments: dict[str, Any] = {
            "cursor": self._cursor, "unpack_from": record.unpack_from,
            "record_size": record.size, "fast_limit": self._fast_limit, "accept": accept,
            LOAD_U16: _u16, LOAD_U32: _u32,
        }
        if isinstance(kind, str):  # BATCH
            arguments["pack_into"] = BATCH_META.pack_into
            return _batch_loop(per_packet(packet_filter, self._batch_deliver)), arguments
        arguments.update(make=self._make, slow=self._slow)
        return _record_loop(per_packet(packet_filter, kind.deliver), kind.name), arguments


BATCH = "batch"  # the batch loop's key among a stream's loops


class _Loops:
    """A stream's compiled loops for one filter (the last one used), by kind."""

    __slots__ = ("by_kind", "packet_filter")

    def __init__(self) -> None:
        self.packet_filter: Optional[PacketFilter] = None
        self.by_kind: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}

    def reset(self, packet_filter: Optional[PacketFilter]) -> None:
        self.packet_filter = packet_filter
        self.by_kind = {}


class _StickyFailure:
    """The slow path, remembering a damaged record: later reads raise the same error.

    (A separate object, so that a record generator holding it does not hold the stream that
    holds the generator: no reference cycle, and files close as soon as they are dropped.)
    """

    __slots__ = ("_cursor", "_failure", "_read", "ended")

    def __init__(
        self, read: Callable[[], Optional[tuple[Pkthdr, bytes]]], cursor: Cursor
    ) -> None:
        self._read = read
        self._cursor = cursor
        self._failure: Optional[SavefileError] = None
        self.ended = False  # the end of the file was found

    @property
    def failure(self) -> Optional[SavefileError]:
        return self._failure

    def __call__(self) -> Optional[tuple[Pkthdr, bytes]]:
        if self._failure is not None:
            raise self._failure
        try:
            record = self._read()
        except SavefileError as err:
            # A copy without the traceback: the original's frames would keep its callers alive.
            self._failure = copy.copy(err)
            cursor = self._cursor
            cursor.restart(iter(()), b"", cursor.offset)
            raise
        if record is None:
            self.ended = True
        return record


def count_records(records: bytes, byte_order: str = _HOST_ORDER) -> int:
    """How many whole records (16-byte headers) ``records`` holds, from its start."""
    caplen_at = struct.Struct(f"{byte_order}I").unpack_from
    count = position = 0
    while position + 16 <= len(records):
        position += 16 + caplen_at(records, position + 8)[0]
        if position > len(records):
            break
        count += 1
    return count


def iter_records(
    header: PcapFileHeader, chunks: Iterator[bytes], buffer: bytes = b"", offset: int = 24
) -> Iterator[tuple[Pkthdr, bytes]]:
    """Yield every record of a classic pcap stream as ``(Pkthdr, data)``.

    ``buffer`` holds bytes already read past the file header (at file offset ``offset``);
    ``chunks`` yields the rest of the stream. Raises a ``SavefileError`` where libpcap would fail.
    """
    return PcapRecordStream(header, chunks, buffer, offset).iterate()


def _slow_record_reader(
    header: PcapFileHeader, cursor: Cursor
) -> Callable[[], Optional[tuple[Pkthdr, bytes]]]:
    """Read one record at the cursor the careful way: refills, clipping, fix-ups, errors."""
    record = header.record_struct
    make = header_builder(header.header_class)
    snapshot = header.snapshot
    dlt = header.dlt
    max_caplen = max_snaplen_for_dlt(dlt)
    lengths_swapped = header.lengths_swapped
    post = needs_post_processing(dlt, header.swapped)

    def read_one() -> Optional[tuple[Pkthdr, bytes]]:
        # The record is looked at (peek) before any of it is consumed, and consumed whole: an
        # exception from the file in between (a KeyboardInterrupt) leaves the cursor on it.
        record_offset = cursor.file_offset()
        head = cursor.peek(record.size)
        if not head:
            return None
        if len(head) < record.size:
            cursor.position += len(head)
            raise TruncatedSavefileError(
                f"truncated dump file; tried to read {record.size} header bytes, "
                f"only got {len(head)}",
                offset=record_offset,
            )
        sec, frac, caplen, length = record.unpack(head)
        if lengths_swapped == SWAPPED or (lengths_swapped == MAYBE_SWAPPED and caplen > length):
            caplen, length = length, caplen
        data = _take_data(caplen, record_offset)
        hdr = make((sec, frac, len(data), length))
        if post:
            hdr, data = post_process(dlt, header.swapped, hdr, data)
        return hdr, data

    def _take_data(caplen: int, record_offset: int) -> bytes:
        """The record's data (clipped to the snapshot length), the whole record consumed."""
        if caplen > max_caplen:
            limit = f"snaplen of {snapshot}" if caplen > snapshot else f"maximum of {max_caplen}"
            raise MalformedSavefileError(
                f"invalid packet capture length {caplen}, bigger than {limit}",
                offset=record_offset,
            )
        keep = min(caplen, snapshot)
        whole = cursor.peek(record.size + caplen)
        cursor.advance(len(whole))
        got = len(whole) - record.size
        if got < caplen:
            wanted = keep if got < keep else caplen
            raise TruncatedSavefileError(
                f"truncated dump file; tried to read {wanted} captured bytes, only got {got}",
                offset=record_offset + len(whole),
            )
        return whole[record.size : record.size + keep]

    return read_one
