"""pcapy-ng 2.x's loop_filtered / loop_to_buffer / filtered_stats on pcapy's engines.

pcapy-ng's own 89 tests run unchanged in tests/compat; these cover what they do not: the
installed filter applies first, ``breakloop()`` ends the loop with its counts, arguments are
refused as pcapy-ng refuses them, and a live capture classifies like a file.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

import pcapy
from conftest import is_root
from helpers import pcap_bytes, udp_frame

DNS, OTHER_UDP, HTTP_PORT = 53, 4444, 80
SECURITY = 1


def frames() -> list[bytes]:
    return [udp_frame(b"q", dport=DNS), udp_frame(b"x", dport=OTHER_UDP)] * 3


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "six.pcap"
    records = [(1_700_000_000 + i, 0, frame, len(frame)) for i, frame in enumerate(frames())]
    path.write_bytes(pcap_bytes(records))
    return path


def test_security_profile_counts_and_class_ids(capture: Path) -> None:
    seen: list[int] = []
    with pcapy.open_offline(str(capture)) as reader:
        result = reader.loop_filtered(-1, lambda _h, _d, cls: seen.append(cls), profile=SECURITY,
                                      admit_mask=1)
        # (admitted, dropped, dns, dpi, noise, ioc, head, syn)
        assert result == (3, 3, 3, 0, 3, 0, 0, 0) == reader.filtered_stats()
    assert seen == [100, 100, 100]


@pytest.mark.usefixtures("libpcap")
def test_the_installed_filter_applies_first(capture: Path) -> None:
    with pcapy.open_offline(str(capture)) as reader:
        reader.setfilter(f"udp dst port {OTHER_UDP}")
        assert reader.loop_filtered(-1, lambda *_: None, profile=SECURITY) == (
            3, 0, 0, 0, 3, 0, 0, 0)


def test_breakloop_ends_the_loop_with_its_counts(capture: Path) -> None:
    with pcapy.open_offline(str(capture)) as reader:
        result = reader.loop_filtered(-1, lambda *_: reader.breakloop(), admit_mask=0xFF)
        assert result == (1, 0, 1, 0, 0)  # generic profile: other, flow head, set match
        assert reader.loop_filtered(2, lambda *_: None) == (2, 0, 2, 0, 0)  # goes on after


def test_cnt_counts_every_packet_admitted_or_not(capture: Path) -> None:
    with pcapy.open_offline(str(capture)) as reader:
        result = reader.loop_filtered(4, lambda *_: None, admit_mask=0, profile=SECURITY)
        assert result[:2] == (0, 4)


def test_filtered_stats_before_any_run_and_after_close(capture: Path) -> None:
    reader = pcapy.open_offline(str(capture))
    assert reader.filtered_stats() == (0, 0, 0, 0, 0)
    reader.close()
    with pytest.raises(ValueError, match="pcap is closed"):
        reader.filtered_stats()
    with pytest.raises(ValueError, match="pcap is closed"):
        reader.loop_filtered(-1, lambda *_: None)


def test_loop_to_buffer_layout(capture: Path) -> None:
    buffer = bytearray(1024)
    with pcapy.open_offline(str(capture)) as reader:
        written, dropped, overflow, used, *classes = reader.loop_to_buffer(
            -1, buffer, admit_mask=1, profile=SECURITY)
    assert (written, dropped, overflow) == (3, 3, 0)
    first = udp_frame(b"q", dport=DNS)
    assert buffer[:5] == struct.pack("<IB", len(first), 100)
    assert buffer[5:5 + len(first)] == first
    assert used == 3 * (5 + len(first))
    assert classes == [3, 0, 3, 0, 0, 0]


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda r: r.loop_to_buffer(-1, b"read-only"), TypeError, "writable"),
    (lambda r: r.loop_to_buffer(-1, "text"), TypeError, "writable_buf"),
    (lambda r: r.loop_filtered(-1, lambda *_: None, addr_set="1.2.3.4"), TypeError, "addr_set"),
    (lambda r: r.loop_filtered(-1, lambda *_: None, l2_offset=65), ValueError, r"\[0,64\]"),
    (lambda r: r.loop_filtered(-1, lambda *_: None, profile=2), ValueError, "profile"),
    (lambda r: r.loop_filtered(-1, lambda *_: None, dpi_ports=5), TypeError, "dpi_ports"),
    (lambda r: r.loop_filtered(-1, lambda *_: None, tls_ports=["x"]), TypeError, "tls_ports"),
    (lambda r: r.loop_filtered(-1, "cb"), TypeError, "callable"),
    (lambda r: r.loop_filtered(1.5, lambda *_: None), TypeError, "cnt"),
])
def test_bad_arguments(capture: Path, call, error, match) -> None:
    with pcapy.open_offline(str(capture)) as reader, pytest.raises(error, match=match):
        call(reader)


@pytest.mark.live
@pytest.mark.skipif(not is_root(), reason=f"live capture needs root; uid {os.geteuid()}")
@pytest.mark.usefixtures("libpcap")
def test_live_capture_classifies_like_a_file() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        with pcapy.open_live("lo", 65535, 0, 100) as reader:
            reader.setfilter(f"udp dst port {port}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                for _ in range(3):  # the capture is open: the kernel keeps them for the loop
                    sender.sendto(b"classify-me", ("127.0.0.1", port))
            seen: list[int] = []
            result = reader.loop_filtered(3, lambda _h, _d, cls: seen.append(cls),
                                          dns_port=port, profile=SECURITY)
    assert result == (3, 0, 3, 0, 0, 0, 0, 0)
    assert seen == [100, 100, 100]
