"""Compile time, peak memory and program size of long filters: pcapy's compiler vs libpcap's.

    python bench/bench_filter_compile.py                  # the table in docs/filters.md
    python bench/bench_filter_compile.py --sizes 100 1000 --libpcap-timeout 60

Every measurement runs in a fresh child process (so its peak RSS is its own), pcapy's and
libpcap's compilers alternating, in the same run: on a shared machine only their ratio means
much, and the CPU time (``time.process_time``, C code included) is what to read when the machine
is busy: wall time then mostly measures waiting. The time is the compiler's alone (``_filter.compile_filter`` against libpcap's
``pcap_compile`` through ``_libpcap.compile_filter``), not the translation of the program into
Python that making a ``BPFProgram`` adds for either. libpcap gets a time limit (its optimizer is super-linear: libpcap #1255); a run past it
is reported as such. The filters:

* ``hosts``: ``host A1 or host A2 or ...`` with random addresses in 10.0.0.0/8;
* ``consecutive``: the same with consecutive addresses;
* ``hosts and port``: ``(host A1 or ... or host An) and port 80``;
* ``host-port pairs``: ``(host A1 and port P1) or (host A2 and port P2) or ...``;
* ``ipv6 hosts``: ``ip6 host A1 or ip6 host A2 or ...`` with random IPv6 addresses.

A program longer than 4,096 instructions (BPF_MAXINSNS) is an error for pcapy's compiler (the
kernel would refuse it); libpcap has no such limit for programs run in user space.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import subprocess
import sys
from typing import Optional

CHILD = r"""
import json, resource, sys, time
import pcapy
from pcapy import _libpcap
from pcapy._filter import compile_filter
compiler, optimize = sys.argv[1], sys.argv[2] == "1"
expression = sys.stdin.read()


def run(text):
    if compiler == "pcapy":
        return compile_filter(text, pcapy.DLT_EN10MB, 262144, optimize=optimize, netmask=0)
    return _libpcap.compile_filter(pcapy.DLT_EN10MB, 262144, text, optimize, 0)


run("ip")  # the compiler loaded before the clock starts
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, start_cpu = time.perf_counter(), time.process_time()
try:
    result = len(run(expression))
except pcapy.BPFError as err:
    result = str(err)
elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "rss_mb": after / 1024,
                  "growth_mb": (after - before) / 1024, "result": result}))
"""


def random_hosts(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    hosts: set[str] = set()
    while len(hosts) < count:
        hosts.add(f"10.{generator.randrange(256)}.{generator.randrange(256)}."
                  f"{generator.randrange(1, 255)}")
    return sorted(hosts)


def expression(form: str, count: int) -> str:
    if form == "consecutive":
        return " or ".join(f"host 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                           for i in range(1, count + 1))
    if form == "ipv6 hosts":
        generator = random.Random(count)
        return " or ".join(f"ip6 host {ipaddress.IPv6Address(generator.getrandbits(128))}"
                           for _ in range(count))
    hosts = random_hosts(count, seed=count)
    if form == "hosts":
        return " or ".join(f"host {host}" for host in hosts)
    if form == "hosts and port":
        return "(" + " or ".join(f"host {host}" for host in hosts) + ") and port 80"
    return " or ".join(f"(host {host} and port {1024 + i})" for i, host in enumerate(hosts))


def measure(text: str, compiler: str, optimize: bool, timeout: float) -> Optional[dict[str, object]]:
    command = [sys.executable, "-c", CHILD, compiler, "1" if optimize else "0"]
    try:
        done = subprocess.run(command, input=text, capture_output=True, text=True,
                              timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    report: dict[str, object] = json.loads(done.stdout)
    return report


def describe(report: Optional[dict[str, object]], timeout: float) -> str:
    if report is None:
        return f"> {timeout:.0f} s wall (stopped)"
    result = report["result"]
    size = f"{result} insns" if isinstance(result, int) else "error: " + str(result)[:40]
    return (f"{report['cpu_seconds']:.3f} s CPU ({report['seconds']:.2f} s wall), "
            f"{report['rss_mb']:.0f} MB peak, {size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1000, 10000])
    parser.add_argument("--forms", nargs="+", default=["hosts", "consecutive", "hosts and port",
                                                       "host-port pairs", "ipv6 hosts"])
    parser.add_argument("--libpcap-timeout", type=float, default=120.0)
    parser.add_argument("--libpcap-max", type=int, default=1000,
                        help="sizes above this are not given to libpcap (hours, gigabytes)")
    args = parser.parse_args()
    print("| filter | terms | pcapy (optimized) | libpcap optimized | libpcap unoptimized |")
    print("|---|---|---|---|---|")
    for form in args.forms:
        for size in args.sizes:
            text = expression(form, size)
            ours = measure(text, "pcapy", True, 600.0)
            if size <= args.libpcap_max:
                theirs = describe(measure(text, "libpcap", True, args.libpcap_timeout),
                                  args.libpcap_timeout)
                plain = describe(measure(text, "libpcap", False, args.libpcap_timeout),
                                 args.libpcap_timeout)
            else:
                theirs = plain = "not run"
            print(f"| {form} | {size} | {describe(ours, 600.0)} | {theirs} | {plain} |",
                  flush=True)


if __name__ == "__main__":
    main()
