"""The ``data`` column's views (``arrow.binary_view``): each packet's bytes, inline or pointing
into the batch's buffer, also past the 2 GiB a view's 32-bit offset reaches."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
from pcapy import _columns, arrow  # noqa: E402  (needs numpy and pyarrow)

packet_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=40)


def views_of(packets: list[bytes], heads: bool) -> list[bytes]:
    buffer = b"".join(packets)
    caplens = np.array([len(p) for p in packets], np.int64)
    starts = np.concatenate([[0], np.cumsum(caplens)[:-1]]).astype(np.int64)
    first = None
    if heads:  # as the pcap walk hands them over: bytes past a packet are the next one's
        data = np.frombuffer(buffer, np.uint8) if buffer else np.zeros(1, np.uint8)
        first = _columns.rows_at(data, starts, 16)
    array = arrow.binary_view(buffer, starts, caplens, first)
    array.validate(full=True)
    return array.to_pylist()


@settings(max_examples=200, deadline=None)
@given(packet_lists, st.booleans())
def test_each_view_holds_its_packet(packets: list[bytes], heads: bool) -> None:
    assert views_of(packets, heads) == packets


@settings(max_examples=100, deadline=None)
@given(packet_lists, st.booleans())
def test_a_buffer_past_the_offsets_reach_is_read_in_overlapping_slices(
        packets: list[bytes], heads: bool) -> None:
    """(2 GiB and 1 GiB scaled down to 127 and 64 bytes: packets here are at most 40.)"""
    spans = arrow._SPAN, arrow._INT32_MAX
    arrow._SPAN, arrow._INT32_MAX = 64, 127
    try:
        assert views_of(packets, heads) == packets
    finally:
        arrow._SPAN, arrow._INT32_MAX = spans


def test_inline_bytes_past_a_short_packet_are_zero() -> None:
    heads = np.frombuffer(b"abcdefghXXXXXXXXdefghXXXXXXXXXXX", np.uint8).reshape(2, 16)
    array = arrow.binary_view(b"abcdefgh", np.array([0, 3]), np.array([3, 5]), heads)
    views = np.frombuffer(array.buffers()[1], np.uint8).reshape(2, 16)
    assert bytes(views[0, 4:]) == b"abc" + bytes(9)
    assert bytes(views[1, 4:]) == b"defgh" + bytes(7)
    assert array.to_pylist() == [b"abc", b"defgh"]
