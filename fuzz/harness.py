"""Fuzz targets: one function per target, each taking the fuzzer's ``bytes``.

Every target reads the input as a capture file through pcapy's public API and checks what any
input, however hostile, must give:

- only ``pcapy.PcapError`` escapes, and for bad data it is a ``SavefileError`` (the builtins
  ``ValueError``/``TypeError`` only where the API documents them for misuse, e.g. dumping a link
  type that has no LINKTYPE_ value);
- every packet has ``len(data) == hdr.getcaplen()``, a caplen within the snapshot length (the
  interface's, for pcapng) and the link type's maximum, integer lengths, and for pcapng a
  nanosecond fraction below 10**9;
- the same file read through ``next()``, ``loop()``, ``dispatch()``, iteration, a callback that
  raises or breaks, gzip compression, or written back with ``Dumper`` and read again gives the
  same packets and the same error;
- a filter keeps exactly the packets its Python function accepts (so the inlined, in-place and
  plain translations of a program agree), and libpcap's ``pcap_offline_filter`` gives the same
  verdict as pcapy's BPF translation.

Targets: ``read`` (a), ``api`` (b), ``gzip`` (c), ``roundtrip`` (d), ``bpf`` (e) and
``offload`` (the filter handed to libpcap for a classic pcap file on disk, compared with the
pure-Python filter). A broken invariant raises ``FuzzFailure``; anything else that escapes a
target (``IndexError``, ``struct.error``, ``MemoryError``, ``RecursionError``, ...) is a bug as
well. ``run_one`` adds the per-input time bound; ``limit_memory`` the address-space bound.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import random
import re
import resource
import signal
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from itertools import islice
from typing import Any, Callable, NamedTuple, Optional

from gzip_size import decompressed_size

import pcapy
from pcapy import BPFError, BPFProgram, PcapError, SavefileError, _offload
from pcapy._bpf import compile_for, savefile_swapped
from pcapy._bpf_vm import _OPCODE_NAMES
from pcapy._offload import ENV_PURE
from pcapy._pkthdr import NanoPkthdr, PcapngPkthdr, Pkthdr
from pcapy._savefile._linktype import dlt_to_linktype, max_snaplen_for_dlt
from pcapy._savefile._pcap import MAGICS
from pcapy._savefile._pcapng_types import Interface
from pcapy._savefile._pseudo import needs_post_processing, post_process

_MAX_U32 = 0xFFFFFFFF
_MAX_U64 = (1 << 64) - 1
_NS = 1_000_000_000
_FILTER_EXPRESSION = "tcp or udp"
_HOST_ORDER = "<" if sys.byteorder == "little" else ">"


class FuzzFailure(AssertionError):
    """An invariant that the input broke."""


class InputTimeout(BaseException):  # a BaseException: no `except Exception` eats it
    """The per-input time bound passed (a hang)."""


def _fail(message: str) -> None:
    raise FuzzFailure(message)


# -- what a read gives ---------------------------------------------------------------------

# A packet reduced to what two reads of the same file must agree on.
PacketKey = tuple[Any, ...]
ErrorKey = Optional[tuple[str, str]]
Outcome = tuple[list[PacketKey], ErrorKey]


def _key(hdr: Pkthdr, data: bytes) -> PacketKey:
    interface = hdr.interface
    where = None if interface is None else (interface.section, interface.id)
    return (type(hdr).__name__, hdr[0], hdr[1], hdr[2], hdr[3], where, data)


def _error_key(err: PcapError) -> tuple[str, str]:
    """A reading error as compared between reads; it must be a SavefileError."""
    if not isinstance(err, SavefileError):
        _fail(f"corrupt data raised {type(err).__name__}, not a SavefileError: {err}")
    return (type(err).__name__, str(err))


class _Facts:
    """What a reader says about its file, against which every packet is checked."""

    __slots__ = ("dlt", "pcapng", "snapshot", "swapped")

    def __init__(self, reader: pcapy.Reader) -> None:
        self.dlt = reader.datalink()
        self.snapshot = reader.snapshot()
        self.pcapng = reader.file_format == "pcapng"
        self.swapped = savefile_swapped(reader.file_header)
        for name, value in (("datalink", self.dlt), ("snapshot", self.snapshot)):
            if type(value) is not int:
                _fail(f"{name}() returned {type(value).__name__}")
        if self.snapshot <= 0:
            _fail(f"snapshot() is {self.snapshot}")


def check_packet(facts: _Facts, hdr: object, data: object) -> None:
    """The invariants every packet a reader returns must satisfy."""
    if not isinstance(hdr, Pkthdr):
        _fail(f"header is {type(hdr).__name__}, not a Pkthdr")
    if type(data) is not bytes:
        _fail(f"packet data is {type(data).__name__}, not bytes")
    assert isinstance(hdr, Pkthdr)
    assert isinstance(data, bytes)
    caplen, length = hdr.getcaplen(), hdr.getlen()
    sec, frac = hdr.getts()
    for name, value in (("caplen", caplen), ("len", length), ("sec", sec), ("frac", frac)):
        if type(value) is not int:
            _fail(f"header {name} is {type(value).__name__}, not int")
    if len(data) != caplen:
        _fail(f"packet of {len(data)} bytes has caplen {caplen}")
    if not 0 <= length <= _MAX_U32:
        _fail(f"len {length} out of range")
    if facts.pcapng:
        _check_pcapng_header(hdr, caplen)
    else:
        if type(hdr) not in (Pkthdr, NanoPkthdr):
            _fail(f"classic pcap gave a {type(hdr).__name__}")
        limit = min(facts.snapshot, max_snaplen_for_dlt(facts.dlt))
        if caplen > limit:
            _fail(f"caplen {caplen} > snapshot/link maximum {limit}")
        if not (0 <= sec <= _MAX_U32 and 0 <= hdr[1] <= _MAX_U32):
            _fail(f"classic pcap time stamp {hdr[0]}.{hdr[1]} is not two 32-bit fields")


def _check_pcapng_header(hdr: Pkthdr, caplen: int) -> None:
    if type(hdr) is not PcapngPkthdr:
        _fail(f"pcapng gave a {type(hdr).__name__}")
    interface = hdr.interface
    if not isinstance(interface, Interface):
        _fail(f"pcapng header without an interface: {interface!r}")
    assert interface is not None
    if caplen > interface.snapshot:
        _fail(f"caplen {caplen} > interface snapshot {interface.snapshot}")
    nsec = hdr.getts_ns()[1]
    if not 0 <= nsec < _NS:
        _fail(f"pcapng nanosecond fraction {nsec} not in [0, 10**9)")
    if hdr.ts_ns != hdr[0] * _NS + nsec:
        _fail("ts_ns disagrees with getts_ns()")
    options = hdr.options
    if options is not None:
        try:  # decoded lazily: a broken option list may only be a SavefileError
            repr(options)
            hash(options)
            _ = hdr.comment
        except SavefileError:
            pass


def _touch_metadata(reader: pcapy.Reader) -> None:
    """What a reader says about its file besides packets: all of it must be readable."""
    header = reader.file_header
    repr(header)
    for interface in reader.interfaces:
        repr(interface)
    repr(reader)
    reader.get_tstamp_precision()


def open_reader(data: bytes) -> pcapy.Reader:
    return pcapy.open_offline(io.BytesIO(data))


class _Trickle(io.RawIOBase):
    """A file object whose reads return at most ``step`` bytes: records and blocks straddle
    the chunks the engines see (a BytesIO hands over the whole input in one)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._position = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        if size < 0:
            size = self._step
        start = self._position
        self._position = min(start + min(size, self._step), len(self._data))
        return bytes(self._data[start : self._position])

    read = read1  # type: ignore[assignment]


