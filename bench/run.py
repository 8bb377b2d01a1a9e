#!/usr/bin/env python3
"""Benchmark our pcapy against its peers: ``python bench/run.py [--quick] [options]``.

Every implementation lives in its own venv under ``bench/.venvs/<impl>`` (several of them install
a module called ``pcapy``) and every measured pass is a separate process running
``bench/workers/<impl>.py MODE FILE``, pinned to CPU 1. For each repetition, every
implementation runs next to a pcapy-ng pass of the same mode (alternating which goes first), and
the ratio reported is the median over repetitions of ``pcapy-ng time / implementation time``:
above 1 is faster than pcapy-ng. See bench/README.md.

Uses only the standard library, so any Python 3.9+ can run it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
SHARED_GEN = REPO.parent / "shared" / "bench" / "gen_pcap.py"
VENVS = BENCH / ".venvs"
DATA = BENCH / "data"
RESULTS = BENCH / "results"
WORKERS = BENCH / "workers"
OUT_DIR = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

sys.path.insert(0, str(BENCH))
from common import FILTER_EXPR, SENDER_CPU, pin_cpu  # noqa: E402

TIMES = "\u00d7"  # the multiplication sign of "1.25x"
OURS = "pcapy"
BASELINE = "pcapy-ng"
#: implementation -> (pip requirement, worker file)
PEERS: dict[str, tuple[str, str]] = {
    "pcapy-ng": ("pcapy-ng", "pcapy_ng.py"),
    "python-libpcap": ("python-libpcap", "python_libpcap.py"),
    "cypcap": ("cypcap", "cypcap.py"),
    "dpkt": ("dpkt", "dpkt.py"),
    "scapy": ("scapy", "scapy.py"),
}
OURS_WORKER = "pcapy.py"


@dataclass(frozen=True)
class ModeSpec:
    """A column of the report: which worker mode runs on which input."""

    name: str
    worker_mode: str
    data: str  # "usec", "nsec", "pcapng", "rss" or "live"
    description: str
    writes: str = ""  # output suffix for modes that write a file
    per_packet_total: bool = True  # ns per packet of the file (not per packet returned)


MODES: dict[str, ModeSpec] = {m.name: m for m in (
    ModeSpec("next", "next", "usec", "while loop over next() until hdr is None, hdr.getlen()"),
    ModeSpec("loop", "loop", "usec", "loop(-1, cb), cb calls hdr.getlen()"),
    ModeSpec("iter", "iter", "usec", "for hdr, data in reader"),
    ModeSpec("filter", "filter", "usec", f"setfilter('{FILTER_EXPR}') + loop; ns per packet READ"),
    ModeSpec("dump", "dump", "usec", "read all + Dumper.dump each (to tmpfs)", writes=".pcap"),
    ModeSpec("next-ns", "next", "nsec", "next() loop on the nanosecond pcap"),
    ModeSpec("ngread", "ngread", "pcapng", "next() loop on the pcapng file"),
    ModeSpec("ngwrite", "ngwrite", "usec", "read the pcap, write pcapng (to tmpfs)",
             writes=".pcapng"),
    ModeSpec("batch", "batch", "usec", "batch API (next_batch(1024)), touch every packet"),
    ModeSpec("rss", "rss", "rss", "peak RSS growth reading the 1M-packet file with next()"),
    ModeSpec("live", "live", "live", "bounded loopback UDP burst captured on lo"),
)}
DEFAULT_MODES = list(MODES)
#: the pcapy-ng mode a mode is compared with when pcapy-ng cannot do the mode itself
BASELINE_FALLBACK = {"iter": "next", "ngwrite": "dump", "batch": "next"}


# -- small utilities ---------------------------------------------------------------------------
def say(*parts: object) -> None:
    print(*parts, flush=True)


def run_quiet(cmd: Sequence[str], timeout: float = 1800) -> tuple[int, str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, (proc.stdout + proc.stderr)


def last_lines(text: str, n: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-n:])[-400:]


def load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# -- environments ------------------------------------------------------------------------------
def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def ensure_venv(name: str, requirement: str, *, reinstall: bool = False,
                upgrade: bool = False) -> Optional[str]:
    """Create ``bench/.venvs/<name>`` and install ``requirement``; return a reason on failure."""
    python = venv_python(name)
    marker = VENVS / name / ".bench-installed"
    if python.exists() and marker.exists() and not reinstall and not upgrade:
        return None
    if not python.exists():
        code, out = run_quiet([sys.executable, "-m", "venv", str(VENVS / name)])
        if code:
            return f"python -m venv failed: {last_lines(out)}"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if upgrade:
        pip.append("--upgrade")
    if reinstall:  # our package: same version number every time, so force the rebuild
        code, out = run_quiet([*pip, requirement])  # first: dependencies
        if code == 0:
            code, out = run_quiet([*pip, "--force-reinstall", "--no-deps", requirement])
    else:
        code, out = run_quiet([*pip, requirement])
    if code:
        return f"pip install {requirement} failed: {last_lines(out)}"
    marker.write_text(requirement + "\n")
    return None


def python_libpcap_prerequisites() -> Optional[str]:
    """python-libpcap builds from its sdist: it needs pcap.h and a C compiler."""
    missing = []
    if not any(Path(p).exists() for p in ("/usr/include/pcap.h", "/usr/include/pcap/pcap.h",
                                           "/usr/local/include/pcap.h")):
        missing.append("libpcap headers (apt-get install -y libpcap-dev)")
    if not (shutil.which("cc") or shutil.which("gcc")):
        missing.append("a C compiler (apt-get install -y build-essential)")
    return ", ".join(missing) if missing else None


def setup_envs(peers: list[str], *, upgrade: bool) -> dict[str, str]:
    """Make every venv; return {impl: reason} for those that could not be made."""
    VENVS.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    say(f"[setup] our pcapy: pip install {REPO} (non-editable) into {VENVS / OURS}")
    reason = ensure_venv(OURS, str(REPO), reinstall=True)
    if reason:
        skipped[OURS] = reason
    for peer in peers:
        requirement, _worker = PEERS[peer]
        if peer == "python-libpcap" and not (VENVS / peer / ".bench-installed").exists():
            missing = python_libpcap_prerequisites()
            if missing:
                skipped[peer] = f"cannot build from sdist, missing: {missing}"
                say(f"[setup] SKIP {peer}: {skipped[peer]}")
                continue
        say(f"[setup] {peer}: venv + pip install {requirement}")
        reason = ensure_venv(peer, requirement, upgrade=upgrade)
        if reason:
            skipped[peer] = reason
            say(f"[setup] SKIP {peer}: {reason}")
    return skipped


def worker_path(impl: str) -> Path:
    return WORKERS / (OURS_WORKER if impl == OURS else PEERS[impl][1])


# -- data --------------------------------------------------------------------------------------
@dataclass
class FileFacts:
    path: str
    packets: int
    checksum: int  # sum of wire lengths
    size: int
    matches: Optional[int] = None  # tcpdump's count for FILTER_EXPR
    made_by: str = "gen_pcap.py"


def scan_pcap(path: Path) -> tuple[int, int]:
    """Count the packets of a classic pcap and sum their wire lengths (stdlib only)."""
    count = total = 0
    with open(path, "rb") as f:
        head = f.read(24)
        order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        rec = struct.Struct(order + "IIII")
        while True:
            raw = f.read(16)
            if len(raw) < 16:
                break
            _s, _f, caplen, length = rec.unpack(raw)
            f.seek(caplen, 1)
            count += 1
            total += length
    return count, total


def tcpdump_count(path: Path) -> Optional[int]:
    if not shutil.which("tcpdump"):
        return None
    with subprocess.Popen(["tcpdump", "-nn", "-q", "-r", str(path), FILTER_EXPR],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        return sum(1 for _ in proc.stdout)


def generate(path: Path, count: int, seed: int, nanosecond: bool) -> None:
    """Write a deterministic capture with ../shared/bench/gen_pcap.py (or our fallback)."""
    generator = SHARED_GEN
    if not generator.exists():
        say(f"[data] {SHARED_GEN} not found: using bench/gen_fallback.py")
        generator = BENCH / "gen_fallback.py"
    tmp = path.with_name("tmp-" + path.name)
    cmd = [sys.executable, str(generator), str(tmp), "--count", str(count), "--seed", str(seed)]
    if nanosecond:
        cmd.append("--nanosecond")
    subprocess.run(cmd, check=True)
    tmp.rename(path)


def facts_for(path: Path, *, with_filter: bool) -> FileFacts:
    cache = path.with_name(path.name + ".facts.json")
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("size") == path.stat().st_size and (data.get("matches") is not None
                                                         or not with_filter):
            return FileFacts(**data)
    count, total = scan_pcap(path)
    facts = FileFacts(str(path), count, total, path.stat().st_size)
    if with_filter:
        facts.matches = tcpdump_count(path)
    cache.write_text(json.dumps(facts.__dict__))
    return facts


def make_pcapng(src: Path, dst: Path, facts: FileFacts) -> tuple[Optional[FileFacts], str]:
    """Convert with OUR writer; if that fails, say why and fall back to dpkt's writer."""
    cache = dst.with_name(dst.name + ".facts.json")
    if dst.exists() and cache.exists():
        cached = FileFacts(**json.loads(cache.read_text()))
        if cached.made_by == "our pcapy":
            return cached, ""
        # made by the fallback writer last time: try ours again
    tmp = dst.with_name("tmp-" + dst.name)
    ours = ("import pcapy,sys\nr = pcapy.open_offline(sys.argv[1])\nd = r.dump_open(sys.argv[2])\n"
            "r.loop(-1, d.dump)\nd.close()\n")
    dpkt = ("import dpkt,sys\nr = dpkt.pcap.Reader(open(sys.argv[1], 'rb'))\n"
            "w = dpkt.pcapng.Writer(open(sys.argv[2], 'wb'), snaplen=r.snaplen, "
            "linktype=r.datalink())\nfor ts, buf in r: w.writepkt_time(buf, ts)\nw.close()\n")
    note = ""
    for writer, python, code in (("our pcapy", venv_python(OURS), ours),
                                 ("dpkt.pcapng.Writer", venv_python("dpkt"), dpkt)):
        if not python.exists():
            continue
        rc, out = run_quiet([str(python), "-c", code, str(src), str(tmp)])
        if rc == 0 and tmp.exists() and tmp.stat().st_size > 0:
            tmp.rename(dst)
            made = FileFacts(str(dst), facts.packets, facts.checksum, dst.stat().st_size,
                             made_by=writer)
            cache.write_text(json.dumps(made.__dict__))
            return made, note
        note += f"{writer} could not write pcapng: {last_lines(out, 1)}. "
        tmp.unlink(missing_ok=True)
    return None, note


