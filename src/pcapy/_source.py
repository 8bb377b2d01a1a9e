"""The seam between ``Reader`` and the two engines that produce packets.

A ``PacketSource`` is either a savefile (the pure-Python engine in ``_savefile``) or a live
capture (libpcap, in ``_live``). ``Reader`` implements pcapy's API once, over this protocol:

- ``packets`` is the persistent iterator ``next()`` and iteration draw from. A live source
  yields ``TIMEOUT`` when its read timeout passes with no packet; a savefile never does, and
  simply ends at EOF.
- ``loop_packets()`` is what ``loop()`` (live) and iteration draw from: it never yields
  ``TIMEOUT`` and ends when ``breakloop()`` is called (a live source notices that while it
  waits).
- ``next_runs()`` gives the iterators ``next()`` reads, one after the other, the last an
  ``AfterEnd`` (the failure again, or the end): ``Reader.next`` is ``next()`` on their chain,
  with no Python frame of pcapy's between the caller and the record loop.
- ``run_callbacks(cnt, callback, dispatch=...)`` runs ``loop()`` or ``dispatch()``: a savefile
  in its generated record loop (no generator in between), a live source over its own
  iterators. ``next_batch(n)`` is pcapy-ng's ``next_batch``.
- ``failure`` is the error that ended the packets (a damaged savefile), raised again on every
  later read.
- ``install_filter(program, compile_for_link)`` applies a compiled filter from now on (in the
  kernel for a live capture, by pcapy's BPF executor for a savefile); ``packets`` may be a new
  iterator after it. ``compile_for_link``, if given, compiles the same expression for the other
  link types of a savefile (a pcapng file's interfaces may have several).
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from ._constants import TstampPrecision
from ._errors import PcapError, SavefileError
from ._pkthdr import Pkthdr

if TYPE_CHECKING:
    from ._bpf import BPFProgram

#: What ``next()`` returns: a packet, or ``TIMEOUT``.
NextPacket = tuple[Optional[Pkthdr], bytes]

#: Compiles a savefile's filter expression again for another link type of the file (a pcapng
#: interface's): ``(dlt, snapshot, swapped) -> BPFProgram``, ``swapped`` saying whether the
#: interface's section is in the other byte order than this machine's; raises ``BPFError``
#: where the expression means nothing on that link type.
LinkTypeCompiler = Callable[[int, int, bool], "BPFProgram"]

#: What ``next()`` returns when no packet came (pcapy's value for timeout and EOF alike).
TIMEOUT: NextPacket = (None, b"")


class Breakable(Protocol):
    """What a record loop looks at between packets: whether ``breakloop()`` was called."""

    break_requested: bool


class Failing(Protocol):
    """What may have ended a source's packets: a damaged file (``failure``), or nothing."""

    @property
    def failure(self) -> Optional[PcapError]: ...


class AfterEnd:
    """What ``next()`` reads after a source's packets: their failure again (a copy, with a
    fresh traceback, on every call), or ``TIMEOUT`` for ever.

    It never ends, so the chain ``next()`` reads never asks for another iterator once it has
    reached this one (and never drops the iterator of iterators while a thread is inside it).
    """

    __slots__ = ("_failing",)

    def __init__(self, failing: Failing) -> None:
        self._failing = failing

    def __iter__(self) -> AfterEnd:
        return self

    def __next__(self) -> NextPacket:
        failure = self._failing.failure
        if failure is not None:
            raise copy.copy(failure)
        return TIMEOUT


class Replaceable(Protocol):
    """A source whose ``packets`` a whole-call read replaces when it is done."""

    @property
    def packets(self) -> Iterator[NextPacket]: ...


