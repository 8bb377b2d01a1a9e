"""``pcapy.capture_parallel`` / ``ParallelCapture``: worker processes in one fanout group.

The workers capture on B's end of a veth in a lab of the module's own (IPv6 off, so only the
frames sent cross the link); they join B's namespace themselves (``netns=``). Frames of many
flows come from A. The ``Record`` handler writes a byte per packet to a file of its worker, so
the test waits until the workers have handled everything it sent before it stops them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

import pcapy
from live.fanout_handlers import FailOnThird, Record, flow_and_payload, handled_so_far, ignore
from live.fanout_lab import (
    FILTER,
    flow_frames,
    link_packets,
    quiet_lab,
    send_from_a,
)
from live.lab import NetnsLab, measured

pytestmark = pytest.mark.live
CHOOSES_READ_PATH = True  # the workers read the default way; set_fanout's paths: test_fanout.py

WORKERS = 2
WAIT = 15.0  # seconds: the most any wait here may take (a live test has 30 in all)


@pytest.fixture(scope="module")
def lab() -> Iterator[NetnsLab]:
    with quiet_lab() as quiet:
        yield quiet


@pytest.fixture(autouse=True)
def _tracker_running() -> None:
    """multiprocessing's resource tracker (one per parent, for its whole life) is started now,
    so it does not count as a process or descriptor a capture left behind."""
    resource_tracker.ensure_running()


def pool(lab: NetnsLab, **options: object) -> pcapy.ParallelCapture:
    return pcapy.ParallelCapture(lab.dev_b, netns=lab.ns_b, workers=WORKERS, **options)


def wait_until_handled(folder: Path, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while handled_so_far(str(folder)) < count:
        assert time.monotonic() < deadline, f"{handled_so_far(str(folder))} of {count} handled"
        time.sleep(0.01)


def children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as listing:
            pids.update(int(pid) for pid in listing.read().split())
    return pids


def descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def assert_reaped(pids: list[int]) -> None:
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} is still there (zombie?)"


def test_every_packet_reaches_one_worker_and_each_flow_stays_in_one(
        lab: NetnsLab, tmp_path: Path) -> None:
    frames = flow_frames(64, 4)
    capture = pool(lab, handler=Record(str(tmp_path)))  # no filter: every frame counts
    capture.start()
    before = link_packets(lab.ns_b, lab.dev_b)
    send_from_a(lab, frames)
    wait_until_handled(tmp_path, len(frames))
    after = link_packets(lab.ns_b, lab.dev_b)
    result = capture.stop()
    sent = Counter(flow_and_payload(frame)[1] for frame in frames)
    assert Counter(payload for payloads in result.results for payload in payloads) == sent
    flows = [{payload.split(b"-")[0] for payload in payloads} for payloads in result.results]
    assert flows[0].isdisjoint(flows[1]) and flows[0] and flows[1]
    # the statistics add up: to the handled packets, and to the interface's own counters
    for worker in result.workers:
        assert worker.stats.handled == len(worker.result)
        assert worker.stats.received == worker.stats.handled + worker.stats.dropped
    assert result.stats.received == after - before == len(frames)
    assert [worker.worker for worker in result.workers] == list(range(WORKERS))
    assert_reaped(capture.pids)


@pytest.mark.untraced  # a time budget (workers measured by coverage save their data at exit)
def test_a_stop_ends_every_worker_at_once_and_leaves_nothing_behind(lab: NetnsLab) -> None:
    processes, fds = children(), descriptors()
    capture = pool(lab, handler=ignore)
    capture.start()
    pids = capture.pids
    assert len(pids) == WORKERS and set(pids) <= children()
    result = capture.stop()  # an idle link: the workers are waiting
    assert result.stop_seconds is not None
    measured("stop() to the last worker's exit, idle link", result.stop_seconds)
    assert result.stop_seconds < 1.0  # the target is 0.1 s; a busy machine gets some slack
    assert not result.interrupted
    assert result.stats == pcapy.WorkerStats()
    assert_reaped(pids)
    assert children() == processes
    assert descriptors() == fds


SCRIPT = """
import json, os, sys
import pcapy
from multiprocessing import resource_tracker
resource_tracker.ensure_running()
def children():
    pids = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as listing:
            pids.update(int(pid) for pid in listing.read().split())
    return sorted(pids)
before = (children(), sorted(os.listdir("/proc/self/fd")))
capture = pcapy.ParallelCapture(sys.argv[1], netns=sys.argv[2], workers=2)
result = capture.run(ready=lambda: print(json.dumps({"pids": capture.pids}), flush=True))
after = (children(), sorted(os.listdir("/proc/self/fd")))
print(json.dumps({"interrupted": result.interrupted, "stop_seconds": result.stop_seconds,
                  "workers": len(result.workers), "same": before == after}), flush=True)
