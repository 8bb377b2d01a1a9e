"""A veth pair between two network namespaces the tests create: what each live option does.

Frames carry the lab's own EtherType and a marker, and every capture is filtered on that
EtherType, so the link's own traffic (IPv6 router solicitations ...) never interferes.
"""

from __future__ import annotations

import secrets
import subprocess
import time

import pytest

import pcapy
from live.lab import (
    BROADCAST_MAC,
    FOREIGN_MAC,
    WAIT,
    NetnsLab,
    ip,
    lab_frame,
    markers,
    open_in_netns,
    read_until_marker,
    run_in_netns,
    wait_for_markers,
    wait_until_up,
)

pytestmark = pytest.mark.live

END = b"end"  # the marker of the frame a test sends last: when it is captured, so is the rest


def test_getnet_and_getmask_report_the_veths_network(netns_lab: NetnsLab) -> None:
    with open_in_netns(netns_lab.ns_a, netns_lab.dev_a) as reader:
        assert reader.getnet() == f"{netns_lab.subnet}.0"
        assert reader.getmask() == "255.255.255.0"
        assert reader.datalink() == pcapy.DLT_EN10MB


def test_a_frame_sent_on_one_end_is_captured_on_the_other(netns_lab: NetnsLab) -> None:
    mac_a = netns_lab.mac(netns_lab.ns_a, netns_lab.dev_a)
    frames = [lab_frame(BROADCAST_MAC, mac_a, b"hello-%d" % i) for i in range(5)]
    with open_in_netns(netns_lab.ns_b, netns_lab.dev_b) as sniffer, \
            open_in_netns(netns_lab.ns_a, netns_lab.dev_a) as sender:
        for frame in [*frames, lab_frame(BROADCAST_MAC, mac_a, END)]:
            sender.sendpacket(frame)
        captured = read_until_marker(sniffer, END)
    assert [data for _hdr, data in captured] == frames
    assert all(hdr.getcaplen() == hdr.getlen() == 60 for hdr, _data in captured)


def capture_on(lab: NetnsLab, device: str, promisc: int) -> tuple[list[bytes], int]:
    """Markers of the three test frames as ``device`` in B sees them, and its promiscuity."""
    mac_a = lab.mac(lab.ns_a, lab.dev_a)
    mac_bridge = lab.mac(lab.ns_b, lab.bridge_b)
    with open_in_netns(lab.ns_b, device, promisc) as sniffer, \
            open_in_netns(lab.ns_a, lab.dev_a) as sender:
        promiscuity = lab.promiscuity(lab.ns_b, device)
        for destination, marker in ((FOREIGN_MAC, b"foreign"), (BROADCAST_MAC, b"broadcast"),
                                    (mac_bridge, b"to-bridge"), (BROADCAST_MAC, END)):
            sender.sendpacket(lab_frame(destination, mac_a, marker))
        return markers(read_until_marker(sniffer, END)), promiscuity


def test_promiscuous_mode_shows_frames_for_other_hosts(netns_lab: NetnsLab) -> None:
    # A bridge passes a frame for an unknown unicast address up to its own interface only
    # when that interface is promiscuous, so that is where promiscuous mode shows.
    seen, promiscuity = capture_on(netns_lab, netns_lab.bridge_b, promisc=0)
    assert seen == [b"broadcast", b"to-bridge"]
    assert promiscuity == 0
    seen, promiscuity = capture_on(netns_lab, netns_lab.bridge_b, promisc=1)
    assert seen == [b"foreign", b"broadcast", b"to-bridge"]
    assert promiscuity == 1
    assert netns_lab.promiscuity(netns_lab.ns_b, netns_lab.bridge_b) == 0  # undone by close()


def test_a_veth_delivers_every_frame_whatever_promiscuous_mode_says(netns_lab: NetnsLab) -> None:
    # What the kernel really does: veth has no address filter, so a packet socket on it sees
    # frames for other hosts without promiscuous mode (the bridge above filters; veth doesn't).
    seen, promiscuity = capture_on(netns_lab, netns_lab.dev_b, promisc=0)
    assert seen == [b"foreign", b"broadcast", b"to-bridge"]
    assert promiscuity == 1  # the bridge holds its ports promiscuous; the capture added nothing


