"""``Reader.set_fanout``: handles on one device sharing its packets through a PACKET_FANOUT group.

Two handles on B's end of the lab's veth join one group; A sends IPv4/UDP frames of many flows
(distinct source ports) to a MAC address nobody owns, so no stack answers and only the frames
sent are captured. What the kernel did is read back with ``getsockopt(PACKET_FANOUT)`` on a
duplicate of the handle's descriptor.
"""

from __future__ import annotations

import os
import secrets
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import pcapy
from helpers import udp_frame
from live.fanout_lab import FILTER, flow_frames, send_from_a
from live.lab import NetnsLab, in_netns

pytestmark = pytest.mark.live

SOL_PACKET, PACKET_FANOUT = 263, 18
FLOWS = 64
PER_FLOW = 4


def group_id() -> int:
    return secrets.randbelow(0xFFFF) + 1


def fanout_option(reader: pcapy.Reader) -> int:
    """What the kernel says of the handle's socket: ``group | (mode | flags) << 16``, 0 if none."""
    with socket.socket(fileno=os.dup(reader.getfd())) as packet_socket:
        raw = packet_socket.getsockopt(SOL_PACKET, PACKET_FANOUT, 4)
    return int(struct.unpack("=I", raw)[0])


def open_b(lab: NetnsLab, group: int, mode: int, flags: int = 0) -> pcapy.Reader:
    """A handle on B's veth end, filtered to the test's frames, in fanout group ``group``."""
    reader: pcapy.Reader = in_netns(lab.ns_b, pcapy.open_live, lab.dev_b, 256, 0, 20)
    reader.setfilter(FILTER)
    reader.set_fanout(group, mode, flags)
    return reader


def collect(readers: list[pcapy.Reader], expected: int, seconds: float = 10.0) -> list[list[bytes]]:
    """Each reader's frames, read until ``expected`` have come in all (or ``seconds`` pass),
    then whatever is still ready: a duplicate would show as one frame too many."""
    seen: list[list[bytes]] = [[] for _ in readers]
    deadline = time.monotonic() + seconds
    while sum(map(len, seen)) < expected and time.monotonic() < deadline:
        for index, reader in enumerate(readers):
            hdr, data = reader.next()
            if hdr is not None:
                seen[index].append(data)
    for index, reader in enumerate(readers):
        reader.setnonblock(1)
        seen[index].extend(data for _hdr, data in iter_ready(reader))
    return seen


def iter_ready(reader: pcapy.Reader) -> Iterator[tuple[Any, bytes]]:
    while True:
        hdr, data = reader.next()
        if hdr is None:
            return
        yield hdr, data


def source_port(frame: bytes) -> int:
    return int(struct.unpack_from("!H", frame, 34)[0])


def test_a_hash_group_shares_the_packets_and_keeps_each_flow_on_one_handle(
        netns_lab: NetnsLab) -> None:
    group = group_id()
    frames = flow_frames(FLOWS, PER_FLOW)
    with open_b(netns_lab, group, pcapy.PACKET_FANOUT_HASH) as first, \
            open_b(netns_lab, group, pcapy.PACKET_FANOUT_HASH) as second:
        send_from_a(netns_lab, frames)
        seen = collect([first, second], len(frames))
    assert Counter(seen[0] + seen[1]) == Counter(frames)  # all of them, none twice
    flows = [{source_port(frame) for frame in frames} for frames in seen]
    assert flows[0].isdisjoint(flows[1])
    assert flows[0] and flows[1]  # 64 flows hashed over two sockets: both get some


def test_a_load_balancing_group_alternates(netns_lab: NetnsLab) -> None:
    group = group_id()
    frames = flow_frames(FLOWS, PER_FLOW)[:40]
    with open_b(netns_lab, group, pcapy.PACKET_FANOUT_LB) as first, \
            open_b(netns_lab, group, pcapy.PACKET_FANOUT_LB) as second:
        send_from_a(netns_lab, frames)
        seen = collect([first, second], len(frames))
    assert Counter(seen[0] + seen[1]) == Counter(frames)
    # Round robin over the two sockets; other traffic on the link (filtered out after the
    # kernel's choice) can shift the turns, but not by much in 40 frames.
    assert min(map(len, seen)) >= 10


