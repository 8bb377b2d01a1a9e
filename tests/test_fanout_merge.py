"""``pcapy.merge_by_time``: the workers' files of ``capture_parallel`` made one, by time stamp."""

from __future__ import annotations

from pathlib import Path

import pytest

import pcapy
from helpers import udp_frame


def write(path: Path, stamps: list[tuple[int, int]], tag: bytes, fmt: str = "pcapng") -> None:
    with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 65535, format=fmt) as dumper:
        for sec, usec in stamps:
            frame = udp_frame(b"%s %d.%06d" % (tag, sec, usec))
            dumper.dump(pcapy.Pkthdr(sec, usec, len(frame), len(frame)), frame)


def read(path: Path) -> list[tuple[pcapy.Pkthdr, bytes]]:
    with pcapy.open_offline(str(path)) as reader:
        return list(reader)


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "w0.pcapng", tmp_path / "w1.pcapng"
    write(first, [(10, 5), (10, 7), (12, 0), (13, 1)], b"a")
    write(second, [(9, 999999), (10, 7), (11, 0)], b"b")
    return [first, second]


def test_pcapng_output_is_ordered_and_keeps_each_inputs_interface(
        inputs: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "merged.pcapng"
    assert pcapy.merge_by_time(inputs, str(target)) == 7
    packets = read(target)
    assert [hdr.getts() for hdr, _ in packets] == [
        (9, 999999), (10, 5), (10, 7), (10, 7), (11, 0), (12, 0), (13, 1)]
    # equal time stamps keep the inputs' order: the first file's packet first
    assert [data[42:43] for _, data in packets] == [b"b", b"a", b"a", b"b", b"b", b"a", b"a"]
    by_source = {data[42:43]: {id(hdr.interface)} for hdr, data in packets}
    for hdr, data in packets:
        by_source[data[42:43]].add(id(hdr.interface))
    assert all(len(interfaces) == 1 for interfaces in by_source.values())
    assert by_source[b"a"] != by_source[b"b"]
    assert sorted(data for _, data in packets) == sorted(
        data for path in inputs for _, data in read(path))


def test_classic_pcap_output_and_the_dumpers_choice_by_name(
        inputs: list[Path], tmp_path: Path) -> None:
    for name, fmt in (("merged.pcap", "pcap"), ("by-name.pcap", None), ("by-name.pcapng", None)):
        target = tmp_path / name
        assert pcapy.merge_by_time(inputs, str(target), file_format=fmt) == 7
        with pcapy.open_offline(str(target)) as reader:
            assert reader.file_format == ("pcapng" if name.endswith(".pcapng") else "pcap")
            stamps = [hdr.getts() for hdr, _ in reader]
        assert stamps == sorted(stamps) and len(stamps) == 7


def test_no_inputs_give_an_empty_file_and_bad_inputs_raise(tmp_path: Path) -> None:
    target = tmp_path / "empty.pcapng"
    assert pcapy.merge_by_time([], str(target)) == 0
    assert read(target) == []
    (tmp_path / "junk").write_bytes(b"not a capture file at all")
    with pytest.raises(pcapy.UnknownFormatError):
        pcapy.merge_by_time([tmp_path / "junk"], str(tmp_path / "out.pcapng"))