@dataclass
class Inputs:
    usec: FileFacts
    nsec: FileFacts
    pcapng: Optional[FileFacts]
    rss: FileFacts
    pcapng_note: str = ""


def prepare_data(packets: int, rss_packets: int, need_pcapng: bool) -> Inputs:
    DATA.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, n, seed, nano in (("usec", packets, 1, False), ("nsec", packets, 2, True),
                               ("rss", rss_packets, 1, False)):
        path = DATA / f"{n}-{'nsec' if nano else 'usec'}.pcap"
        if not path.exists():
            say(f"[data] generating {path.name} ({n:,} packets, seed {seed})")
            generate(path, n, seed, nano)
        files[key] = facts_for(path, with_filter=(key == "usec"))
    pcapng, note = (None, "")
    if need_pcapng:
        src = Path(files["usec"].path)
        pcapng, note = make_pcapng(src, DATA / f"{packets}-usec.pcapng", files["usec"])
        if note:
            say(f"[data] {note}")
        if pcapng is not None:
            say(f"[data] {Path(pcapng.path).name} written by {pcapng.made_by}")
    return Inputs(files["usec"], files["nsec"], pcapng, files["rss"], note)


# -- running workers ---------------------------------------------------------------------------
@dataclass
class Outcome:
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    skip: str = ""
    error: str = ""


