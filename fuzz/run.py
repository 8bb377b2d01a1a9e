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
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mutate  # noqa: E402
import seeds as seed_files  # noqa: E402
import state as run_state  # noqa: E402

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


# The bpf target reads its input as BPF programs, hostile as recipes, the others as capture
# files: each group has its own pool (in one pool, bpf's many new verdict patterns made up 84%
# of the inputs the file targets were given, mostly bytes no reader takes for a file).
POOL_GROUPS = ("files", "bpf", "hostile")


def pool_group(target: str) -> str:
    return target if target in POOL_GROUPS else "files"


class _Worker:
    """One mutation worker's stream: PRNG, pool, counts; checkpointed to resume exactly."""

    def __init__(self, index: int, args: argparse.Namespace) -> None:
        import mutate  # noqa: PLC0415 - after fork, in the worker

        self.index = index
        self.args = args
        self.state = Path(args.state) if args.state else None
        checkpoint = run_state.load_checkpoint(self.state, index) if self.state else None
        self.rng = random.Random(args.seed * 1_000_003 + index)
        if checkpoint is None:
            seeds = list(seed_files.load(args.max_len).values()) + _evolved(args)
            self.mutator = mutate.Mutator(seeds, self.rng, args.max_len)
            self.pools = {group: mutate.Pool(seeds, self.rng, light=args.light_size)
                          for group in POOL_GROUPS}
            self.number, self.cpu_before = 0, 0.0
            self.failures: dict[str, int] = {}
            self.saved: dict[str, int] = {}
        else:
            self.rng.setstate(checkpoint.rng)
            self.mutator = mutate.Mutator(checkpoint.seeds, self.rng, args.max_len)
            self.pools = {}
            for group, (inputs, sizes, seen, fixed) in checkpoint.pools.items():
                pool = mutate.Pool([], self.rng, light=args.light_size)
                pool.inputs, pool.sizes, pool.seen, pool.fixed = inputs, sizes, seen, fixed
                self.pools[group] = pool
            for group in POOL_GROUPS:  # a group its targets never used: seeds only
                self.pools.setdefault(group, mutate.Pool(checkpoint.seeds, self.rng,
                                                         light=args.light_size))
            self.number, self.cpu_before = checkpoint.number, checkpoint.cpu
            self.failures, self.saved = checkpoint.failures, checkpoint.saved
        self.cpu_started = time.process_time()

    def checkpoint(self, rng_state: Any) -> None:
        if self.state is None:
            return
        cpu = self.cpu_before + time.process_time() - self.cpu_started
        pools = {group: (pool.inputs, pool.sizes, pool.seen, pool.fixed)
                 for group, pool in self.pools.items()}
        run_state.save_checkpoint(self.state, self.index, run_state.Checkpoint(
            self.number, rng_state, self.mutator.seeds, pools, self.failures, self.saved, cpu))

    def fail(self, name: str, data: bytes, err: BaseException) -> None:
        self.failures[name] = self.failures.get(name, 0) + 1
        if self.saved.get(name, 0) < _SAVED_PER_TARGET:
            self.saved[name] = self.saved.get(name, 0) + 1
            record_failure(Path(self.args.crashes), name, data, _failure_text(err))


