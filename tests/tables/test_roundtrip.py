"""write_arrow: file -> Arrow -> file gives the same file (classic pcap) or the same packets (pcapng)."""

from __future__ import annotations

import struct

import pytest

import pcapy
from pcapy import arrow
from tables.tables_helpers import CORPUS, corpus_paths, serial_read

pa = pytest.importorskip("pyarrow")


def clipped_records(path) -> int:
    """Records whose stored caplen exceeds the snapshot length: libpcap (and pcapy) clip them,
    so a copy cannot hold their cut-off bytes. Counted from the raw record headers."""
    reader = pcapy.open_offline(path)
    header = reader.file_header
    data = path.read_bytes()
    record = header.record_struct
    position, clipped = 24, 0
    while position + record.size <= len(data):
        caplen = record.unpack_from(data, position)[2]
        clipped += caplen > reader.snapshot()
        position += record.size + caplen
    return clipped


def copy_through_arrow(path, tmp_path, suffix):
    reader = pcapy.open_offline(path)
    columns = [*arrow.schema(reader.file_format).names, "ts_sec", "ts_frac"]
    table = reader.to_arrow(columns=columns).read_all()
    out = tmp_path / f"copy.{suffix}"
    assert pcapy.write_arrow(table, out) == table.num_rows
    return out


@pytest.mark.parametrize("name", corpus_paths("pcap"))
def test_classic_pcap_is_byte_identical(name, tmp_path):
    path = CORPUS / name
    if pcapy.open_offline(path).file_format != "pcap":
        pytest.skip("a pcapng file with a .pcap name: covered by the pcapng test")
    out = copy_through_arrow(path, tmp_path, "pcap")
    if clipped_records(path):
        assert serial_read(out) == serial_read(path)  # the packets libpcap reads, clipped
    else:
        assert out.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name", [n for n in corpus_paths("pcapng") if n.endswith("ng")]
                         + [n for n in corpus_paths("pcapng") if not n.endswith("ng")])
def test_pcapng_is_packet_identical_with_interfaces(name, tmp_path):
    path = CORPUS / name
    expected, error = serial_read(path)
    if error is not None and not expected:
        with pytest.raises(pcapy.PcapError):
            copy_through_arrow(path, tmp_path, "pcapng")
        return
    out = copy_through_arrow(path, tmp_path, "pcapng")
    assert serial_read(out) == (expected, None)


def test_pcapng_keeps_flags_and_comments(tmp_path):
    # a pcapng file with comments and flags from the corpus, when the corpus has one
    for name in corpus_paths("pcapng"):
        try:
            reader = pcapy.open_offline(CORPUS / name)
            packets = [(h.comment, h.options.flags if h.options else None) for h, _ in reader]
        except pcapy.PcapError:
            continue
        if any(c is not None for c, _ in packets) and any(f is not None for _, f in packets):
            out = copy_through_arrow(CORPUS / name, tmp_path, "pcapng")
            copied = [(h.comment, h.options.flags if h.options else None)
                      for h, _ in pcapy.open_offline(out)]
            assert copied == packets
            return
    pytest.fail("no corpus pcapng file has both packet comments and flags")


def test_write_from_plain_columns(tmp_path):
    table = pa.table({
        "ts": pa.array([1_700_000_000_123_456_789, 1_700_000_001_000_000_000],
                       pa.timestamp("ns", tz="UTC")),
        "caplen": pa.array([3, 2], pa.uint32()), "len": pa.array([60, 2], pa.uint32()),
        "data": pa.array([b"abc", b"de"]),
    })
    pcapy.write_arrow(table, tmp_path / "a.pcap")
    pcapy.write_arrow(table, tmp_path / "a.pcapng")
    for name in ("a.pcap", "a.pcapng"):
        packets, error = serial_read(tmp_path / name)
        assert error is None
        assert [(p[0], p[1], p[2], p[3], p[4]) for p in packets] == [
            (1_700_000_000, 123_456_789, 3, 60, b"abc"), (1_700_000_001, 0, 2, 2, b"de")]
    with pytest.raises(ValueError, match="needs the columns"):
        pcapy.write_arrow(table.drop_columns(["data"]), tmp_path / "b.pcap")
    assert struct.unpack("<I", (tmp_path / "a.pcap").read_bytes()[:4])[0] == 0xA1B23C4D
