"""Traffic and namespaces for the fanout tests.

Frames are IPv4/UDP from namespace A to a MAC address nobody owns, captured on B's end of the
veth: no stack answers them, so what is captured is exactly what was sent. ``quiet_lab`` is a
lab of its own with IPv6 turned off in both namespaces, so that nothing else crosses the link
and the interface's counters can be compared with the workers' statistics.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

import pcapy
from helpers import udp_frame
from live.lab import NetnsLab, build_lab, in_netns

PORT = 4789
FILTER = f"udp and dst port {PORT}"


def flow_frames(flows: int, per_flow: int, tag: bytes = b"") -> list[bytes]:
    """``per_flow`` frames for each of ``flows`` flows (source ports), interleaved; each
    payload names its flow and number."""
    return [udp_frame(b"%s%d-%d" % (tag, flow, n), sport=20000 + flow, dport=PORT)
            for n in range(per_flow) for flow in range(flows)]


def send_from_a(lab: NetnsLab, frames: list[bytes]) -> None:
    """Send each frame once on A's end of the veth (bounded: the list is the count)."""
    sender: pcapy.Reader = in_netns(lab.ns_a, pcapy.open_live, lab.dev_a, 256, 0, 20)
    with sender:
        for frame in frames:
            sender.sendpacket(frame)


@contextlib.contextmanager
def quiet_lab() -> Iterator[NetnsLab]:
    """A quiet lab for the block (skipping the test unless root), deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    lab = new_quiet_lab()
    try:
        yield lab
    finally:
        delete_lab(lab)


def new_quiet_lab() -> NetnsLab:
    """A two-namespace lab of its own, with IPv6 off (no router solicitations, no MLD)."""
    suffix = secrets.token_hex(3)
    lab = NetnsLab(f"pcapy-fanout-{suffix}-a", f"pcapy-fanout-{suffix}-b", f"pfa{suffix}",
                   f"pfb{suffix}", f"pfr{suffix}", f"10.212.{secrets.randbelow(254) + 1}")
    build_lab(lab)
    for ns, devices in ((lab.ns_a, (lab.dev_a,)), (lab.ns_b, (lab.dev_b, lab.bridge_b))):
        for name in ("all", "default", *devices):
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            f"net.ipv6.conf.{name}.disable_ipv6=1"], check=True, timeout=10)
    return lab


def delete_lab(lab: NetnsLab) -> None:
    for ns in (lab.ns_a, lab.ns_b):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def link_packets(ns: str, device: str) -> int:
    """Frames the device has received and sent (the kernel's interface counters)."""
    out = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", device], check=True,
                         capture_output=True, text=True, timeout=10).stdout
    stats = json.loads(out)[0]["stats64"]
    return int(stats["rx"]["packets"]) + int(stats["tx"]["packets"])
