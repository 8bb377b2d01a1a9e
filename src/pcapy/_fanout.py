"""Live capture on several cores: worker processes sharing one device through ``PACKET_FANOUT``.

One Python process handles a few hundred thousand packets a second at best, and a handler that
decodes or counts costs microseconds a packet, so a busy link outruns it and the kernel drops.
``capture_parallel`` starts N worker processes; each opens its own handle on the device and
joins one fanout group (``Reader.set_fanout``), so the kernel spreads the packets over them,
by flow hash by default (every packet of a 5-tuple to the same worker, IP fragments reassembled
first). Each worker runs the user's handler on its packets and sends back its result and its
statistics.

Processes, not threads: the handler is Python and holds the GIL. They are started with
multiprocessing's *spawn* method: a fresh interpreter, so no libpcap handle, lock or thread of
the parent is inherited half-way (fork would copy them), and no long-lived helper process is
left behind as forkserver's is. The handler is sent pickled, so it must be importable: a
function or class at the top level of a module (the script's own, under the usual
``if __name__ == "__main__":`` guard).

Joining without duplicates. A socket receives every packet of its device from activation on;
only once it has joined the group does it get its share alone. A packet arriving while worker k
is activated but not yet joined would reach the group *and* worker k. So each worker installs a
filter that rejects everything, discards what it had already received, joins, and only then
installs the real filter. The pool is ready when every worker has done so: from then on every
packet goes to exactly one worker. (Packets hashed to a worker between its join and its filter
are rejected: the price of no duplicates, paid before the pool is ready.) Statistics count from
that moment too.

Stopping. Workers ignore SIGINT (they are started with it ignored, so Ctrl-C in a terminal,
which signals the whole process group, reaches only the parent); the parent decides. SIGTERM
and SIGHUP, which a service manager or a closing terminal send to every process of the group,
make a worker stop as the parent's stop does (it still reports), and the parent, seeing a
worker finish, stops the others. A stop
(``ParallelCapture.request_stop()``, Ctrl-C in the parent, ``duration`` passing, or a worker's
failure) is one message down each worker's control pipe. A thread in the worker waits on that
pipe and calls ``breakloop()``, which wakes the capture at once even on an idle link; the
worker then reports and exits with ``os._exit`` (its handle and files closed, its streams
flushed). A worker whose parent died sees its control pipe close and stops the same way. The
parent reaps every worker (SIGTERM, then SIGKILL, for one that does not end within ``GRACE``)
and closes every pipe before it returns or raises.

Output. With ``worker_files`` each worker writes its packets to its own pcapng file; with
``output`` they are merged by time stamp into one pcapng file (``merge_by_time``), each worker's
interface kept as an interface of its own, so a packet still says which worker captured it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import os
import pickle
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Optional, Union

from ._args import as_int
from ._bpf import BPFProgram
from ._constants import DLT_EN10MB, PACKET_FANOUT_FLAG_DEFRAG, PACKET_FANOUT_HASH
from ._dumper import Dumper, PathOrFile
from ._errors import PcapError, WorkerError
from ._live import open_configured
from ._offline import open_offline
from ._pkthdr import Pkthdr
from ._reader import Reader

Handler = Callable[[Pkthdr, bytes], object]

#: Seconds a worker has to become ready (a fresh interpreter importing pcapy, on a busy machine).
START_TIMEOUT = 60.0
#: Seconds a worker has to finish after a stop before it is terminated.
GRACE = 5.0
_REJECT_ALL = ((0x06, 0, 0, 0),)  # BPF "ret #0": the socket keeps no packet
_STOP = "stop"
#: The longest a stopping worker spends on packets already delivered (seconds), and how many
#: it takes between two looks at the clock.
DRAIN = 0.05
DRAIN_BATCH = 256
MAXIMUM_SNAPLEN = 262144


# -- results ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerStats:
    """One worker's counts, from the moment the pool was ready (``stats()`` of its handle).

    ``received``: packets the kernel gave this worker's socket (``ps_recv``); ``dropped``: those
    it had to drop because the worker's buffer was full (``ps_drop``); ``interface_dropped``:
    dropped by the interface or driver (``ps_ifdrop``); ``handled``: packets the handler ran on.
    Packets still buffered when the capture stopped are received but neither handled nor
    dropped.
    """

    received: int = 0
    dropped: int = 0
    interface_dropped: int = 0
    handled: int = 0

    def __add__(self, other: WorkerStats) -> WorkerStats:
        return WorkerStats(self.received + other.received, self.dropped + other.dropped,
                           self.interface_dropped + other.interface_dropped,
                           self.handled + other.handled)


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did: its index, process id, statistics, the handler's result, its file."""

    worker: int
    pid: int
    stats: WorkerStats
    result: Any = None
    output: Optional[str] = None


