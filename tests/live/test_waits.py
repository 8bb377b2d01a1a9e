"""Every wait ends (issue 12 item 5, issue 11 item 7).

``breakloop()`` ends iteration as it ends ``loop()``: ``for`` and ``async for``, over a savefile
or a live capture; ``close()`` while ``async for`` waits on a live capture ends it (the
iteration stops, as a plain ``for`` stops at ``close()``). Each wait is bounded by a timeout
that would fail the test if it did not end.
"""

from __future__ import annotations

import asyncio
import io
import threading

import pytest

import pcapy
from helpers import pcap_bytes, udp_frame
from live.lab import open_lo, payloads, send_udp

ENDS_WITHIN = 10.0  # seconds; a wait that does not end fails here


def _savefile(count: int = 20) -> pcapy.Reader:
    records = [(1_700_000_000 + i, i, udp_frame(b"x" * 8), 50) for i in range(count)]
    return pcapy.open_offline(io.BytesIO(pcap_bytes(records)))


def test_breakloop_ends_a_for_over_a_savefile_and_the_next_one_goes_on():
    reader = _savefile(20)
    first = []
    for hdr, _data in reader:
        first.append(hdr.getts())
        if len(first) == 5:
            reader.breakloop()
    assert len(first) == 5
    rest = [hdr.getts() for hdr, _data in reader]
    assert len(rest) == 15 and rest[0] != first[-1]


def test_a_breakloop_before_iterating_a_savefile_ends_it_at_once_once():
    reader = _savefile(3)
    reader.breakloop()
    assert list(reader) == []
    assert len(list(reader)) == 3  # consumed by the iteration it ended


def test_loop_consumes_its_breakloop():
    reader = _savefile(6)
    seen = []

    def stop_after_two(hdr, _data):
        seen.append(hdr)
        if len(seen) == 2:
            reader.breakloop()

    reader.loop(-1, stop_after_two)
    assert len(seen) == 2
    assert len(list(reader)) == 4  # the break did not linger into the iteration


def test_breakloop_ends_async_for_over_a_savefile():
    reader = _savefile(600)

    async def read() -> int:
        count = 0
        async for _packet in reader:
            count += 1
            if count == 300:
                reader.breakloop()
        return count

    assert asyncio.run(asyncio.wait_for(read(), ENDS_WITHIN)) == 300


async def _until_waiting(reader: pcapy.Reader) -> None:
    """Until ``async for`` over ``reader`` waits for its next packet (its wake-up for
    ``breakloop()`` and ``close()`` is registered): then the test's stop comes mid-wait."""
    deadline = asyncio.get_running_loop().time() + ENDS_WITHIN
    while not reader._live._wakeups:
        assert asyncio.get_running_loop().time() < deadline, "async for never waited"
        await asyncio.sleep(0.001)


async def _wait_on_lo(reader: pcapy.Reader, started: asyncio.Event) -> list[bytes]:
    got = []
    async for _hdr, data in reader:
        got.append(data)
        started.set()
    return got


@pytest.mark.live
def test_breakloop_from_a_thread_ends_async_for_on_a_live_reader(udp_port):
    reader = open_lo(udp_port)

    async def scenario() -> list[bytes]:
        started = asyncio.Event()
        task = asyncio.create_task(_wait_on_lo(reader, started))
        send_udp(udp_port, payloads(1))
        await asyncio.wait_for(started.wait(), ENDS_WITHIN)
        await _until_waiting(reader)
        threading.Thread(target=reader.breakloop).start()
        return await asyncio.wait_for(task, ENDS_WITHIN)

    with reader:
        assert len(asyncio.run(scenario())) == 1


@pytest.mark.live
@pytest.mark.parametrize("from_thread", [False, True], ids=["task", "thread"])
def test_close_while_async_for_waits_on_a_live_reader_ends_it(udp_port, from_thread):
    reader = open_lo(udp_port)

    async def scenario() -> list[bytes]:
        started = asyncio.Event()
        task = asyncio.create_task(_wait_on_lo(reader, started))
        send_udp(udp_port, payloads(1))
        await asyncio.wait_for(started.wait(), ENDS_WITHIN)
        await _until_waiting(reader)
        if from_thread:
            threading.Thread(target=reader.close).start()
        else:
            reader.close()
        return await asyncio.wait_for(task, ENDS_WITHIN)

    assert len(asyncio.run(scenario())) == 1
    assert reader.closed


@pytest.mark.live
def test_a_breakloop_before_async_for_ends_it_at_once(udp_port):
    with open_lo(udp_port) as reader:
        reader.breakloop()

        async def read() -> int:
            return len([packet async for packet in reader])

        assert asyncio.run(asyncio.wait_for(read(), ENDS_WITHIN)) == 0
