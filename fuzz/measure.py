"""Read one capture file the way a hostile-input test does; print CPU time and peak RSS as JSON.

    python fuzz/measure.py FILE            # open_offline, next() to the end, touch the metadata
    python fuzz/measure.py --baseline      # the interpreter with pcapy imported, nothing read
    python fuzz/measure.py --tcpdump FILE  # libpcap's cost: tcpdump -r FILE in a child
    python fuzz/measure.py --each WARM_UP FILE...  # one JSON line a file, read one by one

The numbers are the process's own (``resource.getrusage``): user+system CPU seconds and
``ru_maxrss`` in KiB, so a parent can run this in a subprocess and compare.

``--each`` reads WARM_UP first (imports, compiled record loops), then each FILE as above, in one
process: per file the CPU seconds of its read alone (``time.process_time``) and, apart, of then
decoding every metadata record (no ``repr``), the RSS before it (``VmRSS``) and its peak
(``VmHWM``, reset before each read through ``/proc/self/clear_refs``), so many small files cost
one interpreter start and are timed without it (Linux only).
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import time
from typing import Callable


def _touch_metadata(reader: object) -> None:
    info = getattr(reader, "file_header", None)
    for name in ("sections", "interfaces", "statistics", "name_resolution", "secrets",
                 "custom_blocks"):
        for record in getattr(info, name, ()):
            repr(record)
            for field in ("options", "records", "comments", "name"):
                getattr(record, field, None)


def _decode_metadata(reader: object) -> None:
    """Decode every metadata record (its first field read decodes them all), no repr."""
    info = getattr(reader, "file_header", None)
    for name in ("sections", "interfaces", "statistics", "name_resolution", "secrets",
                 "custom_blocks"):
        for record in getattr(info, name, ()):
            getattr(record, "options", None)
            getattr(record, "pen", None)


def read_file(path: str, touch: Callable[[object], None] = _touch_metadata) -> dict[str, object]:
    import pcapy  # noqa: PLC0415 - the baseline measures the import alone

    packets = 0
    error = None
    try:
        reader = pcapy.open_offline(path)
        while True:
            hdr, _data = reader.next()
            if hdr is None:
                break
            packets += 1
            options = getattr(hdr, "options", None)
            if options is not None:
                options.raw  # noqa: B018 - decoding is what is measured
        touch(reader)
    except pcapy.PcapError as err:
        error = f"{type(err).__name__}: {err}"
    return {"packets": packets, "error": error}


def _usage(who: int) -> dict[str, float]:
    usage = resource.getrusage(who)
    return {"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def read_each(warm_up: str, paths: list[str]) -> list[dict[str, object]]:
    """Each path read after ``warm_up``: the CPU seconds of reading it (``next()`` to the end,
    every packet's options decoded) and of then decoding its metadata records, and RSS (KiB)."""
    read_file(warm_up)
    results = []
    for path in paths:
        gc.collect()
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")  # VmHWM starts again from VmRSS
        rss_before = _status_kib("VmRSS")
        started = time.process_time()
        result = read_file(path, _keep_reader)
        read = time.process_time()
        _decode_metadata(_KEPT.pop())
        result.update(cpu=read - started, decode_cpu=time.process_time() - read,
                      rss_before_kib=rss_before, peak_kib=_status_kib("VmHWM"))
        results.append(result)
    return results


_KEPT: list[object] = []


def _keep_reader(reader: object) -> None:
    _KEPT.append(reader)


def main(argv: list[str]) -> int:
    started = time.monotonic()
    if argv[0] == "--baseline":
        import pcapy  # noqa: F401, PLC0415

        result: dict[str, object] = {}
        result.update(_usage(resource.RUSAGE_SELF))
    elif argv[0] == "--each":
        for line in read_each(argv[1], argv[2:]):
            print(json.dumps(line))
        return 0
    elif argv[0] == "--tcpdump":
        done = subprocess.run(["tcpdump", "-n", "-q", "-r", argv[1]], capture_output=True,
                              check=False)
        result = {"error": done.stderr.decode(errors="replace").strip()[-200:]}
        result.update(_usage(resource.RUSAGE_CHILDREN))
    else:
        result = read_file(argv[0])
        result.update(_usage(resource.RUSAGE_SELF))
    result["wall"] = time.monotonic() - started
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
