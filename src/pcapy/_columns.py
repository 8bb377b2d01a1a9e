"""Packet fields as columns: a vectorised decoder over many packets at once (numpy, no Arrow).

``decode(buffer, starts, caplens, dlts)`` reads the link, network and transport headers of every
packet lying in ``buffer`` (``buffer[starts[i]:starts[i] + caplens[i]]``) with whole-array
operations: no Python code runs per packet. Every header is found at an offset computed per
packet (a 802.1Q tag, an IPv4 option, an IPv6 extension header move what follows), and each
field is read only where the packet's captured bytes hold it; elsewhere the field is null, as
it is when the packet is not of that protocol.

Link types: Ethernet, Linux cooked v1/v2, raw IP (RAW, IPV4, IPV6), BSD loopback (NULL, LOOP);
inside them any stack of 802.1Q/802.1ad tags, MPLS labels (the payload's first nibble says IPv4
or IPv6, as Wireshark guesses), and PPPoE sessions. Network: IPv4 and IPv6 with its extension
headers (hop-by-hop, routing, fragment, destination options, AH). Transport: TCP, UDP, SCTP
ports; TCP flags, sequence number and payload length. A first fragment has them (its transport
header is there: tshark without reassembly and BPF's ``port`` read it too), later fragments
do not.

Most network headers are plain (IPv4 without options, IPv6 without extension headers, after a
link header of one length): a batch of them is read with each field at one place in every
packet (``_plain_network``), and the few others in it apart, the general way (``_any_network``,
which reads any batch; tests hold the two ways to the same columns).

Addresses come out as integers plus a small table of distinct values per batch, formatted once
each (``socket.inet_ntop``): a dictionary column, compared and printed as text by DuckDB, Polars
and pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

from ._constants import (
    DLT_EN10MB,
    DLT_IPV4,
    DLT_IPV6,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    DLT_LOOP,
    DLT_NULL,
    DLT_RAW,
)

Ints = npt.NDArray[np.signedinteger[Any]]  # int32 for fields of 8 and 16 bits, else int64
Bools = npt.NDArray[np.bool_]
Bytes = npt.NDArray[np.uint8]

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100, 0x9200)
_MPLS = (0x8847, 0x8848)
_PPPOE_SESSION = 0x8864
_LOWEST_TAG = min(*_VLAN_TPIDS, *_MPLS, _PPPOE_SESSION)  # ethertypes below it need no _tags
_PPP_TO_ETHERTYPE = {0x0021: ETHERTYPE_IPV4, 0x0057: ETHERTYPE_IPV6}
_BSD_AF_INET = 2
_BSD_AF_INET6 = (24, 28, 30)  # NetBSD/OpenBSD, FreeBSD, Darwin
_RAW_DLTS = (DLT_RAW, 14, 101)  # 14: RAW on OpenBSD; 101: the file's LINKTYPE_RAW
_UNFRAMED_DLTS = frozenset((*_RAW_DLTS, DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP))
_IPV6_SKIPPED = (0, 43, 60)  # hop-by-hop, routing, destination options: (len + 1) * 8
_IPV6_FRAGMENT = 44
_IPV6_AH = 51
_TCP, _UDP, _SCTP = 6, 17, 132
_FIRST, _LATER = 1, 2  # fragment states: the first fragment (transport header there), a later one
_MAX_TAGS = 8
_MAX_EXTENSIONS = 8
_MAX_LABELS = 16


@dataclass
class Column:
    """One decoded column: values, and where they are valid (``None``: everywhere)."""

    values: npt.NDArray[np.generic]
    valid: Optional[Bools] = None


@dataclass
class NumberText:
    """Values to be spelled as text, where ``valid``: ``kind`` ``"ipv4"`` or ``"mac"`` (integers,
    one a row), ``"ipv6"`` (a (k, 16) byte array: the rows where ``valid`` is true, in order).

    Spelling is left to the Arrow layer, which does it once per distinct value; ``rest`` holds
    the other rows of a mixed column (the IPv6 addresses of an address column).
    """

    numbers: npt.NDArray[np.generic]
    valid: Bools
    kind: str
    rest: Optional[NumberText] = None


@dataclass
class ListColumn:
    """A list column: row i holds ``values[offsets[i]:offsets[i + 1]]``, null where not valid."""

    offsets: npt.NDArray[np.int32]
    values: npt.NDArray[np.uint16]
    valid: Bools


@dataclass
class Decoded:
    """The decoded columns of one batch, by schema name."""

    columns: dict[str, Column | NumberText | ListColumn] = field(default_factory=dict)
    wanted: Optional[frozenset[str]] = None

    def wants(self, *names: str) -> bool:
        """Whether any of ``names`` is asked for."""
        return self.wanted is None or any(name in self.wanted for name in names)


#: Bytes at the start of each packet copied out in one gather, from which the fields lying in
#: them are read: Ethernet with a tag (18), an IPv6 header (40) and the ports after it; TCP's
#: flags after IPv4 with up to 12 bytes of options. A field past them (the TCP flags after
#: IPv6, a deep stack of tags) is gathered from the buffer for the rows that have one. Every
#: byte more costs the gather: a record and its 64 bytes span 2.25 cache lines on average, 96
#: bytes 2.75.
PREFIX = 64


class _Packets:
    """Reads big-endian fields at a per-packet offset, valid only inside the captured bytes.

    Offsets are never negative (each header is found after the one before), so a field is
    valid where it ends within the packet's caplen. The first ``PREFIX`` bytes of every packet
    are copied out at once (``prefix``, one row a packet: one gather from the buffer, whose
    packets lie anywhere in several MiB, where a gather per field would wait on memory each
    time); fields are then read from that small copy, and only fields past it are gathered
    from the buffer. A gather reads a view with an item of its width at every byte (numpy
    copies such items as bytes, faster than it gathers unaligned integers), read as integers
    afterwards; bytes copied past a packet's caplen are whatever lies there, and fields in
    them are not valid.
    """

    def __init__(self, buffer: Bytes, starts: Ints, caplens: Ints, heads: Optional[Bytes] = None,
                 lead: int = 0) -> None:
        if len(buffer) < 4:  # spare bytes, so that index 0 is in bounds at every width
            buffer = np.concatenate([buffer, np.zeros(4, np.uint8)])
        self.buffer = buffer
        self.starts = starts
        self.caplens = caplens
        if heads is None:
            heads, lead = rows_at(buffer, starts, PREFIX), 0
        self.heads = heads  # one row a packet, its first PREFIX bytes from column ``lead``
        self.lead = lead
        self.prefix = heads[:, lead:lead + PREFIX]

    def subset(self, rows: Ints) -> _Packets:
        """The packets of ``rows`` alone."""
        # (``take`` copies each row whole: indexing the 2-D array copied it byte by byte, 3-5
        # times as long)
        return _Packets(self.buffer, self.starts[rows], self.caplens[rows],
                        self.heads.take(rows, axis=0), self.lead)

    def column(self, place: int, dtype: str) -> npt.NDArray[Any]:
        """The item of ``dtype`` at ``place`` of every packet's prefix (a strided view; bytes
        past a packet's caplen are whatever lies there)."""
        heads = self.heads
        if not len(heads):
            return np.zeros(0, dtype)
        items: npt.NDArray[Any] = np.ndarray((len(heads),), dtype, heads, self.lead + place,
                                             (heads.strides[0],))
        return items

    def header(self, offset: Offset, ok: Optional[Bools] = None, span: int = 0,
               copy: Optional[Bytes] = None) -> _Header:
        """The header at ``offset`` of every packet, whose fields are read by their place
        (``ok``, ``span`` and ``copy``: see ``_Header``)."""
        return _Header(self, offset, ok, span, copy)

    def u8(self, offset: Offset, ok: Bools) -> tuple[Ints, Bools]:
        return self.header(offset).u8(0, ok)

    def u16(self, offset: Offset, ok: Bools) -> tuple[Ints, Bools]:
        return self.header(offset).u16(0, ok)

    def u32(self, offset: Offset, ok: Bools) -> tuple[Ints, Bools]:
        return self.header(offset).u32(0, ok)

    def u32_little(self, offset: Offset, ok: Bools) -> tuple[Ints, Bools]:
        return self.header(offset).read(0, 4, ok, "<")

    def bytes_at(self, offset: Offset, span: int, ok: Bools) -> Optional[Bytes]:
        """The ``span`` bytes at ``offset`` of each packet where ``ok`` (a (n, span) array,
        maybe a view; other rows hold any bytes), or None if one of them cannot be copied
        (it runs past the end of the buffer: read such fields one by one)."""
        n = len(self.starts)
        if isinstance(offset, int) or offset.ndim == 0:
            place = int(offset)
            if place + span <= PREFIX:
                return self.prefix[:, place:place + span]
            offset = np.full(n, place)
        first = int(offset[ok.argmax()]) if n else 0
        if first + span <= PREFIX and ((offset == first) | ~ok).all():  # one place for all
            return self.prefix[:, first:first + span]
        inside = offset + span <= PREFIX
        width = self.heads.shape[1]
        copy = _copy_out(self.heads.reshape(-1),
                         np.where(inside, np.arange(n) * width + self.lead + offset, 0), span)
        assert copy is not None  # every index lies in the prefix
        outside = np.flatnonzero(ok & ~inside)
        if len(outside):
            rest = _copy_out(self.buffer, self.starts[outside] + offset[outside], span)
            if rest is None:
                return None
            copy[outside] = rest
        return copy

    def rows(self, rows: Ints, offset: Offset, width: int) -> Bytes:
        """``width`` bytes of each packet of ``rows`` (whose bytes are all captured) at its
        ``offset`` (one per row), as a (len(rows), width) array."""
        base = self.starts[rows] + offset
        octets: Bytes = self.buffer[base[:, None] + np.arange(width)]
        return octets


