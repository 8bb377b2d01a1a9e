"""Read one capture file the way a hostile-input test does; print CPU time and peak RSS as JSON.

    python fuzz/measure.py FILE            # open_offline, next() to the end, touch the metadata
    python fuzz/measure.py --baseline      # the interpreter with pcapy imported, nothing read
    python fuzz/measure.py --tcpdump FILE  # libpcap's cost: tcpdump -r FILE in a child

The numbers are the process's own (``resource.getrusage``): user+system CPU seconds and
``ru_maxrss`` in KiB, so a parent can run this in a subprocess and compare.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def _touch_metadata(reader: object) -> None:
    info = getattr(reader, "file_header", None)
    for name in ("sections", "interfaces", "statistics", "name_resolution", "secrets",
                 "custom_blocks"):
        for record in getattr(info, name, ()):
            repr(record)
            for field in ("options", "records", "comments", "name"):
                getattr(record, field, None)


def read_file(path: str) -> dict[str, object]:
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
        _touch_metadata(reader)
    except pcapy.PcapError as err:
        error = f"{type(err).__name__}: {err}"
    return {"packets": packets, "error": error}


def _usage(who: int) -> dict[str, float]:
    usage = resource.getrusage(who)
    return {"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}


def main(argv: list[str]) -> int:
    started = time.monotonic()
    if argv[0] == "--baseline":
        import pcapy  # noqa: F401, PLC0415

        result: dict[str, object] = {}
        result.update(_usage(resource.RUSAGE_SELF))
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
