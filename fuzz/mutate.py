"""A structure-aware mutation fuzzer: no coverage instrumentation, driven by a seeded PRNG.

It is the engine of CI's short pass (deterministic for a given seed, no dependency beyond the
standard library) and the fallback for the long pass where atheris is not installed.

Each new input is one to eight mutations of an input from the pool: bit flips; bytes, 16-bit
and 32-bit words (either byte order) replaced with interesting values (0, 1, 0x7f.., 0x80..,
0xff.., the block or record size, a neighbouring length +-1..4); ranges inserted, deleted,
duplicated or overwritten with a range of another seed; truncation; and, for pcap and pcapng,
whole records or blocks duplicated, dropped, swapped or spliced in from another seed. The pool
starts with the seeds and takes in every input whose outcome (file format, error type and
message shape, packet count bucket) has not been seen before: a cheap stand-in for coverage.
"""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Hashable
from typing import Callable, Optional

from gzip_size import decompressed_size

INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF)
INTERESTING_16 = (0, 1, 2, 4, 12, 0x7FFF, 0x8000, 0xFFFF, 0x0A0D, 0x0D0A)
INTERESTING_32 = (0, 1, 4, 8, 12, 16, 20, 24, 28, 32, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                  0xFFFFFFFE, 0x40000, 0x100000, 0x1000000, 0x0A0D0D0A, 0x1A2B3C4D, 0xA1B2C3D4,
                  0xA1B23C4D, 0xA1B2CD34, 6, 3, 2, 5, 10, 0xBAD, 0x40000BAD)
MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
          b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34", b"\x0a\x0d\x0d\x0a", b"\x1f\x8b\x08\x00")
PCAP_MAGICS = {m: m[0] in (0xD4, 0x4D, 0x34) for m in MAGICS[:6]}  # magic -> little-endian
_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+")


def _spans(data: bytes) -> list[tuple[int, int]]:
    """Record (pcap) or block (pcapng) boundaries, as far as they can be followed."""
    spans: list[tuple[int, int]] = []
    head = bytes(data[:4])
    if head in PCAP_MAGICS:
        order = "<" if PCAP_MAGICS[head] else ">"
        size = 24 if head[0] != 0x34 and head[3] != 0x34 else 32
        position = 24
        while position + 16 <= len(data) and len(spans) < 4096:
            caplen = struct.unpack_from(order + "I", data, position + 8)[0]
            end = position + size + caplen
            if end > len(data):
                break
            spans.append((position, end))
            position = end
    elif head == b"\x0a\x0d\x0d\x0a" and len(data) >= 12:
        order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        position = 0
        while position + 12 <= len(data) and len(spans) < 4096:
            length = struct.unpack_from(order + "I", data, position + 4)[0]
            if length < 12 or position + length > len(data):
                break
            spans.append((position, position + length))
            position += length
    return spans


class Mutator:
    """Mutations of byte strings, with other seeds to splice from."""

    def __init__(self, seeds: list[bytes], rng: random.Random, max_len: int = 65536) -> None:
        self.seeds = [s for s in seeds if s] or [b"\x00"]
        self.rng = rng
        self.max_len = max_len
        self._ops: list[Callable[[bytearray], None]] = [
            self._flip_bit, self._set_byte, self._set_word16, self._set_word32,
            self._set_word32, self._nudge_length, self._insert, self._delete, self._duplicate,
            self._splice, self._truncate, self._structural, self._structural, self._magic,
        ]

    def mutate(self, data: bytes) -> bytes:
        buffer = bytearray(data)
        for _ in range(1 + min(int(self.rng.expovariate(0.7)), 7)):
            self.rng.choice(self._ops)(buffer)
        return bytes(buffer[: self.max_len])

    def _position(self, buffer: bytearray, width: int = 1) -> Optional[int]:
        if len(buffer) < width:
            return None
        # Headers sit at the start: favour the first bytes and the starts of records.
        if self.rng.random() < 0.3:
            return self.rng.randrange(min(len(buffer), 64) - width + 1)
        spans = _spans(buffer) if self.rng.random() < 0.3 else []
        if spans:
            start, end = self.rng.choice(spans)
            if end - start >= width:
                return start + self.rng.randrange(min(end - start, 48) - width + 1)
        return self.rng.randrange(len(buffer) - width + 1)

    def _flip_bit(self, buffer: bytearray) -> None:
        at = self._position(buffer)
        if at is not None:
            buffer[at] ^= 1 << self.rng.randrange(8)

    def _set_byte(self, buffer: bytearray) -> None:
        at = self._position(buffer)
        if at is not None:
            buffer[at] = self.rng.choice((*INTERESTING_8, self.rng.randrange(256)))

    def _set_word16(self, buffer: bytearray) -> None:
        at = self._position(buffer, 2)
        if at is not None:
            order = self.rng.choice("<>")
            struct.pack_into(order + "H", buffer, at, self.rng.choice(INTERESTING_16))

    def _set_word32(self, buffer: bytearray) -> None:
        at = self._position(buffer, 4)
        if at is None:
            return
        value = self.rng.choice(INTERESTING_32)
        if self.rng.random() < 0.25:
            value = (len(buffer) - at + self.rng.randrange(-8, 9)) & 0xFFFFFFFF
        struct.pack_into(self.rng.choice("<>") + "I", buffer, at, value)

    def _nudge_length(self, buffer: bytearray) -> None:
        """A length field off by a little: the classic off-by-one."""
        at = self._position(buffer, 4)
        if at is None:
            return
        fmt = self.rng.choice(("<I", ">I", "<H", ">H"))
        size = struct.calcsize(fmt)
        value = struct.unpack_from(fmt, buffer, at)[0] + self.rng.choice((-4, -1, 1, 4, -3, 3))
        struct.pack_into(fmt, buffer, at, value % (1 << (8 * size)))

    def _insert(self, buffer: bytearray) -> None:
        at = self.rng.randrange(len(buffer) + 1)
        size = self.rng.choice((1, 2, 4, 8, self.rng.randrange(1, 64)))
        filler = self.rng.choice((b"\x00", b"\xff", bytes([self.rng.randrange(256)])))
        buffer[at:at] = filler * size if self.rng.random() < 0.5 else self.rng.randbytes(size)

    def _delete(self, buffer: bytearray) -> None:
        if buffer:
            at = self.rng.randrange(len(buffer))
            del buffer[at : at + self.rng.choice((1, 2, 4, self.rng.randrange(1, 64)))]

    def _duplicate(self, buffer: bytearray) -> None:
        if buffer:
            at = self.rng.randrange(len(buffer))
            piece = buffer[at : at + self.rng.randrange(1, 128)]
            where = self.rng.randrange(len(buffer) + 1)
            buffer[where:where] = piece

    def _splice(self, buffer: bytearray) -> None:
        other = self.rng.choice(self.seeds)
        at = self.rng.randrange(len(other))
        piece = other[at : at + self.rng.randrange(1, 256)]
        where = self.rng.randrange(len(buffer) + 1)
        if self.rng.random() < 0.5:
            buffer[where : where + len(piece)] = piece
        else:
            buffer[where:where] = piece

    def _truncate(self, buffer: bytearray) -> None:
        if buffer:
            del buffer[self.rng.randrange(len(buffer)) :]

    def _structural(self, buffer: bytearray) -> None:
        """Whole records or blocks duplicated, dropped, swapped or taken from another seed."""
        spans = _spans(buffer)
        if not spans:
            self._splice(buffer)
            return
        start, end = self.rng.choice(spans)
        choice = self.rng.randrange(4)
        if choice == 0:
            buffer[end:end] = buffer[start:end]
        elif choice == 1:
            del buffer[start:end]
        elif choice == 2:
            other_start, other_end = self.rng.choice(spans)
            if other_start > end:
                piece, other = buffer[start:end], buffer[other_start:other_end]
                buffer[other_start:other_end] = piece
                buffer[start:end] = other
        else:
            donor = self.rng.choice(self.seeds)
            donor_spans = _spans(donor)
            if donor_spans:
                d_start, d_end = self.rng.choice(donor_spans)
                buffer[end:end] = donor[d_start:d_end]

    def _magic(self, buffer: bytearray) -> None:
        at = 0 if self.rng.random() < 0.7 else self._position(buffer, 4)
        if at is not None:
            buffer[at : at + 4] = self.rng.choice(MAGICS)


