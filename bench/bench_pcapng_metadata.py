"""How fast pcapy reads pcapng metadata: one file per block type, read in a child process.

Issue 12's budget asks >= 10 MB/s of metadata-only input. For each flood of
``fuzz/hostile.py``'s ``FLOOD_UNITS`` (one block type repeated: Section Header, Interface
Description with and without options, Interface Statistics with none, some or all options, Name
Resolution, Decryption Secrets, Custom, unknown types, and packet blocks whose options are read
through ``hdr.options``) this writes two files, plain and gzipped:

- ``kept``: as many blocks as the reader keeps in ``file_header`` (its metadata budget), so
  every block is parsed into a record;
- ``counted``: ``--size`` bytes (20 MB), most of which are past the budget and only counted.

Each file is read to the end in a fresh child (``--child MODE FILE WARM_UP_FILE``), after a
file of one block of the kind (so that imports and compiled record loops are not counted), by
iteration (``iter``),
by iteration reading every field of every packet's options and every metadata record at the end
(``touch``), and by ``next_batch()`` (``batch``); the child reports its CPU seconds and peak RSS
(``time.process_time`` around the read, ``VmHWM``), shown as MB/s of decompressed input and MiB above an interpreter that
only imported pcapy. ``libpcap`` is ``tcpdump -r FILE -w /dev/null`` (plain files only).

    python bench/bench_pcapng_metadata.py                    # every flood, 20 MB
    python bench/bench_pcapng_metadata.py --size 5000000 --floods isb_none isb_all --modes iter
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "fuzz"))
import hostile  # noqa: E402

MODES = ("iter", "touch", "batch")
PACKET_FLOODS = ("epb_options", "spb", "pb_options")
RECORD_LISTS = ("sections", "interfaces", "statistics", "name_resolution", "secrets",
                "custom_blocks")


_NAMES: dict[type, list[str]] = {}


def _fields(record: object) -> None:
    """Read every public attribute of a record (properties included)."""
    names = _NAMES.get(type(record))
    if names is None:
        names = _NAMES[type(record)] = [n for n in dir(record) if not n.startswith("_")]
    for name in names:
        getattr(record, name)


def _read(mode: str, path: str) -> int:
    import pcapy  # noqa: PLC0415 - the baseline measures the import alone

    reader = pcapy.open_offline(path)
    packets = 0
    if mode == "batch":
        while reader.next_batch(1024)[1]:
            packets += 1
        return packets
    for hdr, _data in reader:
        packets += 1
        if mode == "touch" and hdr.options is not None:
            _fields(hdr.options)
    if mode == "touch":
        for name in RECORD_LISTS:
            for record in getattr(reader.file_header, name):
                _fields(record)
    return packets


def peak_rss_kib() -> int:
    """This process's peak RSS (Linux ``VmHWM``): unlike ``ru_maxrss`` it is not inherited
    from a parent that spawned the process by vfork (subprocess does), so it is the child's."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(mode: str, path: str, warm_up: str) -> dict[str, Any]:
    """One measured read (``--child``), or the bare interpreter with pcapy imported."""
    if mode == "baseline":
        import pcapy  # noqa: F401, PLC0415
        packets = 0
    elif mode == "libpcap":
        done = subprocess.run(["tcpdump", "-r", path, "-w", "/dev/null"], check=False,
                              capture_output=True)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss,
                "refused": done.returncode != 0}  # (interfaces of several snapshot lengths)
    else:
        _read(mode, warm_up)  # imports and compiled record loops: a constant, not a rate
        started = time.process_time()
        packets = _read(mode, path)
        return {"cpu": time.process_time() - started, "maxrss_kib": peak_rss_kib(),
                "packets": packets}
    return {"cpu": time.process_time(), "maxrss_kib": peak_rss_kib(), "packets": packets}


def _run_child(mode: str, path: str, warm_up: str = "") -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", mode, path, warm_up], check=True,
                          capture_output=True, text=True)
    return dict(json.loads(done.stdout))


def kept_count(name: str) -> int:
    """How many blocks of the flood the reader keeps in its metadata budget (packets: 20k)."""
    from pcapy._savefile import _pcapng  # noqa: PLC0415

    unit = len(hostile.FLOOD_UNITS[name]())
    if name in PACKET_FLOODS:
        return 20_000
    per_byte = 1 if name.startswith("custom") else _pcapng._KEEP_COST_PER_BYTE
    if name.startswith("idb"):
        return max(1, _pcapng.METADATA_BUDGET // (_pcapng._KEEP_COST_PER_BLOCK * 1000))
    return max(1, _pcapng.METADATA_BUDGET // (_pcapng._KEEP_COST_PER_BLOCK + per_byte * unit))


def _write(name: str, size: int, directory: Path, tag: str) -> list[tuple[Path, int]]:
    files = []
    for compress, suffix in ((False, ".pcapng"), (True, ".pcapng.gz")):
        path = directory / f"{name}-{tag}{suffix}"
        files.append((path, hostile.write(hostile.flood(name, size), path, compress=compress)))
    return files


def measure(name: str, size: int, modes: list[str], directory: Path, baseline: int) -> list[str]:
    unit = len(hostile.FLOOD_UNITS[name]())
    sizes = {"kept": min(size, kept_count(name) * unit), "counted": size}
    rows = []
    warm_up = directory / f"{name}-warm-up.pcapng"
    hostile.write(hostile.flood(name, 1), warm_up, compress=False)
    for regime, regime_size in sizes.items():
        for path, raw_size in _write(name, regime_size, directory, regime):
            cells = []
            for mode in [*modes, "libpcap"]:
                if mode == "libpcap" and path.suffix == ".gz":
                    continue
                result = _run_child(mode, str(path), str(warm_up))
                if result.get("refused"):
                    cells.append(f"{mode} refuses the file")
                    continue
                rate = raw_size / max(result["cpu"], 1e-9) / 1e6
                rss = (result["maxrss_kib"] - (0 if mode == "libpcap" else baseline)) / 1024
                cells.append(f"{mode} {rate:6.1f} MB/s {rss:5.1f} MiB")
            gz = " gz" if path.suffix == ".gz" else "   "
            rows.append(f"{name:14} {regime:7}{gz} {raw_size / 1e6:6.2f} MB | " + " | ".join(cells))
            path.unlink()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000_000)
    parser.add_argument("--floods", nargs="*", default=list(hostile.FLOOD_UNITS))
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FILE", "WARM_UP_FILE"))
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(child(*arguments.child)))
        return 0
    baseline = _run_child("baseline", os.devnull, os.devnull)["maxrss_kib"]
    print(f"baseline (interpreter + import pcapy): {baseline / 1024:.1f} MiB; "
          "MB/s of decompressed input per CPU second, peak RSS above the baseline")
    with tempfile.TemporaryDirectory(prefix="meta-bench-") as directory:
        for name in arguments.floods:
            for row in measure(name, arguments.size, arguments.modes, Path(directory), baseline):
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