def trickling(step: int) -> Callable[[bytes], pcapy.Reader]:
    return lambda data: pcapy.open_offline(_Trickle(data, step))


def read_with_next(reader: pcapy.Reader, facts: _Facts, limit: int = -1) -> Outcome:
    """Packets via ``next()`` until EOF, an error or ``limit`` packets."""
    packets: list[PacketKey] = []
    try:
        while len(packets) != limit:
            hdr, data = reader.next()
            if hdr is None:
                if data != b"":
                    _fail(f"next() at EOF returned data {data!r}")
                return packets, None
            check_packet(facts, hdr, data)
            packets.append(_key(hdr, data))
    except PcapError as err:
        return packets, _error_key(err)
    return packets, None


def _check_stays(reader: pcapy.Reader, outcome: Outcome, how: str) -> None:
    """The end stays the end: after EOF nothing more comes; after an error, loop() raises the
    same error again and nothing after the damage is delivered (next() may report EOF)."""
    error = outcome[1]
    delivered: list[Pkthdr] = []
    try:
        reader.loop(-1, lambda hdr, _data: delivered.append(hdr))
    except PcapError as err:
        if _error_key(err) != error:
            _fail(f"{how}: after {error}, loop() raised {_error_key(err)}")
    else:
        if error is not None:
            _fail(f"{how}: after {error}, loop() returned cleanly")
    if delivered:
        _fail(f"{how}: after the end ({error}), loop() delivered {len(delivered)} packets")
    try:
        hdr, data = reader.next()
    except PcapError as err:
        if _error_key(err) != error:
            _fail(f"{how}: after {error}, next() raised {_error_key(err)}")
        return
    if hdr is not None or data != b"":
        _fail(f"{how}: after the end ({error}), next() returned a packet")


def reference(data: bytes) -> tuple[Optional[_Facts], Outcome]:
    """The input read with next() only: the outcome every other way must reproduce."""
    try:
        reader = open_reader(data)
    except PcapError as err:
        return None, ([], _error_key(err))
    with reader:
        facts = _Facts(reader)
        outcome = read_with_next(reader, facts)
        _check_stays(reader, outcome, "next()")
        _touch_metadata(reader)
    return facts, outcome


# -- (a) read --------------------------------------------------------------------------------


def summary(outcome: Outcome) -> tuple[int, ErrorKey]:
    """What an outcome looks like from afar: a packet-count bucket and the error."""
    return min(len(outcome[0]), 8), outcome[1]


def target_read(data: bytes) -> object:
    """(a) open_offline on the bytes, everything read with next(), every packet checked; then
    with next_batch(), which must give the same packets (or stop at one whose time stamp its
    32-bit layout cannot hold, with a PcapError) and the same error, within issue 12's time
    budget."""
    expected = reference(data)[1]
    started = time.process_time()
    _check_batches(data, expected)
    _check_time_budget(data, time.process_time() - started)
    return summary(expected)


def _check_time_budget(data: bytes, spent: float) -> None:
    """Issue 12's time budget for the read by next_batch() (the pass with the least harness
    work per packet): at most BUDGET_CONSTANT + decompressed size / BUDGET_RATE CPU seconds.
    The size is only measured past the constant, so the check costs nothing otherwise."""
    if spent <= BUDGET_CONSTANT:
        return
    needed = int((spent - BUDGET_CONSTANT) * BUDGET_RATE)  # the size that would allow it
    size = decompressed_size(data, needed + 1)
    if size <= needed:
        _fail(f"next_batch() read {size:,} bytes (decompressed) in {spent:.2f} s of CPU, over "
              f"issue 12's budget of {BUDGET_CONSTANT:.0f} s + {BUDGET_RATE / 1e6:.0f} MB/s")


def _check_batches(data: bytes, expected: Outcome) -> None:
    packets, error = expected
    got: list[bytes] = []
    try:
        reader = open_reader(data)
    except PcapError:
        return
    with reader:
        try:
            while True:
                buffer, meta = reader.next_batch(7)
                if not meta:
                    break
                for _sec, _usec, offset, caplen in struct.iter_unpack("=IIII", meta):
                    got.append(buffer[offset : offset + caplen])
        except PcapError as err:
            if "does not fit next_batch" in str(err):
                return  # a time stamp before 1970 or after 2106: next() gave it
            if _error_key(err) != error:
                _fail(f"next_batch() raised {_error_key(err)}, next() {error}")
    if [key[-1] for key in packets[: len(got)]] != got:
        _fail("next_batch() gave other packet bytes than next()")
    if len(got) != len(packets):
        _fail(f"next_batch() gave {len(got)} packets, next() {len(packets)}")


# -- (b) the Reader API ----------------------------------------------------------------------


class _Stop(Exception):  # a callback's own: it must propagate as itself
    pass


