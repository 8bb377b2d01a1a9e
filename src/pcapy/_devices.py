"""Capture devices (interim)."""

from __future__ import annotations

from ._errors import PcapError


def findalldevs() -> list[str]:
    """Names of the devices that can be opened for capture."""
    raise PcapError("device listing is not available yet")


def lookupdev() -> str:
    """The name of a device suitable for ``open_live``."""
    raise PcapError("device listing is not available yet")
