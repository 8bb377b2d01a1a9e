"""The stream as the record loops see it: the current chunk, a position in it, and more.

Both engines (classic pcap and pcapng) read records or blocks lying wholly inside ``buffer``
directly, with ``unpack_from`` and slices. What straddles two chunks goes through ``read``,
which joins the rest of the chunk to the next ones into one ``buffer``; ``peek`` looks at the
first bytes of what comes next without consuming them; ``skip`` passes over bytes
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

    def _gather(self, size: int) -> None:
        """Make ``buffer[position:]`` hold ``size`` bytes (fewer at the end of the stream).

        What is gathered is kept however the gathering ends: a chunk taken from the stream is
        in ``buffer`` even if taking the next one raised (a KeyboardInterrupt, an I/O error), so
        a read that is tried again finds every byte.
        """
        start = self.position
        rest = self.buffer[start:]
        pieces, have = [rest], len(rest)
        try:
            while have < size:
                chunk = next(self.chunks, None)
                if chunk is None:
                    break
                pieces.append(chunk)
                have += len(chunk)
        finally:
            if len(pieces) > 1:
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
        self.position = start + len(data)
        return data

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
