"""Live capture: ``open_live()``, ``create()`` and ``LiveCapture``, a Reader's libpcap engine.

``LiveCapture`` is the ``PacketSource`` a Reader reads packets from, and the object its live
methods (``set_*``, ``activate``, ``stats``, ``setdirection``, ``sendpacket`` ...) delegate to.
It owns one ``_libpcap._handle.Handle`` (the ``pcap_t``) and decides how to wait for packets.

Waiting. On Linux (TPACKET_V3) libpcap's read timeout only starts once a packet has arrived, so
a blocking ``pcap_next_ex`` on an idle link never returns, and Ctrl-C or ``breakloop()`` cannot
stop it. So the handle is put in non-blocking mode as soon as it is activated, and waiting is
done here, in slices of at most ``SLICE`` seconds:

- POSIX: ``SelectorWaiter`` polls the selectable descriptor together with the read end of a
  self-pipe; ``breakloop()`` writes to the pipe, so a waiting thread wakes at once.
- Windows (``spec.has_selectable_fd`` is false): ``_handle.EventWaiter`` waits on Npcap's
  event with ``WaitForSingleObject``; ``breakloop()`` signals that event.
- A handle with neither (a device without a selectable descriptor): ``SleepWaiter`` waits on a
  ``threading.Event``, which ``breakloop()`` sets.

Between slices the reading thread runs Python again, so a KeyboardInterrupt raised by the
SIGINT handler surfaces within one slice even when the signal was delivered to another thread
(when the main thread is the one waiting, poll() is interrupted and it surfaces at once). Every
wait releases the GIL (poll, WaitForSingleObject and cffi calls all do), so other threads run
while a capture waits. After each slice libpcap is asked again whether a packet is ready, even
if the descriptor stayed quiet, which also honours ``pcap_get_required_select_timeout``.

What each read does with the wait:

- ``next()`` waits until a packet comes or ``to_ms`` passes (``to_ms <= 0``: no limit), then
  returns ``(None, b'')``, as pcapy's manual promises; ``breakloop()`` makes it return that now.
- ``dispatch(cnt)`` waits the same way for the first packet, then takes what libpcap has ready,
  up to ``cnt`` (all for ``cnt <= 0``), without waiting again.
- ``loop(cnt)`` and iteration never time out; they end at ``breakloop()`` (or ``close()``).
- After ``setnonblock(1)``, ``next()`` and ``dispatch()`` never wait.

Reading packets: chosen once per handle, when it is activated (``_packet_readers``), by what
the handle can do. Where libpcap can dump to memory, packets come a batch at a time: one
``pcap_dispatch`` hands over what the ring holds to ``pcap_dump`` writing into memory, and the
classic pcap engine parses the records (``pcapy._live_batch``): no callback into Python, a few
hundred nanoseconds a packet where ``pcap_next_ex``'s FFI crossings cost 1.5 to 2 us, and
packets taken but not yet delivered wait for the next read, so a callback's exception or a
``breakloop()`` loses none. Elsewhere, ``pcap_next_ex`` one packet per call (``_handle``).
Neither uses an ``ffi.callback``: ABI-mode callbacks need libffi closures (memory both writable
and executable, which some hardened systems refuse), and cffi swallows a KeyboardInterrupt
raised inside one unless it is caught and re-raised by hand. docs/performance.md has the live
figures.

Closing. ``close()`` from another thread while a capture waits or reads does not free the
``pcap_t`` under it: it stops the capture (as ``breakloop()`` does) and the reading thread
closes the handle as it returns. A Reader's iterator that is kept but no longer advanced keeps
the handle open until it is dropped.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Generator, Iterator
from typing import Callable, Optional, Protocol, Union

from ._args import as_c_int as _as_c_int
from ._bpf import BPFProgram
from ._constants import Status, TstampPrecision, datalink_name
from ._errors import BPFError, CaptureError, HandleStateError, PcapError, PcapWarning
from ._libpcap import Handle, PacketDrain, PacketReader, lookup_net
from ._live_batch import batch_readers
from ._pkthdr import Packet, Pkthdr
from ._reader import Reader
from ._source import TIMEOUT, AfterEnd, LinkTypeCompiler, NextPacket, SavefileFacts, pack_batch

#: pcapy's words for a call that needs an activated handle (pcap_statustostr's are close).
NOT_ACTIVATED = "This handle hasn't been activated yet"
#: The longest single wait, in seconds: the bound on how late Ctrl-C or a closed handle is seen.
SLICE = 0.05
#: libpcap's buffer timeout (ms) when the read timeout is 0 ("none"). libpcap 1.10 on Linux
#: then holds packets in the kernel ring until a whole block fills (1.9 and earlier used the
#: kernel's default of about 8 ms); BPF without a timeout waits for a full buffer too. Since
#: pcapy waits itself, the read timeout stays unlimited; this only bounds delivery latency.
NO_TIMEOUT_BUFFER_MS = 10
#: How many ready packets a loop takes between two looks at ``break_requested`` (a Reader's
#: ``loop()`` also looks after every packet; this bounds a plain iteration under a flood).
DRAIN_BATCH = 256
#: Take live packets a batch per ``pcap_dispatch`` (``pcapy._live_batch``) rather than one
#: How long ``sendpacket`` keeps retrying while the kernel's send buffer is full.
SEND_PATIENCE = 2.0

BytesLike = Union[bytes, bytearray, memoryview]


class Waiter(Protocol):
    """Blocks the calling thread until packets may be ready, a slice ends, or ``wake()``."""

    def wait(self, seconds: float) -> None: ...

    def wake(self) -> None: ...

    def close(self) -> None: ...


class SelectorWaiter:
    """Polls a capture descriptor and a self-pipe; ``wake()`` writes to the pipe."""

    def __init__(self, fd: int) -> None:
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        # macOS's poll() does not work on BPF devices; select() does.
        use_select = sys.platform == "darwin" or not hasattr(select, "poll")
        self._selector = selectors.SelectSelector() if use_select else selectors.PollSelector()
        self._selector.register(fd, selectors.EVENT_READ)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._closed = False
        self._release = weakref.finalize(
            self, _close_waiter, self._selector, (self._wake_read, self._wake_write)
        )

    def wait(self, seconds: float) -> None:
        """Return when the descriptor is readable, ``wake()`` is called, or ``seconds`` pass."""
        for key, _events in self._selector.select(seconds):
            if key.fd == self._wake_read:
                self._drain_pipe()

    def _drain_pipe(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_read, 512):
                pass

    def wake(self) -> None:
        """Make a ``wait()`` in any thread return now (or the next one, if none is running)."""
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError):  # a full pipe: a wake-up is pending
                os.write(self._wake_write, b"\x00")

    def close(self) -> None:
        """Close the pipe and the selector; later ``wake()`` calls do nothing."""
        with self._lock:
            self._closed = True
            self._release()


def _close_waiter(selector: selectors.BaseSelector, fds: tuple[int, int]) -> None:
    selector.close()
    for fd in fds:
        os.close(fd)


class SleepWaiter:
    """Waits on a ``threading.Event`` in slices: for handles with nothing to poll."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, seconds: float) -> None:
        """Return when ``wake()`` is called or ``seconds`` pass."""
        if self._event.wait(seconds):
            self._event.clear()

    def wake(self) -> None:
        """Make a ``wait()`` in any thread return now."""
        self._event.set()

    def close(self) -> None:
        """Nothing to release."""