def run_worker(impl: str, mode: ModeSpec, facts: FileFacts, *, verify: bool = False,
               timeout: float = 900) -> Outcome:
    out = None
    cmd = [str(venv_python(impl)), str(worker_path(impl)), mode.worker_mode, facts.path]
    if mode.writes:
        out = OUT_DIR / f"pcapy-bench-{os.getpid()}-{impl}{mode.writes}"
        cmd += ["--out", str(out)]
    if verify:
        cmd.append("--verify")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=tempfile.gettempdir())
    except subprocess.TimeoutExpired:
        return Outcome(False, error=f"timed out after {timeout:.0f} s")
    finally:
        if out is not None and out.exists():
            out.unlink()
    return parse_outcome(proc.returncode, proc.stdout, proc.stderr)


def parse_outcome(code: int, stdout: str, stderr: str) -> Outcome:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            payload = json.loads(line)
            if "skip" in payload:
                return Outcome(False, skip=payload["skip"])
            if code == 0:
                return Outcome(True, payload)
    return Outcome(False, error=f"exit {code}: {last_lines(stderr or stdout, 2)}")


def check(impl: str, mode: ModeSpec, facts: FileFacts, result: dict[str, Any]) -> str:
    """Empty if the pass read what it should have, else what is wrong."""
    packets, checksum = result["packets"], result["checksum"]
    if mode.name == "filter":
        if facts.matches is not None and packets != facts.matches:
            return f"{packets} matches, tcpdump says {facts.matches}"
        return ""
    if mode.name in ("rss",):
        return "" if packets == facts.packets else f"{packets} packets, file has {facts.packets}"
    if packets != facts.packets:
        return f"{packets} packets, file has {facts.packets}"
    if checksum != facts.checksum:
        return f"length sum {checksum} != {facts.checksum}"
    if "out_size" in result and mode.name == "dump" and not result.get("unfaithful"):
        size, crc = Path(facts.path).stat().st_size, file_crc_cached(facts.path)
        if (result["out_size"], result["out_crc"]) != (size, crc):
            return f"dump output differs from the input ({result['out_size']} vs {size} bytes)"
    _ = impl
    return ""


_CRCS: dict[str, int] = {}


def file_crc_cached(path: str) -> int:
    if path not in _CRCS:
        from common import file_crc  # noqa: PLC0415

        _CRCS[path] = file_crc(path)[1]
    return _CRCS[path]


# -- live --------------------------------------------------------------------------------------
@dataclass
class LiveConfig:
    senders: int
    per_sender: int
    seconds: float
    sender_cpu: int


