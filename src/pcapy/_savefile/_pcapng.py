"""pcapng: read every block of a pcapng file, yield its packets, and keep what it says.

Nothing here does I/O. ``open_source`` is given a ``ByteSource`` (its first bytes and an iterator
of chunks), reads up to the first Interface Description Block, and hands ``SavefileSource`` a
record stream of ``(PcapngPkthdr, bytes)``. Blocks are parsed from ``bytes`` already in hand, with
precompiled ``struct.Struct``s for the section's byte order (a parameter, ``_LAYOUTS``), and are
dispatched through a table (``_BLOCK_HANDLERS``).

What a reader sees, and where it goes beyond libpcap (draft-ietf-opsawg-pcapng; libpcap master's
sf-pcapng.c for errors):

- every section has its own byte order (a mixed-endian file is read), its own interfaces and
  version; each interface keeps its own link type, snapshot length, ``if_tsresol`` (decimal or
  binary) and ``if_tsoffset``. libpcap stops at the first IDB whose link type or snapshot
  length differs from the first one; this reader goes on to the end of the file;
- time stamps become ``(seconds, nanoseconds)`` with exact integer arithmetic:
  ``seconds = units // tsresol + tsoffset``; the fraction is truncated to nanoseconds when the
  resolution is finer (libpcap truncates too, but overflows for binary resolutions of 2^-35 and
  finer; this reader does not);
- Enhanced, Simple and the obsolete Packet Block give packets; Section Header, Interface
  Description, Name Resolution, Interface Statistics, Decryption Secrets and Custom Blocks are
  parsed into ``PcapngFileInfo``; other block types are skipped (and counted);
- a broken file raises a ``SavefileError`` at or before the point where libpcap fails, with
  libpcap's message where it has one and the byte offset of the block. Unlike libpcap this
  reader also checks the first Section Header Block's trailer and 4-byte alignment, refuses a
  later section whose major version is not 1 (as libpcap does; the spec would skip the
  section, silently losing its packets), and refuses an Interface Statistics Block for an
  interface the section never described.

Choices the spec leaves open, made as libpcap makes them so both agree wherever libpcap reads a
file: a snapshot length of 0 ("no limit") becomes the link type's maximum (262144 for most), and
a packet longer than its interface's snapshot length is an error; a Simple Packet Block's
caplen is min(len, that snapshot length) and its time stamp 0 units (the ``if_tsoffset``); a
file with no Interface Description Block at all has no link type to report and is refused.
Seconds can be negative (a negative ``if_tsoffset``); the headers carry them as they are.

Speed: a run of Enhanced Packet Blocks lying wholly in the current chunk, on interfaces whose
time-stamp units divide a second into whole nanoseconds and that need no pseudo-header fix-ups,
is read by a record loop generated from source (``_record_loop``, on the model of ``_pcap``'s):
per packet one ``unpack_from`` (which reads the block's trailer and the next block's header
together), a few comparisons and one slice; the time stamp is divided only when a packet falls
in another second than the previous one. The loop either yields (``next()``, iteration) or
calls the callback itself (``loop()``, ``dispatch()``), and a filter is inlined into it when it
can be (for the packets of its own link type; those of an interface with another link type go
through the filter compiled for theirs, see ``_pcapng_filters``). Everything else goes through
``_Reader.next_slow``, one block at a time.
"""

from __future__ import annotations

import copy
import functools
import struct
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

from .._codegen import (
    BASE,
    CAPLEN,
    LOAD_U16,
    LOAD_U32,
    PACKET,
    REJECT,
    WIRELEN,
    Emitter,
    compile_variant,
    indented,
    signature,
)
from .._constants import TstampPrecision
from .._errors import (
    MalformedSavefileError,
    SavefileError,
    TruncatedSavefileError,
    UnknownFormatError,
    UnsupportedVersionError,
)
from .._pkthdr import Packet, PcapngPkthdr, Pkthdr, header_builder
from .._source import Breakable, pack_batch
from . import _pcap
from ._cursor import Cursor
from ._linktype import adjust_snapshot, linktype_to_dlt, max_snaplen_for_dlt
from ._pcap import LoopKind, PerPacket, Statements
from ._pcapng_filters import LinkPrograms, link_key
from ._pcapng_types import (
    MAX_OPTIONS,
    BlockType,
    CommonOption,
    CustomBlock,
    DecryptionSecrets,
    Interface,
    InterfaceOption,
    InterfaceStatistics,
    NameRecord,
    NameRecordType,
    NameResolution,
    NameResolutionOption,
    Option,
    OptionReader,
    PacketOptions,
    PcapngFileInfo,
    Section,
    SectionOption,
    StatisticsOption,
    Timestamp,
    checked_options,
    custom_options,
    decode_text,
    format_address,
    undecoded,
    walk_options,
)
from ._pseudo import needs_post_processing, post_process

if TYPE_CHECKING:
    from .._bpf import BPFProgram
    from .._source import LinkTypeCompiler
    from . import SavefileSource
    from ._stream import ByteSource


SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
SHB_INSANE_MAX = 1024 * 1024  # libpcap's limit for the first Section Header Block
MAX_BLOCK_SIZE = 16 * 1024 * 1024  # libpcap's INITIAL_MAX_BLOCKSIZE
#: Per-section and per-file bounds on what is kept (issue 12: cost proportional to the input).
#: Real files stay far below them; past them a file gets a clear error, or (for metadata no
#: packet refers to) stops being kept, so memory never grows beyond them whatever the input.
MAX_INTERFACES = 65_536  # interfaces one section may describe
MAX_INTERFACE_OPTION_BYTES = 32 * 1024 * 1024  # option bytes of one section's interfaces
METADATA_BUDGET = 24 * 1024 * 1024  # estimated memory of the metadata records kept per file
_KEEP_COST_PER_BYTE = 24  # a decoded block costs up to ~24 times its size (an option a tuple)
_KEEP_COST_PER_BLOCK = 512
_KEPT_AS_BYTES = frozenset({0x00000BAD, 0x40000BAD})  # Custom Blocks: their data, one bytes
_INTERNED_SIZE = 4096  # IDBs up to this size are parsed once per section and body
_INTERNED_COUNT = 1024  # ... the first of so many distinct bodies
_BLOCK_SLACK = 131_104  # libpcap raises the limit to the link type's max snaplen plus this
_NS = 1_000_000_000
_HOST_ORDER = "<" if sys.byteorder == "little" else ">"
_make_pcapng_header = header_builder(PcapngPkthdr)

# Block types as plain ints, for loops that compare one a block (an IntEnum member is a slower
# lookup and comparison).
_SHB_TYPE = int(BlockType.SECTION_HEADER)
_IDB_TYPE = int(BlockType.INTERFACE_DESCRIPTION)
_ISB_TYPE = int(BlockType.INTERFACE_STATISTICS)
_PACKET_BLOCK_TYPES = frozenset(
    {BlockType.ENHANCED_PACKET, BlockType.SIMPLE_PACKET, BlockType.PACKET}
)
# Blocks always read in full (they change what later packets mean), and the metadata blocks read
# in full while the file's metadata budget lasts; any other block is framed, checked as libpcap
# checks it, and counted (_Reader.skim_light_blocks).
_ALWAYS_PARSED = _PACKET_BLOCK_TYPES | {BlockType.SECTION_HEADER, BlockType.INTERFACE_DESCRIPTION}
_KEPT_WHILE_BUDGET = frozenset(
    {
        BlockType.NAME_RESOLUTION,
        BlockType.INTERFACE_STATISTICS,
        BlockType.DECRYPTION_SECRETS,
        BlockType.CUSTOM,
        BlockType.CUSTOM_NO_COPY,
    }
)


class _Layout:
    """The Structs of one byte order: built once per order, shared by every section."""

    __slots__ = (
        "block_head",
        "block_head_and_u32",
        "dsb_fixed",
        "epb_fixed",
        "epb_head",
        "idb_fixed",
        "isb_fixed",
        "order",
        "pb_fixed",
        "plain_interfaces",
        "record_head",
        "shb_fixed",
        "trailer_and_epb_head",
        "two_u32",
        "u32",
        "u64",
    )

    def __init__(self, order: str) -> None:
        self.order = order
        self.u32 = struct.Struct(order + "I")
        self.u64 = struct.Struct(order + "Q")
        self.two_u32 = struct.Struct(order + "II")
        self.block_head = struct.Struct(order + "II")  # block type, total length
        self.block_head_and_u32 = struct.Struct(order + "III")  # ... and a first word
        # block type, total length, interface, time stamp high and low, caplen, len
        self.epb_head = struct.Struct(order + "IIIIIII")
        self.trailer_and_epb_head = struct.Struct(order + "IIIIIIII")  # a trailer, then the above
        self.epb_fixed = struct.Struct(order + "IIIII")
        self.pb_fixed = struct.Struct(order + "HHIIII")  # interface, drops, ts hi/lo, lengths
        self.shb_fixed = struct.Struct(order + "IHHq")  # byte-order magic, version, length
        self.idb_fixed = struct.Struct(order + "HHI")  # link type, reserved, snaplen
        self.isb_fixed = struct.Struct(order + "III")  # interface, time stamp high and low
        self.dsb_fixed = struct.Struct(order + "II")  # secrets type, secrets length
        self.record_head = struct.Struct(order + "HH")
        # link type -> the kind of its interfaces without time options (see _plain_kind)
        self.plain_interfaces: dict[int, _InterfaceKind] = {}