class _Replay(PcapError):
    """Carries an error already reduced to its key through ``_run``."""

    def __init__(self, key: tuple[str, str]) -> None:
        super().__init__(key[1])
        self.key = key


def _same(expected: Outcome, got: Outcome, how: str) -> None:
    if got != expected:
        detail = _first_difference(expected, got)
        _fail(f"{how} disagrees with next(): {detail}")


def _first_difference(expected: Outcome, got: Outcome) -> str:
    (want, want_error), (have, have_error) = expected, got
    for index, (a, b) in enumerate(zip(want, have)):
        if a != b:
            return f"packet {index}: expected {a[:6]}, got {b[:6]}"
    if len(want) != len(have):
        return f"{len(want)} packets expected, got {len(have)}"
    return f"error {want_error} expected, got {have_error}"


def _run(data: bytes, body: Callable[..., None], how: str,
         opener: Callable[[Any], pcapy.Reader] = open_reader) -> Outcome:
    """Open the input and let ``body`` collect packets; the outcome, error included.

    After the body, next() must repeat the outcome's end: (None, b'') or the same error.
    """
    packets: list[PacketKey] = []
    try:
        reader = opener(data)
    except PcapError as err:
        return packets, _error_key(err)
    with reader:
        facts = _Facts(reader)
        try:
            body(reader, facts, packets)
        except _Replay as err:
            outcome: Outcome = (packets, err.key)
        except PcapError as err:
            outcome = (packets, _error_key(err))
        else:
            outcome = (packets, None)
        _check_stays(reader, outcome, how)
    return outcome


def _collector(facts: _Facts, packets: list[PacketKey]) -> Callable[[Pkthdr, bytes], None]:
    def callback(hdr: Pkthdr, data: bytes) -> None:
        check_packet(facts, hdr, data)
        packets.append(_key(hdr, data))

    return callback


