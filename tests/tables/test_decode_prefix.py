"""The decoder reads fields from a copy of each packet's first bytes (``PREFIX``), and from the
buffer past them: both give the bytes the packet holds, wherever the field lies."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("pyarrow")

from pcapy import _columns  # noqa: E402  (needs numpy)
from pcapy._columns import PREFIX  # noqa: E402


def packets_in_one_buffer(sizes):
    """A buffer holding packets of ``sizes`` one after another, each byte its offset in its
    packet plus the packet's number times 7 (mod 256): every field's bytes are known."""
    datas = [bytes((i * 7 + k) & 0xFF for k in range(size)) for i, size in enumerate(sizes)]
    buffer = np.frombuffer(b"".join(datas), np.uint8)
    starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    return buffer, starts, np.array(sizes, np.int64), datas


@pytest.mark.parametrize("span", [1, 2, 14, 40])
@pytest.mark.parametrize("place", [0, 13, PREFIX - 14, PREFIX - 1, PREFIX, PREFIX + 30])
def test_bytes_at_one_offset_for_all_inside_and_past_the_prefix(place, span):
    sizes = [200, place + span, 150, place + span + 3, 90 + place]
    buffer, starts, caplens, datas = packets_in_one_buffer(sizes)
    packets = _columns._Packets(buffer, starts, caplens)
    ok = caplens >= place + span
    copy = packets.bytes_at(place, span, ok)
    assert copy is not None
    for row in np.flatnonzero(ok):
        assert bytes(copy[row]) == datas[row][place:place + span]


def test_bytes_at_offsets_of_each_packet_across_the_prefix_end():
    sizes = [120, 100, 80, 130, 70]
    offsets = np.array([0, PREFIX - 10, PREFIX - 14, PREFIX + 20, 30])
    buffer, starts, caplens, datas = packets_in_one_buffer(sizes)
    packets = _columns._Packets(buffer, starts, caplens)
    ok = caplens >= offsets + 14
    copy = packets.bytes_at(offsets, 14, ok)
    assert copy is not None
    for row in np.flatnonzero(ok):
        assert bytes(copy[row]) == datas[row][offsets[row]:offsets[row] + 14]


def test_a_header_past_the_buffer_end_is_read_field_by_field():
    # The last packet ends 5 bytes into a 14-byte header lying past the prefix: the header
    # cannot be copied out whole, its first field (2 bytes) is still valid, the rest is not.
    sizes = [100, PREFIX + 10 + 5]
    buffer, starts, caplens, datas = packets_in_one_buffer(sizes)
    packets = _columns._Packets(buffer, starts, caplens)
    offsets = np.array([PREFIX + 10, PREFIX + 10])
    ok = np.array([False, True])
    header = packets.header(offsets, ok, 14)
    assert header.copy is None
    first, valid = header.u16(0, ok)
    assert valid.tolist() == [False, True]
    assert int(first[1]) == int.from_bytes(datas[1][PREFIX + 10:PREFIX + 12], "big")
    _, valid = header.u32(4, ok)
    assert not valid.any()


def test_the_last_packets_of_a_buffer_shorter_than_the_prefix_are_padded():
    buffer, starts, caplens, datas = packets_in_one_buffer([3, 10, 2])
    heads = _columns.rows_at(buffer, starts, PREFIX)
    for row, data in enumerate(datas):
        assert bytes(heads[row, :len(data)]) == data
    assert _columns.rows_at(buffer[:0], starts[:0], PREFIX).shape == (0, PREFIX)
