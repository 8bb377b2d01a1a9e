"""``split`` and ``read_range``: a capture file as exact byte ranges, each readable on its own.

``split(path, n)`` cuts the file at ``n - 1`` evenly spaced offsets and moves each cut to the
first record (pcapng: packet block) at or after it that the reader passes when it reads the
file from its start: found by walking the record headers (``_boundaries``), or read from the
file's range index when it has a matching one (``_range_index``). So a range's start is never
a guess: ``read_range`` of any one range alone gives exactly the file's packets between its
start and its end. A cut past the point where the reader stops (a damaged or truncated record)
is dropped: the range before grows to the end and raises the reader's error when read. gzip
files cannot be entered in the middle: they are one range.

``read_range(path, byte_range)`` opens a Reader over exactly that range: the context pieces (the
file header, or the section's SHB and IDBs) followed by the range's bytes, read as one savefile.
"""

from __future__ import annotations

import bisect
import os
from typing import IO, TYPE_CHECKING, Optional, Union

from ._args import as_positive_int
from ._boundaries import Boundary, boundaries, file_kind, first_offset
from ._errors import PcapError
from ._range_index import load_index
from ._reader import Reader, engine_of
from ._split import ByteRange

if TYPE_CHECKING:
    from ._savefile._stream import ByteSource

PathLike = Union[str, "os.PathLike[str]"]


def split(path: PathLike, n: int, index: Optional[PathLike] = None) -> list[ByteRange]:
    """At most ``n`` byte ranges covering every packet of ``path`` once, in order.

    Each range starts where the reader passes when reading the whole file (see
    ``pcapy._boundaries``); the packets of ``read_range(path, r)`` for every range, in order,
    are the packets of the whole file. The boundaries come from the file's range index
    (``index``, or ``path + ".pcapy-index"`` when it exists and matches the file; see
    ``build_index``), else from a walk of the file's record headers. A gzip-compressed file
    is one range.
    """
    n = as_positive_int("n", n)
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        kind = file_kind(f.read(64))
    if kind is None or (kind == "pcapng" and n == 1):
        return [ByteRange(0, size, whole=True)]  # gzip, one-range pcapng, other: as it is
    first = first_offset(kind)
    cuts = sorted({first + (size - first) * i // n for i in range(1, n)})
    return ranges_at(path, cuts, index)


def ranges_at(path: PathLike, cuts: list[int], index: Optional[PathLike] = None,
              ) -> list[ByteRange]:
    """The ranges of a classic pcap or pcapng file cut at the first boundary at or after each of
    the sorted ``cuts`` (``split``'s work, for any cuts)."""
    path = os.fspath(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        kind = file_kind(f.read(64))
        if kind is None:
            raise PcapError(f"{path}: not a pcap or pcapng file")
        found = _boundaries_of(path, f, size, cuts, index)
    first = first_offset(kind)
    starts: list[Boundary] = [(first, ((0, first),) if first else ())]
    for offset, context in found:
        if starts[-1][0] < offset < size:
            starts.append((offset, context))
    ends = [offset for offset, _ in starts[1:]] + [size]
    return [ByteRange(start, end, context) for (start, context), end in zip(starts, ends)]


def _boundaries_of(path: str, f: IO[bytes], size: int, cuts: list[int],
                   index: Optional[PathLike]) -> list[Boundary]:
    """The boundary for each cut, from the index when there is one, else by walking ``f``."""
    loaded = load_index(path, index)
    if loaded is None:
        return boundaries(f, size, cuts)
    points = loaded.points
    offsets = [offset for offset, _ in points]
    found = []
    for cut in cuts:
        at = bisect.bisect_left(offsets, cut)
        if at < len(points):
            found.append(points[at])
    return found


class RangeFile:
    """A read-only binary file object: the context pieces, then the range, of a file on disk.

    ``bytes_read`` counts what was read from the file (context included). ``readinto`` fills a
    buffer straight from the file, across pieces (``reads_plain_file``: the savefile engine's
    columnar walk uses it, so a range costs no more copies than the whole file read by path).
    """

    reads_plain_file = True

    def __init__(self, path: str, byte_range: ByteRange) -> None:
        self.name = f"{path}[{byte_range.start}:{byte_range.end}]"
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        pieces = list(byte_range.context)
        if byte_range.whole:
            pieces = [(0, byte_range.end)]
        else:
            pieces.append((byte_range.start, byte_range.end - byte_range.start))
        self._pieces = pieces
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        while self._pieces:
            offset, left = self._pieces[0]
            if left <= 0:
                self._pieces.pop(0)
                continue
            want = left if size < 0 else min(size, left)
            self._file.seek(offset)
            data = self._file.read(want)
            if not data:
                self._pieces.pop(0)  # the file is shorter than the range: its end
                continue
            self._consumed(len(data))
            return data
        return b""

    def readinto(self, buffer: memoryview) -> int:
        filled = 0
        while self._pieces and filled < len(buffer):
            offset, left = self._pieces[0]
            want = min(len(buffer) - filled, left)
            self._file.seek(offset)
            got = self._file.readinto(buffer[filled:filled + want]) if want > 0 else 0
            if not got:
                self._pieces.pop(0)  # the piece is read, or the file is shorter than the range
                continue
            self._consumed(got)
            filled += got
        return filled

    def remaining(self) -> int:
        """Bytes of the pieces not read yet."""
        return sum(left for _, left in self._pieces)

    def _consumed(self, size: int) -> None:
        offset, left = self._pieces[0]
        self._pieces[0] = (offset + size, left - size)
        self.bytes_read += size

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._file.close()


def read_range(path: PathLike, byte_range: ByteRange) -> Reader:
    """A Reader over exactly ``byte_range`` of ``path`` (from ``split``): iteration, ``loop``,
    ``setfilter``, ``to_arrow`` all work; it reads only the range and its context."""
    if not isinstance(byte_range, ByteRange):
        raise TypeError(f"byte_range must be a pcapy.ByteRange, not {type(byte_range).__name__}")
    from ._offload import LIBPCAP_FILTERS  # noqa: PLC0415
    from ._savefile import open_savefile  # noqa: PLC0415

    range_file = RangeFile(os.fspath(path), byte_range)
    try:
        # What open_offline(range_file) builds, the file then closed with the source.
        source = open_savefile(range_file, filter_backend=LIBPCAP_FILTERS)  # type: ignore[arg-type]
    except BaseException:
        range_file.close()
        raise
    source.stream.take_ownership()
    return Reader(source)


def _savefile_stream(reader: Reader) -> Optional[ByteSource]:
    """The stream a savefile Reader reads; None for a live capture."""
    from ._savefile import SavefileSource  # noqa: PLC0415

    source = engine_of(reader)
    return source.stream if isinstance(source, SavefileSource) else None


def range_bytes_read(reader: Reader) -> int:
    """How many bytes of its file a ``read_range`` Reader has read so far."""
    stream = _savefile_stream(reader)
    range_file = None if stream is None else stream.file
    if not isinstance(range_file, RangeFile):
        raise PcapError("this Reader was not opened by read_range()")
    return range_file.bytes_read
