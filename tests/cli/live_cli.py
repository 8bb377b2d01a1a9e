"""Running ``pcapy -i ...`` in a subprocess and sending only once it listens.

The banner (``listening on ...``) is printed after the capture is activated and its filter set,
so datagrams sent after it are seen; a fixed delay is not enough on a loaded machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence

ENV = {**os.environ, "TZ": "UTC"}


def run_listening(args: Sequence[str], send: Callable[[], object], *,
                  timeout: float = 25) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m pcapy *args``; call ``send()`` once it prints ``listening on``.

    Returns the finished process with all of its output (the lines before the banner and the
    banner included). If it exits before listening, ``send`` is not called.
    """
    with subprocess.Popen([sys.executable, "-m", "pcapy", *args], env=ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stderr is not None
        early = b""
        while True:
            line = proc.stderr.readline()
            early += line
            if not line or line.startswith(b"listening on "):
                break
        if line:
            send()
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, early + err)