Offset = Union[Ints, int]


class _Header:
    """A header of every packet at one offset each: the fields at a place in it, where the
    packet's captured bytes hold them.

    With ``span``, the first ``span`` bytes of the headers of the packets where ``ok`` are
    copied out at once (``_Packets.bytes_at``), and fields are read from that copy; bytes past
    a packet's caplen are copied too, and its fields there are not valid. Without it (or when
    a header lies too close to the end of the buffer for the copy), each field is read on its
    own. Where every packet of ``ok`` holds the ``span`` bytes whole (no packet cut short in
    them: the rule), a field in them is valid where ``ok`` is, found once for them all. A
    caller that has copied those bytes already passes them (``copy``).
    """

    def __init__(self, packets: _Packets, offset: Offset, ok: Optional[Bools] = None,
                 span: int = 0, copy: Optional[Bytes] = None) -> None:
        self.packets = packets
        self.offset = offset
        self.room = packets.caplens - offset
        self.copy: Optional[Bytes] = None
        self.whole: Optional[Bools] = None  # ok, if every packet of it holds the span
        self.span = span
        if span and ok is not None and len(ok):
            # (``copy``: the caller's copy of those bytes, made as bytes_at would)
            self.copy = packets.bytes_at(offset, span, ok) if copy is None else copy
            if not (ok & (self.room < span)).any():
                self.whole = ok

    def read(self, at: int, width: int, ok: Bools, order: str = ">") -> tuple[Ints, Bools]:
        """The unsigned ``width``-byte fields at ``at``, and where they are valid."""
        if ok is self.whole and at + width <= self.span:
            ok = ok.copy()  # (a new array: callers change theirs)
        else:
            ok = ok & (self.room >= at + width)
        copy, place = self.copy, at
        if copy is None or at + width > copy.shape[1]:
            copy, place = self.packets.bytes_at(self.offset + at, width, ok), 0
        assert copy is not None  # valid fields, and index 0, lie in the buffer
        field = copy[:, place:place + width].view(f"{order}u{width}")[:, 0]
        return field.astype(np.int64 if width > 2 else np.int32), ok

    def u8(self, at: int, ok: Bools) -> tuple[Ints, Bools]:
        return self.read(at, 1, ok)

    def u16(self, at: int, ok: Bools) -> tuple[Ints, Bools]:
        return self.read(at, 2, ok)

    def u32(self, at: int, ok: Bools) -> tuple[Ints, Bools]:
        return self.read(at, 4, ok)


