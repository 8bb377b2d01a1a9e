"""The network layer read the plain way (``_plain_network``: IPv4 without options, IPv6 without
extension headers, every field at one place) gives the columns the general way gives
(``_any_network``), on generated batches of plain and not quite plain packets cut short
anywhere, and on the corpus; and the plain way is taken where it should be.
"""

from __future__ import annotations

import struct
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pcapy
from tables.tables_helpers import CORPUS, corpus_paths

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")
from pcapy import _columns, arrow  # noqa: E402  (needs numpy and pyarrow)

ETHERNET, SLL, SLL2 = 1, 113, 276
NULL, LOOP, RAW, IPV4, IPV6 = 0, 108, 101, 228, 229
LINKS = [ETHERNET, ETHERNET, SLL, SLL2, NULL, LOOP, RAW, 12, 14, IPV4, IPV6]


@contextmanager
def plain_way(taken: bool | None = True) -> Iterator[list[bool]]:
    """Decode with the plain way allowed (``taken``) or not (``False``: the general way for
    every batch); yields, a batch each, whether the plain way read it."""
    original = _columns._plain_network
    uses: list[bool] = []

    def spy(*args: Any) -> Any:
        result = original(*args) if taken else None
        uses.append(result is not None)
        return result

    _columns._plain_network = spy
    try:
        yield uses
    finally:
        _columns._plain_network = original


@contextmanager
def networks() -> Iterator[list[Any]]:
    """Yields the ``_Network`` of each batch decoded (what the transport layer is given)."""
    original = _columns._transport_layer
    found: list[Any] = []

    def spy(packets: Any, network: Any, out: Any) -> None:
        found.append(network)
        original(packets, network, out)

    _columns._transport_layer = spy
    try:
        yield found
    finally:
        _columns._transport_layer = original


def ipv4(first: int, total: int, fragment: int, protocol: int, rest: bytes) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", first, 0, total, 7, fragment, 64, protocol, 0,
                         rest[:4].ljust(4, b"\1"), rest[4:8].ljust(4, b"\2"))
    options = b"\x01" * max(0, (first & 15) * 4 - 20)
    return header + options + rest[8:]


def ipv6(first: int, length: int, next_header: int, rest: bytes) -> bytes:
    addresses = (rest * 3 + bytes(range(32)))[:32]
    return struct.pack(">BBHHBB", first, 0, 0, length, next_header, 63) + addresses + rest


def link_header(dlt: int, ethertype: int) -> bytes:
    if dlt in (NULL, LOOP):  # the address family: host byte order (NULL), big-endian (LOOP)
        return struct.pack("<I" if dlt == NULL else ">I", 30 if ethertype == 0x86DD else 2)
    if dlt in (RAW, 12, 14, IPV4, IPV6):
        return b""
    if dlt == SLL:
        return struct.pack(">HHH8sH", 0, 1, 6, b"\0" * 8, ethertype)
    if dlt == SLL2:
        return struct.pack(">HHIHBB8s", ethertype, 0, 1, 1, 0, 6, b"\0" * 8)
    return b"\x00\x16\x3e\x11\x22\x33\x52\x54\x00\xaa\xbb\xcc" + struct.pack(">H", ethertype)


transport = st.binary(min_size=0, max_size=48)
plain_ipv4 = st.builds(ipv4, st.just(0x45),
                       st.one_of(st.integers(0, 0xFFFF), st.integers(18, 90)),
                       st.sampled_from([0, 0x4000, 0x2000, 0x0001, 0x1FFF, 0x2001, 0xFFFF]),
                       st.sampled_from([6, 17, 132, 1, 0, 255]), transport)
plain_ipv6 = st.builds(ipv6, st.sampled_from([0x60, 0x6F]), st.integers(0, 0xFFFF),
                       st.sampled_from([6, 17, 132, 58, 59, 255]), transport)
odd_ip = st.one_of(
    st.builds(ipv4, st.sampled_from([0x46, 0x4F, 0x44, 0x40, 0x55, 0x65]), st.integers(0, 99),
              st.integers(0, 0xFFFF), st.sampled_from([6, 17]), transport),
    st.builds(ipv6, st.sampled_from([0x60, 0x45, 0x70]), st.integers(0, 0xFFFF),
              st.sampled_from([0, 43, 44, 51, 60, 6]), transport),
)


@st.composite
def packets(draw: Any, plain_only: bool, dlt: int) -> tuple[bytes, int]:
    """A packet after its link header, and its ethertype."""
    if plain_only:
        ipv4s, ipv6s = st.tuples(plain_ipv4, st.just(0x0800)), st.tuples(plain_ipv6, st.just(0x86DD))
        return draw({IPV4: ipv4s, IPV6: ipv6s}.get(dlt, st.one_of(ipv4s, ipv6s)))
    network = draw(st.one_of(plain_ipv4, plain_ipv6, odd_ip, st.binary(max_size=60)))
    return network, draw(st.sampled_from([0x0800, 0x86DD, 0x0806, 0x88CC, 0x8100, 0x05DC]))


