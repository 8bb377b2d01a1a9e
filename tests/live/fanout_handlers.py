"""Handlers the fanout pool tests hand to ``pcapy.capture_parallel``.

They run in the worker processes, which import them by name, so they live in this importable
module (``tests`` is on the path) rather than in a test file.
"""

from __future__ import annotations

import os
import struct
from typing import Any

UDP_PAYLOAD = 42  # Ethernet + IPv4 (no options) + UDP


def flow_and_payload(data: bytes) -> tuple[int, bytes]:
    """The UDP source port (the flow, in the tests' traffic) and the payload."""
    return int(struct.unpack_from("!H", data, 34)[0]), bytes(data[UDP_PAYLOAD:])


class Record:
    """Keeps every packet's payload (the worker's result), and appends it to a file of its own
    in ``folder`` as it goes, so a test can wait until the workers have handled all it sent."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.payloads: list[bytes] = []
        self._log: Any = None

    def __call__(self, hdr: Any, data: bytes) -> None:
        self.payloads.append(flow_and_payload(data)[1])
        if self._log is None:
            self._log = open(os.path.join(self.folder, f"worker-{os.getpid()}"), "ab")  # noqa: SIM115
        self._log.write(b"x")
        self._log.flush()

    def result(self) -> list[bytes]:
        return self.payloads


class FailOnThird:
    """Raises on its third packet."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, hdr: Any, data: bytes) -> None:
        self.seen += 1
        if self.seen == 3:
            raise ValueError(f"handler failed on purpose in {os.getpid()}")


def ignore(hdr: Any, data: bytes) -> None:
    """Does nothing (a plain function handler)."""


def handled_so_far(folder: str) -> int:
    """How many packets the Record handlers of all workers have handled so far."""
    return sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
