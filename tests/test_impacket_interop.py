"""impacket's pcapy examples (split.py, sniff.py) run unchanged on this pcapy.

impacket is optional: these tests skip with the reason when it is not installed (scripts/test
installs it when the package index has it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import pcapy
from conftest import CORPUS, is_root

impacket = pytest.importorskip("impacket", reason="impacket is not installed")
BIN = Path(sys.executable).parent


def script(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"impacket's {name} is not installed next to this Python")
        path = Path(found)
    return path


@pytest.mark.usefixtures("libpcap")
def test_split_py_splits_a_capture_by_connection(tmp_path: Path):
    capture = CORPUS / "pcap" / "example.pcap"
    if not capture.exists():
        pytest.skip("the conformance corpus is not available")
    run = subprocess.run([sys.executable, str(script("split.py")), str(capture)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    outputs = sorted(tmp_path.glob("*.pcap"))
    assert len(outputs) > 1  # one file per TCP connection
    written = 0
    for path in outputs:
        with pcapy.open_offline(str(path)) as reader:
            written += sum(1 for _ in reader)
    with pcapy.open_offline(str(capture)) as reader:
        reader.setfilter(r"ip proto \tcp")
        expected = sum(1 for _ in reader)
    assert written == expected


def wait_for(condition, seconds: float) -> None:
    """Poll ``condition`` until it holds or ``seconds`` pass (then the asserts say what is
    missing)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.live
@pytest.mark.skipif(not is_root(), reason="live capture needs root (CAP_NET_RAW, CAP_NET_ADMIN)")
def test_sniff_py_decodes_packets_on_lo():
    devices = pcapy.findalldevs()
    port = 47_000 + os.getpid() % 1000
    sniffer = subprocess.Popen(
        [sys.executable, "-u", str(script("sniff.py")), f"udp dst port {port}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        assert sniffer.stdin is not None and sniffer.stdout is not None
        sniffer.stdin.write(f"{devices.index('lo')}\n")
        sniffer.stdin.flush()
        stdout = sniffer.stdout
        reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")),
                                  daemon=True)
        reader.start()
        # sniff.py prints "Listening on lo: ..." once its capture is open: send only then
        wait_for(lambda: "Listening on" in "".join(lines), 20)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(5):  # bounded, to 127.0.0.1 only
                sock.sendto(b"impacket interop %d" % i, ("127.0.0.1", port))
        wait_for(lambda: "".join(lines).count(f"-> {port}") >= 5, 20)
    finally:
        sniffer.send_signal(signal.SIGKILL)
        sniffer.wait(timeout=10)
        for pipe in (sniffer.stdin, sniffer.stdout):
            if pipe is not None:
                pipe.close()
    output = "".join(lines)
    assert "Listening on lo: net=127.0.0.0, mask=255.0.0.0, linktype=1" in output
    assert output.count(f"-> {port}") == 5, output  # impacket's decoder: "UDP <sport> -> <dport>"
    assert output.count("IP DF 127.0.0.1 -> 127.0.0.1") == 5
