"""Live capture (interim: the libpcap engine for live capture is being written)."""

from __future__ import annotations

from typing import Any

from ._errors import PcapError


class LiveCapture:
    """A live libpcap capture handle."""

    activated: bool = False
    network: int = 0
    netmask: int = 0

    def __getattr__(self, name: str) -> Any:
        raise PcapError("live capture is not available yet")


def open_live(device: str, snaplen: int, promisc: int, to_ms: int) -> Any:
    """Open a network device for capturing."""
    raise PcapError("live capture is not available yet")


def create(device: str) -> Any:
    """Create a capture handle to configure, then ``activate()``."""
    raise PcapError("live capture is not available yet")