def run_live(impl: str, cfg: LiveConfig) -> Outcome:
    """One bounded burst: capture worker on CPU 1, senders on ``sender_cpu``, all on 127.0.0.1."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # absorbs the burst: no ICMP back
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    cmd = [str(venv_python(impl)), str(worker_path(impl)), "live", "lo", "--port", str(port)]
    worker = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    assert worker.stdin is not None
    assert worker.stdout is not None
    try:
        first = worker.stdout.readline()
        while first and first.strip() != "READY" and not first.startswith("{"):
            first = worker.stdout.readline()  # some libraries print while opening (cypcap)
        if first.strip() != "READY":
            rest, err = worker.communicate(timeout=30)
            return parse_outcome(worker.wait(), first + rest, err)
        start_at = time.monotonic_ns() + 200_000_000
        senders = [subprocess.Popen(
            [sys.executable, str(BENCH / "sender.py"), "--port", str(port), "--count",
             str(cfg.per_sender), "--seconds", str(cfg.seconds), "--cpu", str(cfg.sender_cpu),
             "--start-at", str(start_at)], stdout=subprocess.PIPE, text=True)
            for _ in range(cfg.senders)]
        reports = [json.loads(s.communicate(timeout=cfg.seconds + 30)[0]) for s in senders]
        worker.stdin.write("done\n")
        worker.stdin.flush()
        out, err = worker.communicate(timeout=90)
    except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError) as exc:
        worker.kill()
        worker.wait()
        return Outcome(False, error=f"live run failed: {type(exc).__name__}: {exc}")
    finally:
        sink.close()
    outcome = parse_outcome(worker.returncode, out, err)
    if outcome.ok:
        sent = sum(r["sent"] for r in reports)
        span = max(r["end_ns"] for r in reports) - min(r["start_ns"] for r in reports)
        outcome.result.update({"sent": sent, "send_span_ns": span,
                               "offered_pps": sent / span * 1e9 if span else 0.0,
                               "captured_pct": 100.0 * outcome.result["captured"] / sent
                               if sent else 0.0})
    return outcome


# -- the schedule ------------------------------------------------------------------------------
@dataclass
class Cell:
    """Everything measured for one (implementation, mode)."""

    impl: str
    mode: str
    passes: list[dict[str, Any]] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    baseline_mode: str = ""
    skip: str = ""
    error: str = ""
    problems: list[str] = field(default_factory=list)


def input_for(mode: ModeSpec, inputs: Inputs) -> Optional[FileFacts]:
    return {"usec": inputs.usec, "nsec": inputs.nsec, "pcapng": inputs.pcapng,
            "rss": inputs.rss}.get(mode.data)


def run_mode(mode: ModeSpec, impls: list[str], inputs: Inputs, reps: int,
             live: LiveConfig) -> dict[str, Cell]:
    cells = {impl: Cell(impl, mode.name) for impl in impls}
    facts = input_for(mode, inputs)
    if mode.data == "pcapng" and facts is None:
        for cell in cells.values():
            cell.skip = f"no pcapng file: {inputs.pcapng_note}"
        return cells

    def once(impl: str, *, verify: bool = False, as_mode: Optional[ModeSpec] = None) -> Outcome:
        spec = as_mode or mode
        if spec.data == "live":
            return run_live(impl, live)
        assert facts is not None
        outcome = run_worker(impl, spec, facts, verify=verify)
        if outcome.ok:
            problem = check(impl, spec, facts, outcome.result)
            if problem:
                cells[impl].problems.append(problem)
        return outcome

    # Warm-up pass (also finds out which implementations can do the mode, and checks dumps).
    for impl in impls:
        outcome = once(impl, verify=True)
        if not outcome.ok:
            cells[impl].skip, cells[impl].error = outcome.skip, outcome.error
            say(f"  {impl:15} {'skip: ' + outcome.skip if outcome.skip else 'ERROR: ' + outcome.error}")
    runnable = [impl for impl in impls if not (cells[impl].skip or cells[impl].error)]
    baseline_spec = mode
    if BASELINE not in runnable:
        fallback = BASELINE_FALLBACK.get(mode.name)
        if fallback and BASELINE in cells and not cells[BASELINE].error:
            baseline_spec = MODES[fallback]
            once(BASELINE, as_mode=baseline_spec)  # warm-up
    has_baseline = BASELINE in impls and not cells[BASELINE].error and (
        baseline_spec is not mode or BASELINE in runnable)
    if mode.name == "rss":
        reps = 1  # a memory figure, not a timing: one pass each, no pairing
    paired = has_baseline and mode.name != "rss"
    others = [impl for impl in runnable if impl != BASELINE]
    for rep in range(reps):
        for impl in runnable:
            if impl == BASELINE and paired and others:
                continue  # its passes are the ones run next to every other implementation
            pair = paired and impl != BASELINE
            order = ([BASELINE, impl] if rep % 2 == 0 else [impl, BASELINE]) if pair else [impl]
            outcomes = {who: once(who, as_mode=None if who == impl else baseline_spec)
                        for who in order}
            main = outcomes[impl]
            if not main.ok:
                cells[impl].error = main.error or main.skip
                say(f"  rep {rep + 1}/{reps} {impl:15} ERROR {cells[impl].error}")
                continue
            cells[impl].passes.append(main.result)
            base = outcomes.get(BASELINE)
            if pair and base is not None and base.ok:
                if baseline_spec is mode:
                    cells[BASELINE].passes.append(base.result)
                cells[impl].ratios.append(ratio(mode, base.result, main.result))
                cells[impl].baseline_mode = baseline_spec.name
            say(f"  rep {rep + 1}/{reps} {impl:15} {summary(mode, main.result)}")
    if BASELINE in cells and baseline_spec is mode and cells[BASELINE].passes:
        cells[BASELINE].ratios = [1.0]
        cells[BASELINE].baseline_mode = mode.name
    return cells


def ratio(mode: ModeSpec, base: dict[str, Any], impl: dict[str, Any]) -> float:
    if mode.data == "live":  # captured packets: more is better
        return impl["captured"] / base["captured"] if base["captured"] else float("nan")
    return base["elapsed_ns"] / impl["elapsed_ns"]


def summary(mode: ModeSpec, result: dict[str, Any]) -> str:
    if mode.data == "live":
        return (f"offered {result['offered_pps'] / 1000:,.0f}k pkt/s, captured "
                f"{result['captured']:,}/{result['sent']:,}, ps_recv {result['ps_recv']:,}, "
                f"ps_drop {result['ps_drop']:,}")
    if mode.name == "rss":
        return f"RSS growth {result['rss_growth_kib'] / 1024:.1f} MiB"
    return f"{result['elapsed_ns'] / 1e6:9.1f} ms  ({result['packets']:,} packets)"


# -- reporting ---------------------------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def ns_per_packet(mode: ModeSpec, cell: Cell, inputs: Inputs) -> float:
    facts = input_for(mode, inputs)
    if not cell.passes or facts is None:
        return float("nan")
    return median(p["elapsed_ns"] for p in cell.passes) / facts.packets


def cell_text(mode: ModeSpec, cell: Cell, inputs: Inputs, markdown: bool) -> str:
    if cell.skip:
        return "n/a"
    if cell.error and not cell.passes:
        return "error"
    if mode.data == "live":
        caps = [p["captured_pct"] for p in cell.passes]
        text = f"{median(caps):.1f}% · drop {median(p['ps_drop'] for p in cell.passes):,.0f}"
    elif mode.name == "rss":
        return f"+{median(p['rss_growth_kib'] for p in cell.passes) / 1024:.1f} MiB"
    else:
        text = f"{ns_per_packet(mode, cell, inputs):,.0f} ns"
    if cell.ratios:
        mark = "" if cell.baseline_mode in ("", mode.name) else "†"
        text += f" · {median(cell.ratios):.2f}{TIMES}{mark}"
    if cell.problems:
        text += " !"
    return text


def render_table(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    out = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*row) for row in rows]
    return "\n".join(out)


def report(cells: dict[str, dict[str, Cell]], impls: list[str], modes: list[ModeSpec],
           inputs: Inputs, markdown: bool) -> str:
    timed = [m for m in modes if m.name not in ("rss", "live")]
    parts = []
    if timed:
        headers = ["implementation", *(m.name for m in timed)]
        rows = [[impl, *(cell_text(m, cells[m.name][impl], inputs, markdown) for m in timed)]
                for impl in impls]
        parts.append(render_table(headers, rows, markdown))
    live = [m for m in modes if m.name == "live"]
    if live:
        headers = ["implementation", "offered pkt/s", "sent", "captured", "captured %",
                   "ps_recv", "ps_drop", "vs pcapy-ng"]
        rows = []
        for impl in impls:
            cell = cells["live"][impl]
            if not cell.passes:
                reason = cell.skip or cell.error or "not run"
                rows.append([impl, "n/a", "", "", "", "", "", reason[:70]])
                continue
            p = cell.passes
            rows.append([
                impl, f"{median(x['offered_pps'] for x in p) / 1000:,.0f}k",
                f"{median(x['sent'] for x in p):,.0f}", f"{median(x['captured'] for x in p):,.0f}",
                f"{median(x['captured_pct'] for x in p):.1f}% (min {min(x['captured_pct'] for x in p):.1f}%)",
                f"{median(x['ps_recv'] for x in p):,.0f}", f"{median(x['ps_drop'] for x in p):,.0f}"
                f" (max {max(x['ps_drop'] for x in p):,})",
                f"{median(cell.ratios):.2f}{TIMES}" if cell.ratios else ""])
        parts.append(render_table(headers, rows, markdown))
    headers = ["implementation", *(m.name for m in modes if m.name != "live"), "growth (rss)"]
    rows = []
    for impl in impls:
        row = [impl]
        for m in modes:
            if m.name == "live":
                continue
            cell = cells[m.name][impl]
            row.append(f"{max(p['maxrss_kib'] for p in cell.passes) / 1024:.1f}"
                       if cell.passes else "n/a")
        rss_cell = cells.get("rss", {}).get(impl)
        row.append(f"+{rss_cell.passes[0]['rss_growth_kib'] / 1024:.1f}"
                   if rss_cell and rss_cell.passes else "n/a")
        rows.append(row)
    if len(headers) > 2:
        parts.append(("Peak RSS of the worker process, MiB (VmHWM)\n" if not markdown else
                      "Peak RSS of the worker process, MiB (`VmHWM`):\n\n")
                     + render_table(headers, rows, markdown))
    goals = targets(cells, impls, inputs, markdown)
    if goals:
        parts.append(("Targets:\n\n" if markdown else "Targets\n") + goals)
    notes = footnotes(cells, impls, modes)
    if notes:
        parts.append("\n".join(("- " if markdown else "  ") + n for n in notes))
    return "\n\n".join(parts)


def targets(cells: dict[str, dict[str, Cell]], impls: list[str], inputs: Inputs,
            markdown: bool) -> str:
    """Where our pcapy stands against the issue's targets (ratios are to pcapy-ng)."""
    rows: list[list[str]] = []

    def ours(mode: str) -> Optional[Cell]:
        cell = cells.get(mode, {}).get(OURS)
        return cell if cell is not None and cell.passes else None

    def why(mode: str) -> str:
        cell = cells.get(mode, {}).get(OURS)
        if cell is None:
            return "not run"
        return (cell.skip or cell.error or "no result")[:90]

    def verdict(value: float, goal: float, stretch: Optional[float], higher: bool = True) -> str:
        met = value >= goal if higher else value <= goal
        factor = goal / value if higher else value / goal
        text = "met" if met else f"MISSED (needs {factor:.2f}x faster)"
        if stretch is not None and met:
            text += ", stretch met" if (value >= stretch if higher else value <= stretch) \
                else ", stretch not met"
        return text

    for mode, goal, stretch in (("next", 1.0, 1.5), ("loop", 1.0, 1.5), ("iter", 1.0, 1.5),
                                ("filter", 0.8, 1.0), ("dump", 0.7, 1.0)):
        if mode not in cells:
            continue
        cell = ours(mode)
        target = f"{mode} >= {goal}x pcapy-ng (stretch {stretch}x)"
        if cell is None or not cell.ratios:
            rows.append([target, "n/a", why(mode)])
            continue
        value = median(cell.ratios)
        mark = "" if cell.baseline_mode == mode else f" (vs pcapy-ng {cell.baseline_mode})"
        rows.append([target, f"{value:.2f}x{mark}", verdict(value, goal, stretch)])
    if "ngread" in cells and "next" in cells:
        ng, classic = ours("ngread"), ours("next")
        target = "pcapng read <= 1.2x our classic pcap read time"
        if ng is None or classic is None:
            rows.append([target, "n/a", why("ngread") if ng is None else why("next")])
        else:
            value = ns_per_packet(MODES["ngread"], ng, inputs) / ns_per_packet(
                MODES["next"], classic, inputs)
            rows.append([target, f"{value:.2f}x", verdict(value, 1.2, None, higher=False)])
    if "batch" in cells and "next" in cells:
        peers_next = {impl: ns_per_packet(MODES["next"], c, inputs)
                      for impl, c in cells["next"].items() if impl != OURS and c.passes}
        target = "batch ns/pkt <= fastest peer's next()"
        fastest = min(peers_next, key=peers_next.__getitem__) if peers_next else None
        cell = ours("batch")
        if cell is None or fastest is None:
            rows.append([target, "n/a", why("batch")])
        else:
            value = ns_per_packet(MODES["batch"], cell, inputs)
            rows.append([target, f"{value:,.0f} ns vs {fastest} {peers_next[fastest]:,.0f} ns",
                         verdict(value, peers_next[fastest], None, higher=False)])
    if "live" in cells:
        cell, base = ours("live"), cells["live"].get(BASELINE)
        target = "live: >= pcapy-ng's captured, no more drops (offered >= 300k pkt/s)"
        if cell is None or base is None or not base.passes:
            rows.append([target, "n/a", why("live")])
        else:
            value = median(cell.ratios) if cell.ratios else float("nan")
            drops = sum(p["ps_drop"] for p in cell.passes)
            base_drops = sum(p["ps_drop"] for p in base.passes)
            offered = median(p["offered_pps"] for p in cell.passes)
            status = "met" if value >= 1.0 and drops <= base_drops else "MISSED"
            if offered < 300_000:
                status += " (offered < 300k pkt/s: use more --senders)"
            rows.append([target, f"captured {value:.2f}x (median), drops over "
                         f"{len(cell.passes)} rounds {drops:,} vs {base_drops:,}, offered "
                         f"{offered / 1000:,.0f}k", status])
    if "rss" in cells:
        cell = ours("rss")
        target = f"RSS growth <= 16 MiB reading {Path(inputs.rss.path).name}"
        if cell is None:
            rows.append([target, "n/a", why("rss")])
        else:
            value = cell.passes[0]["rss_growth_kib"] / 1024
            rows.append([target, f"+{value:.1f} MiB", verdict(value, 16, None, higher=False)])
    _ = impls
    return render_table(["target (our pcapy)", "measured", "status"], rows, markdown) if rows \
        else ""


