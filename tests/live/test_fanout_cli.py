"""``pcapy -i IFACE --workers N [-w FILE] [expression]``, run in namespace B of a quiet lab.

The command runs under ``ip netns exec`` (its workers, its children, stay in that namespace);
frames of many flows come from A once it prints ``listening on`` (after every worker is ready).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import pcapy
from live.fanout_lab import FILTER, flow_frames, quiet_lab, send_from_a
from live.lab import NetnsLab, in_netns

CHOOSES_READ_PATH = True
WAIT = 15.0  # seconds: the most any wait here may take (a live test has 30 in all)
ENV = {**os.environ, "TZ": "UTC"}


@pytest.fixture(scope="module")
def lab() -> Iterator[NetnsLab]:
    with quiet_lab() as quiet:
        yield quiet


@contextlib.contextmanager
def running(lab: NetnsLab, *args: str, snapshot: int = 262144) -> Iterator[subprocess.Popen[str]]:
    """``pcapy -i dev_b ARGS`` in namespace B, once it says it is listening; killed at the end
    of the block if it still runs."""
    command = ["ip", "netns", "exec", lab.ns_b, sys.executable, "-m", "pcapy", "-i", lab.dev_b,
               *args]
    with subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            _wait_for_banner(proc, lab, snapshot)
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def _wait_for_banner(proc: subprocess.Popen[str], lab: NetnsLab, snapshot: int) -> None:
    assert proc.stderr is not None
    banner = proc.stderr.readline()
    if not banner.startswith("listening on "):
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"no banner: {banner!r} {err!r}")
    assert banner == f"listening on {lab.dev_b}, link-type EN10MB (Ethernet), snapshot " \
                     f"length {snapshot} bytes\n"


def interrupt(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGINT, as Ctrl-C would send it to the command; its remaining output."""
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


def statistics(err: str) -> dict[str, int]:
    return {what: int(count) for count, what in
            re.findall(r"^(\d+) packets? (captured|received by filter|dropped by kernel)$",
                       err, re.MULTILINE)}


@pytest.mark.live
def test_the_workers_print_every_packet_once(lab: NetnsLab) -> None:
    frames = flow_frames(32, 3, tag=b"cli-")
    with running(lab, "--workers", "2", *FILTER.split()) as proc:
        send_from_a(lab, frames)
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + WAIT
        while len(lines) < len(frames) and time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
        out, err = interrupt(proc)
    lines += out.splitlines(keepends=True)
    assert proc.returncode == 0, err
    ports = Counter(re.search(r"IP 10\.0\.0\.1\.(\d+) > 10\.0\.0\.2\.4789: UDP", line)[1]  # type: ignore[index]
                    for line in lines)
    assert ports == Counter(str(20000 + flow) for flow in range(32) for _ in range(3))
    assert statistics(err) == {"captured": len(frames), "received by filter": len(frames),
                               "dropped by kernel": 0}
    assert err.startswith("\n")  # the stop came from SIGINT: a new line first, as tcpdump


@pytest.mark.live
def test_w_writes_one_file_merged_by_time(lab: NetnsLab, tmp_path: Path) -> None:
    frames = flow_frames(32, 3, tag=b"cli-w-")
    target = tmp_path / "merged.pcapng"

    # Immediate mode is TPACKET_V2, whose ring holds (buffer size / snapshot length) frames:
    # 2 MB / 256 bytes, not 2 MB / 256 KiB = 8.
    def reference() -> pcapy.Reader:
        reader = pcapy.create(lab.dev_b)
        reader.set_snaplen(256)
        reader.set_immediate_mode(1)
        reader.set_timeout(50)
        reader.activate()
        return reader

    witness = in_netns(lab.ns_b, reference)  # sees the frames when the workers' sockets do
    with witness:
        witness.setfilter(FILTER)
        with running(lab, "--workers", "2", "--immediate", "-s", "256", "-w", str(target),
                     *FILTER.split(), snapshot=256) as proc:
            send_from_a(lab, frames)
            seen, deadline = 0, time.monotonic() + WAIT
            while seen < len(frames) and time.monotonic() < deadline:
                seen += witness.next()[0] is not None
            out, err = interrupt(proc)
    assert proc.returncode == 0, err
    assert out == ""
    assert statistics(err)["captured"] == len(frames)
    assert sorted(os.listdir(tmp_path)) == ["merged.pcapng"]  # the workers' files are gone
    with pcapy.open_offline(str(target)) as merged:
        packets = list(merged)
    assert Counter(data for _hdr, data in packets) == Counter(frames)
    stamps = [hdr.ts_ns for hdr, _data in packets]
    assert stamps == sorted(stamps)
    assert len({id(hdr.interface) for hdr, _data in packets}) == 2  # one per worker


@pytest.mark.parametrize(("args", "message"), [
    (["-c", "5"], "-c cannot be used with --workers"),
    (["-y", "EN10MB"], "-y cannot be used with --workers"),
    (["--time-precision", "nano"], "--time-precision nano cannot be used with --workers"),
    (["--workers", "0"], "invalid number of workers 0"),
])
def test_options_a_pool_cannot_honour_are_refused(args: list[str], message: str) -> None:
    command = [sys.executable, "-m", "pcapy", "-i", "lo", "--workers", "2", *args]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 1
    assert result.stderr == f"pcapy: {message}\n"


def test_r_with_workers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.pcap"
    pcapy.Dumper(str(path)).close()
    command = [sys.executable, "-m", "pcapy", "-r", str(path), "--workers", "2"]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=WAIT)
    assert (result.returncode, result.stderr) == (
        1, "pcapy: --workers needs a live capture (-i), not -r\n")
