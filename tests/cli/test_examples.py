"""The scripts in examples/, run as a user would run them, on corpus files and on lo."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import pcapy
from helpers import udp_burst

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_file(name: str) -> str:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the conformance corpus is not at {CORPUS} (need {name})")
    return str(path)


def run_example(name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def needs_live_capture() -> None:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("live capture needs root (CAP_NET_RAW and CAP_NET_ADMIN)")
    try:
        pcapy.create("lo").close()
    except pcapy.PcapError as err:
        pytest.skip(f"live capture is not available here: {err}")


def example_burst(port: int) -> threading.Thread:
    """Datagrams to 127.0.0.1:port only, after the example has had time to start."""
    return udp_burst(port, count=20, delay=1.0, gap=0.05, payload=b"example")


def test_every_example_has_a_docstring_and_a_main_guard() -> None:
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert {p.name for p in scripts} >= {"sniffer.py", "split_flows.py", "merge_pcapng.py",
                                         "async_capture.py", "decode_with_dpkt.py"}
    for script in scripts:
        source = script.read_text()
        assert source.startswith('"""'), script.name
        assert 'if __name__ == "__main__":' in source, script.name


def test_split_flows(tmp_path: Path) -> None:
    source = corpus_file("pcap/example.pcap")
    result = run_example("split_flows.py", source, str(tmp_path))
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.iterdir())
    assert len(files) == len(result.stdout.splitlines()) > 10
    total = 0
    for path in files:
        with pcapy.open_offline(str(path)) as reader:
            packets = list(reader)
        total += len(packets)
        if path.name == "other.pcap":
            continue
        proto, first, second = path.stem.split("_", 2)[0], *path.stem.split("__")
        port_a, port_b = first.rsplit("_", 1)[1], second.rsplit("_", 1)[1]
        with pcapy.open_offline(str(path)) as reader:
            reader.setfilter(f"{proto} and port {port_a} and port {port_b}")
            assert len(list(reader)) == len(packets)
    assert total == 4631


def test_merge_pcapng(tmp_path: Path) -> None:
    inputs = [corpus_file("pcap/tcp-handshake-nano.pcap"), corpus_file("pcap/example.pcap"),
              corpus_file("pcap/LINKTYPE_IPV4.pcap")]
    out = tmp_path / "merged.pcapng"
    result = run_example("merge_pcapng.py", str(out), *inputs)
    if "No module named" in result.stderr:
        pytest.skip("this pcapy cannot write pcapng yet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4635 packets from 3 files")
    with pcapy.open_offline(str(out)) as reader:
        packets = list(reader)
    stamps = [hdr.ts_ns for hdr, _ in packets]
    assert stamps == sorted(stamps)
    linktypes = {hdr.interface.dlt for hdr, _ in packets if hdr.interface is not None}
    assert linktypes == {pcapy.DLT_EN10MB, pcapy.DLT_LINUX_SLL, pcapy.DLT_IPV4}
    interfaces = {id(hdr.interface) for hdr, _ in packets}
    assert len(interfaces) == 3  # one per source, each with its own link type


def test_decode_with_dpkt_or_scapy_or_neither() -> None:
    source = corpus_file("pcap/example.pcap")
    result = run_example("decode_with_dpkt.py", source, "-c", "3")
    assert result.returncode == 0, result.stderr
    have_library = any(importlib.util.find_spec(name) for name in ("dpkt", "scapy"))
    if have_library:
        assert len(result.stdout.splitlines()) == 3
    else:
        assert "neither dpkt nor scapy is installed" in result.stdout


def test_async_capture_reads_a_file() -> None:
    source = corpus_file("pcap/example.pcap")
    result = run_example("async_capture.py", "-r", source, "-c", "4", "udp port 53")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    assert lines[-1].startswith("4 packets, ticker ran")


def test_sniffer_reports_errors_in_one_line() -> None:
    result = run_example("sniffer.py", "-i", "nosuchdevice0")
    assert result.returncode == 1
    assert result.stderr.startswith("sniffer: ") and "Traceback" not in result.stderr


@pytest.mark.live
def test_sniffer_on_loopback() -> None:
    needs_live_capture()
    port = 47_021
    sender = example_burst(port)
    result = run_example("sniffer.py", "-i", "lo", "-c", "3", f"udp port {port}", timeout=30)
    sender.join()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(f"127.0.0.1.{port} UDP, length" in line for line in lines)


@pytest.mark.live
def test_async_capture_on_loopback() -> None:
    needs_live_capture()
    port = 47_022
    sender = example_burst(port)
    result = run_example("async_capture.py", "-i", "lo", "-c", "3", "--timeout", "20",
                         f"udp port {port}", timeout=30)
    sender.join()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("3 packets, ticker ran")
    assert int(lines[-1].split()[4]) > 0  # the loop kept running while we waited
