"""The stream as the record loops see it: the current chunk, a position in it, and more.

Both engines (classic pcap and pcapng) read records or blocks lying wholly inside ``buffer``
directly, with ``unpack_from`` and slices. What straddles two chunks goes through ``read``,
which assembles only its own bytes, after which the later chunk becomes ``buffer``; ``peek``
looks at the first bytes of what comes next without consuming them; ``skip`` passes over bytes
(libpcap's clipping of records longer than the snapshot length).
"""

from __future__ import annotations

from collections.abc import Iterator


class Cursor:
    """A position in a stream of chunks; ``file_offset()`` is the absolute byte offset."""

    __slots__ = ("buffer", "chunks", "offset", "position")

    def __init__(self, chunks: Iterator[bytes], buffer: bytes, offset: int = 0) -> None:
        self.chunks = chunks
        self.buffer = buffer
        self.offset = offset  # file offset of buffer[0]
        self.position = 0

    def _next_chunk(self) -> bool:
        """Move on to the next non-empty chunk; False at the end of the stream."""
        for chunk in self.chunks:
            if chunk:
                self.offset += len(self.buffer)
                self.buffer, self.position = chunk, 0
                return True
        return False

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end of the stream), left unread."""
        start = self.position
        if len(self.buffer) - start < size:
            rest, offset = self.buffer[start:], self.offset + start
            while len(rest) < size and self._next_chunk():
                rest += self.buffer
            self.buffer, self.position, self.offset = rest, 0, offset
            start = 0
        return self.buffer[start : start + size]

    def read(self, size: int) -> bytes:
        """The next ``size`` bytes, or fewer if the stream ends first."""
        start = self.position
        if len(self.buffer) - start >= size:
            self.position = start + size
            return self.buffer[start : self.position]
        pieces = [self.buffer[start:]]
        have = len(pieces[0])
        self.position = len(self.buffer)
        while have < size and self._next_chunk():
            piece = self.buffer[: size - have]
            self.position = len(piece)
            pieces.append(piece)
            have += len(piece)
        return b"".join(pieces)

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