def _make_waiter(handle: Handle) -> Waiter:
    if handle.platform_has_selectable_fd:
        fd = handle.selectable_fd()
        if fd >= 0:
            return SelectorWaiter(fd)
    else:
        waiter = handle.event_waiter()
        if waiter is not None:
            return waiter
    return SleepWaiter()


class _Unactivated:
    """What ``next()`` reads before ``activate()``: an iterator that refuses."""

    def __iter__(self) -> _Unactivated:
        return self

    def __next__(self) -> NextPacket:
        raise HandleStateError(NOT_ACTIVATED)


_UNACTIVATED = _Unactivated()
_NEVER = object()  # iter()'s sentinel: next_packet() never returns it


def _packet_readers(
    handle: Handle, precision: TstampPrecision, dlt: int
) -> tuple[PacketReader, PacketDrain]:
    """The handle's read path, chosen once, when it is activated, by what it can do: batches
    per ``pcap_dispatch`` (``pcapy._live_batch``) where it can dump to memory and libpcap does
    not rewrite its link type's records, else one ``pcap_next_ex`` per packet."""
    batched = batch_readers(handle, dlt, DRAIN_BATCH)
    if batched is None:
        return handle.packet_readers(precision)
    return batched.read_packet, batched.drain


def _unactivated_reader() -> Optional[Packet]:
    raise HandleStateError(NOT_ACTIVATED)