"""


@pytest.mark.untraced  # a time budget
def test_ctrl_c_in_the_parent_stops_every_worker(lab: NetnsLab) -> None:
    with subprocess.Popen([sys.executable, "-c", SCRIPT, lab.dev_b, lab.ns_b],
                          stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            pids = json.loads(parent.stdout.readline())["pids"]  # printed once all are ready
            sent = time.monotonic()
            parent.send_signal(signal.SIGINT)
            outcome = json.loads(parent.stdout.readline())
            elapsed = time.monotonic() - sent
            assert parent.wait(WAIT) == 0
        finally:
            if parent.poll() is None:
                parent.kill()
    measured("SIGINT to the parent until its result, idle link", elapsed)
    measured("the parent's stop request to the last worker's exit", outcome["stop_seconds"])
    assert outcome["interrupted"] and outcome["workers"] == WORKERS
    assert outcome["same"]  # no child process or descriptor left behind in the parent
    assert outcome["stop_seconds"] < 1.0
    assert_reaped(pids)


def test_a_handlers_exception_reaches_the_caller_and_stops_the_others(lab: NetnsLab) -> None:
    processes, fds = children(), descriptors()
    capture = pool(lab, handler=FailOnThird, filter=FILTER)
    capture.start()
    send_from_a(lab, flow_frames(64, 2))
    started = time.monotonic()
    with pytest.raises(pcapy.WorkerError, match="ValueError: handler failed on purpose") as info:
        capture.run(duration=WAIT)
    assert time.monotonic() - started < WAIT
    error = info.value
    assert error.worker in range(WORKERS)
    assert isinstance(error.__cause__, ValueError)
    assert "in __call__" in str(error.__cause__.__cause__)  # the worker's own traceback
    assert "handler failed on purpose" in error.traceback
    assert_reaped(capture.pids)
    assert children() == processes
    assert descriptors() == fds


def test_worker_files_and_their_merge_by_time(lab: NetnsLab, tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    progress.mkdir()
    frames = flow_frames(32, 4, tag=b"merge-")
    capture = pool(lab, handler=Record(str(progress)), filter=FILTER,
                   worker_files=str(tmp_path / "worker-{worker}.pcapng"),
                   output=str(tmp_path / "merged.pcapng"))
    capture.start()
    send_from_a(lab, frames)
    wait_until_handled(progress, len(frames))
    result = capture.stop()
    for worker in result.workers:
        assert worker.output == str(tmp_path / f"worker-{worker.worker}.pcapng")
        with pcapy.open_offline(worker.output) as own:
            assert [flow_and_payload(data)[1] for _hdr, data in own] == worker.result
    assert result.output == str(tmp_path / "merged.pcapng")
    with pcapy.open_offline(result.output) as merged:
        packets = list(merged)
    assert Counter(data for _hdr, data in packets) == Counter(frames)
    stamps = [hdr.ts_ns for hdr, _data in packets]
    assert stamps == sorted(stamps)
    # each worker's interface is kept: the packets of a flow all name the same one
    interface_of = {flow_and_payload(data)[0]: set() for _hdr, data in packets}
    for hdr, data in packets:
        interface_of[flow_and_payload(data)[0]].add(id(hdr.interface))
    assert all(len(interfaces) == 1 for interfaces in interface_of.values())
    assert len({id(hdr.interface) for hdr, _data in packets}) == WORKERS


def test_the_merged_file_alone_leaves_no_worker_files(lab: NetnsLab, tmp_path: Path) -> None:
    capture = pool(lab, filter=FILTER, output=str(tmp_path / "all.pcapng"))
    capture.start()
    frames = flow_frames(8, 2, tag=b"alone-")
    send_from_a(lab, frames)
    deadline = time.monotonic() + WAIT
    result = capture.stop()
    assert time.monotonic() < deadline
    assert sorted(os.listdir(tmp_path)) == ["all.pcapng"]  # the scratch files are gone
    assert all(worker.output is None for worker in result.workers)
    with pcapy.open_offline(str(tmp_path / "all.pcapng")) as merged:
        assert len(list(merged)) == result.stats.handled


def test_what_cannot_start_fails_before_any_worker_runs(lab: NetnsLab, tmp_path: Path) -> None:
    processes, fds = children(), descriptors()
    with pytest.raises(pcapy.NoSuchDeviceError, match="nosuchdev0"):
        pcapy.capture_parallel("nosuchdev0", netns=lab.ns_b, workers=WORKERS)
    with pytest.raises(pcapy.CaptureError, match="network namespace pcapy-no-such-ns"):
        pcapy.capture_parallel(lab.dev_b, netns="pcapy-no-such-ns", workers=WORKERS)
    with pytest.raises(pcapy.BPFError):
        pcapy.capture_parallel(lab.dev_b, netns=lab.ns_b, workers=1, filter="no such filter (")
    assert children() == processes
    assert descriptors() == fds
    with pytest.raises(TypeError, match="top level of an importable module"):
        pcapy.ParallelCapture(lab.dev_b, handler=lambda hdr, data: None)
    with pytest.raises(TypeError, match="handler must be callable"):
        pcapy.ParallelCapture(lab.dev_b, handler=42)
    with pytest.raises(ValueError, match="worker"):
        pcapy.ParallelCapture(lab.dev_b, worker_files=str(tmp_path / "same.pcapng"))
    with pytest.raises(ValueError, match="workers must be in 1..1024"):
        pcapy.ParallelCapture(lab.dev_b, workers=0)
    assert sorted(os.listdir(tmp_path)) == []
