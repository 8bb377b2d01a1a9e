"""Worker for cypcap (Cython binding of libpcap; manylinux wheel bundling libpcap 1.10).

Fastest documented paths: ``next(pcap, None)`` for one packet at a time, iteration
(``for hdr, data in pcap``), ``loop(-1, cb)``, ``setfilter()`` + ``loop()``, ``dump_open()``.
Its header has ``.len`` (no ``getlen()``). It cannot write pcapng.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common
from common import Args, Pass, Skip, Timer

common.fix_sys_path(__file__)

import cypcap  # noqa: E402


def m_next(a: Args) -> Pass:
    n = total = 0
    with Timer() as t:
        pcap = cypcap.open_offline(a.file)
        item = next(pcap, None)
        while item is not None:
            n += 1
            total += item[0].len
            item = next(pcap, None)
    return Pass(t.ns, n, total)


def m_iter(a: Args) -> Pass:
    n = total = 0
    with Timer() as t:
        for hdr, _data in cypcap.open_offline(a.file):
            n += 1
            total += hdr.len
    return Pass(t.ns, n, total)


def _loop(a: Args, expression: str) -> Pass:
    n = total = 0

    def callback(hdr: Any, _data: bytes) -> None:
        nonlocal n, total
        n += 1
        total += hdr.len

    with Timer() as t:
        pcap = cypcap.open_offline(a.file)
        if expression:
            pcap.setfilter(expression)
        pcap.loop(-1, callback)
    return Pass(t.ns, n, total)


def m_loop(a: Args) -> Pass:
    return _loop(a, "")


def m_filter(a: Args) -> Pass:
    return _loop(a, common.FILTER_EXPR)


def m_dump(a: Args) -> Pass:
    if a.out is None:
        raise Skip("no --out given")
    n = total = 0
    with Timer() as t:
        pcap = cypcap.open_offline(a.file)
        dumper = pcap.dump_open(a.out)
        dump = dumper.dump

        def callback(hdr: Any, data: bytes) -> None:
            nonlocal n, total
            n += 1
            total += hdr.len
            dump(hdr, data)

        pcap.loop(-1, callback)
        dumper.close()
    return Pass(t.ns, n, total)


def m_rss(a: Args) -> Pass:
    return common.rss_pass(hdr.len for hdr, _data in cypcap.open_offline(a.file))


def m_live(a: Args) -> Pass:
    try:
        pcap = cypcap.create(a.file)
        pcap.set_snaplen(65535)
        pcap.set_promisc(False)
        pcap.set_timeout(0.1)
        pcap.activate()
        pcap.setfilter(f"udp dst port {a.port}")
        pcap.setnonblock(True)
        fd = pcap.get_selectable_fd()
    except Exception as err:
        raise Skip(f"live capture failed: {type(err).__name__}: {err}") from err
    ctl = common.LiveControl()
    captured = 0

    def callback(hdr: Any, _data: bytes) -> None:
        nonlocal captured
        captured += 1
        hdr.len  # noqa: B018 - touch the header like the other workers

    ctl.ready()
    while not ctl.finished():
        ctl.wait(fd)
        before = captured
        pcap.dispatch(-1, callback)  # returns None: count in the callback
        if captured != before:
            ctl.got(captured - before)
    stat = pcap.stats()
    return ctl.result(captured, stat.recv, stat.drop, stat.ifdrop)


MODES = {"next": m_next, "loop": m_loop, "iter": m_iter, "filter": m_filter, "dump": m_dump,
         "ngread": m_next, "rss": m_rss, "live": m_live}

if __name__ == "__main__":
    common.worker_main("cypcap", metadata.version("cypcap"), cypcap.__file__, MODES)
