"""The ``pcapy`` command, run as ``python -m pcapy`` in a subprocess, against tcpdump."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pcapy
from cli.live_cli import run_listening
from helpers import pcapy_on_terminal, udp_burst, wait_until_sleeping_in
from pcapy._cli.devices import format_flags
from pcapy._cli.program import bpf_image, format_program

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
ENV = {**os.environ, "TZ": "UTC"}


def corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the conformance corpus is not at {CORPUS} (need {name})")
    return path


def pcapy_cmd(*args: str, stdin: bytes | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pcapy", *args], capture_output=True,
                          input=stdin, env=ENV, timeout=timeout, check=False)


def tcpdump_cmd(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["tcpdump", *args], capture_output=True, env=ENV, timeout=60,
                          check=False)


def tcpdump_count(path: Path, expression: str) -> int:
    result = tcpdump_cmd("--count", "-r", str(path), *([expression] if expression else []))
    return int(result.stdout.split()[0])


def assert_one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    errors = [line for line in lines if line.startswith("pcapy: ")]
    assert len(errors) == 1, lines
    assert "Traceback" not in result.stderr.decode()
    return errors[0]


def live_capture_available() -> None:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("live capture needs root (CAP_NET_RAW and CAP_NET_ADMIN)")
    try:
        handle = pcapy.create("lo")
        handle.close()
    except pcapy.PcapError as err:
        pytest.skip(f"live capture is not available here: {err}")




# -- reading files ---------------------------------------------------------------------------
@pytest.mark.tools
@pytest.mark.parametrize(("name", "expression"), [
    ("pcap/example.pcap", ""),
    ("pcap/example.pcap", "tcp port 80"),
    ("pcap/example.pcap", "udp and port 53"),
    ("pcap/example.pcap", "tcp[tcpflags] & tcp-syn != 0"),
    ("pcap/tcp-handshake-nano.pcap", "tcp"),
    ("pcap/afs.pcap", "udp port 7000"),
    ("pcap/ikev2four.pcap", "host 192.168.1.1"),
])
def test_packet_counts_equal_tcpdump(tcpdump: str, name: str, expression: str) -> None:
    path = corpus_file(name)
    result = pcapy_cmd("-r", str(path), *([expression] if expression else []))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == tcpdump_count(path, expression)


@pytest.mark.tools
@pytest.mark.parametrize("options", [("-nn",), ("-e",), ("-x",), ("-xx",), ("-X",), ("-XX",),
                                     ("-q",), ("-e", "-X", "-q"), ("-t",), ("-S",)])
def test_output_equals_tcpdump(tcpdump: str, options: tuple[str, ...]) -> None:
    path = corpus_file("pcap/example.pcap")
    args = (*options, "-c", "200", "-r", str(path))
    ours = pcapy_cmd(*args)
    theirs = tcpdump_cmd("-nn", *args)
    assert ours.returncode == 0
    assert ours.stdout.decode().splitlines() == theirs.stdout.decode().splitlines()
    assert ours.stderr.decode().splitlines()[0] == theirs.stderr.decode().splitlines()[0]


@pytest.mark.tools
def test_nanosecond_time_stamps(tcpdump: str) -> None:
    path = corpus_file("pcap/tcp-handshake-nano.pcap")
    ours = pcapy_cmd("--time-precision", "nano", "-r", str(path))
    theirs = tcpdump_cmd("-nn", "--time-stamp-precision", "nano", "-r", str(path))
    assert ours.stdout == theirs.stdout
    first = ours.stdout.decode().split()[0]
    assert len(first.split(".")[1]) == 9


def test_read_from_stdin() -> None:
    path = corpus_file("pcap/tcp-handshake-nano.pcap")
    result = pcapy_cmd("-r", "-", stdin=path.read_bytes())
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr.startswith(b"reading from file -, link-type LINUX_SLL")


# -- writing files ---------------------------------------------------------------------------
def packets_of(path: Path | str, expression: str = "") -> list[tuple[tuple[int, int, int, int], bytes]]:
    with pcapy.open_offline(str(path)) as reader:
        if expression:
            reader.setfilter(expression)
        return [((*hdr.getts_ns(), hdr.getcaplen(), hdr.getlen()), data) for hdr, data in reader]


def test_write_then_read_back_identical(tmp_path: Path) -> None:
    path = corpus_file("pcap/example.pcap")
    out = tmp_path / "dns.pcap"
    result = pcapy_cmd("-r", str(path), "-w", str(out), "udp port 53")
    assert result.returncode == 0
    assert result.stdout == b""
    assert packets_of(out) == packets_of(path, "udp port 53")
    assert len(packets_of(out)) == 138


@pytest.mark.tools
def test_written_file_reads_in_tcpdump(tcpdump: str, tmp_path: Path) -> None:
    path = corpus_file("pcap/example.pcap")
    out = tmp_path / "syn.pcap"
    assert pcapy_cmd("-r", str(path), "-w", str(out), "-c", "10", "tcp").returncode == 0
    assert tcpdump_cmd("-nn", "-r", str(out)).stdout == tcpdump_cmd(
        "-nn", "-c", "10", "-r", str(path), "tcp").stdout


def test_write_to_stdout() -> None:
    path = corpus_file("pcap/tcp-handshake-nano.pcap")
    result = pcapy_cmd("-r", str(path), "-w", "-")
    assert result.returncode == 0
    assert result.stdout[:4] in (b"\x4d\x3c\xb2\xa1", b"\xd4\xc3\xb2\xa1")
    back = pcapy_cmd("-r", "-", "-S", stdin=result.stdout)
    assert back.stdout == pcapy_cmd("-r", str(path), "-S").stdout


@pytest.mark.parametrize("how", ["suffix", "option"])
def test_write_pcapng(tmp_path: Path, how: str) -> None:
    path = corpus_file("pcap/example.pcap")
    out = tmp_path / ("out.pcapng" if how == "suffix" else "out.bin")
    extra = () if how == "suffix" else ("--format", "pcapng")
    result = pcapy_cmd("-r", str(path), "-w", str(out), *extra, "-c", "50")
    if b"No module named" in result.stderr:
        pytest.skip("this pcapy has no pcapng writer yet")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert [p[1] for p in packets_of(out)] == [p[1] for p in packets_of(path)[:50]]


# -- -d --------------------------------------------------------------------------------------
EXPRESSIONS = [
    "tcp", "udp port 53", "host 10.0.0.1", "net 10.0.0.0/8 and not port 22", "ip6", "arp or rarp",
    "vlan 100", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "icmp[icmptype] == icmp-echo",
    "ether host 00:11:22:33:44:55", "portrange 1000-2000", "greater 500", "less 100",
    "ip[2:2] - ((ip[0]&0xf)<<2) > 40", "ip and len >= 100 and ip[8] < 64",
    "ether[0] & 1 = 1 or ether broadcast", "ip6 and tcp port 443", "ip proto 47",
]


@pytest.mark.tools
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_compiled_program_equals_tcpdump_d(tcpdump: str, expression: str) -> None:
    path = corpus_file("pcap/example.pcap")
    ours = pcapy_cmd("-d", "-r", str(path), expression)
    theirs = tcpdump_cmd("-d", "-r", str(path), expression)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


@pytest.mark.tools
@pytest.mark.parametrize("name", ["pcapng/NullLoopback.pcap", "pcap/ikev2four.pcap"])
@pytest.mark.parametrize("expression", ["ip6", "ip", "tcp"])
def test_d_with_a_file_compiles_with_the_savefile_rules_like_tcpdump(
    tcpdump: str, name: str, expression: str
) -> None:
    # DLT_NULL savefiles: libpcap's code generator matches every BSD AF_INET6 value and the
    # file's byte order; compiled as for a live capture, the program differs (issue 14).
    path = corpus_file(name)
    ours = pcapy_cmd("-d", "-r", str(path), expression)
    theirs = tcpdump_cmd("-d", "-r", str(path), expression)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


@pytest.mark.tools
@pytest.mark.parametrize("flags", [("-dd",), ("-ddd",), ("-d", "-O")])
def test_program_formats_equal_tcpdump(tcpdump: str, flags: tuple[str, ...]) -> None:
    path = corpus_file("pcap/tcp-handshake-nano.pcap")
    args = (*flags, "-r", str(path), "tcp port 80 or icmp")
    assert pcapy_cmd(*args).stdout == tcpdump_cmd(*args).stdout


def test_disassembler_covers_every_opcode() -> None:
    assert bpf_image((0x06, 0, 0, 0xFFFFFFFF), 3) == "(003) ret      #-1"
    assert bpf_image((0x16, 0, 0, 0), 0) == "(000) ret      "
    assert bpf_image((0x20, 0, 0, 0xFFFFF000 + 44), 1) == "(001) ld       [vlan_tci]"
    assert bpf_image((0x05, 0, 0, 2), 4) == "(004) ja       7"
    assert bpf_image((0x1D, 1, 2, 0), 5) == "(005) jeq      x                jt 7\tjf 8"
    assert bpf_image((0x87, 0, 0, 0), 9) == "(009) txa      "
    assert bpf_image((0xFF, 0, 0, 0), 9) == "(009) unimp    0xff"
    assert format_program([(6, 0, 0, 65535)], 3) == ["1", "6 0 0 65535"]


def test_dump_program_without_a_source() -> None:
    result = pcapy_cmd("-d", "-y", "LINUX_SLL", "-s", "100", "ip")
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == [
        "(000) ldh      [14]", "(001) jeq      #0x800           jt 2\tjf 3",
        "(002) ret      #100", "(003) ret      #0"]


# -- stats -----------------------------------------------------------------------------------
def test_stats_subcommand() -> None:
    path = corpus_file("pcap/example.pcap")
    result = pcapy_cmd("stats", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert "  packets:      4631\n" in out
    assert "  link types:   EN10MB (Ethernet): 4631\n" in out
    assert "  first packet: 2013-05-02 20:20:33.491822000 UTC\n" in out
    assert "HTTP" in out and "DNS" in out and "TCP" in out
    assert "top talkers" in out and " > " in out
    assert "packets/s" in out and "bits/s" in out
    assert result.stderr == b""  # no progress bar when standard error is not a terminal


def test_stats_several_files_gives_a_total() -> None:
    files = [str(corpus_file("pcap/example.pcap")), str(corpus_file("pcap/tcp-handshake-nano.pcap"))]
    out = pcapy_cmd("stats", *files).stdout.decode()
    assert "all 2 files:" in out
    assert "  packets:      4634\n" in out
    assert "LINUX_SLL (Linux cooked v1): 3" in out


def test_stats_progress_bar_on_a_terminal() -> None:
    path = corpus_file("pcap/example.pcap")
    status, drawn = pcapy_on_terminal("stats", str(path), env=ENV, timeout=60)
    assert status == 0
    assert b"\r[" in drawn and b"example.pcap" in drawn and b"%" in drawn


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "needle"), [
    (("-r", "__MISSING__"), "No such file or directory"),
    (("-r", "__CORPUS__", "tcp port"), "syntax error"),
    (("--no-such-option",), "unrecognized arguments"),
    (("-c", "-3", "-r", "__CORPUS__"), "invalid packet count"),
    (("-r", "__CORPUS__", "-i", "lo"), "cannot be used together"),
    (("stats", "__MISSING__"), "No such file or directory"),
    (("stats",), "required"),
    (("-r", "__BROKEN__"), "bigger than snaplen"),
    (("-d", "-y", "NOSUCHTYPE", "tcp"), "invalid data link type"),
])
def test_errors_are_one_line_and_exit_1(args: tuple[str, ...], needle: str,
                                        tmp_path: Path) -> None:
    names = {"__CORPUS__": str(corpus_file("pcap/example.pcap")),
             "__BROKEN__": str(corpus_file("broken/kday1.pcap")),
             "__MISSING__": str(tmp_path / "no-such-dir" / "file.pcap")}  # surely absent
    args = tuple(names.get(a, a) for a in args)
    assert needle in assert_one_error_line(pcapy_cmd(*args))


def test_missing_device_is_one_line() -> None:
    live_capture_available()
    assert "nosuchdevice0" in assert_one_error_line(pcapy_cmd("-i", "nosuchdevice0"))


def test_broken_pipe_is_quiet() -> None:
    path = corpus_file("pcap/example.pcap")
    with subprocess.Popen([sys.executable, "-m", "pcapy", "-r", str(path)], env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        error = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in error


# -- devices and live capture ----------------------------------------------------------------
def test_list_devices_shows_loopback() -> None:
    try:
        pcapy.findalldevs()
    except pcapy.PcapError as err:
        pytest.skip(f"device listing is not available here: {err}")
    result = pcapy_cmd("-D")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    loopback = [line for line in lines if line.split(" ")[0].endswith(".lo")]
    assert loopback, lines
    if hasattr(pcapy, "list_devices"):
        assert "Loopback" in loopback[0]
        assert any(line.startswith("\tinet 127.0.0.1") for line in lines)


def test_format_flags() -> None:
    assert format_flags(0x37) == "Up, Running, Loopback"
    assert format_flags(0x16) == "Up, Running, Connected"
    assert format_flags(0x0E) == "Up, Running, Wireless, Association status unknown"
    assert format_flags(0x30) == "none"


@pytest.mark.live
def test_live_capture_on_loopback_with_count() -> None:
    live_capture_available()
    port = 47_001
    result = run_listening(["-i", "lo", "-c", "5", "--immediate", "udp", "port", str(port)],
                           lambda: udp_burst(port).join())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 5
    assert all(f"127.0.0.1.{port}: UDP, length 10" in line for line in lines)
    errors = result.stderr.decode().splitlines()
    assert errors[0].startswith("listening on lo, link-type EN10MB (Ethernet)")
    assert errors[1] == "5 packets captured"
    assert errors[2].endswith("received by filter") and errors[3].endswith("dropped by kernel")


@pytest.mark.live
def test_live_capture_writes_a_file(tmp_path: Path) -> None:
    live_capture_available()
    port = 47_002
    out = tmp_path / "live.pcap"
    result = run_listening(["-i", "lo", "-c", "3", "-w", str(out), "udp port", str(port)],
                           lambda: udp_burst(port).join())
    assert result.returncode == 0, result.stderr
    assert [data[-10:] for _, data in packets_of(out)] == [b"pcapy-test"] * 3


@pytest.mark.live
def test_ctrl_c_prints_the_statistics_and_exits_0() -> None:
    live_capture_available()
    if not Path("/proc/self/wchan").exists():
        pytest.skip("needs /proc/PID/wchan to see the capture wait")
    with subprocess.Popen([sys.executable, "-m", "pcapy", "-i", "lo", "udp port 47003"],
                          env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert banner.startswith(b"listening on lo")
        wait_until_sleeping_in(f"/proc/{proc.pid}", ("poll", "select"))  # idle, waiting
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - started < 2  # an idle interface does not delay the stop
    assert proc.returncode == 0
    lines = [line for line in err.decode().splitlines() if line]
    assert lines[0] == "0 packets captured"
    assert lines[1].endswith("packets received by filter")
    assert lines[2].endswith("packets dropped by kernel")
    assert "Traceback" not in err.decode()
