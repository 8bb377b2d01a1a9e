"""The pcapng record loop's fast path agrees with the careful one, in every way of reading.

The engine reads a run of Enhanced Packet Blocks lying in one read chunk with a generated loop
(``_pcapng._record_loop``): yielding for ``next()`` and iteration, calling the callback itself
for ``loop()`` and ``dispatch()``, with a filter inlined or called. Every other block, and every
block of a stream trickling in a byte at a time, goes through ``_Reader.next_slow``. These tests
build files with the spec's layouts (helpers share no code with pcapy), read them every way, and
compare with the one-byte trickle (the careful path only) and with exact rational arithmetic.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Callable, Optional

import pytest

import pcapy
from helpers import Trickle, pcapng_block, pcapng_option, read_all
from pcapy._codegen import Line
from pcapy._pkthdr import PcapngPkthdr
from pcapy._savefile import _pcapng, open_savefile

Packet = tuple[Any, bytes]


# -- blocks, after the spec ------------------------------------------------------------------
block, option = pcapng_block, pcapng_option


def shb(order: str = "<") -> bytes:
    return block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def idb(
    linktype: int = 1,
    snaplen: int = 0,
    order: str = "<",
    tsresol: Optional[int] = None,
    tsoffset: int = 0,
) -> bytes:
    options = b""
    if tsresol is not None:
        options += option(9, bytes([tsresol]), order)
    if tsoffset:
        options += option(14, struct.pack(order + "q", tsoffset), order)
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + options, order)


def epb(
    data: bytes,
    units: int = 0,
    if_id: int = 0,
    order: str = "<",
    options: bytes = b"",
    wire: Optional[int] = None,
) -> bytes:
    fixed = struct.pack(
        order + "IIIII",
        if_id,
        units >> 32,
        units & 0xFFFFFFFF,
        len(data),
        len(data) if wire is None else wire,
    )
    return block(6, fixed + data + bytes(-len(data) % 4) + options, order)


def spb(data: bytes, order: str = "<") -> bytes:
    return block(3, struct.pack(order + "I", len(data)) + data, order)


def comment(text: str, order: str = "<") -> bytes:
    return option(1, text.encode(), order) + option(0, b"", order)


def expected_time(units: int, resolution: int, offset: int) -> tuple[int, int]:
    """Exact (seconds, nanoseconds) by rational arithmetic, truncated to nanoseconds."""
    seconds = Fraction(units, resolution)
    whole = seconds.numerator // seconds.denominator
    return whole + offset, int((seconds - whole) * 10**9)


def stamps(resolution: int, rng: random.Random, count: int) -> list[int]:
    """Time stamps that move on by less than a second, by more, and back; and cross the
    low word's wrap (the same low word under another high word, too)."""
    units = [1_700_000_000 * resolution % 2**64]
    wrap = (units[0] >> 32 << 32) + 2**32
    units += [wrap - 2, wrap - 1, wrap, wrap + 1, wrap - 1, wrap + 2**32 - 1, wrap - 1]
    while len(units) < count:
        step = rng.choice([1, resolution // 3 + 1, resolution - 1, resolution, 5 * resolution + 7])
        units.append(max(0, min(2**64 - 1, units[-1] + rng.choice([1, 1, 1, -1]) * step)))
    return units


# -- files -----------------------------------------------------------------------------------
# (linktype, snaplen, tsresol option, resolution, tsoffset): the first three take the fast path;
# binary and sub-nanosecond resolutions do not.
INTERFACES = [
    (1, 0, None, 10**6, 0),
    (1, 300, 9, 10**9, -5),
    (0, 0, 3, 10**3, 1000),
    (1, 0, 0, 1, 7),
    (1, 0, 0x8A, 2**10, 0),
    (1, 0, 12, 10**12, 0),
]


class Expected:
    """A file being built, with the (seconds, nanoseconds, caplen, len, data) it must give."""

    def __init__(self) -> None:
        self.data = b""
        self.packets: list[tuple[int, int, int, int, bytes]] = []


def mixed_file(order_of_sections: str = "<><", per_interface: int = 25, seed: int = 1) -> Expected:
    """Sections in the given byte orders, each with every interface of INTERFACES, their packets
    interleaved (runs on one interface, then switches), with options on some, and other blocks
    (a Simple Packet Block, an Interface Statistics Block, an unknown block) in between."""
    rng = random.Random(seed)
    out = Expected()
    for order in order_of_sections:
        out.data += shb(order)
        for linktype, snaplen, tsresol, _, offset in INTERFACES:
            out.data += idb(linktype, snaplen, order, tsresol, offset)
        queues = [
            list(stamps(resolution, rng, per_interface)) for _, _, _, resolution, _ in INTERFACES
        ]
        while any(queues):
            if_id = rng.choice([i for i, queue in enumerate(queues) if queue])
            for _ in range(rng.choice([1, 1, 2, 5])):
                if not queues[if_id]:
                    break
                units = queues[if_id].pop(0)
                size = rng.choice([0, 1, 2, 3, 4, 14, 60, 61, 299, 300])
                payload = bytes(rng.randrange(256) for _ in range(size))
                wire = size + rng.choice([0, 0, 1, 1000])
                options = comment(f"p{len(out.packets)}", order) if rng.random() < 0.2 else b""
                out.data += epb(payload, units, if_id, order, options, wire)
                _, _, _, resolution, offset = INTERFACES[if_id]
                out.packets.append((*expected_time(units, resolution, offset), size, wire, payload))
            choice = rng.random()
            if choice < 0.05:
                out.data += spb(b"simple", order)
                out.packets.append((*expected_time(0, 10**6, 0), 6, 6, b"simple"))
            elif choice < 0.1:
                out.data += block(5, struct.pack(order + "III", 1, 0, 0), order)  # an ISB
            elif choice < 0.15:
                out.data += block(0x0BAD, b"skip me", order)
    return out




# -- ways of reading -------------------------------------------------------------------------
def by_iteration(reader: pcapy.Reader) -> list[Packet]:
    return list(reader)


by_next = read_all


def by_loop(reader: pcapy.Reader) -> list[Packet]:
    out: list[Packet] = []
    reader.loop(-1, lambda hdr, data: out.append((hdr, data)))
    return out


def by_dispatch(reader: pcapy.Reader) -> list[Packet]:
    out: list[Packet] = []
    while reader.dispatch(3, lambda hdr, data: out.append((hdr, data))):
        pass
    return out


def by_turns(reader: pcapy.Reader) -> list[Packet]:
    """loop, next, dispatch and iteration by turns: each starts where the last one stopped."""
    out: list[Packet] = []

    def keep(hdr: Any, data: bytes) -> None:
        out.append((hdr, data))

    while True:
        before = len(out)
        reader.loop(2, keep)
        hdr, data = reader.next()
        if hdr is not None:
            out.append((hdr, data))
        reader.dispatch(1, keep)
        for packet in reader:
            out.append(packet)
            break
        if len(out) == before:
            return out


WAYS = [by_iteration, by_next, by_loop, by_dispatch, by_turns]


def key(packet: Packet) -> tuple[Any, ...]:
    hdr, data = packet
    assert type(hdr) is PcapngPkthdr
    options = hdr.options
    raw = None if options is None else (options.byte_order, options.raw)
    interface = hdr.interface
    return (tuple(hdr[:4]), (interface.section, interface.id), raw, data)


def careful(data: bytes) -> list[Packet]:
    """The packets as the careful path alone reads them (one-byte chunks)."""
    return list(open_savefile(Trickle(data, 1)).packets)


def reader_for(data: bytes, step: Optional[int] = None) -> pcapy.Reader:
    return pcapy.open_offline(io.BytesIO(data) if step is None else Trickle(data, step))


# -- the tests -------------------------------------------------------------------------------
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("step", [None, 97, 1000])
@pytest.mark.parametrize("sections", ["<", ">", "<><"])
def test_every_way_of_reading_gives_the_careful_path_s_packets(way, step, sections):
    built = mixed_file(sections)
    reference = careful(built.data)
    assert [(*hdr.getts_ns(), hdr[2], hdr[3], d) for hdr, d in reference] == built.packets
    got = way(reader_for(built.data, step))
    assert [key(p) for p in got] == [key(p) for p in reference]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("tsresol", "resolution"), [(0, 1), (3, 10**3), (6, 10**6), (9, 10**9)])
@pytest.mark.parametrize("offset", [0, 3600, -1_000])
@pytest.mark.parametrize("order", "<>")
def test_time_stamps_on_the_fast_path_are_exact(way, tsresol, resolution, offset, order):
    units = stamps(resolution, random.Random(tsresol), 300) + [0, 2**64 - 1, 2**32, 2**32 - 1]
    data = (
        shb(order)
        + idb(order=order, tsresol=tsresol, tsoffset=offset)
        + b"".join(epb(b"", t, order=order) for t in units)
    )
    got = way(reader_for(data))
    assert [hdr.getts_ns() for hdr, _ in got] == [
        expected_time(t, resolution, offset) for t in units
    ]


def count_careful_packets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    original = _pcapng._Reader.next_slow

    def counted(self: Any) -> Any:
        packet = original(self)
        calls[0] += packet is not None
        return packet

    monkeypatch.setattr(_pcapng._Reader, "next_slow", counted)
    return calls


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("order", "<>")
def test_runs_of_enhanced_packet_blocks_take_the_fast_path(monkeypatch, way, order):
    # Interfaces alternating, nanosecond and microsecond, an if_tsoffset, some options.
    data = shb(order) + idb(order=order) + idb(order=order, tsresol=9, tsoffset=-3)
    data += b"".join(
        epb(bytes(n % 50), 10**15 + n * 999_999, n % 2, order, comment("c", order) * (n % 7 == 0))
        for n in range(200)
    )
    calls = count_careful_packets(monkeypatch)
    assert len(way(reader_for(data))) == 200
    # Only the block across the end of the first bytes read (which sniffed the format), the
    # last block (its trailer ends the data) and the first packet on interface 1 (its Interface
    # is made then, on first use; open() made interface 0's) go the careful way.
    assert calls[0] <= 3


class NotInlined(pcapy.BPFProgram):
    """A program the record loop must call rather than inline."""

    __slots__ = ()

    def inline_statements(self, deliver: Sequence[Line]) -> Optional[list[Line]]:
        return None


def longer_than(size: int, linktype: int = 1, inline: bool = True) -> pcapy.BPFProgram:
    """A filter built without libpcap: accept packets whose wire length exceeds ``size``."""
    program = [(0x80, 0, 0, 0), (0x25, 0, 1, size), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
    cls = pcapy.BPFProgram if inline else NotInlined
    return cls.from_instructions(program, linktype)


def first_byte_below(value: int, linktype: int = 1, inline: bool = True) -> pcapy.BPFProgram:
    """Accept packets whose first byte is below ``value`` (reads the packet where it lies)."""
    program = [(0x30, 0, 0, 0), (0x35, 1, 0, value), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
    cls = pcapy.BPFProgram if inline else NotInlined
    return cls.from_instructions(program, linktype)


def test_the_filter_stand_ins_are_what_they_claim():
    assert longer_than(1).inline_statements([(0, "yield")]) is not None
    assert longer_than(1, inline=False).inline_statements([(0, "yield")]) is None


@pytest.mark.parametrize("inline", [True, False])
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("step", [None, 97])
def test_filters_inlined_or_called_agree_with_the_careful_path(inline, way, step):
    built = mixed_file("<><", seed=2)
    for program in (longer_than(100, 1, inline), first_byte_below(128, 0, inline)):
        reference = [
            p
            for p in careful(built.data)
            if p[0].interface.dlt == program.linktype and program.function(p[1], p[0][3])
        ]
        assert reference  # the filter has something to find
        reader = reader_for(built.data, step)
        reader.setfilter(program)
        assert [key(p) for p in way(reader)] == [key(p) for p in reference]


@pytest.mark.parametrize("inline", [True, False])
@pytest.mark.parametrize("way", WAYS)
def test_a_filter_set_between_packets_starts_after_the_last_one_delivered(inline, way):
    built = mixed_file("<>", per_interface=8, seed=3)
    everything = careful(built.data)
    program = longer_than(60, 1, inline)
    for before in (0, 1, 5, 17, len(everything) - 1, len(everything)):
        reader = reader_for(built.data)
        taken = [reader.next() for _ in range(before)]
        reader.setfilter(program)
        rest = [
            p
            for p in everything[before:]
            if p[0].interface.dlt == 1 and program.function(p[1], p[0][3])
        ]
        assert [key(p) for p in taken + way(reader)] == [key(p) for p in everything[:before] + rest]


@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.parametrize("step", [None, 97])
def test_a_callback_exception_leaves_the_reader_after_the_packet_it_was_given(filtered, step):
    built = mixed_file("<>", per_interface=6, seed=4)
    reader = reader_for(built.data, step)
    expected = careful(built.data)
    if filtered:
        program = longer_than(3)
        reader.setfilter(program)
        expected = [
            p for p in expected if p[0].interface.dlt == 1 and program.function(p[1], p[0][3])
        ]
    seen: list[Packet] = []

    def fail_on_every_fifth(hdr: Any, data: bytes) -> None:
        seen.append((hdr, data))
        if len(seen) % 5 == 0:
            raise KeyError(len(seen))

    while True:
        try:
            reader.loop(-1, fail_on_every_fifth)
            break
        except KeyError:
            hdr, data = reader.next()  # the packet after the one that failed
            if hdr is None:
                break
            seen.append((hdr, data))
    assert [key(p) for p in seen] == [key(p) for p in expected]


@pytest.mark.parametrize("step", [None, 97])
def test_breakloop_stops_after_the_current_packet_and_dispatch_counts(step):
    built = mixed_file("<", per_interface=6, seed=5)
    expected = careful(built.data)
    reader = reader_for(built.data, step)
    seen: list[Packet] = []

    def stop_at_every_seventh(hdr: Any, data: bytes) -> None:
        seen.append((hdr, data))
        if len(seen) % 7 == 0:
            reader.breakloop()

    rounds = 0
    while len(seen) < len(expected):
        before = len(seen)
        reader.loop(-1, stop_at_every_seventh)
        assert len(seen) - before == min(7, len(expected) - before)
        rounds += 1
    assert rounds == (len(expected) + 6) // 7
    assert [key(p) for p in seen] == [key(p) for p in expected]
    assert reader.dispatch(5, stop_at_every_seventh) == 0


def damaged(data: bytes, at: int, change: Callable[[bytearray], None]) -> bytes:
    """The file with the ``at``-th Enhanced Packet Block changed in place."""
    blocks = []
    position = 0
    while position < len(data):
        length = struct.unpack_from("<I", data, position + 4)[0]
        blocks.append(data[position : position + length])
        position += length
    epbs = [i for i, b in enumerate(blocks) if b[:4] == b"\x06\0\0\0"]
    changed = bytearray(blocks[epbs[at]])
    change(changed)
    blocks[epbs[at]] = bytes(changed)
    return b"".join(blocks)


def set_u32(offset: int, value: int) -> Callable[[bytearray], None]:
    def change(b: bytearray) -> None:
        struct.pack_into("<I", b, offset if offset >= 0 else len(b) + offset, value)

    return change


def both_lengths(b: bytearray) -> None:
    # A block length that is not a multiple of 4, in header and trailer alike.
    struct.pack_into("<I", b, 4, len(b) - 1)
    struct.pack_into("<I", b, len(b) - 5, len(b) - 1)


def short_block(b: bytearray) -> None:
    # caplen reaching past the block, which is otherwise well framed.
    struct.pack_into("<I", b, 20, len(b) - 31)


DAMAGES = {
    "trailer": set_u32(-4, 0),
    "unknown interface": set_u32(8, 9),
    "caplen 301": set_u32(20, 301),  # past the block, or over the snaplen of interface 1
    "caplen past the block": short_block,
    "length not a multiple of 4": both_lengths,
    "block type": set_u32(0, 0x0BAD),  # not damage: an unknown block, skipped
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("way", [by_iteration, by_loop, by_turns])
@pytest.mark.parametrize("at", [0, 1, 40])
def test_a_damaged_block_stops_every_way_where_the_careful_path_stops(damage, way, at):
    data = damaged(mixed_file("<", per_interface=10, seed=6).data, at, DAMAGES[damage])
    reference: list[Packet] = []
    expected_error: Optional[str] = None
    try:
        for packet in open_savefile(Trickle(data, 1)).packets:
            reference.append(packet)
    except pcapy.SavefileError as error:
        expected_error = str(error)
    got: list[Packet] = []
    reader = reader_for(data)
    error_message = None
    try:
        if way is by_iteration:
            for packet in reader:
                got.append(packet)
        elif way is by_loop:
            reader.loop(-1, lambda hdr, d: got.append((hdr, d)))
        else:
            while True:
                before = len(got)
                reader.loop(2, lambda hdr, d: got.append((hdr, d)))
                got += [p for p in [reader.next()] if p[0] is not None]
                if len(got) == before:
                    break
    except pcapy.SavefileError as error:
        error_message = str(error)
    assert (damage == "block type") == (expected_error is None)
    assert error_message == expected_error
    assert [key(p) for p in got] == [key(p) for p in reference]


def read_every_way(
    data: bytes, way: Callable[[pcapy.Reader], list[Packet]], step: Optional[int]
) -> tuple[list[Packet], Optional[str]]:
    """What ``way`` reads before an error, and the error's message (``None`` for none)."""
    reader = reader_for(data, step)
    got: list[Packet] = []
    try:
        if way is by_loop:
            reader.loop(-1, lambda hdr, d: got.append((hdr, d)))
        else:
            for packet in reader:
                got.append(packet)
    except pcapy.SavefileError as error:
        return got, str(error)
    return got, None


@pytest.mark.parametrize("way", [by_iteration, by_loop])
@pytest.mark.parametrize("step", [None, 1, 1000])
def test_a_packet_longer_than_its_interface_snaplen_is_an_error_on_the_fast_path(way, step):
    data = (
        shb()
        + idb(snaplen=300)
        + b"".join(epb(bytes([n]) * 300, n) for n in range(5))
        + epb(b"\xff" * 301, 5)
        + epb(b"after", 6)
    )
    got, error = read_every_way(data, way, step)
    assert [d[0] for _, d in got] == [0, 1, 2, 3, 4]
    assert error is not None
    assert "invalid packet capture length 301, bigger than snaplen of 300" in error


def test_broken_options_on_the_fast_path_fail_as_on_the_careful_path():
    # An option whose length runs past the block: the packet is read, its options fail when
    # decoded, with the same message and file offset either way (it lies in a later chunk).
    bad = struct.pack("<HH", 1, 200) + b"abcd"
    data = shb() + idb()
    data += b"".join(epb(b"x" * 40, n, options=bad if n == 30 else b"") for n in range(40))
    messages = []
    for packets in (careful(data), list(reader_for(data, 1000)), list(reader_for(data))):
        with pytest.raises(pcapy.MalformedSavefileError) as caught:
            packets[30][0].options.raw  # noqa: B018 - decoding is the point
        messages.append((str(caught.value), caught.value.offset))
    assert messages[0] == messages[1] == messages[2]
    assert messages[0][1] > 1000
