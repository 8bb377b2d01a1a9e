"""Offloading a savefile's filter to libpcap, and taking it back, at an exact packet.

``setfilter`` on a classic pcap file that pcapy opened by path (a regular file: never a FIFO or
other stream libpcap could not position) hands reading to libpcap through ``_libpcap._memdump``,
from the very descriptor already open (libpcap never reopens the file by its name, which may
have been renamed over since): libpcap reads and filters in C and only the matching records
reach the Python parser (in batches, never one FFI call per packet). That is the fast way to
filter a large file, and the only one that keeps pace with C bindings.

The offloaded stream behaves exactly like the pure-Python one:
- Position: when the filter changes again, the packets already delivered are counted in the
  current batch, and the next filter starts right after the last one delivered (found by
  re-reading that batch's span of the file in Python with the old filter).
- Errors: if libpcap reports a damaged record, the batch it was reading is discarded and the
  pure-Python engine re-reads from that batch's start, so packets before the damage are all
  delivered and the error raised is the one pcapy always raises for that file.
- Libraries: without libpcap, without ``open_memstream`` (Windows), for pcapng, gzip, stdin or
  file objects, or with ``PCAPY_FILTER_IN_PYTHON=1`` in the environment, filtering stays in
  Python (``_bpf_vm``), with the same verdicts.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import weakref
from collections.abc import Generator, Iterator
from typing import Callable, Optional

from ._bpf import BPFProgram
from ._errors import PcapError, SavefileError
from ._libpcap import _memdump
from ._pkthdr import Packet, Pkthdr
from ._savefile import restart_pcap
from ._savefile._pcap import PcapFileHeader, PcapRecordStream, count_records
from ._savefile._stream import ByteSource
from ._source import Breakable, LinkTypeCompiler, pack_batch

ENV_PURE = "PCAPY_FILTER_IN_PYTHON"
BATCH_PACKETS = 4096
_HOST_ORDER = "<" if sys.byteorder == "little" else ">"



class LibpcapFilters:
    """The savefile engine's filter backend (``_savefile.FilterBackend``): libpcap filters
    classic pcap files that have a regular file descriptor. ``open_offline`` gives it to every
    source it opens."""

    def filtered_records(
        self,
        stream: ByteSource,
        header: PcapFileHeader,
        offset: Callable[[], int],
        program: BPFProgram,
    ) -> Optional[OffloadedRecords]:
        """An offloaded record stream from the record at ``offset()`` on, or None."""
        if (
            os.environ.get(ENV_PURE)
            or program.loops  # libpcap's interpreter may go round forever: Python's does not
            or stream.regular_file_descriptor() < 0
            or not _memdump.available()
        ):
            return None
        try:
            return OffloadedRecords(stream, header, offset(), program)
        except PcapError:
            return None  # libpcap refuses what Python reads: keep filtering in Python


LIBPCAP_FILTERS = LibpcapFilters()


class _NotBreaking:
    break_requested = False


def _ignore(_hdr: Pkthdr, _data: bytes) -> None:
    return None


class _BatchFeed:
    """libpcap's batches of matching records, and where in the file each one began.

    (Its own object, referenced by the dump stream's chunk generator, so that no reference
    cycle holds the file open.)
    """

    def __init__(self, reader: _memdump.MemoryDumpReader, offset: int) -> None:
        self.reader = reader
        self.batch = b""
        self.batch_start = offset  # file offset where the current batch's reading began
        self.batch_base = 0  # dump-stream offset of the current batch
        self.dumped = 0
        self.failed_at: Optional[int] = None

    def batches(self) -> Iterator[bytes]:
        reader = self.reader
        while True:
            start = reader.next_offset
            try:
                count, records = reader.read_batch(BATCH_PACKETS)
            except PcapError:
                self.failed_at = start  # this batch is re-read in Python
                count = 0
            if count == 0:
                if self.failed_at is None:  # the end: every record has been examined
                    self.batch, self.batch_base = b"", self.dumped
                    self.batch_start = reader.next_offset
                reader.close()
                return
            self.batch, self.batch_start, self.batch_base = records, start, self.dumped
            self.dumped += len(records)
            yield records


class OffloadedRecords:
    """Classic pcap records filtered by libpcap, parsed in Python (see the module docstring)."""

    def __init__(
        self, stream: ByteSource, header: PcapFileHeader, offset: int, program: BPFProgram
    ) -> None:
        fd = stream.regular_file_descriptor()
        if fd < 0:
            raise TypeError("only classic pcap files with a regular file descriptor are offloaded")
        self._stream = stream
        self._header = header
        self._program = program
        reader = _memdump.MemoryDumpReader(fd, offset, header.nanosecond, program.instructions)
        self._feed = _BatchFeed(reader, offset)
        self._dump = PcapRecordStream(_dump_header(header), self._feed.batches(), b"", 0)
        self._fallback: Optional[PcapRecordStream] = None
        # Weakly: the generator refers to this object, and whoever iterates holds the generator.
        self._running: Optional[weakref.ref[Generator[Packet, None, None]]] = None

    def _restart_at(self, offset: int) -> PcapRecordStream:
        return restart_pcap(self._stream, self._header, offset)

    def _take_over(self) -> PcapRecordStream:
        """After a libpcap error: the pure-Python engine from the failed batch's start."""
        if self._fallback is None:
            assert self._feed.failed_at is not None
            self._fallback = self._restart_at(self._feed.failed_at)
        return self._fallback

    # RecordStream ---------------------------------------------------------------------
    def iterate(
        self, packet_filter: Optional[BPFProgram] = None, until_break: Optional[Breakable] = None
    ) -> Iterator[Packet]:
        """The remaining matching packets (the filter is the one given at construction); with
        ``until_break``, up to a ``breakloop()`` (consumed)."""
        self.park()
        running = _iterate(self, None if until_break is None else _BreakWatch(until_break))
        self._running = weakref.ref(running)
        return running

    def drive(
        self,
        packet_filter: Optional[BPFProgram],
        callback: Callable[..., object],
        cnt: int,
        source: Breakable,
        *,
        counted: bool = True,
    ) -> int:
        """Call ``callback`` for up to ``cnt`` matching packets; return how many (0 when not
        ``counted`` and ``cnt <= 0``)."""
        self.park()
        delivered = 0
        if self._fallback is None:
            delivered = self._dump.drive(None, callback, cnt, source, counted=counted)
            if self._feed.failed_at is None or (0 < cnt <= delivered):
                return delivered
            if source.break_requested:
                return delivered
        rest = cnt - delivered if cnt > 0 else cnt
        return delivered + self._take_over().drive(
            self._program, callback, rest, source, counted=counted
        )

    def next_batch(
        self, packet_filter: Optional[BPFProgram], max_packets: int
    ) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` matching packets in pcapy-ng's batch layout."""
        return pack_batch(self.iterate(packet_filter), max_packets)

    @property
    def exhausted(self) -> bool:
        """Whether the filtered packets ran out (or failed), as the record streams say."""
        if self._fallback is not None:
            return self._fallback.exhausted
        return self._dump.exhausted and self._feed.failed_at is None

    @property
    def failure(self) -> Optional[SavefileError]:
        """The error that ended the stream (found by the Python engine after libpcap's)."""
        return self._fallback.failure if self._fallback is not None else None

    def set_link_compiler(self, compile_for_link: Optional[LinkTypeCompiler]) -> None:
        """Nothing to compile: a classic pcap file has one link type."""

    def resume_offset(self) -> int:
        """The file offset right after the last packet examined."""
        self.park()
        if self._fallback is not None:
            return self._fallback.resume_offset()
        feed = self._feed
        consumed = self._dump.resume_offset() - feed.batch_base
        already = count_records(feed.batch[:consumed]) if consumed > 0 else 0
        if already == 0:
            return feed.batch_start
        replay = self._restart_at(feed.batch_start)
        replay.drive(self._program, _ignore, already, _NotBreaking())
        return replay.resume_offset()

    def park(self) -> None:
        """Stop the running generator where it is (its record loop keeps its place)."""
        running = self._running() if self._running is not None else None
        if running is not None:
            running.close()  # the record loop inside saves its place (ValueError: see _pcap)
        self._running = None


class _BreakWatch:
    """A ``Breakable`` that notes whether the loop it is given ended at a ``breakloop()``
    (which the loop consumes, so the flag alone cannot tell afterwards)."""

    __slots__ = ("_source", "broke")

    def __init__(self, source: Breakable) -> None:
        self._source = source
        self.broke = False

    @property
    def break_requested(self) -> bool:
        return self._source.break_requested

    @break_requested.setter
    def break_requested(self, value: bool) -> None:
        self.broke = self.broke or not value
        self._source.break_requested = value


def _iterate(
    records: OffloadedRecords, until_break: Optional[_BreakWatch]
) -> Generator[Packet, None, None]:
    # A function, not a method, so that the generator holds no bound method of `records`
    # beyond the references it needs (see _BatchFeed).
    if records._fallback is None:
        yield from records._dump.iterate(None, until_break)
        if records._feed.failed_at is None or (until_break is not None and until_break.broke):
            return
    yield from records._take_over().iterate(records._program, until_break)


def _dump_header(file_header: PcapFileHeader) -> PcapFileHeader:
    """How pcap_dump lays records out: this machine's byte order, 16-byte headers, caplen
    already clipped to the file's snapshot length and pseudo-headers already fixed up."""
    return dataclasses.replace(
        file_header,
        byte_order=_HOST_ORDER,
        kuznetzov=False,
        version_major=2,
        version_minor=4,
        snaplen=file_header.snapshot,
    )
