"""A progress bar on standard error, drawn only when it is a terminal.

Reusable by any long piece of work over files (``pcapy stats``, ``-r`` with ``-w``,
``convert``, ``query``): make a ``Progress(total_bytes, label)``, call ``advance(n)`` or
``update(done)`` as bytes are consumed, and ``close()`` at the end (or use it as a
context manager). Nothing is drawn when the stream is not a terminal or the total is unknown.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Optional


class Progress:
    """A bar ``[#####.....]  42.0% label`` redrawn in place at most every ``INTERVAL`` seconds,
    erased by ``close()``."""

    WIDTH = 30
    INTERVAL = 0.1

    def __init__(self, total: int, label: str = "", stream: Optional[IO[str]] = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.total = total if total > 0 and is_terminal(self.stream) else 0
        self.done = 0
        self.next_draw = 0.0
        self.drawn = False

    @classmethod
    def for_file(cls, path: str, stream: Optional[IO[str]] = None) -> Progress:
        """A bar for reading ``path`` (none for stdin, ``-``, or a file of unknown size)."""
        return cls(file_size(path), os.path.basename(path), stream)

    @property
    def enabled(self) -> bool:
        """Whether anything is drawn."""
        return bool(self.total)

    def advance(self, amount: int) -> None:
        """Count ``amount`` more units (bytes) done."""
        if self.total:
            self.update(self.done + amount)

    def update(self, done: int) -> None:
        """Set the units done so far; redraw if the last drawing is old enough."""
        if not self.total:
            return
        self.done = done
        now = time.monotonic()
        if now >= self.next_draw:
            self.next_draw = now + self.INTERVAL
            self.draw()

    def draw(self) -> None:
        """Draw the bar for the current count."""
        share = min(self.done / self.total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {share * 100:5.1f}% {self.label}")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Erase the bar, if it was drawn."""
        if self.drawn:
            self.stream.write("\r" + " " * (self.WIDTH + len(self.label) + 10) + "\r")
            self.stream.flush()
            self.drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (a closed or odd stream is not)."""
    try:
        return stream.isatty()
    except (ValueError, OSError, AttributeError):
        return False


def file_size(path: str) -> int:
    """The size of the file at ``path``; 0 for stdin (``-``) or when it cannot be known."""
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0