@st.composite
def batches(draw: Any, plain_only: bool) -> tuple[Any, Any, Any, Any]:
    """(buffer, starts, caplens, dlts) of a batch of one link type, packets cut short
    anywhere (plain_only: never inside the network header)."""
    dlt = draw(st.sampled_from(LINKS))
    frames = []
    for network, ethertype in draw(st.lists(packets(plain_only, dlt), min_size=1, max_size=30)):
        frame = link_header(dlt, ethertype) + network
        least = len(frame) - len(network) + (20 if ethertype == 0x0800 else 40)
        shortest = min(least, len(frame)) if plain_only else 0
        frames.append(frame[:draw(st.integers(shortest, len(frame)))])
    buffer = b"".join(frames)
    caplens = np.array([len(frame) for frame in frames], np.int64)
    starts = np.concatenate([[0], np.cumsum(caplens)[:-1]]).astype(np.int64)
    return (np.frombuffer(buffer, np.uint8), starts, caplens,
            np.full(len(frames), dlt, np.int64))


def decoded(batch: Any, plain: bool, lead: int) -> tuple[dict[str, Any], list[bool]]:
    """The columns of a batch, read with the plain way allowed or not; with the prefix at
    column ``lead`` of the heads (as the pcap walk gives them) or where decode puts it."""
    buffer, starts, caplens, dlts = batch
    heads = None
    if lead:
        prefix = _columns.rows_at(buffer, starts, _columns.PREFIX)
        heads = np.concatenate([np.full((len(starts), lead), 0xEE, np.uint8), prefix], axis=1)
    with plain_way(plain) as uses, networks() as found:
        out = _columns.decode(buffer, starts, caplens, dlts, None, heads, lead)
    return {**out.columns, "(network)": found[0]}, uses


def assert_same_network(plain: Any, general: Any) -> None:
    """What the network layer tells the transport layer (the payload is read only for the
    payload_len column, all of them here)."""
    assert np.array_equal(plain.protocol, general.protocol)
    assert np.array_equal(plain.whole, general.whole)
    assert np.array_equal(plain.payload, general.payload)
    assert np.array_equal(plain.offset[plain.whole], general.offset[general.whole])


def assert_same_columns(plain: dict[str, Any], general: dict[str, Any]) -> None:
    assert plain.keys() == general.keys()
    if "(network)" in general:
        assert_same_network(plain["(network)"], general["(network)"])
    for name, column in general.items():
        if name == "(network)":
            continue
        other = plain[name]
        assert type(other) is type(column), name
        if isinstance(column, _columns.ListColumn):
            assert np.array_equal(other.offsets, column.offsets), name
            assert np.array_equal(other.values, column.values), name
            assert np.array_equal(other.valid, column.valid), name
            continue
        while column is not None:
            valid = np.ones(len(column.values), np.bool_) if column.valid is None else column.valid
            assert np.array_equal(other.valid, column.valid), name
            if isinstance(column, _columns.NumberText):
                assert other.kind == column.kind, name
                values, others = column.numbers, other.numbers
                if column.kind == "ipv6":  # the rows that have one, in order
                    assert np.array_equal(others, values), name
                    break
                assert np.array_equal(others[valid], values[valid]), name
                column, other = column.rest, other.rest
                assert (column is None) == (other is None), name
                continue
            assert other.values.dtype == column.values.dtype, name
            assert np.array_equal(other.values[valid], column.values[valid]), name
            break


SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(batches(plain_only=False), st.sampled_from([0, 16]))
def test_any_batch_reads_as_the_general_way_reads_it(batch: Any, lead: int) -> None:
    plain, uses = decoded(batch, True, lead)
    general, _ = decoded(batch, False, lead)
    assert_same_columns(plain, general)
    assert len(uses) <= 1  # (not asked where the network headers start at several places)


@SETTINGS
@given(batches(plain_only=True), st.sampled_from([0, 16]))
def test_a_batch_of_plain_headers_is_read_the_plain_way(batch: Any, lead: int) -> None:
    plain, uses = decoded(batch, True, lead)
    assert uses == [True]
    general, _ = decoded(batch, False, lead)
    assert_same_columns(plain, general)
    assert plain["src"].valid.any() or plain["src"].rest.valid.any()


