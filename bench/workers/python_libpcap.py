"""Worker for python-libpcap (module ``pylibpcap``; Cython, built from sdist on system libpcap).

Its only reader is the generator ``LibPcap(path, filters=...).read()`` (what ``rpcap()``
returns), yielding ``(caplen, sec, bytes)``: ``next(gen, None)`` one packet at a time, or plain
iteration. Filtering is the ``filters=`` argument (libpcap's ``pcap_setfilter``). It has no
``loop()``. Its writer ``LibPcap(path, 'w').write(buf)`` stamps every packet with the current
time and caplen = len = len(buf), so its ``dump`` is not a faithful copy (marked in the report).
Live capture: ``Sniff(...).capture()``, a blocking generator, run in a thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common
from common import Args, Pass, Skip, Timer

common.fix_sys_path(__file__)

import pylibpcap  # noqa: E402
from pylibpcap.base import LibPcap, Sniff  # noqa: E402


def m_next(a: Args) -> Pass:
    n = total = 0
    with Timer() as t:
        packets = LibPcap(a.file).read()
        item = next(packets, None)
        while item is not None:
            n += 1
            total += item[0]
            item = next(packets, None)
    return Pass(t.ns, n, total)


def _iterate(a: Args, expression: str) -> Pass:
    n = total = 0
    with Timer() as t:
        for caplen, _sec, _data in LibPcap(a.file, filters=expression).read():
            n += 1
            total += caplen
    return Pass(t.ns, n, total)


def m_iter(a: Args) -> Pass:
    return _iterate(a, "")


def m_filter(a: Args) -> Pass:
    return _iterate(a, common.FILTER_EXPR)


def m_dump(a: Args) -> Pass:
    if a.out is None:
        raise Skip("no --out given")
    n = total = 0
    with Timer() as t:
        out = LibPcap(a.out, "w")
        write = out.write
        for caplen, _sec, data in LibPcap(a.file).read():
            n += 1
            total += caplen
            write(data)
        out.close()
    return Pass(t.ns, n, total, {"unfaithful": "write() stamps the current time"})


def m_rss(a: Args) -> Pass:
    return common.rss_pass(caplen for caplen, _sec, _data in LibPcap(a.file).read())


def m_live(a: Args) -> Pass:
    try:
        sniff = Sniff(a.file, count=-1, promisc=0, snaplen=65535, timeout=100,
                      filters=f"udp dst port {a.port}")
    except Exception as err:
        raise Skip(f"Sniff() failed: {type(err).__name__}: {err}") from err
    ctl = common.LiveControl()
    captured = 0

    def capture() -> None:  # pcap_next() blocks with the GIL released; no way to wake it
        nonlocal captured
        for caplen, _ts, _data in sniff.capture():
            if caplen:
                captured += 1

    threading.Thread(target=capture, daemon=True).start()
    ctl.ready()
    seen = 0
    while not ctl.finished():
        if ctl.done:
            time.sleep(0.05)
        else:
            ctl.wait(sys.stdin.fileno(), 0.05)
        if captured != seen:
            seen = captured
            ctl.got(1)
    stats = sniff.stats()
    return ctl.result(captured, stats.ps_recv, stats.ps_drop, stats.ps_ifdrop)


MODES = {"next": m_next, "iter": m_iter, "filter": m_filter, "dump": m_dump, "ngread": m_next,
         "rss": m_rss, "live": m_live}

if __name__ == "__main__":
    result_version = metadata.version("python-libpcap")
    common.worker_main("python-libpcap", result_version, pylibpcap.__file__, MODES)
    os._exit(0)  # a live capture thread may still be blocked in pcap_next()
