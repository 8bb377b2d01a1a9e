"""Captures as tables, measured once: ``python bench/bench_arrow.py [--packets N] [--file F]``.

Packets per second turning one capture into metadata + 5-tuple columns (ts, caplen, len,
linktype, src, dst, sport, dport, ip_proto), in one run, each in its own process:

- ours: ``Reader.to_arrow(columns=...)`` (the interpreter running this script needs pcapy with the
  arrow extra, e.g. the repository's .venv);
- (a) pcapy-ng + dpkt: a per-packet loop (``next()``, ``dpkt.ethernet.Ethernet``) appending to
  one Python list per column (venv ``bench/.venvs/pcapy-ng-dpkt``);
- (b) ``tshark -T fields`` with the same fields, output to /dev/null;
- (c) python-libpcap's bare ``rpcap`` loop that only counts packets (venv of bench/run.py).

Targets (issue 15): >= 5x (a), >= 20x (b), >= 1.0x (c). Then peak RSS of ours for two batch
sizes (bounded by the batch, not the file). Reports; asserts nothing. Uses bench/run.py's venvs
and capture generator.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
import run  # noqa: E402  (bench/run.py: venvs, generator)

COLUMNS = ["ts", "caplen", "len", "linktype", "src", "dst", "sport", "dport", "ip_proto"]

OURS = f"""
import json, resource, sys, time
import pcapy
path, batch = sys.argv[1], int(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
rows = 0
for b in pcapy.open_offline(path).to_arrow(batch_size=batch, columns={COLUMNS!r}):
    rows += b.num_rows
print(json.dumps({{"rows": rows, "wall": time.perf_counter() - wall,
                  "cpu": time.process_time() - cpu,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

PCAPY_NG_DPKT = """
import json, socket, sys, time
import pcapy, dpkt
path = sys.argv[1]
wall, cpu = time.perf_counter(), time.process_time()
cols = {k: [] for k in ("ts", "caplen", "len", "linktype", "src", "dst", "sport", "dport", "ip_proto")}
reader = pcapy.open_offline(path)
linktype = reader.datalink()
while True:
    hdr, data = reader.next()
    if hdr is None:
        break
    sec, usec = hdr.getts()
    cols["ts"].append(sec * 1_000_000_000 + usec * 1000)
    cols["caplen"].append(hdr.getcaplen()); cols["len"].append(hdr.getlen())
    cols["linktype"].append(linktype)
    src = dst = sport = dport = proto = None
    eth = dpkt.ethernet.Ethernet(data)
    ip = eth.data
    if isinstance(ip, dpkt.ip.IP):
        src, dst, proto = socket.inet_ntop(socket.AF_INET, ip.src), socket.inet_ntop(socket.AF_INET, ip.dst), ip.p
    elif isinstance(ip, dpkt.ip6.IP6):
        src, dst, proto = socket.inet_ntop(socket.AF_INET6, ip.src), socket.inet_ntop(socket.AF_INET6, ip.dst), ip.nxt
    if src is not None and isinstance(ip.data, (dpkt.tcp.TCP, dpkt.udp.UDP)):
        sport, dport = ip.data.sport, ip.data.dport
    for k, v in (("src", src), ("dst", dst), ("sport", sport), ("dport", dport), ("ip_proto", proto)):
        cols[k].append(v)
print(json.dumps({"rows": len(cols["ts"]), "wall": time.perf_counter() - wall,
                  "cpu": time.process_time() - cpu}))
"""

PYTHON_LIBPCAP = """
import json, sys, time
from pylibpcap.pcap import rpcap
wall, cpu = time.perf_counter(), time.process_time()
rows = 0
for _length, _t, _pkt in rpcap(sys.argv[1]):
    rows += 1
print(json.dumps({"rows": rows, "wall": time.perf_counter() - wall,
                  "cpu": time.process_time() - cpu}))
"""

TSHARK_FIELDS = ["frame.time_epoch", "frame.cap_len", "frame.len", "frame.encap_type",
                 "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt",
                 "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport"]


def measure(python: str, code: str, *args: str) -> dict:
    result = subprocess.run([python, "-c", code, *args], capture_output=True, text=True,
                            timeout=3600, check=False)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_tshark(path: Path) -> dict:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields"]
    for field in TSHARK_FIELDS:
        args += ["-e", field]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    with open("/dev/null", "w") as sink:
        code = subprocess.run(args, stdout=sink, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"error": f"exit {code}"} if code else {"wall": wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--file", type=Path, help="a classic pcap file (default: generated)")
    args = parser.parse_args()
    path = args.file or run.DATA / f"{args.packets}-usec.pcap"
    if not path.exists():
        run.DATA.mkdir(parents=True, exist_ok=True)
        run.generate(path, args.packets, 1, False)
    packets, _ = run.scan_pcap(path)
    problems = {}
    if run.ensure_venv("pcapy-ng-dpkt", "pcapy-ng") is None:
        subprocess.run([str(run.venv_python("pcapy-ng-dpkt")), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "dpkt"], check=False)
    prerequisite = run.python_libpcap_prerequisites()
    if prerequisite is None:
        problems["python-libpcap"] = run.ensure_venv("python-libpcap", "python-libpcap")
    else:
        problems["python-libpcap"] = prerequisite
    results = {
        "ours": measure(sys.executable, OURS, str(path), "65536"),
        "(a) pcapy-ng + dpkt": measure(str(run.venv_python("pcapy-ng-dpkt")), PCAPY_NG_DPKT,
                                       str(path)),
        "(b) tshark -T fields": measure_tshark(path),
        "(c) python-libpcap next()": (
            measure(str(run.venv_python("python-libpcap")), PYTHON_LIBPCAP, str(path))
            if problems["python-libpcap"] is None else {"error": problems["python-libpcap"]}),
    }
    print(f"{path.name}: {packets:,} packets; load average {run.load_avg()}")
    print("| implementation | packets/s (wall) | packets/s (CPU) | ours / it (CPU) |")
    print("|---|---|---|---|")
    ours_cpu = results["ours"].get("cpu")
    for name, result in results.items():
        if "error" in result:
            print(f"| {name} | n/a: {result['error']} | | |")
            continue
        share = f"{result['cpu'] / ours_cpu:.2f}x" if ours_cpu else ""
        print(f"| {name} | {packets / result['wall']:,.0f} | {packets / result['cpu']:,.0f} "
              f"| {share} |")
    print("\nPeak RSS of ours by batch size (the file does not matter, the batch does):")
    for batch in (4096, 65536):
        result = measure(sys.executable, OURS, str(path), str(batch))
        print(f"  batch_size={batch}: {result.get('rss_mib', 0):.0f} MiB "
              f"({packets / result['cpu']:,.0f} packets/s CPU)" if "cpu" in result else result)


if __name__ == "__main__":
    main()
