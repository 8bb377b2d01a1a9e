"""No data lost when writing: however a Dumper ends, its file is valid up to the last packet.

A Dumper closed, garbage-collected, left open at interpreter exit, abandoned by an exception,
interrupted by Ctrl-C while it dumps in a loop, or killed with SIGKILL after ``flush()`` leaves a
file that both pcapy and ``tcpdump -r`` read without a truncation error, holding every packet
``dump()`` returned for (SIGKILL: every packet before the ``flush()``). ``flush()`` makes what
was dumped readable by another process while the Dumper stays open. Each case runs for classic
pcap and pcapng.

Packet ``n`` has ``sec == n`` and a payload derived from ``n``, so a check can tell a complete,
in-order file from one with a torn, lost or garbled record.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pcapy

FORMATS = ["pcap", "pcapng"]
SNAPLEN = 262144
BIG = 100_000  # a record larger than the Dumper's 64 KiB buffer


def packet(n: int, size: int) -> tuple[pcapy.Pkthdr, bytes]:
    return pcapy.Pkthdr(n, n % 1_000_000, size, size), (n.to_bytes(4, "big") * (size // 4 + 1))[:size]


def expected_sequence(packets: list[tuple[pcapy.Pkthdr, bytes]]) -> int:
    """Check the packets are 0, 1, 2, ... with their exact payloads; return how many."""
    for n, (hdr, data) in enumerate(packets):
        want_hdr, want_data = packet(n, hdr.getcaplen())
        assert (hdr.getts(), hdr.getlen(), data) == (want_hdr.getts(), want_hdr.getlen(),
                                                     want_data), f"packet {n} is wrong"
    return len(packets)


def read_with_pcapy(path: Path) -> list[tuple[pcapy.Pkthdr, bytes]]:
    with pcapy.open_offline(str(path)) as reader:
        return list(reader)  # raises TruncatedSavefileError on a torn record


def tcpdump_count(tcpdump: str, path: Path, limit: int = 0) -> int:
    """Packets ``tcpdump -r`` reads; fails on any error (a truncated record is one)."""
    args = [tcpdump, "-r", str(path), "-nq"] + (["-c", str(limit)] if limit else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert "truncated" not in done.stderr
    # one line per packet; some odd payloads add hex-dump lines, which are indented
    return sum(1 for line in done.stdout.splitlines() if line[:1].isdigit())


def assert_valid(path: Path, tcpdump: str, count: int = -1) -> int:
    """The file reads cleanly with pcapy and tcpdump, packets in sequence; return how many."""
    got = expected_sequence(read_with_pcapy(path))
    assert tcpdump_count(tcpdump, path) == got
    if count >= 0:
        assert got == count
    return got


def dump_some(dumper: pcapy.Dumper, start: int, count: int, size: int = 100) -> None:
    for n in range(start, start + count):
        dumper.dump(*packet(n, size))


# -- in this process ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_close(tmp_path: Path, fmt: str, tcpdump: str) -> None:
    path = tmp_path / f"closed.{fmt}"
    dumper = pcapy.Dumper(path, pcapy.DLT_EN10MB, SNAPLEN)
    dump_some(dumper, 0, 50)
    dump_some(dumper, 50, 3, size=BIG)
    dumper.close()
    dumper.close()
    assert_valid(path, tcpdump, 53)


@pytest.mark.parametrize("fmt", FORMATS)
def test_garbage_collection(tmp_path: Path, fmt: str, tcpdump: str) -> None:
    path = tmp_path / f"dropped.{fmt}"
    dumper = pcapy.Dumper(path, pcapy.DLT_EN10MB, SNAPLEN)
    dump_some(dumper, 0, 20)
    del dumper  # reference counting alone must close it: no gc.collect() here
    assert_valid(path, tcpdump, 20)
    # a Dumper kept alive only by a reference cycle is closed when the cycle is collected
    path = tmp_path / f"cycle.{fmt}"
    holder: dict[str, object] = {"dumper": pcapy.Dumper(path, pcapy.DLT_EN10MB, SNAPLEN)}
    holder["self"] = holder
    dump_some(holder["dumper"], 0, 20)  # type: ignore[arg-type]
    del holder
    gc.collect()
    assert_valid(path, tcpdump, 20)


@pytest.mark.parametrize("fmt", FORMATS)
def test_exception_inside_with(tmp_path: Path, fmt: str, tcpdump: str) -> None:
    path = tmp_path / f"raised.{fmt}"

    def dump_then_fail() -> None:
        with pcapy.Dumper(path) as dumper:
            dump_some(dumper, 0, 30)
            raise RuntimeError("in the middle of dumping")

    with pytest.raises(RuntimeError, match="in the middle"):
        dump_then_fail()
    assert_valid(path, tcpdump, 30)
    # an exception from dump() itself (a header it refuses) loses nothing either
    path = tmp_path / f"refused.{fmt}"
    with pcapy.Dumper(path) as dumper:
        dump_some(dumper, 0, 10)
        with pytest.raises(pcapy.PcapError):
            dumper.dump(pcapy.Pkthdr(2**63, 0, 1, 1), b"x")
        dump_some(dumper, 10, 10)
    assert_valid(path, tcpdump, 20)


# -- in a child process ------------------------------------------------------------------------
CHILD = r"""
import sys, time
import pcapy

