"""Writing to a full disk, to /dev/full, to half a file object (issue 12 item 6, the Dumper).

A write that fails raises ``DumpError`` (a ``PcapError`` and an ``OSError`` with the errno) at
the call whose data could not be written, the constructor included, and again at every later
call; a file object the Dumper cannot flush is refused up front.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
from pathlib import Path

import pytest

import pcapy
from helpers import udp_frame

HEADER = pcapy.Pkthdr(1_700_000_000, 0, 60, 60)
PACKET = udp_frame(b"x" * 18)


def test_dev_full_fails_in_the_constructor():
    with pytest.raises(pcapy.DumpError) as info:
        pcapy.Dumper("/dev/full")
    assert info.value.errno == errno.ENOSPC
    assert isinstance(info.value, OSError) and isinstance(info.value, pcapy.PcapError)
    assert "/dev/full" in str(info.value)


@pytest.mark.parametrize("file_format", ["pcap", "pcapng"])
def test_dev_full_fails_at_the_dump_that_flushes(file_format):
    with open("/dev/full", "wb", buffering=0) as raw:
        buffered = io.BufferedWriter(raw, 4096)
        with pytest.raises(pcapy.DumpError):
            pcapy.Dumper(buffered, format=file_format)


class _WriteOnly:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def test_a_file_object_without_flush_is_refused_up_front():
    with pytest.raises(pcapy.PcapError, match="has no flush"):
        pcapy.Dumper(_WriteOnly())


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 64 KiB tmpfs under tmp_path (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
                   check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


@pytest.mark.parametrize("file_format", ["pcap", "pcapng"])
def test_a_full_disk_raises_at_the_dump_that_lost_data_and_after(tiny_disk: Path, file_format):
    path = tiny_disk / f"out.{file_format}"
    dumper = pcapy.Dumper(str(path), format=file_format)
    dumped = 0
    failure = None
    for _ in range(100_000):
        try:
            dumper.dump(HEADER, PACKET)
        except pcapy.DumpError as err:
            failure = err
            break
        dumped += 1
    assert failure is not None and failure.errno == errno.ENOSPC
    assert 0 < dumped < 100_000
    # Every later call says so too: nothing is silently dropped.
    with pytest.raises(pcapy.DumpError):
        dumper.dump(HEADER, PACKET)
    with pytest.raises(pcapy.DumpError):
        dumper.flush()
    dumper.close()  # already reported: closing the cut file raises nothing more
    # What the file holds is a prefix of what was dumped before the failure.
    count = 0
    with pcapy.open_offline(str(path)) as reader, contextlib.suppress(
        pcapy.TruncatedSavefileError  # it may end in a cut record
    ):
        while True:
            hdr, data = reader.next()
            if hdr is None:
                break
            assert data == PACKET
            count += 1
    assert 0 < count <= dumped


def test_a_full_disk_at_close_raises_from_close(tiny_disk: Path):
    # Fill the disk so that the header fits but the buffered packets do not.
    (tiny_disk / "filler").write_bytes(b"\0" * (64 * 1024 - 4096))
    dumper = pcapy.Dumper(str(tiny_disk / "out.pcap"))
    for _ in range(60):  # 60 * 76 bytes: stays in the 64 KiB buffer
        dumper.dump(HEADER, PACKET)
    with pytest.raises(pcapy.DumpError) as info:
        dumper.close()
    assert info.value.errno == errno.ENOSPC