def test_the_kernel_holds_the_group_mode_and_flags(netns_lab: NetnsLab) -> None:
    group = group_id()
    flags = pcapy.PACKET_FANOUT_FLAG_DEFRAG | pcapy.PACKET_FANOUT_FLAG_ROLLOVER
    with open_b(netns_lab, group, pcapy.PACKET_FANOUT_HASH, flags) as reader:
        assert fanout_option(reader) == group | (pcapy.PACKET_FANOUT_HASH | flags) << 16
        assert reader.getfd() >= 0  # the duplicate was closed, libpcap's descriptor was not
        os.fstat(reader.getfd())
    with open_b(netns_lab, group, pcapy.PACKET_FANOUT_CPU | pcapy.PACKET_FANOUT_FLAG_DEFRAG) as ng:
        # pcapy-ng's spelling: the flags or-ed into fanout_type
        assert fanout_option(ng) == group | (pcapy.FanoutMode.CPU | pcapy.FanoutFlag.DEFRAG) << 16


def test_set_before_activate_joins_as_the_handle_is_activated(netns_lab: NetnsLab) -> None:
    group = group_id()

    def create_and_activate() -> pcapy.Reader:
        reader = pcapy.create(netns_lab.dev_b)
        reader.set_fanout(group, pcapy.PACKET_FANOUT_LB)
        with pytest.raises(pcapy.CaptureError, match="already to join fanout group"):
            reader.set_fanout(group + 1, pcapy.PACKET_FANOUT_LB)
        assert reader.getfd() == -1  # no socket yet
        assert reader.activate() == 0
        return reader

    with in_netns(netns_lab.ns_b, create_and_activate) as reader:
        assert fanout_option(reader) == group | pcapy.PACKET_FANOUT_LB << 16


def test_the_kernels_refusals_are_capture_errors(netns_lab: NetnsLab) -> None:
    group = group_id()
    with open_b(netns_lab, group, pcapy.PACKET_FANOUT_HASH) as reader:
        with pytest.raises(pcapy.CaptureError, match="already in a fanout group"):
            reader.set_fanout(group, pcapy.PACKET_FANOUT_HASH)
        other: pcapy.Reader = in_netns(netns_lab.ns_b, pcapy.open_live, netns_lab.dev_b, 256, 0, 20)
        with other:
            with pytest.raises(pcapy.CaptureError, match=f"group {group} .*another mode"):
                other.set_fanout(group, pcapy.PACKET_FANOUT_LB)  # the group is a hash group
            with pytest.raises(pcapy.CaptureError, match="EINVAL"):
                other.set_fanout(group_id(), 0x7F)  # no such mode


def test_a_failed_join_at_activation_raises_from_activate(netns_lab: NetnsLab) -> None:
    group = group_id()
    with open_b(netns_lab, group, pcapy.PACKET_FANOUT_HASH):
        def create_and_activate() -> None:
            reader = pcapy.create(netns_lab.dev_b)
            reader.set_fanout(group, pcapy.PACKET_FANOUT_RND)
            with reader, pytest.raises(pcapy.CaptureError, match=f"group {group}"):
                reader.activate()

        in_netns(netns_lab.ns_b, create_and_activate)


def test_bad_arguments_and_handles_that_cannot_join(tmp_path: Any) -> None:
    reader = pcapy.open_live("lo", 256, 0, 20)
    with pytest.raises(ValueError, match="group_id"):
        reader.set_fanout(0x10000, pcapy.PACKET_FANOUT_HASH)
    with pytest.raises(ValueError, match="0..0xffff"):
        reader.set_fanout(1, 0x10000)
    with pytest.raises(TypeError, match="fanout_type"):
        reader.set_fanout(1, "hash")  # type: ignore[arg-type]
    reader.close()
    with pytest.raises(ValueError, match="pcap is closed"):
        reader.set_fanout(1, pcapy.PACKET_FANOUT_HASH)
    path = tmp_path / "one.pcap"
    with pcapy.Dumper(str(path), pcapy.DLT_EN10MB) as dumper:
        frame = udp_frame(b"x")
        dumper.dump(pcapy.Pkthdr(1, 0, len(frame), len(frame)), frame)
    with pcapy.open_offline(str(path)) as offline, \
            pytest.raises(pcapy.PcapError, match="needs a live capture"):
        offline.set_fanout(1, pcapy.PACKET_FANOUT_HASH)