@dataclass(frozen=True)
class ParallelResult:
    """What ``capture_parallel`` (or ``ParallelCapture.stop()``) returns.

    ``workers``: one ``WorkerResult`` per worker, in worker order; ``interrupted``: whether
    Ctrl-C ended the capture; ``output``: the merged file, if one was written; ``group_id``:
    the fanout group used; ``stop_seconds``: from the stop request to the last worker's exit.
    """

    workers: tuple[WorkerResult, ...]
    interrupted: bool = False
    output: Optional[str] = None
    group_id: int = 0
    stop_seconds: Optional[float] = None

    @property
    def stats(self) -> WorkerStats:
        """The workers' statistics added up."""
        total = WorkerStats()
        for worker in self.workers:
            total = total + worker.stats
        return total

    @property
    def results(self) -> list[Any]:
        """The handler's result from each worker, in worker order."""
        return [worker.result for worker in self.workers]


# -- the worker process ----------------------------------------------------------------------
@dataclass(frozen=True)
class _WorkerSpec:
    """Everything a worker is told (plain data; the handler travels pickled)."""

    device: Optional[str]
    handler: bytes
    filter: str
    options: dict[str, int]
    group_id: int
    fanout: int
    netns: Optional[str]
    output: Optional[str]


def _worker_main(index: int, spec: _WorkerSpec, control: Connection, report: Connection) -> None:
    """A worker process: open, join, report ready, capture until told to stop, report, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent alone decides when to stop
    status = 1
    try:
        status = _serve(index, spec, control, report)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)  # no interpreter teardown: the stop is over as soon as this returns


def _serve(index: int, spec: _WorkerSpec, control: Connection, report: Connection) -> int:
    try:
        handler = _per_worker(pickle.loads(spec.handler))  # noqa: S301 - the parent's own
        reader = _open_member(spec)
    except BaseException as error:
        _send_failure(report, "failed", index, error)
        return 1
    try:
        with contextlib.ExitStack() as resources:
            resources.enter_context(reader)
            dumper = None
            if spec.output is not None:
                dumper = resources.enter_context(reader.dump_open(spec.output, format="pcapng"))
            stopping = threading.Event()
            baseline = reader.stats()
            watcher = threading.Thread(target=_watch, args=(control, reader, stopping),
                                       name="pcapy-worker-control", daemon=True)
            watcher.start()
            _stop_on_signals(reader, stopping)
            report.send(("ready", index, os.getpid()))
            handled = _capture(reader, _with_dump(handler, dumper), stopping)
            received, dropped, interface_dropped = _since(baseline, reader.stats())
            result = WorkerResult(
                index, os.getpid(), WorkerStats(received, dropped, interface_dropped, handled),
                _final_result(handler), spec.output,
            )
        report.send(("done", index, result))
    except BaseException as error:
        _send_failure(report, "error", index, error)
        return 1
    return 0


def _per_worker(handler: Any) -> Optional[Handler]:
    """A class is instantiated once per worker; a function or an instance is used as it came
    (an instance is already this worker's own copy, unpickled here)."""
    if isinstance(handler, type):
        return handler()  # type: ignore[no-any-return]
    return handler  # type: ignore[no-any-return]


def _final_result(handler: object) -> Any:
    result = getattr(handler, "result", None)
    return result() if callable(result) else None


def _open_member(spec: _WorkerSpec) -> Reader:
    """Open the device and join the group without receiving any packet twice (module doc)."""
    if spec.netns is not None:
        from ._libpcap._netns import join_netns  # noqa: PLC0415 - Linux workers in a netns only

        join_netns(spec.netns)
    reader = open_configured(spec.device, spec.options)
    try:
        reader.setfilter(BPFProgram.from_instructions(_REJECT_ALL, reader.datalink()))
        _discard_ready(reader)
        reader.set_fanout(spec.group_id, spec.fanout)
        reader.setfilter(spec.filter)
    except BaseException:
        reader.close()
        raise
    return reader


def _discard_ready(reader: Reader) -> None:
    reader.setnonblock(1)
    while reader.next()[0] is not None:
        pass
    reader.setnonblock(0)


def _watch(control: Connection, reader: Reader, stopping: threading.Event) -> None:
    """Wait for the parent's stop (or its end: the pipe closes) and break the capture."""
    with contextlib.suppress(EOFError, OSError):
        control.recv()
    _stop_capture(reader, stopping)


def _stop_capture(reader: Reader, stopping: threading.Event) -> None:
    stopping.set()
    with contextlib.suppress(ValueError):  # the reader was closed meanwhile
        reader.breakloop()


def _stop_on_signals(reader: Reader, stopping: threading.Event) -> None:
    """SIGTERM and SIGHUP stop the worker as the parent's stop does, results and all: a
    service manager or a closing terminal signals every process of the group, not only the
    parent (which will stop the others and collect this worker's report as usual)."""
    for name in ("SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), lambda *_: _stop_capture(reader, stopping))


def _with_dump(handler: Optional[Handler], dumper: Optional[Dumper]) -> Optional[Handler]:
    if dumper is None:
        return handler
    dump = dumper.dump
    if handler is None:
        return dump
    call = handler

    def dump_and_handle(hdr: Pkthdr, data: bytes) -> None:
        dump(hdr, data)
        call(hdr, data)

    return dump_and_handle


def _capture(reader: Reader, handler: Optional[Handler], stopping: threading.Event) -> int:
    """Run the handler on every packet until the stop, then on those already delivered;
    return how many it ran on."""
    handled = 0
    while not stopping.is_set():
        if handler is None:
            for _packet in reader:  # iteration ends at breakloop()
                handled += 1
        else:
            for hdr, data in reader:
                handler(hdr, data)
                handled += 1
    return handled + _drain(reader, handler or _ignore)


def _drain(reader: Reader, handler: Handler) -> int:
    """Handle what the kernel had handed over when the stop came (for at most ``DRAIN``
    seconds): so that, once the link is quiet, every packet received is handled or dropped."""
    reader.setnonblock(1)
    deadline = time.monotonic() + DRAIN
    handled = 0
    while time.monotonic() < deadline:
        count = reader.dispatch(DRAIN_BATCH, handler)
        if not count:
            break
        handled += count
    return handled


def _ignore(hdr: Pkthdr, data: bytes) -> None:
    """The handler of a worker that only counts."""


def _since(baseline: tuple[int, int, int], now: tuple[int, int, int]) -> tuple[int, int, int]:
    # libpcap's counters are 32-bit and wrap
    return tuple((after - before) % (1 << 32) for before, after in zip(baseline, now))  # type: ignore[return-value]


def _send_failure(report: Connection, kind: str, index: int, error: BaseException) -> None:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        report.send((kind, index, error, text))
    except Exception:
        with contextlib.suppress(OSError):
            report.send((kind, index, None, text))


# -- the parent ------------------------------------------------------------------------------
class _RemoteTraceback(Exception):  # noqa: N818 - its name heads the printed traceback
    """A worker's traceback, shown as the cause of the exception it raised."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class _Worker:
    index: int
    pid: int
    process: Any  # multiprocessing's SpawnProcess
    control: Connection
    report: Connection
    state: str = "starting"  # -> ready -> done | failed
    result: Optional[WorkerResult] = None
    reporting: bool = True  # until the report pipe says EOF
    exited: bool = False  # reaped
    closed: bool = False  # pipes and process object released


@dataclass
class _Failure:
    worker: int
    error: Optional[BaseException]
    text: str
    before_ready: bool


@dataclass
class _Outputs:
    """Where the workers write, and whether their files are ours to delete after the merge."""

    worker_paths: list[Optional[str]] = field(default_factory=list)
    merged: Optional[str] = None
    scratch: Optional[str] = None  # a directory of ours, removed afterwards


class ParallelCapture:
    """N worker processes capturing one device in one fanout group (see ``capture_parallel``).

    ``start()`` returns once every worker is ready; ``request_stop()`` (any thread, or a signal
    handler) asks them to stop; ``stop()`` stops them and returns the ``ParallelResult``;
    ``run(duration)`` does all three, stopping at Ctrl-C or after ``duration`` seconds.
    As a context manager, ``with`` starts it and stops it (if ``stop()`` was not called).
    """

    def __init__(
        self,
        device: Optional[str],
        *,
        handler: Any = None,
        workers: Optional[int] = None,
        filter: Optional[str] = None,
        snaplen: int = MAXIMUM_SNAPLEN,
        promisc: bool = False,
        buffer_size: Optional[int] = None,
        immediate: bool = False,
        fanout_mode: int = PACKET_FANOUT_HASH,
        fanout_flags: int = PACKET_FANOUT_FLAG_DEFRAG,
        group_id: Optional[int] = None,
        netns: Optional[str] = None,
        worker_files: Optional[str] = None,
        output: Optional[str] = None,
    ) -> None:
        if not sys.platform.startswith("linux"):
            raise PcapError("capture_parallel needs Linux (PACKET_FANOUT)")
        count = _worker_count(workers)
        self.group_id = _group_id(group_id)
        fanout = as_int("fanout_mode", fanout_mode) | as_int("fanout_flags", fanout_flags)
        self._outputs = _outputs(worker_files, output, count)
        self._specs = [
            _WorkerSpec(device, _pickled(handler), filter or "",
                        _options(snaplen, promisc, buffer_size, immediate), self.group_id, fanout,
                        netns, path)
            for path in self._outputs.worker_paths
        ]
        self._workers: list[_Worker] = []
        self._started = False  # every worker became ready
        self._failure: Optional[_Failure] = None
        self._send_lock = threading.Lock()
        self._stop_requested: Optional[float] = None
        self._last_exit: Optional[float] = None
        self._result: Optional[ParallelResult] = None

    # -- the public steps --------------------------------------------------------------------
    @property
    def pids(self) -> list[int]:
        """The worker processes' ids, in worker order (empty before ``start()``)."""
        return [worker.pid for worker in self._workers]

    def start(self) -> None:
        """Start the workers and wait until every one has joined the group (or raise)."""
        if self._workers:
            raise PcapError("this ParallelCapture was already started")
        context = get_context("spawn")
        with _sigint_ignored():  # inherited through exec: workers never see Ctrl-C
            for index, spec in enumerate(self._specs):
                self._workers.append(self._spawn(context, index, spec))
        try:
            deadline = time.monotonic() + START_TIMEOUT
            self._pump(self._all_ready, deadline)
            if self._failure is None and not self._all_ready():
                self._failure = _Failure(-1, None, "", before_ready=True)
        except BaseException:
            self._shut_down()
            raise
        if self._failure is not None:
            self._shut_down()
            self._raise_failure()
        self._started = True

    def request_stop(self) -> None:
        """Ask every worker to stop now; safe from any thread and from signal handlers."""
        with self._send_lock:
            if self._stop_requested is None:
                self._stop_requested = time.monotonic()
            for worker in self._workers:
                with contextlib.suppress(OSError, ValueError):
                    worker.control.send(_STOP)

    def stop(self, *, interrupted: bool = False) -> ParallelResult:
        """Stop the workers, wait for them (reaping every one), and return what they did.

        Raises ``WorkerError`` (its cause the worker's exception) if a worker failed.
        """
        if self._result is not None:
            return self._result
        self._shut_down()
        if self._failure is not None:
            self._remove_scratch()
            self._raise_failure()
        self._result = self._collect(interrupted)
        return self._result

    def run(self, duration: Optional[float] = None, *,
            ready: Optional[Callable[[], object]] = None) -> ParallelResult:
        """Start (unless started), call ``ready()`` once every worker listens, capture until
        Ctrl-C, ``duration`` seconds or ``request_stop()``, and stop.

        Ctrl-C at any moment after the start (in ``ready()`` too) stops the capture and
        returns, ``interrupted`` set; during the start it raises, every worker reaped.
        """
        interrupted = False
        try:
            if not self._workers:
                self.start()
            if ready is not None:
                ready()
            deadline = None if duration is None else time.monotonic() + duration
            self._pump(self._any_finished, deadline)
        except KeyboardInterrupt:
            if not self._started:
                raise  # start() has shut everything down
            interrupted = True
        except BaseException:
            self._shut_down()  # the workers never outlive a call that raises
            self._remove_scratch()
            raise
        return self.stop(interrupted=interrupted)

    def __enter__(self) -> ParallelCapture:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._result is None:
            if exc_info[0] is None:
                self.stop()
            else:
                self._shut_down()
                self._remove_scratch()

    # -- starting ----------------------------------------------------------------------------
    def _spawn(self, context: Any, index: int, spec: _WorkerSpec) -> _Worker:
        control_read, control_write = context.Pipe(duplex=False)
        report_read, report_write = context.Pipe(duplex=False)
        process = context.Process(target=_worker_main, name=f"pcapy-worker-{index}",
                                  args=(index, spec, control_read, report_write), daemon=True)
        try:
            process.start()
        finally:
            control_read.close()
            report_write.close()
        return _Worker(index, process.pid, process, control_write, report_read)

    # -- the message pump --------------------------------------------------------------------
    def _pump(self, done: Callable[[], bool], deadline: Optional[float], *,
              past_failure: bool = False) -> None:
        """Handle workers' messages and exits until ``done()``, a failure (unless
        ``past_failure``), or ``deadline``."""
        while not done() and (past_failure or self._failure is None):
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            waitables = self._waitables()
            if not waitables:
                return
            for ready in wait(waitables, timeout):
                self._on_ready(ready)

    def _waitables(self) -> list[Any]:
        waitables: list[Any] = []
        for worker in self._workers:
            if worker.reporting:
                waitables.append(worker.report)
            if not worker.exited:
                waitables.append(worker.process.sentinel)
        return waitables

    def _on_ready(self, ready: Any) -> None:
        for worker in self._workers:
            if ready is worker.report:
                self._read_reports(worker)
            elif ready == worker.process.sentinel and not worker.exited:
                self._on_exit(worker)

    def _read_reports(self, worker: _Worker) -> None:
        try:
            while worker.reporting and worker.report.poll():
                self._on_message(worker, worker.report.recv())
        except (EOFError, OSError):
            worker.reporting = False

    def _on_message(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.state = "ready"
        elif kind == "done":
            worker.state, worker.result = "done", message[2]
        else:  # "failed" (before ready) or "error"
            error, text = message[2], message[3]
            worker.state = "failed"
            if self._failure is None:
                self._failure = _Failure(worker.index, error, text, kind == "failed")

    def _on_exit(self, worker: _Worker) -> None:
        self._read_reports(worker)  # a report may be waiting behind the exit
        worker.process.join()
        worker.exited = True
        self._last_exit = time.monotonic()
        if worker.state not in ("done", "failed") and self._failure is None:
            code = worker.process.exitcode
            self._failure = _Failure(worker.index, None, f"worker {worker.index} exited with "
                                     f"code {code} without a result", worker.state == "starting")

    def _all_ready(self) -> bool:
        return all(worker.state == "ready" for worker in self._workers)

    def _any_finished(self) -> bool:
        return self._stop_requested is not None or any(
            worker.state != "ready" for worker in self._workers)

    def _all_exited(self) -> bool:
        return all(worker.exited for worker in self._workers)

    # -- stopping ----------------------------------------------------------------------------
    def _shut_down(self) -> None:
        """Stop every worker, wait ``GRACE`` for them, terminate the rest, reap all, close."""
        self.request_stop()
        try:
            self._pump(self._all_exited, time.monotonic() + GRACE, past_failure=True)
        finally:
            self._reap()

    def _reap(self) -> None:
        for worker in self._workers:
            process = worker.process
            if worker.closed:
                continue
            if not worker.exited:
                for end in (process.terminate, process.kill):
                    if process.exitcode is None:
                        end()
                        process.join(1.0)
                process.join()
                worker.exited = True
                self._last_exit = time.monotonic()
            worker.control.close()
            worker.report.close()
            process.close()
            worker.closed = True

    def _collect(self, interrupted: bool) -> ParallelResult:
        workers = tuple(worker.result for worker in self._workers if worker.result is not None)
        if self._outputs.scratch is not None:  # the workers' files are deleted below
            workers = tuple(dataclasses.replace(worker, output=None) for worker in workers)
        merged = None
        try:
            if self._outputs.merged is not None:
                merge_by_time([path for path in self._outputs.worker_paths if path],
                              self._outputs.merged)
                merged = self._outputs.merged
        finally:
            self._remove_scratch()
        stop_seconds = None
        if self._stop_requested is not None and self._last_exit is not None:
            stop_seconds = max(0.0, self._last_exit - self._stop_requested)
        return ParallelResult(workers, interrupted, merged, self.group_id, stop_seconds)

    def _remove_scratch(self) -> None:
        if self._outputs.scratch is not None:
            shutil.rmtree(self._outputs.scratch, ignore_errors=True)
            self._outputs.scratch = None

    def _raise_failure(self) -> None:
        failure = self._failure
        assert failure is not None
        error = failure.error
        if error is None:
            text = failure.text or "the workers did not become ready in time"
            raise WorkerError(text, failure.worker, failure.text)
        error.__cause__ = _RemoteTraceback(failure.text)
        if failure.before_ready and isinstance(error, PcapError):
            raise error  # opening the device or the filter failed: the error open_live raises
        raise WorkerError(f"worker {failure.worker} failed: {type(error).__name__}: {error}",
                          failure.worker, failure.text) from error


def capture_parallel(
    device: Optional[str],
    *,
    handler: Any = None,
    workers: Optional[int] = None,
    filter: Optional[str] = None,
    snaplen: int = MAXIMUM_SNAPLEN,
    promisc: bool = False,
    buffer_size: Optional[int] = None,
    immediate: bool = False,
    fanout_mode: int = PACKET_FANOUT_HASH,
    fanout_flags: int = PACKET_FANOUT_FLAG_DEFRAG,
    group_id: Optional[int] = None,
    netns: Optional[str] = None,
    worker_files: Optional[str] = None,
    output: Optional[str] = None,
    duration: Optional[float] = None,
) -> ParallelResult:
    """Capture ``device`` with ``workers`` processes in one fanout group until Ctrl-C,
    ``duration`` seconds, or a worker's failure; return each worker's result and statistics.

    ``handler(hdr, data)`` runs in the workers on every packet: a function, a class (one
    instance per worker, its ``result()`` the worker's result) or an instance (each worker gets
    its own copy). It must be importable (defined at the top level of a module). None: the
    workers only count (and write). ``filter`` is a BPF expression; ``fanout_mode`` and
    ``fanout_flags`` are ``PACKET_FANOUT_*`` values (flow hash, IP fragments reassembled first,
    by default); ``group_id`` defaults to a random one; ``immediate`` delivers each packet as it
    comes (libpcap then uses TPACKET_V2 rather than V3's blocks). ``netns`` names a network
    namespace (``ip netns``) the workers join before opening the device. ``worker_files``, a
    path with ``{worker}`` in it, keeps each worker's packets in a pcapng file; ``output``
    merges them into one pcapng file ordered by time stamp. Ctrl-C ends the capture and
    returns normally, with ``interrupted`` set. A worker's exception stops the others and is
    raised as ``WorkerError`` (an error opening the device as itself).
    """
    capture = ParallelCapture(
        device, handler=handler, workers=workers, filter=filter, snaplen=snaplen,
        promisc=promisc, buffer_size=buffer_size, immediate=immediate, fanout_mode=fanout_mode,
        fanout_flags=fanout_flags, group_id=group_id, netns=netns, worker_files=worker_files,
        output=output,
    )
    return capture.run(duration)


# -- argument checks -------------------------------------------------------------------------
def _worker_count(workers: Optional[int]) -> int:
    if workers is None:
        affinity = getattr(os, "sched_getaffinity", None)
        return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    count = as_int("workers", workers)
    if not 1 <= count <= 1024:
        raise ValueError(f"workers must be in 1..1024, got {count}")
    return count


def _group_id(group_id: Optional[int]) -> int:
    if group_id is None:
        return secrets.randbelow(0xFFFF) + 1
    group_id = as_int("group_id", group_id)
    if not 0 <= group_id <= 0xFFFF:
        raise ValueError(f"group_id must be in 0..65535, got {group_id}")
    return group_id


def _options(snaplen: int, promisc: bool, buffer_size: Optional[int],
             immediate: bool) -> dict[str, int]:
    options = {"snaplen": as_int("snaplen", snaplen), "promisc": int(bool(promisc))}
    if buffer_size is not None:
        options["buffer_size"] = as_int("buffer_size", buffer_size)
    if immediate:
        options["immediate_mode"] = 1
    return options


def _pickled(handler: Any) -> bytes:
    if handler is not None and not callable(handler):
        raise TypeError(f"handler must be callable, not {type(handler).__name__}")
    try:
        return pickle.dumps(handler)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise TypeError(
            f"handler {handler!r} cannot be sent to the worker processes ({error}): use a "
            "function or class defined at the top level of an importable module"
        ) from None


def _outputs(worker_files: Optional[str], output: Optional[str], count: int) -> _Outputs:
    outputs = _Outputs(merged=output)
    if worker_files is not None:
        if "{worker}" not in worker_files:
            raise ValueError(f"worker_files must contain '{{worker}}', got {worker_files!r}")
        outputs.worker_paths = [worker_files.format(worker=index) for index in range(count)]
    elif output is not None:
        folder = os.path.dirname(os.path.abspath(output)) if output != "-" else None
        outputs.scratch = tempfile.mkdtemp(prefix=".pcapy-workers-", dir=folder)
        outputs.worker_paths = [os.path.join(outputs.scratch, f"worker{index}.pcapng")
                                for index in range(count)]
    else:
        outputs.worker_paths = [None] * count
    return outputs


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while workers are started (they keep it ignored through exec)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # cannot touch signals here; the workers ignore SIGINT from their first line
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- merging ---------------------------------------------------------------------------------
def merge_by_time(inputs: Sequence[Union[str, os.PathLike[str]]], output: PathOrFile, *,
                  file_format: Optional[str] = "pcapng",
                  precision: Optional[str] = None) -> int:
    """Merge savefiles into one file ordered by time stamp; return the packet count.

    pcapng (the default) keeps the packets' interfaces: each input's interfaces become
    interfaces of the output, at nanosecond resolution unless ``precision`` says otherwise. A
    classic pcap output (``file_format="pcap"``) has one link type, the first input's, and
    microsecond time stamps unless ``precision="nano"``. ``file_format=None`` chooses as
    ``Dumper`` does (pcapng for a name ending in ``.pcapng``). Packets with equal time stamps
    keep the inputs' order.
    """
    if precision is None:
        precision = "nano" if file_format == "pcapng" else "micro"
    readers = [open_offline(os.fspath(path)) for path in inputs]
    try:
        first = readers[0] if readers else None
        dlt = first.datalink() if first is not None else DLT_EN10MB
        snaplen = first.snapshot() if first is not None else MAXIMUM_SNAPLEN
        count = 0
        with Dumper(output, dlt, snaplen, precision=precision, format=file_format) as dumper:
            for hdr, data in heapq.merge(*map(iter, readers), key=_time_stamp):
                dumper.dump(hdr, data)
                count += 1
        return count
    finally:
        for reader in readers:
            reader.close()


def _time_stamp(packet: tuple[Pkthdr, bytes]) -> int:
    return packet[0].ts_ns

