"""The live capture handle: one libpcap ``pcap_t``, from ``pcap_create`` to ``pcap_close``.

``Handle`` is the only object that holds a ``pcap_t``. Every libpcap status is checked right
beside the call that returned it (``_status.check``), and ``pcap_geterr`` is read while the
handle is still open. The ``pcap_t`` is wrapped with ``ffi.gc``, so a handle that is garbage
collected without ``close()`` is still closed; ``close()`` releases it at once and is idempotent.

Reading is the hot path: ``packet_readers()`` returns ``read_packet()``, which takes the next
packet the kernel has already handed over (or returns ``None``), and ``drain(limit)``, a
generator taking up to ``limit`` of them. The handle is in non-blocking mode once activated
(``set_nonblocking``), so neither ever waits; the caller (``pcapy._live``) waits on the
selectable descriptor instead, in short interruptible slices. Both keep everything they touch
in local variables: ``pcap_next_ex``, its two out-parameters (allocated once), ``ffi.buffer``,
and a ``struct.Struct`` built from cffi's own layout of ``struct pcap_pkthdr``, which turns the
header into the ``(sec, fraction, caplen, len)`` tuple a ``Pkthdr`` is made of in one C call.
Packet bytes are copied out (``ffi.buffer(...)[:]``) before libpcap is called again, because
libpcap reuses the memory they point to.

Windows has no selectable descriptor: ``EventWaiter`` waits on the event Npcap signals when
packets arrive (``pcap_getevent``) with ``WaitForSingleObject`` in slices; ``SetEvent`` wakes it.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
import threading
from collections.abc import Generator
from itertools import repeat
from typing import Any, Callable, Optional

from .._constants import Status, TstampPrecision
from .._errors import CaptureError, HandleStateError, PcapError
from .._pkthdr import NanoPkthdr, Packet, Pkthdr, header_builder
from . import _status
from ._cdef import PCAP_ERRBUF_SIZE
from ._filters import Instruction, set_handle_filter
from ._loader import Libpcap, load
from ._memdump import MemoryDump

#: One packet as the readers below return it.
PacketReader = Callable[[], Optional[Packet]]
PacketDrain = Callable[[int], Generator[Packet, None, bool]]

# Options set before activation: the name Reader uses, and libpcap's setter.
_SETTERS = {
    "snaplen": "pcap_set_snaplen",
    "promisc": "pcap_set_promisc",
    "timeout": "pcap_set_timeout",
    "buffer_size": "pcap_set_buffer_size",
    "rfmon": "pcap_set_rfmon",
    "immediate_mode": "pcap_set_immediate_mode",
    "tstamp_precision": "pcap_set_tstamp_precision",
    "tstamp_type": "pcap_set_tstamp_type",
}

# pcap_open_live adds pcap_statustostr's words to pcap_geterr's for these statuses.
_STATUSES_WITH_DETAIL = (
    Status.ERROR_NO_SUCH_DEVICE,
    Status.ERROR_PERM_DENIED,
    Status.ERROR_PROMISC_PERM_DENIED,
)


class Handle:
    """A ``pcap_t`` created for a device, configured, activated, read and finally closed."""

    def __init__(self, device: Optional[str]) -> None:
        libpcap = load()
        ffi, lib = libpcap.ffi, libpcap.lib
        self._libpcap = libpcap
        self.device = device
        errbuf = ffi.new("char[]", PCAP_ERRBUF_SIZE)
        name = ffi.NULL if device is None else device.encode("utf-8")
        pcap = lib.pcap_create(name, errbuf)
        if pcap == ffi.NULL:
            raise CaptureError(f"{device}: {_status.errbuf_message(ffi, errbuf)}")
        self._pcap: Any = ffi.gc(pcap, lib.pcap_close)
        self._close_lock = threading.Lock()
        self.closed = False
        self._memory_dump: Optional[MemoryDump] = None

    # -- configuration (before activation) -------------------------------------------------
    def set_option(self, name: str, value: int) -> int:
        """Call libpcap's ``pcap_set_<name>``; return its status (PCAP_ERROR_ACTIVATED after)."""
        function = _SETTERS[name]
        if function in _OPTIONAL_SETTERS and not self._libpcap.has(function):
            raise CaptureError(f"{function} is not available in {self._libpcap.version}")
        return int(getattr(self._libpcap.lib, function)(self._pcap, value))

    def activate(self) -> int:
        """``pcap_activate``: 0, a warning (> 0) or an error (< 0); the handle stays usable."""
        return int(self._libpcap.lib.pcap_activate(self._pcap))

    def activation_error(self, status: int) -> PcapError:
        """The exception for a failed activation, worded as ``pcap_open_live`` words it."""
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        exception = _status.error_for_status(ffi, lib, status, self._pcap)
        detail = _status.handle_error(ffi, lib, self._pcap)
        words = _status.status_text(ffi, lib, status)
        if status == Status.ERROR and detail:
            message = f"{self.device}: {detail}"
        elif status in _STATUSES_WITH_DETAIL and detail:
            message = f"{self.device}: {words} ({detail})"
        else:
            message = f"{self.device}: {words}"
        if isinstance(exception, PermissionError):
            message = f"{message} ({_status.PRIVILEGE_HINT})"
        return type(exception)(message, status)

    def geterr(self) -> str:
        """``pcap_geterr``: libpcap's message for the last error on this handle ('' if none)."""
        return _status.handle_error(self._libpcap.ffi, self._libpcap.lib, self._pcap)

    def warning_message(self, status: int) -> str:
        """The text of a ``pcap_activate`` warning: libpcap's words and its detail, if any."""
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        words = _status.status_text(ffi, lib, status)
        detail = _status.handle_error(ffi, lib, self._pcap)
        return f"{self.device}: {words}: {detail}" if detail else f"{self.device}: {words}"

    # -- facts about the activated handle --------------------------------------------------
    def datalink(self) -> int:
        """``pcap_datalink``: the link type (PCAP_ERROR_NOT_ACTIVATED before activation)."""
        return int(self._libpcap.lib.pcap_datalink(self._pcap))

    def snapshot(self) -> int:
        """``pcap_snapshot``, checked: the snapshot length in force."""
        return self._check(self._libpcap.lib.pcap_snapshot(self._pcap))

    def precision(self) -> TstampPrecision:
        """The time-stamp precision asked for (before activation) or in force (after)."""
        if not self._libpcap.has("pcap_get_tstamp_precision"):
            return TstampPrecision.MICRO
        value = self._libpcap.lib.pcap_get_tstamp_precision(self._pcap)
        return TstampPrecision(self._check(value))

    @property
    def platform_has_selectable_fd(self) -> bool:
        """Whether this system's libpcap gives descriptors to poll (not on Windows)."""
        return self._libpcap.spec.has_selectable_fd

    def selectable_fd(self) -> int:
        """``pcap_get_selectable_fd``: a descriptor to poll for packets, or -1."""
        if not self.platform_has_selectable_fd:
            return -1
        return int(self._libpcap.lib.pcap_get_selectable_fd(self._pcap))

    def required_select_timeout(self) -> Optional[float]:
        """Seconds after which libpcap must be called even if the descriptor stays quiet."""
        if not self._libpcap.has("pcap_get_required_select_timeout"):
            return None
        timeout = self._libpcap.lib.pcap_get_required_select_timeout(self._pcap)
        if timeout == self._libpcap.ffi.NULL:
            return None
        return float(timeout.tv_sec + timeout.tv_usec / 1e6)

    def event_waiter(self) -> Optional[EventWaiter]:
        """A waiter on the event Npcap signals when packets arrive (Windows), or None."""
        if not self._libpcap.has("pcap_getevent"):
            return None
        event = self._libpcap.lib.pcap_getevent(self._pcap)
        if event == self._libpcap.ffi.NULL:
            return None
        return EventWaiter(self._libpcap, event)

    # -- operations on the activated handle ------------------------------------------------
    def set_nonblocking(self, state: bool) -> None:
        """``pcap_setnonblock``, checked."""
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        errbuf = ffi.new("char[]", PCAP_ERRBUF_SIZE)
        if lib.pcap_setnonblock(self._pcap, int(state), errbuf) < 0:
            raise CaptureError(f"{self.device}: {_status.errbuf_message(ffi, errbuf)}")

    def stats(self) -> tuple[int, int, int]:
        """``pcap_stats``, checked: ``(ps_recv, ps_drop, ps_ifdrop)``."""
        ffi = self._libpcap.ffi
        stat = ffi.new("struct pcap_stat *")
        self._check(self._libpcap.lib.pcap_stats(self._pcap, stat), "stats")
        return (int(stat.ps_recv), int(stat.ps_drop), int(stat.ps_ifdrop))

    def setdirection(self, direction: int) -> None:
        """``pcap_setdirection``, checked."""
        status = self._libpcap.lib.pcap_setdirection(self._pcap, direction)
        self._check(status, "Failed setting direction")

    def sendpacket(self, data: Any) -> bool:
        """``pcap_sendpacket`` of a bytes-like object: True if sent, False if the kernel's send
        buffer is full (EAGAIN, ENOBUFS: the non-blocking handle could not wait); any other
        failure raises, with libpcap's message."""
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        buffer = ffi.from_buffer("unsigned char[]", data)
        status = lib.pcap_sendpacket(self._pcap, buffer, len(buffer))
        if status >= 0:
            return True
        if ffi.errno in _SEND_BUFFER_FULL:  # cffi saves errno per thread after each call
            return False
        raise self.send_error(status)

    def send_error(self, status: int = Status.ERROR) -> PcapError:
        """The exception for a failed ``pcap_sendpacket``, with libpcap's message."""
        return _status.error_for_status(
            self._libpcap.ffi, self._libpcap.lib, status, self._pcap, "send"
        )

    def set_filter(self, instructions: list[Instruction]) -> None:
        """Install a compiled program (``pcap_setfilter``; a BPFError names libpcap's reason)."""
        set_handle_filter(self._pcap, instructions)

    def join_fanout(self, group_id: int, mode_and_flags: int) -> None:
        """Join the capture's packet socket to a Linux ``PACKET_FANOUT`` group.

        ``setsockopt(SOL_PACKET, PACKET_FANOUT)`` on a duplicate of libpcap's descriptor: both
        name the same socket, so the option holds for the handle, and closing the duplicate
        leaves libpcap's descriptor open. The socket exists only once the handle is activated.
        """
        if not sys.platform.startswith("linux"):
            raise CaptureError("PACKET_FANOUT is only available on Linux", Status.ERROR)
        fd = self.selectable_fd()
        if fd < 0:
            raise CaptureError(f"{self.device}: this capture has no packet socket", Status.ERROR)
        option = struct.pack("=I", group_id | mode_and_flags << 16)
        try:
            with socket.socket(fileno=os.dup(fd)) as packet_socket:
                packet_socket.setsockopt(_SOL_PACKET, _PACKET_FANOUT, option)
        except OSError as error:
            reason = _FANOUT_ERRORS.get(error.errno or 0, error.strerror)
            raise CaptureError(
                f"{self.device}: cannot join fanout group {group_id} (mode and flags "
                f"{mode_and_flags:#06x}): {reason}", Status.ERROR,
            ) from None

    def list_datalinks(self) -> list[int]:
        """``pcap_list_datalinks``, checked: the link types the device offers.

        libpcap allocates the array; it is copied out and handed back to
        ``pcap_free_datalinks`` (not the C library's ``free``: on Windows libpcap's C runtime
        may not be ours). Devices that cannot switch offer just their current type.
        """
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        array_out = ffi.new("int **")
        count = self._check(lib.pcap_list_datalinks(self._pcap, array_out), "list_datalinks")
        try:
            return [int(array_out[0][index]) for index in range(count)]
        finally:
            lib.pcap_free_datalinks(array_out[0])

    def set_datalink(self, dlt: int) -> None:
        """``pcap_set_datalink``, checked; a type the device does not offer raises with
        libpcap's message ("EN10MB is not one of the DLTs supported by this device")."""
        self._check(self._libpcap.lib.pcap_set_datalink(self._pcap, dlt))

    def breakloop(self) -> None:
        """``pcap_breakloop``; safe from any thread, and a no-op after ``close()``."""
        with self._close_lock:
            if not self.closed:
                self._libpcap.lib.pcap_breakloop(self._pcap)

    def close(self) -> None:
        """``pcap_close`` now; later calls do nothing. Nothing may be reading at the time."""
        with self._close_lock:
            if self.closed:
                return
            self.closed = True
            if self._memory_dump is not None:
                self._memory_dump.close()
            self._libpcap.ffi.release(self._pcap)

    # -- reading ---------------------------------------------------------------------------
    def packet_readers(self, precision: TstampPrecision) -> tuple[PacketReader, PacketDrain]:
        """Two ways to take the packets libpcap has ready, sharing one pair of out-parameters.

        ``read_packet()`` returns the next ready packet, or None if there is none.
        ``drain(limit)`` is a generator yielding up to ``limit`` ready packets; its return value
        (``yield from``'s result) is True if it stopped at ``limit`` (more may be ready), False
        if libpcap had no more. Neither waits: the handle is non-blocking once activated.
        """
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        pcap = self._pcap
        header_out = ffi.new("struct pcap_pkthdr **")
        data_out = ffi.new("const unsigned char **")
        header_size = ffi.sizeof("struct pcap_pkthdr")
        unpack_header = pkthdr_struct(ffi).unpack_from
        header_class = NanoPkthdr if precision == TstampPrecision.NANO else Pkthdr
        new_header = header_builder(header_class)
        next_ex, buffer = lib.pcap_next_ex, ffi.buffer
        read_failed = self._read_failed

        def read_packet() -> Optional[Packet]:
            while True:
                status = next_ex(pcap, header_out, data_out)
                if status == 1:  # the same two lines as in drain(): a call would cost ~10%
                    fields = unpack_header(buffer(header_out[0], header_size))
                    return new_header(fields), buffer(data_out[0], fields[2])[:]
                if status == 0:
                    return None
                read_failed(status)  # returns for a stale pcap_breakloop only: read again

        def drain(limit: int) -> Generator[Packet, None, bool]:
            for _ in repeat(None, limit):
                status = next_ex(pcap, header_out, data_out)
                if status == 1:
                    fields = unpack_header(buffer(header_out[0], header_size))
                    yield new_header(fields), buffer(data_out[0], fields[2])[:]
                elif status == 0:
                    return False
                else:
                    read_failed(status)
            return True

        return read_packet, drain

    @property
    def can_dump_to_memory(self) -> bool:
        """Whether ``memory_dump()`` works here: False where the C library has no
        ``open_memstream`` (Windows)."""
        return self._libpcap.libc is not None

    def memory_dump(self) -> MemoryDump:
        """A new ``MemoryDump`` on this activated handle (the previous one, if any, is closed).

        The dump records the link type and snapshot length in force now: get a new one after
        ``set_datalink``. ``close()`` releases it with the handle.
        """
        if self._memory_dump is not None:
            self._memory_dump.close()
            self._memory_dump = None
        self._memory_dump = MemoryDump(self._libpcap, self._pcap)
        return self._memory_dump

    def dispatch_failed(self, status: int) -> None:
        """Raise for a negative ``pcap_dispatch`` status; return for PCAP_ERROR_BREAK."""
        if status != Status.ERROR_BREAK:
            self._check(status)
            raise CaptureError(f"pcap_dispatch returned {status}", status)

    def _read_failed(self, status: int) -> None:
        """Raise for a ``pcap_next_ex`` error; return for PCAP_ERROR_BREAK.

        A break status only reaches here when a ``pcap_breakloop()`` outlived the loop it was
        meant for (pcapy's own flag already stopped that loop); libpcap clears it as it reports
        it, so the caller just reads again.
        """
        if status != Status.ERROR_BREAK:
            self._check(status)
            raise CaptureError(f"pcap_next_ex returned {status}", status)

    def _check(self, status: int, context: str = "") -> int:
        ffi, lib = self._libpcap.ffi, self._libpcap.lib
        if status == Status.ERROR_NOT_ACTIVATED:
            raise HandleStateError("This handle hasn't been activated yet", status)
        return _status.check(ffi, lib, status, self._pcap, context)