def _unactivated_drain(_limit: int) -> Generator[Packet, None, bool]:
    raise HandleStateError(NOT_ACTIVATED)


class LiveCapture:
    """A live capture on one device: the Reader's ``PacketSource`` and its live methods."""

    def __init__(self, device: Optional[str]) -> None:
        self.device = device
        self._handle = Handle(device)
        self.network, self.netmask = lookup_net(device)
        self.activated = False
        self.break_requested = False
        self._read_packet: PacketReader = _unactivated_reader
        self._drain: PacketDrain = _unactivated_drain
        self._waiter: Waiter = SleepWaiter()
        self._timeout = 0.0  # seconds; 0: no read timeout, libpcap's default
        self._nonblock = False
        self._dlt = self._snapshot = 0
        self._precision = TstampPrecision.MICRO
        self._failed_activation: Optional[int] = None
        self._activation_message = ""
        self._filter_linktype: Optional[int] = None  # the link type of the filter in force
        self._fanout: Optional[tuple[int, int]] = None  # set_fanout() before activation
        self._readers = 0  # threads inside a read (a loop counts until it returns)
        self._closed = False
        # Called (from any thread) by breakloop() and close(): how an asyncio wait, which is
        # no read in progress, learns that it must end (see _aio).
        self._wakeups: set[Callable[[], object]] = set()
        self._failure: Optional[CaptureError] = None  # the interface went down: every read
        self._next_interface_check = 0.0  # (monotonic) while waiting, see _check_interface
        self._set_timeout(0)

    # -- configuration and activation ------------------------------------------------------
    def set_option(self, name: str, value: int) -> int:
        """Set an option before activation; return libpcap's status (-4 once activated)."""
        if name == "timeout":
            return self._set_timeout(value)
        return self._handle.set_option(name, value)

    def _set_timeout(self, to_ms: int) -> int:
        # The read timeout is pcapy's to keep (the handle never blocks); libpcap's is the time
        # the kernel may hold packets to deliver them in batches, which "no timeout" must not
        # make infinite (see NO_TIMEOUT_BUFFER_MS).
        status = self._handle.set_option("timeout", to_ms if to_ms > 0 else NO_TIMEOUT_BUFFER_MS)
        if status == 0:
            self._timeout = max(to_ms, 0) / 1000
        return status

    def activate(self) -> int:
        """Activate; warnings are issued as PcapWarning and returned, errors returned (< 0)."""
        status = self._activate_once()
        if status >= 0:
            self._start(status)
        return status

    def activate_or_raise(self) -> None:
        """Activate; raise the exception for an error status, with libpcap's message."""
        status = self._activate_once()
        if status < 0:
            raise self._handle.activation_error(status)
        self._start(status)

    def _activate_once(self) -> int:
        # libpcap frees part of a handle whose activation failed: activating it again crashes
        # (1.10.3: a segmentation fault), and pcap_activate(3PCAP) says to close such a handle.
        if self._failed_activation is not None:
            raise HandleStateError(
                f"activation of {self.device} already failed (status "
                f"{self._failed_activation}); close this handle and create() a new one"
            )
        status = self._handle.activate()
        if status < 0 and status != Status.ERROR_ACTIVATED:
            self._failed_activation = status
            # worded now, while libpcap's error buffer still holds the reason
            self._activation_message = str(self._handle.activation_error(status))
        return status

    def geterr(self) -> str:
        """Why activation failed (as ``open_live`` words it), else ``pcap_geterr``'s text."""
        if self._failed_activation is not None:
            return self._activation_message
        return self._handle.geterr()

    def _start(self, status: int) -> None:
        handle = self._handle
        handle.set_nonblocking(True)
        self._precision = handle.precision()
        self._dlt = handle.datalink()
        self._snapshot = handle.snapshot()
        self._waiter = _make_waiter(handle)
        self._read_packet, self._drain = _packet_readers(handle, self._precision, self._dlt)
        self.activated = True
        if self._fanout is not None:
            handle.join_fanout(*self._fanout)
        if status > 0:
            # stacklevel: user -> Reader.activate or open_live -> activate* -> _start
            warnings.warn(handle.warning_message(status), PcapWarning, stacklevel=4)

    def _require_activated(self) -> None:
        if not self.activated:
            raise HandleStateError(NOT_ACTIVATED)

    # -- facts (PacketSource) --------------------------------------------------------------
    @property
    def dlt(self) -> int:
        """The link type; PCAP_ERROR_NOT_ACTIVATED (-3) before activation, as in pcapy."""
        return self._dlt if self.activated else self._handle.datalink()

    @property
    def snapshot(self) -> int:
        """The snapshot length in force (known once the handle is activated)."""
        self._require_activated()
        return self._snapshot

    @property
    def precision(self) -> TstampPrecision:
        """The time-stamp precision: asked for before activation, in force after."""
        return self._precision if self.activated else self._handle.precision()

    def fileno(self) -> int:
        """The descriptor to select()/poll() on (pcap_get_selectable_fd), or -1."""
        if not self.activated:
            return -1
        with self._in_use() as handle:
            return handle.selectable_fd()

    # -- reading (PacketSource) ------------------------------------------------------------
    @property
    def packets(self) -> Iterator[NextPacket]:
        """What ``next()`` reads: an iterator calling ``next_packet()``.

        It holds no state, so a new one serves as well as the last; it is not kept on the
        capture, so the capture holds no reference to itself and is freed (closing its handle)
        as soon as its last user lets go of it.
        """
        if not self.activated:
            return _UNACTIVATED
        return iter(self.next_packet, _NEVER)

    def next_runs(self) -> Iterator[Iterator[NextPacket]]:
        """What ``next()`` reads: ``packets``, which ends only at ``close()``."""
        return iter((self.packets, AfterEnd(self)))

    def next_packet(self) -> NextPacket:
        """The next packet, waiting at most the read timeout; ``TIMEOUT`` if none came."""
        self._readers += 1
        try:
            if self._closed:
                return TIMEOUT
            self._raise_failure()
            packet = self._read_packet()
            if packet is None:
                packet = self._wait_for_packet()
            return TIMEOUT if packet is None else packet
        finally:
            self._leave()

    #: What a savefile source says about its file; a live capture has none.
    file_format: Optional[str] = None
    file_header: Optional[SavefileFacts] = None

    @property
    def failure(self) -> Optional[PcapError]:
        """A capture error is raised by the read it happens in, not kept: always None."""
        return None

    def run_callbacks(self, cnt: int, callback: Callable[[Pkthdr, bytes], object], *,
                      dispatch: bool) -> int:
        """``dispatch()``: up to ``cnt`` packets of one bufferful; ``loop()``: ``cnt`` packets
        (``cnt <= 0``: until ``breakloop()``). Returns how many were delivered."""
        packets = self.dispatch_packets(cnt) if dispatch else self.loop_packets()
        count = 0
        for hdr, data in packets:
            count += 1
            callback(hdr, data)
            if count == cnt or self.break_requested:
                break
        return count

    def next_batch(self, max_packets: int) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` packets of one bufferful, in pcapy-ng's batch layout."""
        return pack_batch(self.dispatch_packets(max_packets), max_packets)

    def loop_packets(self) -> Iterator[Packet]:
        """Packets as they come, never timing out, until ``breakloop()`` or ``close()``."""
        self._require_activated()
        return self._loop()

    def _loop(self) -> Iterator[Packet]:
        drain = self._drain
        self._readers += 1
        try:
            while not (self.break_requested or self._closed):
                self._raise_failure()
                more_ready = yield from drain(DRAIN_BATCH)
                if not more_ready:
                    self._wait_slice(None)
        finally:
            self._end_read()

    def dispatch_packets(self, cnt: int) -> Iterator[Packet]:
        """Wait for a first packet as ``next()`` does, then up to ``cnt`` that are ready."""
        self._require_activated()
        return self._dispatch(cnt)

    def _dispatch(self, cnt: int) -> Iterator[Packet]:
        self._readers += 1
        try:
            if self._closed:
                return
            self._raise_failure()
            packet = self._read_packet()
            if packet is None:
                packet = self._wait_for_packet()
            if packet is None:
                self._check_interface()  # (non-blocking reads wait elsewhere: asyncio)
                return
            yield packet
            if cnt != 1 and not (self.break_requested or self._closed):
                yield from self._drain(min(cnt - 1, sys.maxsize) if cnt > 0 else sys.maxsize)
        finally:
            self._end_read()

    def _end_read(self) -> None:
        self.break_requested = False  # a loop that ends consumes the break, as in libpcap
        self._leave()

    def _wait_for_packet(self) -> Optional[Packet]:
        """Wait in slices for a packet until the read timeout; None on timeout or break."""
        if self._nonblock:
            return None
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            if self.break_requested or self._closed:
                self.break_requested = False
                return None
            if not self._wait_slice(deadline):
                return None
            packet = self._read_packet()
            if packet is not None:
                return packet

    def _wait_slice(self, deadline: Optional[float]) -> bool:
        """Wait one slice (shorter near ``deadline``); False if the deadline has passed."""
        seconds = SLICE
        required = self._handle.required_select_timeout()
        if required is not None:
            seconds = min(seconds, required)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            seconds = min(seconds, remaining)
        self._waiter.wait(seconds)
        self._check_interface()
        return True

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise CaptureError(str(self._failure), Status.ERROR)

    def _check_interface(self) -> None:
        """While waiting, at most every INTERFACE_CHECK seconds: is the device still up?

        Linux's packet socket reports a device taken down once (``ENETDOWN``), which libpcap's
        non-blocking read takes and keeps quiet about, waiting for the device to come back up;
        libpcap's blocking read and pcapy-ng raise "The interface went down", and so does this,
        on this read and every later one.
        """
        now = time.monotonic()
        if now < self._next_interface_check or self.device is None:
            return
        self._next_interface_check = now + INTERFACE_CHECK
        if not _interface_is_up(self._handle.selectable_fd(), self.device):
            self._failure = CaptureError("The interface went down", Status.ERROR)
            self._raise_failure()

    def install_filter(
        self, program: BPFProgram, compile_for_link: Optional[LinkTypeCompiler] = None
    ) -> None:
        """Filter in the kernel (or libpcap) from now on; the program must fit the link type
        (a capture has one: ``compile_for_link`` is not needed)."""
        self._require_activated()
        if program.linktype != self._dlt:
            raise BPFError(
                f"the filter was compiled for link type {datalink_name(program.linktype)}, "
                f"but {self.device} captures {datalink_name(self._dlt)}"
            )
        with self._in_use() as handle:
            handle.set_filter(list(program.instructions))
        self._filter_linktype = program.linktype

    def breakloop(self) -> None:
        """Stop a ``loop()``, ``dispatch()``, ``next()`` or iteration (``for``, ``async for``)
        running in any thread, at once."""
        self.break_requested = True
        self._handle.breakloop()
        self._waiter.wake()
        self._notify_wakeups()

    @property
    def closing(self) -> bool:
        """Whether ``close()`` was called (the handle itself may still be in use by a read)."""
        return self._closed

    def add_wakeup(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` (from whatever thread calls them) on ``breakloop()``/``close()``."""
        self._wakeups.add(callback)

    def remove_wakeup(self, callback: Callable[[], object]) -> None:
        self._wakeups.discard(callback)

    def _notify_wakeups(self) -> None:
        for callback in list(self._wakeups):
            callback()

    # -- live methods ----------------------------------------------------------------------
    def stats(self) -> tuple[int, int, int]:
        """``(received, dropped, dropped by the interface)`` since activation."""
        self._require_activated()
        with self._in_use() as handle:
            return handle.stats()

    def getnonblock(self) -> int:
        """1 if ``setnonblock(1)`` is in force, else 0."""
        return int(self._nonblock)

    def setnonblock(self, state: int) -> None:
        """Make ``next()`` and ``dispatch()`` return at once when no packet is ready."""
        self._nonblock = bool(state)

    def setdirection(self, direction: int) -> None:
        """Keep only packets received (PCAP_D_IN), sent (PCAP_D_OUT), or both (PCAP_D_INOUT)."""
        self._require_activated()
        with self._in_use() as handle:
            handle.setdirection(direction)

    def list_datalinks(self) -> list[int]:
        """The link types the device can capture with (``pcap_list_datalinks``)."""
        self._require_activated()
        with self._in_use() as handle:
            return handle.list_datalinks()

    def set_datalink(self, dlt: int) -> None:
        """Capture with link type ``dlt`` from now on (``pcap_set_datalink``).

        Activation is checked here: before it libpcap has no list of types to check against
        and answers with a misleading "not one of the DLTs supported". The cached type is read
        back from libpcap, so ``datalink()``, ``dump_open()`` and filters compiled from now on
        use the new one. A filter installed before was compiled for the old link-layer header
        and no longer matches what it should (on "any", LINUX_SLL to LINUX_SLL2: nothing at
        all), and libpcap leaves it in force: a PcapWarning says to install it again.
        """
        self._require_activated()
        with self._in_use() as handle:
            handle.set_datalink(dlt)
            self._dlt = handle.datalink()
        stale = self._filter_linktype
        if stale is not None and stale != self._dlt:
            warnings.warn(
                f"the filter in force on {self.device} was compiled for link type "
                f"{datalink_name(stale)}, not {datalink_name(self._dlt)}: call setfilter() again",
                PcapWarning, stacklevel=3,
            )

    def set_fanout(self, group_id: int, mode_and_flags: int) -> None:
        """Join a ``PACKET_FANOUT`` group now, or as soon as ``activate()`` has made the socket."""
        if not self.activated:
            if self._fanout is not None:  # as the kernel answers a second join
                raise CaptureError(f"{self.device}: the handle is already to join fanout group "
                                   f"{self._fanout[0]} as it is activated", Status.ERROR)
            self._fanout = (group_id, mode_and_flags)
            return
        with self._in_use() as handle:
            handle.join_fanout(group_id, mode_and_flags)

    def sendpacket(self, data: BytesLike) -> None:
        """Send a raw frame; wait (bounded) while the send buffer is full, unless non-blocking."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"a bytes-like object is required, not {type(data).__name__}")
        self._require_activated()
        if not memoryview(data).nbytes:
            # libpcap refuses too, but appends a stale errno's text to its message
            raise CaptureError(f"{self.device}: cannot send an empty packet", Status.ERROR)
        with self._in_use() as handle:
            self._send(handle, data)

    def _send(self, handle: Handle, data: BytesLike) -> None:
        deadline = time.monotonic() + SEND_PATIENCE
        while not handle.sendpacket(data):
            if self._nonblock or self._closed or time.monotonic() > deadline:
                raise handle.send_error()
            fd = handle.selectable_fd()
            if fd >= 0:
                select.select([], [fd], [], SLICE)
            else:
                time.sleep(SLICE)

    # -- lifetime --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _in_use(self) -> Iterator[Handle]:
        """The handle, kept open to the end of the block even if another thread closes it.

        Reads do the same inline (``_readers``), as this costs a few hundred nanoseconds.
        """
        self._readers += 1
        try:
            if self._closed:
                raise ValueError("pcap is closed")
            yield self._handle
        finally:
            self._leave()

    def _leave(self) -> None:
        self._readers -= 1
        if self._closed:
            self._release()

    def close(self) -> None:
        """Close now, or, if another thread is reading, stop it and let it close on return."""
        if self._closed:
            return
        self._closed = True
        if self._readers:
            self.breakloop()
        else:
            self._notify_wakeups()
            self._release()

    def _release(self) -> None:
        self._waiter.close()
        self._handle.close()


