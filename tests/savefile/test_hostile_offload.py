"""``setfilter()`` never reopens a file by name (issue 12 item 3).

The libpcap offload reads from a duplicate of the descriptor already open, positioned by seek,
and only for a regular file; anything else is filtered in Python. Before: after a rename-over
the reader returned the new file's packets (990 of 990), and on a FIFO libpcap stole bytes from
the pipe (862 of 2,999 packets, then a spurious MalformedSavefileError).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, udp_frame
from pcapy import _offload

pytestmark = pytest.mark.usefixtures("libpcap")


def _capture(count: int, tag: bytes, first_second: int = 1_700_000_000) -> bytes:
    records = []
    for i in range(count):
        frame = udp_frame(tag + i.to_bytes(4, "big"), dport=80 if i % 3 else 53)
        records.append((first_second + i, 0, frame, len(frame)))
    return pcap_bytes(records)


def _tags(packets) -> set[bytes]:
    return {data[42:43] for _hdr, data in packets}


@pytest.fixture(autouse=True)
def offload_allowed(monkeypatch):
    monkeypatch.delenv(_offload.ENV_PURE, raising=False)


def test_a_file_renamed_over_mid_read_keeps_being_read(tmp_path: Path):
    path = tmp_path / "capture.pcap"
    path.write_bytes(_capture(1000, b"A"))
    with pcapy.open_offline(str(path)) as reader:
        first = [reader.next() for _ in range(10)]
        replacement = tmp_path / "new.pcap"
        replacement.write_bytes(_capture(1000, b"B", first_second=1_800_000_000))
        os.replace(replacement, path)  # log rotation, an atomic save
        reader.setfilter("udp port 80")
        assert type(reader._source._records).__name__ == "OffloadedRecords"  # libpcap filters
        rest = list(reader)
    assert _tags(first) == _tags(rest) == {b"A"}
    expected = [i for i in range(10, 1000) if i % 3]
    assert [hdr.getts()[0] - 1_700_000_000 for hdr, _data in rest] == expected


def test_a_fifo_is_filtered_in_python_and_loses_nothing(tmp_path: Path):
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    data = _capture(2999, b"F")
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with open(fifo, "wb") as pipe:
                pipe.write(data)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            failures.append(err)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with pcapy.open_offline(str(fifo)) as reader:
        first = reader.next()
        reader.setfilter("udp")
        assert type(reader._source._records).__name__ != "OffloadedRecords"
        rest = list(reader)
    writer.join(timeout=30)
    assert not writer.is_alive() and not failures
    assert first[0] is not None and len(rest) == 2998
    assert _tags(rest) == {b"F"}


def test_libpcap_reads_from_the_position_of_the_descriptor_it_was_given(tmp_path: Path):
    # A filter set, changed and removed mid-file: every packet once, in order, through the
    # shared descriptor (libpcap's duplicate moves the same file position).
    path = tmp_path / "capture.pcap"
    path.write_bytes(_capture(3000, b"P"))
    with pcapy.open_offline(str(path)) as reader:
        seen = [reader.next()[0].getts()[0] for _ in range(5)]
        reader.setfilter("udp port 80")
        seen += [reader.next()[0].getts()[0] for _ in range(100)]
        reader.setfilter("udp")
        seen += [hdr.getts()[0] for hdr, _data in reader]
    indexes = [second - 1_700_000_000 for second in seen]
    assert indexes == sorted(set(indexes))
    assert indexes[-1] == 2999


def test_offloaded_damage_is_reported_as_the_python_engine_reports_it(tmp_path: Path):
    # A record cut short after a filter change: libpcap's stream, closed later, never moves the
    # position pcapy reads the file at (fuzzing found "only got 92" for "only got 38").
    data = _capture(500, b"D")
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-20])
    outcomes = []
    for pure in ("1", ""):
        os.environ[_offload.ENV_PURE] = pure
        try:
            with pcapy.open_offline(str(path)) as reader:
                reader.setfilter("udp port 80")
                reader.next()
                reader.setfilter("udp")
                with pytest.raises(pcapy.TruncatedSavefileError) as info:
                    list(reader)
                outcomes.append(str(info.value))
        finally:
            os.environ.pop(_offload.ENV_PURE, None)
    assert outcomes[0] == outcomes[1]