class Busy:
    """What ``next()`` reads while another thread's whole-call read (a loop, a batch, a new
    filter) runs the records: a ValueError (nothing read), and once that read is done, the
    end of this run (``next()`` goes on with the new ``packets``)."""

    __slots__ = ("_source",)

    def __init__(self, source: Replaceable) -> None:
        self._source = source

    def __iter__(self) -> Busy:
        return self

    def __next__(self) -> NextPacket:
        if self._source.packets is self:
            raise ValueError("generator already executing (another thread is reading this Reader)")
        raise StopIteration


class SavefileFacts(Protocol):
    """What ``Reader`` and the filter compiler read of a savefile's header, classic pcap's
    (``PcapFileHeader``) or pcapng's (``PcapngFileInfo``, its first section's byte order)."""

    @property
    def byte_order(self) -> str: ...

    @property
    def interfaces(self) -> Sequence[Any]: ...


class Raising:
    """A run that raises ``error`` once (the read that met it), then ends: ``next()`` goes
    on with the source's next run."""

    __slots__ = ("_error",)

    def __init__(self, error: BaseException) -> None:
        self._error: Optional[BaseException] = error

    def __iter__(self) -> Raising:
        return self

    def __next__(self) -> NextPacket:
        error, self._error = self._error, None
        if error is None:
            raise StopIteration
        raise error


class PacketSource(Protocol):
    """What ``Reader`` needs from an engine; see the module docstring.

    Every capability is a member here: an engine without one answers what libpcap answers
    for it (a live capture has no ``file_format``, ``file_header`` or ``failure``, and takes
    ``next_batch`` packet by packet), so ``Reader`` never probes an engine for what it has.
    """

    break_requested: bool

    @property
    def packets(self) -> Iterator[NextPacket]: ...

    @property
    def dlt(self) -> int: ...

    @property
    def snapshot(self) -> int: ...

    @property
    def precision(self) -> TstampPrecision: ...

    @property
    def file_format(self) -> Optional[str]: ...

    @property
    def file_header(self) -> Optional[SavefileFacts]: ...

    @property
    def failure(self) -> Optional[PcapError]: ...

    def loop_packets(self) -> Iterator[tuple[Pkthdr, bytes]]: ...

    def next_runs(self) -> Iterator[Iterator[NextPacket]]: ...

    def run_callbacks(
        self, cnt: int, callback: Callable[[Pkthdr, bytes], object], *, dispatch: bool
    ) -> int: ...

    def next_batch(self, max_packets: int) -> tuple[bytes, bytes]: ...

    def install_filter(
        self, program: BPFProgram, compile_for_link: Optional[LinkTypeCompiler] = None
    ) -> None: ...

    def breakloop(self) -> None: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...


#: pcapy-ng's batch metadata: (sec, usec, offset, caplen), native-endian uint32 each.
BATCH_META = struct.Struct("=IIII")


def pack_batch(packets: Iterator[tuple[Pkthdr, bytes]], max_packets: int) -> tuple[bytes, bytes]:
    """Up to ``max_packets`` packets in ``next_batch``'s layout, built one by one."""
    meta = bytearray()
    pieces: list[bytes] = []
    offset = 0
    try:
        for hdr, data in islice(packets, max_packets):
            offset = _pack_one(meta, pieces, offset, hdr, data)
    except SavefileError:
        if not pieces:
            raise
        # The packets before the damage are delivered; the source keeps the error
        # (``failure``), which the next call raises.
    return b"".join(pieces), bytes(meta)


def _pack_one(meta: bytearray, pieces: list[bytes], offset: int, hdr: Pkthdr, data: bytes) -> int:
    """Append one packet to a batch; the offset of the next."""
    sec, usec = hdr.getts()
    if not 0 <= sec <= 0xFFFFFFFF:  # pcapng's if_tsoffset can make it negative
        raise PcapError(
            f"a time stamp of {sec} s does not fit next_batch()'s unsigned 32-bit seconds; "
            "read this file with next() or iteration"
        )
    meta += BATCH_META.pack(sec, usec, offset, len(data))
    pieces.append(data)
    return offset + len(data)
