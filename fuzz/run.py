"""Run the fuzz targets: ``python fuzz/run.py --target all --inputs 10000000 [--workers 2]``.

Engines:

- ``atheris`` (the default when it is installed): libFuzzer's coverage-guided mutation, pcapy
  instrumented with ``atheris.instrument_imports``. Each target runs in its own child process
  with its own working corpus (``fuzz/work/<target>/``, kept between runs), seeded with the
  conformance corpus and the generated seeds; ``--workers`` children run at a time.
- ``mutate``: ``fuzz/mutate.py``, no instrumentation, deterministic for a given ``--seed``
  (what CI runs), several times faster per input. Its pool also starts from every input in the
  atheris corpora under ``--work``, so a mutation pass carries on from what coverage found.

``--inputs`` is the total; with ``--target all`` it is shared equally between the targets.
Every input runs under a per-input time bound (``--timeout``, CPU seconds) and an address-space
limit (``--memory``, MiB). A failing input is saved as ``<crashes>/<target>-<sha1>.bin`` with its
traceback beside it (``.txt``); the run ends with the number of inputs run, the rate and the
number of failures, and exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import seeds as seed_files  # noqa: E402

TARGET_NAMES = ("read", "api", "gzip", "roundtrip", "bpf", "offload")  # --target all
STRUCTURED_TARGETS = ("hostile",)  # recipes, not files: run on their own or with "everything"
ALL_TARGETS = (*TARGET_NAMES, *STRUCTURED_TARGETS)
_SAVED_PER_TARGET = 200  # failing inputs kept per target and process; all are counted


def record_failure(crashes: Path, target: str, data: bytes, text: str) -> Path:
    """Save a failing input and its traceback; the path of the input."""
    crashes.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()  # noqa: S324 - a file name, not security
    path = crashes / f"{target}-{digest}.bin"
    if not path.exists():
        path.write_bytes(data)
        path.with_suffix(".txt").write_text(text)
    return path


def _failure_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


# -- the mutation engine -------------------------------------------------------------------------


def _mutate_worker(index: int, targets: list[str], count: int, args: argparse.Namespace,
                   done: Any, failed: Any) -> None:
    import harness  # noqa: PLC0415 - after fork, in the worker
    import mutate  # noqa: PLC0415

    harness.limit_memory(args.memory << 20)
    harness.install_time_bound()
    rng = random.Random(args.seed * 1_000_003 + index)
    pool_seeds = list(seed_files.load(args.max_len).values()) + _evolved(args)
    mutator = mutate.Mutator(pool_seeds, rng, args.max_len)
    pool = mutate.Pool(pool_seeds, rng)
    crashes = Path(args.crashes)
    current = Path(tempfile.gettempdir()) / f"pcapy-fuzz-{os.getpid()}.cur"
    saved: dict[str, int] = {}
    for number in range(count):
        name = targets[number % len(targets)]
        data = mutator.mutate(pool.pick()) if number >= len(targets) * 4 else pool.pick()
        if args.keep_current:
            current.write_bytes(data)
        try:
            outcome = harness.run_one(harness.TARGETS[name], data, args.timeout)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # every other escape is a bug
            with failed.get_lock():
                failed.value += 1
            if saved.get(name, 0) < _SAVED_PER_TARGET:
                saved[name] = saved.get(name, 0) + 1
                record_failure(crashes, name, data, _failure_text(err))
        else:
            pool.offer(data, mutate_signature(mutate, name, data, outcome))
        if number % 64 == 63:
            with done.get_lock():
                done.value += 64
    with done.get_lock():
        done.value += count % 64
    current.unlink(missing_ok=True)


def _evolved(args: argparse.Namespace) -> list[bytes]:
    """Inputs atheris found new coverage with (``--work``), as more seeds for mutation."""
    work = Path(args.work)
    if not work.is_dir():
        return []
    return [path.read_bytes()[: args.max_len] for path in sorted(work.glob("*/*"))
            if path.is_file() and path.parent.name != "logs"]


def mutate_signature(mutate: Any, name: str, data: bytes, outcome: object) -> object:
    return mutate.signature(name, data, outcome)


def run_mutate(targets: list[str], args: argparse.Namespace) -> tuple[int, int, float]:
    ctx = multiprocessing.get_context("fork")
    done, failed = ctx.Value("q", 0), ctx.Value("q", 0)
    share = [args.inputs // args.workers + (w < args.inputs % args.workers)
             for w in range(args.workers)]
    started = time.monotonic()
    workers = []
    for index, count in enumerate(share):
        # Each worker takes every target in turn, starting at a different one.
        order = targets[index % len(targets) :] + targets[: index % len(targets)]
        process = ctx.Process(target=_mutate_worker,
                              args=(index, order, count, args, done, failed))
        process.start()
        workers.append(process)
    _wait(workers, done, failed, started, args)
    for process in workers:
        if process.exitcode not in (0, None):
            failed.value += 1
            print(f"worker {process.pid} died with exit code {process.exitcode}", flush=True)
            current = Path(tempfile.gettempdir()) / f"pcapy-fuzz-{process.pid}.cur"
            if current.exists():
                record_failure(Path(args.crashes), "worker", current.read_bytes(),
                               f"worker died with exit code {process.exitcode}\n")
    return done.value, failed.value, time.monotonic() - started


def _wait(workers: list[Any], done: Any, failed: Any, started: float,
          args: argparse.Namespace) -> None:
    last = time.monotonic()
    while any(p.is_alive() for p in workers):
        for process in workers:
            process.join(timeout=0.5)
        if time.monotonic() - last >= args.report_every:
            last = time.monotonic()
            _progress(done.value, failed.value, last - started, args.inputs)


def _progress(done: int, failed: int, elapsed: float, total: int) -> None:
    rate = done / elapsed if elapsed else 0.0
    print(f"  {done:,}/{total:,} inputs, {rate:,.0f}/s, {failed} failures, "
          f"{elapsed:,.0f} s", flush=True)


# -- the atheris engine ---------------------------------------------------------------------------

_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)


def _instrumented_imports() -> None:
    """Import every pcapy module the targets reach, instrumented for coverage."""
    import atheris  # noqa: PLC0415

    with atheris.instrument_imports(include=["pcapy"]):
        import pcapy  # noqa: PLC0415
        import pcapy._bpf_vm  # noqa: PLC0415
        import pcapy._dumper  # noqa: PLC0415
        import pcapy._offload  # noqa: PLC0415
        import pcapy._pkthdr  # noqa: PLC0415
        import pcapy._reader  # noqa: PLC0415
        import pcapy._savefile._pcap  # noqa: PLC0415
        import pcapy._savefile._pcapng  # noqa: PLC0415
        import pcapy._savefile._pcapng_types  # noqa: PLC0415
        import pcapy._savefile._pcapng_writer  # noqa: PLC0415
        import pcapy._savefile._pseudo  # noqa: PLC0415
        import pcapy._savefile._stream  # noqa: PLC0415
        import pcapy._savefile._writer  # noqa: F401, PLC0415


def atheris_child(args: argparse.Namespace) -> None:
    """One target under libFuzzer (runs in its own process; see run_atheris)."""
    import atheris  # noqa: PLC0415

    _instrumented_imports()
    import harness  # noqa: PLC0415

    harness.limit_memory(args.memory << 20)
    harness.install_time_bound()
    target = harness.TARGETS[args.child]
    crashes = Path(args.crashes)
    stats = Path(args.stats)
    counts = {"failures": 0}

    def test_one_input(data: bytes) -> None:
        try:
            harness.run_one(target, data, args.timeout)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # every other escape is a bug
            counts["failures"] += 1
            if counts["failures"] <= _SAVED_PER_TARGET:
                record_failure(crashes, args.child, data, _failure_text(err))
            stats.write_text(json.dumps(counts))

    stats.write_text(json.dumps(counts))
    work = Path(args.work) / args.child
    work.mkdir(parents=True, exist_ok=True)
    libfuzzer = [
        sys.argv[0], f"-runs={args.runs}", f"-seed={args.seed}", f"-max_len={args.max_len}",
        "-timeout=60", "-rss_limit_mb=0", "-print_final_stats=1", "-reload=0",
        f"-artifact_prefix={crashes}/{args.child}-libfuzzer-", str(work), args.seed_dir,
    ]
    atheris.Setup(libfuzzer, test_one_input)
    atheris.Fuzz()


def run_atheris(targets: list[str], args: argparse.Namespace) -> tuple[int, int, float]:
    """Each target's share of the inputs in a child process, ``--workers`` at a time."""
    Path(args.crashes).mkdir(parents=True, exist_ok=True)
    logs = Path(args.work) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    seed_dir = Path(tempfile.mkdtemp(prefix="pcapy-fuzz-seeds-"))
    for name, data in seed_files.load(args.max_len).items():
        (seed_dir / hashlib.sha1(name.encode()).hexdigest()).write_bytes(data)  # noqa: S324
    per_target = args.inputs // len(targets)
    jobs = [(name, per_target + (i < args.inputs % len(targets))) for i, name in
            enumerate(targets)]
    started = time.monotonic()
    running: list[tuple[str, subprocess.Popen[bytes], Path, Path]] = []
    finished: dict[str, int] = {}
    failures = 0
    last = started
    while jobs or running:
        while jobs and len(running) < args.workers:
            name, runs = jobs.pop(0)
            log, stats = logs / f"{name}.log", logs / f"{name}.stats.json"
            command = [sys.executable, __file__, "--child", name, "--runs", str(runs),
                       "--seed", str(args.seed + ALL_TARGETS.index(name) + 1),
                       "--seed-dir", str(seed_dir), "--max-len", str(args.max_len),
                       "--timeout", str(args.timeout), "--memory", str(args.memory),
                       "--crashes", args.crashes, "--work", args.work, "--stats", str(stats)]
            with open(log, "wb") as out:
                running.append((name, subprocess.Popen(command, stdout=out, stderr=out), log,
                                stats))
        time.sleep(1)
        for job in list(running):
            name, process, log, stats = job
            if process.poll() is None:
                continue
            running.remove(job)
            text = log.read_text(errors="replace")
            executed = [int(n) for n in _EXECUTED.findall(text)]
            finished[name] = executed[-1] if executed else _last_progress(text)
            failures += json.loads(stats.read_text())["failures"] if stats.exists() else 0
            if process.returncode != 0:  # libFuzzer itself stopped: a crash, a timeout
                failures += 1
                print(f"{name}: libFuzzer exited with {process.returncode}; see {log}")
            print(f"  {name}: {finished[name]:,} inputs", flush=True)
        if time.monotonic() - last >= args.report_every:
            last = time.monotonic()
            live = sum(_last_progress(job[2].read_text(errors="replace")) for job in running)
            _progress(sum(finished.values()) + live, failures, last - started, args.inputs)
    return sum(finished.values()), failures, time.monotonic() - started


