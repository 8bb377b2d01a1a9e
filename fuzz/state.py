"""Resumable mutation runs: each worker's checkpoint and the run's state file.

A mutation worker's stream of inputs is deterministic: it depends only on the seed, the worker's
index and the outcomes of the inputs before (which grow the pool). A checkpoint is everything
that stream needs to go on exactly where it was: the PRNG state, the pools (inputs, their sizes,
the outcomes seen), the seeds spliced from, and the count of inputs done, with the failures and
CPU time so far. Workers write theirs every ``--checkpoint-every`` seconds, when asked to stop
(SIGINT or SIGTERM to the command) and at the end; ``run.py --resume STATE`` starts every worker
from its checkpoint. Inputs run after a worker's last checkpoint are run again on resume and are
counted once (only checkpointed inputs count).

The state file (JSON, rewritten every ``--report-every`` seconds) is the run's account: the
settings, inputs done per target, failures per target, CPU and wall time over all segments, and
one entry per segment (started, last update, inputs at its start and end, the harness commit).
Checkpoints sit beside it: ``<state stem>.worker<N>.pickle`` and ``.json``.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

VERSION = 2  # 2: one pool per group of targets (files, bpf)
REPO = Path(__file__).resolve().parents[1]

#: Settings that define the stream: a resumed run takes them from the state file.
STREAM_SETTINGS = ("target", "seed", "workers", "max_len", "max_size", "light_size", "timeout",
                   "memory", "crashes", "work", "keep_current", "checkpoint_every")


@dataclass
class Checkpoint:
    """One worker's stream, as far as it went."""

    number: int  # inputs done: the next input is number ``number`` of this worker's stream
    rng: Any  # random.Random.getstate()
    seeds: list[bytes]  # what the mutator splices from
    pools: dict[str, tuple[list[bytes], list[int], set[Any], int]]  # inputs, sizes, seen, fixed
    failures: dict[str, int] = field(default_factory=dict)
    saved: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0  # CPU seconds, all segments


def checkpoint_path(state: Path, index: int) -> Path:
    return state.with_name(f"{state.stem}.worker{index}.pickle")


def summary_path(state: Path, index: int) -> Path:
    return state.with_name(f"{state.stem}.worker{index}.json")


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename: a reader never sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def save_checkpoint(state: Path, index: int, checkpoint: Checkpoint) -> None:
    write_atomic(checkpoint_path(state, index),
                 pickle.dumps(checkpoint, protocol=pickle.HIGHEST_PROTOCOL))
    summary = {"number": checkpoint.number, "failures": checkpoint.failures,
               "cpu": round(checkpoint.cpu, 1), "written": now()}
    write_atomic(summary_path(state, index), json.dumps(summary).encode())


def load_checkpoint(state: Path, index: int) -> Optional[Checkpoint]:
    path = checkpoint_path(state, index)
    if not path.exists():
        return None
    with open(path, "rb") as file:
        checkpoint = pickle.load(file)  # noqa: S301 - our own file, written by save_checkpoint
    if not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"{path} holds no checkpoint")
    return checkpoint


def load_summary(state: Path, index: int) -> dict[str, Any]:
    path = summary_path(state, index)
    if not path.exists():
        return {"number": 0, "failures": {}, "cpu": 0.0}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def harness_commit() -> str:
    """The repository's commit, with ``+dirty`` when fuzz/ or src/ differ from it."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "fuzz",
                                "src"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty.strip() else "")


def per_target(number: int, order: list[str]) -> dict[str, int]:
    """Inputs each target got from a worker that takes ``order`` in turn, ``number`` in all."""
    rounds, extra = divmod(number, len(order))
    return {name: rounds + (position < extra) for position, name in enumerate(order)}


def read_state(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(path.read_text())
    if state.get("version") != VERSION:
        raise ValueError(f"{path}: state version {state.get('version')}, expected {VERSION}")
    return state


def write_state(path: Path, state: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(state, indent=1, sort_keys=True) + "\n").encode())