@st.composite
def mostly_plain(draw: Any) -> tuple[Any, Any, Any, Any]:
    """A batch of plain packets with a few (at most an eighth) that are not, anywhere."""
    buffer, starts, caplens, dlts = draw(batches(plain_only=True))
    frames = [bytes(buffer[start:start + caplen]) for start, caplen in zip(starts, caplens)]
    frames *= 1 + 16 // len(frames)
    at = len(link_header(int(dlts[0]), 0))
    for _ in range(draw(st.integers(1, len(frames) // 8))):
        network = draw(odd_ip)
        frame = link_header(int(dlts[0]), 0x86DD if network[0] >> 4 == 6 else 0x0800) + network
        frame = frame[:draw(st.integers(at, len(frame)))]
        frames.insert(draw(st.integers(0, len(frames))), frame)
    caplens = np.array([len(frame) for frame in frames], np.int64)
    starts = np.concatenate([[0], np.cumsum(caplens)[:-1]]).astype(np.int64)
    return (np.frombuffer(b"".join(frames), np.uint8), starts, caplens,
            np.full(len(frames), dlts[0], np.int64))


@SETTINGS
@given(mostly_plain(), st.sampled_from([0, 16]))
def test_the_headers_that_are_not_plain_are_read_apart(batch: Any, lead: int) -> None:
    plain, uses = decoded(batch, True, lead)
    assert uses == [True]
    general, _ = decoded(batch, False, lead)
    assert_same_columns(plain, general)


@pytest.mark.parametrize("network", [
    ipv4(0x46, 40, 0, 6, bytes(30)),  # an IPv4 option
    ipv6(0x60, 8, 0, bytes(30)),  # a hop-by-hop header
    ipv6(0x60, 8, 44, bytes(30)),  # a fragment header
    ipv4(0x45, 40, 0, 6, bytes(30))[:19],  # an IPv4 header cut short
])
def test_a_batch_of_many_headers_not_plain_goes_the_general_way(network: bytes) -> None:
    ethertype = 0x86DD if network[0] >> 4 == 6 else 0x0800
    frames = [link_header(ETHERNET, 0x0800) + ipv4(0x45, 60, 0, 6, bytes(40)),
              link_header(ETHERNET, ethertype) + network]
    buffer = np.frombuffer(b"".join(frames), np.uint8)
    caplens = np.array([len(frame) for frame in frames], np.int64)
    batch = (buffer, np.array([0, caplens[0]], np.int64), caplens, np.ones(2, np.int64))
    _, uses = decoded(batch, True, 0)
    assert uses == [False]  # one of two: more than an eighth
    _, uses = decoded((buffer[:caplens[0]], batch[1][:1], caplens[:1], batch[3][:1]), True, 0)
    assert uses == [True]
    frames = [frames[0]] * 15 + frames[1:]  # one of sixteen: read apart
    caplens = np.array([len(frame) for frame in frames], np.int64)
    batch = (np.frombuffer(b"".join(frames), np.uint8),
             np.concatenate([[0], np.cumsum(caplens)[:-1]]), caplens, np.ones(16, np.int64))
    plain, uses = decoded(batch, True, 0)
    assert uses == [True]
    general, _ = decoded(batch, False, 0)
    assert_same_columns(plain, general)


DECODED = ["linktype", "caplen", *arrow.DECODED_COLUMNS]


def corpus_table(name: str, plain: bool) -> tuple[Any, list[bool]]:
    with plain_way(plain) as uses:
        try:
            stream = pcapy.open_offline(CORPUS / name).to_arrow(batch_size=4096,
                                                                 columns=DECODED)
            batches = list(stream)
        except pcapy.PcapError:
            return None, uses
    return pa.Table.from_batches(batches, stream.schema), uses


def test_the_corpus_reads_as_the_general_way_reads_it() -> None:
    names = [name for name in corpus_paths("pcap", "pcapng") if "big" not in name]
    assert len(names) > 100
    plain_batches = 0
    for name in names:
        general, _ = corpus_table(name, False)
        plain, uses = corpus_table(name, True)
        assert (plain is None) == (general is None), name
        if plain is not None:
            assert plain.equals(general), name
        plain_batches += sum(uses)
    assert plain_batches > 30  # most corpus files have plain IP headers only


def test_an_empty_batch_and_a_few_columns_read_as_the_general_way_reads_them() -> None:
    frames = [link_header(ETHERNET, 0x0800) + ipv4(0x45, 60, 0x2000, 6, bytes(40)),
              link_header(ETHERNET, 0x86DD) + ipv6(0x60, 20, 17, bytes(40))]
    caplens = np.array([len(frame) for frame in frames], np.int64)
    buffer = np.frombuffer(b"".join(frames), np.uint8)
    starts = np.array([0, caplens[0]], np.int64)
    for count in (0, 2):
        for wanted in (frozenset({"src", "dport"}), frozenset({"ttl", "payload_len"})):
            ways = []
            for plain in (True, False):
                with plain_way(plain) as uses:
                    ways.append(_columns.decode(buffer, starts[:count], caplens[:count],
                                                np.ones(count, np.int64), wanted).columns)
                assert uses == [plain]
            assert_same_columns(*ways)
