"""Reader: pcapy's capture handle, implemented once over a ``PacketSource``.

``open_offline`` gives a Reader over the savefile engine; ``open_live`` and ``create`` give one
over a live libpcap capture. Every method keeps pcapy's name, arguments and results; the
differences are fixes (see README): callback exceptions propagate as themselves and leave the
reader usable, ``next()`` returns ``(None, b'')`` when the read timeout passes, and a closed
reader raises ``ValueError("pcap is closed")`` from every method.

Speed: ``next`` is an instance attribute bound to ``functools.partial(next, packets, TIMEOUT)``,
so a call runs entirely in C until it reaches the engine's generator.
"""

from __future__ import annotations

import copy
import functools
import socket
import struct
import sys
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Optional, TypeVar, Union, cast

from ._args import as_c_int, as_int
from ._bpf import BPFProgram, compile_for, savefile_swapped
from ._classify import (
    ClassCallback,
    FilteredCounts,
    buffer_loop,
    filtered_loop,
    make_config,
    writable_bytes,
)
from ._classify import check_callback as check_classified_callback
from ._constants import DLT_NAME, Status, TstampPrecision
from ._dumper import Dumper, PathOrFile
from ._errors import CaptureError, PcapError
from ._pkthdr import Pkthdr
from ._source import TIMEOUT, LinkTypeCompiler, NextPacket, PacketSource
from ._tables import table_function

if TYPE_CHECKING:
    from ._live import LiveCapture

Callback = Callable[[Pkthdr, bytes], object]


def _closed(*_args: object, **_kwargs: object) -> NoReturn:
    raise ValueError("pcap is closed")


class _ClosedSource:
    """Stands in for the source after ``close()``: touching it raises pcapy's ValueError."""

    def __getattr__(self, name: str) -> NoReturn:
        _closed()


_CLOSED = cast(PacketSource, _ClosedSource())


#: The most packets one ``next_batch()`` call returns (it returns "up to" its argument anyway;
#: a savefile batch never spans more than one 256 KiB read chunk).
MAX_BATCH = 1 << 16
#: What ``next_batch(0)`` (or a negative count) takes, as pcapy-ng.
DEFAULT_BATCH = 256


def _check_callback(callback: object) -> Callback:
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    return callback


def unsupported_datalink(dlt: int) -> str:
    """libpcap's message for a link type a handle does not offer (``pcap_set_datalink``)."""
    name = DLT_NAME.get(dlt)
    what = name if name is not None else f"DLT {dlt}"
    return f"{what} is not one of the DLTs supported by this device"


def _dotted_quad(address: int) -> str:
    return socket.inet_ntoa(struct.pack("!I", address & 0xFFFFFFFF))


def _link_type_compiler(
    expression: str, optimize: int, netmask: int, compiler: str
) -> LinkTypeCompiler:
    """``expression`` compiled as ``setfilter`` compiles it, for another link type of the
    savefile (a pcapng interface's), with that interface's snapshot length and byte order."""

    def compile_for_link(dlt: int, snapshot: int, swapped: bool) -> BPFProgram:
        return compile_for(dlt, snapshot, expression, optimize, netmask,
                           savefile_swapped=swapped, compiler=compiler)

    return compile_for_link


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _one_at_a_time(method: _Method) -> _Method:
    """A Reader method that reads the savefile in one call: run while no other thread runs
    one (``next()`` and iteration take no lock: see ``Reader``)."""

    @functools.wraps(method)
    def taking_turns(self: Reader, *args: Any, **kwargs: Any) -> Any:
        turns = self._turns
        if turns is None:
            return method(self, *args, **kwargs)
        with turns:
            return method(self, *args, **kwargs)

    return cast(_Method, taking_turns)


