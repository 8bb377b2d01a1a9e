"""What ``dump_open`` writes: microseconds unless asked, and the source's ``thiszone``.

pcapy and pcapy-ng write microsecond files whatever they read (libpcap's ``pcap_dump_open`` on a
handle opened with microsecond precision), and programs reading the copies expect that: dpkt
returns ``Decimal`` time stamps for nanosecond files. Full resolution is there when asked for:
``dump_open(precision='nano')``, or a capture opened with nanosecond precision (issue 11,
item 3). The header's ``thiszone`` is 0, as libpcap 1.10 and master write it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import pcapy
from conftest import is_root
from helpers import NSEC_MAGIC, USEC_MAGIC, pcap_bytes, udp_frame

FRAME = udp_frame(b"nanoseconds")
NANOS = (123_456_789, 999_999_999, 1)


def header_fields(path: Path) -> tuple[int, int]:
    """(magic, thiszone) of a little-endian classic pcap file."""
    magic, _major, _minor, thiszone = struct.unpack("<IHHi", path.read_bytes()[:12])
    return magic, thiszone


def nanosecond_file(tmp_path: Path, thiszone: int = 0) -> Path:
    records = [(1_700_000_000 + i, nsec, FRAME, len(FRAME)) for i, nsec in enumerate(NANOS)]
    data = bytearray(pcap_bytes(records, magic=NSEC_MAGIC))
    struct.pack_into("<i", data, 8, thiszone)
    path = tmp_path / "nano.pcap"
    path.write_bytes(bytes(data))
    return path


def copy(source: Path, target: Path, **kwargs: object) -> list[tuple[int, int]]:
    with pcapy.open_offline(str(source)) as reader, reader.dump_open(str(target), **kwargs) as out:
        reader.loop(-1, out.dump)
    with pcapy.open_offline(str(target)) as copied:
        return [hdr.getts_ns() for hdr, _ in copied]


def test_nanosecond_file_is_copied_in_microseconds(tmp_path: Path) -> None:
    times = copy(nanosecond_file(tmp_path), tmp_path / "out.pcap")
    assert header_fields(tmp_path / "out.pcap")[0] == USEC_MAGIC
    assert times == [(1_700_000_000 + i, nsec // 1000 * 1000) for i, nsec in enumerate(NANOS)]


def test_full_resolution_when_asked(tmp_path: Path) -> None:
    times = copy(nanosecond_file(tmp_path), tmp_path / "out.pcap", precision="nano")
    assert header_fields(tmp_path / "out.pcap")[0] == NSEC_MAGIC
    assert times == [(1_700_000_000 + i, nsec) for i, nsec in enumerate(NANOS)]


def test_pcapng_source_is_copied_in_microseconds(tmp_path: Path) -> None:
    source = tmp_path / "nano.pcapng"
    with pcapy.open_offline(str(nanosecond_file(tmp_path))) as reader, reader.dump_open(
            str(source), precision="nano") as out:
        reader.loop(-1, out.dump)
    times = copy(source, tmp_path / "out.pcap")
    assert header_fields(tmp_path / "out.pcap")[0] == USEC_MAGIC
    assert [nsec for _, nsec in times] == [nsec // 1000 * 1000 for nsec in NANOS]


def test_thiszone_is_written_as_libpcap_writes_it(tmp_path: Path) -> None:
    """libpcap copied the source's thiszone until 1.9; since 1.10 (commit 5f2a5c03, "Set
    always 'time zone offset' field to zero", as pcap-savefile(5) says) it writes 0."""
    source = nanosecond_file(tmp_path, thiszone=-3600)
    copy(source, tmp_path / "out.pcap")
    assert header_fields(tmp_path / "out.pcap") == (USEC_MAGIC, 0)
    tcpdump = shutil.which("tcpdump")
    if tcpdump is not None:  # libpcap's own copy (pcap_dump_open) says the same
        subprocess.run([tcpdump, "-r", str(source), "-w", str(tmp_path / "tcpdump.pcap")],
                       capture_output=True, check=True, timeout=60)
        assert header_fields(tmp_path / "tcpdump.pcap") == header_fields(tmp_path / "out.pcap")


@pytest.mark.live
@pytest.mark.skipif(not is_root(), reason=f"live capture needs root; uid {os.geteuid()}")
@pytest.mark.usefixtures("libpcap")
@pytest.mark.parametrize(("asked", "magic"), [(None, USEC_MAGIC),
                                               (pcapy.PCAP_TSTAMP_PRECISION_NANO, NSEC_MAGIC)])
def test_capture_dumps_at_the_precision_it_was_opened_with(tmp_path: Path, asked, magic) -> None:
    with pcapy.create("lo") as reader:
        if asked is not None:
            assert reader.set_tstamp_precision(asked) == 0
        assert reader.activate() >= 0
        reader.dump_open(str(tmp_path / "live.pcap")).close()
    assert header_fields(tmp_path / "live.pcap")[0] == magic
