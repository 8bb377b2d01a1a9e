"""A savefile Reader shared between threads; close() from another thread (issue 12 item 6).

``next()`` and iteration take no lock (docs/api.md, Threads): a read that starts while another
thread is inside the same Reader's record loop raises ``ValueError("generator already
executing")`` and reads nothing, so threads that retry it get every packet exactly once
between them. Whole-call reads (``dispatch``, ``loop``, ``next_batch``) take turns. ``close()``
while another thread is blocked reading never closes the descriptor under that read: the
descriptor is closed when the read returns, and later calls raise the closed reader's
documented errors, never ``OSError: Bad file descriptor`` or a read on a descriptor number
reused by another file.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
import threading
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, udp_frame, wait_until_sleeping_in

COUNT = 20_000
COLLISION = "generator already executing"


def _capture(count: int = COUNT) -> bytes:
    return pcap_bytes([(1_700_000_000 + i, 0, udp_frame(i.to_bytes(4, "big")), 46)
                       for i in range(count)])


def _retrying(read):
    """``read()`` again while it collides with another thread's read (documented ValueError)."""
    while True:
        outcome = _attempt(read)
        if not isinstance(outcome, ValueError):
            return outcome
        assert COLLISION in str(outcome)


def _share(reader: pcapy.Reader, read_all) -> list[int]:
    seen: list[list[int]] = [[], [], [], []]
    errors: list[BaseException] = []

    def work(mine: list[int]) -> None:
        try:
            read_all(reader, mine)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in seen]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch inside the record loop: reads collide
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    return sorted(index for mine in seen for index in mine)


def _by_next(reader: pcapy.Reader, mine: list[int]) -> None:
    while True:
        hdr, _data = _retrying(reader.next)
        if hdr is None:
            return
        mine.append(hdr.getts()[0] - 1_700_000_000)


def _by_iteration(reader: pcapy.Reader, mine: list[int]) -> None:
    # A thread's iteration ends when another thread starts one (it takes over the rest).
    packets = _retrying(lambda: iter(reader))
    mine.extend(hdr.getts()[0] - 1_700_000_000 for hdr, _data in packets)


def _by_dispatch(reader: pcapy.Reader, mine: list[int]) -> None:
    def one_call() -> int:
        return reader.dispatch(7, lambda hdr, _data: mine.append(hdr.getts()[0] - 1_700_000_000))

    while _retrying(one_call):
        pass


_TURN = itertools.count()


def _by_next_and_dispatch(reader: pcapy.Reader, mine: list[int]) -> None:
    # Every other thread reads with next(), the others with dispatch(): the kinds interleave.
    if next(_TURN) % 2:
        _by_next(reader, mine)
    else:
        _by_dispatch(reader, mine)


@pytest.mark.parametrize(
    "read_all", [_by_next, _by_iteration, _by_dispatch, _by_next_and_dispatch]
)
def test_threads_sharing_a_savefile_reader_get_every_packet_once(read_all):
    reader = pcapy.open_offline(io.BytesIO(_capture()))
    assert _share(reader, read_all) == list(range(COUNT))


def test_a_next_during_another_threads_dispatch_raises_and_reads_nothing():
    reader = pcapy.open_offline(io.BytesIO(_capture(10)))
    seen: list[int] = []
    outcome: list[object] = []

    def read_now(hdr: pcapy.Pkthdr, _data: bytes) -> None:
        seen.append(hdr.getts()[0] - 1_700_000_000)
        if len(seen) == 2:  # inside the record loop: another thread reads
            other = threading.Thread(target=lambda: outcome.append(_attempt(reader.next)))
            other.start()
            other.join(timeout=60)

    assert reader.dispatch(4, read_now) == 4
    assert len(outcome) == 1
    assert isinstance(outcome[0], ValueError)
    assert COLLISION in str(outcome[0])
    assert seen == [0, 1, 2, 3]
    rest = [hdr.getts()[0] - 1_700_000_000 for hdr, _data in reader]
    assert rest == [4, 5, 6, 7, 8, 9]


def _attempt(read) -> object:
    try:
        return read()
    except ValueError as err:
        return err


def test_threads_reading_by_turns_with_a_collision_get_every_packet_once():
    reader = pcapy.open_offline(io.BytesIO(_capture()))
    assert _share(reader, _by_next_and_dispatch) == list(range(COUNT))
    assert reader.next() == (None, b"")


def test_close_from_another_thread_never_closes_the_descriptor_under_a_read(tmp_path: Path):
    if not Path("/proc/self/wchan").exists():
        pytest.skip("needs /proc/PID/wchan to see the reading thread block")
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    data = _capture(100)
    pipe_open = threading.Event()
    go_on = threading.Event()

    def write() -> None:
        with open(fifo, "wb", buffering=0) as pipe:
            pipe.write(data[:24 + 62 * 10])  # the header and ten records, then a pause
            pipe_open.set()
            go_on.wait(30)
            pipe.write(data[24 + 62 * 10 :])

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    reader = pcapy.open_offline(str(fifo))
    fd = reader.getfd()
    assert pipe_open.wait(30)
    outcome: list[object] = []

    def read() -> None:
        try:
            while reader.next()[0] is not None:
                pass
            outcome.append("end")
        except pcapy.PcapError as err:
            outcome.append(err)
        except BaseException as err:  # noqa: BLE001 - any other type is the failure
            outcome.append(err)

    thread = threading.Thread(target=read)
    thread.start()
    wait_until_sleeping_in(f"/proc/self/task/{thread.native_id}", ("pipe_read",))  # blocked
    reader.close()
    os.fstat(fd)  # still open: the blocked read owns it until it returns
    go_on.set()
    thread.join(30)
    writer.join(30)
    # The read in flight completes; then the documented errors of a closed reader: pcapy's
    # ValueError("pcap is closed") from the next call, or PcapError if the call in flight
    # needed another read.
    assert len(outcome) == 1, outcome
    assert type(outcome[0]) in (ValueError, pcapy.PcapError) and "closed" in str(outcome[0])
    with pytest.raises(OSError):  # closed by the reading thread, after its read
        os.fstat(fd)