def _copy_out(buffer: Bytes, index: Ints, span: int) -> Optional[Bytes]:
    """``buffer[i:i + span]`` for each ``i`` of ``index``, as an (n, span) array; None if one
    of them runs past the end of ``buffer``."""
    if len(buffer) < span or (len(index) and int(index.max()) > len(buffer) - span):
        return None
    items = np.ndarray((len(buffer) - span + 1,), f"V{span}", buffer, 0, (1,))
    copy: Bytes = items[index].view(np.uint8).reshape(-1, span)
    return copy


def rows_at(buffer: Bytes, starts: Ints, span: int) -> Bytes:
    """The ``span`` bytes at each of ``starts``, one row each (zeros past the buffer's end)."""
    near_end = starts > len(buffer) - span
    copy = _copy_out(buffer, np.where(near_end, 0, starts), span)
    if copy is None:  # the buffer is shorter than a row
        copy = np.zeros((len(starts), span), np.uint8)
    rows = np.flatnonzero(near_end)
    if len(rows):  # the last packets: from a copy of the buffer's end, padded with zeros
        low = int(starts[rows].min())
        end = np.zeros(len(buffer) - low + span, np.uint8)
        end[:len(buffer) - low] = buffer[low:]
        tail = _copy_out(end, starts[rows] - low, span)
        assert tail is not None
        copy[rows] = tail
    return copy


def decode(buffer: Bytes, starts: Ints, caplens: Ints, dlts: Ints,
           wanted: Optional[frozenset[str]] = None, heads: Optional[Bytes] = None,
           lead: int = 0) -> Decoded:
    """The decoded columns of the packets at ``starts`` (see the module docstring).

    ``wanted`` names the columns to produce (default: all); the others may be left out.
    ``heads``, if given, holds a row a packet whose columns from ``lead`` on are the first
    ``PREFIX`` bytes of the packet (``rows_at``), copied out with what precedes them.
    """
    packets = _Packets(buffer, starts, caplens, heads, lead)
    out = Decoded(wanted=wanted)
    link = _link_layer(packets, dlts, out)
    network = _network_layer(packets, link, out)
    _transport_layer(packets, network, out)
    return out


