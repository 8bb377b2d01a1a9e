"""Fixtures for the live-capture tests (helpers are in ``lab.py``).

Tests marked ``live`` capture on real interfaces and are skipped, with the reason, unless the
process runs as root; the others in this folder (device formatting, handle states before
activation, waiters) run for everyone. ``netns_lab`` builds two network namespaces joined by a
veth pair and deletes them in its finalizer, whatever the tests did.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from collections.abc import Iterator

import pytest

from live.lab import CANNOT_DUMP_TO_MEMORY, LOOPBACK, NetnsLab, build_lab
from pcapy._libpcap import Handle

#: The two ways a live handle takes packets from libpcap, chosen per handle by what it can do
#: (pcapy._live._packet_readers): a batch per pcap_dispatch where it can dump to memory, or one
#: pcap_next_ex per packet (Windows, Linux USB). Every live test runs both ways: for the second,
#: handles are made to say they cannot dump to memory (no open_memstream, as on Windows).
READ_PATHS = ("batched", "per-packet")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if getattr(metafunc.module, "CHOOSES_READ_PATH", False):
        return
    if metafunc.definition.get_closest_marker("live") and "read_path" in metafunc.fixturenames:
        metafunc.parametrize("read_path", READ_PATHS, indirect=True)


@pytest.fixture(autouse=True)
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The read path handles opened by this test use (see READ_PATHS)."""
    path = getattr(request, "param", READ_PATHS[0])
    if path != "batched":
        monkeypatch.setattr(Handle, "can_dump_to_memory", CANNOT_DUMP_TO_MEMORY)
    return str(path)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("live") and os.geteuid() != 0:
        pytest.skip(f"live capture needs root (CAP_NET_RAW and CAP_NET_ADMIN); "
                    f"running as uid {os.geteuid()}")


@pytest.fixture(autouse=True)
def _needs_libpcap(libpcap: None) -> None:
    """Everything here talks to libpcap (the session fixture skips if it cannot be loaded)."""


@pytest.fixture
def udp_port() -> Iterator[int]:
    """A free UDP port on 127.0.0.1, bound (never read) so no ICMP unreachable comes back."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((LOOPBACK, 0))
    yield sink.getsockname()[1]
    sink.close()


@pytest.fixture(scope="session")
def netns_lab() -> Iterator[NetnsLab]:
    """Namespaces A and B joined by a veth pair (B's end in a bridge), deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    suffix = secrets.token_hex(3)
    lab = NetnsLab(f"pcapy-test-{suffix}-a", f"pcapy-test-{suffix}-b", f"pva{suffix}",
                   f"pvb{suffix}", f"pbr{suffix}", f"10.211.{secrets.randbelow(254) + 1}")
    try:
        build_lab(lab)
        yield lab
    finally:
        for ns in (lab.ns_a, lab.ns_b):  # deleting a namespace deletes its devices
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
