"""asyncio support: ``async for hdr, data in reader``.

``Reader.__aiter__`` returns ``aiter_packets(reader)``, an async generator of ``(Pkthdr, bytes)``:

- A savefile is read as by ``for hdr, data in reader``, handing control back to the event loop
  every ``OFFLINE_BATCH`` packets, so a long file never starves other tasks.
- A live capture is put in non-blocking mode and waited on with ``loop.add_reader()`` on the
  handle's descriptor; when it is readable, one ``dispatch()`` drains what libpcap has into a
  small queue, which is then yielded. The event loop is never blocked, cancellation is
  immediate, and on exit (end of iteration, ``break``, cancellation or an error) the
  descriptor is unregistered and the handle's previous blocking mode restored.
- Every wait ends: ``breakloop()`` and ``close()``, from any thread or task, wake the wait, and
  the iteration ends (``StopAsyncIteration``, as a plain ``for`` ends), as does iteration over
  a savefile at ``breakloop()``. A failure of the capture (libpcap's error, such as "The
  interface went down") is raised.
- A live capture without a selectable descriptor (``getfd() == -1``, e.g. on Windows) is read
  with ``reader.next()`` in the loop's default thread pool: each call returns at the handle's
  read timeout at the latest (set a short one, e.g. ``set_timeout(100)``, before
  ``activate()``).

A generator that is abandoned half-way is finalised when the event loop collects it; wrap it in
``contextlib.aclosing(aiter_packets(reader))`` to release the descriptor at a known point.
Only one coroutine should iterate a given reader at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ._live import LiveCapture
    from ._pkthdr import Packet
    from ._reader import Reader


#: packets read from a savefile between two returns to the event loop
OFFLINE_BATCH = 256
#: seconds an idle live ``async for`` waits before it reads (and checks its device) again
IDLE_LOOK = 0.25


async def aiter_packets(
    reader: Reader, capture: Optional[LiveCapture]
) -> AsyncIterator[Packet]:
    """Yield ``(hdr, data)`` from ``reader`` without blocking the event loop; ``capture`` is
    its live engine (None for a savefile), which ``breakloop()`` and ``close()`` reach."""
    packets: AsyncGenerator[Packet, None]
    if capture is None:
        packets = _savefile_packets(reader)
    elif reader.getfd() >= 0:
        packets = _selectable_packets(reader, capture)
    else:
        packets = _threaded_packets(reader)
    try:
        async for packet in packets:
            yield packet
    finally:
        await packets.aclose()


async def _savefile_packets(reader: Reader) -> AsyncGenerator[Packet, None]:
    for count, packet in enumerate(reader, 1):
        yield packet
        if count % OFFLINE_BATCH == 0:
            await asyncio.sleep(0)


async def _selectable_packets(
    reader: Reader, capture: LiveCapture
) -> AsyncGenerator[Packet, None]:
    loop = asyncio.get_running_loop()
    fd = reader.getfd()
    queue: deque[Packet] = deque()
    was_nonblocking = reader.getnonblock()
    reader.setnonblock(1)
    try:
        while not _ending(reader, capture):
            if reader.dispatch(-1, lambda hdr, data: queue.append((hdr, data))) == 0:
                await _readable(loop, fd, capture)
                continue
            while queue:
                yield queue.popleft()
            await asyncio.sleep(0)  # a busy interface must not monopolise the loop
    finally:
        if not reader.closed:
            reader.setnonblock(was_nonblocking)


def _ending(reader: Reader, capture: LiveCapture) -> bool:
    """Whether ``breakloop()`` (consumed here, as a loop consumes it) or ``close()`` came."""
    if reader.closed:
        return True
    if capture.break_requested:
        capture.break_requested = False
        return True
    return False


async def _readable(loop: asyncio.AbstractEventLoop, fd: int, capture: LiveCapture) -> None:
    """Wait until ``fd`` is readable, or ``breakloop()``/``close()`` is called (from any
    thread); the callbacks are removed however the wait ends."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    def wake_from_anywhere() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits any more
            loop.call_soon_threadsafe(wake)

    capture.add_wakeup(wake_from_anywhere)
    loop.add_reader(fd, wake)
    try:
        if not _ending_soon(capture):
            # Bounded, so that the capture looks at its device now and then: a device taken
            # down signals it once, and libpcap's read takes that signal silently.
            await asyncio.wait({ready}, timeout=IDLE_LOOK)
    finally:
        loop.remove_reader(fd)
        capture.remove_wakeup(wake_from_anywhere)


def _ending_soon(capture: LiveCapture) -> bool:
    """A breakloop() or close() that came before the wake-up was registered."""
    return capture.break_requested or capture.closing


async def _threaded_packets(reader: Reader) -> AsyncGenerator[Packet, None]:
    loop = asyncio.get_running_loop()
    while True:
        header, data = await loop.run_in_executor(None, reader.next)
        if header is not None:
            yield header, data
