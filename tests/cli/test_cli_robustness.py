"""The command's edges: empty file names, closed standard output, SIGTERM while writing, damaged
files in ``pcapy stats``, and the progress bar (drawn on a terminal only)."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pcapy
from cli.test_cli import ENV, assert_one_error_line, corpus_file, pcapy_cmd, tcpdump_cmd
from helpers import pcapy_on_terminal, wait_until_sleeping_in
from pcapy._cli.progress import Progress


# -- empty names and closed streams (issue 12, item 7) ----------------------------------------
@pytest.mark.tools
@pytest.mark.parametrize("args", [("-r", ""), ("-r", "__CORPUS__", "-w", "")])
def test_an_empty_file_name_is_refused_as_tcpdump_refuses_it(tcpdump: str,
                                                             args: tuple[str, ...]) -> None:
    example = str(corpus_file("pcap/example.pcap"))
    args = tuple(example if a == "__CORPUS__" else a for a in args)
    ours = pcapy_cmd(*args, timeout=20)
    theirs = tcpdump_cmd(*args)
    assert assert_one_error_line(ours) == "pcapy: : No such file or directory"
    assert theirs.returncode == 1
    assert theirs.stderr.decode().splitlines()[-1] == "tcpdump: : No such file or directory"
    assert ours.stdout == b""


@pytest.mark.parametrize("write", [(), ("-w", "-")])
def test_a_closed_standard_output_is_no_traceback(write: tuple[str, ...]) -> None:
    path = corpus_file("pcap/example.pcap")
    result = subprocess.run([sys.executable, "-m", "pcapy", "-c", "5", "-r", str(path), *write],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV,
                            timeout=60, check=False,
                            preexec_fn=lambda: os.close(1))
    assert result.returncode == 0  # as tcpdump: its writes fail unseen
    assert result.stderr.decode().startswith("reading from file ")
    assert "Traceback" not in result.stderr.decode()


def pcap_records(path: Path, count: int) -> tuple[bytes, list[bytes]]:
    """The file header and the first ``count`` records of a little-endian classic pcap."""
    data = path.read_bytes()
    records, at = [], 24
    while at < len(data) and len(records) < count:
        caplen = struct.unpack_from("<I", data, at + 8)[0]
        records.append(data[at:at + 16 + caplen])
        at += 16 + caplen
    return data[:24], records


def wait_blocked_reading_a_pipe(pid: int) -> None:
    """Until the process sleeps reading its (drained) pipe: it has handled all it was sent."""
    wait_until_sleeping_in(f"/proc/{pid}", ("pipe_read",))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_while_writing_loses_no_handled_packet(tmp_path: Path,
                                                             signum: int) -> None:
    if not Path(f"/proc/{os.getpid()}/wchan").exists():
        pytest.skip("needs /proc/PID/wchan to see the process wait for input")
    header, records = pcap_records(corpus_file("pcap/example.pcap"), 60)
    out = tmp_path / "out.pcap"
    with subprocess.Popen([sys.executable, "-m", "pcapy", "-r", "-", "-w", str(out)], env=ENV,
                          stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(header + b"".join(records))
        proc.stdin.flush()
        wait_blocked_reading_a_pipe(proc.pid)
        proc.send_signal(signum)
        assert proc.wait(timeout=20) == 0
        assert b"Traceback" not in proc.stderr.read()
    assert out.read_bytes() == header + b"".join(records)


# -- pcapy stats over damaged files (issue 11, item 12) ---------------------------------------
def test_stats_names_a_damaged_file_reports_what_it_read_and_goes_on(tmp_path: Path) -> None:
    good = str(corpus_file("pcap/tcp-handshake-nano.pcap"))
    damaged = str(corpus_file("broken/kday1.pcap"))
    missing = tmp_path / "no-such-dir" / "x.pcap"
    result = pcapy_cmd("stats", good, damaged, str(missing), good)
    assert result.returncode == 1
    out = result.stdout.decode()
    assert out.count(f"{good}:\n  packets:      3\n") == 2  # the file after the damage is read
    assert f"{damaged}:\n  damaged:      invalid packet capture length" in out
    assert "  packets:      1\n" in out  # kday1.pcap holds one good packet before the damage
    assert "all 4 files:\n  packets:      7\n" in out
    errors = result.stderr.decode().splitlines()
    assert errors[0].startswith(f"pcapy: {damaged}: invalid packet capture length 138952731")
    assert errors[0].endswith(" (at byte offset 222)")  # where the damaged record starts
    assert errors[1] == f"pcapy: {missing}: No such file or directory"
    assert len(errors) == 2


def test_stats_exits_0_when_every_file_reads() -> None:
    assert pcapy_cmd("stats", str(corpus_file("pcap/example.pcap"))).returncode == 0


# -- the progress bar ------------------------------------------------------------------------
def run_with_terminal_stderr(args: list[str]) -> tuple[int, bytes]:
    """Run ``pcapy *args`` with standard error on a pseudo-terminal; its status and drawing."""
    return pcapy_on_terminal(*args, env=ENV, timeout=60)


def test_reading_into_a_file_draws_progress_on_a_terminal(tmp_path: Path) -> None:
    path = corpus_file("pcap/example.pcap")
    status, drawn = run_with_terminal_stderr(["-r", str(path), "-w", str(tmp_path / "o.pcap")])
    assert status == 0
    assert b"\r[" in drawn and b"% example.pcap" in drawn
    assert len(list(pcapy.open_offline(str(tmp_path / "o.pcap")))) == 4631


def test_no_progress_when_piped_or_when_printing(tmp_path: Path) -> None:
    path = str(corpus_file("pcap/example.pcap"))
    piped = pcapy_cmd("-r", path, "-w", str(tmp_path / "o.pcap"))
    assert b"\r" not in piped.stderr
    status, drawn = run_with_terminal_stderr(["-r", path, "-c", "3"])
    assert status == 0 and b"\r[" not in drawn


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_erases_itself() -> None:
    stream = Terminal()
    with Progress(200, "work", stream) as progress:
        progress.update(50)
        assert stream.getvalue().endswith("] " + " 25.0% work")
        progress.next_draw = 0.0
        progress.advance(150)
        assert stream.getvalue().endswith(" 100.0% work")
    assert stream.getvalue().endswith("\r")
    assert stream.getvalue().rstrip("\r ").endswith("work")


def test_progress_is_silent_off_a_terminal_or_without_a_total() -> None:
    for stream, total in ((io.StringIO(), 100), (Terminal(), 0)):
        with Progress(total, "x", stream) as progress:
            progress.update(10)
            assert not progress.enabled
        assert stream.getvalue() == ""
