"""Reader.to_arrow: the same packets as the serial read, the schema, columns, filters, engines."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

import pcapy
from helpers import pcap_bytes, pcapng_block, pcapng_option, sample_records
from pcapy import arrow
from tables.tables_helpers import CORPUS, corpus_paths, serial_read, table_rows

pa = pytest.importorskip("pyarrow")

ALL_WITH_RAW_TIME = (*arrow.COLUMNS,)


def columns_for(reader: pcapy.Reader) -> list[str]:
    return [*arrow.schema(reader.file_format).names, "ts_sec", "ts_frac"]


def test_import_pcapy_does_not_import_pyarrow_or_numpy():
    code = ("import sys, pcapy; pcapy.split; pcapy.read_range; "
            "bad = [m for m in ('pyarrow', 'numpy', 'dask', 'duckdb', 'polars') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", corpus_paths("pcap", "pcapng", "broken"))
def test_corpus_rows_are_the_serial_read(name):
    path = CORPUS / name
    expected, error = serial_read(path)
    # many batches a file, at least 40 (the write-back tests read with the default 65536)
    batch_size = max(3, len(expected) // 40)
    rows, got_error = [], None
    try:
        reader = pcapy.open_offline(path)
        stream = reader.to_arrow(batch_size=batch_size, columns=columns_for(reader))
        for batch in stream:
            assert batch.num_rows <= batch_size
            rows += table_rows([batch])
    except pcapy.PcapError as err:
        got_error = type(err).__name__
    assert got_error == error
    assert rows == expected


def test_microsecond_file_is_scaled_exactly_and_metadata_has_the_header(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(sample_records(4), snaplen=1234))
    table = pcapy.open_offline(path).to_arrow().read_all()
    assert table.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    assert [t.value for t in table.column("ts").to_pylist()] == [
        (1700000000 + i) * 10**9 + i * 1000 * 1000 for i in range(4)]
    meta = json.loads(table.schema.metadata[b"pcapy"])
    assert meta["snaplen"] == 1234 and meta["format"] == "pcap" and meta["nanosecond"] is False
    assert table.column("dport").to_pylist() == [80, 81, 82, 83]
    assert table.column("src").to_pylist() == ["10.0.0.1"] * 4
    assert table.column("eth_dst").to_pylist() == ["00:11:22:33:44:55"] * 4


def test_schema_types():
    schema = arrow.schema("pcapng")
    assert schema.field("caplen").type == pa.uint32()
    assert schema.field("len").type == pa.uint32()
    assert schema.field("data").type == pa.binary_view()
    assert schema.field("vlan").type == pa.list_(pa.uint16())
    assert pa.types.is_dictionary(schema.field("src").type)
    assert pa.types.is_dictionary(schema.field("interface").type)
    assert "interface_id" not in arrow.schema("pcap").names
    assert "src" not in arrow.schema("pcap", decode=False).names


def test_columns_are_chosen_and_checked(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(sample_records(3)))
    table = pcapy.open_offline(path).to_arrow(columns=["dport", "ts"]).read_all()
    assert table.schema.names == ["dport", "ts"]
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        pcapy.open_offline(path).to_arrow(columns=["nope"])
    with pytest.raises(ValueError, match="classic pcap"):
        pcapy.open_offline(path).to_arrow(columns=["interface_id"])
    with pytest.raises(ValueError, match="decode=False"):
        pcapy.open_offline(path).to_arrow(columns=["src"], decode=False)
    with pytest.raises(ValueError, match="batch_size"):
        pcapy.open_offline(path).to_arrow(batch_size=0)


@pytest.mark.usefixtures("libpcap")
def test_setfilter_applies_before_rows_are_built():
    path = CORPUS / "pcap" / "example.pcap"
    reader = pcapy.open_offline(path)
    reader.setfilter("udp port 53")
    expected = [bytes(data) for _, data in reader]
    assert expected  # the file has DNS packets
    reader = pcapy.open_offline(path)
    reader.setfilter("udp port 53")
    table = reader.to_arrow().read_all()
    assert table.column("data").to_pylist() == expected
    assert set(table.column("ip_proto").to_pylist()) == {17}


def test_reading_continues_from_where_the_reader_is(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_bytes(sample_records(6)))
    reader = pcapy.open_offline(path)
    reader.next()
    reader.next()
    table = reader.to_arrow(columns=["dport"]).read_all()
    assert table.column("dport").to_pylist() == [82, 83, 84, 85]


def test_closed_reader_refuses():
    reader = pcapy.open_offline(CORPUS / "pcap" / "example.pcap")
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.to_arrow()


def test_to_parquet_and_engines(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    path = CORPUS / "pcap" / "example.pcap"
    out = tmp_path / "x.parquet"
    rows = pcapy.to_parquet(path, out)
    expected, _ = serial_read(path)
    assert rows == len(expected)
    table = pq.read_table(out)
    assert table.column("data").to_pylist() == [p[4] for p in expected]
    total = duckdb.sql(f"select count(*), sum(len) from '{out}'").fetchall()[0]
    assert total == (len(expected), sum(p[3] for p in expected))
    frame = pl.read_parquet(out)
    dns = frame.filter(pl.col("dport") == 53).height
    assert dns == sum(1 for p in expected if p[4][12:14] == b"\x08\x00" and p[4][23] == 17
                      and p[4][36:38] == b"\x00\x35")


def test_missing_pyarrow_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['pyarrow'] = None; import pcapy\n"
            f"r = pcapy.open_offline({str(CORPUS / 'pcap' / 'example.pcap')!r})\n"
            "try:\n    r.to_arrow()\nexcept ModuleNotFoundError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install 'pcapy-cffi[arrow]'" in result.stdout, result.stderr


def test_a_packet_whose_options_cannot_be_read_is_a_row_with_null_flags_and_comment(tmp_path):
    # libpcap does not read a packet's options, and next() gives the packet (its options raise
    # when asked for): the rows are every packet, that one's flags and comment null
    def packet(options: bytes) -> bytes:
        body = struct.pack("<IIIII", 0, 0, 1, 4, 4) + b"abcd" + options
        return pcapng_block(6, body)

    good = pcapng_option(2, struct.pack("<I", 1)) + pcapng_option(1, b"hi") + bytes(4)
    broken = pcapng_option(2, struct.pack("<I", 2)) + struct.pack("<HH", 0, 3) + bytes(4)
    path = tmp_path / "options.pcapng"
    path.write_bytes(pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                     + pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
                     + packet(good) + packet(broken) + packet(good))
    expected, error = serial_read(path)
    assert error is None and len(expected) == 3
    reader = pcapy.open_offline(path)
    with pytest.raises(pcapy.PcapError, match="opt_endofopt"):
        [hdr.options.flags for hdr, _ in reader]
    table = pcapy.open_offline(path).to_arrow(
        columns=["ts", "data", "flags", "comment"]).read_all()
    assert table.column("data").to_pylist() == [b"abcd"] * 3
    assert table.column("flags").to_pylist() == [1, None, 1]
    assert table.column("comment").to_pylist() == ["hi", None, "hi"]