class Reader:
    """A capture handle on a savefile or a network interface (pcapy's ``Reader``).

    Not constructed directly: use ``open_offline``, ``open_live`` or ``create``.
    """

    next: Callable[[], NextPacket]

    def __init__(self, source: PacketSource, *, live: Optional[LiveCapture] = None) -> None:
        # Refuses what no engine made (``pcapy.Reader(...)`` called by hand); it looks at the
        # class only: a live capture's facts raise until it is activated.
        if not callable(getattr(type(source), "run_callbacks", None)):
            raise TypeError(
                "Reader objects are not created directly: use open_offline(), open_live() "
                "or create()"
            )
        self._source: PacketSource = source
        self._live = live
        self._filtered_counts = FilteredCounts()
        # A savefile Reader may be shared between threads: its whole-call reads (loop,
        # dispatch, next_batch, setfilter) take turns. next() and iteration do not: they run
        # the record loop with no pcapy frame in between, and one entered while another
        # thread is inside it raises ValueError, reading nothing (docs/api.md, Threads). A
        # capture's reads need no turns: libpcap's handle is read by whichever thread asks.
        self._turns: Optional[threading.RLock] = threading.RLock() if live is None else None
        self._rebind_next()

    def _rebind_next(self) -> None:
        # An instance attribute shadows the documented method below (same behaviour, C speed).
        # Bound once (and again at a capture's activation): the source's runs follow loops,
        # filters and iterations, so a ``reader.next`` kept by the caller stays right. The
        # last run, AfterEnd, raises the error that ended the packets, if one did, on every
        # later call: a damaged file never looks like a clean end of file.
        packets = chain.from_iterable(self._source.next_runs())
        self.next = functools.partial(next, packets, TIMEOUT)

    # -- reading -----------------------------------------------------------------------------
    def next(self) -> NextPacket:  # type: ignore[no-redef]
        """The next packet as ``(Pkthdr, bytes)``; ``(None, b'')`` at EOF or on a read timeout."""
        return next(self._source.packets, TIMEOUT)

    @_one_at_a_time
    def __iter__(self) -> Iterator[tuple[Pkthdr, bytes]]:
        """Iterate over packets: to EOF (or ``breakloop()``) for a savefile, until
        ``breakloop()`` or ``close()`` for a capture. A ``breakloop()`` ends the iteration
        running (or the next one to start), as it ends ``loop()``."""
        return self._source.loop_packets()

    @_one_at_a_time
    def loop(self, cnt: int, callback: Callback) -> None:
        """Call ``callback(hdr, data)`` for ``cnt`` packets; ``cnt <= 0`` means until EOF/break.

        An exception raised by the callback propagates as itself; the reader stays usable and
        the next call continues with the packet after the one that failed.
        """
        cnt = as_int("cnt", cnt)
        callback = _check_callback(callback)
        self._source.break_requested = False
        self._run_callbacks(cnt, callback, dispatch=False)

    @_one_at_a_time
    def dispatch(self, cnt: int, callback: Callback) -> int:
        """Process up to ``cnt`` packets (one bufferful when live); return how many were."""
        cnt = as_int("cnt", cnt)
        callback = _check_callback(callback)
        self._source.break_requested = False
        return self._run_callbacks(cnt, callback, dispatch=True)

    def _run_callbacks(self, cnt: int, callback: Callback, *, dispatch: bool) -> int:
        """The engine runs the callbacks (a savefile in its own record loop); ``next()``
        reads from where they stopped."""
        return self._source.run_callbacks(cnt, callback, dispatch=dispatch)

    @_one_at_a_time
    def next_batch(self, max_packets: int) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` packets in one call, in pcapy-ng's layout: ``(buffer, meta)``.

        ``meta`` holds 16 bytes per packet, four native-endian unsigned 32-bit integers
        ``(sec, usec, offset, caplen)``; the packet is ``buffer[offset:offset + caplen]``.
        An empty ``meta`` means the end of the file (or, live, a read timeout). On classic pcap
        files the buffer is pcapy's read chunk itself: no packet is copied, no object is made
        per packet.
        Unpack ``meta`` with ``struct.iter_unpack("=IIII", meta)`` or an ``array('I')``.
        One call returns at most ``MAX_BATCH`` (65536) packets, whatever ``max_packets`` says;
        ``max_packets <= 0`` means 256, as in pcapy-ng.
        """
        max_packets = as_int("max_packets", max_packets)
        if max_packets <= 0:
            max_packets = DEFAULT_BATCH
        max_packets = min(max_packets, MAX_BATCH)
        source = self._source
        batch = source.next_batch(max_packets)
        failure = source.failure
        if not batch[1] and failure is not None:  # a batch ended by damage: now the error
            raise copy.copy(failure)
        return batch

    # -- pcapy-ng 2.x: classify in the loop, admit some classes (see _classify) ---------------
    def loop_filtered(
        self, cnt: int, cb: ClassCallback, admit_mask: int = 7, addr_set: bytes = b"",
        flow_cutoff: int = 0, dpi_ports: Optional[Iterable[int]] = None,
        tls_ports: Optional[Iterable[int]] = None, dns_port: int = 53, l2_offset: int = 14,
        profile: int = 0,
    ) -> tuple[int, ...]:
        """pcapy-ng's ``loop_filtered``: ``loop(cnt)`` classifying each packet and calling
        ``cb(hdr, data, cls)`` only for classes whose bit is set in ``admit_mask``.

        Returns ``(admitted, dropped, <per-class counts>)`` (3 classes for the generic profile,
        6 for the security one; see docs/api.md); ``filtered_stats()`` reads the same counters
        while the loop runs.
        """
        config = make_config(admit_mask, addr_set, flow_cutoff, dpi_ports, tls_ports, dns_port,
                             l2_offset, profile)
        return filtered_loop(self.loop, as_int("cnt", cnt), check_classified_callback(cb),
                             config, self._filtered_counts)

    def loop_to_buffer(
        self, cnt: int, writable_buf: Any, admit_mask: int = 7, addr_set: bytes = b"",
        flow_cutoff: int = 0, dpi_ports: Optional[Iterable[int]] = None,
        tls_ports: Optional[Iterable[int]] = None, dns_port: int = 53, l2_offset: int = 14,
        profile: int = 0,
    ) -> tuple[int, ...]:
        """pcapy-ng's ``loop_to_buffer``: as ``loop_filtered``, but admitted packets are written
        into ``writable_buf`` as ``[u32 caplen, little-endian][u8 class][packet]``.

        Returns ``(written, dropped, overflow, bytes used, <per-class counts>)``; a packet that
        no longer fits is counted in ``overflow`` and classification goes on.
        """
        view = writable_bytes(writable_buf)
        config = make_config(admit_mask, addr_set, flow_cutoff, dpi_ports, tls_ports, dns_port,
                             l2_offset, profile)
        return buffer_loop(self.loop, as_int("cnt", cnt), view, config)

    def filtered_stats(self) -> tuple[int, ...]:
        """The counters of the running (or last) ``loop_filtered``; safe from another thread."""
        self._check_open()
        return self._filtered_counts.snapshot()

    def breakloop(self) -> None:
        """Make a running ``loop()``/``dispatch()`` return soon (safe from other threads)."""
        self._source.breakloop()

    def __aiter__(self) -> AsyncIterator[tuple[Pkthdr, bytes]]:
        """``async for hdr, data in reader``: never blocks the event loop (see ``_aio``)."""
        from ._aio import aiter_packets  # noqa: PLC0415

        return aiter_packets(self, self._live)

    # -- tables (the optional ``arrow`` extra) -----------------------------------------------
    def to_arrow(self, batch_size: int = 65536, columns: Optional[Iterable[str]] = None,
                 decode: bool = True) -> Any:
        """The rest of the packets as a ``pyarrow.RecordBatchReader`` (see ``pcapy.arrow``).

        Needs ``pip install 'pcapy-cffi[arrow]'``. Memory stays bounded by ``batch_size`` packets;
        ``columns`` picks columns, ``decode=False`` leaves out the decoded ones; a filter set
        with ``setfilter`` applies first.
        """
        self._check_open()
        to_arrow = table_function("Reader.to_arrow")
        return to_arrow(self, batch_size, columns, decode)

    # -- filters -----------------------------------------------------------------------------
    @_one_at_a_time
    def setfilter(self, expression: Union[str, BPFProgram], optimize: int = 1,
                  netmask: Optional[int] = None, *, compiler: str = "auto") -> None:
        """Filter packets with a BPF expression (or an already compiled ``BPFProgram``).

        ``compiler``: ``"auto"`` (libpcap's when it loads, else pcapy's), ``"libpcap"`` or
        ``"pcapy"`` (see ``pcapy.compile``). On a pcapng file whose interfaces have several
        link types, an expression is compiled for each (when a packet of that link type is
        first read) and each packet is run through its own interface's program; a link type
        the expression cannot be compiled for has its packets rejected, with a PcapWarning.
        An already compiled program runs on packets of its own link type only."""
        source = self._source
        compile_for_link = None
        if isinstance(expression, BPFProgram):
            program = expression
        else:
            if netmask is None:
                netmask = self._live.netmask if self._live is not None else 0
            swapped = None if self._live is not None else savefile_swapped(source.file_header)
            program = compile_for(
                source.dlt, source.snapshot, expression, optimize, netmask,
                savefile_swapped=swapped, compiler=compiler,
            )
            if self._live is None:
                compile_for_link = _link_type_compiler(expression, optimize, netmask, compiler)
        source.install_filter(program, compile_for_link)

    # -- handle facts ------------------------------------------------------------------------
    @property
    def file_format(self) -> Optional[str]:
        """``'pcap'`` or ``'pcapng'`` for a savefile; ``None`` for a live capture."""
        self._check_open()
        return self._source.file_format

    @property
    def file_header(self) -> Any:
        """What the savefile says about itself: a ``PcapFileHeader`` (classic pcap) or a
        ``PcapngFileInfo`` (pcapng: sections, interfaces, statistics, name resolution, secrets,
        growing as blocks are read); ``None`` for a live capture."""
        self._check_open()
        return self._source.file_header

    @property
    def interfaces(self) -> list[Any]:
        """The pcapng interfaces described so far (each packet's header names its own)."""
        self._check_open()
        header = self._source.file_header
        return [] if header is None else list(header.interfaces)

    @property
    def is_live(self) -> bool:
        """Whether this reader captures from an interface (``False`` for a savefile)."""
        return self._live is not None

    def datalink(self) -> int:
        """The link-layer type (a ``DLT_*`` value)."""
        return int(self._source.dlt)

    def list_datalinks(self) -> list[int]:
        """The link types (``DLT_*``) this handle can capture with, for ``set_datalink()``.

        A savefile has exactly one, its own (libpcap answers the same for savefiles).
        """
        if self._live is not None:
            return self._require_live().list_datalinks()
        self._check_open()
        return [self.datalink()]

    def set_datalink(self, dlt: int) -> None:
        """Capture with link type ``dlt`` (one of ``list_datalinks()``) from now on.

        A savefile's link type cannot change: asking for its own is accepted and does nothing,
        any other raises PcapError with libpcap's words for it.
        """
        if self._live is not None:
            self._require_live().set_datalink(as_c_int("dlt", dlt))
            return
        self._check_open()
        dlt = as_c_int("dlt", dlt)
        if dlt != self.datalink():
            raise PcapError(unsupported_datalink(dlt))

    def snapshot(self) -> int:
        """The snapshot length: the most bytes of a packet that are kept."""
        return int(self._source.snapshot)

    def get_tstamp_precision(self) -> TstampPrecision:
        """Whether time stamps are in microseconds or nanoseconds."""
        return TstampPrecision(self._source.precision)

    def getfd(self) -> int:
        """A descriptor to select()/poll() on for readability, or -1 if there is none."""
        return int(self._source.fileno())

    def getnet(self) -> str:
        """The network number of the capture device, as a dotted quad ('0.0.0.0' offline)."""
        self._check_open()
        return _dotted_quad(self._live.network if self._live is not None else 0)

    def getmask(self) -> str:
        """The netmask of the capture device, as a dotted quad ('0.0.0.0' offline)."""
        self._check_open()
        return _dotted_quad(self._live.netmask if self._live is not None else 0)

    def getnonblock(self) -> int:
        """1 if the handle is in non-blocking mode, else 0 (always 0 on savefiles)."""
        if self._live is not None:
            return self._require_live().getnonblock()
        self._check_open()
        return 0

    def setnonblock(self, state: int) -> None:
        """Put a live handle in or out of non-blocking mode (no effect on savefiles)."""
        state = as_int("state", state)
        self._check_open()
        if self._live is not None:
            self._require_live().setnonblock(state)
        elif state:
            raise PcapError("Savefiles cannot be put into non-blocking mode")

    def stats(self) -> tuple[int, int, int]:
        """``(received, dropped, dropped by the interface)`` for a live capture."""
        if self._live is None:
            self._check_open()
            raise PcapError("Statistics aren't available from savefiles")
        return self._require_live().stats()

    # -- writing -----------------------------------------------------------------------------
    def dump_open(self, target: PathOrFile, *, precision: Union[int, str, None] = None,
                  format: Optional[str] = None) -> Dumper:
        """A ``Dumper`` writing this reader's link type; ``'-'`` is standard output.

        Time stamps are written in microseconds, as pcapy and libpcap write them, unless
        ``precision='nano'`` asks for full resolution or the reader is a capture opened with
        nanosecond precision (``set_tstamp_precision``). The header's ``thiszone`` is 0, as
        libpcap (1.10 and later) writes it whatever the source says.
        """
        source = self._source
        if precision is None:
            precision = source.precision if self._live is not None else TstampPrecision.MICRO
        return Dumper(target, source.dlt, source.snapshot, precision=precision, format=format)

    # -- live capture (delegated to the libpcap engine) -------------------------------------
    def _require_live(self) -> LiveCapture:
        self._check_open()
        if self._live is None:
            raise PcapError("this operation needs a live capture; the reader reads a savefile")
        return self._live

    def sendpacket(self, data: bytes) -> None:
        """Send a raw packet on the capture's interface."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"packet data must be bytes-like, not {type(data).__name__}")
        if self._live is None:
            self._check_open()
            raise PcapError("Sending packets isn't supported on savefiles")
        self._require_live().sendpacket(data)

    def set_fanout(self, group_id: int, fanout_type: int = 0, flags: int = 0) -> None:
        """Join a Linux ``PACKET_FANOUT`` group (pcapy-ng's call, plus ``flags``).

        Handles on the same device that join the same ``group_id`` (0-65535, per network
        namespace) share its packets: the kernel gives each packet to one of them, as
        ``fanout_type`` says (``PACKET_FANOUT_HASH``, the default, keeps every flow on one
        handle). ``flags`` are ``PACKET_FANOUT_FLAG_*`` values (pcapy-ng's way, or-ing them into
        ``fanout_type``, works too). Before ``activate()`` the handle joins as it is activated,
        since only then has libpcap made its socket. Raises CaptureError where the kernel
        refuses (a group joined with another mode, flags or device; a second join), on other
        systems, and PcapError on savefiles.
        """
        group_id = as_int("group_id", group_id)
        mode_and_flags = as_int("fanout_type", fanout_type) | as_int("flags", flags)
        if not 0 <= group_id <= 0xFFFF:
            raise ValueError(f"group_id must be in 0..65535, got {group_id}")
        if not 0 <= mode_and_flags <= 0xFFFF:
            raise ValueError(f"fanout_type and flags must be in 0..0xffff, got {mode_and_flags:#x}")
        if self._live is None:
            self._check_open()
            raise PcapError("set_fanout needs a live capture; the reader reads a savefile")
        if not sys.platform.startswith("linux"):
            raise CaptureError("PACKET_FANOUT is only available on Linux", Status.ERROR)
        self._require_live().set_fanout(group_id, mode_and_flags)

    def setdirection(self, direction: int) -> None:
        """Capture only incoming (PCAP_D_IN), outgoing (PCAP_D_OUT) or both directions."""
        self._require_live().setdirection(as_c_int("direction", direction))

    def set_snaplen(self, snaplen: int) -> int:
        """Set the snapshot length before ``activate()``; returns libpcap's status."""
        return self._require_live().set_option("snaplen", as_c_int("snaplen", snaplen))

    def set_promisc(self, promisc: int) -> int:
        """Set promiscuous mode before ``activate()``; returns libpcap's status."""
        return self._require_live().set_option("promisc", as_c_int("promisc", promisc))

    def set_timeout(self, timeout: int) -> int:
        """Set the read timeout in milliseconds before ``activate()``; returns the status."""
        return self._require_live().set_option("timeout", as_c_int("timeout", timeout))

    def set_buffer_size(self, buffer_size: int) -> int:
        """Set the kernel buffer size in bytes before ``activate()``; returns the status."""
        return self._require_live().set_option("buffer_size", as_c_int("buffer_size", buffer_size))

    def set_rfmon(self, rfmon: int) -> int:
        """Ask for monitor mode (802.11) before ``activate()``; returns the status."""
        return self._require_live().set_option("rfmon", as_c_int("rfmon", rfmon))

    def set_immediate_mode(self, immediate: int) -> int:
        """Deliver packets as soon as they arrive (no buffering); returns the status."""
        return self._require_live().set_option("immediate_mode", as_c_int("immediate", immediate))

    def set_tstamp_precision(self, precision: int) -> int:
        """Ask for micro- or nanosecond time stamps before ``activate()``; returns the status."""
        live = self._require_live()
        return live.set_option("tstamp_precision", as_c_int("precision", precision))

    def set_tstamp_type(self, tstamp_type: int) -> int:
        """Choose the time-stamp source before ``activate()``; returns the status."""
        return self._require_live().set_option("tstamp_type", as_c_int("tstamp_type", tstamp_type))

    def geterr(self) -> str:
        """libpcap's words for the last failure of this capture: why ``activate()`` returned an
        error status, as ``open_live`` would raise it (e.g. "lo: You don't have permission to
        capture on that device (socket: Operation not permitted)"), else ``pcap_geterr``'s text.
        """
        return self._require_live().geterr()

    def activate(self) -> int:
        """Activate a handle from ``create()``: 0, a warning (> 0) or an error (< 0) status;
        after an error, ``geterr()`` says why in libpcap's words."""
        status = self._require_live().activate()
        if status >= 0:
            self._rebind_next()
        return status

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        """Release the file or capture handle; calling it again does nothing."""
        source = self._source
        if source is _CLOSED:
            return
        self._source = _CLOSED
        self.next = _closed
        source.close()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._source is _CLOSED

    def _check_open(self) -> None:
        if self._source is _CLOSED:
            _closed()

    def __enter__(self) -> Reader:
        self._check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._source is _CLOSED:
            return "<pcapy.Reader closed>"
        kind = "live" if self._live is not None else "savefile"
        return f"<pcapy.Reader {kind} datalink={self._source.dlt}>"



def engine_of(reader: Reader) -> PacketSource:
    """The engine ``reader`` reads from, for pcapy's modules above ``Reader`` that serve one
    engine in a way of their own (the table output's block walk over a savefile, the file of
    ``read_range``); a closed reader raises pcapy's ValueError, as its methods do."""
    reader._check_open()
    return reader._source
