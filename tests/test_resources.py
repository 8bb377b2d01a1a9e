"""Memory and handles stay flat: many packets, many open/close cycles, several threads."""

from __future__ import annotations

import gc
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, udp_frame


def rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory) -> Path:
    frames = [udp_frame(bytes(i % 251 for i in range(n % 1200)), dport=80 + n % 20) for n in range(200)]
    records = [(1_700_000_000 + n // 1000, n % 1000 * 1000, frames[n % 200], len(frames[n % 200]))
               for n in range(100_000)]
    path = tmp_path_factory.mktemp("big") / "100k.pcap"
    path.write_bytes(pcap_bytes(records))
    return path


@pytest.mark.untraced  # memory budgets: tracemalloc would count coverage's own allocations
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc to read RSS")
def test_reading_many_packets_keeps_memory_flat(big_capture: Path):
    def read_once() -> int:
        with pcapy.open_offline(str(big_capture)) as reader:
            return sum(h.getcaplen() for h, _ in reader)

    read_once()
    gc.collect()
    before = rss_kib()
    tracemalloc.start()
    for _ in range(4):
        read_once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    growth = rss_kib() - before
    assert peak < 4 * 1024 * 1024, f"peak traced allocation {peak} bytes"
    assert growth < 16 * 1024, f"RSS grew by {growth} KiB over 400k packets"


@pytest.mark.untraced
def test_open_close_cycles_release_everything(big_capture: Path, tmp_path: Path):
    def cycle(i: int) -> None:
        reader = pcapy.open_offline(str(big_capture))
        reader.next()
        dumper = reader.dump_open(str(tmp_path / "cycle.pcap"))
        dumper.close()
        if i % 2:
            reader.close()  # the other half are left to garbage collection

    for i in range(50):
        cycle(i)
    gc.collect()
    fds_before = len(os.listdir("/proc/self/fd"))
    tracemalloc.start()
    for i in range(500):
        cycle(i)
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(os.listdir("/proc/self/fd")) <= fds_before
    assert current < 512 * 1024, f"{current} bytes still allocated after 500 cycles"


@pytest.mark.untraced
@pytest.mark.usefixtures("libpcap")
def test_compiling_many_filters_leaks_nothing():
    for _ in range(50):
        pcapy.compile(pcapy.DLT_EN10MB, 65535, "tcp port 80 or udp", 1, 0)
    gc.collect()
    before = rss_kib()
    tracemalloc.start()
    for i in range(2000):
        program = pcapy.compile(pcapy.DLT_EN10MB, 65535, f"tcp port {i % 60000} or udp", 1, 0)
        program.filter(b"\x00" * 60)
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert current < 1024 * 1024, f"{current} bytes still allocated"
    assert rss_kib() - before < 8 * 1024  # C-side memory (pcap_freecode, pcap_close) released


def test_readers_in_threads_are_independent(big_capture: Path):
    with pcapy.open_offline(str(big_capture)) as reader:
        expected = [(h.getts(), len(d)) for h, d in reader]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        try:
            with pcapy.open_offline(str(big_capture)) as r:
                if slot % 2:
                    results[slot] = [(h.getts(), len(d)) for h, d in r]
                else:
                    out: list = []
                    r.loop(-1, lambda h, d: out.append((h.getts(), len(d))))
                    results[slot] = out
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert all(results[i] == expected for i in range(4))