def input_kind(target: str, data: bytes) -> str:
    """What the reader makes of the first bytes: a pcap magic (byte order and precision), pcapng,
    gzip or anything else; for ``bpf``, the mode bits of the first byte (harness.decode_program);
    for ``hostile``, the recipe's shape, flags and size (structured.build).
    Not the bytes themselves: with them, every input of a new random magic was "new"."""
    if target == "bpf":
        return f"bpf{data[0] & 0xC1}" if data else "bpf"
    if target == "hostile":  # a recipe (structured.build): shape, flags, log2 of the size
        shape, flags, size = (*data[:3], 0, 0, 0)[:3]
        return f"recipe{shape % 5}/{flags & 7}/{size % 25}"
    head = bytes(data[:4])
    if head in PCAP_MAGICS:
        return head.hex()
    if head == b"\x0a\x0d\x0d\x0a":
        return "pcapng"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    return "other"


def signature(target: str, data: bytes, outcome: object) -> Hashable:
    """A coarse description of what the input did, for the pool's novelty test: the kind of
    input and the outcome with its numbers (decimal or hex: offsets, lengths, CRCs) elided."""
    text = _NUMBERS.sub("#", str(outcome))[:160] if outcome is not None else ""
    return (target, input_kind(target, data), text)


LIGHT_SIZE = 64 << 10  # inputs up to this size (decompressed) are picked uniformly


class Pool:
    """The inputs mutations start from: the seeds, then every input with a new signature.

    Every input up to ``light`` bytes (decompressed) is as likely to be picked as any other;
    a bigger one is picked ``light / size`` times as often, so each pool input gets about the
    reading time of a ``light``-byte one instead of a megabyte bomb taking most of the run's
    time (0 picks uniformly). The choice depends only on the bytes: the stream stays
    deterministic for a seed."""

    def __init__(self, seeds: list[bytes], rng: random.Random, limit: int = 4000,
                 light: int = LIGHT_SIZE) -> None:
        self.inputs = list(seeds) or [b""]
        self.fixed = len(self.inputs)  # the seeds: never replaced
        self.sizes = [decompressed_size(data) for data in self.inputs]
        self.rng = rng
        self.limit = limit
        self.light = light
        self.seen: set[Hashable] = set()

    def pick(self) -> bytes:
        while True:
            index = self.rng.randrange(len(self.inputs))
            size = self.sizes[index]
            if not self.light or size <= self.light or self.rng.random() * size < self.light:
                return self.inputs[index]

    def offer(self, data: bytes, key: Hashable) -> None:
        if key in self.seen:
            return
        self.seen.add(key)
        if len(self.inputs) < self.limit:
            self.inputs.append(data)
            self.sizes.append(decompressed_size(data))
        elif self.fixed < len(self.inputs):
            index = self.rng.randrange(self.fixed, len(self.inputs))
            self.inputs[index] = data
            self.sizes[index] = decompressed_size(data)
