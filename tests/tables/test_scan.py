"""The classic-pcap block walk of the table output (``_columns_scan``): the same rows as the
serial read where records cross block and piece ends, in both byte orders, from files, gzip
files, pipes and FIFOs; records longer than the snapshot clipped as libpcap clips them; the
careful path's rows and errors for records the walk must not take (an invalid length, a file
cut short); batches kept while later ones are read keep their values (the walk's arrays are
reused)."""

from __future__ import annotations

import gzip
import io
import os
import random
import struct
import threading

import pytest

import pcapy
from helpers import NSEC_MAGIC, USEC_MAGIC, pcap_bytes
from pcapy import _columns_scan, arrow
from pcapy._savefile import _stream
from tables.tables_helpers import CORPUS, serial_read, table_rows

pa = pytest.importorskip("pyarrow")

COLUMNS = ["ts", "caplen", "len", "linktype", "data", "ts_sec", "ts_frac"]


def varied_records(count: int, seed: int) -> list[tuple[int, int, bytes, int]]:
    """Records of 0 to 300 bytes (some a header's length or less), fractions near the top."""
    rng = random.Random(seed)
    records = []
    for i in range(count):
        size = rng.choice([0, 1, 11, 12, 15, 16, 17, rng.randrange(300)])
        data = bytes(rng.randrange(256) for _ in range(size))
        records.append((1_700_000_000 + i, rng.randrange(999_999), data, size + rng.randrange(3)))
    return records


def rows_and_error(path, batch_size):
    rows, error = [], None
    try:
        stream = pcapy.open_offline(path).to_arrow(batch_size=batch_size, columns=COLUMNS)
        for batch in stream:
            assert batch.num_rows <= batch_size
            rows += table_rows([batch])
    except pcapy.PcapError as err:
        error = type(err).__name__
    return rows, error


@pytest.fixture(params=[100, 1 << 20], ids=["pieces-100", "whole-blocks"])
def small_blocks(monkeypatch, request):
    """Blocks of 1 KiB: every file of these tests spans many, and records cross their ends;
    read into in pieces of 100 bytes (records cross those too) or whole."""
    monkeypatch.setattr(_columns_scan, "BLOCK_SIZE", 1024)
    monkeypatch.setattr(_columns_scan, "PIECE_SIZE", request.param)
    monkeypatch.setattr(_columns_scan._Heads, "GATHER_ROWS", 3)  # heads copied out 3 at a time


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("magic", [USEC_MAGIC, NSEC_MAGIC])
@pytest.mark.parametrize("batch_size", [1, 2, 5, 7, 64, 65536])
def test_rows_are_the_serial_read_in_both_byte_orders(tmp_path, order, magic, batch_size):
    path = tmp_path / "varied.pcap"
    path.write_bytes(pcap_bytes(varied_records(300, seed=batch_size), order=order, magic=magic))
    expected, error = serial_read(path)
    assert error is None and len(expected) == 300
    assert rows_and_error(path, batch_size) == (expected, None)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("batch_size", [7, 65536])
def test_records_across_many_blocks_after_the_first_chunk(tmp_path, batch_size):
    # The engine's first chunk (256 KiB) joins the first block: past it, blocks of 1-4 KiB
    # (growing with the batch) end inside records again and again.
    path = tmp_path / "long.pcap"
    path.write_bytes(pcap_bytes(varied_records(14000, seed=batch_size)))
    assert path.stat().st_size > 2 * _stream.CHUNK_SIZE
    expected, error = serial_read(path)
    assert error is None and len(expected) == 14000
    assert rows_and_error(path, batch_size) == (expected, None)


@pytest.mark.usefixtures("small_blocks")
def test_rows_are_the_serial_read_from_a_gzip_file(tmp_path):
    # Not a plain file: the blocks are filled from the decompressed chunks, not readinto
    path = tmp_path / "varied.pcap.gz"
    path.write_bytes(gzip.compress(pcap_bytes(varied_records(500, seed=11))))
    expected, error = serial_read(path)
    assert error is None and len(expected) == 500
    assert rows_and_error(path, 64) == (expected, None)


def test_a_gzip_file_gives_full_batches(tmp_path):
    # Its reads give all they are asked for: the walk does not stop after each piece as it
    # does where a read came short from a pipe (the first batch is the engine's first chunk)
    path = tmp_path / "many.pcap.gz"
    records = [(1_700_000_000, i % 1_000_000, bytes([i % 256]) * 200, 200) for i in range(20_000)]
    path.write_bytes(gzip.compress(pcap_bytes(records)))  # 4.3 MB: five 1 MiB pieces or so
    batches = list(pcapy.open_offline(path).to_arrow(columns=["ts"]))
    assert sum(batch.num_rows for batch in batches) == 20_000
    assert len(batches) == 2


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("where", [0, 1, 150, 299])
def test_a_record_longer_than_the_snapshot_is_clipped_as_libpcap_clips_it(tmp_path, order,
                                                                           where):
    records = varied_records(300, seed=where)
    long = bytes(range(200))
    records[where] = (1_700_000_000, 5, long, 200)
    path = tmp_path / "long.pcap"
    path.write_bytes(pcap_bytes(records, snaplen=100, order=order))
    expected, error = serial_read(path)
    assert error is None and expected[where][2] == 100  # libpcap clips it to the snapshot
    assert rows_and_error(path, 7) == (expected, None)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("cut", [1, 8, 12, 15, 16, 17, 40])
