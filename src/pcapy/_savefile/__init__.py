"""The pure-Python savefile engine: classic pcap, nanosecond pcap and pcapng, read and written.

This package never imports libpcap or cffi: savefile work runs on machines without libpcap.
``open_savefile`` sniffs the format and returns a ``SavefileSource``, the packet source a
``Reader`` consumes; the writers live in ``_writer``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from .._constants import TstampPrecision
from .._errors import SavefileError, TruncatedSavefileError, UnknownFormatError
from .._pkthdr import Pkthdr
from .._source import AfterEnd, Breakable, Busy, LinkTypeCompiler, Raising, SavefileFacts
from . import _pcap
from ._stream import ByteSource, PathOrFile, open_stream

if TYPE_CHECKING:
    from .._bpf import BPFProgram

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


class RecordStream(Protocol):
    """An engine's records with a filter that can change between packets (see ``_pcap``).

    ``iterate`` returns a generator from the current position (ending at a ``breakloop()`` when
    given ``until_break``), ``drive`` runs callbacks in the engine's own loop, ``next_batch``
    takes pcapy-ng's batches; starting any of them parks the generator running before
    (``park``: it is closed at the packet it last returned, and the next read starts after
    it). ``resume_offset`` is the file offset of the next record.
    ``set_link_compiler`` says how the filter about to be installed is compiled for the
    stream's other link types (pcapng: see ``_pcapng_filters``; a classic pcap file has one).
    """

    @property
    def failure(self) -> Optional[SavefileError]: ...

    @property
    def exhausted(self) -> bool: ...

    def iterate(
        self, packet_filter: Optional[BPFProgram] = None, until_break: Optional[Breakable] = None
    ) -> Iterator[tuple[Pkthdr, bytes]]: ...

    def drive(
        self,
        packet_filter: Optional[BPFProgram],
        callback: Callable[[Pkthdr, bytes], object],
        cnt: int,
        source: Breakable,
        *,
        counted: bool = True,
    ) -> int: ...

    def next_batch(
        self, packet_filter: Optional[BPFProgram], max_packets: int
    ) -> tuple[bytes, bytes]: ...

    def park(self) -> None: ...

    def resume_offset(self) -> int: ...

    def set_link_compiler(self, compile_for_link: Optional[LinkTypeCompiler]) -> None: ...


class FilterBackend(Protocol):
    """Runs a classic pcap file's filter elsewhere than the Python record loop (libpcap, in
    ``pcapy._offload``), given to the source when it is built.

    ``filtered_records`` returns a record stream of the packets ``program`` accepts from the
    record at ``offset()`` on, or None to filter in Python. ``offset`` parks the running
    stream, so it is called only once the backend knows it can take the file.
    """

    def filtered_records(
        self,
        stream: ByteSource,
        header: _pcap.PcapFileHeader,
        offset: Callable[[], int],
        program: BPFProgram,
    ) -> Optional[RecordStream]: ...


class SavefileSource:
    """Packets from a capture file: the savefile engine's side of ``_source.PacketSource``."""

    def __init__(
        self,
        stream: ByteSource,
        dlt: int,
        snapshot: int,
        precision: TstampPrecision,
        records: RecordStream,
        file_format: str,
        file_header: Optional[SavefileFacts] = None,
        *,
        filter_backend: Optional[FilterBackend] = None,
    ) -> None:
        self.stream = stream
        self.dlt = dlt
        self.snapshot = snapshot
        self.precision = precision
        self.file_format = file_format
        self.file_header = file_header
        self.break_requested = False
        self._records = records
        self._filter_backend = filter_backend
        self._offloaded = False  # whether _records is the filter backend's
        self.packets: Iterator[tuple[Optional[Pkthdr], bytes]] = records.iterate()
        self._filter: Optional[BPFProgram] = None
        # What next_runs() handed out last, and the generator an iteration runs (which, unlike
        # the others, can end at a breakloop() before the end of the file).
        self._handed: object = None
        self._iteration: object = None
        # Starting a run (parking the last, making the next) is one step for other threads.
        self._turns = threading.RLock()

    @property
    def failure(self) -> Optional[SavefileError]:
        """The error that ended reading, if the file is damaged (raised again on every read)."""
        return self._records.failure

    def loop_packets(self) -> Iterator[tuple[Pkthdr, bytes]]:
        """The rest of the file, up to a ``breakloop()`` (consumed): a Reader's iteration.

        It becomes ``packets``: ``next()`` called during the iteration takes the packet after
        the one the iteration returned last, and the iteration goes on after it.
        """
        with self._turns:
            self.packets = self._iteration = self._records.iterate(self._filter, self)
            return self.packets

    def next_runs(self) -> Iterator[Iterator[tuple[Optional[Pkthdr], bytes]]]:
        """The iterators ``next()`` reads, one after the other (see ``_next_run``)."""
        return iter(self._next_run, None)

    def _next_run(self) -> Iterator[tuple[Optional[Pkthdr], bytes]]:
        """What ``next()`` reads once the iterator it was reading has ended: ``packets`` if it
        is new (a loop, filter or iteration replaced it), a fresh one after one that ended before
        the end of the file (an iteration's ``breakloop()``, an exception that went through its
        generator), else ``AfterEnd``, which never ends. ``Busy`` (another thread's loop runs)
        and ``AfterEnd`` are handed again as they are: no generator is made while a loop reads.

        It never raises: an exception here would end the chain ``next()`` reads for good
        (itertools.chain drops its source), so it is handed over as a run that raises it once.
        """
        try:
            with self._turns:
                run: Iterator[tuple[Optional[Pkthdr], bytes]] = self.packets
                if run is self._handed and not isinstance(run, (Busy, AfterEnd)):
                    if run is self._iteration or not self._records.exhausted:
                        # an iteration's break, or an exception (KeyboardInterrupt) that went
                        # through the generator: the file goes on from where it stopped
                        self.packets = run = self._records.iterate(self._filter)
                        self._iteration = None
                    else:
                        self.packets = run = AfterEnd(self._records)
                self._handed = run
                return run
        except BaseException as err:  # handed to the reader: see above
            return Raising(err)

    def run_callbacks(self, cnt: int, callback: Callable[[Pkthdr, bytes], object], *,
                      dispatch: bool) -> int:
        """Run ``callback`` over up to ``cnt`` packets (all for ``cnt <= 0``) in the engine's
        own loop. ``dispatch()`` and ``loop()`` mean the same for a savefile, except that
        ``loop()`` needs no count: it keeps none (and returns 0) when ``cnt <= 0``. A
        ``breakloop()`` that ended the run is consumed. ``packets`` is a new iterator afterwards.
        """
        with self._reading_whole():
            count = self._records.drive(self._filter, callback, cnt, self, counted=dispatch)
        self.break_requested = False
        return count

    @contextlib.contextmanager
    def _reading_whole(self) -> Iterator[None]:
        """A read that runs the records without ``packets`` (a loop, a batch, a new filter):
        the running generator is parked first (ValueError if another thread is inside it:
        nothing changes), ``next()`` raises ``Busy``'s ValueError meanwhile, and ``packets``
        is a new generator afterwards. (``Reader`` runs one whole-call read at a time.)"""
        self._begin_whole_read()
        try:
            yield
        finally:
            self._end_whole_read()

    def _begin_whole_read(self) -> None:
        with self._turns:
            before = self.packets
            self.packets = Busy(self)
            try:
                self._records.park()
            except BaseException:
                self.packets = before
                raise

    def _end_whole_read(self) -> None:
        with self._turns:
            self.packets = self._records.iterate(self._filter)

    def next_batch(self, max_packets: int) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` packets in pcapy-ng's batch layout (see ``Reader.next_batch``).
        A whole read (``_reading_whole``), spelled out: it runs once a batch."""
        self._begin_whole_read()
        try:
            return self._records.next_batch(self._filter, max_packets)
        finally:
            self._end_whole_read()

    def install_filter(
        self, program: BPFProgram, compile_for_link: Optional[LinkTypeCompiler] = None
    ) -> None:
        """Keep only packets the program accepts, from the current position on; a pcapng
        file's packets of another link type than the program's are run through the same
        expression compiled for theirs by ``compile_for_link`` (rejected without one)."""
        with self._reading_whole():
            self._install(program, compile_for_link)

    def _install(
        self, program: BPFProgram, compile_for_link: Optional[LinkTypeCompiler]
    ) -> None:
        header, backend = self.file_header, self._filter_backend
        offloaded = None
        if backend is not None and isinstance(header, _pcap.PcapFileHeader):
            offloaded = backend.filtered_records(
                self.stream, header, self._records.resume_offset, program
            )
        if offloaded is not None:
            self._records = offloaded
        elif self._offloaded:
            # An offloaded filter is replaced by one libpcap cannot run: back to Python.
            self._records = self.restart_at(self._records.resume_offset())
        self._offloaded = offloaded is not None
        self._filter = program
        self._records.set_link_compiler(compile_for_link)

    def unfiltered_pcap_records(self) -> Optional[_pcap.PcapRecordStream]:
        """The classic pcap records this source reads in Python with no filter set, or None
        (pcapng, a filter, libpcap's records): what a walk of its own may take over (the
        table output's, in ``pcapy._columns_scan``)."""
        records = self._records
        if self._filter is not None or not isinstance(records, _pcap.PcapRecordStream):
            return None
        return records

    def restart_at(self, offset: int) -> _pcap.PcapRecordStream:
        """A fresh classic-pcap record stream reading the file from ``offset`` (plain files)."""
        if not isinstance(self.file_header, _pcap.PcapFileHeader):
            raise TypeError("restart_at() applies to classic pcap files")
        return restart_pcap(self.stream, self.file_header, offset)

    def breakloop(self) -> None:
        """Make the running ``loop()``/``dispatch()`` return after the current packet."""
        self.break_requested = True

    def fileno(self) -> int:
        """The descriptor being read, or -1."""
        return self.stream.fileno()

    def close(self) -> None:
        """Close the file if this source opened it."""
        self.stream.close()


def restart_pcap(
    stream: ByteSource, header: _pcap.PcapFileHeader, offset: int
) -> _pcap.PcapRecordStream:
    """A classic-pcap record stream reading ``stream`` (a plain file) from ``offset``."""
    stream.seek(offset)
    return _pcap.PcapRecordStream(header, stream.chunks(), b"", offset)


def open_savefile(
    target: PathOrFile, *, filter_backend: Optional[FilterBackend] = None
) -> SavefileSource:
    """Open a capture file (path, ``'-'`` or binary file object) of any supported format.

    ``filter_backend``, if given, may take over a classic pcap file's filters (see
    ``FilterBackend``); without one, filters run in Python.
    """
    stream = open_stream(target)
    try:
        return _open_format(stream, filter_backend)
    except BaseException:
        stream.close()
        raise


def _open_format(stream: ByteSource, filter_backend: Optional[FilterBackend]) -> SavefileSource:
    first = stream.first
    magic = first[:4]
    if magic in _pcap.MAGICS:
        return _open_pcap(stream, filter_backend)
    if magic == PCAPNG_MAGIC:
        from . import _pcapng  # noqa: PLC0415 - only pcapng files pay for importing it

        return _pcapng.open_source(stream, SavefileSource)
    if len(first) < 4:
        raise TruncatedSavefileError(
            f"truncated dump file; tried to read 4 file header bytes, only got {len(first)}",
            offset=len(first),
        )
    raise UnknownFormatError("unknown file format", offset=0)


def _open_pcap(stream: ByteSource, filter_backend: Optional[FilterBackend]) -> SavefileSource:
    header = _pcap.parse_file_header(stream.first[: _pcap.FILE_HEADER_SIZE])
    packets = _pcap.PcapRecordStream(
        header, stream.chunks(), stream.first[_pcap.FILE_HEADER_SIZE :], _pcap.FILE_HEADER_SIZE
    )
    precision = TstampPrecision.NANO if header.nanosecond else TstampPrecision.MICRO
    return SavefileSource(stream, header.dlt, header.snapshot, precision, packets, "pcap", header,
                          filter_backend=filter_backend)
