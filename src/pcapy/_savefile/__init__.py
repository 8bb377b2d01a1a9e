"""The pure-Python savefile engine: classic pcap, nanosecond pcap and pcapng, read and written.

This package never imports libpcap or cffi: savefile work runs on machines without libpcap.
``open_savefile`` sniffs the format and returns a ``SavefileSource``, the packet source a
``Reader`` consumes; the writers live in ``_writer``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Callable, Optional, Protocol, Union, runtime_checkable

from .._constants import TstampPrecision
from .._errors import SavefileError, TruncatedSavefileError, UnknownFormatError
from .._pkthdr import Pkthdr
from .._source import Breakable, pack_batch
from . import _pcap
from ._stream import ByteSource, PathOrFile, open_stream

if TYPE_CHECKING:
    from .._bpf import BPFProgram

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


@runtime_checkable
class RecordStream(Protocol):
    """An engine's records with a filter that can change between packets (see _pcap)."""

    def iterate(
        self, packet_filter: Optional[BPFProgram] = None
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


class SavefileSource:
    """Packets from a capture file: the savefile engine's side of ``_source.PacketSource``."""

    def __init__(
        self,
        stream: ByteSource,
        dlt: int,
        snapshot: int,
        precision: TstampPrecision,
        packets: Union[RecordStream, Iterator[tuple[Pkthdr, bytes]]],
        file_format: str,
        file_header: Optional[object] = None,
    ) -> None:
        self.stream = stream
        self.dlt = dlt
        self.snapshot = snapshot
        self.precision = precision
        self.file_format = file_format
        self.file_header = file_header
        self.break_requested = False
        if isinstance(packets, RecordStream):
            self._records: Optional[RecordStream] = packets
            self._unfiltered = packets.iterate()
        else:
            self._records = None
            self._unfiltered = packets
        self.packets: Iterator[tuple[Pkthdr, bytes]] = self._unfiltered
        self._filter: Optional[BPFProgram] = None
        #: set by the layer above to hand filtering to libpcap (see pcapy._offload)
        self.offload: Optional[Callable[[SavefileSource, BPFProgram], Optional[RecordStream]]]
        self.offload = None

    @property
    def failure(self) -> Optional[SavefileError]:
        """The error that ended reading, if the file is damaged (raised again on every read)."""
        return getattr(self._records, "failure", None)

    def loop_packets(self) -> Iterator[tuple[Pkthdr, bytes]]:
        """The rest of the file (``loop()`` checks ``break_requested`` between packets)."""
        return self.packets

    def drive(self, cnt: int, callback: Callable[[Pkthdr, bytes], object], *,
              counted: bool = True) -> Optional[int]:
        """Run ``callback`` over up to ``cnt`` packets in the engine's own loop, if it has one.

        Returns the number of packets delivered (0 if ``counted`` is False and ``cnt <= 0``:
        ``loop()`` needs no count), or None when the engine has no driver (the Reader then
        iterates). ``packets`` is a new iterator afterwards.
        """
        if self._records is None:
            return None
        try:
            return self._records.drive(self._filter, callback, cnt, self, counted=counted)
        finally:
            self.packets = self._records.iterate(self._filter)

    def next_batch(self, max_packets: int) -> tuple[bytes, bytes]:
        """Up to ``max_packets`` packets in pcapy-ng's batch layout (see ``Reader.next_batch``)."""
        records = self._records
        batch = getattr(records, "next_batch", None)
        if batch is None:
            return pack_batch(self.packets, max_packets)
        try:
            return batch(self._filter, max_packets)  # type: ignore[no-any-return]
        finally:
            self.packets = records.iterate(self._filter)  # type: ignore[union-attr]

    def dispatch_packets(self, cnt: int) -> Iterator[tuple[Pkthdr, bytes]]:
        """Up to ``cnt`` packets of the rest of the file; all of them for ``cnt <= 0``."""
        return self.packets if cnt <= 0 else islice(self.packets, cnt)

    def install_filter(self, program: BPFProgram) -> None:
        """Keep only packets the program accepts, from the current position on."""
        if self._records is None:
            self.packets = _filtered(self._unfiltered, program.function)
            self._filter = program
            return
        offloaded = self.offload(self, program) if self.offload is not None else None
        if offloaded is not None:
            self._records = offloaded
        elif hasattr(self._records, "resume_offset") and not isinstance(
            self._records, _pcap.PcapRecordStream
        ):
            # An offloaded filter is replaced by one libpcap cannot run: back to Python.
            self._records = self.restart_at(self._records.resume_offset())
        self._filter = program
        self.packets = self._records.iterate(program)

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


def _filtered(
    packets: Iterator[tuple[Pkthdr, bytes]], accept: Callable[[bytes, int], int]
) -> Iterator[tuple[Pkthdr, bytes]]:
    """The packets ``accept(data, wire_length)`` gives a non-zero verdict for."""
    for packet in packets:
        if accept(packet[1], packet[0][3]):
            yield packet


def open_savefile(target: PathOrFile) -> SavefileSource:
    """Open a capture file (path, ``'-'`` or binary file object) of any supported format."""
    stream = open_stream(target)
    try:
        return _open_format(stream)
    except BaseException:
        stream.close()
        raise


def _open_format(stream: ByteSource) -> SavefileSource:
    first = stream.first
    magic = first[:4]
    if magic in _pcap.MAGICS:
        return _open_pcap(stream)
    if magic == PCAPNG_MAGIC:
        from . import _pcapng  # noqa: PLC0415 - only pcapng files pay for importing it

        return _pcapng.open_source(stream, SavefileSource)
    if len(first) < 4:
        raise TruncatedSavefileError(
            f"truncated dump file; tried to read 4 file header bytes, only got {len(first)}",
            offset=len(first),
        )
    raise UnknownFormatError("unknown file format", offset=0)


def _open_pcap(stream: ByteSource) -> SavefileSource:
    header = _pcap.parse_file_header(stream.first[: _pcap.FILE_HEADER_SIZE])
    packets = _pcap.PcapRecordStream(
        header, stream.chunks(), stream.first[_pcap.FILE_HEADER_SIZE :], _pcap.FILE_HEADER_SIZE
    )
    precision = TstampPrecision.NANO if header.nanosecond else TstampPrecision.MICRO
    return SavefileSource(stream, header.dlt, header.snapshot, precision, packets, "pcap", header)
