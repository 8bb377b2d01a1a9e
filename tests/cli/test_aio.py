"""asyncio support (pcapy._aio): ``async for`` over savefiles, live captures and fake handles."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import pcapy
from pcapy._aio import OFFLINE_BATCH, aiter_packets

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def corpus_file(name: str) -> str:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the conformance corpus is not at {CORPUS} (need {name})")
    return str(path)


async def collect(packets: AsyncIterator[Any], limit: int = 0) -> list[Any]:
    seen = []
    async for packet in packets:
        seen.append(packet)
        if len(seen) == limit:
            break
    return seen


def test_offline_async_iteration_gives_the_same_packets() -> None:
    path = corpus_file("pcap/example.pcap")
    with pcapy.open_offline(path) as reader:
        expected = list(reader)
    with pcapy.open_offline(path) as reader:
        got = asyncio.run(collect(reader))  # Reader.__aiter__
    assert got == expected
    assert len(got) == 4631


def test_offline_iteration_honours_the_filter() -> None:
    path = corpus_file("pcap/example.pcap")
    with pcapy.open_offline(path) as reader:
        reader.setfilter("udp port 53")
        assert len(asyncio.run(collect(aiter_packets(reader, None)))) == 138


def test_offline_iteration_lets_other_tasks_run() -> None:
    path = corpus_file("pcap/example.pcap")

    async def main() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        with pcapy.open_offline(path) as reader:
            count = len(await collect(reader))
        task.cancel()
        return count, ticks

    count, ticks = asyncio.run(main())
    assert ticks >= count // OFFLINE_BATCH


def test_offline_iteration_can_be_cancelled() -> None:
    path = corpus_file("pcap/example.pcap")

    async def main() -> int:
        seen = 0

        async def consume(reader: pcapy.Reader) -> None:
            nonlocal seen
            async for _ in reader:
                seen += 1
                if seen == OFFLINE_BATCH:
                    task.cancel()

        with pcapy.open_offline(path) as reader:
            task = asyncio.create_task(consume(reader))
            with pytest.raises(asyncio.CancelledError):
                await task
        return seen

    assert asyncio.run(main()) == OFFLINE_BATCH


def test_savefile_is_not_live() -> None:
    with pcapy.open_offline(corpus_file("pcap/tcp-handshake-nano.pcap")) as reader:
        assert reader.is_live is False


# -- a fake live handle on a pipe: the add_reader path without privileges ---------------------
class PipeCapture:
    """Just enough of a live Reader: each byte written to the pipe is a packet."""

    is_live = True
    closed = False

    class Engine:
        """The LiveCapture side ``async for`` watches: no breakloop() or close() comes."""

        break_requested = False
        closing = False

        def add_wakeup(self, callback: Callable[[], object]) -> None:
            pass

        def remove_wakeup(self, callback: Callable[[], object]) -> None:
            pass

    engine = Engine()

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.nonblocking = 0
        self.modes: list[int] = []

    def getfd(self) -> int:
        return self.read_fd

    def getnonblock(self) -> int:
        return self.nonblocking

    def setnonblock(self, state: int) -> None:
        self.nonblocking = state
        self.modes.append(state)
        os.set_blocking(self.read_fd, not state)

    def dispatch(self, cnt: int, callback: Callable[[pcapy.Pkthdr, bytes], object]) -> int:
        assert self.nonblocking, "dispatch would block the event loop"
        try:
            data = os.read(self.read_fd, 64)
        except BlockingIOError:
            return 0
        for index, byte in enumerate(data):
            callback(pcapy.Pkthdr(index, 0, 1, 1), bytes([byte]))
        return len(data)

    def send(self, data: bytes) -> None:
        os.write(self.write_fd, data)

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


def test_live_path_waits_with_add_reader_and_restores_blocking_mode() -> None:
    capture = PipeCapture()

    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, capture.send, b"ab")
        loop.call_later(0.10, capture.send, b"c")
        packets = aiter_packets(capture, capture.engine)  # type: ignore[arg-type]
        got = [data for _, data in await collect(packets, limit=3)]
        await packets.aclose()  # type: ignore[attr-defined]
        assert not loop.remove_reader(capture.read_fd)  # nothing left registered
        return got

    try:
        assert asyncio.run(main()) == [b"a", b"b", b"c"]
        assert capture.modes == [1, 0]
    finally:
        capture.close()


def test_live_path_cancellation_unregisters_the_descriptor() -> None:
    capture = PipeCapture()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(collect(aiter_packets(capture, capture.engine)))  # type: ignore[arg-type]
        # Once the task has made the pipe non-blocking and given the loop back, it waits in
        # add_reader on the idle "interface" (a pipe with nothing in it).
        deadline = time.monotonic() + 30
        while not capture.modes and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        assert capture.modes == [1]
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.5
        assert not loop.remove_reader(capture.read_fd)

    try:
        asyncio.run(main())
        assert capture.nonblocking == 0
    finally:
        capture.close()


class ThreadOnlyCapture:
    """A live handle without a selectable descriptor (as on Windows): read in a thread."""

    is_live = True
    engine = PipeCapture.engine

    def __init__(self, packets: list[bytes]) -> None:
        self.packets = packets
        self.timeouts = 0

    def getfd(self) -> int:
        return -1

    def next(self) -> tuple[pcapy.Pkthdr | None, bytes]:
        time.sleep(0.01)
        if not self.packets:
            self.timeouts += 1
            return None, b""  # the read timeout passed
        data = self.packets.pop(0)
        return pcapy.Pkthdr(1, 0, len(data), len(data)), data


def test_thread_fallback_skips_timeouts() -> None:
    capture = ThreadOnlyCapture([b"one", b"two"])

    async def main() -> list[bytes]:
        packets = aiter_packets(capture, capture.engine)  # type: ignore[arg-type]
        task = asyncio.create_task(collect(packets, limit=3))
        # two packets, then timeouts: the iteration reads on past them (the third never comes)
        deadline = time.monotonic() + 30
        while capture.timeouts < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert capture.timeouts >= 3
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return capture.packets

    assert asyncio.run(main()) == []


# -- a real capture on the loopback interface -----------------------------------------------
@pytest.mark.live
def test_live_async_capture_on_loopback() -> None:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("live capture needs root (CAP_NET_RAW and CAP_NET_ADMIN)")
    try:
        reader = pcapy.create("lo")
    except pcapy.PcapError as err:
        pytest.skip(f"live capture is not available here: {err}")
    port = 47_011

    async def burst() -> None:  # the capture is active, its filter set, before this runs
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(10):
                sock.sendto(b"pcapy-aio", ("127.0.0.1", port))
                await asyncio.sleep(0.01)

    async def main() -> list[bytes]:
        sender = asyncio.create_task(burst())
        packets = reader.__aiter__()
        got = await asyncio.wait_for(collect(packets, limit=5), 10)
        await packets.aclose()  # type: ignore[attr-defined]
        await sender
        return [data for _, data in got]

    try:
        reader.set_timeout(100)
        reader.set_immediate_mode(1)
        reader.activate()
        reader.setfilter(f"udp port {port}")
        assert reader.is_live
        datas = asyncio.run(main())
        assert [data[-9:] for data in datas] == [b"pcapy-aio"] * 5
        assert reader.getnonblock() == 0
    finally:
        reader.close()
