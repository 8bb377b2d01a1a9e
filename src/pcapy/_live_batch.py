"""Live packets a batch at a time: one ``pcap_dispatch`` per batch, parsed in Python.

Taking live packets one ``pcap_next_ex`` at a time crosses the FFI several times per packet
(the call, two out-parameters, two buffers): about 1.5 to 2 µs, which caps a capture near 500k
packets/s and lets the kernel's ring fill and drop under a burst. Here one ``pcap_dispatch``
hands over everything the ring holds (up to a limit) to libpcap's own ``pcap_dump`` writing into
memory (``pcapy._libpcap._memdump.MemoryDump``), and the classic pcap engine parses the
records, a few hundred nanoseconds per packet, at the speed of savefile reading.

Packets taken from libpcap but not yet delivered wait in ``pending``: a loop that stops early
(``breakloop()``, a count reached, a callback's exception, a closed generator) leaves them for
the next read, so none is lost. A capture error libpcap reports after it dumped some packets
is raised once those packets are delivered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from itertools import repeat
from typing import Optional

from ._libpcap import Handle, MemoryDump
from ._pkthdr import Packet
from ._savefile._pcap import iter_records, parse_file_header
from ._savefile._pseudo import needs_post_processing


class BatchReaders:
    """``read_packet()`` and ``drain(limit)`` (the contract of ``Handle.packet_readers``),
    served from batches of packets taken with one ``pcap_dispatch`` each."""

    def __init__(self, handle: Handle, dump: MemoryDump, batch: int) -> None:
        self._handle = handle
        self._dump = dump
        self._header = parse_file_header(dump.file_header)
        self._batch = batch
        self.pending: deque[Packet] = deque()
        self._deferred: Optional[BaseException] = None

    def read_packet(self) -> Optional[Packet]:
        """The next ready packet, or None if libpcap has none now."""
        if self.pending or self._fill(self._batch):
            return self.pending.popleft()
        return None

    def drain(self, limit: int) -> Generator[Packet, None, bool]:
        """Yield up to ``limit`` ready packets; return True if stopped at ``limit``."""
        pending = self.pending
        take, fill = pending.popleft, self._fill
        for _ in repeat(None, limit):
            if not pending and not fill(limit):
                return False
            yield take()
        return True

    def _fill(self, wanted: int) -> bool:
        """Take one batch from libpcap into ``pending``; False if there was nothing."""
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            raise deferred
        # At most one batch at a time, even when more is wanted: measured, a batch of 100k
        # packets costs 1.4 us a packet (cache misses, memory growth), one of 256 half that.
        if self._handle.datalink() != self._header.dlt:
            self._relink()  # set_datalink() since the last batch
        status, records = self._dump.dispatch(min(wanted, self._batch))
        if records:
            self.pending.extend(iter_records(self._header, iter(()), records, 0))
        if status < 0:
            try:
                self._handle.dispatch_failed(status)  # returns for a stale breakloop only
            except BaseException as error:
                if not self.pending:
                    raise
                self._deferred = error  # raised once the packets before it are delivered
        return bool(self.pending)


    def _relink(self) -> None:
        """A new memory dump for the link type now in force (its file header names the type
        the records are parsed as); packets already pending keep the type they came with."""
        self._dump = self._handle.memory_dump()
        self._header = parse_file_header(self._dump.file_header)


def batch_readers(handle: Handle, dlt: int, batch: int) -> Optional[BatchReaders]:
    """Batched readers for an activated handle, or None where they cannot serve it: no
    ``open_memstream`` (Windows), or a link type whose savefile records libpcap rewrites
    (Linux USB), which the savefile engine would then rewrite again."""
    if needs_post_processing(dlt, False) or not handle.can_dump_to_memory:
        return None
    return BatchReaders(handle, handle.memory_dump(), batch)