def _last_progress(text: str) -> int:
    found = _PROGRESS.findall(text[-4096:])
    return int(found[-1]) if found else 0


# -- the command ----------------------------------------------------------------------------------


def _have_atheris() -> bool:
    try:
        import atheris  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all",
                        choices=("all", "everything", *TARGET_NAMES, *STRUCTURED_TARGETS))
    parser.add_argument("--inputs", type=int, default=100_000, help="total inputs to run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=("atheris", "mutate"),
                        default="atheris" if _have_atheris() else "mutate")
    parser.add_argument("--max-len", type=int, default=65536, help="largest input, in bytes")
    parser.add_argument("--max-size", type=int, default=16 << 20,
                        help="hostile: largest file a recipe builds (decompressed), in bytes")
    parser.add_argument("--timeout", type=float, default=2.0, help="CPU seconds per input")
    parser.add_argument("--memory", type=int, default=2048, help="address-space limit, MiB")
    parser.add_argument("--crashes", default=str(HERE / "crashes"))
    parser.add_argument("--work", default=str(HERE / "work"), help="atheris corpora and logs")
    parser.add_argument("--report-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--keep-current", action="store_true",
                        help="mutate: write each input to a file first (finds C-level crashes)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed-dir", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.child:
        atheris_child(args)
        return 0
    targets = {"all": list(TARGET_NAMES), "everything": [*TARGET_NAMES, *STRUCTURED_TARGETS]}.get(
        args.target, [args.target])
    os.environ["PCAPY_FUZZ_MAX_SIZE"] = str(args.max_size)  # read by structured.build
    print(f"fuzzing {', '.join(targets)}: {args.inputs:,} inputs, engine {args.engine}, "
          f"{args.workers} workers, seed {args.seed}", flush=True)
    run = run_atheris if args.engine == "atheris" else run_mutate
    done, failures, elapsed = run(targets, args)
    print(f"inputs run: {done:,}")
    print(f"elapsed: {elapsed:,.1f} s")
    print(f"inputs/s: {done / elapsed if elapsed else 0.0:,.0f}")
    print(f"failures: {failures}" + (f" (saved in {args.crashes})" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