@dataclass
class _Link:
    ethertype: Ints  # -1 where unknown
    offset: Offset  # where the network header starts
    known: Bools  # whether ethertype/offset mean anything


def _link_layer(packets: _Packets, dlts: Ints, out: Decoded) -> _Link:
    n = len(dlts)
    present = _present(dlts)
    ethertype = np.full(n, -1, np.int32)
    offset: Offset = 0  # one number while every packet has it (one link type, no tags)
    ethernet = _rows_of(dlts, present, DLT_EN10MB)
    if out.wants("eth_src", "eth_dst"):
        _ethernet_addresses(packets, ethernet, out)
    framed = (  # link headers that end with an ethertype: (mask, where it is, header length)
        (ethernet, 12, 14),
        (_rows_of(dlts, present, DLT_LINUX_SLL), 14, 16),
        (_rows_of(dlts, present, DLT_LINUX_SLL2), 0, 20),
    )
    for mask, at, size in framed:
        if mask is None:  # no packet of the batch has this link type
            continue
        value, ok = packets.u16(at, mask)
        ok &= value >= 0x0600  # smaller: an 802.3 length (LLC), or an ARPHRD protocol
        ethertype = np.where(ok, value, ethertype)
        offset = size if len(present) == 1 else np.where(mask, size, offset)
    tagged = ethertype >= 0
    ethertype, offset = _tags(packets, ethertype, offset, tagged, out)
    if not present.isdisjoint(_UNFRAMED_DLTS):
        ethertype, offset = _raw_and_loopback(packets, dlts, ethertype, offset)
        if len(present) == 1:  # one place for all: the network layer reads them the plain way
            offset = 4 if present & {DLT_NULL, DLT_LOOP} else 0
    if out.wants("ethertype"):
        out.columns["ethertype"] = Column(ethertype.astype(np.uint16), ethertype >= 0)
    return _Link(ethertype, offset, ethertype >= 0)


def _present(dlts: Ints) -> frozenset[int]:
    """The link types of a batch (most batches have one)."""
    if not len(dlts):
        return frozenset()
    first = int(dlts[0])
    if (dlts == first).all():
        return frozenset((first,))
    return frozenset(int(dlt) for dlt in np.unique(dlts))


def _rows_of(dlts: Ints, present: frozenset[int], dlt: int) -> Optional[Bools]:
    """Where the packets have link type ``dlt``; None if none has."""
    return dlts == dlt if dlt in present else None


def _ethernet_addresses(packets: _Packets, ethernet: Optional[Bools], out: Decoded) -> None:
    for name, at in (("eth_dst", 0), ("eth_src", 6)):
        if ethernet is None:
            n = len(packets.starts)
            out.columns[name] = NumberText(np.zeros(n, np.int64), np.zeros(n, np.bool_), "mac")
            continue
        header = packets.header(at)
        high, ok = header.u16(0, ethernet)
        low, ok = header.u32(2, ok)
        out.columns[name] = NumberText((high.astype(np.int64) << 32) | low, ok, "mac")


def _tags(packets: _Packets, ethertype: Ints, offset: Offset, framed: Bools,
          out: Decoded) -> tuple[Ints, Offset]:
    """802.1Q/802.1ad tags, MPLS label stacks and PPPoE sessions after a link header."""
    # (IPv6's ethertype is the one above the lowest of them most batches have)
    if not ((ethertype >= _LOWEST_TAG) & (ethertype != ETHERTYPE_IPV6)).any():  # none of them
        if out.wants("vlan"):
            out.columns["vlan"] = ListColumn(np.zeros(len(ethertype) + 1, np.int32),
                                             np.zeros(0, np.uint16), framed)
        return ethertype, offset
    n = len(ethertype)
    ids = np.zeros((n, _MAX_TAGS), np.uint16)
    counts = np.zeros(n, np.int64)
    for level in range(_MAX_TAGS):
        tagged = _equals_any(ethertype, _VLAN_TPIDS)
        if not tagged.any():
            break
        tci, ok = packets.u16(offset, tagged)
        inner, ok = packets.u16(offset + 2, ok)
        ids[:, level] = np.where(ok, tci & 0x0FFF, 0)
        counts += ok
        ethertype = np.where(ok, inner, np.where(tagged, -1, ethertype))
        offset = np.where(ok, offset + 4, offset)
    if out.wants("vlan"):
        out.columns["vlan"] = _vlan_lists(ids, counts, framed)
    ethertype, offset = _mpls(packets, ethertype, offset)
    return _pppoe(packets, ethertype, offset)


