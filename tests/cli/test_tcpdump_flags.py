"""tcpdump's everyday flags (issue 11, item 10), each against the installed tcpdump 4.99:
time stamp formats, -A, -#, --count, -c, -B, -Q, -U, -F, -C/-G/-W rotation, --nano/--micro,
--version; and the man page generated from the argument parser."""

from __future__ import annotations

import argparse
import os
import select
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pcapy
from cli.live_cli import run_listening
from cli.test_cli import ENV, corpus_file, live_capture_available, pcapy_cmd, tcpdump_cmd
from cli.test_cli_robustness import pcap_records, wait_blocked_reading_a_pipe
from helpers import udp_burst
from pcapy._cli.manpage import render
from pcapy._cli.output import FileLimitReachedError, RotatingOutput

REPOSITORY = Path(__file__).resolve().parents[2]


def assert_stdout_equal(*args: str) -> None:
    ours = pcapy_cmd(*args)
    theirs = tcpdump_cmd("-nn", *args)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout.decode().splitlines() == theirs.stdout.decode().splitlines()


# -- time stamps, numbers, text ----------------------------------------------------------------
@pytest.mark.tools
@pytest.mark.parametrize("times", ["-t", "-tt", "-ttt", "-tttt", "-ttttt"])
@pytest.mark.parametrize("precision", [(), ("--nano",), ("--micro",)])
def test_time_stamp_formats_equal_tcpdumps(tcpdump: str, times: str,
                                           precision: tuple[str, ...]) -> None:
    assert_stdout_equal(times, *precision, "-c", "200", "-r",
                        str(corpus_file("pcap/example.pcap")))
    assert_stdout_equal(times, *precision, "-r", str(corpus_file("pcap/tcp-handshake-nano.pcap")))


@pytest.mark.tools
@pytest.mark.parametrize("name", ["pcap/time_2038_overflow.pcap", "pcap/time_2106_max.pcap"])
@pytest.mark.parametrize("times", [(), ("-tt",), ("-tttt",), ("-ttt",)])
def test_seconds_past_2_to_the_31_print_as_tcpdump_prints_them(tcpdump: str, name: str,
                                                               times: tuple[str, ...]) -> None:
    assert_stdout_equal(*times, "-r", str(corpus_file(name)))


@pytest.mark.tools
def test_time_since_the_previous_packet_can_be_negative(tcpdump: str, tmp_path: Path) -> None:
    header, records = pcap_records(corpus_file("pcap/example.pcap"), 3)
    path = tmp_path / "backwards.pcap"
    path.write_bytes(header + records[2] + records[0] + records[1])
    for times in ("-ttt", "-ttttt"):
        assert_stdout_equal(times, "-r", str(path))


@pytest.mark.tools
@pytest.mark.parametrize("options", [("-#",), ("--number", "-tt"), ("-A",), ("-AA",),
                                     ("-#", "-A", "-e"), ("-A", "-x"), ("-A", "-q")])
def test_numbers_and_text_equal_tcpdumps(tcpdump: str, options: tuple[str, ...]) -> None:
    assert_stdout_equal(*options, "-c", "300", "-r", str(corpus_file("pcap/example.pcap")))


# -- counting and stopping ---------------------------------------------------------------------
@pytest.mark.tools
@pytest.mark.parametrize("extra", [(), ("-c", "7"), ("udp",), ("-c", "1", "tcp")])
def test_count_prints_what_tcpdump_prints(tcpdump: str, extra: tuple[str, ...]) -> None:
    assert_stdout_equal("--count", "-r", str(corpus_file("pcap/example.pcap")), *extra)


@pytest.mark.tools
@pytest.mark.parametrize("args", [("-tttttt",), ("-c", "0"), ("-c", "-2"), ("-c", "abc"), ("-B", "0"),
                                  ("-Q", "sideways"), ("-W", "0"), ("-C", "0"), ("-G", "-1")])
