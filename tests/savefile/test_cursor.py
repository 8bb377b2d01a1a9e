"""The cursor over read chunks: peek, read and skip give the stream's bytes and offsets however
the stream is cut into chunks, copy only what straddles a chunk boundary, and lose nothing
when taking a chunk raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import examples
from pcapy._savefile._cursor import Cursor

STREAM = bytes(range(256)) * 8


def _chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    chunks, at = [], 0
    for size in sizes:
        chunks.append(data[at : at + size])
        at += size
    chunks.append(data[at:])
    return chunks


operations = st.lists(st.tuples(st.sampled_from(["peek", "read", "skip"]),
                                st.integers(0, 700)), max_size=40)
cuts = st.lists(st.integers(0, 300), max_size=20)


@settings(max_examples=examples(150), deadline=None)
@given(first=st.integers(0, 50), sizes=cuts, ops=operations)
def test_any_chunking_reads_the_stream(first, sizes, ops):
    chunks = _chunked(STREAM[first:], sizes)
    cursor = Cursor(iter(chunks), STREAM[:first])
    at = 0
    for name, size in ops:
        expected = STREAM[at : at + size]
        if name == "peek":
            assert cursor.peek(size) == expected
        elif name == "read":
            assert cursor.read(size) == expected
            at += len(expected)
        else:
            assert cursor.skip(size) == len(expected)
            at += len(expected)
        assert cursor.file_offset() == at
        assert cursor.offset + cursor.position == at
        assert cursor.buffer[cursor.position : cursor.position + 1] in (STREAM[at : at + 1], b"")
    assert cursor.unread() + b"".join(cursor.chunks) == STREAM[at:]


def test_a_straddling_record_is_joined_from_the_bytes_it_needs():
    big = bytes(range(256)) * 1024
    chunk = big[10:]
    cursor = Cursor(iter([chunk, b"tail"]), big[:10])
    cursor.position = 4
    assert cursor.peek(16) == big[4:20]
    assert len(cursor.buffer) == 16  # not the 256 KiB chunk copied behind six bytes
    assert cursor.read(16) == big[4:20]
    assert cursor.buffer is chunk and cursor.position == 10  # then read in place, at once
    assert cursor.read(6) == big[20:26]
    assert cursor.file_offset() == 26
    assert cursor.read(len(big)) == big[26:] + b"tail"
    assert cursor.read(1) == b"" and cursor.peek(1) == b""


class _Retrying:
    """An iterator of chunks that raises on chosen takes and carries on when taken again."""

    def __init__(self, chunks: list[bytes], interrupt_at: set[int]) -> None:
        self.chunks, self.takes, self.interrupt_at = iter(chunks), 0, interrupt_at

    def __iter__(self) -> _Retrying:
        return self

    def __next__(self) -> bytes:
        self.takes += 1
        if self.takes in self.interrupt_at:
            raise KeyboardInterrupt
        return next(self.chunks)


@settings(max_examples=examples(100), deadline=None)
@given(sizes=cuts, interrupt_at=st.sets(st.integers(1, 25), max_size=6),
       reads=st.lists(st.integers(1, 500), min_size=1, max_size=30))
def test_an_interrupted_take_loses_nothing(sizes, interrupt_at, reads):
    cursor = Cursor(_Retrying(_chunked(STREAM, sizes), interrupt_at), b"")
    got = b""
    for size in reads:
        for _attempt in range(len(interrupt_at) + 1):
            try:
                before = cursor.file_offset()
                data = cursor.read(size)
                break
            except KeyboardInterrupt:
                assert cursor.file_offset() == before  # nothing consumed
        got += data
    assert got == STREAM[: len(got)]
    assert len(got) == min(sum(reads), len(STREAM))