def test_a_file_cut_short_gives_the_serial_rows_and_error(tmp_path, cut):
    data = pcap_bytes(varied_records(200, seed=cut) + [(1, 2, bytes(50), 50)])
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:len(data) - 66 + cut])  # inside the last record (16 + 50 bytes)
    expected, error = serial_read(path)
    assert len(expected) == 200
    assert rows_and_error(path, 9) == (expected, error)


def test_records_longer_than_the_snapshot_cost_no_batch_each(tmp_path):
    # Every record is clipped (the snapshot is 50 bytes): they stay in the walk, in full
    # batches. (They went one by one to the careful reader, each with a copy of the rest of
    # the block: 32,000 such records of 100 bytes took 135 s.)
    records = [(1_700_000_000 + i, i, bytes([i % 251]) * (51 + i % 200), 400)
               for i in range(3000)]
    path = tmp_path / "clipped.pcap"
    path.write_bytes(pcap_bytes(records, snaplen=50))
    expected, error = serial_read(path)
    assert error is None and len(expected) == 3000
    assert all(row[2] == 50 for row in expected)
    batches = list(pcapy.open_offline(path).to_arrow(batch_size=1000, columns=COLUMNS))
    assert [batch.num_rows for batch in batches] == [1000, 1000, 1000]
    assert table_rows(batches) == expected


@pytest.mark.parametrize("block_size", [1024, _columns_scan.BLOCK_SIZE])
@pytest.mark.parametrize("caplen", [0x7FFFFFF0, 262_145], ids=["past-the-end", "in-the-file"])
def test_a_damaged_caplen_mid_file_stops_where_the_serial_read_does(tmp_path, monkeypatch,
                                                                     caplen, block_size):
    # 262,145 is one more than Ethernet's maximum. In a whole block that record lies wholly in
    # the file (its bytes follow): the walk takes it and the batch is cut before it
    monkeypatch.setattr(_columns_scan, "BLOCK_SIZE", block_size)
    data = bytearray(pcap_bytes(varied_records(200, seed=3)))
    position = 24
    for _ in range(120):  # the 121st record's caplen becomes too long
        position += 16 + struct.unpack_from("<I", data, position + 8)[0]
    struct.pack_into("<I", data, position + 8, caplen)
    data += bytes(300_000)
    path = tmp_path / "damaged.pcap"
    path.write_bytes(bytes(data))
    expected, error = serial_read(path)
    assert len(expected) == 120 and error is not None
    assert rows_and_error(path, 16) == (expected, error)


class Pausing(io.RawIOBase):
    """A stream with nothing to give once, at ``pause``, then the rest: a capture still being
    written, read faster than it is written."""

    def __init__(self, data: bytes, pause: int) -> None:
        self._data = io.BytesIO(data)
        self._pause = pause

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        position = self._data.tell()
        if position == self._pause:
            self._pause = -1
            return b""
        if position < self._pause:
            size = min(self._pause - position, size if size >= 0 else self._pause)
        return self._data.read(size)

    read1 = read


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("pause_in", [0, 1, 16, 50])
def test_a_stream_that_ends_for_a_moment_ends_the_rows_where_the_serial_read_ends(pause_in):
    # The stream gives nothing inside record 100 (or at its start): as for libpcap and the
    # serial read, that is its end (a clean one, or a record cut short), for good
    records = varied_records(200, seed=pause_in)
    data = pcap_bytes(records)
    pause = len(pcap_bytes(records[:100])) + min(pause_in, len(records[100][2]) + 15)
    expected, error = serial_read(Pausing(data, pause))
    assert len(expected) == 100 and (error is None) == (pause_in == 0)
    assert rows_and_error(Pausing(data, pause), 64) == (expected, error)