_SOL_PACKET = 263  # linux/socket.h
_PACKET_FANOUT = 18  # linux/if_packet.h
_FANOUT_ERRORS = {
    errno.EINVAL: "the group exists with another mode, flags or device, or this kernel does "
                  "not support the mode or flags (EINVAL)",
    errno.EALREADY: "the handle is already in a fanout group (EALREADY)",
    errno.ENOSPC: "the group is full (ENOSPC)",
    errno.EPERM: "not permitted (EPERM)",
}
_SEND_BUFFER_FULL = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})
_OPTIONAL_SETTERS = frozenset({"pcap_set_immediate_mode", "pcap_set_tstamp_precision"})


def pkthdr_struct(ffi: Any) -> struct.Struct:
    """A ``struct.Struct`` unpacking ``struct pcap_pkthdr`` into ``(sec, frac, caplen, len)``.

    Built from cffi's layout of the structs ``_platform`` declared, so it is right wherever the
    declarations are: 64-bit ``long`` on Linux and macOS, a 32-bit ``tv_usec`` on macOS, 32-bit
    ``long`` on Windows.
    """
    pkthdr = ffi.typeof("struct pcap_pkthdr")
    ts_offset, timeval = _field(pkthdr, "ts")
    layout = [
        (ts_offset + offset, ctype)
        for offset, ctype in (_field(timeval, "tv_sec"), _field(timeval, "tv_usec"))
    ]
    layout += [_field(pkthdr, "caplen"), _field(pkthdr, "len")]
    fmt, position = "=", 0
    for offset, ctype in layout:
        fmt += "x" * (offset - position) + _integer_code(ffi, ctype)
        position = offset + ffi.sizeof(ctype)
    return struct.Struct(fmt)


def _field(ctype: Any, name: str) -> tuple[int, Any]:
    field = dict(ctype.fields)[name]
    return int(field.offset), field.type


def _integer_code(ffi: Any, ctype: Any) -> str:
    size = ffi.sizeof(ctype)
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
    return code.upper() if ctype.cname.startswith("unsigned") else code


class EventWaiter:
    """Waits on a capture's Windows event in bounded slices; ``wake()`` signals it."""

    def __init__(self, libpcap: Libpcap, event: Any) -> None:
        self._kernel32 = libpcap.ffi.dlopen("kernel32.dll")
        self._event = event

    def wait(self, seconds: float) -> None:
        """Block until the event is signalled or ``seconds`` pass (the GIL is released)."""
        self._kernel32.WaitForSingleObject(self._event, max(0, int(seconds * 1000)))

    def wake(self) -> None:
        """Signal the event, so that a ``wait()`` in another thread returns now."""
        self._kernel32.SetEvent(self._event)

    def close(self) -> None:
        """Nothing to release: the event belongs to the capture handle."""