@pytest.mark.parametrize(("direction", "expected"), [
    (pcapy.PCAP_D_INOUT, [b"outgoing", b"incoming"]),
    (pcapy.PCAP_D_IN, [b"incoming"]),
    (pcapy.PCAP_D_OUT, [b"outgoing"]),
])
def test_setdirection_keeps_one_direction(netns_lab: NetnsLab, direction: int,
                                          expected: list[bytes]) -> None:
    mac_a = netns_lab.mac(netns_lab.ns_a, netns_lab.dev_a)
    with open_in_netns(netns_lab.ns_a, netns_lab.dev_a) as sniffer, \
            open_in_netns(netns_lab.ns_a, netns_lab.dev_a) as witness, \
            open_in_netns(netns_lab.ns_a, netns_lab.dev_a) as local, \
            open_in_netns(netns_lab.ns_b, netns_lab.dev_b) as peer:
        sniffer.setdirection(direction)
        local.sendpacket(lab_frame(BROADCAST_MAC, mac_a, b"outgoing"))
        peer.sendpacket(lab_frame(BROADCAST_MAC, FOREIGN_MAC, b"incoming"))
        # Both frames have gone by the device once a capture of both directions saw them;
        # then one more, in a direction the sniffer keeps, ends its reading.
        wait_for_markers(witness, [b"outgoing", b"incoming"])
        if direction == pcapy.PCAP_D_OUT:
            local.sendpacket(lab_frame(BROADCAST_MAC, mac_a, END))
        else:
            peer.sendpacket(lab_frame(BROADCAST_MAC, FOREIGN_MAC, END))
        assert markers(read_until_marker(sniffer, END)) == expected


def test_setdirection_rejects_a_bad_direction(netns_lab: NetnsLab) -> None:
    with open_in_netns(netns_lab.ns_a, netns_lab.dev_a) as reader, \
            pytest.raises(pcapy.PcapError, match="[Dd]irection"):
        reader.setdirection(7)


LIST_DEVICES = """
import dataclasses, json, pcapy
print(json.dumps({"names": pcapy.findalldevs(),
                  "devices": [dataclasses.asdict(d) | {"up": d.up, "running": d.running,
                                                       "loopback": d.loopback}
                              for d in pcapy.list_devices()]}))
"""


def test_findalldevs_and_list_devices_show_the_veth_and_its_address(netns_lab: NetnsLab) -> None:
    listing = run_in_netns(netns_lab.ns_a, LIST_DEVICES)
    assert netns_lab.dev_a in listing["names"]
    assert [d["name"] for d in listing["devices"]] == listing["names"]
    [veth] = [d for d in listing["devices"] if d["name"] == netns_lab.dev_a]
    assert (veth["up"], veth["running"], veth["loopback"]) == (True, True, False)
    ipv4 = [a for a in veth["addresses"] if a["family"] == "AF_INET"]
    assert ipv4 == [{"family": "AF_INET", "address": f"{netns_lab.subnet}.1",
                     "netmask": "255.255.255.0", "broadcast": f"{netns_lab.subnet}.255",
                     "destination": None}]
    mac = ":".join(f"{b:02x}" for b in netns_lab.mac(netns_lab.ns_a, netns_lab.dev_a))
    link = [a for a in veth["addresses"] if a["family"] == "AF_PACKET"]
    assert link and link[0]["address"] == mac
    assert netns_lab.dev_b not in listing["names"]  # the other end lives in the other namespace


def read_until_error(reader: pcapy.Reader, into: list[bytes], seconds: float) -> None:
    """Append what ``next()`` returns to ``into`` until it raises (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        hdr, data = reader.next()
        if hdr is not None:
            into.append(data)


def test_a_device_that_disappears_ends_the_capture_after_its_packets(read_path: str) -> None:
    # Its own namespace and veth pair, deleted mid-capture: the packets already captured come
    # out first, then libpcap's error, again on every later read (never a silent end).
    suffix = secrets.token_hex(3)
    ns, capture_dev, send_dev = f"pcapy-test-{suffix}-gone", f"pgx{suffix}", f"pgy{suffix}"
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "add", capture_dev, "type", "veth", "peer", "name", send_dev)
        for device in (capture_dev, send_dev):
            ip("-n", ns, "link", "set", device, "up")
        wait_until_up(ns, capture_dev)
        frames = [lab_frame(BROADCAST_MAC, FOREIGN_MAC, b"gone-%d" % i) for i in range(20)]
        with open_in_netns(ns, capture_dev) as capture:
            with open_in_netns(ns, capture_dev) as witness, \
                    open_in_netns(ns, send_dev) as sender:
                for frame in frames:
                    sender.sendpacket(frame)
                wait_for_markers(witness, markers([(None, frame) for frame in frames]))
            ip("-n", ns, "link", "del", capture_dev)
            captured: list[bytes] = []
            with pytest.raises(pcapy.CaptureError, match="interface disappeared|went down"):
                read_until_error(capture, captured, seconds=WAIT)
            assert captured == frames, read_path
            with pytest.raises(pcapy.CaptureError):
                capture.next()
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
