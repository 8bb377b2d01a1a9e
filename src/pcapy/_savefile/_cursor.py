"""The stream as the record loops see it: the current chunk, a position in it, and more.

Both engines (classic pcap and pcapng) read records or blocks lying wholly inside ``buffer``
directly, with ``unpack_from`` and slices. What straddles two chunks goes through ``read``,
which joins the rest of the chunk to as much of the next ones as it needs into one small
``buffer`` (the next chunk is then read in place from where that ended); ``peek`` looks at the
first bytes of what comes next without consuming them; ``skip`` passes over bytes
(libpcap's clipping of records longer than the snapshot length).
"""

from __future__ import annotations

from collections.abc import Iterator


class Cursor:
    """A position in a stream of chunks; ``file_offset()`` is the absolute byte offset.

    Chunks taken from the stream but not yet in ``buffer`` wait in ``pending`` (the first from
    ``pending_start`` on): a record straddling two chunks is joined from the few bytes it needs,
    never by copying the whole next chunk, which the loops then read in place.
    """

    __slots__ = ("buffer", "chunks", "ended", "offset", "pending", "pending_start", "position")

    def __init__(self, chunks: Iterator[bytes], buffer: bytes, offset: int = 0) -> None:
        self.chunks = chunks
        self.buffer = buffer
        self.offset = offset  # file offset of buffer[0]
        self.position = 0
        self.pending: list[bytes] = []
        self.pending_start = 0
        self.ended = False  # whether ``chunks`` has ended (the stream's end, found once, stays)

    def restart(self, chunks: Iterator[bytes], buffer: bytes, offset: int) -> None:
        """Go on from ``buffer`` (at file offset ``offset``), then ``chunks``."""
        self.chunks, self.buffer, self.offset, self.position = chunks, buffer, offset, 0
        self.pending, self.pending_start = [], 0
        self.ended = False

    def unread(self) -> bytes:
        """Everything taken from the stream and not yet consumed, as one buffer (a copy)."""
        pieces = [self.buffer[self.position :]]
        if self.pending:
            pieces += [self.pending[0][self.pending_start :], *self.pending[1:]]
        return b"".join(pieces)

    def _take(self) -> bool:
        """Take one more chunk from the stream into ``pending``; False at its end.

        A chunk is kept the moment it is taken: if taking the next one raises (a
        KeyboardInterrupt, an I/O error), a read that is tried again finds every byte.
        """
        chunk = next(self.chunks, None)
        if chunk is None:
            self.ended = True
            return False
        self.pending.append(chunk)
        return True

    def _next_chunk(self, take: bool = True) -> bool:
        """Move ``buffer`` on to the next non-empty chunk; False at the end of the stream (or,
        with ``take=False``, of the chunks already taken: nothing is read)."""
        pending = self.pending
        while pending or (take and self._take()):
            chunk, start = pending.pop(0), self.pending_start
            self.pending_start = 0
            if len(chunk) > start:
                self.offset += len(self.buffer) - start
                self.buffer, self.position = chunk, start
                return True
        return False

    def _gather(self, size: int) -> None:
        """Make ``buffer[position:]`` hold ``size`` bytes (fewer at the end of the stream)."""
        if self.position == len(self.buffer) and not self._next_chunk():
            return
        have = len(self.buffer) - self.position
        if have >= size:
            return
        waiting = sum(map(len, self.pending)) - self.pending_start
        while have + waiting < size and self._take():
            waiting += len(self.pending[-1])
        if not waiting:
            return
        start = self.position
        pieces, need = [self.buffer[start:]], size - have
        used, begin = 0, self.pending_start
        for chunk in self.pending:  # (used ones dropped at once: many tiny chunks cost linear time)
            if need <= 0:
                break
            piece = chunk[begin : begin + need]
            pieces.append(piece)
            need -= len(piece)
            if begin + len(piece) < len(chunk):
                begin += len(piece)
                break
            used, begin = used + 1, 0
        del self.pending[:used]
        self.pending_start = begin
        self.offset += start
        self.buffer, self.position = b"".join(pieces), 0

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end of the stream), left unread."""
        if len(self.buffer) - self.position < size:
            self._gather(size)
        start = self.position
        return self.buffer[start : start + size]

    def read(self, size: int) -> bytes:
        """The next ``size`` bytes, or fewer if the stream ends first."""
        if len(self.buffer) - self.position < size:
            self._gather(size)
        start = self.position
        data = self.buffer[start : start + size]
        self.advance(len(data))
        return data

    def advance(self, size: int) -> None:
        """Consume ``size`` bytes of ``buffer``; once it is used up, go on to a pending chunk
        (without reading), so the loops find the next records in place."""
        self.position += size
        if self.position == len(self.buffer) and self.pending:
            self._next_chunk(take=False)

    def skip(self, size: int) -> int:
        """Skip up to ``size`` bytes; return how many the stream had."""
        skipped = 0
        while True:
            step = min(len(self.buffer) - self.position, size - skipped)
            self.position += step
            skipped += step
            if skipped == size or not self._next_chunk():
                return skipped

    def file_offset(self) -> int:
        return self.offset + self.position
