"""A savefile Reader shared between threads; close() from another thread (issue 12 item 6).

Reads take turns (a lock: about 0.2 us a ``next()`` on an idle machine, measured in
docs/api.md), so two threads sharing a Reader get every packet exactly once between them,
where one generator entered twice raised ``ValueError: generator already executing``. ``close()``
while another thread is blocked reading never closes the descriptor under that read: the
descriptor is closed when the read returns, and later calls raise the closed reader's
documented errors, never ``OSError: Bad file descriptor`` or a read on a descriptor number
reused by another file.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, udp_frame, wait_until_sleeping_in

COUNT = 20_000


def _capture(count: int = COUNT) -> bytes:
    return pcap_bytes([(1_700_000_000 + i, 0, udp_frame(i.to_bytes(4, "big")), 46)
                       for i in range(count)])


def _share(reader: pcapy.Reader, read_all) -> list[int]:
    seen: list[list[int]] = [[], [], [], []]
    errors: list[BaseException] = []

    def work(mine: list[int]) -> None:
        try:
            read_all(reader, mine)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(mine,)) for mine in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return sorted(index for mine in seen for index in mine)


def _by_next(reader: pcapy.Reader, mine: list[int]) -> None:
    while True:
        hdr, _data = reader.next()
        if hdr is None:
            return
        mine.append(hdr.getts()[0] - 1_700_000_000)


def _by_iteration(reader: pcapy.Reader, mine: list[int]) -> None:
    mine.extend(hdr.getts()[0] - 1_700_000_000 for hdr, _data in reader)


def _by_dispatch(reader: pcapy.Reader, mine: list[int]) -> None:
    while reader.dispatch(7, lambda hdr, _data: mine.append(hdr.getts()[0] - 1_700_000_000)):
        pass


@pytest.mark.parametrize("read_all", [_by_next, _by_iteration, _by_dispatch])
def test_threads_sharing_a_savefile_reader_get_every_packet_once(read_all):
    reader = pcapy.open_offline(io.BytesIO(_capture()))
    assert _share(reader, read_all) == list(range(COUNT))


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