_LAYOUTS = {order: _Layout(order) for order in "<>"}


class _Clock(NamedTuple):
    """An interface's time-stamp arithmetic, precomputed: units -> (seconds, nanoseconds).

    ``nsec = (units % resolution) * multiplier // divisor`` is exact for every resolution:
    (10**9 / R, 1) for decimal R <= 10**9, (1, R / 10**9) for finer decimal ones and
    (10**9, R) for binary ones.
    """

    resolution: int
    offset: int
    multiplier: int
    divisor: int

    def convert(self, units: int) -> Timestamp:
        seconds, fraction = divmod(units, self.resolution)
        return seconds + self.offset, fraction * self.multiplier // self.divisor


@functools.lru_cache(maxsize=64)
def _clock(resolution: int, offset: int) -> _Clock:
    """The clock of an interface (one object per resolution and offset: the record loop
    keeps its time-stamp arithmetic while consecutive packets' interfaces share a clock)."""
    if resolution <= _NS and _NS % resolution == 0:
        return _Clock(resolution, offset, _NS // resolution, 1)
    if resolution % _NS == 0:
        return _Clock(resolution, offset, 1, resolution // _NS)
    return _Clock(resolution, offset, _NS, resolution)


# What the record loop's fast path needs about an interface: (the longest packet it reads,
# interface, link key (DLT and byte order, see _pcapng_filters), clock), a plain tuple because
# CPython unpacks exact tuples fastest. It serves interfaces whose time-stamp units divide a
# second into whole nanoseconds (10^0 .. 10^-9) and that need no pseudo-header fix-ups; any
# other interface gets a length of -1, which sends its packets to next_slow. The length is
# capped so that a block without options is never longer than the block size limit.
_FastPath = tuple[int, Optional[Interface], int, Optional[_Clock]]
_SLOW_PATH: _FastPath = (-1, None, -1, None)
# An interface no packet has been read from yet (its Interface is made on first use): the
# record loop leaves its packets to the careful path, which makes it and its fast entry.
_NOT_MADE: _FastPath = (-2, None, -1, None)


class _Block(NamedTuple):
    """One framed block: its type, all its bytes (header to trailer), and its file offset."""

    block_type: int
    data: bytes
    offset: int

    @property
    def body_size(self) -> int:
        return len(self.data) - 12


def open_source(stream: ByteSource, source_cls: type[SavefileSource]) -> SavefileSource:
    """Open a pcapng stream (it starts with the SHB block type) as a ``SavefileSource``.

    Reads the first Section Header Block and every block up to the first Interface Description
    Block, raising a ``SavefileError`` where libpcap's open fails. ``datalink()`` and
    ``snapshot()`` are the first interface's.
    """
    reader = _Reader(stream.chunks(), stream.first)
    first = reader.open()
    return source_cls(
        stream,
        first.dlt,
        first.snapshot,
        TstampPrecision.NANO,
        PcapngRecordStream(reader),
        "pcapng",
        file_header=reader.info,
    )


class PcapngRecordStream:
    """The packets of a pcapng stream, with a filter that can change between packets.

    ``iterate(packet_filter)`` returns a generator of ``(PcapngPkthdr, data)`` from the current
    position; ``drive(packet_filter, callback, cnt, source)`` calls ``callback(hdr, data)`` for
    up to ``cnt`` packets without a generator in between (pcapy's ``loop``/``dispatch``). Both
    run the record loop generated by ``_record_loop``, with the filter inlined when it can be;
    starting either stops the running generator at the packet it last returned. A BPF program
    is compiled for one link type: packets from interfaces with another one (which libpcap
    would never reach) are run through the same expression compiled for theirs, as
    ``set_link_compiler`` says (see ``_pcapng_filters``).
    """

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self._running: Optional[Generator[Packet, None, None]] = None
        self._compile_for_link: Optional[LinkTypeCompiler] = None
        self._programs: Optional[LinkPrograms] = None  # the current filter's, kept between runs

    @property
    def failure(self) -> Optional[SavefileError]:
        """The error that ended the stream, if a damaged block did."""
        return self.reader.failure

    @property
    def exhausted(self) -> bool:
        """Whether reading found the end of the file, or failed: a generator that ended did
        so there, not because an exception (a KeyboardInterrupt) went through it."""
        return self.reader.ended or self.reader.failure is not None

    def iterate(
        self, packet_filter: Optional[BPFProgram] = None, until_break: Optional[Breakable] = None
    ) -> Iterator[Packet]:
        """A generator over the remaining packets that ``packet_filter`` (if any) accepts; with
        ``until_break``, it also ends at (and consumes) ``until_break.break_requested``."""
        self.park()
        kind = GENERATOR if until_break is None else ITERATOR
        run = _record_loop(per_packet(packet_filter, kind.deliver), kind.name)
        self._running = run(**self._arguments(packet_filter, None, 0, until_break))
        return self._running

    def drive(
        self,
        packet_filter: Optional[BPFProgram],
        callback: Callable[[Pkthdr, bytes], object],
        cnt: int,
        source: Breakable,
        *,
        counted: bool = True,  # pcapng always counts (a small share of its cost per packet)
    ) -> int:
        """Call ``callback`` for up to ``cnt`` packets (all for ``cnt <= 0``), stopping early
        when ``source.break_requested``; return how many. Call ``iterate`` again afterwards.

        An exception from the callback propagates; the packet after the one it was given is
        the next one read.
        """
        self.park()
        left = cnt if cnt > 0 else -1
        run = _record_loop(per_packet(packet_filter, DRIVER.deliver), DRIVER.name)
        return left - int(run(**self._arguments(packet_filter, callback, left, source)))

    def next_batch(
        self, packet_filter: Optional[BPFProgram], max_packets: int
    ) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` packets in pcapy-ng's batch layout, copied one by one (a
        pcapng packet's time stamp needs converting). Call ``iterate`` again afterwards."""
        return pack_batch(self.iterate(packet_filter), max_packets)

    def resume_offset(self) -> int:
        """Stop the running generator; the file offset of the next block it would read."""
        self.park()
        return self.reader.cursor.file_offset()

    def park(self) -> None:
        """Stop the running generator where it is; the next read starts after its last packet.

        Closing a generator another thread is inside raises ValueError and changes nothing:
        it stays the running one (see ``Reader``, threads).
        """
        running = self._running
        if running is not None:
            running.close()  # it saves its position
            self._running = None

    def set_link_compiler(self, compile_for_link: Optional[LinkTypeCompiler]) -> None:
        """How the filter about to be installed is compiled for the other link types of the
        file's interfaces (``None``: their packets are rejected)."""
        self._compile_for_link = compile_for_link
        self._programs = None

    def _link_programs(self, packet_filter: Optional[BPFProgram]) -> Optional[LinkPrograms]:
        """The programs of ``packet_filter`` by link key, kept while the filter stays."""
        programs = self._programs
        if packet_filter is None or (programs is not None and programs.program is packet_filter):
            return programs if packet_filter is not None else None
        programs = LinkPrograms(packet_filter, self.reader.first_swapped, self._compile_for_link)
        self._programs = programs
        return programs

    def _arguments(
        self,
        packet_filter: Optional[BPFProgram],
        callback: Optional[Callable[[Pkthdr, bytes], object]],
        left: int,
        source: Optional[Breakable],
    ) -> dict[str, object]:
        reader = self.reader
        programs = self._link_programs(packet_filter)
        slow = functools.partial(reader.next_accepted_slow, programs)
        return {
            "reader": reader, "cursor": reader.cursor, "make": _make_pcapng_header,
            "from_block": PacketOptions.from_block, "slow": slow,
            **_filter_parts(programs), LOAD_U16: _u16, LOAD_U32: _u32, "callback": callback,
            "left": left, "source": source,
        }


def _filter_parts(programs: Optional[LinkPrograms]) -> dict[str, object]:
    """What the record loop's filter statements use (nothing to match without a filter):
    the program inlined or called (``accept``) for packets of the link key it was compiled for
    (``filter_link``), and the others' functions by link key (``others``; a packet of a link
    key not there yet goes the careful way, which compiles the filter for it)."""
    if programs is None:
        return {"accept": None, "filter_link": -1, "others": {}}
    return {"accept": programs.accept, "filter_link": programs.first_link,
            "others": programs.functions}


# The record loop, on the model of _pcap's (its LoopKinds, generated through pcapy._codegen):
# one source for every filter and both ways of delivering packets, compiled once per
# (filter, kind).
#
# The fast path reads the run of Enhanced Packet Blocks lying wholly in the current chunk, on
# interfaces with a fast entry (see _Reader.on_interface), and stops at anything else with `pos`
# on that block, for `slow` (_Reader.next_slow) to read it with every check and error libpcap
# has. `fields` holds the block at `pos`: its header, after the previous block's trailer, read
# by the one `unpack_next` that checked that trailer. `pos` always points past the last packet
# delivered, so stopping at a delivery loses nothing. The per-packet statements are the kind's
# delivery, or a filter with it inlined, run for each block with its packet at
# PACKET[BASE:BASE + CAPLEN].
RUN_PARAMETERS = ("reader", "cursor", "make", "from_block", "slow", "accept", "filter_link",
                  "others", LOAD_U16, LOAD_U32, "callback", "left", "source")
_EPB_HEAD = ("_", "block_type", "length", "if_id", "high", "low", CAPLEN, WIRELEN)


def _fast_path(emitter: Emitter, more: str, per_packet: Statements, filtered: bool) -> None:
    with emitter.block(f"while {more}"):
        emitter.line(f"{', '.join(_EPB_HEAD)} = fields", "stop = pos + length")
        with emitter.block("if block_type != 6 or stop > last"):
            emitter.line("break")
        with emitter.block("if if_id != current"):
            _switch_interface(emitter, filtered)
        with emitter.block(f"if {CAPLEN} > snapshot"):
            emitter.line("break")
        _options(emitter)
        emitter.line("fields = unpack_next(pkt, stop - 4)")
        with emitter.block("if fields[0] != length"):
            emitter.line("break")
        emitter.line(f"{BASE} = pos + 28", "pos = stop")
        emitter.lines(per_packet)


def _switch_interface(emitter: Emitter, filtered: bool) -> None:
    """A block on another interface than the previous one: its fast entry, if it has one;
    with a filter, whether the interface has the link key of the filter's inlined program
    (``matches``), and if not, the program of its own (``other``), once compiled (until then
    its packets go the careful way, which compiles it)."""
    with emitter.block("if if_id >= len(fast)"):
        emitter.line("break")
    emitter.line("snapshot, interface, link, clock = fast[if_id]")
    with emitter.block("if snapshot < 0"):
        emitter.line("break")
    emitter.line("current, matches = if_id, link == filter_link" if filtered else "current = if_id")
    if filtered:
        with emitter.block("if not matches"):
            emitter.line("other = others.get(link)")
            with emitter.block("if other is None"):
                emitter.line("break")
    with emitter.block("if clock is not units_clock"):
        emitter.line(
            "units_clock, stamp_high, stamp_low = clock, -1, 0",
            "resolution, tsoffset, multiplier, _ = clock",
        )


def _options(emitter: Emitter) -> None:
    """The block's options: none when the block is the padded data and nothing else."""
    with emitter.block(f"if length == ({CAPLEN} + 35) & -4"):
        emitter.line("options = None")
    with emitter.block("else"):
        with emitter.block(f"if {CAPLEN} + 36 > length or length & 3 or length > max_block"):
            emitter.line("break")
        emitter.line(
            f"options_start = pos + 28 + (({CAPLEN} + 3) & -4)",
            f"options = from_block({PACKET}[options_start : stop - 4], order, "
            "chunk_offset + options_start)",
        )


def _deliver(*emit: str) -> Statements:
    """What happens to an accepted packet, ``emit`` being a ``yield`` or a callback's call.

    The time stamp's division is done once per second of capture: a packet whose time stamp
    has the high word ``stamp_high`` and a low word in ``stamp_low .. stamp_low + resolution -
    1`` falls in second ``stamp_seconds``, ``fraction`` units into it (compared as a
    difference: small ints are faster).
    """
    emitter = Emitter()
    emitter.line("fraction = low - stamp_low")
    with emitter.block("if high != stamp_high or fraction >= resolution or fraction < 0"):
        emitter.line(
            "stamp_seconds, fraction = divmod((high << 32) | low, resolution)",
            "stamp_seconds += tsoffset",
            "stamp_high, stamp_low = high, low - fraction",
        )
    emitter.line(*emit)
    return tuple(emitter.statements)


_HEADER = f"make((stamp_seconds, fraction * multiplier, {CAPLEN}, {WIRELEN}, interface, options))"
_PACKET_IN_PLACE = f"{PACKET}[{BASE} : {BASE} + {CAPLEN}]"
GENERATOR = replace(
    _pcap.GENERATOR, deliver=_deliver(f"yield {_HEADER}, {_PACKET_IN_PLACE}")
)
ITERATOR = replace(_pcap.ITERATOR, deliver=GENERATOR.deliver)
DRIVER = replace(
    _pcap.DRIVER, deliver=_deliver(f"callback({_HEADER}, {_PACKET_IN_PLACE})", "left -= 1")
)
_LOOP_KINDS = {kind.name: kind for kind in (GENERATOR, ITERATOR, DRIVER)}
_u16 = struct.Struct(">H").unpack_from
_u32 = struct.Struct(">I").unpack_from


def loop_source(per_packet: PerPacket, kind: LoopKind) -> str:
    """The pcapng record loop (see the comment above ``RUN_PARAMETERS``)."""
    emitter = Emitter()
    with emitter.block(signature("run", RUN_PARAMETERS)):
        emitter.line(f"{PACKET}, pos = cursor.buffer, cursor.position", "units_clock = None")
        with emitter.block("try"), emitter.block("while True"):
            with emitter.block("if reader.failure is not None"):
                emitter.line("raise reader.failure")
            emitter.line(
                "layout = reader.layout",
                "unpack_next = layout.trailer_and_epb_head.unpack_from",
                "order = layout.order",
                "fast = reader.fast",
                "max_block = reader.max_block",
                "chunk_offset = cursor.offset",
                # past `last`, a block and the next one's header do not fit
                f"last = len({PACKET}) - 28",
                "current = -1",
                "fields = (0,) * 8",  # not a block: next_slow decides what comes
            )
            with emitter.block("if pos <= last"):
                emitter.line(f"fields = (0, *layout.epb_head.unpack_from({PACKET}, pos))")
            more = kind.more.removesuffix(" and ") or "True"
            _fast_path(emitter, more, per_packet.statements, bool(per_packet.shape))
            if kind.stop:
                with emitter.block(f"if {kind.stop}"):
                    emitter.line(*kind.stops())
            emitter.line(
                "cursor.position = pos",
                "pos = -1",  # the careful path owns the position until it returns
                "item = slow()",
                f"{PACKET}, pos = cursor.buffer, cursor.position",
            )
            with emitter.block("if item is None"):
                emitter.line(kind.returns())
            emitter.lines(kind.deliver_item)
        kind.leave(emitter)
    return emitter.source()


@functools.lru_cache(maxsize=64)
def _record_loop(per_packet: PerPacket, kind_name: str) -> Callable[..., Any]:
    """The record loop for these per-packet statements, as a generator or as a driver."""
    kind = _LOOP_KINDS[kind_name]
    family = per_packet.family(f"pcapng {kind.name}")
    return compile_variant(family, loop_source(per_packet, kind), "run")


def per_packet(packet_filter: Optional[BPFProgram], deliver: Statements) -> PerPacket:
    """The statements run for each block of the fast path: ``deliver``, behind the filter.

    The filter is inlined (or called) for packets of the link key it was compiled for; a
    packet of another (an interface of another link type) goes through the program compiled
    for its own, called (``other``). A file of one link type never takes that branch: its
    packets cost one test of ``matches``, as when other link types were rejected.
    """
    if packet_filter is None:
        return PerPacket(deliver)
    shape, inlined = "inlined", packet_filter.inline_statements(deliver)
    if inlined is None:
        shape = "called"
        inlined = [(0, f"if accept({PACKET}, {BASE}, {CAPLEN}, {WIRELEN}):"), *indented(deliver)]
    other = [(0, f"if other({PACKET}, {BASE}, {CAPLEN}, {WIRELEN}):"), *indented(deliver),
             (0, REJECT)]
    return PerPacket(((0, "if not matches:"), *indented(other), *inlined), shape)


class _Reader:
    """The state of one pcapng stream: position, current section, its interfaces, the info."""

    def __init__(self, chunks: Iterator[bytes], first: bytes) -> None:
        self.cursor = Cursor(chunks, first)
        self.info = PcapngFileInfo()
        self.layout = _LAYOUTS["<"]
        self.swapped = False
        self.first_swapped = False  # whether the first section is in the other byte order
        self.section_interfaces = _SectionInterfaces(0, "<")  # the current section's
        self.fast: list[_FastPath] = []  # the current section's, by interface id (one each)
        self.max_block = MAX_BLOCK_SIZE
        self.failure: Optional[SavefileError] = None  # once the file fails, it stays failed
        self.ended = False  # the careful path found the end of the file
        self.section_index = -1
        self.interface_option_bytes = 0  # of the current section's interfaces
        self.kept_cost = 0  # estimated memory of the metadata records kept in self.info
        # Interface Description Blocks seen in this section, by body: what they parse to
        self.parsed_interfaces: dict[bytes, _KnownInterface] = {}
        # Block types read in full; the others are framed and counted (see skim_light_blocks)
        self.heavy_types = _ALWAYS_PARSED | _KEPT_WHILE_BUDGET

    def open(self) -> Interface:
        """Read the first SHB and every block up to and including the first IDB."""
        self._read_first_section_header()
        while True:
            block = self.read_block()
            if block is None:
                raise MalformedSavefileError(
                    "the capture file has no Interface Description Blocks",
                    offset=self.cursor.file_offset(),
                )
            if block.block_type in _PACKET_BLOCK_TYPES:
                raise MalformedSavefileError(
                    "the capture file has a packet block before any Interface Description Blocks",
                    offset=block.offset,
                )
            self.handle(block)
            if block.block_type == BlockType.INTERFACE_DESCRIPTION:
                return self.interface(len(self.fast) - 1)

    def _read_first_section_header(self) -> None:
        """The file's first block, with libpcap's open-time checks and messages (§4.1)."""
        head = self.cursor.peek(12)
        order = _order_from_magic(head[8:12]) if len(head) == 12 else None
        if order is None:
            raise UnknownFormatError("unknown file format", offset=0)
        layout = _LAYOUTS[order]
        length = layout.u32.unpack_from(head, 4)[0]
        if length < 28 or length > SHB_INSANE_MAX:
            raise MalformedSavefileError(
                "Section Header Block in pcapng dump file has invalid length "
                f"28 < _{length}_ < {SHB_INSANE_MAX} (BT_SHB_INSANE_MAX)",
                offset=0,
            )
        data = self.cursor.read(length)
        if len(data) < length:
            raise TruncatedSavefileError(
                f"truncated pcapng dump file; tried to read {length - 12} bytes, "
                f"only got {len(data) - 12}",
                offset=0,
            )
        major, minor = layout.shb_fixed.unpack_from(data, 8)[1:3]
        if major != 1 or minor not in (0, 2):
            raise UnsupportedVersionError(
                f"unsupported pcapng savefile version {major}.{minor}", offset=0
            )
        block = _Block(BlockType.SECTION_HEADER, data, 0)
        self._check_framing(length, 0)
        self._check_trailer(block, layout)
        self._start_section(block, order)
        self.first_swapped = self.swapped

    def read_block(self) -> Optional[_Block]:
        """The next whole block, checked as libpcap checks it (§4.2); ``None`` at EOF."""
        cursor = self.cursor
        offset = cursor.file_offset()
        head = cursor.peek(12)
        if not head:
            return None
        if len(head) < 8:
            raise TruncatedSavefileError(
                f"truncated pcapng dump file; tried to read 8 bytes, only got {len(head)}",
                offset=offset,
            )
        layout = self._layout_for(head)
        block_type, length = layout.block_head.unpack_from(head)
        self._check_framing(length, offset)
        data = cursor.read(length)
        if len(data) < length:
            raise TruncatedSavefileError(
                f"truncated pcapng dump file; tried to read {length - 8} bytes, "
                f"only got {len(data) - 8}",
                offset=offset,
            )
        block = _Block(block_type, data, offset)
        self._check_trailer(block, layout)
        return block

    def _layout_for(self, head: bytes) -> _Layout:
        """The byte order a block's length is in: a new section announces its own (§4.1)."""
        if head[:4] == SHB_MAGIC:
            order = _order_from_magic(head[8:12])
            if order is not None:
                return _LAYOUTS[order]
        return self.layout

    def _check_framing(self, length: int, offset: int) -> None:
        if length < 12:
            raise MalformedSavefileError(
                f"block in pcapng dump file has a length of {length} < 12", offset=offset
            )
        if length % 4:
            raise MalformedSavefileError(
                f"block in pcapng dump file has a length of {length} that is not a multiple of 4",
                offset=offset,
            )
        if length > self.max_block:
            raise MalformedSavefileError(
                f"pcapng block size {length} > maximum {self.max_block}", offset=offset
            )

    @staticmethod
    def _check_trailer(block: _Block, layout: _Layout) -> None:
        data = block.data
        length = len(data)
        trailer = layout.u32.unpack_from(data, length - 4)[0]
        if trailer != length:
            raise MalformedSavefileError(
                f"block total length in header {length} and trailer {trailer} don't match",
                offset=block.offset,
            )

    def handle(self, block: _Block) -> Optional[Packet]:
        """Process one block; return its packet if it is a packet block."""
        handler = _BLOCK_HANDLERS.get(block.block_type)
        if handler is None:
            _count(self.info.skipped_blocks, block.block_type)
            return None
        return handler(self, block)

    def next_slow(self) -> Optional[Packet]:
        """Read blocks until one gives a packet; ``None`` at the end of the file.

        A ``SavefileError`` is remembered and raised again by every later read: the bytes
        after a broken block are not read as if nothing had happened.
        """
        if self.failure is not None:
            raise self.failure
        try:
            while True:
                self.skim_light_blocks()
                block = self.read_block()
                if block is None:
                    self.ended = True
                    return None
                packet = self.handle(block)
                if packet is not None:
                    return packet
        except SavefileError as err:
            # A copy without the traceback: the original's frames would keep its callers alive.
            self.failure = copy.copy(err)
            raise

    def skim_light_blocks(self) -> None:
        """Pass over the blocks in the current chunk that need no more than their framing checked
        and a count: types this reader does not keep (or no longer keeps: the metadata budget
        is spent), and the plain cases of the others (``_skim_heavy``), in runs of interfaces
        (``_skim_interfaces``) and of everything else (``_skim``). One ``unpack_from`` and a few
        comparisons a block: a flood of small blocks costs what its bytes cost. Anything else, or
        anything wrong, is left to ``read_block``, which raises the error."""
        info, cursor = self.info, self.cursor
        while True:
            self._skim(cursor, info.unkept_blocks, info.skipped_blocks)
            if not self._skim_interfaces(cursor):
                return

    def _skim(self, cursor: Cursor, unkept: dict[int, int], skipped: dict[int, int]) -> None:
        """``skim_light_blocks``' loop, counting blocks in ``unkept`` and ``skipped`` (by plain
        int: no enum lookup a block). The cursor is left past the last block done with, even by
        an exception (an interrupt, a limit): no block before it is counted or kept twice."""
        buffer, position = cursor.buffer, cursor.position
        end = len(buffer)
        layout = self.layout
        unpack_head, unpack_u32 = layout.block_head.unpack_from, layout.u32.unpack_from
        heavy, max_block, parsed = self.heavy_types, self.max_block, self.parsed_interfaces
        add_interface, base = self.add_interface, self.cursor.offset
        interface_description, interned = _IDB_TYPE, _INTERNED_SIZE
        idb_head = layout.u32.pack(_IDB_TYPE)
        packet_types, statistics, kept_while_budget = (
            _PACKET_BLOCK_TYPES, _ISB_TYPE, _KEPT_WHILE_BUDGET
        )
        try:
            while end - position >= 12:
                block_type, length = unpack_head(buffer, position)
                stop = position + length
                if stop > end or length < 12 or length & 3 or length > max_block:
                    break
                if unpack_u32(buffer, stop - 4)[0] != length:
                    break
                if block_type in heavy:
                    if block_type == interface_description:
                        # one between other blocks (a run of them: _skim_interfaces')
                        body = buffer[position + 8 : stop - 4] if length <= interned else b""
                        known = None if buffer.startswith(idb_head, stop) else (
                            parsed.get(body) or self._interface_in_skim(
                                buffer, position, stop, body))
                        if known is None:
                            break
                        add_interface(known, base + position)
                    elif block_type in packet_types or not self._skim_heavy(
                        block_type, buffer, position, stop, unkept
                    ):
                        break
                    max_block, parsed = self.max_block, self.parsed_interfaces
                elif block_type == statistics:
                    if length < 24 or unpack_u32(buffer, position + 8)[0] >= len(self.fast):
                        break
                    unkept[block_type] = unkept.get(block_type, 0) + 1
                elif block_type in kept_while_budget:
                    unkept[block_type] = unkept.get(block_type, 0) + 1
                else:
                    skipped[block_type] = skipped.get(block_type, 0) + 1
                position = stop
        finally:
            cursor.position = position

    def _skim_interfaces(self, cursor: Cursor) -> bool:
        """The run of Interface Description Blocks at the cursor that need no more than
        ``add_interface``: like one before in the section (its body remembered), or sound
        (``_interface_in_skim``); whether it took any. A loop of its own, which a flood of
        interfaces goes through at a quarter less cost than ``_skim``'s (which takes an
        interface between other blocks itself: a switch of loops a block would cost more).
        The cursor is left past the last one added, even by an exception (a section's limit,
        an interrupt); a broken one is left to the careful path, which raises its error."""
        buffer, position = cursor.buffer, cursor.position
        start, end, base = position, len(buffer), cursor.offset
        layout = self.layout
        unpack_head, unpack_u32 = layout.block_head.unpack_from, layout.u32.unpack_from
        remembered, add_interface = self.parsed_interfaces.get, self.add_interface
        interface_description, interned, max_block = _IDB_TYPE, _INTERNED_SIZE, self.max_block
        try:
            while end - position >= 12:
                block_type, length = unpack_head(buffer, position)
                stop = position + length
                if block_type != interface_description or stop > end or length & 3:
                    break
                if length < 12 or length > max_block or unpack_u32(buffer, stop - 4)[0] != length:
                    break
                body = buffer[position + 8 : stop - 4] if length <= interned else b""
                known = remembered(body) or self._interface_in_skim(buffer, position, stop, body)
                if known is None:
                    break
                add_interface(known, base + position)
                max_block = self.max_block
                position = stop
        finally:
            cursor.position = position
        return position != start

    def _skim_heavy(
        self, block_type: int, buffer: bytes, position: int, stop: int, unkept: dict[int, int]
    ) -> bool:
        """Pass a block ``_skim`` finds that changes the reader's state, if it is a plain
        case: a section in the same byte order, a metadata block kept within the budget.
        ``False``: the careful path's."""
        if block_type == _SHB_TYPE:
            if not self._plain_section(buffer, position):
                return False
            if self.heavy_types is not _ALWAYS_PARSED:
                return self._keep_section_in_skim(buffer, position, stop)
            unkept[block_type] = unkept.get(block_type, 0) + 1  # sections are no longer kept
            self.begin_section(self.layout)
            return True
        if block_type == _ISB_TYPE:
            return self._keep_statistics_in_skim(buffer, position, stop)
        return self._keep_in_skim(block_type, buffer, position, stop)

    def _keep_section_in_skim(self, buffer: bytes, position: int, stop: int) -> bool:
        """``_keep_in_skim`` for a plain Section Header Block (what the handler checks,
        ``_plain_section`` has, but its options)."""
        kept = self._kept_in_skim(_SHB_TYPE, buffer, position, stop, 24)
        if kept is None:
            return False
        data, offset = kept
        self._append_section(data, offset, self.layout.order)
        self.begin_section(self.layout)
        return True

    def _interface_in_skim(
        self, buffer: bytes, position: int, stop: int, body: bytes
    ) -> Optional[_KnownInterface]:
        """What an IDB ``_skim`` finds says (remembered under ``body``, its bytes between
        header and trailer, unless empty); ``None`` if it is broken (the careful path raises
        its error)."""
        layout = self.layout
        start, end = position + 16, stop - 4
        if start > end:
            return None
        found = _time_options(buffer, start, end, layout.record_head.unpack_from) if (
            start < end) else ()
        if found == ():  # the usual case, _known_interface's without a call
            linktype, _reserved, snaplen = layout.idb_fixed.unpack_from(buffer, position + 8)
            kind = layout.plain_interfaces.get(linktype) or _plain_kind(linktype, layout)
            known = kind, snaplen, buffer[start:end]
        else:
            base = self.cursor.offset
            try:
                if found is None:  # options to count, or framing to check with its error
                    known = _parse_interface(buffer, position, stop, base, layout)
                else:
                    known = _known_interface(buffer, position, stop, base, layout, found)
            except SavefileError:
                return None
        if body and len(self.parsed_interfaces) < _INTERNED_COUNT:  # (body: a small block's)
            self.parsed_interfaces[body] = known
        return known

    def _keep_statistics_in_skim(self, buffer: bytes, position: int, stop: int) -> bool:
        """``on_statistics`` for an ISB ``_skim`` finds, if it is kept and sound."""
        if stop - position < 24:
            return False
        if_id, high, low = self.layout.isb_fixed.unpack_from(buffer, position + 8)
        if if_id >= len(self.fast):
            return False
        kept = self._kept_in_skim(_ISB_TYPE, buffer, position, stop, 20)
        if kept is None:
            return False
        data, offset = kept
        self._append_statistics(data, offset, if_id, (high << 32) | low)
        return True

    def _kept_in_skim(self, block_type: int, buffer: bytes, position: int, stop: int,
                      options_at: int) -> Optional[tuple[bytes, int]]:
        """Charge a section or statistics block ``_skim`` keeps to the metadata budget, if it
        fits and its options (from byte ``options_at`` of the block) are well framed: its bytes and
        file offset. ``None``, with nothing charged, otherwise."""
        length = stop - position
        kept_cost = self.kept_cost + _KEEP_COST_PER_BLOCK + _KEEP_COST_PER_BYTE * length
        if kept_cost > METADATA_BUDGET:
            return None
        data, offset = buffer[position:stop], self.cursor.offset + position
        if length > options_at + 4:  # more than the fixed part and the trailer: options
            try:
                _check_options(_Block(block_type, data, offset), options_at, self.layout.order)
            except SavefileError:
                return None
        self.kept_cost = kept_cost
        return data, offset

    def _keep_in_skim(self, block_type: int, buffer: bytes, position: int, stop: int) -> bool:
        """Keep a metadata block found by ``_skim`` as its handler would, if it fits the
        budget and is sound; otherwise change nothing and say so (``read_block`` and the
        handler then count it, or raise its error)."""
        cost = _keep_cost(block_type, stop - position)
        if self.kept_cost + cost > METADATA_BUDGET:
            return False
        block = _Block(block_type, buffer[position:stop], self.cursor.offset + position)
        try:
            _BLOCK_HANDLERS[block_type](self, block)
        except SavefileError:
            self.kept_cost -= cost  # the handler's keeps() counted it before the error
            return False
        return True

    def _plain_section(self, buffer: bytes, position: int) -> bool:
        """Whether a Section Header Block needs no more than ``begin_section``: long enough,
        in this section's byte order, major version 1."""
        layout = self.layout
        if layout.u32.unpack_from(buffer, position + 4)[0] < 28:
            return False
        magic, major = layout.shb_fixed.unpack_from(buffer, position + 8)[:2]
        return bool(magic == 0x1A2B3C4D and major == 1)

    def next_accepted_slow(self, programs: Optional[LinkPrograms]) -> Optional[Packet]:
        """The next packet the filter (its program for the packet's link type) accepts, read
        the careful way; ``None`` at the end."""
        while True:
            packet = self.next_slow()
            if packet is None or programs is None or programs.accepts(packet):
                return packet

    def on_section_header(self, block: _Block) -> None:
        """A new section (§4.1): its own byte order, version and interface numbering."""
        _require_body(block, 16)
        order = _order_from_magic(block.data[8:12])
        if order is None:
            raise MalformedSavefileError(
                "the file has a section with a bad byte order magic field", offset=block.offset
            )
        major = _LAYOUTS[order].shb_fixed.unpack_from(block.data, 8)[1]
        if major != 1:
            raise UnsupportedVersionError(
                f"unknown pcapng savefile major version number {major}", offset=block.offset
            )
        self._start_section(block, order)

    def _start_section(self, block: _Block, order: str) -> None:
        if self.section_index < 0 or self.keeps(block):
            _check_options(block, 24, order)
            self._append_section(block.data, block.offset, order)
        self.begin_section(_LAYOUTS[order])

    def _append_section(self, data: bytes, offset: int, order: str) -> None:
        self.info.sections.append(undecoded(
            Section, _section_fields, data, order, self.section_index + 1, offset
        ))

    def begin_section(self, layout: _Layout) -> None:
        """A new section: its byte order, and no interfaces yet."""
        self.section_index += 1
        self.layout = layout
        self.swapped = layout.order != _HOST_ORDER
        if self.fast or self.parsed_interfaces:
            self.section_interfaces = _SectionInterfaces(self.section_index, layout.order)
            self.fast = []
            self.parsed_interfaces = {}
            self.interface_option_bytes = 0
        else:  # a section without interfaces before it (a flood of sections makes no objects)
            self.section_interfaces.section = self.section_index
            self.section_interfaces.order = layout.order

    def keeps(self, block: _Block) -> bool:
        """Whether a metadata block is kept in ``info`` (it fits the file's budget)."""
        cost = _keep_cost(block.block_type, len(block.data))
        if self.kept_cost + cost <= METADATA_BUDGET:
            self.kept_cost += cost
            return True
        unkept = self.info.unkept_blocks
        unkept[block.block_type] = unkept.get(block.block_type, 0) + 1
        self.heavy_types = _ALWAYS_PARSED  # the budget is spent: later ones are only framed
        return False

    def on_interface(self, block: _Block) -> None:
        """An Interface Description Block (§4.2): the next interface id of this section."""
        _require_body(block, 8)
        body = block.data[8:-4] if len(block.data) <= _INTERNED_SIZE else None
        parsed = self.parsed_interfaces.get(body) if body is not None else None
        if parsed is None:
            parsed = _parse_interface(block.data, 0, len(block.data), block.offset, self.layout)
            if body is not None:
                self._remember_interface(body, parsed)
        self.add_interface(parsed, block.offset)

    def _remember_interface(self, body: bytes, parsed: _KnownInterface) -> None:
        """Identical IDBs (up to ``_INTERNED_SIZE`` bytes) are parsed once a section."""
        if len(body) <= _INTERNED_SIZE - 12 and len(self.parsed_interfaces) < _INTERNED_COUNT:
            self.parsed_interfaces[body] = parsed

    def add_interface(self, known: _KnownInterface, offset: int) -> None:
        """The next interface of this section, within the section's bounds (past them, an
        error and nothing changed). Its ``Interface`` is made on first use (``interface``)."""
        interfaces = self.section_interfaces
        offsets = interfaces.offsets
        index = len(offsets)
        if index >= MAX_INTERFACES:
            raise MalformedSavefileError(
                f"the section has more than {MAX_INTERFACES} Interface Description Blocks "
                "(pcapy's limit)",
                offset=offset,
            )
        option_total = self.interface_option_bytes + len(known[2])
        if option_total > MAX_INTERFACE_OPTION_BYTES:
            raise MalformedSavefileError(
                f"the section's Interface Description Blocks hold more than "
                f"{MAX_INTERFACE_OPTION_BYTES} bytes of options (pcapy's limit)",
                offset=offset,
            )
        self.interface_option_bytes = option_total
        interfaces.known.append(known)
        offsets.append(offset)
        self.fast.append(_NOT_MADE)
        if interfaces.kept == index:  # every one before it is kept: this one, if it fits
            kept_cost = self.kept_cost + _KEEP_COST_PER_BLOCK  # its options counted above
            if kept_cost <= METADATA_BUDGET:
                self.kept_cost = kept_cost
                if not index:
                    self.info.interfaces.add_source(interfaces)
                interfaces.kept = index + 1
        max_block = known[0].max_block
        if max_block > self.max_block:  # noqa: PLR1730 - cheaper than a call of max()
            self.max_block = max_block

    def interface(self, index: int) -> Interface:
        """The current section's interface ``index`` (an id it described), made if no one
        asked for it before, with its fast entry."""
        interfaces = self.section_interfaces
        interface = interfaces.interface(index)
        if self.fast[index] is _NOT_MADE:
            kind = interfaces.known[index][0]
            longest = min(interface.snapshot, MAX_BLOCK_SIZE - 36)  # (a block fits the limit)
            fast = (longest, interface, kind.link, kind.clock) if kind.fast else _SLOW_PATH
            self.fast[index] = fast
        return interface

    def clock(self, index: int) -> _Clock:
        """The time-stamp arithmetic of the current section's interface ``index``."""
        return self.section_interfaces.known[index][0].clock

    def interface_for(self, interface_id: int, offset: int) -> int:
        """Check that the section described the interface a block refers to."""
        if interface_id >= len(self.fast):
            raise MalformedSavefileError(
                f"a packet arrived on interface {interface_id}, but there's no Interface "
                "Description Block for that interface",
                offset=offset,
            )
        return interface_id

    def on_enhanced_packet(self, block: _Block) -> Packet:
        """An Enhanced Packet Block (§4.3)."""
        _require_body(block, 20)
        if_id, high, low, caplen, wire_length = self.layout.epb_fixed.unpack_from(block.data, 8)
        return self._packet(block, if_id, (high << 32) | low, caplen, wire_length, 28, None)

    def on_obsolete_packet(self, block: _Block) -> Packet:
        """A Packet Block (obsolete, spec appendix A): like an EPB with a 16-bit interface id."""
        _require_body(block, 20)
        if_id, drops, high, low, caplen, wire_length = self.layout.pb_fixed.unpack_from(
            block.data, 8
        )
        known_drops = None if drops == 0xFFFF else drops
        return self._packet(block, if_id, (high << 32) | low, caplen, wire_length, 28, known_drops)

    def on_simple_packet(self, block: _Block) -> Packet:
        """A Simple Packet Block (§4.4): interface 0, no time stamp, caplen from the snaplen."""
        _require_body(block, 4)
        wire_length = self.layout.u32.unpack_from(block.data, 8)[0]
        self.interface_for(0, block.offset)
        caplen = min(wire_length, self.interface(0).snapshot)
        # libpcap's time stamp for an SPB is 0 units: the interface's if_tsoffset seconds.
        return self._packet(block, 0, 0, caplen, wire_length, 12, None)

    def _packet(
        self,
        block: _Block,
        if_id: int,
        units: int,
        caplen: int,
        wire_length: int,
        data_start: int,
        drops: Optional[int],
    ) -> Packet:
        """The checks libpcap makes on every packet block (§4.4), then the packet."""
        interface = self.interface(self.interface_for(if_id, block.offset))
        if caplen > interface.snapshot:
            raise MalformedSavefileError(
                f"invalid packet capture length {caplen}, "
                f"bigger than snaplen of {interface.snapshot}",
                offset=block.offset,
            )
        data = block.data
        data_end = data_start + caplen
        if data_end > len(data) - 4:
            _raise_too_short(block)
        options = self._packet_options(block, data_start + ((caplen + 3) & ~3), drops)
        seconds, nanoseconds = self.clock(if_id).convert(units)
        fields = (seconds, nanoseconds, caplen, wire_length, interface, options)
        header = _make_pcapng_header(fields)
        packet_data = data[data_start:data_end]
        if needs_post_processing(interface.dlt, self.swapped):
            header, packet_data = post_process(interface.dlt, self.swapped, header, packet_data)
        return header, packet_data

    def _packet_options(
        self, block: _Block, start: int, drops: Optional[int]
    ) -> Optional[PacketOptions]:
        end = len(block.data) - 4
        if block.block_type == BlockType.SIMPLE_PACKET or (start >= end and drops is None):
            return None
        return PacketOptions.from_block(
            block.data[start:end] if start < end else b"",
            self.layout.order,
            block.offset + start,
            block.block_type,
            drops,
        )

    def on_statistics(self, block: _Block) -> None:
        """An Interface Statistics Block (§4.6): attached to its interface."""
        _require_body(block, 12)
        if_id, high, low = self.layout.isb_fixed.unpack_from(block.data, 8)
        if if_id >= len(self.fast):
            raise MalformedSavefileError(
                f"an Interface Statistics Block refers to interface {if_id}, but there's no "
                "Interface Description Block for that interface",
                offset=block.offset,
            )
        if self.keeps(block):
            _check_options(block, 20, self.layout.order)
            self._append_statistics(block.data, block.offset, if_id, (high << 32) | low)

    def _append_statistics(self, data: bytes, offset: int, if_id: int, units: int) -> None:
        interfaces = self.section_interfaces
        statistics = undecoded(
            InterfaceStatistics, _statistics_fields, data, self.layout.order, if_id, units,
            interfaces.known[if_id][0].clock, self.section_index, offset,
        )
        # (statistics of one interface follow one another: it is made for the first)
        interface = interfaces.made.get(if_id) or self.interface(if_id)
        interface.statistics.append(statistics)
        self.info.statistics.append(statistics)

    def on_name_resolution(self, block: _Block) -> None:
        """A Name Resolution Block (§4.5)."""
        if self.keeps(block):
            _check_options(block, _name_records(block, self.layout, None), self.layout.order)
            self.info.name_resolution.append(undecoded(
                NameResolution, _name_resolution_fields, block.data, self.layout.order,
                self.section_index, block.offset,
            ))

    def on_secrets(self, block: _Block) -> None:
        """A Decryption Secrets Block (§4.7)."""
        _require_body(block, 8)
        size = self.layout.dsb_fixed.unpack_from(block.data, 8)[1]
        options_start = 16 + ((size + 3) & ~3)
        if options_start > len(block.data) - 4:
            _raise_too_short(block)
        if not self.keeps(block):
            return
        _check_options(block, options_start, self.layout.order)
        self.info.secrets.append(undecoded(
            DecryptionSecrets, _secrets_fields, block.data, self.layout.order,
            self.section_index, block.offset,
        ))

    def on_custom(self, block: _Block) -> None:
        """A Custom Block (§4.8): PEN plus data only its vendor can interpret."""
        _require_body(block, 4)
        if self.keeps(block):
            self.info.custom_blocks.append(undecoded(
                CustomBlock, _custom_fields, block.data, self.layout.order, self.section_index,
                block.offset,
            ))


_BLOCK_HANDLERS: dict[int, Callable[[_Reader, _Block], Optional[Packet]]] = {
    BlockType.SECTION_HEADER: _Reader.on_section_header,
    BlockType.INTERFACE_DESCRIPTION: _Reader.on_interface,
    BlockType.PACKET: _Reader.on_obsolete_packet,
    BlockType.SIMPLE_PACKET: _Reader.on_simple_packet,
    BlockType.NAME_RESOLUTION: _Reader.on_name_resolution,
    BlockType.INTERFACE_STATISTICS: _Reader.on_statistics,
    BlockType.ENHANCED_PACKET: _Reader.on_enhanced_packet,
    BlockType.DECRYPTION_SECRETS: _Reader.on_secrets,
    BlockType.CUSTOM: _Reader.on_custom,
    BlockType.CUSTOM_NO_COPY: _Reader.on_custom,
}


def _order_from_magic(magic: bytes) -> Optional[str]:
    """The byte order a Section Header Block's byte-order magic (0x1A2B3C4D) announces, if any."""
    if magic == b"\x4d\x3c\x2b\x1a":
        return "<"
    if magic == b"\x1a\x2b\x3c\x4d":
        return ">"
    return None


def _keep_cost(block_type: int, length: int) -> int:
    """The estimated memory of a kept metadata block's record, decoded."""
    per_byte = 1 if block_type in _KEPT_AS_BYTES else _KEEP_COST_PER_BYTE
    return _KEEP_COST_PER_BLOCK + per_byte * length


def _count(counts: dict[int, int], block_type: int) -> None:
    counts[block_type] = counts.get(block_type, 0) + 1


def _require_body(block: _Block, size: int) -> None:
    if block.body_size < size:
        _raise_too_short(block)


def _raise_too_short(block: _Block) -> None:
    raise MalformedSavefileError(
        f"block of type {block.block_type} in pcapng dump file is too short", offset=block.offset
    )


_IDB = "Interface Description Block"


class _SectionInterfaces:
    """One section's interfaces as read: per interface id what its block says (``known``:
    one object for identical blocks) and its file offset; the ``Interface`` of each is made
    on first use (a packet read from it, a statistics block kept for it, the file info read)
    and kept in ``made``, so that every one of them gets the same object. The first ``kept``
    are in ``PcapngFileInfo.interfaces`` (a prefix: every interface costs the budget the
    same, so once one is not kept no later one is)."""

    __slots__ = ("kept", "known", "made", "offsets", "order", "section")

    def __init__(self, section: int, order: str) -> None:
        self.section = section
        self.order = order
        self.known: list[_KnownInterface] = []
        self.offsets: list[int] = []
        self.made: dict[int, Interface] = {}
        self.kept = 0

    def interface(self, index: int) -> Interface:
        """Interface ``index``, made the first time it is asked for (by whichever thread: the
        first one stored is everyone's)."""
        interface = self.made.get(index)
        if interface is None:
            kind, snaplen, option_bytes = self.known[index]
            interface = self.made.setdefault(index, Interface(
                index, self.section, self.offsets[index], self.order, kind.linktype, kind.dlt,
                snaplen, adjust_snapshot(kind.dlt, snaplen), kind.tsresol, kind.tsoffset,
                option_bytes,
            ))
        return interface


class _InterfaceKind(NamedTuple):
    """What an IDB's link type and time options say in its section's byte order: the same for
    many IDBs, whatever their snapshot lengths (which a flood may make all different)."""

    linktype: int
    dlt: int
    tsresol: int
    tsoffset: int
    clock: _Clock
    max_block: int  # the block size limit once the interface is known
    fast: bool  # whether the record loop reads its packets (else they take the slow path)
    link: int  # link type and byte order (see _pcapng_filters.link_key)


_TIME_OPTIONS = frozenset({InterfaceOption.TSRESOL, InterfaceOption.TSOFFSET})
_TIME_CODES = (int(InterfaceOption.TSRESOL), int(InterfaceOption.TSOFFSET))  # plain ints: fast


# An IDB read: its kind, its snapshot length as stored and its option bytes (one tuple for
# every IDB with the same body).
_KnownInterface = tuple[_InterfaceKind, int, bytes]


def _parse_interface(
    data: bytes, position: int, stop: int, base: int, layout: _Layout
) -> _KnownInterface:
    """Decode the IDB ``data[position:stop]`` (``base``: the file offset of ``data[0]``): its
    fixed part and time options, checked as libpcap checks them; the other options stay bytes
    (``Interface`` decodes them when asked)."""
    found = walk_options(data, position + 16, stop - 4, layout.order, base, _IDB_TYPE,
                         _TIME_OPTIONS)
    time_options = [Option(code, value) for code, value in found]
    return _known_interface(data, position, stop, base, layout, time_options)


def _known_interface(
    data: bytes, position: int, stop: int, base: int, layout: _Layout,
    time_options: Sequence[Option],
) -> _KnownInterface:
    """``_parse_interface`` once the options have passed their checks and ``time_options``
    are found: the time options checked as libpcap checks them, the option bytes copied."""
    linktype, _reserved, snaplen = layout.idb_fixed.unpack_from(data, position + 8)
    if time_options:
        offset, order = base + position, layout.order
        tsresol, tsoffset = _tsresol(time_options, offset), _tsoffset(time_options, order, offset)
        kind = _interface_kind(linktype, tsresol, tsoffset, order)
    else:  # the usual case
        kind = layout.plain_interfaces.get(linktype) or _plain_kind(linktype, layout)
    return kind, snaplen, data[position + 16 : stop - 4]


def _time_options(
    data: bytes, start: int, end: int, unpack: Callable[[bytes, int], tuple[int, ...]]
) -> Optional[Sequence[Option]]:
    """The time options among the IDB options in ``data[start:end]`` (``unpack``: their
    header's) if those are well framed (as ``walk_options`` checks them) and too few to be
    counted; otherwise ``None``, which does not mean broken: ``walk_options`` decides."""
    if end - start > 4 * MAX_OPTIONS:
        return None
    found: Optional[list[Option]] = None
    while start < end:
        if end - start < 4:
            return None
        code, length = unpack(data, start)
        value_start = start + 4
        start = value_start + ((length + 3) & ~3)
        if start > end:
            return None
        if not code:
            return None if length else found or ()
        if code in _TIME_CODES:
            found = found or []
            found.append(Option(code, data[value_start : value_start + length]))
    return found or ()


def _plain_kind(linktype: int, layout: _Layout) -> _InterfaceKind:
    """The kind of an interface of this link type without time options, remembered in the
    byte order's ``plain_interfaces`` (the first 256 link types met)."""
    kind = _interface_kind(linktype, 1_000_000, 0, layout.order)
    if len(layout.plain_interfaces) < 256:
        layout.plain_interfaces[linktype] = kind
    return kind


@functools.lru_cache(maxsize=256)
def _interface_kind(linktype: int, tsresol: int, tsoffset: int, order: str) -> _InterfaceKind:
    """What an interface's link type, time options and byte order make of it. Its packets
    take the record loop's fast path unless the resolution is finer than nanoseconds or they
    need fix-ups."""
    dlt = linktype_to_dlt(linktype)
    clock = _clock(tsresol, tsoffset)
    fast = clock.divisor == 1 and not needs_post_processing(dlt, order != _HOST_ORDER)
    return _InterfaceKind(linktype, dlt, tsresol, tsoffset, clock,
                          max_snaplen_for_dlt(dlt) + _BLOCK_SLACK, fast,
                          link_key(dlt, order != _HOST_ORDER))


def _check_options(block: _Block, start: int, order: str) -> None:
    """Raise what ``split_options`` would raise on the block's options (read later)."""
    if start < len(block.data) - 4:
        walk_options(block.data, start, len(block.data) - 4, order, block.offset,
                     block.block_type, _NO_CODES)


_NO_CODES: frozenset[int] = frozenset()


def _section_fields(data: bytes, order: str, index: int, offset: int) -> dict[str, object]:
    """A Section's fields, from its block's bytes (checked when read)."""
    _magic, major, minor, section_length = _LAYOUTS[order].shb_fixed.unpack_from(data, 8)
    if len(data) <= 28:  # no options
        return {"index": index, "offset": offset, "byte_order": order, "version_major": major,
                "version_minor": minor, "section_length": section_length, **_NO_SECTION_OPTIONS}
    options = checked_options(data, 24, len(data) - 4, order)
    reader = OptionReader(options, order)
    return {
        "index": index, "offset": offset, "byte_order": order, "version_major": major,
        "version_minor": minor, "section_length": section_length,
        "hardware": reader.text(SectionOption.HARDWARE), "os": reader.text(SectionOption.OS),
        "userappl": reader.text(SectionOption.USERAPPL), "comments": reader.comments(),
        "custom_options": reader.custom(), "options": options,
    }


_NO_SECTION_OPTIONS: dict[str, object] = {
    "hardware": None, "os": None, "userappl": None, "comments": (), "custom_options": (),
    "options": (),
}


def _single(options: Sequence[Option], code: int, name: str, size: int, offset: int) -> bytes:
    """The value of an option that must appear at most once with an exact length (libpcap)."""
    values = [value for option_code, value in options if option_code == code]
    if len(values) > 1:
        raise MalformedSavefileError(f"{_IDB} has more than one {name} option", offset=offset)
    if values and len(values[0]) != size:
        raise MalformedSavefileError(
            f"{_IDB} has {name} option with length {len(values[0])} != {size}", offset=offset
        )
    return values[0] if values else b""


def _tsresol(options: Sequence[Option], offset: int) -> int:
    """Units per second from if_tsresol: 10**v, or 2**(v & 0x7F) when the MSB is set."""
    value = _single(options, InterfaceOption.TSRESOL, "if_tsresol", 1, offset)
    if not value:
        return 1_000_000
    exponent = value[0] & 0x7F
    if value[0] & 0x80:
        if exponent > 63:  # libpcap's limit: the units must fit 64 bits
            raise MalformedSavefileError(
                f"{_IDB} if_tsresol option resolution 2^-{exponent} is too high", offset=offset
            )
        return 1 << exponent
    if value[0] > 19:
        raise MalformedSavefileError(
            f"{_IDB} if_tsresol option resolution 10^-{value[0]} is too high", offset=offset
        )
    return int(10 ** value[0])


def _tsoffset(options: Sequence[Option], order: str, offset: int) -> int:
    """if_tsoffset: signed seconds added to every time stamp of the interface (§4.2)."""
    value = _single(options, InterfaceOption.TSOFFSET, "if_tsoffset", 8, offset)
    return int(struct.unpack(order + "q", value)[0]) if value else 0


_COUNTERS = {
    "ifrecv": StatisticsOption.IFRECV,
    "ifdrop": StatisticsOption.IFDROP,
    "filteraccept": StatisticsOption.FILTERACCEPT,
    "osdrop": StatisticsOption.OSDROP,
    "usrdeliv": StatisticsOption.USRDELIV,
}


def _statistics_fields(
    data: bytes, order: str, if_id: int, units: int, clock: _Clock, section: int, offset: int
) -> dict[str, object]:
    """An InterfaceStatistics' fields, from its block's bytes (checked when read), in one pass
    over its options: each field is the first option of its code with the right length."""
    fields: dict[str, object] = {
        "interface_id": if_id, "section": section, "offset": offset,
        "timestamp": clock.convert(units), **_NO_STATISTICS_OPTIONS,
    }
    if len(data) <= 24:  # no options: every optional field has its default
        return fields
    options = checked_options(data, 20, len(data) - 4, order)
    layout = _LAYOUTS[order]
    comments = []
    for code, value in options:
        name = _STATISTICS_FIELDS.get(code)
        if name is None:
            if code == CommonOption.COMMENT:
                comments.append(decode_text(value))
        elif fields[name] is None and len(value) == 8:
            if code <= StatisticsOption.ENDTIME:
                high, low = layout.two_u32.unpack(value)
                fields[name] = clock.convert((high << 32) | low)
            else:
                fields[name] = layout.u64.unpack(value)[0]
    fields.update(comments=tuple(comments), custom_options=custom_options(options, layout.u32),
                  options=options)
    return fields


_STATISTICS_FIELDS: dict[int, str] = {
    StatisticsOption.STARTTIME: "starttime", StatisticsOption.ENDTIME: "endtime",
    **{code: name for name, code in _COUNTERS.items()},
}
_NO_STATISTICS_OPTIONS: dict[str, object] = {
    **dict.fromkeys(_STATISTICS_FIELDS.values()), "comments": (), "custom_options": (),
    "options": (),
}


def _statistics_time(reader: OptionReader, code: int, clock: _Clock) -> Optional[Timestamp]:
    halves = reader.number(code, "II")
    return None if halves is None else clock.convert((halves[0] << 32) | halves[1])


_ADDRESS_SIZES = {
    NameRecordType.IPV4: 4,
    NameRecordType.IPV6: 16,
    NameRecordType.EUI48: 6,
    NameRecordType.EUI64: 8,
}


def _name_resolution_fields(
    data: bytes, order: str, section: int, offset: int
) -> dict[str, object]:
    """A NameResolution's fields, from its block's bytes (checked when read)."""
    block = _Block(BlockType.NAME_RESOLUTION, data, offset)
    layout = _LAYOUTS[order]
    records: list[NameRecord] = []
    options = checked_options(data, _name_records(block, layout, records), len(data) - 4, order)
    reader = OptionReader(options, order)
    dns_ipv4 = reader.first(NameResolutionOption.DNS_IP4ADDR)
    dns_ipv6 = reader.first(NameResolutionOption.DNS_IP6ADDR)
    return {
        "section": section, "offset": offset, "records": tuple(records),
        "dns_name": reader.text(NameResolutionOption.DNSNAME),
        "dns_ipv4": _address_or_none(NameRecordType.IPV4, dns_ipv4),
        "dns_ipv6": _address_or_none(NameRecordType.IPV6, dns_ipv6),
        "comments": reader.comments(), "custom_options": reader.custom(), "options": options,
    }


def _name_records(block: _Block, layout: _Layout, records: Optional[list[NameRecord]]) -> int:
    """Walk the records up to nrb_record_end (decoded into ``records`` if given); return
    where the options start.

    Unknown record types are skipped (spec §4.5); a record too short for its address is
    skipped too. A record running past the block is an error. A block that ends without
    nrb_record_end ends the records there.
    """
    data = block.data
    end = len(data) - 4
    position = 8
    unpack = layout.record_head.unpack_from
    while position < end:
        if end - position < 4:
            _raise_too_short(block)
        record_type, length = unpack(data, position)
        value_start = position + 4
        position = value_start + ((length + 3) & ~3)
        if position > end:
            _raise_too_short(block)
        if record_type == NameRecordType.END:
            break
        if records is not None:
            record = _name_record(record_type, data[value_start : value_start + length])
            if record is not None:
                records.append(record)
    return position


def _name_record(record_type: int, value: bytes) -> Optional[NameRecord]:
    size = _ADDRESS_SIZES.get(record_type)  # type: ignore[call-overload]
    if size is None or len(value) <= size:
        return None
    names = tuple(decode_text(name) for name in value[size:].split(b"\0") if name)
    return NameRecord(record_type, format_address(record_type, value[:size]), names)


def _secrets_fields(data: bytes, order: str, section: int, offset: int) -> dict[str, object]:
    """A DecryptionSecrets' fields, from its block's bytes (checked when read)."""
    secrets_type, size = _LAYOUTS[order].dsb_fixed.unpack_from(data, 8)
    options = checked_options(data, 16 + ((size + 3) & ~3), len(data) - 4, order)
    reader = OptionReader(options, order)
    return {
        "section": section, "offset": offset, "secrets_type": secrets_type,
        "data": data[16 : 16 + size], "comments": reader.comments(),
        "custom_options": reader.custom(), "options": options,
    }


def _custom_fields(data: bytes, order: str, section: int, offset: int) -> dict[str, object]:
    """A CustomBlock's fields, from its block's bytes (checked when read)."""
    block_type, _length, pen = _LAYOUTS[order].block_head_and_u32.unpack_from(data)
    return {"section": section, "offset": offset, "block_type": block_type, "pen": pen,
            "data": data[12:-4]}


def _address_or_none(record_type: int, value: Optional[bytes]) -> Optional[str]:
    if value is None or len(value) != _ADDRESS_SIZES[record_type]:  # type: ignore[index]
        return None
    return format_address(record_type, value)
