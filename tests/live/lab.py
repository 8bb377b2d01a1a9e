"""Helpers for the live tests: loopback UDP bursts and the two-namespace veth lab.

Traffic goes only to 127.0.0.1 or stays inside the network namespaces ``conftest.netns_lab``
creates, and every send is bounded in count. Captures inside a namespace are opened by a
thread that has joined it (``setns(2)`` moves only the calling thread): the packet socket
libpcap creates there stays bound to that namespace's interface for its whole life, so the test
drives it from its own thread afterwards. ``pcap_findalldevs`` is the exception: it reads
``/sys/class/net``, which follows the mount namespace, not the network one, so device listings
run in a child process under ``ip netns exec`` (which mounts the namespace's own sysfs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import pcapy

LOOPBACK = "127.0.0.1"
#: Seconds a test waits for packets it expects before it fails: a wait ends as soon as they have
#: come, so this is generous (a loaded machine), never a pause.
WAIT = 20.0  # within the 30 s a live test may take in all (conftest.TIME_LIMIT)
#: What a handle without open_memstream (Windows) says: it reads one packet per call
#: (``Handle.can_dump_to_memory``, which decides a handle's read path when it is activated).
CANNOT_DUMP_TO_MEMORY = property(lambda _handle: False)
LAB_ETHERTYPE = 0x88B5  # IEEE 802 "local experimental": nothing else on the lab link uses it
FOREIGN_MAC = bytes.fromhex("020000c0ffee")  # locally administered unicast, owned by nobody
BROADCAST_MAC = b"\xff" * 6
_CLONE_NEWNET = 0x40000000


# -- loopback --------------------------------------------------------------------------------
def payloads(count: int, tag: bytes = b"pcapy", size: int = 100) -> list[bytes]:
    """``count`` distinct UDP payloads of ``size`` bytes."""
    return [(b"%s-%06d-" % (tag, i)).ljust(size, b".") for i in range(count)]


def send_udp(port: int, datagrams: list[bytes]) -> None:
    """Send each datagram to 127.0.0.1:port (the only destination these tests use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for datagram in datagrams:
            sender.sendto(datagram, (LOOPBACK, port))


def open_lo(port: int, to_ms: int = 50) -> pcapy.Reader:
    """``lo`` opened with pcapy's ``open_live`` and filtered to UDP datagrams to ``port``."""
    reader = pcapy.open_live("lo", 65535, 0, to_ms)
    reader.setfilter(f"udp dst port {port}")
    return reader


def udp_payload(frame: bytes) -> bytes:
    """The UDP payload of an Ethernet/IPv4/UDP frame as captured on ``lo``."""
    ihl = (frame[14] & 0x0F) * 4
    return frame[14 + ihl + 8 :]


def collect_next(reader: pcapy.Reader, count: int, seconds: float = WAIT) -> list[tuple[Any, bytes]]:
    """Up to ``count`` packets read with ``next()``, giving up after ``seconds``."""
    packets: list[tuple[Any, bytes]] = []
    deadline = time.monotonic() + seconds
    while len(packets) < count and time.monotonic() < deadline:
        hdr, data = reader.next()
        if hdr is not None:
            packets.append((hdr, data))
    return packets


# -- network namespaces ----------------------------------------------------------------------
def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


@dataclass(frozen=True)
class NetnsLab:
    """Namespace A (``dev_a``, 10.211.N.1/24) joined by a veth to B (``dev_b`` in ``bridge_b``,
    10.211.N.2/24 on the bridge)."""

    ns_a: str
    ns_b: str
    dev_a: str
    dev_b: str
    bridge_b: str
    subnet: str  # "10.211.N"

    def mac(self, ns: str, device: str) -> bytes:
        """The device's MAC address."""
        return bytes.fromhex(str(link_details(ns, device)["address"]).replace(":", ""))

    def promiscuity(self, ns: str, device: str) -> int:
        """How many holders keep the device promiscuous (packet sockets count; ``ip -d``)."""
        return int(link_details(ns, device)["promiscuity"])


def link_details(ns: str, device: str) -> dict[str, Any]:
    """``ip -d -j link show`` for one device of a namespace."""
    out = subprocess.run(["ip", "-n", ns, "-d", "-j", "link", "show", device], check=True,
                         capture_output=True, text=True, timeout=10).stdout
    return dict(json.loads(out)[0])


def build_lab(lab: NetnsLab) -> None:
    """Create the lab's namespaces, veth pair, bridge and addresses."""
    ip("netns", "add", lab.ns_a)
    ip("netns", "add", lab.ns_b)
    ip("link", "add", lab.dev_a, "netns", lab.ns_a, "type", "veth",
       "peer", "name", lab.dev_b, "netns", lab.ns_b)
    ip("-n", lab.ns_a, "addr", "add", f"{lab.subnet}.1/24", "brd", "+", "dev", lab.dev_a)
    ip("-n", lab.ns_a, "link", "set", lab.dev_a, "up")
    ip("-n", lab.ns_b, "link", "add", lab.bridge_b, "type", "bridge")
    ip("-n", lab.ns_b, "link", "set", lab.dev_b, "master", lab.bridge_b)
    ip("-n", lab.ns_b, "addr", "add", f"{lab.subnet}.2/24", "brd", "+", "dev", lab.bridge_b)
    ip("-n", lab.ns_b, "link", "set", lab.dev_b, "up")
    ip("-n", lab.ns_b, "link", "set", lab.bridge_b, "up")
    wait_until_up(lab.ns_b, lab.bridge_b)


def wait_until_up(ns: str, device: str, seconds: float = 5.0) -> None:
    """Wait for a device's operational state to be UP (a new bridge takes a moment)."""
    deadline = time.monotonic() + seconds
    while link_details(ns, device).get("operstate") != "UP":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{device} in {ns} did not come up within {seconds} s")
        time.sleep(0.02)


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def in_netns(ns: str, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` run by a new thread that has joined network namespace ``ns``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with open(f"/run/netns/{ns}", "rb") as handle:
                _setns(handle.fileno())
            outcome["value"] = function(*args)
        except BaseException as err:  # handed to the calling thread
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def open_in_netns(ns: str, device: str, promisc: int = 0, to_ms: int = 20) -> pcapy.Reader:
    """``open_live`` of a device in namespace ``ns``, filtered to the lab's EtherType."""
    reader: pcapy.Reader = in_netns(ns, pcapy.open_live, device, 2048, promisc, to_ms)
    reader.setfilter(f"ether proto {LAB_ETHERTYPE:#06x}")
    return reader


def run_in_netns(ns: str, code: str) -> Any:
    """Run Python ``code`` under ``ip netns exec ns``; return the JSON it prints last."""
    result = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code],
                            check=True, capture_output=True, text=True, timeout=30)
    return json.loads(result.stdout.strip().splitlines()[-1])


def lab_frame(destination: bytes, source: bytes, marker: bytes) -> bytes:
    """An Ethernet frame of the lab's EtherType carrying ``marker`` (padded to 60 bytes)."""
    return (destination + source + struct.pack("!H", LAB_ETHERTYPE) + marker).ljust(60, b"\x00")


def markers(packets: list[tuple[Any, bytes]]) -> list[bytes]:
    """The markers of captured lab frames (the payload up to its first NUL)."""
    return [data[14:].split(b"\x00", 1)[0] for _hdr, data in packets]


def read_until_marker(reader: pcapy.Reader, end: bytes,
                      seconds: float = WAIT) -> list[tuple[Any, bytes]]:
    """The lab frames ``reader`` captures before the one carrying marker ``end``.

    The test sends that frame last, on the path of the frames it checks, so every frame sent
    before it, the ones that must not arrive too, has had its chance to be captured by then:
    a readiness condition, not a guess at how long the kernel takes. Fails if ``end`` does not
    come within ``seconds``.
    """
    packets: list[tuple[Any, bytes]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hdr, data = reader.next()
        if hdr is None:
            continue
        if markers([(hdr, data)]) == [end]:
            return packets
        packets.append((hdr, data))
    raise AssertionError(f"the end marker {end!r} was not captured within {seconds} s "
                         f"(captured before it: {markers(packets)})")


def wait_for_markers(reader: pcapy.Reader, expected: list[bytes], seconds: float = WAIT) -> None:
    """Read until ``reader`` has captured a lab frame with each of the ``expected`` markers
    (a witness: the kernel has handed those frames to every capture on that device)."""
    missing = set(expected)
    deadline = time.monotonic() + seconds
    while missing and time.monotonic() < deadline:
        hdr, data = reader.next()
        if hdr is not None:
            missing.difference_update(markers([(hdr, data)]))
    assert not missing, f"not captured within {seconds} s: {sorted(missing)}"


def measured(label: str, seconds: float) -> None:
    """Print a measured latency (shown with ``pytest -s`` or in ``-rP`` output)."""
    print(f"[measured] {label}: {seconds * 1000:.1f} ms")
