"""SIGINT and SIGTERM end the work at a packet boundary, as tcpdump's cleanup does.

While ``stop_signals()`` is active both signals mark the work as stopped. Outside a packet's
handling (waiting in ``select()``, blocked reading a pipe) they raise ``KeyboardInterrupt`` at
once; inside ``deferred()`` (one packet being printed or written) the interrupt waits until the
packet is complete, so a written file never ends in a cut record and no handled packet is
lost: the caller's ``finally`` then flushes and closes the output.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class StopSignals:
    """Whether a stop was asked for, and the deferral of its interrupt."""

    def __init__(self) -> None:
        self.requested = False
        self._deferring = False

    def on_signal(self, signum: int, frame: object) -> None:
        """The handler of SIGINT and SIGTERM."""
        self.requested = True
        if not self._deferring:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold a stop until the block (one packet's handling) is done, then raise it."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self.requested:
            raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Install the handlers (even over inherited ignored ones, as tcpdump does) for the block;
    the previous handlers come back afterwards. Outside the main thread nothing is installed
    (Python delivers signals there only) and the returned object never reports a stop."""
    stop = StopSignals()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM"):
            number = getattr(signal, name, None)
            if number is not None:
                previous[number] = signal.signal(number, stop.on_signal)
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