def test_bad_values_are_refused_in_tcpdumps_words(tcpdump: str, args: tuple[str, ...]) -> None:
    path = str(corpus_file("pcap/example.pcap"))
    ours = pcapy_cmd(*args, "-r", path)
    theirs = tcpdump_cmd(*args, "-r", path)
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.decode().splitlines()[-1] == (
        theirs.stderr.decode().splitlines()[-1].replace("tcpdump: ", "pcapy: "))


@pytest.mark.tools
def test_filter_from_a_file_with_comments(tcpdump: str, tmp_path: Path) -> None:
    program = tmp_path / "filter.txt"
    program.write_text("# web traffic only\ntcp port 80 # and nothing else\n  and tcp[13] & 2 != 0\n")
    assert_stdout_equal("-F", str(program), "-r", str(corpus_file("pcap/example.pcap")))
    assert_stdout_equal("-F", str(program), "-r", str(corpus_file("pcap/example.pcap")), "udp")


def test_a_missing_filter_file_is_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "filter"
    result = pcapy_cmd("-F", str(missing), "-r", str(corpus_file("pcap/example.pcap")))
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"pcapy: can't open {missing}: No such file or directory")


@pytest.mark.tools
def test_version_names_libpcap_as_tcpdump_does(tcpdump: str) -> None:
    ours = pcapy_cmd("--version").stdout.decode().splitlines()
    theirs = tcpdump_cmd("--version").stdout.decode().splitlines()
    assert ours[0] == f"pcapy version {pcapy.__version__}"
    assert ours[1] == theirs[1]
    assert ours[1].startswith("libpcap version ")


