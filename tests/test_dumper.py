"""Dumper: round trips, tcpdump reading what we write, and pcapy's over-read fixed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import pcapy
from conftest import corpus_files
from helpers import NSEC_MAGIC, pcap_bytes, sample_records


def packets_of(path) -> list[tuple[pcapy.Pkthdr, bytes]]:
    with pcapy.open_offline(str(path)) as reader:
        return list(reader)


def copy_with_dumper(src: Path, dst: Path, **kwargs) -> None:
    with pcapy.open_offline(str(src)) as reader, reader.dump_open(str(dst), **kwargs) as dumper:
        for hdr, data in reader:
            dumper.dump(hdr, data)


def test_round_trip_is_identical(tmp_path: Path):
    src = tmp_path / "in.pcap"
    src.write_bytes(pcap_bytes(sample_records(20)))
    dst = tmp_path / "out.pcap"
    copy_with_dumper(src, dst)
    assert dst.read_bytes() == src.read_bytes()  # same header fields, same records


def test_nanoseconds_survive_a_round_trip(tmp_path: Path):
    src = tmp_path / "nano.pcap"
    src.write_bytes(pcap_bytes([(1, 999_999_999, b"x" * 10, 10), (2, 1, b"y", 5)], magic=NSEC_MAGIC))
    dst = tmp_path / "out.pcap"
    copy_with_dumper(src, dst, precision="nano")
    assert [h.getts_ns() for h, _ in packets_of(dst)] == [(1, 999_999_999), (2, 1)]
    usec = tmp_path / "usec.pcap"
    copy_with_dumper(src, usec)  # microseconds unless asked, as pcapy wrote them
    assert [h.getts() for h, _ in packets_of(usec)] == [(1, 999_999), (2, 0)]


@pytest.mark.parametrize("name", corpus_files("pcap", "pcap"))
def test_tcpdump_reads_our_copy_of_corpus_files_identically(corpus, tcpdump, tmp_path, name):
    src = corpus / name
    dst = tmp_path / "copy.pcap"
    with pcapy.open_offline(str(src)) as reader:
        precision = reader.get_tstamp_precision()  # the file's, asked for: a copy at full resolution
    copy_with_dumper(src, dst, precision=precision)
    args = [tcpdump, "-nn", "-tt", "--time-stamp-precision=nano", "-x", "-r"]
    original = subprocess.run([*args, str(src)], capture_output=True, check=False)
    copied = subprocess.run([*args, str(dst)], capture_output=True, check=False)
    assert copied.returncode == original.returncode, copied.stderr  # tcpdump lacks some link types
    assert copied.stdout == original.stdout


def test_short_data_is_never_over_read(tmp_path: Path):
    path = tmp_path / "short.pcap"
    with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 65535) as dumper:
        dumper.dump(pcapy.Pkthdr(1, 2, 96, 96), b"0123456789")  # pcapy wrote 96 bytes here
        dumper.dump(pcapy.Pkthdr(1, 3, 4, 96), b"0123456789")  # longer data: caplen bytes kept
    (h1, d1), (h2, d2) = packets_of(path)
    assert (h1.getcaplen(), h1.getlen(), d1) == (10, 96, b"0123456789")
    assert (h2.getcaplen(), h2.getlen(), d2) == (4, 96, b"0123")


def test_bytes_like_data_and_built_headers(tmp_path: Path):
    path = tmp_path / "b.pcap"
    with pcapy.Dumper(path) as dumper:
        dumper.dump(pcapy.Pkthdr(1, 0, 3, 3), bytearray(b"abc"))
        dumper.dump(pcapy.Pkthdr(2, 0, 3, 3), memoryview(b"def"))
    assert [d for _, d in packets_of(path)] == [b"abc", b"def"]


def test_dump_rejects_wrong_types_and_closed_dumper(tmp_path: Path):
    dumper = pcapy.Dumper(tmp_path / "x.pcap")
    with pytest.raises(pcapy.PcapError, match="Not a pkthdr object"):
        dumper.dump((1, 2, 3, 4), b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        dumper.dump(pcapy.Pkthdr(1, 2, 3, 3), "abc")  # type: ignore[arg-type]
    dumper.close()
    dumper.close()
    with pytest.raises(pcapy.PcapError, match="Dumper is already closed."):
        dumper.dump(pcapy.Pkthdr(1, 2, 3, 3), b"abc")


def test_flush_makes_packets_readable_by_another_reader(tmp_path: Path):
    path = tmp_path / "live.pcap"
    dumper = pcapy.Dumper(path)
    for i in range(3):
        dumper.dump(pcapy.Pkthdr(i, 0, 1, 1), b"z")
    dumper.flush()
    assert len(packets_of(path)) == 3
    dumper.close()


def test_garbage_collected_dumper_leaves_a_complete_file(tmp_path: Path):
    path = tmp_path / "gc.pcap"
    dumper = pcapy.Dumper(path)
    dumper.dump(pcapy.Pkthdr(1, 0, 1, 1), b"z")
    del dumper
    assert len(packets_of(path)) == 1


def test_dump_open_errors(tmp_path: Path):
    src = tmp_path / "in.pcap"
    src.write_bytes(pcap_bytes(sample_records(1)))
    reader = pcapy.open_offline(str(src))
    with pytest.raises(pcapy.PcapError, match="No such file or directory"):
        reader.dump_open(str(tmp_path / "missing-dir" / "out.pcap"))
    with pytest.raises(TypeError):
        reader.dump_open(42)  # type: ignore[arg-type]


def test_standalone_dumper_arguments_are_checked(tmp_path: Path):
    with pytest.raises(ValueError, match="snaplen"):
        pcapy.Dumper(tmp_path / "a.pcap", pcapy.DLT_EN10MB, 0)
    with pytest.raises(TypeError):
        pcapy.Dumper(tmp_path / "a.pcap", "1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision"):
        pcapy.Dumper(tmp_path / "a.pcap", precision="pico")
