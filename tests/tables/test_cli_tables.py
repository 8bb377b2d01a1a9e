"""``pcapy convert`` and ``pcapy query``: Parquet out, SQL answers, a progress bar on terminals only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import pcapy_on_terminal
from tables.tables_helpers import CORPUS, serial_read

pq = pytest.importorskip("pyarrow.parquet")

ENV = {**os.environ, "TZ": "UTC"}
EXAMPLE = CORPUS / "pcap" / "example.pcap"


def pcapy_cmd(*args: str, stderr=subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pcapy", *args], stdout=subprocess.PIPE,
                          stderr=stderr, env=ENV, timeout=120, check=False)


def test_convert_writes_the_packets(tmp_path):
    out = tmp_path / "x.parquet"
    result = pcapy_cmd("convert", str(EXAMPLE), "-o", str(out), "--columns", "ts,len,data")
    assert result.returncode == 0, result.stderr
    expected, _ = serial_read(EXAMPLE)
    assert result.stderr.decode() == f"pcapy: {len(expected)} packets written to {out}\n"
    table = pq.read_table(out)
    assert table.schema.names == ["ts", "len", "data"]
    assert table.column("data").to_pylist() == [p[4] for p in expected]


@pytest.mark.usefixtures("libpcap")
def test_convert_with_a_filter_expression(tmp_path, tcpdump):
    out = tmp_path / "x.parquet"
    result = pcapy_cmd("convert", str(EXAMPLE), "-o", str(out), "udp", "port", "53")
    assert result.returncode == 0, result.stderr
    count = subprocess.run([tcpdump, "--count", "-r", str(EXAMPLE), "udp port 53"],
                           capture_output=True, check=True).stdout.split()[0]
    assert pq.read_table(out).num_rows == int(count)


def test_convert_refuses_unknown_columns(tmp_path):
    result = pcapy_cmd("convert", str(EXAMPLE), "-o", str(tmp_path / "x.parquet"),
                       "--columns", "ts,nope")
    assert result.returncode == 1
    assert b"pcapy: unknown column 'nope'" in result.stderr


def test_query_answers_sql():
    pytest.importorskip("duckdb")
    files = [str(EXAMPLE), str(CORPUS / "pcap" / "tcp-handshake-nano.pcap")]
    result = pcapy_cmd("query", *files, "select count(*) as n, sum(len) as bytes from packets")
    assert result.returncode == 0, result.stderr
    packets = serial_read(files[0])[0] + serial_read(files[1])[0]
    assert result.stdout.decode() == f"n\tbytes\n{len(packets)}\t{sum(p[3] for p in packets)}\n"
    bad = pcapy_cmd("query", files[0], "select nope from packets")
    assert bad.returncode == 1 and bad.stderr.startswith(b"pcapy: query: ")


@pytest.mark.parametrize("command", ["query", "convert"])
def test_a_damaged_file_is_one_line_of_error_not_a_traceback(tmp_path, command):
    # DuckDB reads the packets: what the stream raised comes back inside a DuckDB error whose
    # text holds a Python traceback; the command reports the file's own error instead.
    if command == "query":
        pytest.importorskip("duckdb")
    damaged = CORPUS / "broken" / "aoe-oobr-1.pcap"
    args = (["query", str(damaged), "select count(*) from packets"] if command == "query"
            else ["convert", str(damaged), "-o", str(tmp_path / "x.parquet")])
    result = pcapy_cmd(*args)
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "pcapy: truncated dump file; tried to read 8704 captured bytes, only got 1114\n")
    assert result.stdout == b""


def test_query_without_duckdb_names_the_extra():
    code = ("import sys; sys.modules['duckdb'] = None\nfrom pcapy._cli import main\n"
            f"sys.exit(main(['query', {str(EXAMPLE)!r}, 'select 1']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 1
    assert b"pcapy query needs duckdb: pip install 'pcapy-cffi[sql]'" in result.stderr


def drawn_on_terminal(*args: str) -> tuple[int, bytes]:
    return pcapy_on_terminal(*args, env=ENV)


def test_progress_bar_on_a_terminal_only(tmp_path):
    status, drawn = drawn_on_terminal("convert", str(EXAMPLE), "-o", str(tmp_path / "x.parquet"),
                                      "--batch-size", "500")
    assert status == 0
    assert b"\r[" in drawn and b"example.pcap" in drawn and b"%" in drawn
    piped = pcapy_cmd("convert", str(EXAMPLE), "-o", str(tmp_path / "y.parquet"))
    assert b"\r[" not in piped.stderr and b"%" not in piped.stderr