target, fmt, size, mode, flushed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
status = sys.stderr  # stdout may be the capture itself


def packet(n):
    return pcapy.Pkthdr(n, n % 1_000_000, size, size), (n.to_bytes(4, "big") * (size // 4 + 1))[:size]


dumper = pcapy.Dumper(target, pcapy.DLT_EN10MB, 262144, format=fmt)
if mode == "loop":  # dump until interrupted
    print("dumping", file=status, flush=True)
    n = 0
    while True:
        dumper.dump(*packet(n))
        n += 1
for n in range(flushed):
    dumper.dump(*packet(n))
if mode == "exit":  # leave the Dumper open: the interpreter's exit must not lose it
    sys.exit(0)
dumper.flush()
print(f"flushed {flushed}", file=status, flush=True)
n = flushed
while mode == "kill-busy":  # keep dumping, unflushed, until killed
    dumper.dump(*packet(n))
    n += 1
time.sleep(60)  # kill-idle: nothing more is written
"""


def spawn(target: str, fmt: str, size: int, mode: str, flushed: int = 0,
          stdout: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, target, fmt, str(size), mode,
                             str(flushed)], stdout=stdout, stderr=subprocess.PIPE)


def finish(child: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """The child's output once it has ended; killed if it has not within 60 s (a child left
    dumping in a loop would fill the disk)."""
    try:
        return child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise


def wait_for_line(child: subprocess.Popen[bytes], prefix: bytes) -> None:
    assert child.stderr is not None
    line = child.stderr.readline()
    assert line.startswith(prefix), line + child.stderr.read()


def wait_for_size(path: Path, size: int, limit: float = 60.0) -> None:
    """Until the file a child dumps to holds at least ``size`` bytes (its progress, not a delay
    that a loaded machine can outrun)."""
    deadline = time.monotonic() + limit
    while path.stat().st_size < size:
        assert time.monotonic() < deadline, f"{path.name} stayed under {size} bytes for {limit} s"
        time.sleep(0.001)


@pytest.mark.parametrize("fmt", FORMATS)
def test_open_dumper_at_interpreter_exit(tmp_path: Path, fmt: str, tcpdump: str) -> None:
    path = tmp_path / f"exit.{fmt}"
    child = spawn(str(path), fmt, 300, "exit", flushed=500)
    _, err = finish(child)
    assert child.returncode == 0, err
    assert_valid(path, tcpdump, 500)


@pytest.mark.parametrize("size", [100, 1500], ids=["small", "mtu"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_ctrl_c_while_dumping_to_a_file(tmp_path: Path, fmt: str, size: int,
                                        tcpdump: str) -> None:
    path = tmp_path / f"interrupted.{fmt}"
    for written in (10_000, 300_000):  # SIGINT once the file holds this many bytes
        child = spawn(str(path), fmt, size, "loop")
        wait_for_line(child, b"dumping")
        wait_for_size(path, written)
        child.send_signal(signal.SIGINT)
        _, err = finish(child)
        assert child.returncode == -signal.SIGINT, err[-500:]
        assert b"KeyboardInterrupt" in err
        count = assert_valid(path, tcpdump)
        assert count > 0
        print(f"[measured] {fmt}, {size}-byte packets, SIGINT once {written} bytes were written: "
              f"{count} packets, file valid")


@pytest.mark.parametrize("size", [1500, BIG], ids=["mtu", "larger-than-buffer"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_ctrl_c_while_dumping_to_a_pipe(tmp_path: Path, fmt: str, size: int,
                                        tcpdump: str) -> None:
    """``'-'`` into a pipe read slowly: the SIGINT interrupts a blocked write mid-record.

    Without signals held back around such a write, CPython's buffered writer raises
    KeyboardInterrupt after a partial write and the stream ends in half a record.
    """
    path = tmp_path / f"piped.{fmt}"
    for streamed in (50_000, 500_000):  # SIGINT once this many bytes came: two moments
        read_end, write_end = os.pipe()
        child = spawn("-", fmt, size, "loop", stdout=write_end)
        os.close(write_end)
        wait_for_line(child, b"dumping")
        received = 0
        signalled = False
        deadline = time.monotonic() + 60  # then it is killed: the read below ends at EOF
        with open(path, "wb") as out:
            while chunk := os.read(read_end, 7000):  # slowly: the child's writes block
                out.write(chunk)
                received += len(chunk)
                if not signalled and received >= streamed:
                    child.send_signal(signal.SIGINT)
                    signalled = True
                if time.monotonic() > deadline and child.poll() is None:
                    child.kill()
        os.close(read_end)
        _, err = finish(child)
        assert child.returncode == -signal.SIGINT, err[-500:]
        count = assert_valid(path, tcpdump)
        print(f"[measured] {fmt}, {size}-byte packets to a pipe, SIGINT once {streamed} bytes "
              f"had come: {received} bytes, {count} packets, stream valid")


@pytest.mark.parametrize("fmt", FORMATS)
def test_flush_is_visible_to_another_process(tmp_path: Path, fmt: str, tcpdump: str) -> None:
    path = tmp_path / f"shared.{fmt}"
    count_script = ("import sys, pcapy; r = pcapy.open_offline(sys.argv[1]); "
                    "print(sum(1 for _ in r))")
    with pcapy.Dumper(path, pcapy.DLT_EN10MB, SNAPLEN) as dumper:
        total = 0
        for batch, size in ((1, 100), (250, 1500), (3, BIG)):
            dump_some(dumper, total, batch, size)
            total += batch
            dumper.flush()
            other = subprocess.run([sys.executable, "-c", count_script, str(path)],
                                   capture_output=True, text=True, timeout=60, check=True)
            assert int(other.stdout) == total
            assert tcpdump_count(tcpdump, path) == total
    assert_valid(path, tcpdump, total)


@pytest.mark.parametrize("busy", [False, True], ids=["idle-after-flush", "busy-after-flush"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_sigkill_after_flush_keeps_everything_flushed(tmp_path: Path, fmt: str, busy: bool,
                                                      tcpdump: str) -> None:
    path = tmp_path / f"killed.{fmt}"
    flushed = 2000
    child = spawn(str(path), fmt, 700, "kill-busy" if busy else "kill-idle", flushed=flushed)
    wait_for_line(child, b"flushed")
    if busy:  # killed while it dumps past the flush: once the file has grown beyond it
        wait_for_size(path, path.stat().st_size + 1)
    child.kill()
    finish(child)
    assert child.returncode == -signal.SIGKILL
    if not busy:
        assert_valid(path, tcpdump, flushed)
        return
    # Dumping went on, unflushed, when the kill came: the flushed packets are all there, in
    # order; after them there may be a tail the kill cut short.
    packets: list[tuple[pcapy.Pkthdr, bytes]] = []
    with pcapy.open_offline(str(path)) as reader:
        try:
            for item in reader:
                packets.append(item)
        except pcapy.TruncatedSavefileError:
            pass
    assert expected_sequence(packets) >= flushed
    assert tcpdump_count(tcpdump, path, limit=flushed) == flushed
