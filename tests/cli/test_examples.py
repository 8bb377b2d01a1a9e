"""The scripts in examples/, run as a user would run them, on corpus files and on lo."""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, udp_burst, udp_frame
from test_activation_errors import refusal_of_a_missing_device

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


def run_capturing_example(name: str, port: int, *args: str,
                          timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a capturing example; once it says ``listening on`` (its capture is open), send
    datagrams to 127.0.0.1:port (only there) until it exits, at most 200 of them."""
    process = subprocess.Popen([sys.executable, str(EXAMPLES / name), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first_line = process.stderr.readline()  # blocks until the capture is open (or it failed)
    try:
        if first_line.startswith("listening on"):
            sender = udp_burst(port, count=200, gap=0.05, payload=b"example",
                               until=lambda: process.poll() is not None)
            sender.join(timeout)
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                       first_line + stderr)


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


def test_split_flows_within_a_small_descriptor_limit(tmp_path: Path) -> None:
    """300 flows with 32 descriptors allowed: outputs are closed and reopened (least recently
    used first), and every file is what an unbounded run writes."""
    source = tmp_path / "flows.pcap"
    frames = [udp_frame(b"%d" % i, sport=1000 + i % 300, dport=53) for i in range(900)]
    source.write_bytes(pcap_bytes([(1_700_000_000 + i, 0, f, len(f))
                                   for i, f in enumerate(frames)]))
    bounded, unbounded = tmp_path / "bounded", tmp_path / "unbounded"

    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))

    done = subprocess.run([sys.executable, str(EXAMPLES / "split_flows.py"), str(source),
                           str(bounded), "--max-open", "8"], capture_output=True, text=True,
                          timeout=120, check=False, preexec_fn=limit_descriptors)
    assert done.returncode == 0, done.stderr
    assert run_example("split_flows.py", str(source), str(unbounded), "--max-open",
                       "1000").returncode == 0
    names = sorted(path.name for path in unbounded.iterdir())
    assert len(names) == 300
    assert sorted(path.name for path in bounded.iterdir()) == names
    for name in names:
        assert (bounded / name).read_bytes() == (unbounded / name).read_bytes(), name


@pytest.mark.parametrize("library", ["dpkt", "scapy"])
def test_decoders_decode_ip_on_each_interface_of_a_merged_file(tmp_path: Path,
                                                               library: str) -> None:
    """An SLL2 capture merged with an Ethernet one: each packet decoded from its own
    interface's link layer, IP layers included (scapy's need scapy.layers.inet)."""
    if importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed")
    merged = tmp_path / "merged.pcapng"
    inputs = [corpus_file("pcap/sll2.pcap"), corpus_file("pcap/example.pcap")]
    assert run_example("merge_pcapng.py", str(merged), *inputs).returncode == 0
    result = run_example("decode_with_dpkt.py", "--library", library, str(merged))
    assert result.returncode == 0, result.stderr
    lines = [line.split(": ", 1)[1] for line in result.stdout.splitlines()]
    cooked = "SLL2" if library == "dpkt" else "CookedLinuxV2"
    ethernet = "Ethernet" if library == "dpkt" else "Ether"
    assert sum(line.startswith(f"{cooked} / IP") for line in lines) == 3
    assert sum(line.startswith(f"{ethernet} / IP") for line in lines) == 4631
    assert len(lines) == 4634


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
    # libpcap's words, as open_live raises them (tcpdump prints the same), not a status number
    _status, _error, reason = refusal_of_a_missing_device()
    assert result.stderr == f"sniffer: nosuchdevice0: {reason}\n"


@pytest.mark.live
@pytest.mark.parametrize("example", ["sniffer.py", "async_capture.py"])
def test_examples_say_why_capture_is_not_permitted(example: str) -> None:
    """Without CAP_NET_RAW (dropped from the bounding set), libpcap's reason, not -8."""
    needs_live_capture()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    done = subprocess.run([setpriv, "--bounding-set", "-net_raw,-net_admin", sys.executable,
                           str(EXAMPLES / example), "-i", "lo"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "lo: You don't have permission to perform this capture on that device" in done.stderr
    assert "status" not in done.stderr


@pytest.mark.live
def test_sniffer_on_loopback() -> None:
    needs_live_capture()
    port = 47_021
    result = run_capturing_example("sniffer.py", port, "-i", "lo", "-c", "3",
                                   f"udp port {port}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(f"127.0.0.1.{port} UDP, length" in line for line in lines)


@pytest.mark.live
def test_async_capture_on_loopback() -> None:
    needs_live_capture()
    port = 47_022
    result = run_capturing_example("async_capture.py", port, "-i", "lo", "-c", "3",
                                   "--timeout", "20", f"udp port {port}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("3 packets, ticker ran")
    assert int(lines[-1].split()[4]) > 0  # the loop kept running while we waited