def _by_loop(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
    reader.loop(-1, _collector(facts, packets))


def _by_iteration(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
    for hdr, data in reader:
        check_packet(facts, hdr, data)
        packets.append(_key(hdr, data))


def _by_dispatch(counts: tuple[int, ...]) -> Callable[..., None]:
    def body(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
        callback = _collector(facts, packets)
        for step in range(100_000):
            cnt = counts[step % len(counts)]
            before = len(packets)
            done = reader.dispatch(cnt, callback)
            if done != len(packets) - before:
                _fail(f"dispatch({cnt}) returned {done}, delivered {len(packets) - before}")
            if cnt > 0 and done > cnt:
                _fail(f"dispatch({cnt}) delivered {done}")
            if done == 0:
                return

    return body


def _by_mixed(rng: random.Random) -> Callable[..., None]:
    """next(), dispatch(), loop() and iteration in turn, with small counts."""

    def body(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
        callback = _collector(facts, packets)
        idle = 0
        while idle < 3:
            before = len(packets)
            op, cnt = rng.randrange(4), rng.randrange(1, 4)
            if op == 0:
                hdr, data = reader.next()
                if hdr is not None:
                    callback(hdr, data)
            elif op == 1:
                reader.dispatch(cnt, callback)
            elif op == 2:
                reader.loop(cnt, callback)
            else:
                for hdr, data in islice(iter(reader), cnt):
                    callback(hdr, data)
            idle = idle + 1 if len(packets) == before else 0

    return body


def _by_interrupted_callback(at: int, raise_it: bool) -> Callable[..., None]:
    """loop() whose callback raises (or calls breakloop) at packet ``at``; then next()."""

    def body(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
        collect = _collector(facts, packets)

        def callback(hdr: Pkthdr, data: bytes) -> None:
            collect(hdr, data)
            if len(packets) == at + 1:
                if raise_it:
                    raise _Stop
                reader.breakloop()

        with contextlib.suppress(_Stop):
            reader.loop(-1, callback)
        rest = read_with_next(reader, facts)
        packets.extend(rest[0])
        if rest[1] is not None:
            raise _Replay(rest[1])

    return body


def target_api(data: bytes) -> object:
    """(b) loop, dispatch, iteration, mixed calls and filters agree with next()."""
    facts, expected = reference(data)
    rng = random.Random(hashlib.sha1(data).digest())  # noqa: S324 - a seed, not security
    _same(expected, _run(data, _by_loop, "loop(-1)"), "loop(-1)")
    _same(expected, _run(data, _by_iteration, "iteration"), "iteration")
    # at most 65,536 reads a pass: a multi-megabyte input read a byte at a time costs seconds of
    # read calls alone (linear, but past the time bound)
    step = max(rng.choice((1, 2, 3, 5, 8, 13, 31, 64, 100, 4096)), len(data) >> 16)
    how = f"reading {step} bytes at a time"
    _same(expected, _run(data, _by_loop, how, trickling(step)), how)
    _same(expected, _run(data, _by_mixed(rng), how, trickling(step)), how + " (mixed calls)")
    counts = (rng.choice((1, 2, 3, 7)), rng.choice((1, 5, 0, -1)))
    _same(expected, _run(data, _by_dispatch(counts), "dispatch"), f"dispatch{counts}")
    _same(expected, _run(data, _by_mixed(rng), "mixed"), "mixed calls")
    if expected[0]:
        at = rng.randrange(len(expected[0]))
        for raise_it in (True, False):
            how = f"loop() {'raising' if raise_it else 'breaking'} at packet {at}"
            _same(expected, _run(data, _by_interrupted_callback(at, raise_it), how), how)
    if facts is not None:
        _check_filters(data, facts, expected, rng)
    return summary(expected)


# -- filters -----------------------------------------------------------------------------------

_PROGRAMS: dict[int, tuple[BPFProgram, BPFProgram]] = {}
_PROGRAMS_KEPT = 256  # link types whose programs are kept (a long run grew by ~60 B an input)

# Fallback for link types libpcap compiles nothing for: accept packets whose first byte is odd.
_ODD_FIRST_BYTE = [(0x30, 0, 0, 0), (0x45, 0, 1, 1), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
# A second program: accept packets of 100 bytes or more on the wire ("greater 100").
_AT_LEAST_100 = [(0x80, 0, 0, 0), (0x35, 0, 1, 100), (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0)]


def programs_for(dlt: int) -> tuple[BPFProgram, BPFProgram]:
    """'tcp or udp' compiled by libpcap for the link type (cached), and 'greater 100'."""
    cached = _PROGRAMS.get(dlt)
    if cached is None:
        try:
            first = pcapy.compile(dlt, 262144, _FILTER_EXPRESSION, 1, 0)
        except PcapError:  # BPFError, or no libpcap to compile with
            first = BPFProgram.from_instructions(_ODD_FIRST_BYTE, dlt)
        cached = (first, BPFProgram.from_instructions(_AT_LEAST_100, dlt))
        if len(_PROGRAMS) >= _PROGRAMS_KEPT:  # fuzzed headers name any of 2**32 link types
            del _PROGRAMS[next(iter(_PROGRAMS))]
        _PROGRAMS[dlt] = cached
    return cached


class _Interface(NamedTuple):
    dlt: int
    snapshot: int
    swapped: bool


class _CompiledPerLinkType:
    """``setfilter(expression)`` on a pcapng file: the expression compiled again for every other
    link type (and byte order) of its interfaces, as the reader compiles it; a link type it
    cannot be compiled for rejects its packets (docs/api.md, Filtering)."""

    def __init__(self, first: BPFProgram, first_swapped: bool) -> None:
        self.first = first
        self.programs: dict[tuple[int, bool], Optional[BPFProgram]] = {
            (first.linktype, first_swapped): first
        }

    def program_for(self, interface: _Interface) -> Optional[BPFProgram]:
        key = (interface.dlt, interface.swapped)
        if key not in self.programs:
            try:
                self.programs[key] = compile_for(interface.dlt, interface.snapshot,
                                                 _FILTER_EXPRESSION, 1, 0,
                                                 savefile_swapped=interface.swapped)
            except PcapError:
                self.programs[key] = None
        return self.programs[key]


def _accepted(program: BPFProgram | _CompiledPerLinkType, packets: list[PacketKey],
              pcapng: bool, interfaces: dict[tuple[int, int], _Interface]) -> list[PacketKey]:
    """The packets the program's plain Python function accepts (pcapng: a program on packets
    of its link type, an expression on every link type it compiles for)."""
    keep = []
    for packet in packets:
        chosen: Optional[BPFProgram]
        if isinstance(program, _CompiledPerLinkType):
            interface = interfaces.get(packet[5])
            chosen = program.first if interface is None else program.program_for(interface)
        else:
            chosen = program
            interface = interfaces.get(packet[5])
            if pcapng and (interface is None or interface.dlt != program.linktype):
                chosen = None
        if chosen is not None and chosen.function(packet[6], packet[4]):
            keep.append(packet)
    return keep


def _interface_facts(data: bytes) -> dict[tuple[int, int], _Interface]:
    """(section, interface id) -> link type, snapshot, byte order, for a pcapng input."""
    interfaces: dict[tuple[int, int], _Interface] = {}
    try:
        reader = open_reader(data)
    except PcapError:
        return interfaces
    with reader:
        try:
            for _ in reader:
                pass
        except PcapError:
            pass
        for interface in reader.interfaces:
            interfaces[(interface.section, interface.id)] = _Interface(
                interface.dlt, interface.snapshot, interface.byte_order != _HOST_ORDER
            )
    return interfaces


def _expected_filtered(expected: Outcome, first: int,
                       chain: list[BPFProgram | _CompiledPerLinkType], pcapng: bool,
                       dlts: dict[tuple[int, int], _Interface], switch_after: int) -> Outcome:
    """``first`` packets unfiltered, then chain[0] for ``switch_after`` matches, then chain[1]."""
    packets, error = expected
    out = list(packets[:first])
    rest = packets[first:]
    matched = 0
    for index, packet in enumerate(rest):
        program = chain[0] if matched < switch_after or len(chain) == 1 else chain[1]
        if _accepted(program, [packet], pcapng, dlts):
            out.append(packet)
            matched += 1
            if matched == switch_after and len(chain) > 1:
                out += _accepted(chain[1], rest[index + 1 :], pcapng, dlts)
                return out, error
    return out, error


def _by_filter(first: int, chain: list[BPFProgram], switch_after: int, mode: int,
               as_text: bool) -> Callable[..., None]:
    """Read ``first`` packets, install chain[0], after ``switch_after`` matches chain[1]."""

    def body(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
        head = read_with_next(reader, facts, first)
        packets.extend(head[0])
        if head[1] is not None:
            raise _Replay(head[1])
        if as_text:
            reader.setfilter(_FILTER_EXPRESSION)
        else:
            reader.setfilter(chain[0])
        if len(chain) > 1:
            matched = _read_some(reader, facts, packets, switch_after, mode)
            if matched < switch_after:
                return
            reader.setfilter(chain[1])
        _read_some(reader, facts, packets, -1, mode)

    return body


def _read_some(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey], count: int,
               mode: int) -> int:
    """Up to ``count`` packets (all for -1) by next(), loop() or dispatch(); how many."""
    before = len(packets)
    if mode == 0:
        got = read_with_next(reader, facts, count)
        packets.extend(got[0])
        if got[1] is not None:
            raise _Replay(got[1])
    elif mode == 1:
        reader.loop(count, _collector(facts, packets))
    else:
        callback = _collector(facts, packets)
        while count < 0 or len(packets) - before < count:
            want = 1 if count < 0 else count - (len(packets) - before)
            if reader.dispatch(want, callback) == 0:
                break
    return len(packets) - before


def _check_filters(data: bytes, facts: _Facts, expected: Outcome, rng: random.Random) -> None:
    dlts = _interface_facts(data) if facts.pcapng else {}
    tcp_or_udp, at_least_100 = programs_for(facts.dlt)
    total = len(expected[0])
    for mode in range(3):
        first = rng.randrange(total + 1) if total and rng.random() < 0.5 else 0
        chain = [tcp_or_udp] if rng.random() < 0.5 else [tcp_or_udp, at_least_100]
        switch_after = rng.randrange(1, 4)
        as_text = rng.random() < 0.05
        if as_text:  # setfilter(str) compiles with libpcap, for the reader's link type
            try:
                # as setfilter(str) compiles it: for this savefile (libpcap's savefile rules)
                chain[0] = compile_for(facts.dlt, facts.snapshot, _FILTER_EXPRESSION, 1, 0,
                                       savefile_swapped=facts.swapped)
            except PcapError:
                as_text = False
        expected_chain: list[BPFProgram | _CompiledPerLinkType] = list(chain)
        if as_text and facts.pcapng:
            expected_chain[0] = _CompiledPerLinkType(chain[0], facts.swapped)
        want = _expected_filtered(expected, first, expected_chain, facts.pcapng, dlts,
                                  switch_after)
        body = _by_filter(first, chain, switch_after, mode, as_text)
        how = f"filter (first={first}, programs={len(chain)}, switch={switch_after}, mode={mode})"
        _same(want, _run(data, body, how), how)


# -- (c) gzip ----------------------------------------------------------------------------------


def _prefix_of(expected: Outcome, got: Outcome, how: str) -> None:
    """A damaged stream gives a prefix of the packets, then a SavefileError (or all of them)."""
    packets, error = got
    if packets != expected[0][: len(packets)]:
        _fail(f"{how}: packets differ from the plain file's")
    if error is None and got != expected:
        _fail(f"{how}: ended cleanly after {len(packets)} packets; plain file: {expected[1]}")


def target_gzip(data: bytes) -> object:
    """(c) the input gzip-compressed, truncated, followed by garbage, and garbage as gzip."""
    _, expected = reference(data)
    digest = hashlib.sha1(data).digest()  # noqa: S324 - a seed, not security
    compressed = gzip.compress(data, compresslevel=1, mtime=0)
    if data[:2] == b"\x1f\x8b":  # already gzip: only one layer is undone
        expected = _gzip_outcome(compressed)
    _same(expected, _gzip_outcome(compressed), "gzip")
    _same(expected, _gzip_outcome(compressed, trickling(1 + digest[5] % 64)), "gzip, trickled")
    cut = int.from_bytes(digest[:4], "big") % max(len(compressed), 1)
    _prefix_of(expected, _gzip_outcome(compressed[:cut]), f"gzip cut at {cut}")
    _prefix_of(expected, _gzip_outcome(compressed + data[:64]), "gzip + trailing garbage")
    _prefix_of(expected, _gzip_outcome(compressed[:-8] + digest[:8]), "gzip with a bad trailer")
    two = compressed + gzip.compress(data[: len(data) // 2], compresslevel=1, mtime=0)
    _gzip_outcome(two)
    # The input as a deflate stream, and as a gzip member with a bogus header.
    _gzip_outcome(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + data)
    _gzip_outcome(b"\x1f\x8b" + data)
    _gzip_outcome(b"\x1f\x8b\x08" + bytes([digest[4] & 0x1F]) + data)
    raw = zlib.compressobj(1, zlib.DEFLATED, -15)
    deflated = raw.compress(data[::-1]) + raw.flush()
    garbage = _gzip_outcome(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + deflated + digest[:8])
    return summary(expected), garbage[1]


def _gzip_outcome(stream: bytes,
                  opener: Callable[[Any], pcapy.Reader] = open_reader) -> Outcome:
    def body(reader: pcapy.Reader, facts: _Facts, packets: list[PacketKey]) -> None:
        got = read_with_next(reader, facts)
        packets.extend(got[0])
        if got[1] is not None:
            raise _Replay(got[1])
        _touch_metadata(reader)

    return _run(stream, body, "gzip", opener)


# -- (d) write it back -------------------------------------------------------------------------


def _read_headers(data: bytes) -> tuple[Optional[pcapy.Reader], list[tuple[Pkthdr, bytes]]]:
    try:
        reader = open_reader(data)
    except PcapError:
        return None, []
    packets = []
    try:
        for hdr, payload in reader:
            packets.append((hdr, payload))
    except PcapError:
        pass
    return reader, packets


# (fmt, nanosecond)
_OUTPUTS = (("pcap", False), ("pcap", True), ("pcapng", False), ("pcapng", True))


def target_roundtrip(data: bytes) -> None:
    """(d) every packet written with Dumper (pcap usec/nsec, pcapng) and read back the same."""
    reader, packets = _read_headers(data)
    if reader is None:
        return
    with reader:
        dlt, snapshot = reader.datalink(), reader.snapshot()
        for fmt, nano in _OUTPUTS:
            out = io.BytesIO()
            precision = "nano" if nano else "micro"
            try:
                dumper = reader.dump_open(out, precision=precision, format=fmt)
            except ValueError:
                if dlt_to_linktype(dlt) >= 0:
                    raise
                return  # a link type with no LINKTYPE_ value: not writable (as libpcap)
            expected: list[tuple[Any, ...]] = []
            limit_error = False
            with dumper:
                for hdr, payload in packets:
                    want = _expected_copy(hdr, payload, fmt, nano, dlt, snapshot)
                    try:
                        dumper.dump(hdr, payload)
                    except PcapError as err:
                        if not _unwritable_ok(hdr, err, want is None):
                            raise
                        continue
                    if want is None:
                        _fail(f"{fmt} dump of {hdr!r} should have been refused")
                    if want == "too long":
                        limit_error = True
                        break
                    expected.append(want)
            _check_copy(out.getvalue(), expected, limit_error, fmt, nano)


def _unwritable_ok(hdr: Pkthdr, err: PcapError, unfit: bool) -> bool:
    """A refusal is right for a time stamp that does not fit, or broken source options
    (decoded lazily, when the writer copies them)."""
    if isinstance(err, SavefileError):
        options = hdr.options
        try:
            if options is not None:
                options.raw  # noqa: B018 - decoding is the point
        except SavefileError:
            return True
        return False
    return unfit and "does not fit" in str(err)


def _expected_copy(hdr: Pkthdr, data: bytes, fmt: str, nano: bool, dlt: int,
                   snapshot: int) -> Any:
    """What reading back a copy of the packet gives, None if it cannot be written, or
    "too long" where the reader stops with an error (classic pcap past the link maximum)."""
    if fmt == "pcap":
        units = _NS if nano else 1_000_000
        fraction = hdr[1] * units // hdr.units_per_second
        if not (0 <= hdr[0] <= _MAX_U32 and 0 <= fraction <= _MAX_U32):
            return None
        caplen = hdr[2]
        if caplen > max_snaplen_for_dlt(dlt):
            return "too long"
        copy_class: type[Pkthdr] = NanoPkthdr if nano else Pkthdr
        copy: Pkthdr = tuple.__new__(copy_class, (hdr[0], fraction, min(caplen, snapshot), hdr[3]))
        return _fixed_up(dlt, copy, data[:snapshot], exact=True)
    if hdr.interface is None:
        resolution = max(_NS if nano else 1_000_000, hdr.units_per_second)
        units = hdr[0] * resolution + hdr[1] * resolution // hdr.units_per_second
        if not 0 <= units <= _MAX_U64:
            return None
        return _fixed_up(dlt, hdr, data, exact=False)
    interface = hdr.interface
    offset = interface.tsoffset
    units = (hdr[0] - offset) * _NS + hdr[1]
    if not 0 <= units <= _MAX_U64 and _source_units_fit(hdr, interface) is None:
        return None
    return _fixed_up(interface.dlt, hdr, data, exact=True)


def _source_units_fit(hdr: Pkthdr, interface: Interface) -> Optional[int]:
    """The time stamp in the source interface's units, if exact and within 64 bits."""
    resolution = interface.tsresol
    if resolution > _NS:
        return None
    nanoseconds = hdr[1]
    fraction = -((-nanoseconds * resolution) // _NS)
    if fraction >= resolution or fraction * _NS // resolution != nanoseconds:
        return None
    units = (hdr[0] - interface.tsoffset) * resolution + fraction
    return units if 0 <= units <= _MAX_U64 else None


def _fixed_up(dlt: int, hdr: Pkthdr, data: bytes, exact: bool) -> tuple[Any, ...]:
    """The copy as read back: host-order fix-ups (the USB length) apply again."""
    if needs_post_processing(dlt, False):
        hdr, data = post_process(dlt, False, hdr, data)
    if exact:
        return (hdr.units_per_second, hdr[0], hdr[1], hdr[2], hdr[3], data)
    return (hdr.ts_ns, hdr[2], hdr[3], data)


def _check_copy(written: bytes, expected: list[tuple[Any, ...]], limit_error: bool, fmt: str,
                nano: bool) -> None:
    how = f"{fmt} {'nsec' if nano else 'usec'} copy"
    try:
        reader = open_reader(written)
    except PcapError as err:
        _fail(f"{how} does not open: {err}")
    with reader:
        facts = _Facts(reader)
        got, error = [], None
        try:
            for hdr, data in reader:
                check_packet(facts, hdr, data)
                got.append((hdr, data))
        except PcapError as err:
            error = err
    if (error is not None) != limit_error:
        _fail(f"{how}: read back with error {error!r}, expected one: {limit_error}")
    if len(got) != len(expected):
        _fail(f"{how}: {len(expected)} packets written, {len(got)} read back")
    for index, ((hdr, data), want) in enumerate(zip(got, expected)):
        exact = len(want) == 6
        have = _fixed_up_key(hdr, data, exact)
        if have != want:
            _fail(f"{how}: packet {index} read back as {have[:-1]}, written {want[:-1]}")


def _fixed_up_key(hdr: Pkthdr, data: bytes, exact: bool) -> tuple[Any, ...]:
    if exact:
        return (hdr.units_per_second, hdr[0], hdr[1], hdr[2], hdr[3], data)
    return (hdr.ts_ns, hdr[2], hdr[3], data)


# -- (e) BPF programs --------------------------------------------------------------------------

# Every opcode libpcap's interpreter executes (pcapy._bpf_vm's table).
_OPCODES = sorted(_OPCODE_NAMES)
_MAX_INSNS = 512
_RET_CODES = (0x06, 0x16)
_SKF_AD = 0x100000000 - 0x1000


def decode_program(data: bytes) -> tuple[list[tuple[int, int, int, int]], bool, bytes]:
    """Instructions from the input: (program, forward_only, the bytes left for packets).

    Byte 0 sets the mode: mostly "structured" (valid opcodes, forward jumps inside the
    program, small offsets, a final ret), sometimes raw 8-byte struct bpf_insn values.
    """
    if not data:
        return [(0x06, 0, 0, 0)], True, b""
    mode, count = data[0], 1 + (data[1] if len(data) > 1 else 0) % 64
    if mode & 0xC0 == 0xC0:
        count = 1 + int.from_bytes(data[1:3], "little") % _MAX_INSNS
    body = data[2:]
    count = min(count, len(body) // 8)
    insns = []
    for index in range(count):
        chunk = body[index * 8 : index * 8 + 8]
        if len(chunk) < 8:
            break
        code, jt, jf, k = struct.unpack("<HBBI", chunk)
        if mode & 1 == 0:
            code, jt, jf, k = _structured(index, count, code, jt, jf, k)
        insns.append((code, jt, jf, k))
    rest = body[len(insns) * 8 :]
    if mode & 1 == 0 and (not insns or insns[-1][0] & 7 != 6):
        insns.append((_RET_CODES[mode >> 1 & 1], 0, 0, 0x40000))
    forward = all(
        insn[0] != 0x05 or (index + 1 + insn[3]) & _MAX_U32 > index
        for index, insn in enumerate(insns)
    )
    return insns, forward, rest


def _structured(index: int, count: int, code: int, jt: int, jf: int,
                k: int) -> tuple[int, int, int, int]:
    opcode = _OPCODES[code % len(_OPCODES)]
    room = max(count - index - 1, 1)
    cls = opcode & 7
    if cls == 5:  # jumps stay forward and inside the program (the final ret is added after)
        jt, jf = jt % room, jf % room
        if opcode == 0x05:
            k %= room
    elif opcode & 0xE0 == 0x60 or cls in (2, 3):  # scratch memory
        k %= 16
    elif code & 0x8000 == 0:  # most offsets and constants are small; some keep all 32 bits
        k %= 80 if k & 0x80000000 == 0 else (1 << (k & 31))
    elif code & 0x4000:
        k = _SKF_AD + (k & 0xFF)
    return opcode, jt, jf, k


def _packets_for(rest: bytes) -> list[bytes]:
    packets = [b"", bytes(14), b"\xff" * 64, _TCP_FRAME]
    while rest and len(packets) < 8:
        size, rest = rest[0], rest[1:]
        packets.append(rest[:size])
        rest = rest[size:]
    return packets


_TCP_FRAME = bytes.fromhex(
    "00112233445566778899aabb0800"  # Ethernet, IPv4
    "45000028000100004006 0000 0a000001 0a000002"  # IPv4, TCP
    "04d20050 00000000 00000000 50020000 00000000".replace(" ", "")
)


def target_bpf(data: bytes) -> object:
    """(e) programs from the input: only BPFError on construction; the translations agree."""
    insns, forward, rest = decode_program(data)
    try:
        program = BPFProgram.from_instructions(insns, 1)
    except BPFError as err:
        # Refused by the kernel's rules (from_instructions): a program libpcap's own rules
        # accept still gets its executor compared with libpcap's, as a compiled one would.
        program = _as_compiled(insns)
        if program is None:
            return re.sub(r"\d+", "#", str(err))
    inlined = program.inline_statements([(0, "deliver()")])
    if not forward:
        if inlined is not None:
            _fail("a program with a backward jump was inlined")
        return "backward"  # a backward jump may loop forever, as in libpcap
    packets = _packets_for(rest)
    verdicts = []
    oracle = _libpcap_filter(insns)
    for packet in packets:
        wirelen = len(packet) + (packet[0] if packet else 0)
        verdict = program.function(packet, wirelen)
        if type(verdict) is not int or not 0 <= verdict <= _MAX_U32:
            _fail(f"verdict {verdict!r} is not a 32-bit unsigned int")
        if program.function(bytearray(packet), wirelen) != verdict:
            _fail("bytearray verdict differs")
        if program.function(memoryview(packet), wirelen) != verdict:
            _fail("memoryview verdict differs")
        buffer = b"\xa5" * 3 + packet + b"\x5a" * 70
        if program.in_place_function(buffer, 3, len(packet), wirelen) != verdict:
            _fail(f"in-place verdict differs for {packet.hex()}")
        if oracle is not None:
            theirs = oracle(packet, wirelen)
            if theirs != verdict:
                _fail(f"libpcap says {theirs}, pcapy {verdict} for {packet.hex()} len {wirelen}")
        verdicts.append(verdict)
    _check_inlined(program, packets, verdicts)
    return len(insns).bit_length(), inlined is None, tuple(bool(v) for v in verdicts)


def _as_compiled(insns: list[tuple[int, int, int, int]]) -> Optional[BPFProgram]:
    """The program as libpcap's compiler's are taken (userland rules only), if they accept it."""
    from pcapy._bpf_vm import InvalidProgramError, validate  # noqa: PLC0415

    try:
        validate(insns)
    except (InvalidProgramError, ValueError):
        return None
    return BPFProgram._compiled(insns, 1)  # the trusted path, on purpose


def _check_inlined(program: BPFProgram, packets: list[bytes], verdicts: list[int]) -> None:
    """The filter inlined into the classic pcap record loop keeps exactly the accepted ones."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for index, packet in enumerate(packets):
        wirelen = len(packet) + (packet[0] if packet else 0)
        records.append(struct.pack("<IIII", index, 0, len(packet), wirelen) + packet)
    file = b"".join(records)
    want = [p for p, v in zip(packets, verdicts) if v]
    for driver in (False, True):
        reader = open_reader(file)
        reader.setfilter(program)
        got: list[bytes] = []
        if driver:
            reader.loop(-1, lambda _hdr, data, got=got: got.append(data))
        else:
            got = [data for _hdr, data in reader]
        if got != want:
            _fail(f"inlined filter ({'loop' if driver else 'iteration'}) kept {len(got)}, "
                  f"expected {len(want)}")


_ORACLE: list[Any] = []


def _libpcap_filter(insns: list[tuple[int, int, int, int]]) -> Optional[Callable[..., int]]:
    """libpcap's own interpreter over the program (pcap_offline_filter), if libpcap loads."""
    if not _ORACLE:
        try:
            from pcapy._libpcap import load  # noqa: PLC0415

            _ORACLE.append(load())
        except PcapError:
            _ORACLE.append(None)
    libpcap = _ORACLE[0]
    if libpcap is None:
        return None
    ffi, lib = libpcap.ffi, libpcap.lib
    # libpcap 1.10 leaves scratch memory uninitialised (pcapy zeroes it, as libpcap master
    # does): storing A (still 0) in every word first gives libpcap the same start. Jumps are
    # relative, so the program after the stores is unchanged.
    insns = [(0x02, 0, 0, k) for k in range(16)] + insns
    array = ffi.new("struct bpf_insn[]", len(insns))
    for slot, (code, jt, jf, k) in zip(array, insns):
        slot.code, slot.jt, slot.jf, slot.k = code, jt, jf, k
    program = ffi.new("struct bpf_program *")
    program.bf_len, program.bf_insns = len(insns), array
    header = ffi.new("struct pcap_pkthdr *")
    keep = (array, program, header)  # bf_insns does not keep the array alive by itself

    def run(packet: bytes, wirelen: int) -> int:
        header.caplen, header.len = len(packet), wirelen
        return int(lib.pcap_offline_filter(keep[1], keep[2], packet)) & _MAX_U32

    return run


# -- offload: the filter run by libpcap on a file on disk ----------------------------------------

_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - per-process files


def target_offload(data: bytes) -> None:
    """A classic pcap file on disk filtered by libpcap gives what the Python filter gives."""
    if bytes(data[:4]) not in MAGICS:
        return
    facts, expected = reference(data)
    if facts is None:
        return
    rng = random.Random(hashlib.sha1(data).digest())  # noqa: S324 - a seed, not security
    tcp_or_udp, at_least_100 = programs_for(facts.dlt)
    total = len(expected[0])
    first = rng.randrange(total + 1) if total else 0
    chain = [tcp_or_udp] if rng.random() < 0.5 else [tcp_or_udp, at_least_100]
    switch_after, mode = rng.randrange(1, 4), rng.randrange(3)
    body = _by_filter(first, chain, switch_after, mode, as_text=False)
    want = _run(data, body, "filter")
    # Small batches put batch boundaries (and libpcap's errors) between the packets.
    batch = rng.choice((1, 2, 3, 7, _offload.BATCH_PACKETS))
    with tempfile.NamedTemporaryFile(dir=_SCRATCH, suffix=".pcap") as file:
        file.write(data)
        file.flush()
        pure = os.environ.pop(ENV_PURE, None)
        saved, _offload.BATCH_PACKETS = _offload.BATCH_PACKETS, batch
        try:
            got = _run(file.name, body, "offload", pcapy.open_offline)
        finally:
            _offload.BATCH_PACKETS = saved
            if pure is not None:
                os.environ[ENV_PURE] = pure
    how = f"offloaded filter (first={first}, programs={len(chain)}, mode={mode}, batch={batch})"
    _same(want, got, how)


# -- running -----------------------------------------------------------------------------------

# -- (g) hostile: structured floods and huge blocks, under item 1's budget ----------------------

_MIB = 1 << 20
BUDGET_RSS = 64 * _MIB  # above what the process held before the input, plus twice its largest block
BUDGET_RATE = 3_000_000  # bytes a CPU second, asserted (10 MB/s is the goal on an idle machine)
BUDGET_CONSTANT = 1.0  # seconds


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> bool:
    """Reset VmHWM (Linux: ``echo 5 > /proc/self/clear_refs``); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


_TOUCHED = 128


def _touch_every_field(reader: pcapy.Reader) -> None:
    """The pcapng option and metadata accessors: every field of every record kept."""
    info = reader.file_header
    records = []
    for name in ("sections", "interfaces", "statistics", "name_resolution", "secrets",
                 "custom_blocks"):
        kept = getattr(info, name, [])
        records += kept[:_TOUCHED] + kept[-_TOUCHED:]  # every field of the first and last ones
    for record in records:
        with contextlib.suppress(SavefileError):  # options decoded on demand may be broken
            for name in dir(record):
                if not name.startswith("_"):
                    getattr(record, name)
            if not hasattr(record, "data"):  # (the repr of 16 MiB of bytes is 64 MiB of text)
                repr(record)


def _read_all_ways(file_bytes: bytes, tables: bool) -> tuple[int, ...]:
    """Packets by next() (touching options and metadata), by next_batch() and, with
    ``tables``, by to_arrow() (every column)."""
    counts = []
    reader: Optional[pcapy.Reader] = None
    for way in ("next", "next_batch", "to_arrow")[:3 if tables else 2]:
        batch = way == "next_batch"
        count = 0
        try:
            reader = open_reader(file_bytes)
            if way == "to_arrow":
                for rows in reader.to_arrow(batch_size=4096):
                    count += rows.num_rows
                continue
            while True:
                if batch:
                    _buffer, meta = reader.next_batch(64)
                    if not meta:
                        break
                    count += len(meta) // 16
                    continue
                hdr, _data = reader.next()
                if hdr is None:
                    break
                count += 1
                options = getattr(hdr, "options", None)
                if options is not None:
                    with contextlib.suppress(SavefileError):
                        repr(options)
            _touch_every_field(reader)
        except PcapError:
            pass
        reader = None  # before the next pass: one file's memory at a time
        counts.append(count)
    return tuple(counts)


def target_hostile(data: bytes) -> object:
    """(g) a structure-aware recipe (``structured.build``): floods of blocks, options and name
    records, huge blocks, gzip-wrapped or not, up to 16 MiB; read by ``next()`` and by
    ``next_batch()`` and, where pyarrow is installed, by ``to_arrow()``, every metadata field
    touched, within item 1's time and memory budget."""
    import structured  # noqa: PLC0415 - fuzz/ is on the path wherever the harness is

    tables = _tables_installed()
    file_bytes, size, largest = structured.build(data)
    seconds = (3 if tables else 2) * (BUDGET_CONSTANT + size / BUDGET_RATE)  # a pass each way
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    measured = _reset_peak_rss()
    before = _rss_kib("VmRSS")
    started = resource.getrusage(resource.RUSAGE_SELF)
    by_next, by_batch, *by_table = _read_all_ways(file_bytes, tables)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = (usage.ru_utime + usage.ru_stime) - (started.ru_utime + started.ru_stime)
    if spent > seconds:
        _fail(f"{spent:.1f} s of CPU for {size:,} bytes")
    if measured:
        grown = (_rss_kib("VmHWM") - before) * 1024
        if grown > BUDGET_RSS + 2 * largest + len(file_bytes):
            _fail(f"peak RSS grew by {grown / _MIB:.0f} MiB for {size:,} bytes "
                  f"(largest block {largest / _MIB:.1f} MiB)")
    if by_batch > by_next:
        _fail(f"next_batch() gave {by_batch} packets, next() {by_next}")
    if by_table and by_table[0] != by_next:
        _fail(f"to_arrow() gave {by_table[0]} rows, next() {by_next} packets")
    return by_next.bit_length(), size.bit_length()


def _tables_installed() -> bool:
    """Whether to_arrow() can run (the arrow extra); imported here, before any input's memory
    is measured."""
    try:
        import pcapy.arrow  # noqa: F401, PLC0415 - the optional extra
    except ImportError:
        return False
    return True


TARGETS: dict[str, Callable[[bytes], object]] = {
    "hostile": target_hostile,
    "read": target_read,
    "api": target_api,
    "gzip": target_gzip,
    "roundtrip": target_roundtrip,
    "bpf": target_bpf,
    "offload": target_offload,
}


def _on_alarm(_signum: int, _frame: object) -> None:
    raise InputTimeout("the input ran past its time bound")


def limit_memory(limit: int = 2 << 30) -> None:
    """Cap the process's address space: a hostile length that makes us allocate gigabytes
    becomes a MemoryError (a failure) instead of a swapping machine."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def install_time_bound() -> None:
    """Per-input CPU-time alarms (SIGVTALRM, so libFuzzer's own SIGALRM stays its own)."""
    signal.signal(signal.SIGVTALRM, _on_alarm)


def run_one(target: Callable[[bytes], object], data: bytes, seconds: float = 2.0) -> object:
    """Run one input under the time bound (``install_time_bound`` first); exceptions escape.

    Returns the target's summary of what the input did (for the mutation pool)."""
    # BytesIO inputs are never offloaded, but say so anyway: every filter runs in Python unless
    # a target asks for libpcap itself (target_offload).
    previous = os.environ.get(ENV_PURE)
    os.environ[ENV_PURE] = "1"
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        return target(data)
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        if previous is None:
            del os.environ[ENV_PURE]
        else:
            os.environ[ENV_PURE] = previous


def iter_targets(name: str) -> Iterator[tuple[str, Callable[[bytes], object]]]:
    if name == "all":
        yield from TARGETS.items()
    else:
        yield name, TARGETS[name]
