"""Worker for dpkt (pure Python).

Fastest documented paths: ``dpkt.pcap.Reader(f)`` iterated (``next(reader, None)`` one packet at
a time), ``Reader.loop(cb)`` with ``cb(ts, buf)``, ``dpkt.pcap.Writer.writepkt(buf, ts)``,
``dpkt.pcapng.Reader`` / ``dpkt.pcapng.Writer``. dpkt has no BPF (``setfilter`` raises
``NotImplementedError``) and no live capture.
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

import dpkt  # noqa: E402


def _next(a: Args, reader_class: Any) -> Pass:
    n = total = 0
    with Timer() as t, open(a.file, "rb") as f:
        reader = reader_class(f)
        item = next(reader, None)
        while item is not None:
            n += 1
            total += len(item[1])
            item = next(reader, None)
    return Pass(t.ns, n, total)


def m_next(a: Args) -> Pass:
    return _next(a, dpkt.pcap.Reader)


def m_ngread(a: Args) -> Pass:
    return _next(a, dpkt.pcapng.Reader)


def m_iter(a: Args) -> Pass:
    n = total = 0
    with Timer() as t, open(a.file, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            total += len(buf)
    return Pass(t.ns, n, total)


def m_loop(a: Args) -> Pass:
    n = total = 0

    def callback(_ts: float, buf: bytes) -> None:
        nonlocal n, total
        n += 1
        total += len(buf)

    with Timer() as t, open(a.file, "rb") as f:
        dpkt.pcap.Reader(f).loop(callback)
    return Pass(t.ns, n, total)


def m_filter(a: Args) -> Pass:
    raise Skip("dpkt has no BPF (Reader.setfilter raises NotImplementedError)")


def _copy(a: Args, writer_class: Any) -> Pass:
    if a.out is None:
        raise Skip("no --out given")
    n = total = 0
    with Timer() as t, open(a.file, "rb") as f, open(a.out, "wb") as out:
        reader = dpkt.pcap.Reader(f)
        writer = writer_class(out, snaplen=reader.snaplen, linktype=reader.datalink())
        write = writer.writepkt_time
        for ts, buf in reader:
            n += 1
            total += len(buf)
            write(buf, ts)
        writer.close()
    return Pass(t.ns, n, total)


def m_dump(a: Args) -> Pass:
    return _copy(a, dpkt.pcap.Writer)


def m_ngwrite(a: Args) -> Pass:
    return _copy(a, dpkt.pcapng.Writer)


def m_rss(a: Args) -> Pass:
    f = open(a.file, "rb")  # noqa: SIM115 - closed at exit
    return common.rss_pass(len(buf) for _ts, buf in dpkt.pcap.Reader(f))


MODES = {"next": m_next, "loop": m_loop, "iter": m_iter, "filter": m_filter, "dump": m_dump,
         "ngread": m_ngread, "ngwrite": m_ngwrite, "rss": m_rss}

if __name__ == "__main__":
    common.worker_main("dpkt", metadata.version("dpkt"), dpkt.__file__, MODES)