def footnotes(cells: dict[str, dict[str, Cell]], impls: list[str],
              modes: list[ModeSpec]) -> list[str]:
    notes = []
    fallbacks = {m.name: BASELINE_FALLBACK[m.name] for m in modes
                 if any(c.baseline_mode not in ("", m.name) for c in cells[m.name].values())}
    for mode, base in fallbacks.items():
        notes.append(f"† {mode}: pcapy-ng cannot do it; the ratio is to pcapy-ng's {base}")
    for m in modes:
        for impl in impls:
            cell = cells[m.name][impl]
            if cell.skip and impl in (OURS, BASELINE):
                notes.append(f"{impl} {m.name}: n/a, {cell.skip}")
            if cell.error:
                notes.append(f"{impl} {m.name}: ERROR {cell.error}")
            for problem in sorted(set(cell.problems)):
                notes.append(f"{impl} {m.name}: CHECK FAILED ({problem})")
            if any(p.get("unfaithful") for p in cell.passes) and m.name == "dump":
                notes.append(f"{impl} dump: not a faithful copy ({cell.passes[0]['unfaithful']})")
    return notes


def data_note(inputs: Inputs) -> str:
    files = [f"{Path(inputs.usec.path).name} ({inputs.usec.packets:,} packets, "
             f"{inputs.usec.size / 1e6:,.0f} MB, {inputs.usec.matches} match '{FILTER_EXPR}' "
             f"by tcpdump)", Path(inputs.nsec.path).name, f"rss: {Path(inputs.rss.path).name}"]
    if inputs.pcapng is not None:
        files.append(f"{Path(inputs.pcapng.path).name} written by {inputs.pcapng.made_by}")
    note = "Inputs: " + "; ".join(files) + "."
    if inputs.pcapng_note:
        note += " " + inputs.pcapng_note
    return note