INTERFACE_CHECK = 0.05  # seconds between two looks at the device's IFF_UP while waiting
_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1


def _interface_is_up(fd: int, device: str) -> bool:
    """Whether ``device`` is up, asked through the capture's own socket (so in its network
    namespace); True wherever that cannot be asked (not Linux, a device that is gone: libpcap
    reports that one itself)."""
    if fd < 0 or not sys.platform.startswith("linux"):
        return True
    import fcntl  # noqa: PLC0415 - POSIX only
    import struct  # noqa: PLC0415

    request = struct.pack("16sH14x", device.encode("utf-8", "surrogateescape")[:15], 0)
    try:
        answer = fcntl.ioctl(fd, _SIOCGIFFLAGS, request)
    except OSError:
        return True
    flags = struct.unpack_from("H", answer, 16)[0]
    return bool(flags & _IFF_UP)


def _device_name(device: object) -> Optional[str]:
    if device is None:
        return None  # libpcap's "any" device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str, not {type(device).__name__}")
    if "\x00" in device:
        raise ValueError("device name must not contain NUL characters")
    try:
        device.encode("utf-8")  # what libpcap is handed
    except UnicodeEncodeError:
        raise ValueError(f"device name {device!r} cannot be encoded as UTF-8") from None
    return device


def open_live(device: str, snaplen: int, promisc: int, to_ms: int) -> Reader:
    """Open a network device for capturing (``to_ms``: the read timeout in milliseconds).

    Raises NoSuchDeviceError, CapturePermissionError or another CaptureError (all PcapErrors)
    with libpcap's message when the device cannot be opened.
    """
    options = {
        "snaplen": _as_c_int("snaplen", snaplen),
        "promisc": _as_c_int("promisc", promisc),
        "timeout": _as_c_int("to_ms", to_ms),
    }
    capture = _configured(device, options)
    try:
        capture.activate_or_raise()
    except BaseException:
        capture.close()
        raise
    return Reader(capture, live=capture)


def open_configured(device: Optional[str], options: dict[str, int]) -> Reader:
    """``open_live`` with any of the options ``set_option`` takes (``buffer_size`` ...).

    ``device`` None is libpcap's "any". Raises as ``open_live`` does.
    """
    capture = _configured(device, options)
    try:
        capture.activate_or_raise()
    except BaseException:
        capture.close()
        raise
    return Reader(capture, live=capture)


def _configured(device: Optional[str], options: dict[str, int]) -> LiveCapture:
    capture = LiveCapture(_device_name(device))
    for name, value in options.items():
        capture.set_option(name, value)  # cannot fail on a handle not yet activated
    return capture


def create(device: str) -> Reader:
    """A capture handle to configure with the ``set_*`` methods, then ``activate()``.

    A device that does not exist is only reported by ``activate()`` (PCAP_ERROR_NO_SUCH_DEVICE).
    """
    capture = LiveCapture(_device_name(device))
    return Reader(capture, live=capture)
