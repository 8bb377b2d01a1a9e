"""Small builders for byte-literal capture files used across tests."""

from __future__ import annotations

import io
import os
import pty
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Optional

USEC_MAGIC = 0xA1B2C3D4
NSEC_MAGIC = 0xA1B23C4D


def pcap_bytes(
    records: Iterable[tuple[int, int, bytes, int]],
    *,
    linktype: int = 1,
    snaplen: int = 65535,
    order: str = "<",
    magic: int = USEC_MAGIC,
    version: tuple[int, int] = (2, 4),
) -> bytes:
    """A classic pcap file: records are (sec, frac, data, wire_len)."""
    out = [struct.pack(f"{order}IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)]
    for sec, frac, data, wire_len in records:
        out.append(struct.pack(f"{order}IIII", sec, frac, len(data), wire_len) + data)
    return b"".join(out)


def udp_frame(payload: bytes, sport: int = 1234, dport: int = 80) -> bytes:
    """An Ethernet/IPv4/UDP frame (checksums zero) carrying payload."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
    return b"\x00\x11\x22\x33\x44\x55" + b"\x66\x77\x88\x99\xaa\xbb" + b"\x08\x00" + ip


def sample_records(n: int = 5) -> list[tuple[int, int, bytes, int]]:
    return [(1700000000 + i, i * 1000, udp_frame(bytes([i]) * (i + 1), dport=80 + i), 42 + i + 1)
            for i in range(n)]


class Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read: blocks and records straddle chunks."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        return self._data.read(min(self._step, size if size >= 0 else self._step))

    read = read1


def read_all(reader: Any) -> list[tuple[Any, bytes]]:
    """Every packet a Reader has left, read with ``next()`` until it returns ``(None, b'')``."""
    out = []
    while True:
        hdr, data = reader.next()
        if hdr is None:
            return out
        out.append((hdr, data))


def wait_until_sleeping_in(task: str, functions: tuple[str, ...], limit: float = 30.0) -> None:
    """Until ``task`` (``/proc/PID`` or ``/proc/self/task/TID``) sleeps in a kernel function whose
    name contains one of ``functions`` (its ``wchan``): blocked where the test wants it, which
    no fixed delay can promise on a loaded machine. Fails after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    wchan = ""
    while time.monotonic() < deadline:
        wchan = Path(task, "wchan").read_text()
        if any(function in wchan for function in functions):
            return
        time.sleep(0.01)
    raise AssertionError(f"{task} did not wait in {functions} within {limit} s (wchan {wchan!r})")


def udp_burst(port: int, count: int = 10, gap: float = 0.02, payload: bytes = b"pcapy-test",
              until: Optional[Callable[[], bool]] = None) -> threading.Thread:
    """Send up to ``count`` datagrams to 127.0.0.1:port (loopback only) from a thread, at once
    and ``gap`` seconds apart, stopping early once ``until()`` is true.

    Call it once the capture under test has said it is open (a "listening on" line, a returned
    ``open_live``): no delay guesses when that is, which a loaded machine would break."""
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _ in range(count):
                if until is not None and until():
                    return
                sock.sendto(payload, ("127.0.0.1", port))
                time.sleep(gap)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def pcapng_block(block_type: int, body: bytes, order: str = "<") -> bytes:
    """A pcapng block: type, total length, the body padded to 4 bytes, total length again."""
    body += bytes(-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_option(code: int, value: bytes, order: str = "<") -> bytes:
    """One pcapng option: code, length, the value padded to 4 bytes."""
    return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def pcapng_split_blocks(data: bytes) -> list[bytes]:
    """The little-endian pcapng blocks in ``data``, whichever write produced them."""
    blocks, position = [], 0
    while position < len(data):
        length = int.from_bytes(data[position + 4:position + 8], "little")
        blocks.append(data[position:position + length])
        position += length
    return blocks


def untraced_environment() -> dict[str, str]:
    """This process's environment without coverage's start-up hooks: a child whose time or
    memory is measured against a budget runs untraced (scripts/test measures coverage in
    subprocesses too, and tracing slows Python code several times). Nor does it write its
    generated variants where scripts/test measures them: none of them would show as run."""
    import os

    return {name: value for name, value in os.environ.items()
            if not name.startswith("COVERAGE_") and name != "PCAPY_CODEGEN_DIR"}


def pcapy_on_terminal(*args: str, env: Optional[dict[str, str]] = None,
                      timeout: float = 120) -> tuple[int, bytes]:
    """Run ``python -m pcapy *args`` with standard error on a pseudo-terminal (standard output
    piped); its exit status and what it drew on the terminal."""
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "pcapy", *args], stdout=subprocess.PIPE,
                                stderr=follower, env=env, timeout=timeout, check=False)
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    return result.returncode, drawn


def examples(count: int) -> int:
    """A random property test's example count: ``count`` in the suite, times
    ``PCAPY_EXAMPLES_SCALE`` for a long run (``PCAPY_EXAMPLES_SCALE=20 scripts/test tests/...``)."""
    return count * max(1, int(os.environ.get("PCAPY_EXAMPLES_SCALE", "1")))
