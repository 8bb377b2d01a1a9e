"""An interface going down ends the capture with libpcap's "The interface went down" (issue 12
item 5), as libpcap and pcapy-ng do: it was silent (a 6% CPU spin, resuming on up).

Each test makes its own namespace and veth pair, and deletes them, whatever happens.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Iterator

import pytest

import pcapy
from live.lab import ip, lab_frame, markers, open_in_netns, wait_for_markers, wait_until_up

pytestmark = pytest.mark.live

BROADCAST_MAC = b"\xff" * 6
FOREIGN_MAC = b"\x02\x00\x00\x00\x00\x99"
ENDS_WITHIN = 10.0


@pytest.fixture
def veth() -> Iterator[tuple[str, str, str]]:
    suffix = secrets.token_hex(3)
    ns, capture_dev, send_dev = f"pcapy-test-{suffix}-down", f"pdx{suffix}", f"pdy{suffix}"
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "add", capture_dev, "type", "veth", "peer", "name", send_dev)
        for device in (capture_dev, send_dev):
            ip("-n", ns, "link", "set", device, "up")
        wait_until_up(ns, capture_dev)
        yield ns, capture_dev, send_dev
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _read_until_error(reader: pcapy.Reader, read) -> tuple[list[bytes], BaseException]:
    captured: list[bytes] = []
    deadline = time.monotonic() + ENDS_WITHIN
    while time.monotonic() < deadline:
        try:
            captured += read(reader)
        except pcapy.PcapError as err:
            return captured, err
    pytest.fail(f"no error within {ENDS_WITHIN} s of the interface going down")


def _by_next(reader: pcapy.Reader) -> list[bytes]:
    hdr, data = reader.next()
    return [data] if hdr is not None else []


def _by_dispatch(reader: pcapy.Reader) -> list[bytes]:
    got: list[bytes] = []
    reader.dispatch(10, lambda _hdr, data: got.append(data))
    return got



@pytest.mark.parametrize("read", [_by_next, _by_dispatch], ids=["next", "dispatch"])
def test_an_interface_going_down_raises_libpcaps_error(veth, read_path, read):
    ns, capture_dev, send_dev = veth
    frames = [lab_frame(BROADCAST_MAC, FOREIGN_MAC, b"down-%d" % i) for i in range(5)]
    with open_in_netns(ns, capture_dev) as capture:
        with open_in_netns(ns, capture_dev) as witness, open_in_netns(ns, send_dev) as sender:
            for frame in frames:
                sender.sendpacket(frame)
            # the frames have reached every capture on the device once this one has them
            wait_for_markers(witness, markers([(None, frame) for frame in frames]))
        ip("-n", ns, "link", "set", capture_dev, "down")
        captured, error = _read_until_error(capture, read)
        assert isinstance(error, pcapy.CaptureError)
        assert "The interface went down" in str(error)
        assert captured == frames
        with pytest.raises(pcapy.CaptureError, match="went down"):  # and on every later read
            capture.next()


def test_a_loop_ends_at_the_interface_going_down(veth, read_path):
    ns, capture_dev, _send_dev = veth
    with open_in_netns(ns, capture_dev) as capture:
        ip("-n", ns, "link", "set", capture_dev, "down")
        started = time.monotonic()
        with pytest.raises(pcapy.CaptureError, match="The interface went down"):
            capture.loop(-1, lambda _hdr, _data: None)
        assert time.monotonic() - started < ENDS_WITHIN


def test_async_for_ends_at_the_interface_going_down(veth, read_path):
    ns, capture_dev, _send_dev = veth

    async def read(capture: pcapy.Reader) -> int:
        count = 0
        async for _packet in capture:
            count += 1
        return count

    with open_in_netns(ns, capture_dev) as capture:
        ip("-n", ns, "link", "set", capture_dev, "down")
        with pytest.raises(pcapy.CaptureError, match="The interface went down"):
            asyncio.run(asyncio.wait_for(read(capture), ENDS_WITHIN))