def _vlan_lists(ids: npt.NDArray[np.uint16], counts: Ints, framed: Bools) -> ListColumn:
    counts = np.where(framed, counts, 0)
    offsets = np.zeros(len(counts) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    values = ids[np.arange(ids.shape[1]) < counts[:, None]]
    return ListColumn(offsets, values.astype(np.uint16), framed)


def _mpls(packets: _Packets, ethertype: Ints, offset: Offset) -> tuple[Ints, Offset]:
    labelled = _equals_any(ethertype, _MPLS)
    if not labelled.any():
        return ethertype, offset
    open_stack = labelled.copy()
    for _ in range(_MAX_LABELS):
        flags, ok = packets.u8(offset + 2, open_stack)
        offset = np.where(ok, offset + 4, offset)
        open_stack = ok & ((flags & 1) == 0)
        labelled &= ok | ~open_stack
    labelled &= ~open_stack
    nibble, ok = packets.u8(offset, labelled)
    guess = np.where(nibble >> 4 == 4, ETHERTYPE_IPV4,
                     np.where(nibble >> 4 == 6, ETHERTYPE_IPV6, -1))
    # The ethertype column keeps saying MPLS; the network layer follows the guess.
    return np.where(_equals_any(ethertype, _MPLS), np.where(ok, guess, -1), ethertype), offset


def _pppoe(packets: _Packets, ethertype: Ints, offset: Offset) -> tuple[Ints, Offset]:
    session = ethertype == _PPPOE_SESSION
    if not session.any():
        return ethertype, offset
    protocol, ok = packets.u16(offset + 6, session)
    inner = np.full(len(ethertype), -1, np.int32)
    for ppp, ether in _PPP_TO_ETHERTYPE.items():
        inner = np.where(ok & (protocol == ppp), ether, inner)
    return np.where(session, inner, ethertype), np.where(session, offset + 8, offset)


def _raw_and_loopback(packets: _Packets, dlts: Ints, ethertype: Ints,
                      offset: Offset) -> tuple[Ints, Offset]:
    raw = _equals_any(dlts, _RAW_DLTS)
    nibble, ok = packets.u8(0, raw)
    by_version = np.where(nibble >> 4 == 4, ETHERTYPE_IPV4,
                          np.where(nibble >> 4 == 6, ETHERTYPE_IPV6, -1))
    ethertype = np.where(raw, np.where(ok, by_version, -1), ethertype)
    ethertype = np.where(dlts == DLT_IPV4, ETHERTYPE_IPV4, ethertype)
    ethertype = np.where(dlts == DLT_IPV6, ETHERTYPE_IPV6, ethertype)
    null, loop = dlts == DLT_NULL, dlts == DLT_LOOP
    big, ok_big = packets.u32(0, null | loop)
    little, _ = packets.u32_little(0, null)
    # DLT_NULL is in the capturing host's byte order: the family is the small one of the two.
    family = np.where(null & (little < 0x10000), little, big)
    family_type = np.where(family == _BSD_AF_INET, ETHERTYPE_IPV4,
                           np.where(_equals_any(family, _BSD_AF_INET6), ETHERTYPE_IPV6, -1))
    ethertype = np.where(null | loop, np.where(ok_big, family_type, -1), ethertype)
    offset = np.where(null | loop, 4, np.where(raw | (dlts == DLT_IPV4) | (dlts == DLT_IPV6),
                                               0, offset))
    return ethertype, offset


@dataclass
class _Network:
    protocol: Ints
    offset: Ints  # where the transport header starts
    payload: Ints  # bytes after the network header(s), as the headers say (payload_len)
    whole: Bools  # IP, and not a later fragment: the transport header is there to read
    ports: Optional[Bytes] = None  # the transport header's first 4 bytes, if copied already


def _network_layer(packets: _Packets, link: _Link, out: Decoded) -> _Network:
    """The IPv4 and IPv6 headers: their columns, and where the transport header is."""
    if isinstance(link.offset, int):
        plain = _plain_network(packets, link, link.offset, out)
        if plain is not None:
            return plain
    return _any_network(packets, link, out)


#: IPv6 next headers that are extension headers (the decoder walks them).
_IPV6_EXTENSIONS = (*_IPV6_SKIPPED, _IPV6_FRAGMENT, _IPV6_AH)


def _plain_network(packets: _Packets, link: _Link, at: int, out: Decoded) -> Optional[_Network]:
    """``_any_network`` for a batch whose network headers all start at ``at``, most of them
    plain: IPv4 without options, IPv6 without extension headers, each captured whole (most
    packets). Every field of those lies at one place in each packet's prefix and is read
    there for all rows at once, in a third of the operations; the other IP headers are read
    apart by ``_any_network`` (``_read_apart``). ``None`` if more than an eighth are not
    plain: the batch is read by ``_any_network``. The columns equal its (tested).
    """
    if at + 44 > PREFIX:  # the IPv6 header and the ports after it lie in the prefix
        return None
    # (a field read from the prefix reads a cache line a row: those read more than once are
    # copied out first)
    first = packets.column(at, "u1").copy()
    # IPv4's flags and fragment offset; IPv6's next header is the first of these bytes
    fragment = packets.column(at + 6, ">u2").astype(np.uint16)
    next6 = (fragment >> 8).astype(np.uint8)
    ethertype = link.ethertype
    v4, v6 = ethertype == ETHERTYPE_IPV4, ethertype == ETHERTYPE_IPV6
    ipv6 = v6 & ((first >> 4) == 6)
    apart = ((v4 & (first > 0x45) & (first < 0x50))  # IPv4 options
             | (ipv6 & _equals_any(next6, _IPV6_EXTENSIONS))
             | (v4 & (packets.caplens < at + 20)) | (v6 & (packets.caplens < at + 40)))
    rows_apart = np.flatnonzero(apart)
    if len(rows_apart) > len(apart) // 8:
        return None
    ipv4 = v4 & (first == 0x45)
    if len(rows_apart):
        ipv4 &= ~apart
        ipv6 &= ~apart
    is_ip = ipv4 | ipv6
    protocol = np.where(ipv4, packets.column(at + 9, "u1"), next6)
    total = packets.column(at + 2, ">u2").astype(np.int32)
    whole = ipv6 | (ipv4 & ((fragment & 0x1FFF) == 0) & (total >= 20))
    if out.wants("ip_version"):
        out.columns["ip_version"] = Column(np.where(ipv4, 4, 6).astype(np.uint8), is_ip)
    if out.wants("ttl"):  # IPv4 TTL, IPv6 hop limit
        ttl = np.where(ipv4, packets.column(at + 8, "u1"), packets.column(at + 7, "u1"))
        out.columns["ttl"] = Column(ttl, is_ip)
    out.columns["ip_proto"] = Column(protocol, is_ip)
    if out.wants("ip_frag"):
        out.columns["ip_frag"] = Column(ipv4 & ((fragment & 0x3FFF) != 0), is_ip)
    rows6 = np.flatnonzero(ipv6)
    for name, place4, place6 in (("src", 12, 8), ("dst", 16, 24)):
        octets6 = packets.column(at + place6, "V16")[rows6].view(np.uint8).reshape(-1, 16)
        out.columns[name] = NumberText(packets.column(at + place4, ">u4").astype(np.int64),
                                       ipv4, "ipv4", NumberText(octets6, ipv6, "ipv6"))
    payload = total  # (read only for payload_len)
    if out.wants("payload_len"):
        payload = np.where(ipv6, packets.column(at + 4, ">u2"),
                           np.where(ipv4 & (total >= 20), total - 20, -1))
    # (-1 where not IP: the int32 keeps it, as a uint8 would not)
    network = _Network(np.where(is_ip, protocol.astype(np.int32), -1),
                       np.where(ipv4, at + 20, at + 40), payload, whole)
    if len(rows_apart):
        _read_apart(packets, link, rows_apart, network, out)
    else:  # the ports of every row lie at one of two places in the prefix
        ports = np.where(ipv4, packets.column(at + 20, "V4"), packets.column(at + 40, "V4"))
        network.ports = ports.view(np.uint8).reshape(-1, 4)
    return network


def _read_apart(packets: _Packets, link: _Link, rows: Ints, network: _Network,
                out: Decoded) -> None:
    """Read the network headers of ``rows`` with ``_any_network`` and write what it finds
    over those rows of ``network`` and of the columns."""
    apart = Decoded(wanted=out.wanted)
    offset = link.offset if isinstance(link.offset, int) else link.offset[rows]
    found = _any_network(packets.subset(rows),
                         _Link(link.ethertype[rows], offset, link.known[rows]), apart)
    network.protocol[rows], network.offset[rows] = found.protocol, found.offset
    network.payload[rows], network.whole[rows] = found.payload, found.whole
    for name, column in apart.columns.items():
        merged = out.columns[name]
        if isinstance(column, NumberText):
            assert isinstance(merged, NumberText)
            out.columns[name] = _merged_addresses(merged, column, rows)
            continue
        assert isinstance(column, Column)
        assert isinstance(merged, Column)
        assert merged.valid is not None
        assert column.valid is not None
        merged.values[rows] = column.values
        valid = merged.valid.copy()  # (columns may share their masks)
        valid[rows] = column.valid
        out.columns[name] = Column(merged.values, valid)


def _merged_addresses(merged: NumberText, apart: NumberText, rows: Ints) -> NumberText:
    """The addresses of a column with those of ``rows`` (``apart``: read on their own)."""
    assert merged.rest is not None
    assert apart.rest is not None
    merged.numbers[rows] = apart.numbers
    valid4 = merged.valid.copy()
    valid4[rows] = apart.valid
    valid6 = merged.rest.valid.copy()
    valid6[rows] = apart.rest.valid
    # The IPv6 addresses are those of the rows that have one, in order.
    where = np.concatenate([np.flatnonzero(merged.rest.valid), rows[apart.rest.valid]])
    octets = np.concatenate([merged.rest.numbers, apart.rest.numbers])
    octets6 = octets[np.argsort(where, kind="stable")]
    return NumberText(merged.numbers, valid4, "ipv4", NumberText(octets6, valid6, "ipv6"))


def _any_network(packets: _Packets, link: _Link, out: Decoded) -> _Network:
    first, ok_first = packets.u8(link.offset, link.known)
    version = first >> 4
    ipv4 = ok_first & (link.ethertype == ETHERTYPE_IPV4) & (version == 4) & ((first & 15) >= 5)
    ipv6 = ok_first & (link.ethertype == ETHERTYPE_IPV6) & (version == 6)
    # IPv4 fields come for every row (valid on IPv4 rows); IPv6 ones for the IPv6 rows alone
    # (most batches have fewer), written over them.
    protocol, src, dst, fragment, offset, payload = _ipv4(packets, link.offset, ipv4, first)
    rows = np.flatnonzero(ipv6)
    at6 = link.offset if isinstance(link.offset, int) else link.offset[rows]
    subset = packets.subset(rows)
    protocol6, src6, dst6, fragment6, offset6, payload6 = _ipv6(subset, at6,
                                                                np.ones(len(rows), np.bool_))
    (values, valid), (values6, valid6) = protocol, protocol6
    values[rows], valid[rows] = values6, valid6
    fragment[rows], offset[rows], payload[rows] = fragment6, offset6, payload6
    is_ip = ipv4 | ipv6
    if out.wants("ip_version"):
        out.columns["ip_version"] = Column(np.where(ipv4, 4, 6).astype(np.uint8), is_ip)
    if out.wants("ttl"):  # IPv4 TTL, IPv6 hop limit: the byte at 8 and 7
        ttl, ok_ttl = packets.header(link.offset).u8(8, ipv4)
        ttl[rows], ok_ttl[rows] = subset.header(at6).u8(7, np.ones(len(rows), np.bool_))
        out.columns["ttl"] = Column(ttl.astype(np.uint8), ok_ttl)
    out.columns["ip_proto"] = Column(protocol[0].astype(np.uint8), protocol[1])
    if out.wants("ip_frag"):  # 0 whole, 1 first fragment, 2 later
        out.columns["ip_frag"] = Column(fragment != 0, is_ip)
    out.columns["src"] = _addresses(src, src6, rows, ipv4)
    out.columns["dst"] = _addresses(dst, dst6, rows, ipv4)
    whole = is_ip & protocol[1] & (fragment != _LATER) & (payload >= 0)
    return _Network(np.where(protocol[1], protocol[0], -1), offset, payload, whole)


_Field = tuple[Ints, Bools]
_Address = tuple[Bytes, Bools]
_Address4 = tuple[Ints, Bools]


def _ipv4(packets: _Packets, at: Offset, ipv4: Bools,
          first: Ints) -> tuple[_Field, _Address4, _Address4, Ints, Ints, Ints]:
    header_length = (first & 15) * 4
    header = packets.header(at, ipv4, 20)
    total, ok_total = header.u16(2, ipv4)
    fragment, ok_fragment = header.u16(6, ipv4)
    protocol = header.u8(9, ipv4)
    src = header.u32(12, ipv4)
    dst = header.u32(16, ipv4)
    # _LATER (2) where the offset is not 0; _FIRST (1) where it is but "more fragments" is set
    later = (fragment & 0x1FFF) != 0
    state = np.where(ok_fragment, ((fragment & 0x3FFF) != 0).astype(np.int8) + later, 0)
    payload = np.where(ok_total & (total >= header_length), total - header_length, -1)
    return protocol, src, dst, state, at + header_length, payload


_IPv6 = tuple[_Field, _Address, _Address, Ints, Offset, Ints]


def _ipv6(packets: _Packets, at: Offset, ipv6: Bools) -> _IPv6:
    """(protocol, source, destination, fragment state, transport offset, payload length) of
    IPv6 headers at ``at``, where ``ipv6``."""
    header = packets.header(at, ipv6, 40)
    length, ok_length = header.u16(4, ipv6)
    src = _ipv6_address(packets, header, at, 8, ipv6)
    dst = _ipv6_address(packets, header, at, 24, ipv6)
    protocol, ok = header.u8(6, ipv6)
    offset: Offset = at + 40
    state = np.zeros(len(ipv6), np.int32)
    for _ in range(_MAX_EXTENSIONS):
        skipped = ok & _equals_any(protocol, _IPV6_SKIPPED)
        fragment = ok & (protocol == _IPV6_FRAGMENT)
        ah = ok & (protocol == _IPV6_AH)
        extension = skipped | fragment | ah
        if not extension.any():
            break
        following, ok_next = packets.u8(offset, extension)
        size, ok_size = packets.u8(offset + 1, extension)
        word, ok_word = packets.u16(offset + 2, fragment)
        here = np.where(word >> 3 != 0, _LATER, np.where(word & 1 != 0, _FIRST, 0))
        state = np.maximum(state, np.where(ok_word, here, 0))
        step = np.where(skipped, (size + 1) * 8, np.where(ah, (size + 2) * 4, 8))
        moved = extension & ok_next & (ok_size | fragment)
        protocol = np.where(moved, following, protocol)
        ok = np.where(extension, moved, ok)
        offset = np.where(moved, offset + step, offset)
    payload = np.where(ok_length, length - (offset - at - 40), -1)
    return (protocol, ok), src, dst, state, offset, payload


def _equals_any(values: npt.NDArray[np.integer[Any]], choices: tuple[int, ...]) -> Bools:
    """``np.isin(values, choices)`` for a few choices, without its fixed cost."""
    found: Bools = values == choices[0]
    for choice in choices[1:]:
        found |= values == choice
    return found


def _ipv6_address(packets: _Packets, header: _Header, at: Offset, place: int,
                  ipv6: Bools) -> _Address:
    """The 16 bytes at ``place`` of the IPv6 headers, only of the packets that have them all:
    (a (k, 16) array, where they are)."""
    ok = ipv6 & (header.room >= place + 16)
    if header.copy is not None:
        octets = header.copy[:, place:place + 16]
        if not ok.all():  # (all, mostly: the subset of IPv6 packets, none cut short)
            octets = octets[np.flatnonzero(ok)]
        return np.ascontiguousarray(octets), ok
    rows = np.flatnonzero(ok)
    return packets.rows(rows, (at if isinstance(at, int) else at[rows]) + place, 16), ok


def _addresses(v4: _Address4, v6: _Address, rows6: Ints, ipv4: Bools) -> NumberText:
    numbers4, ok4 = v4
    octets6, ok6 = v6  # of the IPv6 rows alone
    spread = np.zeros(len(ipv4), np.bool_)
    spread[rows6] = ok6
    return NumberText(numbers4, ok4 & ipv4, "ipv4", NumberText(octets6, spread, "ipv6"))


def _transport_layer(packets: _Packets, network: _Network, out: Decoded) -> None:
    protocol = network.protocol
    tcp = network.whole & (protocol == _TCP)
    udp = network.whole & (protocol == _UDP)
    ported = tcp | udp | (network.whole & (protocol == _SCTP))
    more = out.wants("tcp_flags", "tcp_seq", "payload_len")
    # The ports alone are the first 4 bytes; with the flags, 14 (after an IPv6 header, past
    # the packets' first PREFIX bytes: gathered from the buffer).
    header = packets.header(network.offset, ported, 14 if more else 4,
                            None if more else network.ports)
    sport, ok_sport = header.u16(0, ported)
    dport, ok_dport = header.u16(2, ported)
    out.columns["sport"] = Column(sport.astype(np.uint16), ok_sport)
    out.columns["dport"] = Column(dport.astype(np.uint16), ok_dport)
    if not more:
        return
    flags, ok_flags = header.u16(12, tcp)
    out.columns["tcp_flags"] = Column((flags & 0x0FFF).astype(np.uint16), ok_flags)
    if out.wants("tcp_seq"):
        seq, ok_seq = header.u32(4, tcp)
        out.columns["tcp_seq"] = Column(seq.astype(np.uint32), ok_seq)
    if out.wants("payload_len"):
        udp_length, ok_udp = header.u16(4, udp)
        out.columns["payload_len"] = _payload_lengths(network, tcp, flags, ok_flags, udp,
                                                      udp_length, ok_udp)


def _payload_lengths(network: _Network, tcp: Bools, flags: Ints, ok_flags: Bools, udp: Bools,
                     udp_length: Ints, ok_udp: Bools) -> Column:
    tcp_header = (flags >> 12) * 4
    payload = np.where(tcp, network.payload - tcp_header,
                       np.where(udp, udp_length - 8, network.payload))
    valid = np.where(tcp, ok_flags & (tcp_header >= 20),
                     np.where(udp, ok_udp, network.payload >= 0))
    valid &= payload >= 0
    return Column(np.where(valid, payload, 0).astype(np.uint32), valid)
