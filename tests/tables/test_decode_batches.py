"""The decoded columns of a packet do not depend on the batch it is decoded in.

The decoder skips the work of link types, tags and extension headers no packet of a batch has;
a batch mixing every link type it knows, with packets cut short at every length, must give each
packet the columns it gets alone (a batch of one).
"""

from __future__ import annotations

import pytest

import pcapy
from pcapy import arrow
from tables.tables_helpers import CORPUS, corpus_paths

pa = pytest.importorskip("pyarrow")

RAW = ["ts", "caplen", "len", "linktype", "data"]
KNOWN_LINKS = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276}
PER_FILE = 12
CUTS = (0, 1, 4, 13, 14, 15, 17, 20, 24, 33, 34, 38, 41, 54, 58, 61, 62, 66, 70)


def known_link_packets() -> pa.Table:
    """Up to PER_FILE packets of every classic pcap corpus file of a link type the decoder
    knows (their raw columns) and the tagged, labelled and PPPoE frames of
    test_decode_encapsulations, then every one of them cut short at each of CUTS bytes."""
    encapsulations = pytest.importorskip("tables.test_decode_encapsulations")
    tables = [pa.RecordBatch.from_pylist(
        [{"ts": 0, "caplen": len(data), "len": len(data), "linktype": 1, "data": data}
         for data, _ in encapsulations.frames()], schema=arrow.schema("pcap", RAW))]
    for name in corpus_paths("pcap"):
        try:
            reader = pcapy.open_offline(CORPUS / name)
            if reader.datalink() not in KNOWN_LINKS:
                continue
            tables.append(reader.to_arrow(batch_size=PER_FILE, columns=RAW).read_next_batch())
        except (pcapy.PcapError, StopIteration):
            continue
    whole = pa.Table.from_batches(tables).combine_chunks()
    rows = whole.to_pylist()
    cut = [{**row, "caplen": min(row["caplen"], size), "data": row["data"][:size]}
           for size in CUTS for row in rows]
    return pa.Table.from_pylist(rows + cut, schema=whole.schema)


def decoded_rows(path, batch_size):
    stream = pcapy.open_offline(path).to_arrow(batch_size=batch_size,
                                                columns=[*RAW, *arrow.DECODED_COLUMNS])
    return [row for batch in stream for row in batch.to_pylist()]


def test_a_batch_of_every_link_type_and_cut_gives_each_packet_its_own_columns(tmp_path):
    packets = known_link_packets()
    assert set(packets.column("linktype").to_pylist()) >= {0, 1, 12, 113, 228, 229, 276}
    path = tmp_path / "mixed.pcapng"
    assert arrow.write_arrow(packets, path, format="pcapng") == packets.num_rows
    together = decoded_rows(path, packets.num_rows)
    alone = decoded_rows(path, 1)
    assert len(together) == packets.num_rows > 2000
    assert together == alone
    assert any(row["src"] is not None for row in together)
    assert any(row["vlan"] for row in together)  # some corpus packets are tagged


ALONE = 1000  # packets of a file decoded one a batch; the whole file in batches of 61 too


@pytest.mark.parametrize("name", [n for n in corpus_paths("pcap", "pcapng") if "big" not in n])
def test_corpus_decoded_columns_do_not_depend_on_the_batch(name):
    """Batches of 65,536 against batches of one (the first ALONE packets: a batch a packet is
    the slow way, and 4,631 of them cost 44 s under coverage) and of 61 (every packet)."""
    together, error = rows_until_error(CORPUS / name, 65536)
    for batch_size, limit in ((1, ALONE), (61, None)):
        rows, error_here = rows_until_error(CORPUS / name, batch_size, limit)
        common = min(len(together), len(rows))
        # a file that ends with an error loses the rows of the batch the error cuts short
        assert together[:common] == rows[:common]
        if limit is None or len(rows) < limit:  # the file ended, not the limit
            assert error_here == error
            assert len(together) == len(rows) or (error is not None and len(together) < len(rows))


def rows_until_error(path, batch_size, limit=None):
    rows = []
    try:
        stream = pcapy.open_offline(path).to_arrow(batch_size=batch_size,
                                                    columns=[*RAW, *arrow.DECODED_COLUMNS])
        for batch in stream:
            rows += batch.to_pylist()
            if limit is not None and len(rows) >= limit:
                return rows[:limit], None
    except pcapy.PcapError as err:
        return rows, type(err).__name__
    return rows, None


@pytest.mark.parametrize("kept", [0, 1, 3])
def test_address_spellings_kept_between_batches_do_not_change_the_text(tmp_path, monkeypatch,
                                                                        kept):
    """Batches of 5 repeat and add addresses (IPv4, IPv6, MAC): the text looked up from the
    earlier batches is the text spelled afresh, when the spellings kept overflow too."""
    packets = known_link_packets()
    path = tmp_path / "mixed.pcapng"
    arrow.write_arrow(packets, path, format="pcapng")
    monkeypatch.setattr(arrow, "_SPELLINGS", arrow._Spellings())
    expected = decoded_rows(path, packets.num_rows)
    monkeypatch.setattr(arrow, "_SPELLINGS_KEPT", kept)
    monkeypatch.setattr(arrow, "_SPELLINGS", arrow._Spellings())  # nothing kept from above
    assert decoded_rows(path, 5) == expected
    assert decoded_rows(path, 5) == expected  # what the read above kept, looked up