@pytest.mark.parametrize("way", ["fifo", "pipe"])
def test_a_capture_still_being_written_comes_out_as_it_comes(tmp_path, way):
    # The writer gives 120 records, then waits until the reader has had a batch: a walk that
    # waited for a full block (or batch) before yielding would wait for ever (here: 60 s)
    records = varied_records(300, seed=5)
    data = pcap_bytes(records)
    first = len(pcap_bytes(records[:120]))
    whole = tmp_path / "whole.pcap"
    whole.write_bytes(data)
    expected, error = serial_read(whole)
    assert error is None
    go_on = threading.Event()
    waited = []

    def write(opener):
        with opener() as stream:
            stream.write(data[:first])
            stream.flush()
            waited.append(go_on.wait(60))
            stream.write(data[first:])

    if way == "fifo":  # a path pcapy opens: read with readinto
        source = tmp_path / "capture.fifo"
        os.mkfifo(source)
        writer = threading.Thread(target=write, args=(lambda: open(source, "wb"),))
    else:  # a file object
        reading, writing = os.pipe()
        source = os.fdopen(reading, "rb")
        writer = threading.Thread(target=write, args=(lambda: os.fdopen(writing, "wb"),))
    writer.start()
    try:
        reader = pcapy.open_offline(source)
        batches = reader.to_arrow(batch_size=1000, columns=COLUMNS)
        got = table_rows([batches.read_next_batch()])
        go_on.set()
        rest = table_rows(batches)
        reader.close()
    finally:
        go_on.set()
        writer.join(60)
        if way == "pipe":
            source.close()
    assert waited == [True]
    assert 0 < len(got) <= 120
    assert got + rest == expected


@pytest.mark.parametrize("gather_rows", [3, 4096])
def test_batches_kept_while_later_ones_are_read_keep_their_values(monkeypatch, gather_rows):
    # The walk copies each batch's heads into arrays it reuses for the next batch: no column
    # of a batch may point into them. Every column, the decoded ones too.
    path = CORPUS / "pcap" / "example.pcap"  # 4,631 packets: Ethernet, IPv4 and IPv6
    if not path.exists():
        pytest.skip(f"the corpus is not at {CORPUS}")
    monkeypatch.setattr(_columns_scan._Heads, "GATHER_ROWS", gather_rows)
    columns = ["ts_sec", "ts_frac", *arrow.schema("pcap").names]
    kept = list(pcapy.open_offline(str(path)).to_arrow(batch_size=1000, columns=columns))
    one_by_one = [batch.to_pylist() for batch in
                  pcapy.open_offline(str(path)).to_arrow(batch_size=1000, columns=columns)]
    assert [batch.to_pylist() for batch in kept] == one_by_one
    assert sum(map(len, one_by_one)) == 4631
    assert table_rows(kept) == serial_read(path)[0]


def test_two_walks_at_once_and_one_after_another_keep_their_own_rows(monkeypatch):
    # A walk's arrays go back to a pool when it ends and serve the next walk (a walk takes
    # them from the pool, so two at once each have their own): rows are right either way.
    path = CORPUS / "pcap" / "example.pcap"
    if not path.exists():
        pytest.skip(f"the corpus is not at {CORPUS}")
    monkeypatch.setattr(_columns_scan._Heads, "GATHER_ROWS", 5)
    monkeypatch.setattr(_columns_scan, "_SPARE_HEADS", [])
    columns = ["ts_sec", "ts_frac", *arrow.schema("pcap").names]
    alone = pcapy.open_offline(str(path)).to_arrow(batch_size=700, columns=columns).read_all()
    first = pcapy.open_offline(str(path)).to_arrow(batch_size=700, columns=columns)
    second = pcapy.open_offline(str(path)).to_arrow(batch_size=300, columns=columns)
    batches = {1: [], 2: []}
    for one, two in zip(first, second):  # batches of the two walks taken in turn
        batches[1].append(one)
        batches[2].append(two)
    batches[2] += list(second)
    assert len(_columns_scan._SPARE_HEADS) == 2  # both walks ended; the first's were reused
    for kept in batches.values():
        assert pa.Table.from_batches(kept).to_pylist() == alone.to_pylist()


def test_the_first_block_is_sized_from_the_records_read_ahead(tmp_path, monkeypatch):
    # 30,000 records of 700 bytes (21 MB): sized from the engine's first chunk, the first
    # block takes the whole file for batches of 65,536 (one batch, not 8 MiB and the rest:
    # a Dask range of tens of MB is one batch); for batches of 4,096 it stays 8 MiB.
    path = tmp_path / "even.pcap"
    path.write_bytes(pcap_bytes((1_700_000_000 + i, i % 1_000_000, bytes([i % 256]) * 684, 684)
                                for i in range(30000)))
    sizes = [batch.num_rows for batch in
             pcapy.open_offline(str(path)).to_arrow(batch_size=65536, columns=["len"])]
    assert sizes == [30000]
    blocks = []
    block = _columns_scan._Block
    monkeypatch.setattr(_columns_scan, "_Block", lambda stream, tail, want, **kw:
                        blocks.append(want) or block(stream, tail, want, **kw))
    sizes = [batch.num_rows for batch in
             pcapy.open_offline(str(path)).to_arrow(batch_size=4096, columns=["len"])]
    assert sum(sizes) == 30000 and max(sizes) == 4096
    assert set(blocks) == {_columns_scan.BLOCK_SIZE}  # each block, the first too
