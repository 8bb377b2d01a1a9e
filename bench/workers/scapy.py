"""Worker for scapy (pure Python), through its raw readers and writers (no packet dissection).

Fastest documented paths: ``scapy.utils.RawPcapReader`` (``next(reader, None)`` or iteration,
yielding ``(data, metadata)``), ``RawPcapWriter.write_packet(data, sec, usec, caplen,
wirelen)``, ``RawPcapNgReader``, ``RawPcapNgWriter``. scapy has no ``loop()``, no offline BPF
(it shells out to tcpdump) and its live capture is not libpcap's, so those modes are skipped.
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

import scapy  # noqa: E402
from scapy.utils import RawPcapNgReader, RawPcapNgWriter, RawPcapReader, RawPcapWriter  # noqa: E402


def next_pass(a: Args, reader_class: Any) -> Pass:
    """``next(reader)`` until the end, with a raw pcap or pcapng reader."""
    n = total = 0
    with Timer() as t:
        reader = reader_class(a.file)
        item = next(reader, None)
        while item is not None:
            n += 1
            total += item[1].wirelen
            item = next(reader, None)
        reader.close()
    return Pass(t.ns, n, total)


def m_next(a: Args) -> Pass:
    return next_pass(a, RawPcapReader)


def m_iter(a: Args) -> Pass:
    n = total = 0
    with Timer() as t:
        reader = RawPcapReader(a.file)
        for _data, meta in reader:
            n += 1
            total += meta.wirelen
        reader.close()
    return Pass(t.ns, n, total)


def m_ngread(a: Args) -> Pass:
    return next_pass(a, RawPcapNgReader)


def _copy(a: Args, writer: Any) -> Pass:
    n = total = 0
    with Timer() as t:
        reader = RawPcapReader(a.file)
        writer.linktype = reader.linktype
        write = writer.write_packet
        for data, meta in reader:
            n += 1
            total += meta.wirelen
            write(data, sec=meta.sec, usec=meta.usec, caplen=meta.caplen, wirelen=meta.wirelen)
        writer.close()
        reader.close()
    return Pass(t.ns, n, total)


def m_dump(a: Args) -> Pass:
    if a.out is None:
        raise Skip("no --out given")
    writer = RawPcapWriter(a.out, linktype=1, snaplen=65535, sync=False)
    writer.write_header(None)  # without it, RawPcapWriter writes no file header
    return _copy(a, writer)


def m_ngwrite(a: Args) -> Pass:
    if a.out is None:
        raise Skip("no --out given")
    return _copy(a, RawPcapNgWriter(a.out))


def m_rss(a: Args) -> Pass:
    return common.rss_pass(meta.wirelen for _data, meta in RawPcapReader(a.file))


def m_unsupported(reason: str) -> common.Mode:
    def mode(_a: Args) -> Pass:
        raise Skip(reason)

    return mode


MODES = {"next": m_next, "iter": m_iter, "dump": m_dump, "ngread": m_ngread,
         "ngwrite": m_ngwrite, "rss": m_rss,
         "loop": m_unsupported("scapy's readers have no loop()"),
         "filter": m_unsupported("scapy has no offline BPF (it shells out to tcpdump)"),
         "live": m_unsupported("scapy's sniff() is not a libpcap capture")}

if __name__ == "__main__":
    common.worker_main("scapy", metadata.version("scapy"), scapy.__file__, MODES)