# -- writing: -U and rotation ------------------------------------------------------------------
def test_packet_buffered_output_is_in_the_file_while_pcapy_waits(tmp_path: Path) -> None:
    if not Path("/proc/self/wchan").exists():
        pytest.skip("needs /proc/PID/wchan to see the process wait for input")
    header, records = pcap_records(corpus_file("pcap/example.pcap"), 20)
    out = tmp_path / "out.pcap"
    with subprocess.Popen([sys.executable, "-m", "pcapy", "-U", "-r", "-", "-w", str(out)],
                          env=ENV, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        proc.stdin.write(header + b"".join(records))
        proc.stdin.flush()
        wait_blocked_reading_a_pipe(proc.pid)
        assert out.read_bytes() == header + b"".join(records)  # before any close or flush
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0


def big_capture(path: Path, packets: int = 2600, size: int = 1000) -> Path:
    """A classic pcap of ``packets`` Ethernet/IPv4/UDP frames of ``size`` bytes (2.6 MB)."""
    frame = bytes(12) + b"\x08\x00" + struct.pack("!BBHHHBBH4s4s", 0x45, 0, size - 14, 0, 0,
                                                  64, 17, 0, bytes([10, 0, 0, 1]),
                                                  bytes([10, 0, 0, 2]))
    frame += struct.pack("!HHHH", 1000, 2000, size - 34, 0)
    frame += bytes(size - len(frame))
    records = b"".join(struct.pack("<IIII", 1_700_000_000 + i // 100, i % 100, size, size) + frame
                       for i in range(packets))
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + records)
    return path


def written_files(folder: Path) -> dict[str, int]:
    """Each file's name and packet count."""
    counts = {}
    for path in sorted(folder.iterdir()):
        with pcapy.open_offline(str(path)) as reader:
            counts[path.name] = len(list(reader))
    return counts


@pytest.mark.tools
@pytest.mark.parametrize("ring", [(), ("-W", "2"), ("-W", "12")])
def test_file_size_rotation_names_and_fills_files_as_tcpdump(tcpdump: str, tmp_path: Path,
                                                             ring: tuple[str, ...]) -> None:
    source = big_capture(tmp_path / "big.pcap")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    assert pcapy_cmd("-r", str(source), "-w", str(ours / "part"), "-C", "1",
                     *ring).returncode == 0
    keep_user = ("-Z", "root") if os.geteuid() == 0 else ()  # tcpdump would drop to "tcpdump"
    assert tcpdump_cmd(*keep_user, "-r", str(source), "-w", str(theirs / "part"), "-C", "1",
                       *ring).returncode == 0
    assert written_files(ours) == written_files(theirs)
    assert len(written_files(ours)) == (2 if ring == ("-W", "2") else 3)


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def rotation_args(tmp_path: Path, **values: object) -> argparse.Namespace:
    defaults = {"write": str(tmp_path / "cap-%s.pcap"), "file_size": None, "rotate_seconds": None,
                "file_count": None, "packet_buffered": False}
    return argparse.Namespace(**{**defaults, **values})


def test_time_rotation_names_files_by_strftime_and_stops_at_the_file_count(
        tmp_path: Path) -> None:
    clock = Clock()
    opened: list[str] = []

    def open_file(name: str) -> pcapy.Dumper:
        opened.append(Path(name).name)
        return pcapy.Dumper(name, pcapy.DLT_EN10MB, 65535)

    output = RotatingOutput(open_file, rotation_args(tmp_path, rotate_seconds=10, file_count=3),
                            clock=clock)
    header = pcapy.Pkthdr(1, 0, 4, 4)
    for moment in (0, 9, 10, 15, 20):  # a new file at 10 s and at 20 s after the first
        clock.now = 1_700_000_000 + moment
        output.handle(header, b"abcd")
    clock.now = 1_700_000_030
    with pytest.raises(FileLimitReachedError):
        output.handle(header, b"abcd")
    output.close()
    assert opened == ["cap-1700000000.pcap", "cap-1700000010.pcap", "cap-1700000020.pcap"]
    assert written_files(tmp_path) == {opened[0]: 2, opened[1]: 2, opened[2]: 1}


# -- live: -B and -Q ---------------------------------------------------------------------------
@pytest.mark.live
def test_buffer_size_and_direction_on_a_live_capture() -> None:
    live_capture_available()
    port = 47_011
    result = run_listening(["-i", "lo", "-B", "4096", "-Q", "in", "-c", "3", "--immediate",
                            "udp", "port", str(port)],
                           lambda: udp_burst(port).join())
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert b"3 packets captured" in result.stderr


# -- the man page ------------------------------------------------------------------------------
def test_the_committed_man_page_is_the_parser_s() -> None:
    committed = (REPOSITORY / "docs" / "pcapy.1").read_text()
    assert committed == render(), "regenerate: python -m pcapy._cli.manpage > docs/pcapy.1"


def test_the_man_page_describes_every_option() -> None:
    page = render()
    for flag in ("-t", "--count", "-C", "-G", "-W", "-U", "-F", "-Q", "-B", "--nano", "-#", "-A",
                 "--version", "--top"):
        assert "\\fB" + flag.replace("-", "\\-") + "\\fR" in page, flag
    assert page.startswith(".TH PCAPY 1 ")
    if subprocess.run(["which", "man"], capture_output=True, check=False).returncode == 0:
        shown = subprocess.run(["man", "-l", "-"], input=page.encode(), capture_output=True,
                               env={**ENV, "MANWIDTH": "100"}, timeout=60, check=False)
        assert shown.returncode == 0
        assert b"PCAPY STATS" in shown.stdout


def test_packet_buffered_printing_reaches_the_pipe_while_pcapy_waits() -> None:
    if not Path("/proc/self/wchan").exists():
        pytest.skip("needs /proc/PID/wchan to see the process wait for input")
    header, records = pcap_records(corpus_file("pcap/example.pcap"), 5)
    with subprocess.Popen([sys.executable, "-m", "pcapy", "-U", "-r", "-"], env=ENV,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(header + b"".join(records))
        proc.stdin.flush()
        wait_blocked_reading_a_pipe(proc.pid)
        printed = b""
        while printed.count(b"\n") < 5 and select.select([proc.stdout], [], [], 10)[0]:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            printed += chunk
        assert printed.count(b"\n") == 5  # all five, before standard input ends
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
