"""Worker for pcapy-ng (C extension; its module is also called ``pcapy``).

Modes: ``next()``, ``loop()``, ``setfilter()`` + ``loop()``, ``dump_open()``/``dump()``, reading
pcapng through libpcap, ``next_batch()`` (pcapy-ng 2.x's batch call) and live capture. It has no
iteration and cannot write pcapng.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common

common.fix_sys_path(__file__)

import pcapy  # noqa: E402

if __name__ == "__main__":
    common.worker_main("pcapy-ng", metadata.version("pcapy-ng"), pcapy.__file__,
                       common.pcapy_modes(pcapy, can_write_pcapng=False))