def repo_state() -> dict[str, str]:
    """The commit (and uncommitted changes under src/) that our pcapy is built from."""
    if not shutil.which("git"):
        return {}
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                            capture_output=True, text=True, check=False).stdout
    return {"repo_commit": commit,
            "repo_src_state": f"{len(status.splitlines())} changed/untracked files under src/"}


def system_info(impls: list[str], cells: dict[str, dict[str, Cell]],
                repo: dict[str, str]) -> dict[str, Any]:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                      if line.startswith("Model name")), "")
    except OSError:
        pass
    libpcap = ""
    if shutil.which("dpkg-query"):
        libpcap = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libpcap0.8"],
                                 capture_output=True, text=True, check=False).stdout
    versions = {}
    for impl in impls:
        for mode_cells in cells.values():
            cell = mode_cells.get(impl)
            if cell and cell.passes and "version" in cell.passes[0]:
                versions[impl] = cell.passes[0]["version"]
                break
    return {"cpu": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            **repo,
            "python": platform.python_version(), "libpcap (system)": libpcap,
            "versions": versions}


# -- main --------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small and fast: 50k packets, 2 repetitions, small live burst")
    p.add_argument("--packets", type=int, default=None, help="packets per file (default 1M)")
    p.add_argument("--rss-packets", type=int, default=None,
                   help="packets in the rss-mode file (default 1M; --quick: --packets)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    p.add_argument("--modes", nargs="+", choices=list(MODES), default=None, metavar="MODE",
                   help=f"modes to run (default all: {' '.join(DEFAULT_MODES)})")
    p.add_argument("--peers", nargs="+", choices=list(PEERS), default=None, metavar="PEER",
                   help=f"peers to compare with (default all: {' '.join(PEERS)}); "
                        "pcapy-ng is always included as the baseline")
    p.add_argument("--senders", type=int, default=3, help="live: sending processes (2-4)")
    p.add_argument("--burst", type=int, default=None,
                   help="live: datagrams per sender (default 100k; --quick 30k)")
    p.add_argument("--burst-seconds", type=float, default=5.0, help="live: time limit per sender")
    p.add_argument("--sender-cpu", type=int, default=SENDER_CPU,
                   help="live: CPU the senders are pinned to (-1: not pinned)")
    p.add_argument("--upgrade", action="store_true", help="pip install --upgrade the peers")
    p.add_argument("--skip-setup", action="store_true",
                   help="use the venvs as they are (do not reinstall our pcapy)")
    p.add_argument("--report", metavar="RESULTS_JSON",
                   help="print the tables of an earlier run (bench/results/*.json) and exit")
    return p.parse_args()


