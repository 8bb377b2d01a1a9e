"""Worker for OUR pcapy (the package built from this repository, installed in its own venv)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common

common.fix_sys_path(__file__)

import pcapy  # noqa: E402

if __name__ == "__main__":
    common.worker_main("pcapy", getattr(pcapy, "__version__", "?"), pcapy.__file__,
                       common.pcapy_modes(pcapy, can_write_pcapng=True))