class _Current:
    """--keep-current: each input written to one file opened once, before it runs, so it
    survives a crash in C code (libpcap) that takes the worker down."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def write(self, data: bytes) -> None:
        os.ftruncate(self.fd, len(data))
        os.pwrite(self.fd, data, 0)

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)


def current_path(pid: int) -> Path:
    """In memory where there is /dev/shm: rewriting a file on ext4 each input cost ~3 ms of wall
    time (a replaced file's data is flushed on close), more than most inputs take."""
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()  # noqa: S108
    return Path(folder) / f"pcapy-fuzz-{pid}.cur"


def _mutate_worker(index: int, targets: list[str], count: int, args: argparse.Namespace,
                   done: Any, failed: Any, stop: Any) -> None:
    import harness  # noqa: PLC0415 - after fork, in the worker
    import mutate  # noqa: PLC0415

    # Ctrl-C reaches the whole process group: the parent turns it (and SIGTERM) into ``stop``,
    # and every worker stops at the next input boundary with a checkpoint.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: setattr(stop, "value", 1))
    harness.limit_memory(args.memory << 20)
    harness.install_time_bound()
    worker = _Worker(index, args)
    current = _Current(current_path(os.getpid())) if args.keep_current else None
    every = args.checkpoint_every
    last_checkpoint = time.monotonic()
    unreported = 0
    while worker.number < count and not stop.value:
        rng_state = worker.rng.getstate() if worker.state else None
        if worker.state and time.monotonic() - last_checkpoint >= every:
            worker.checkpoint(rng_state)
            last_checkpoint = time.monotonic()
        number = worker.number
        name = targets[number % len(targets)]
        pool = worker.pools[pool_group(name)]
        data = worker.mutator.mutate(pool.pick()) if number >= len(targets) * 4 else pool.pick()
        if current is not None:
            current.write(data)
        try:
            outcome = harness.run_one(harness.TARGETS[name], data, args.timeout)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # every other escape is a bug
            with failed.get_lock():
                failed.value += 1
            worker.fail(name, data, err)
        else:
            pool.offer(data, mutate.signature(name, data, outcome))
        worker.number += 1
        unreported += 1
        if unreported == 64:
            with done.get_lock():
                done.value += unreported
            unreported = 0
    with done.get_lock():
        done.value += unreported
    worker.checkpoint(worker.rng.getstate())
    if current is not None:
        current.close()


def _evolved(args: argparse.Namespace) -> list[bytes]:
    """Inputs atheris found new coverage with (``--work``), as more seeds for mutation."""
    work = Path(args.work)
    if not work.is_dir():
        return []
    return [path.read_bytes()[: args.max_len] for path in sorted(work.glob("*/*"))
            if path.is_file() and path.parent.name != "logs"]


def _worker_orders(targets: list[str], workers: int) -> list[list[str]]:
    """Each worker takes every target in turn, starting at a different one."""
    return [targets[i % len(targets) :] + targets[: i % len(targets)] for i in range(workers)]


def run_mutate(targets: list[str], args: argparse.Namespace) -> tuple[int, int, float]:
    ctx = multiprocessing.get_context("fork")
    account = _Account(targets, args)
    done, failed, stop = ctx.Value("q", account.done), ctx.Value("q", 0), ctx.Value("i", 0)
    share = [args.inputs // args.workers + (w < args.inputs % args.workers)
             for w in range(args.workers)]
    workers = []
    for index, (count, order) in enumerate(zip(share, _worker_orders(targets, args.workers))):
        process = ctx.Process(target=_mutate_worker,
                              args=(index, order, count, args, done, failed, stop))
        process.start()
        workers.append(process)
    previous = {sig: signal.signal(sig, lambda _signum, _frame: setattr(stop, "value", 1))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _wait(workers, done, failed, account, args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    died = 0
    for process in workers:
        if process.exitcode not in (0, None) and process.pid is not None:
            died += 1
            print(f"worker {process.pid} died with exit code {process.exitcode}", flush=True)
            current = current_path(process.pid)
            if current.exists():
                record_failure(Path(args.crashes), "worker", current.read_bytes(),
                               f"worker died with exit code {process.exitcode}\n")
    account.write(done.value, died)
    elapsed = time.monotonic() - account.started
    return done.value - account.done_at_start, failed.value + died, elapsed


class _Account:
    """The run's state file: settings, counts per target, failures, CPU and wall time, and one
    segment per start (``--resume`` adds one); nothing is written without ``--state``."""

    def __init__(self, targets: list[str], args: argparse.Namespace) -> None:
        self.targets = targets
        self.args = args
        self.path = Path(args.state) if args.state else None
        self.started = time.monotonic()
        self.orders = _worker_orders(targets, args.workers)
        self.state: dict[str, Any] = {}
        self.done_at_start = 0
        if self.path is None:
            return
        if args.resume:
            self.state = run_state.read_state(self.path)
            self.state["settings"]["workers"] = args.workers  # more may have been asked for
        else:
            self.state = {"version": run_state.VERSION, "segments": [],
                          "settings": {name: getattr(args, name)
                                       for name in run_state.STREAM_SETTINGS}}
        self.done_at_start = self._checkpointed()[0]
        self.wall_before = sum(segment["wall_seconds"] for segment in self.state["segments"])
        self.state["segments"].append({
            "commit": run_state.harness_commit(), "started": run_state.now(),
            "inputs_at_start": self.done_at_start, "pid": os.getpid(), "workers": args.workers,
        })
        self.write(self.done_at_start, 0)

    @property
    def done(self) -> int:
        return self.done_at_start

    def _checkpointed(self) -> tuple[int, dict[str, int], dict[str, int], float]:
        assert self.path is not None
        total, targets, cpu = 0, dict.fromkeys(self.targets, 0), 0.0
        failures: dict[str, int] = {}
        for index, order in enumerate(self.orders):
            summary = run_state.load_summary(self.path, index)
            total += summary["number"]
            for name, count in run_state.per_target(summary["number"], order).items():
                targets[name] += count
            for name, count in summary["failures"].items():
                failures[name] = failures.get(name, 0) + count
            cpu += summary["cpu"]
        return total, targets, failures, cpu

    def write(self, live: int, died: int) -> None:
        """The state file now: checkpointed counts (what a resume starts from) and live ones."""
        if self.path is None:
            return
        total, targets, failures, cpu = self._checkpointed()
        wall = time.monotonic() - self.started
        segment = self.state["segments"][-1]
        segment.update({"updated": run_state.now(), "inputs_at_end": total,
                        "inputs_live": live, "wall_seconds": round(wall, 1)})
        if died:
            segment["workers_died"] = died
        wall_total = self.wall_before + wall
        self.state.update({
            "inputs_goal": self.args.inputs, "inputs_done": total, "inputs_per_target": targets,
            "failures": failures, "failures_total": sum(failures.values()) + died,
            "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall_total, 1),
            "inputs_per_cpu_second": round(total / cpu, 1) if cpu else 0.0,
            "inputs_per_wall_second": round(total / wall_total, 1) if wall_total else 0.0,
        })
        run_state.write_state(self.path, self.state)


def _wait(workers: list[Any], done: Any, failed: Any, account: _Account,
          args: argparse.Namespace) -> None:
    last = time.monotonic()
    while any(p.is_alive() for p in workers):
        for process in workers:
            process.join(timeout=0.5)
        if time.monotonic() - last >= args.report_every:
            last = time.monotonic()
            _progress(done.value, failed.value, done.value - account.done_at_start,
                      last - account.started, args.inputs)
            account.write(done.value, 0)
    account.write(done.value, 0)


def _progress(done: int, failed: int, this_run: int, elapsed: float, total: int) -> None:
    rate = this_run / elapsed if elapsed else 0.0
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
            so_far = sum(finished.values()) + live
            _progress(so_far, failures, so_far, last - started, args.inputs)
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
    parser.add_argument("--inputs", type=int, help="total inputs to run (default 100,000; with "
                        "--resume, the state file's goal)")
    parser.add_argument("--workers", type=int,
                        help="processes (default 2; with --resume, more than the run had adds "
                        "streams, each worker's own, so every stream stays deterministic)")
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
    parser.add_argument("--light-size", type=int, default=mutate.LIGHT_SIZE,
                        help="mutate: pool inputs bigger than this (decompressed) are picked "
                        "size/light-size times less often (0: all alike)")
    parser.add_argument("--state",
                        help="mutate: the run's state file (JSON), checkpoints beside it")
    parser.add_argument("--resume", metavar="STATE",
                        help="mutate: go on with the run of this state file where it stopped")
    parser.add_argument("--checkpoint-every", type=float, default=300.0,
                        help="mutate: seconds between a worker's checkpoints (with --state)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed-dir", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resume:
        _resume_settings(args, parser)
    elif args.state and Path(args.state).exists():
        parser.error(f"{args.state} exists: --resume it or choose another state file")
    if args.inputs is None:
        args.inputs = 100_000
    if args.workers is None:
        args.workers = 2
    if (args.state or args.resume) and args.engine != "mutate":
        parser.error("--state and --resume need --engine mutate")
    return args


def _resume_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """A resumed run takes the stream's settings from its state file; ``--workers`` may add
    workers (a new one starts its own stream, which depends only on the seed and its index)."""
    state = run_state.read_state(Path(args.resume))
    workers = args.workers
    for name, value in state["settings"].items():
        setattr(args, name, value)
    if workers is not None:
        if workers < args.workers:
            parser.error(f"the run has {args.workers} workers' streams: resume them all")
        args.workers = workers
    args.state, args.engine = args.resume, "mutate"
    if args.inputs is None:
        args.inputs = state["inputs_goal"]


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