def rerender(path: str) -> int:
    """Print the tables (text, then Markdown) of a raw results file."""
    raw = json.loads(Path(path).read_text())
    ins = raw["inputs"]
    inputs = Inputs(*(FileFacts(**ins[k]) if ins.get(k) else None
                      for k in ("usec", "nsec", "pcapng", "rss")),
                    pcapng_note=raw.get("pcapng_note", ""))  # type: ignore[arg-type]
    cells = {mode: {impl: Cell(**cell) for impl, cell in per.items()}
             for mode, per in raw["cells"].items()}
    modes = [MODES[m] for m in cells]
    impls = list(next(iter(cells.values())))
    say(f"{raw['command']} — started {raw['started']}, load {raw['load_before']} -> "
        f"{raw['load_after']}\n")
    say(report(cells, impls, modes, inputs, markdown=False))
    say("\n" + report(cells, impls, modes, inputs, markdown=True))
    return 0


def main() -> int:
    args = parse_args()
    if args.report:
        return rerender(args.report)
    packets = args.packets or (50_000 if args.quick else 1_000_000)
    rss_packets = args.rss_packets or (packets if args.quick else 1_000_000)
    reps = args.reps or (2 if args.quick else 5)
    burst = args.burst or (30_000 if args.quick else 100_000)
    modes = [MODES[m] for m in (args.modes or DEFAULT_MODES)]
    peers = [BASELINE, *[p for p in (args.peers or list(PEERS)) if p != BASELINE]]
    live_cfg = LiveConfig(max(1, args.senders), burst, args.burst_seconds, args.sender_cpu)
    started = dt.datetime.now().astimezone()
    load_before = load_avg()
    say(f"pcapy benchmark: {packets:,} packets, {reps} repetitions, modes "
        f"{' '.join(m.name for m in modes)}; load average {load_before}")

    repo = repo_state()  # what our package is built from (other work may land meanwhile)
    skipped = {} if args.skip_setup else setup_envs(peers, upgrade=args.upgrade)
    impls = [impl for impl in [OURS, *peers]
             if impl not in skipped and venv_python(impl).exists()]
    for impl in [OURS, *peers]:
        if impl not in impls and impl not in skipped:
            skipped[impl] = f"no venv at {VENVS / impl}"
    need_pcapng = any(m.data == "pcapng" for m in modes)
    inputs = prepare_data(packets, rss_packets, need_pcapng)
    say(f"[data] {Path(inputs.usec.path).name}: {inputs.usec.packets:,} packets, "
        f"{inputs.usec.size / 1e6:,.0f} MB, tcpdump '{FILTER_EXPR}': {inputs.usec.matches}")
    if "live" in {m.name for m in modes} and os.geteuid() != 0:
        say("[live] not root: live captures will fail (each worker reports why)")

    pin_cpu(SENDER_CPU)  # keep this orchestrator off the workers' CPU
    cells: dict[str, dict[str, Cell]] = {}
    for mode in modes:
        say(f"\n[{mode.name}] {mode.description}")
        cells[mode.name] = run_mode(mode, impls, inputs, reps, live_cfg)
    load_after = load_avg()

    info = system_info(impls, cells, repo)
    text = report(cells, impls, modes, inputs, markdown=False)
    md = report(cells, impls, modes, inputs, markdown=True)
    say("\n" + "=" * 100)
    say(f"median ns per packet · ratio to pcapy-ng (pcapy-ng time / impl time, median of "
        f"{reps} interleaved repetitions; > 1 is faster)\n")
    say(text)
    for impl, reason in skipped.items():
        say(f"  skipped {impl}: {reason}")
    say("  " + data_note(inputs))
    say(f"\nload average before {load_before}, after {load_after}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    raw = {
        "started": started.isoformat(), "finished": dt.datetime.now().astimezone().isoformat(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "packets": packets, "reps": reps, "rss_packets": rss_packets,
        "load_before": load_before, "load_after": load_after, "system": info,
        "inputs": {k: (v.__dict__ if v else None) for k, v in inputs.__dict__.items()
                   if k != "pcapng_note"},
        "pcapng_note": inputs.pcapng_note, "skipped": skipped,
        "live": live_cfg.__dict__,
        "cells": {mode: {impl: cell.__dict__ for impl, cell in per.items()}
                  for mode, per in cells.items()},
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(raw, indent=1))
    header = (f"Run {started:%Y-%m-%d %H:%M %Z}: `python bench/run.py "
              f"{' '.join(sys.argv[1:])}` — {packets:,} packets per file, {reps} repetitions; "
              f"load average before {load_before}, after {load_after}.\n\n"
              f"Cells: median ns per packet (read) · median ratio to pcapy-ng (> 1 = faster).\n\n"
              f"{data_note(inputs)}\n\n")
    (RESULTS / f"{stamp}.md").write_text(header + md + "\n")
    say(f"\nraw results: {RESULTS / (stamp + '.json')}\nmarkdown:    {RESULTS / (stamp + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
