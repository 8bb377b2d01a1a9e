"""A small packet decoder of our own: one tcpdump-style summary line per packet.

``summarize(data, linktype)`` returns a ``Summary`` whose ``text`` is what ``tcpdump -nn``
prints after the time stamp; ``hex_lines`` and ``hex_and_ascii_lines`` give the ``-x`` and
``-X`` dumps. Formats were derived by running tcpdump 4.99 on captures and crafted packets;
parsing follows the specifications (IEEE 802.3, 802.2, 802.1Q; RFC 826, 791, 8200, 9293, 768,
792, 4443, 4861, 1035, 6762, 9112; the IANA registries).

Design: ``_View`` is the only way to read packet bytes, big-endian reads in a window of the
captured data; reading past it raises ``_TruncatedError``, which ends decoding and makes
``summarize`` append the current layer's `` [|name]`` marker (or the error's own text), as
tcpdump does. So a malformed packet yields what was decoded plus a marker, never an
exception. Every loop moves forward through the packet (DNS compression pointers strictly
backwards, with a cap) and nesting is capped, so decoding always ends. ``_Decoder`` holds one
packet's output, the protocols found, the addresses and the options. Tables dispatch:
``_LINKTYPES`` (link type -> link layer), ``_ETHERTYPES`` (-> network layer),
``_IP_PROTOCOLS`` and ``_PORTED`` (protocol -> printer; TCP and UDP print the addresses with
their ports), ``_ICMP`` and ``_ICMP6`` (type -> details). Printers get the decoder, a
``_View`` of their bytes and the ``length`` announced by the layer below, which tcpdump prints.

Coverage: Ethernet II, 802.3 (LLC, SNAP; other LLC frames and STP: ``pcapy._decode_llc``),
802.1Q/802.1ad, Linux cooked v1/v2, raw IP, BSD loopback (the other link layers and MPLS:
``pcapy._decode_links``); ARP, IPv4, IPv6 and its extension headers, TCP, UDP, ICMP,
ICMPv6, DNS and mDNS, the first line of HTTP (every line under -v), SSH version lines,
OpenFlow message headers, Rx headers and acknowledgments.
Other protocols end at the layer that carries them. ``verbose=True`` gives ``tcpdump -v``'s
forms (see the "-v" section): IP header details, verified checksums (RFC 1071), and the
verbose details of the protocols above.
"""

from __future__ import annotations

import functools
import socket
import struct
from typing import Callable, NamedTuple, Optional

from . import _constants as dlt

__all__ = ["Summary", "TcpSequences", "can_print", "hex_and_ascii_lines", "hex_lines",
           "summarize"]

_LINKTYPE_RAW = 101  # the savefile value of raw IP, should a reader pass it through
_MASK32 = 0xFFFFFFFF
_MAX_POINTER_JUMPS = 255
_MAX_LAYERS = 64  # tunnels within tunnels: decoding stops here, well before Python's stack


class Summary(NamedTuple):
    """What ``summarize`` found in one packet."""

    #: the tcpdump-style line (after the time stamp); hex lines follow an unknown payload
    text: str
    #: bytes of link-layer header, as tcpdump counts them for ``-x``/``-X``
    link_length: int
    #: the protocols recognised, outermost first, e.g. ``("Ethernet", "IPv4", "UDP", "DNS")``
    protocols: tuple[str, ...]
    #: network-layer source and destination addresses (IPv4 or IPv6), when there were any
    src: Optional[str]
    dst: Optional[str]


_Endpoint = tuple[str, int]


class TcpSequences:
    """Relative TCP sequence numbers across packets, as tcpdump prints them unless ``-S``.

    A segment with ACK set opens (with SYN too: reopens) a conversation and prints absolute
    numbers; its sequence number and its acknowledgement minus one become the bases of its
    two directions. Later ACK segments print numbers relative to those bases (SACK blocks
    always are); segments without ACK print absolute numbers.
    """

    def __init__(self) -> None:
        self._bases: dict[tuple[_Endpoint, _Endpoint], dict[_Endpoint, int]] = {}

    def bases(self, src: _Endpoint, dst: _Endpoint, seq: int, ack: int,
              syn: bool) -> tuple[int, int, bool]:
        """The sender's and receiver's bases, and whether this segment opened the conversation."""
        key = (src, dst) if src <= dst else (dst, src)
        known = self._bases.get(key)
        opened = known is None or syn
        if known is None or syn:
            known = self._bases[key] = {dst: (ack - 1) & _MASK32, src: seq}
        return known.get(src, 0), known.get(dst, 0), opened


class _TruncatedError(Exception):
    """Decoding stops here: the packet ends, or is malformed; an argument ends the line."""


class _View:
    """Bounds-checked big-endian reads in ``data[start:end]``, at offsets relative to start."""

    __slots__ = ("data", "end", "start")

    def __init__(self, data: bytes, start: int = 0, end: Optional[int] = None) -> None:
        self.data = data
        self.start = start
        self.end = len(data) if end is None else max(start, min(end, len(data)))

    def has(self, offset: int, size: int = 1) -> bool:
        return offset >= 0 and self.start + offset + size <= self.end

    def need(self, offset: int, size: int) -> None:
        if not self.has(offset, size):
            raise _TruncatedError()

    def raw(self, offset: int, size: int) -> bytes:
        self.need(offset, size)
        return self.data[self.start + offset:self.start + offset + size]

    def u8(self, offset: int) -> int:
        self.need(offset, 1)
        return self.data[self.start + offset]

    def u16(self, offset: int) -> int:
        return int.from_bytes(self.raw(offset, 2), "big")

    def u32(self, offset: int) -> int:
        return int.from_bytes(self.raw(offset, 4), "big")

    def ip4(self, offset: int) -> str:
        return ".".join(str(b) for b in self.raw(offset, 4))

    def ip6(self, offset: int) -> str:
        return socket.inet_ntop(socket.AF_INET6, self.raw(offset, 16))

    def mac(self, offset: int, size: int = 6) -> str:
        return ":".join(f"{b:02x}" for b in self.raw(offset, size))

    def sub(self, offset: int, length: Optional[int] = None) -> _View:
        """The window from ``offset`` on, at most ``length`` bytes long."""
        start = self.start + max(offset, 0)
        end = self.end if length is None else min(self.end, start + max(length, 0))
        return _View(self.data, start, max(start, end))

    def rest(self) -> bytes:
        return self.data[self.start:self.end]

    def captured(self, offset: int, size: int) -> bytes:
        """What there is of the ``size`` bytes at ``offset``: possibly fewer, or none."""
        start = self.start + offset
        return self.data[start:min(self.end, start + size)]


class _IpContext(NamedTuple):
    """What a transport layer needs from the IP layer below it to verify its checksum."""

    #: the pseudo-header's source and (final) destination addresses, 4 or 16 bytes each
    src: bytes
    dst: bytes
    #: a fragment: the transport header or data is incomplete, so nothing is verified
    fragmented: bool


class _Decoder:
    """One packet's decoding: output pieces, protocols, addresses and options."""

    def __init__(self, link_header: bool, quiet: bool, tcp: Optional[TcpSequences],
                 default_hex: bool, verbose: bool = False) -> None:
        self.parts: list[str] = []
        self.layer = "ether"
        self.protocols: list[str] = []
        self.src: Optional[str] = None
        self.dst: Optional[str] = None
        self.link_length = 0
        self.link_header = link_header
        self.quiet = quiet
        self.tcp = tcp
        self.default_hex = default_hex
        self.verbose = verbose
        #: the innermost IP header's addresses, for checksums (set by the IP layers)
        self.ip: Optional[_IpContext] = None

    def out(self, text: str) -> None:
        self.parts.append(text)

    def enter(self, protocol: str, layer: str) -> None:
        if len(self.protocols) >= _MAX_LAYERS:
            raise _TruncatedError()
        self.protocols.append(protocol)
        self.layer = layer

    def name(self, text: str) -> None:
        """A network layer's name (``IP ``), which ``-e`` leaves out."""
        if not self.link_header:
            self.out(text)

    def hexdump(self, data: bytes, ascii_too: bool = True, force: bool = False) -> None:
        """tcpdump's dump of a payload it does not decode (``force``: even with -x or -q)."""
        if data and (self.default_hex or force):
            lines = hex_and_ascii_lines(data) if ascii_too else hex_lines(data)
            self.out("".join("\n\t" + line for line in lines))


_Printer = Callable[[_Decoder, _View, int], None]
#: TCP and UDP also get the IP addresses, and whether the IP layer printed them already
_PortPrinter = Callable[[_Decoder, _View, int, tuple[str, str], bool], None]


# -- hex dumps and text -------------------------------------------------------------------
def hex_lines(data: bytes, offset: int = 0) -> list[str]:
    """``tcpdump -x`` lines (without the leading tab): ``0x0000:  4500 0054 ...``."""
    return [f"0x{offset + at:04x}:  {_hex_groups(data[at:at + 16])}"
            for at in range(0, len(data), 16)]


def hex_and_ascii_lines(data: bytes, offset: int = 0) -> list[str]:
    """``tcpdump -X`` lines: the hex of ``hex_lines`` padded, then the graphic characters."""
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at:at + 16]
        text = "".join(chr(b) if 0x20 < b < 0x7F else "." for b in chunk)
        lines.append(f"0x{offset + at:04x}:  {_hex_groups(chunk):<39}  {text}")
    return lines


def _hex_groups(chunk: bytes) -> str:
    return " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))


def _printable(data: bytes) -> str:
    """Bytes as tcpdump shows text: control characters as ``^X``, high bytes as ``M-``."""
    out = []
    for byte in data:
        low = byte & 0x7F
        out.append(("M-" if byte & 0x80 else "")
                   + ("^" + chr(low ^ 0x40) if low < 0x20 or low == 0x7F else chr(low)))
    return "".join(out)


# -- entry point --------------------------------------------------------------------------
def summarize(data: bytes, linktype: int = dlt.DLT_EN10MB, *, wire_length: Optional[int] = None,
              link_header: bool = False, quiet: bool = False,
              tcp: Optional[TcpSequences] = None, default_hex: bool = True,
              verbose: bool = False) -> Summary:
    """Decode one packet of link type ``linktype`` into a tcpdump-style summary.

    ``wire_length`` is the packet's length on the wire (default ``len(data)``);
    ``link_header`` is ``-e`` and ``quiet`` is ``-q``; ``tcp`` keeps relative sequence
    numbers across calls (None: absolute, ``-S``); ``default_hex`` appends tcpdump's hex dump
    of payloads it cannot decode (tcpdump leaves it out under ``-x``, ``-X`` and ``-q``).
    ``verbose`` is ``-v``: IP header details (an IPv4 packet then takes two lines, the second
    indented by four spaces), checksums verified, and the verbose forms of ICMP, ICMPv6, IPv6
    extension headers and HTTP (see the "-v" section below).
    """
    decoder = _Decoder(link_header, quiet, tcp, default_hex, verbose)
    parser = _LINKTYPES.get(linktype)
    try:
        if parser is None:
            decoder.out("UNSUPPORTED")
            decoder.hexdump(data, force=True)
        else:
            parser(decoder, _View(data), len(data) if wire_length is None else wire_length)
    except _TruncatedError as stop:
        marker = stop.args[0] if stop.args else None
        decoder.out(f" [|{decoder.layer}]" if marker is None else str(marker))
    return Summary("".join(decoder.parts), decoder.link_length, tuple(decoder.protocols),
                   decoder.src, decoder.dst)


def can_print(linktype: int) -> bool:
    """Whether ``summarize`` decodes link type ``linktype`` (else it prints ``UNSUPPORTED``)."""
    return linktype in _LINKTYPES


# -- link layers --------------------------------------------------------------------------
_ETHERTYPE_NAMES = {
    0x0800: "IPv4", 0x0806: "ARP", 0x8035: "Reverse ARP", 0x86DD: "IPv6", 0x8100: "802.1Q",
    0x88A8: "802.1Q-QinQ", 0x9100: "802.1Q-9100", 0x9200: "802.1Q-9200",
    0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x88CC: "LLDP", 0x888E: "EAPOL",
    0x8863: "PPPoE D", 0x8864: "PPPoE S", 0x9000: "Loopback", 0x8808: "MPCP",
    0x8809: "Slow Protocols", 0x88F7: "PTP", 0x8137: "IPX", 0x809B: "Appletalk",
    0x80F3: "Appletalk ARP", 0x88E5: "802.1AE MACsec", 0x8902: "CFM", 0x0600: "NS",
}
_VLAN_TPIDS = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))
_DIRECTIONS = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}
_FAMILIES = {2: 0x0800, 24: 0x86DD, 28: 0x86DD, 30: 0x86DD}  # address family -> ethertype


def _ethertype_text(ethertype: int, quiet: bool, length: Optional[int] = None) -> str:
    """``ethertype IPv4 (0x0800)`` (``IPv4`` with -q), then ``, length N: `` or ``, ``."""
    name = _ETHERTYPE_NAMES.get(ethertype)
    text = (name or f"Unknown Ethertype (0x{ethertype:04x})" if quiet else
            f"ethertype {name or 'Unknown'} (0x{ethertype:04x})")
    return text + (", " if length is None else f", length {length}: ")


def _link_payload(decoder: _Decoder, head: str, ethertype: int, view: _View,
                  length: int) -> None:
    """Print ``head`` (the -e text) when asked or when the payload is unknown, then it."""
    printer = _ETHERTYPES.get(ethertype)
    if decoder.link_header or printer is None:
        decoder.out(head)
    if printer is None:
        decoder.hexdump(view.rest())
    else:
        printer(decoder, view, length)


def _ethernet(decoder: _Decoder, view: _View, length: int) -> None:
    _ethernet_frame(decoder, view, length, None, 0)


#: a switch tag's text (given its bytes and whether -e is on), printed before the ethertype
_SwitchTag = Callable[["_View", bool], str]


def _ethernet_frame(decoder: _Decoder, view: _View, length: int, tag: Optional[_SwitchTag],
                    tag_size: int) -> None:
    """An Ethernet frame, with a switch tag of ``tag_size`` bytes after the addresses when
    ``tag`` is given (printed whether or not -e, as tcpdump does)."""
    decoder.enter("Ethernet", "ether")
    type_at = 12 + tag_size
    decoder.link_length = type_at + 2
    view.need(0, type_at + 2)
    macs, ethertype, offset = f"{view.mac(6)} > {view.mac(0)}", view.u16(type_at), type_at + 2
    tag_text = "" if tag is None else tag(view.sub(12, tag_size), decoder.link_header)
    if tag_text and not decoder.link_header:
        decoder.out(tag_text)
    if ethertype <= 1500:
        size = min(ethertype, length - offset)
        if decoder.link_header:
            decoder.out(f"{macs}, {tag_text}802.3, length {size}: ")
        _llc(decoder, view.sub(offset, size), size, (view.mac(6), view.mac(0)))
        return
    head = macs + ", " + (tag_text if decoder.link_header else "")
    decoder.layer = "vlan"
    while ethertype in _VLAN_TPIDS:  # IEEE 802.1Q tags: TPID, then priority, DEI, VLAN id
        if not view.has(offset, 4):
            raise _TruncatedError(head + " [|vlan]" if decoder.link_header else None)
        tci = view.u16(offset)
        head += (_ethertype_text(ethertype, decoder.quiet,
                                 length if offset == type_at + 2 else None)
                 + f"vlan {tci & 0xFFF}, p {tci >> 13}, " + ("DEI, " if tci & 0x1000 else ""))
        ethertype, offset = view.u16(offset + 2), offset + 4
        decoder.protocols.append("VLAN")
        decoder.link_length = offset
    if ethertype <= 1500:  # an 802.3 length after the tags
        if decoder.link_header:
            decoder.out(head + "802.3")
        size = min(ethertype, length - offset)
        _llc(decoder, view.sub(offset, size), size, (view.mac(6), view.mac(0)))
        return
    if not decoder.link_header:  # an unknown payload is announced by its own ethertype
        head = macs + ", "
    first = not decoder.link_header or offset == type_at + 2
    head += _ethertype_text(ethertype, decoder.quiet, length if first else None)
    _link_payload(decoder, head, ethertype, view.sub(offset), length - offset)


def _llc(decoder: _Decoder, view: _View, length: int,
         addresses: Optional[tuple[str, str]]) -> bool:
    """IEEE 802.2 LLC (``pcapy._decode_llc``); SNAP frames carry an ethertype. True when
    the frame was dumped, not decoded."""
    decoder.enter("LLC", "llc")
    return llc_frame(decoder, view, length, addresses)


def _snap(decoder: _Decoder, view: _View, length: int, macs: str) -> None:
    """SNAP: an OUI and a protocol id; OUI 0 means the id is an ethertype (RFC 1042)."""
    decoder.layer = "snap"
    view.need(0, 8)
    oui, ethertype = int.from_bytes(view.raw(3, 3), "big"), view.u16(6)
    what = (_ethertype_text(ethertype, False, length - 8) if oui == 0 else
            f"oui Unknown (0x{oui:06x}), pid Unknown (0x{ethertype:04x}), length {length - 8}: ")
    if decoder.link_header:
        decoder.out(("oui Ethernet (0x000000), " if oui == 0 else "") + what)
    printer = _ETHERTYPES.get(ethertype) if oui == 0 else None
    decoder.link_length += 8
    if printer is not None:
        printer(decoder, view.sub(8), length - 8)
        return
    if not decoder.link_header:
        decoder.out(f"{macs} SNAP, {what}")
    decoder.hexdump(view.rest())


def _cooked(decoder: _Decoder, head: str, protocol: int, view: _View, length: int) -> None:
    """The payload of a Linux cooked header (``length`` counts the header) of ``protocol``."""
    rest = length - decoder.link_length
    tail = "" if decoder.quiet else _ethertype_text(protocol, False, length)
    if protocol == 4 and not decoder.quiet:
        tail = f"802.2, length {length}: "
    if protocol >= 0x0600:
        _link_payload(decoder, head + tail, protocol, view, rest)
        return
    if decoder.link_header:
        decoder.out(head + tail)
    if protocol != 4:
        decoder.hexdump(view.rest())
        return
    header = decoder.link_length
    if _llc(decoder, view, rest, None):
        decoder.link_length = header  # a dumped frame's LLC header counts as data here


def _sll(decoder: _Decoder, view: _View, length: int) -> None:
    decoder.enter("SLL", "sll")
    decoder.link_length = 16
    view.need(0, 16)
    direction = _DIRECTIONS.get(view.u16(0), "?")
    address = view.mac(6) + " " if view.u16(4) == 6 else ""
    _cooked(decoder, f"{direction:>3} {address}", view.u16(14), view.sub(16), length)


def _sll2(decoder: _Decoder, view: _View, length: int) -> None:
    decoder.enter("SLL2", "sll2")
    decoder.link_length = 20
    view.need(0, 20)
    index = view.u32(4)
    decoder.out(f"{_interface_name(index):<5} {_DIRECTIONS.get(view.u8(10), '?'):<3} ")
    address = view.mac(12) + " " if view.u8(11) == 6 else ""
    _cooked(decoder, f"ifindex {index} {address}", view.u16(0), view.sub(20), length)


@functools.lru_cache(maxsize=64)
def _interface_name(index: int) -> str:
    """The local name of an interface index, as tcpdump shows it (``?`` if unknown)."""
    try:
        return socket.if_indextoname(index)
    except (AttributeError, OSError, OverflowError, ValueError):
        return "?"


def _null(decoder: _Decoder, view: _View, length: int) -> None:
    """BSD loopback: a 4-byte address family, in either byte order."""
    decoder.enter("Loopback", "null")
    decoder.link_length = 4
    view.need(0, 4)
    family = int.from_bytes(view.raw(0, 4), "little")
    if family > 0xFFFF:
        family = view.u32(0)
    name = _ETHERTYPE_NAMES.get(_FAMILIES.get(family, 0))
    head = (name or f"Unknown AF {family}" if decoder.quiet else
            f"AF {name or 'Unknown'} ({family})") + f", length {length}: "
    _link_payload(decoder, head, _FAMILIES.get(family, 0), view.sub(4), length - 4)


def _raw(decoder: _Decoder, view: _View, length: int) -> None:
    """Raw IP: the version nibble tells IPv4 from IPv6."""
    if decoder.link_header:
        decoder.out("ip: ")
    decoder.layer = "ip"
    version = view.u8(0) >> 4
    if version in (4, 6):
        (_ipv4 if version == 4 else _ipv6)(decoder, view, length)
    else:
        decoder.out(f"unknown ip {version}")


# -- ARP ----------------------------------------------------------------------------------
def _arp(decoder: _Decoder, view: _View, length: int) -> None:
    """ARP and RARP (RFC 826, 903) and inverse ARP (RFC 2390)."""
    decoder.enter("ARP", "arp")
    hlen, plen = view.u8(4), view.u8(5)
    view.need(0, 8 + 2 * (hlen + plen))
    decoder.name("ARP, ")
    hardware, protocol, op = view.u16(0), view.u16(2), view.u16(6)
    kind = "Ethernet" if hardware == 1 else f"Unknown Hardware ({hardware})"
    proto = {0x0800: "IPv4", 0x86DD: "IPv6"}.get(protocol, f"Unknown Protocol (0x{protocol:04x})")
    if protocol != 0x0800 or plen != 4 or hlen == 0:
        decoder.out(f"{kind} (len {hlen}), {proto} (len {plen}), length {length}")
        return
    if decoder.verbose:  # -v names the hardware and protocol address types
        decoder.out(f"{kind} (len {hlen}), {proto} (len {plen}), ")
    sha, spa, tpa = view.mac(8, hlen), view.ip4(8 + hlen), view.ip4(12 + 2 * hlen)
    tha, target_known = view.mac(12 + hlen, hlen), any(view.raw(12 + hlen, hlen))
    text = {1: f"Request who-has {tpa}{f' ({tha})' if target_known else ''} tell {spa}",
            2: f"Reply {spa} is-at {sha}", 3: f"Reverse Request who-is {tha} tell {sha}",
            4: f"Reverse Reply {tha} at {tpa}", 8: f"Inverse Request who-is {tha} tell {sha}",
            9: f"Inverse Reply {sha} at {spa}"}.get(op)
    if text is None:
        decoder.out(("NACK Reply" if op == 10 else f"Unknown ({op})") + " ")
        decoder.hexdump(view.rest(), force=True)
    else:
        decoder.out(f"{text}, length {length}")


# -- IPv4 and IPv6 ------------------------------------------------------------------------
def _ipv4(decoder: _Decoder, view: _View, length: int) -> None:
    decoder.enter("IPv4", "ip")
    version = view.u8(0) >> 4
    if version != 4:
        decoder.out("IP6, wrong link-layer encapsulation (invalid)" if version == 6
                    else f"IP{version} (invalid)")
        return
    decoder.name("IP ")
    view.need(0, 20)
    hlen, total = (view.u8(0) & 0x0F) * 4, view.u16(2)
    if hlen < 20 or total < hlen:
        decoder.out(f"bad-hlen {hlen}" if hlen < 20 else f"bad-len {total}")
        return
    if decoder.verbose:
        _ipv4_verbose(decoder, view, hlen, total, length)
    elif not view.has(0, hlen):
        raise _TruncatedError(f" [remaining caplen({view.end - view.start}) < header "
                              f"length({hlen})] [|ip]")
    elif total > length:
        decoder.out(f"truncated-ip - {total - length} bytes missing! ")
    decoder.ip = _IpContext(view.raw(12, 4), view.raw(16, 4), bool(view.u16(6) & 0x3FFF))
    src, dst, protocol = view.ip4(12), view.ip4(16), view.u8(9)
    if decoder.src is None:
        decoder.src, decoder.dst = src, dst
    if view.u16(6) & 0x1FFF:  # a fragment other than the first: no transport header
        decoder.out(f"{src} > {dst}: ip-proto-{protocol}")
    else:
        _ip_payload(decoder, protocol, view.sub(hlen, total - hlen), total - hlen,
                    (src, dst), False)


def _ip_payload(decoder: _Decoder, protocol: int, view: _View, length: int,
                addresses: tuple[str, str], shown: bool) -> None:
    """Dispatch on the IP protocol number; ``shown``: the addresses were printed already."""
    ported = _PORTED.get(protocol)
    if ported is not None:
        ported(decoder, view, length, addresses, shown)
        return
    if not shown:
        decoder.out(f"{addresses[0]} > {addresses[1]}: ")
    printer = _IP_PROTOCOLS.get(protocol)
    if printer is None:
        decoder.out(f" ip-proto-{protocol} {length}")
    else:
        printer(decoder, view, length)


def _ipv6(decoder: _Decoder, view: _View, length: int) -> None:
    decoder.enter("IPv6", "ip6")
    view.need(0, 40)
    decoder.name("IP6 ")
    if view.u8(0) >> 4 != 6:
        decoder.out(f"version error: {view.u8(0) >> 4} != 6")
        return
    payload, next_header = view.u16(4), view.u8(6)
    if payload + 40 > length:
        decoder.out(f"truncated-ip6 - {payload + 40 - length} bytes missing!")
    if decoder.verbose:
        decoder.out(_ipv6_details(view) + " ")
    decoder.ip = _IpContext(view.raw(8, 16), view.raw(24, 16), False)
    src, dst = view.ip6(8), view.ip6(24)
    if decoder.src is None:
        decoder.src, decoder.dst = src, dst
    if next_header in _PORTED:
        _ip_payload(decoder, next_header, view.sub(40, payload), payload, (src, dst), False)
        return
    decoder.out(f"{src} > {dst}: ")
    _ipv6_chain(decoder, next_header, view.sub(40, payload), payload, (src, dst))


def _ipv6_chain(decoder: _Decoder, next_header: int, view: _View, length: int,
                addresses: tuple[str, str]) -> None:
    """Extension headers (hop-by-hop, routing, fragment, destination options), then the rest."""
    offset, seen_hop_by_hop = 0, False
    while next_header in (0, 43, 44, 60):
        if next_header == 0 and seen_hop_by_hop:
            decoder.out("[The Hop-by-Hop Options header was already found] (invalid)")
            return
        seen_hop_by_hop = seen_hop_by_hop or next_header == 0
        if next_header == 44:
            if _fragment6(decoder, view, offset, length):
                return
            size = 8
        elif next_header == 43:
            size = _routing6(decoder, view, offset)
        else:
            decoder.layer = "hbhopt" if next_header == 0 else "dstopt"
            size = (view.u8(offset + 1) + 1) * 8
            view.need(offset, size)
            decoder.out("HBH " if next_header == 0 else "DSTOPT ")
            if decoder.verbose:
                _ipv6_options(decoder, view.sub(offset + 2, size - 2))
        next_header, offset = view.u8(offset), offset + size
    _ip_payload(decoder, next_header, view.sub(offset), length - offset, addresses, True)


def _fragment6(decoder: _Decoder, view: _View, offset: int, length: int) -> bool:
    """Print a fragment header; True when nothing follows that we can decode."""
    decoder.layer = "frag6"
    fragment_offset = view.u16(offset + 2) & 0xFFF8
    ident = f"0x{view.u32(offset + 4):08x}:" if decoder.verbose else ""
    decoder.out(f"frag ({ident}{fragment_offset}|{length - offset - 8})")
    if decoder.ip is not None:
        decoder.ip = decoder.ip._replace(fragmented=True)
    if fragment_offset:
        return True
    decoder.out(" ")
    return not view.has(offset + 8, 1)


def _routing6(decoder: _Decoder, view: _View, offset: int) -> int:
    """Print a routing header (types 0, 2 and 4 list addresses); returns its size."""
    decoder.layer = "ip6"
    view.need(offset, 1)
    decoder.out("RT6")
    decoder.layer = "rt6"
    size = view.u8(offset + 1)
    decoder.out(f" (len={size}")
    kind = view.u8(offset + 2)
    decoder.out(f", type={kind}" + (" [Deprecated]" if kind == 0 else ""))
    decoder.out(f", segleft={view.u8(offset + 3)}")
    if decoder.verbose and kind == 0:
        decoder.out(f", rsv=0x{view.u32(offset + 4):x}")
    if kind not in (0, 2, 4):
        raise _TruncatedError(" (unknown type) (invalid)")
    if kind == 4:
        decoder.out(f", last-entry={view.u8(offset + 4)}")
        decoder.out(f", tag={view.u16(offset + 6):x}")
    view.need(offset, 8)
    if kind == 0 and size % 2:
        raise _TruncatedError(f" (invalid length {size}) (invalid)")
    for index in range(size // 2):
        decoder.out(f", [{index}]{view.ip6(offset + 8 + 16 * index)}")
    decoder.out(") ")
    if size >= 2 and decoder.ip is not None:  # the checksums' final destination (RFC 8200 8.1)
        final = offset + 8 + (0 if kind == 4 else 16 * (size // 2 - 1))
        decoder.ip = decoder.ip._replace(dst=view.raw(final, 16))
    return (size + 1) * 8


# -- TCP ----------------------------------------------------------------------------------
def _ends(addresses: tuple[str, str], shown: bool, sport: int, dport: int) -> str:
    """``10.0.0.1.80 > 10.0.0.2.5000: ``, or ``80 > 5000: `` if the addresses were shown."""
    return (f"{sport} > {dport}: " if shown else
            f"{addresses[0]}.{sport} > {addresses[1]}.{dport}: ")


def _tcp(decoder: _Decoder, view: _View, length: int, addresses: tuple[str, str],
         shown: bool) -> None:
    decoder.enter("TCP", "tcp")
    if not view.has(0, 4):
        raise _TruncatedError(f"{addresses[0]} > {addresses[1]}: [|tcp]")
    sport, dport = view.u16(0), view.u16(2)
    decoder.out(_ends(addresses, shown, sport, dport))
    view.need(0, 20)
    hlen, flags = (view.u8(12) >> 4) * 4, view.u8(13)
    payload = length - hlen
    if hlen < 20:
        decoder.out(f" tcp {length} [bad hdr length {hlen} - too short, < 20]")
        return
    too_long = f" [bad hdr length {hlen} - too long, > {length}]" if hlen > length else ""
    if decoder.quiet or too_long:
        decoder.out((f"tcp {payload & _MASK32}" if decoder.quiet else
                     f"Flags [{_tcp_flags(flags)}]") + too_long)
        return
    decoder.out(f"Flags [{_tcp_flags(flags)}]")
    if decoder.verbose:
        decoder.out(_tcp_checksum(decoder, view, length))
    ack_base = _tcp_numbers(decoder, view, flags, payload, (addresses[0], sport),
                            (addresses[1], dport))
    if hlen > 20:
        decoder.out(", options [")
        _tcp_options(decoder, view, hlen, ack_base)
        decoder.out("]")
    decoder.out(f", length {payload}")
    if payload > 0:
        _tcp_payload(decoder, view.sub(hlen, payload), payload, (sport, dport))


def _tcp_flags(flags: int) -> str:
    return "".join(c for bit, c in zip((1, 2, 4, 8, 16, 32, 64, 128), "FSRP.UEW")
                   if flags & bit) or "none"


def _tcp_numbers(decoder: _Decoder, view: _View, flags: int, payload: int, src: _Endpoint,
                 dst: _Endpoint) -> int:
    """Print seq, ack, win and urg; returns the base of acknowledged numbers (for SACK)."""
    seq, ack, ack_base = view.u32(4), view.u32(8), 0
    if decoder.tcp is not None and flags & 0x10:
        seq_base, ack_base, opened = decoder.tcp.bases(src, dst, seq, ack, bool(flags & 2))
        if not opened:
            seq, ack = (seq - seq_base) & _MASK32, (ack - ack_base) & _MASK32
    if payload or flags & 7:
        decoder.out(f", seq {seq}" + (f":{(seq + payload) & _MASK32}" if payload else ""))
    if flags & 0x10:
        decoder.out(f", ack {ack}")
    decoder.out(f", win {view.u16(14)}" + (f", urg {view.u16(18)}" if flags & 0x20 else ""))
    return ack_base


#: kind -> (name, the length the specification gives it, or 0 when it varies)
_TCP_OPTIONS = {2: ("mss", 4), 3: ("wscale", 3), 4: ("sackOK", 2), 5: ("sack", 0),
                8: ("TS", 10)}


def _tcp_options(decoder: _Decoder, view: _View, hlen: int, ack_base: int) -> None:
    offset = 20
    while offset < hlen:
        kind = view.u8(offset)
        if kind in (0, 1):
            decoder.out("nop" if kind else "eol")
            if kind == 0:
                return
            offset += 1
        else:
            size = view.u8(offset + 1)
            if size < 2 or offset + size > hlen:
                raise _TruncatedError("[bad opt]" + ("]" if offset > 20 else ""))
            name, expected = _TCP_OPTIONS.get(kind, (f"unknown-{kind}", 0))
            decoder.out(name)
            _tcp_option_value(decoder, view, kind, offset, size, ack_base)
            if expected and size != expected:
                decoder.out(f"[len {size}]")
            offset += expected or size
        if offset < hlen:
            decoder.out(",")


def _tcp_option_value(decoder: _Decoder, view: _View, kind: int, offset: int, size: int,
                      ack_base: int) -> None:
    at = offset + 2
    try:
        if kind in (2, 3):
            decoder.out(f" {view.u16(at) if kind == 2 else view.u8(at)}")
        elif kind == 8:
            decoder.out(f" val {view.u32(at)} ecr {view.u32(at + 4)}")
        elif kind == 5 and (size - 2) % 8:
            decoder.out(" invalid sack")
        elif kind == 5:
            decoder.out(f" {(size - 2) // 8} ")
            for block in range(at, offset + size, 8):
                decoder.out(f"{{{(view.u32(block) - ack_base) & _MASK32}:"
                            f"{(view.u32(block + 4) - ack_base) & _MASK32}}}")
        elif kind not in _TCP_OPTIONS and size > 2:
            decoder.out(" 0x")
            for index in range(at, offset + size):
                decoder.out(f"{view.u8(index):02x}")
    except _TruncatedError:
        raise _TruncatedError(" [|tcp]>" if offset > 20 else None) from None


def _tcp_payload(decoder: _Decoder, view: _View, length: int, ports: tuple[int, int]) -> None:
    """DNS over TCP (RFC 1035 4.2.2: a two-byte length prefix) or the first line of HTTP."""
    if 53 in ports:
        decoder.enter("DNS", "domain")
        if length < 2:
            decoder.out(f" [DNS over TCP: length {length} < 2] (invalid)")
        elif view.u16(0) != length - 2:
            decoder.out(f" [prefix length({view.u16(0)}) != length({length - 2})] (invalid)")
        else:
            decoder.out(" ")
            _dns(decoder, view.sub(2), length - 2, mdns=False)
    elif 80 in ports or 8080 in ports:
        _http(decoder, view, length)
    elif 22 in ports:
        _ssh(decoder, view, length)
    elif 6633 in ports or 6653 in ports:
        _openflow(decoder, view, length)


# -- OpenFlow (its header only, as tcpdump prints it without -v) ----------------------------
_OF_VERSIONS = {1: "1.0", 2: "1.1", 3: "1.2", 4: "1.3", 5: "1.4", 6: "1.5"}
_OF_COMMON = ("HELLO", "ERROR", "ECHO_REQUEST", "ECHO_REPLY")
_OF_TYPES = {
    1: (*_OF_COMMON, "VENDOR", "FEATURES_REQUEST", "FEATURES_REPLY", "GET_CONFIG_REQUEST",
        "GET_CONFIG_REPLY", "SET_CONFIG", "PACKET_IN", "FLOW_REMOVED", "PORT_STATUS",
        "PACKET_OUT", "FLOW_MOD", "PORT_MOD", "STATS_REQUEST", "STATS_REPLY",
        "BARRIER_REQUEST", "BARRIER_REPLY", "QUEUE_GET_CONFIG_REQUEST",
        "QUEUE_GET_CONFIG_REPLY"),
    4: (*_OF_COMMON, "EXPERIMENTER", "FEATURES_REQUEST", "FEATURES_REPLY",
        "GET_CONFIG_REQUEST", "GET_CONFIG_REPLY", "SET_CONFIG", "PACKET_IN", "FLOW_REMOVED",
        "PORT_STATUS", "PACKET_OUT", "FLOW_MOD", "GROUP_MOD", "PORT_MOD", "TABLE_MOD",
        "MULTIPART_REQUEST", "MULTIPART_REPLY", "BARRIER_REQUEST", "BARRIER_REPLY",
        "QUEUE_GET_CONFIG_REQUEST", "QUEUE_GET_CONFIG_REPLY", "ROLE_REQUEST", "ROLE_REPLY",
        "GET_ASYNC_REQUEST", "GET_ASYNC_REPLY", "SET_ASYNC", "METER_MOD"),
}
#: messages whose body must be empty (OpenFlow 1.0 and 1.3 alike)
_OF_EMPTY = frozenset(("FEATURES_REQUEST", "GET_CONFIG_REQUEST", "BARRIER_REQUEST",
                       "BARRIER_REPLY", "GET_ASYNC_REQUEST"))


def _openflow(decoder: _Decoder, view: _View, length: int) -> None:
    """Each OpenFlow message's header in the segment: version, type, length, xid."""
    decoder.enter("OpenFlow", "openflow")
    decoder.out(": OpenFlow")
    offset = 0
    while offset < length:
        version = view.u8(offset)
        decoder.out(f"\n\tversion {_OF_VERSIONS.get(version, f'unknown (0x{version:02x})')}")
        if length - offset < 8:
            _openflow_partial(decoder, view, offset, length)
            return
        kind, size = view.u8(offset + 1), view.u16(offset + 2)
        names = _OF_TYPES.get(version, ())
        name = names[kind] if kind < len(names) else None
        decoder.out((f", type {name}" if name else f", type unknown (0x{kind:02x})")
                    + f", length {size}{' (too short!)' if size < 8 else ''}"
                    + f", xid 0x{view.u32(offset + 4):08x}")
        if size < 8 or (name in _OF_EMPTY and size != 8):
            decoder.out(" (invalid)")
            view.need(offset + 8, length - offset - 8)
            return
        view.need(offset + 8, size - 8)
        if size > length - offset:
            return
        offset += size


def _openflow_partial(decoder: _Decoder, view: _View, offset: int, length: int) -> None:
    """A message header cut by the end of the segment: what there is, then the note."""
    remaining = length - offset
    kind = view.u8(offset + 1) if remaining > 1 else None
    if kind is not None:
        names = _OF_TYPES.get(view.u8(offset), ())
        decoder.out(f", type {names[kind]}" if kind < len(names)
                    else f", type unknown (0x{kind:02x})")
    if remaining >= 4:
        size = view.u16(offset + 2)
        decoder.out(f", length {size}{' (too short!)' if size < 8 else ''}")
    decoder.out(" (end of TCP payload)")
    view.need(offset, remaining)


def _ssh(decoder: _Decoder, view: _View, length: int) -> None:
    """An SSH version line (RFC 4253 4.2), ``SSH-2.0-...``, when the segment starts with one
    that ends (CR LF or LF) within it; anything else prints nothing."""
    decoder.enter("SSH", "ssh")
    if any(view.u8(at) != ord(c) for at, c in enumerate("SSH-")):
        return
    for at in range(4, length):
        byte = view.u8(at)
        if byte == 0x0A or (byte == 0x0D and at + 1 < length and view.u8(at + 1) == 0x0A):
            decoder.out(": SSH: " + view.raw(0, at).decode("ascii"))
            return
        if not 0x20 <= byte < 0x7F:
            return


# -- HTTP ---------------------------------------------------------------------------------
_HTTP_METHODS = frozenset((
    "GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
    "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "NOTIFY", "SUBSCRIBE",
    "UNSUBSCRIBE", "REPORT", "MKACTIVITY", "CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE",
    "VERSION-CONTROL", "MKWORKSPACE", "UPDATE", "LABEL", "BASELINE-CONTROL", "POLL", "BMOVE",
    "BDELETE", "BCOPY", "BPROPFIND", "BPROPPATCH"))


def _http(decoder: _Decoder, view: _View, length: int) -> None:
    """``HTTP``, then the request or status line when the payload starts with one."""
    decoder.enter("HTTP", "http")
    decoder.out(": HTTP")
    data = view.rest()
    whole = len(data) >= length
    line, ended = _first_line(data, whole)
    if line is None:
        return
    token = line.split(b" ")[0].split(b"\t")[0]
    if (ended or whole or len(token) < len(line)) and _http_start(
            token, line[len(token):], ended or whole):
        if decoder.verbose:
            decoder.out(f", length: {length}")
            _http_lines(decoder, data, whole)
            return
        if ended or whole:
            decoder.out(": " + line.decode("ascii"))
        if not ended:
            raise _TruncatedError()


def _first_line(data: bytes, whole: bool) -> tuple[Optional[bytes], bool]:
    """The first line and whether it ended (CRLF or LF); None if it is not text."""
    for index, byte in enumerate(data):
        if byte == 0x0A or (byte == 0x0D and data[index + 1:index + 2] == b"\n"):
            return data[:index], True
        if byte == 0x0D:
            return (None, False) if index + 1 < len(data) or whole else (data[:index], False)
        if not (0x20 <= byte < 0x7F or byte == 0x09):
            return None, False
    return data, False


def _http_start(token: bytes, rest: bytes, complete: bool) -> bool:
    """A request method, or ``HTTP...`` followed by a three-digit status code."""
    word = token.decode("ascii").upper()
    if word in _HTTP_METHODS:
        return True
    status = rest.lstrip(b" ")
    after = (b"", b" ") if complete else (b" ",)
    return word.startswith("HTTP") and status[:3].isdigit() and status[3:4] in after


# -- UDP ----------------------------------------------------------------------------------
def _udp(decoder: _Decoder, view: _View, length: int, addresses: tuple[str, str],
         shown: bool) -> None:
    decoder.enter("UDP", "udp")
    if not view.has(0, 4):
        raise _TruncatedError(("" if shown else f"{addresses[0]} > {addresses[1]}: ")
                              + " [|udp]")
    sport, dport = view.u16(0), view.u16(2)
    decoder.out(_ends(addresses, shown, sport, dport))
    size = view.u16(4) if length >= 8 else 0
    if length < 8 or size < 8:
        decoder.out(f"truncated-udp {length}" if length < 8 else f"truncated-udplength {size}")
        return
    view.need(0, 8)
    ports, payload = (sport, dport), size - 8
    # The first fragment of a datagram carries its full UDP length, but only part of it.
    fragment = decoder.ip is not None and decoder.ip.fragmented
    if size > length and not fragment:
        decoder.out(f"UDP, bad length {payload} > {length - 8}")
        return
    if decoder.verbose:
        decoder.out(_udp_checksum(decoder, view, size))
    if not decoder.quiet and not (53 in ports or 5353 in ports) and any(
            _RX_PORTS[0] <= port <= _RX_PORTS[1] for port in ports):
        _rx(decoder, view.sub(8, payload), min(size, length) - 8)
    elif decoder.quiet or not (53 in ports or 5353 in ports):
        decoder.out(f"UDP, length {payload}")
    else:
        decoder.enter("DNS" if 53 in ports else "mDNS", "domain")
        payload = min(size, length) - 8  # what this fragment holds of the message
        if payload < 12:
            decoder.out(f"domain [length {payload} < 12] (invalid)")
        else:
            _dns(decoder, view.sub(8, payload), payload, mdns=53 not in ports)


# -- Rx (AFS's remote procedure calls): the header, and acknowledgments ----------------------
_RX_PORTS = (7000, 7009)
_RX_TYPES = {1: "data", 2: "ack", 3: "busy", 4: "abort", 5: "ackall", 6: "challenge",
             7: "response", 8: "debug", 9: "params", 13: "version"}
_RX_ACK_REASONS = {1: "ack requested", 2: "duplicate packet", 3: "out of sequence",
                   4: "exceeds window", 5: "no buffer space", 6: "ping", 7: "ping response",
                   8: "delay", 9: "idle"}
_RX_HEADER = 28


def _rx(decoder: _Decoder, view: _View, length: int) -> None:
    """An Rx packet: its type, with -v its sequence and serial numbers, and an ack's details.

    The AFS services' calls and replies inside data packets are not decoded.
    """
    decoder.enter("Rx", "rx")
    if not view.has(0, _RX_HEADER):
        decoder.out(f" [|rx] ({length})")
        return
    kind = view.u8(20)
    decoder.out(" rx " + _RX_TYPES.get(kind, f"type {kind}"))
    if decoder.verbose:
        decoder.out(f" seq {view.u32(12)} ser {view.u32(16)}")
    if kind == 2:
        try:
            _rx_ack(decoder, view.sub(_RX_HEADER))
        except _TruncatedError:
            decoder.out(" [|ack]")
    decoder.out(f" ({length})")


def _rx_ack(decoder: _Decoder, view: _View) -> None:
    view.need(0, 18)
    first, count = view.u32(4), view.u8(17)
    reason = view.u8(16)
    decoder.out(f" first {first} serial {view.u32(12)} reason "
                + _RX_ACK_REASONS.get(reason, f"#{reason}"))
    if count:
        acks = view.raw(18, count)
        decoder.out(_rx_ranges(" acked ", first, acks, 1) + _rx_ranges(" nacked ", first, acks, 0))


def _rx_ranges(label: str, first: int, acks: bytes, wanted: int) -> str:
    """``acked 3-5,8``: the runs of packets whose ack byte is ``wanted``."""
    runs: list[str] = []
    index = 0
    while index < len(acks):
        if acks[index] != wanted:
            index += 1
            continue
        end = index
        while end + 1 < len(acks) and acks[end + 1] == wanted:
            end += 1
        runs.append(str(first + index) if end == index else f"{first + index}-{first + end}")
        index = end + 1
    return label + ",".join(runs) if runs else ""


# -- DNS ----------------------------------------------------------------------------------
_RR_TYPES = dict(enumerate((
    "A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "NULL", "WKS", "PTR", "HINFO",
    "MINFO", "MX", "TXT", "RP", "AFSDB", "X25", "ISDN", "RT", "NSAP", "NSAP_PTR", "SIG", "KEY",
    "PX", "GPOS", "AAAA", "LOC", "NXT", "EID", "NIMLOC", "SRV", "ATMA", "NAPTR", "KX", "CERT",
    "A6", "DNAME", "SINK", "OPT", "APL", "DS", "SSHFP", "IPSECKEY", "RRSIG", "NSEC", "DNSKEY",
), start=1))
_RR_TYPES.update({99: "SPF", 100: "UINFO", 101: "UID", 102: "GID", 103: "UNSPEC",
                  104: "UNSPECA", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR",
                  253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI"})
_CLASSES = {1: "IN", 3: "CHAOS", 4: "HS", 255: "ANY"}
_OPCODES = {1: "inv_q", 2: "stat", 4: "notify", 5: "update", 14: "zoneInit", 15: "zoneRef"}
_RCODES = {1: "FormErr", 2: "ServFail", 3: "NXDomain", 4: "NotImp", 5: "Refused",
           6: "YXDomain", 7: "YXRRSet", 8: "NXRRSet", 9: "NotAuth", 10: "NotZone",
           15: "NoChange"}


def _dns_class(value: int, mdns: bool, question: bool) -> str:
    """A class other than IN; in mDNS, the top bit asks a unicast reply or flushes caches."""
    plain = value & 0x7FFF if mdns else value
    text = "" if plain == 1 else " " + _CLASSES.get(plain, f"(Class {plain})")
    if mdns and value & 0x8000:
        return text + (" (QU)" if question else " (Cache flush)")
    return text + (" (QM)" if mdns and question and plain != 1 else "")


def _dns(decoder: _Decoder, view: _View, length: int, mdns: bool) -> None:
    """One DNS message (RFC 1035; mDNS's use of the class top bit from RFC 6762)."""
    decoder.layer = "domain"
    view.need(0, 12)
    ident, flags = view.u16(0), view.u16(2)
    counts = [view.u16(offset) for offset in (4, 6, 8, 10)]
    opcode = (flags >> 11) & 0x0F
    decoder.out(str(ident) + (" " + _OPCODES.get(opcode, f"op{opcode}") if opcode else ""))
    if flags & 0x8000:
        _dns_response(decoder, view, flags, counts, mdns)
    else:
        _dns_query(decoder, view, flags, counts, mdns)
    decoder.out(f" ({length})")


def _dns_query(decoder: _Decoder, view: _View, flags: int, counts: list[int],
               mdns: bool) -> None:
    questions, answers, authority, additional = counts
    decoder.out(("+" if flags & 0x0100 else "") + ("%" if flags & 0x0010 else ""))
    if flags & 0x06CF:  # AA, TC, RA, Z or RCODE set in a query
        decoder.out(f" [b2&3=0x{flags:x}]")
    inverse = (flags >> 11) & 0x0F == 1
    decoder.out((f" [{answers}a]" if answers or inverse else "")
                + (f" [{questions}q]" if questions != 1 or inverse else "")
                + (f" [{authority}n]" if authority else "")
                + (f" [{additional}au]" if additional else ""))
    offset = 12
    for _ in range(questions):
        end = _dns_skip_name(view, offset)
        qtype, qclass = view.u16(end), view.u16(end + 2)
        decoder.out(f" {_RR_TYPES.get(qtype, f'Type{qtype}')}{_dns_class(qclass, mdns, True)}? ")
        _dns_name(decoder, view, offset, "")
        offset = end + 4


def _dns_response(decoder: _Decoder, view: _View, flags: int, counts: list[int],
                  mdns: bool) -> None:
    questions, answers, authority, additional = counts
    rcode = flags & 0x0F
    decoder.out((" " + _RCODES.get(rcode, f"Resp{rcode}") if rcode else "")
                + ("*" if flags & 0x0400 else "") + ("" if flags & 0x0080 else "-")
                + ("|" if flags & 0x0200 else "") + ("$" if flags & 0x0020 else "")
                + (f" [{questions}q]" if questions != 1 else ""))
    offset: Optional[int] = 12
    for _ in range(questions):
        offset = _dns_skip_name(view, offset or 0) + 4
    decoder.out(f" {answers}/{authority}/{additional}")
    remaining = answers
    while remaining and offset is not None and (remaining == answers or view.has(offset)):
        decoder.out("," if remaining < answers else "")
        offset, remaining = _dns_record(decoder, view, offset, mdns), remaining - 1
    if remaining:
        raise _TruncatedError()


def _dns_record(decoder: _Decoder, view: _View, offset: int, mdns: bool) -> Optional[int]:
    """Print one resource record's type and data; its end, or None if its header is cut.

    -v prints the record's owner name first (see ``_dns_owner``)."""
    if decoder.verbose and not _dns_owner(decoder, view, offset):
        return None
    try:
        end = _dns_skip_name(view, offset)
        view.need(end, 10)
    except _TruncatedError:
        return None
    rtype, rclass, size = view.u16(end), view.u16(end + 2), view.u16(end + 8)
    decoder.out(f"{_dns_class(rclass, mdns, False)} {_RR_TYPES.get(rtype, f'Type{rtype}')}")
    view.need(end + 10, size)
    _dns_rdata(decoder, view, rtype, end + 10, size)
    return end + 10 + size


def _dns_rdata(decoder: _Decoder, view: _View, rtype: int, at: int, size: int) -> None:
    if rtype in (1, 28):
        decoder.out(" " + (view.ip4(at) if rtype == 1 else view.ip6(at)))
    elif rtype in (2, 5, 12, 39):
        _dns_name(decoder, view, at, " ")
    elif rtype == 15:
        preference = view.u16(at)
        _dns_name(decoder, view, at + 2, " ")
        decoder.out(f" {preference}")
    elif rtype == 33:
        decoder.out(" ")
        _dns_name(decoder, view, at + 6, "")
        decoder.out(f":{view.u16(at + 4)} {view.u16(at)} {view.u16(at + 2)}")
    elif rtype == 16:
        position = at
        while position < at + size:
            count = view.u8(position)
            decoder.out(f' "{_printable(view.raw(position + 1, count))}"')
            position += count + 1


def _dns_skip_name(view: _View, offset: int) -> int:
    """The offset after the name at ``offset`` (pointers not followed); checks its bytes."""
    while True:
        size = view.u8(offset)
        if size & 0xC0 == 0xC0:
            view.need(offset, 2)
            return offset + 2
        if size & 0xC0:
            raise _TruncatedError()
        if size == 0:
            return offset + 1
        view.need(offset + 1, size)
        offset += size + 1


def _dns_name(decoder: _Decoder, view: _View, offset: int, lead: str = "") -> None:
    """Print ``lead`` and the name at ``offset`` (its own bytes checked first).

    Compression pointers must point strictly before the start of the labels being read (and
    at most 255 times), so the walk ends; a bad pointer ends the line after ``<BAD PTR>``.
    """
    _dns_skip_name(view, offset)
    text, total, limit, jumps, complete = "", 0, offset, 0, False
    try:
        while True:
            size = view.u8(offset)
            if size & 0xC0 == 0xC0:
                target, jumps = view.u16(offset) & 0x3FFF, jumps + 1
                if target >= limit or jumps > _MAX_POINTER_JUMPS:
                    text += "<BAD PTR>"
                    break
                offset = limit = target
            elif size & 0xC0:
                break
            elif size == 0 or total + size > 255:
                text = text + "<DOMAIN NAME TOO LONG>" if total + size > 255 else text or "."
                complete = True
                break
            else:
                text += _printable(view.raw(offset + 1, size)) + "."
                total, offset = total + size + 1, offset + size + 1
    except _TruncatedError:
        pass
    decoder.out(lead + text)
    if not complete:
        raise _TruncatedError()


def _dns_owner(decoder: _Decoder, view: _View, offset: int) -> bool:
    """-v: a record's owner name, printed label by label as far as it was captured.

    As tcpdump -v prints it: a label cut after some of its characters, or a name whose next
    length byte is missing, ends the line (``[|domain]``) after what was printed; a label of
    which not one character was captured gives up the record quietly (False), like a record
    whose fixed fields are cut. Pointers are followed as in ``_dns_name``.
    """
    decoder.out(" ")
    total, limit, jumps = 0, offset, 0
    while True:
        size = view.u8(offset)
        if size & 0xC0 == 0xC0:
            target, jumps = view.u16(offset) & 0x3FFF, jumps + 1
            if target >= limit or jumps > _MAX_POINTER_JUMPS:
                decoder.out("<BAD PTR>")
                raise _TruncatedError()
            offset = limit = target
        elif size & 0xC0:
            raise _TruncatedError()
        elif size == 0 or total + size > 255:
            decoder.out("<DOMAIN NAME TOO LONG>" if size else "." if total == 0 else "")
            return True
        else:
            label = view.captured(offset + 1, size)
            if not label:
                return False
            decoder.out(_printable(label) + ("." if len(label) == size else ""))
            if len(label) < size:
                raise _TruncatedError()
            total, offset = total + size + 1, offset + size + 1


# -- ICMP ---------------------------------------------------------------------------------
_ICMP_NAMES = {4: "source quench", 9: "router advertisement", 10: "router solicitation",
               15: "information request", 16: "information reply",
               17: "address mask request"}
_UNREACHABLE = ("net {} unreachable", "host {} unreachable", "{} protocol {} unreachable",
                "{} {} port {} unreachable", *(f"{kind}{{}} unreachable - {why}" for kind, why in (
                    ("", "need to frag"), ("", "source route failed"), ("net ", "unknown"),
                    ("host ", "unknown"), ("", "source host isolated"),
                    ("net ", "admin prohibited"), ("host ", "admin prohibited"),
                    ("net ", "tos prohibited"), ("host ", "tos prohibited"),
                    ("host ", "admin prohibited filter"), ("host ", "host precedence violation"),
                    ("host ", "precedence cutoff"))))
_REDIRECTS = ("redirect {} to net {}", "redirect {} to host {}", "redirect-tos {} to net {}",
              "redirect-tos {} to host {}")
_PORT_PROTOCOLS = {6: "tcp", 17: "udp"}


def _icmp(decoder: _Decoder, view: _View, length: int) -> None:
    """ICMP (RFC 792, 950, 1256): type and details, then the ICMP length."""
    decoder.enter("ICMP", "icmp")
    kind, code = view.u8(0), view.u8(1)
    detail = _ICMP.get(kind)
    text = detail(view, code) if detail else _ICMP_NAMES.get(kind, f"type-#{kind}")
    decoder.out(f"ICMP {text}, length {length}")
    if decoder.verbose:
        _icmp_verbose(decoder, view, length, kind)


def _quoted(view: _View, header: int) -> _View:
    """The IP header (and first bytes) of the datagram an ICMP error is about."""
    view.need(8, header)
    return view.sub(8)


def _icmp_unreachable(view: _View, code: int) -> str:
    inner = _quoted(view, 20)
    dst, protocol = inner.ip4(16), inner.u8(9)
    if code == 3:
        port = inner.u16((inner.u8(0) & 0x0F) * 4 + 2)
        return _UNREACHABLE[3].format(dst, _PORT_PROTOCOLS.get(protocol, f"protocol {protocol}"),
                                      port)
    if code >= len(_UNREACHABLE):
        return f"{dst} unreachable - #{code}"
    mtu = view.u16(6) if code == 4 else 0
    return _UNREACHABLE[code].format(dst, protocol) + (f" (mtu {mtu})" if mtu else "")


def _icmp_redirect(view: _View, code: int) -> str:
    text = _REDIRECTS[code] if code < len(_REDIRECTS) else f"redirect-#{code} {{}} to {{}}"
    return text.format(_quoted(view, 20).ip4(16), view.ip4(4))


def _icmp_time_exceeded(view: _View, code: int) -> str:
    _quoted(view, 20)
    return {0: "time exceeded in-transit", 1: "ip reassembly time exceeded"}.get(
        code, f"time exceeded-#{code}")


def _icmp_timestamp(view: _View, code: int) -> str:
    """A time stamp query, or a reply with its three times (ms since midnight UTC)."""
    query = view.u8(0) == 13
    text = f"time stamp {'query' if query else 'reply'} id {view.u16(4)} seq {view.u16(6)}"
    for index, label in enumerate(() if query else ("org", "recv", "xmit")):
        seconds, millis = divmod(view.u32(8 + 4 * index), 1000)
        text += (f"{', ' if index else ': '}{label} {seconds // 3600:02d}:"
                 f"{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millis:03d}")
    return text


_ICMP: dict[int, Callable[[_View, int], str]] = {
    0: lambda view, code: f"echo reply, id {view.u16(4)}, seq {view.u16(6)}",
    8: lambda view, code: f"echo request, id {view.u16(4)}, seq {view.u16(6)}",
    3: _icmp_unreachable, 5: _icmp_redirect, 11: _icmp_time_exceeded,
    12: lambda view, code: "parameter problem - " + (f"octet {view.u8(4)}" if code == 0
                                                     else f"code {code}"),
    13: _icmp_timestamp, 14: _icmp_timestamp,
    18: lambda view, code: f"address mask is 0x{view.u32(8):08x}",
}


# -- ICMPv6 -------------------------------------------------------------------------------
_ICMP6_NAMES = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded",
                4: "parameter problem", 128: "echo request", 129: "echo reply",
                130: "multicast listener query", 131: "multicast listener report",
                132: "multicast listener done", 133: "router solicitation",
                134: "router advertisement", 135: "neighbor solicitation",
                136: "neighbor advertisement", 137: "redirect",
                143: "multicast listener report v2"}
_UNREACHABLE6 = (", unreachable route", ",  unreachable prohibited", ", beyond scope",
                 ", unreachable address", ", unreachable port")
_PARAMETER_PROBLEMS = ("erroneous", "next header", "option", "incomplete header chain")


def _icmp6(decoder: _Decoder, view: _View, length: int) -> None:
    """ICMPv6 (RFC 4443, 4861, 2710, 3810): type, details, then the ICMPv6 length."""
    decoder.enter("ICMPv6", "icmp6")
    if length == 0:
        decoder.out("ICMP6, length 0 (invalid)")
        return
    kind = view.u8(0)
    if decoder.verbose:
        decoder.out(_icmp6_checksum(decoder, view, length))
    decoder.out("ICMP6, " + _ICMP6_NAMES.get(kind, f"unknown icmp6 type ({kind})")
                + (" in-transit" if kind == 3 else ""))
    if decoder.verbose and kind in _NDP:
        _ndp(decoder, view, length, kind)
        return
    code = view.u8(1)
    if kind == 1:
        _icmp6_unreachable(decoder, view, code)
    detail = _ICMP6.get(kind)
    decoder.out(detail(view, code) if detail else "")
    if decoder.verbose and kind in _ICMP6_VERBOSE:
        _icmp6_verbose(decoder, view, kind)
        return
    decoder.out(f", length {length}")
    if kind not in _ICMP6_NAMES:
        decoder.hexdump(view.rest(), ascii_too=False, force=True)


def _icmp6_unreachable(decoder: _Decoder, view: _View, code: int) -> None:
    """The reason for a destination unreachable; an unknown one ends with a hex dump."""
    if code < len(_UNREACHABLE6):
        decoder.out(_UNREACHABLE6[code])
        return
    decoder.out(f", unknown unreach code ({code})")
    decoder.hexdump(view.rest(), ascii_too=False, force=True)
    raise _TruncatedError("")


def _icmp6_unreachable_detail(view: _View, code: int) -> str:
    inner = _quoted(view, 40)
    if code == 4:
        protocol = inner.u8(6)
        name = _PORT_PROTOCOLS.get(protocol, f"protocol {protocol}")
        return f", {inner.ip6(24)} {name} port {inner.u16(42)}"
    source = f", source address {inner.ip6(8)}" if code == 2 else ""
    return f" {inner.ip6(24)}{source}"


def _icmp6_time_exceeded(view: _View, code: int) -> str:
    if code == 0:
        return f" for {_quoted(view, 40).ip6(24)}"
    return " (reassembly)" if code == 1 else f", unknown code ({code})"


def _icmp6_parameter(view: _View, code: int) -> str:
    _quoted(view, 40)
    if code >= len(_PARAMETER_PROBLEMS):
        return f", code-#{code}"
    return f", {_PARAMETER_PROBLEMS[code]} - octet {view.u32(4)}"


def _icmp6_listener(view: _View, code: int) -> str:
    if not view.has(0, 24):  # tcpdump leaves the details out of a short message
        return ""
    return f"max resp delay: {view.u16(4)} addr: {view.ip6(8)}"


_ICMP6: dict[int, Callable[[_View, int], str]] = {
    1: _icmp6_unreachable_detail, 3: _icmp6_time_exceeded, 4: _icmp6_parameter,
    2: lambda view, code: f", mtu {view.u32(4)}",
    **dict.fromkeys((128, 129), lambda view, code: f", id {view.u16(4)}, seq {view.u16(6)}"),
    130: _icmp6_listener, 131: _icmp6_listener, 132: _icmp6_listener,
    135: lambda view, code: f", who has {view.ip6(8)}",
    136: lambda view, code: f", tgt is {view.ip6(8)}",
    137: lambda view, code: f", {view.ip6(24)} to {view.ip6(8)}",
    143: lambda view, code: f", {view.u16(6)} group record(s)",
}


# -- -v: verbose details ------------------------------------------------------------------
# What tcpdump 4.99 adds under -v, derived from its output on captures and crafted packets
# and from the specifications (RFC 791 and 3168 for the IPv4 header, 8200 for IPv6, 1071 for
# the checksums, 4443 and 4861 for ICMPv6): IP header details, checksums verified where the
# whole message was captured and is not a fragment (TCP always; UDP and ICMPv6 over IPv6;
# ICMP only when wrong), the datagram an ICMP error quotes, IPv6 extension-header options,
# NDP details and options, every line of an HTTP message. Not reproduced: IPv4 timestamp
# options (only their name is printed), the IPv6 jumbo payload option, NDP options other than
# link-layer address, prefix, MTU and RDNSS (printed as unknown), MLDv2 queries.

#: protocol names of IPv4 -v and IPv6 -v headers (others are "unknown")
_IP_PROTOCOL_NAMES = {
    0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 8: "EGP", 9: "IGRP", 17: "UDP",
    33: "DCCP", 41: "IPv6", 43: "Routing", 44: "Fragment", 46: "RSVP", 47: "GRE", 50: "ESP",
    51: "AH", 55: "Mobile IP", 58: "ICMPv6", 62: "Mobile IP (old)", 88: "EIGRP", 89: "OSPF",
    103: "PIM", 108: "Compressed IP", 112: "VRRP", 113: "PGM", 132: "SCTP", 135: "Mobility",
    143: "Ethernet",
}
_ECN = {1: ",ECT(1)", 2: ",ECT(0)", 3: ",CE"}  # RFC 3168, the low bits of the TOS byte
_IPV4_FRAGMENT_FLAGS = ((0x2000, "+"), (0x4000, "DF"), (0x8000, "rsvd"))
_IPV4_OPTION_NAMES = {0: "EOL", 1: "NOP", 7: "RR", 68: "timestamp", 130: "security",
                      131: "LSRR", 137: "SSRR", 148: "RA"}
_ROUTE_OPTIONS = frozenset((7, 131, 137))  # record route, loose and strict source route


def _checksum(data: bytes) -> int:
    """The Internet checksum of ``data`` (RFC 1071): 0 when a checksum inside it is right."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _should_be(data: bytes, at: int) -> int:
    """The checksum ``data`` should carry at offset ``at`` (computed with that field zero)."""
    return _checksum(data[:at] + b"\x00\x00" + data[at + 2:])


def _pseudo_header(ip: _IpContext, protocol: int, length: int) -> bytes:
    """The pseudo-header TCP, UDP and ICMPv6 checksums cover (RFC 9293, 768, 8200 8.1)."""
    if len(ip.src) == 4:
        return ip.src + ip.dst + bytes((0, protocol)) + length.to_bytes(2, "big")
    return ip.src + ip.dst + length.to_bytes(4, "big") + bytes((0, 0, 0, protocol))


def _transport_checksum(decoder: _Decoder, view: _View, length: int, protocol: int,
                        at: int) -> Optional[tuple[int, Optional[int]]]:
    """``(stored, None)`` if right, ``(stored, should_be)`` if wrong, or None when it cannot
    be verified: no IP layer, a fragment, or a message not captured whole."""
    ip = decoder.ip
    if ip is None or ip.fragmented or not view.has(0, length) or length < at + 2:
        return None
    data = _pseudo_header(ip, protocol, length) + view.raw(0, length)
    stored, header = view.u16(at), len(data) - length
    if _checksum(data) == 0:
        return stored, None
    return stored, _should_be(data, header + at)


def _ipv4_verbose(decoder: _Decoder, view: _View, hlen: int, total: int, length: int) -> None:
    """-v's ``(tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 60)`` and
    the line break. A header cut short ends the line: after the addresses if an option was
    cut (``[|ip]``), else with the ``[remaining caplen(...) < header length(...)]`` message."""
    if total > length:
        decoder.out(f"truncated-ip - {total - length} bytes missing! ")
    tos, fragment, protocol = view.u8(1), view.u16(6), view.u8(9)
    flags = ", ".join(name for bit, name in _IPV4_FRAGMENT_FLAGS if fragment & bit) or "none"
    decoder.out(f"(tos 0x{tos:x}{_ECN.get(tos & 3, '')}, ttl {view.u8(8)}, id {view.u16(4)}, "
                f"offset {(fragment & 0x1FFF) * 8}, flags [{flags}], "
                f"proto {_IP_PROTOCOL_NAMES.get(protocol, 'unknown')} ({protocol}), "
                f"length {total}")
    option_cut = False
    if hlen > 20:
        decoder.out(", options (")
        option_cut = _ipv4_options(decoder, view, hlen)
        decoder.out(")")
    if view.has(0, hlen):
        header = view.raw(0, hlen)
        if _checksum(header):
            decoder.out(f", bad cksum {view.u16(10):x} (->{_should_be(header, 10):x})!")
    decoder.out(")\n    ")
    if not view.has(0, hlen):
        if option_cut:  # tcpdump goes on to the addresses, and stops there
            decoder.out(f"{view.ip4(12)} > {view.ip4(16)}: ")
            raise _TruncatedError()
        raise _TruncatedError(f" [remaining caplen({view.end - view.start}) < header "
                              f"length({hlen})] [|ip]")


def _ipv4_options(decoder: _Decoder, view: _View, hlen: int) -> bool:
    """IPv4 options (RFC 791), comma-separated. A length that cannot be right ends them; so
    does the end of the capture: the line's ``[|ip]``, or, within an option whose length was
    captured, ``[truncated-option]`` (then True is returned)."""
    offset = 20
    while offset < hlen:
        kind = view.u8(offset)
        decoder.out(_IPV4_OPTION_NAMES.get(kind, f"unknown {kind}"))
        if kind == 0:
            return False
        if kind == 1:
            offset += 1
        else:
            size = view.u8(offset + 1) if offset + 1 < hlen else 0
            if size < 2 or offset + size > hlen:
                decoder.out(f" [bad length {size}]")
                return False
            if not view.has(offset, size):
                decoder.out(" [truncated-option]")
                return True
            decoder.out(_ipv4_option_value(view, kind, offset, size))
            offset += size
        if offset < hlen:
            decoder.out(",")  # before the next option is read, as tcpdump prints it
    return False


def _ipv4_option_value(view: _View, kind: int, offset: int, size: int) -> str:
    if kind == 148:  # router alert (RFC 2113): a 16-bit value, shown unless zero
        if size != 4:
            return f" [bad length {size}]"
        value = view.u16(offset + 2)
        return f" value {value}" if value else ""
    if kind in _ROUTE_OPTIONS:  # a pointer, then the addresses
        if size < 3:
            return f" [bad length {size}]"
        bad = f" [bad length {size}]" if (size - 3) % 4 else ""
        count = size // 4  # the addresses after the 3-byte head, a partial one counted
        addresses = ", ".join(view.ip4(offset + 3 + 4 * index) for index in range(count))
        return bad + (" " + addresses if addresses else "")
    return ""


def _ipv6_details(view: _View) -> str:
    """``(class 0x10, flowlabel 0x12345, hlim 64, next-header TCP (6) payload length: 40)``."""
    first, next_header = view.u32(0), view.u8(6)
    traffic_class, flow = (first >> 20) & 0xFF, first & 0xFFFFF
    parts = [f"class 0x{traffic_class:02x}"] if traffic_class else []
    parts += [f"flowlabel 0x{flow:05x}"] if flow else []
    parts.append(f"hlim {view.u8(7)}")
    parts.append(f"next-header {_IP_PROTOCOL_NAMES.get(next_header, 'unknown')} "
                 f"({next_header}) payload length: {view.u16(4)}")
    return "(" + ", ".join(parts) + ")"


def _ipv6_options(decoder: _Decoder, view: _View) -> None:
    """The options of a hop-by-hop or destination options header (RFC 8200 4.2), then a
    space; one that overruns its header ends the line with the header's marker."""
    offset = 0
    while view.has(offset):
        kind = view.u8(offset)
        if kind == 0:
            decoder.out("(pad1)")
            offset += 1
            continue
        size = view.u8(offset + 1)
        view.need(offset + 2, size)
        _ipv6_option(decoder, view, kind, offset + 2, size)
        offset += 2 + size
    decoder.out(" ")


def _ipv6_option(decoder: _Decoder, view: _View, kind: int, at: int, size: int) -> None:
    """One option; a router alert or home address of the wrong size ends the line."""
    if kind == 1:
        decoder.out("(padn)")
    elif kind == 5:  # router alert (RFC 2711)
        if size != 2:
            decoder.out(f"(rtalert: invalid len {size})")
            raise _TruncatedError()
        decoder.out(f"(rtalert: 0x{view.u16(at):04x}) ")
    elif kind == 0xC9:  # home address (RFC 6275)
        if size < 16:
            decoder.out("(homeaddr: trunc)")
            raise _TruncatedError()
        decoder.out(f"(homeaddr: {view.ip6(at)})")
    else:
        decoder.out(f"(opt_type 0x{kind:02x}: len={size})")


def _tcp_checksum(decoder: _Decoder, view: _View, length: int) -> str:
    """``, cksum 0x1234 (correct)`` or ``(incorrect -> 0x5678)``; nothing if unverifiable."""
    verified = _transport_checksum(decoder, view, length, 6, 16)
    if verified is None:
        return ""
    stored, should = verified
    return f", cksum 0x{stored:04x} " + (
        "(correct)" if should is None else f"(incorrect -> 0x{should:04x})")


def _udp_checksum(decoder: _Decoder, view: _View, size: int) -> str:
    """``[udp sum ok] `` or ``[bad udp cksum 0x0000 -> 0x1cdc!] ``, over IPv6 only (over
    IPv4, where a UDP checksum is optional, tcpdump -v says nothing)."""
    if decoder.ip is None or len(decoder.ip.src) != 16:
        return ""
    verified = _transport_checksum(decoder, view, size, 17, 6)
    if verified is None:
        return ""
    return _checksum_verdict("udp", verified)


def _icmp6_checksum(decoder: _Decoder, view: _View, length: int) -> str:
    """``[icmp6 sum ok] `` or ``[bad icmp6 cksum 0x0000 -> 0xbc6b!] ``."""
    verified = _transport_checksum(decoder, view, length, 58, 2)
    if verified is None:
        return ""
    return _checksum_verdict("icmp6", verified)


def _checksum_verdict(protocol: str, verified: tuple[int, Optional[int]]) -> str:
    """tcpdump's ``[udp sum ok] `` or ``[bad udp cksum 0x1234 -> 0x5678!] ``."""
    stored, should = verified
    if should is None:
        return f"[{protocol} sum ok] "
    return f"[bad {protocol} cksum 0x{stored:04x} -> 0x{should:04x}!] "


#: ICMP errors, which quote the start of the datagram they are about (RFC 792)
_ICMP_QUOTING = frozenset((3, 4, 5, 11, 12))


def _icmp_verbose(decoder: _Decoder, view: _View, length: int, kind: int) -> None:
    """A wrong checksum, then the quoted datagram decoded on the next line (tab-indented)."""
    ip = decoder.ip
    if ip is not None and not ip.fragmented and view.has(0, length) and length >= 4:
        message = view.raw(0, length)
        if _checksum(message):
            decoder.out(f" (wrong icmp cksum {view.u16(2):x} (->{_should_be(message, 2):x})!)")
    if kind in _ICMP_QUOTING:
        decoder.out("\n\t")
        quoted = view.sub(8)
        _ipv4(decoder, quoted, quoted.u16(2))


#: ICMPv6 types whose -v form drops the trailing ", length N"
_ICMP6_VERBOSE = frozenset((1, 2, 3, 4, 128, 129, 130, 131, 132, 143))
_MLD2_RECORD_TYPES = {1: "is_in", 2: "is_ex", 3: "to_in", 4: "to_ex", 5: "allow", 6: "block"}


def _icmp6_verbose(decoder: _Decoder, view: _View, kind: int) -> None:
    """MLDv2 reports (RFC 3810) list their records: group, mode, number of sources."""
    if kind != 143:
        return
    offset = 8
    for _ in range(view.u16(6)):
        sources = view.u16(offset + 2)
        decoder.out(f" [gaddr {view.ip6(offset + 4)} "
                    f"{_MLD2_RECORD_TYPES.get(view.u8(offset), f'type-#{view.u8(offset)}')}, "
                    f"{sources} source(s)]")
        offset += 20 + 16 * sources + 4 * view.u8(offset + 1)


# -- -v: neighbor discovery (RFC 4861) ------------------------------------------------------
_NDP = {133: 8, 134: 16, 135: 24, 136: 24, 137: 40}  # type -> where its options start
_NA_FLAGS = ((0x80, "router"), (0x40, "solicited"), (0x20, "override"))
_RA_FLAGS = ((0x80, "managed"), (0x40, "other stateful"), (0x20, "home agent"),
             (0x02, "ipv6 only"))
_RA_PREFERENCES = ("medium", "high", "rsv", "low")  # RFC 4191
_PREFIX_FLAGS = ((0x80, "onlink"), (0x40, "auto"), (0x20, "router"))


def _bit_names(value: int, names: tuple[tuple[int, str], ...]) -> str:
    return ", ".join(name for bit, name in names if value & bit) or "none"


def _ndp(decoder: _Decoder, view: _View, length: int, kind: int) -> None:
    """A neighbor discovery message: its length, its fields, then one line per option."""
    decoder.out(f", length {length}")
    if kind == 134:
        flags = view.u8(5)
        decoder.out(f"\n\thop limit {view.u8(4)}, Flags [{_bit_names(flags, _RA_FLAGS)}], "
                    f"pref {_RA_PREFERENCES[(flags >> 3) & 3]}, router lifetime "
                    f"{view.u16(6)}s, reachable time {view.u32(8)}ms, retrans timer "
                    f"{view.u32(12)}ms")
    elif kind == 135:
        decoder.out(f", who has {view.ip6(8)}")
    elif kind == 136:
        decoder.out(f", tgt is {view.ip6(8)}, Flags [{_bit_names(view.u8(4), _NA_FLAGS)}]")
    elif kind == 137:
        decoder.out(_ICMP6[137](view, 0))
    offset = _NDP[kind]
    view.need(0, 2)  # the code (tcpdump gives up without it; the rest may be missing)
    while view.has(offset):
        kind = view.u8(offset)
        offset += _ndp_option(decoder, view, offset)
        if kind not in _NDP_OPTIONS:
            return  # tcpdump stops after an option it does not know


def _ndp_option(decoder: _Decoder, view: _View, offset: int) -> int:
    """Print one option (``\\n\\t  source link-address option (1), length 8 (1): ...``);
    returns its size. A zero length or an overrun ends the line with ``[|icmp6]``."""
    kind, units = view.u8(offset), view.u8(offset + 1)
    size = units * 8
    if size == 0:
        raise _TruncatedError()
    view.need(offset, size)
    body = view.sub(offset + 2, size - 2)
    name, value = _NDP_OPTIONS.get(kind, ("unknown", _ndp_unknown))
    decoder.out(f"\n\t  {name} option ({kind}), length {size} ({units}): {value(body)}")
    return size


def _lifetime(seconds: int) -> str:
    return "infinity" if seconds == _MASK32 else f"{seconds}s"


def _ndp_prefix(body: _View) -> str:
    return (f"{body.ip6(14)}/{body.u8(0)}, Flags [{_bit_names(body.u8(1), _PREFIX_FLAGS)}], "
            f"valid time {_lifetime(body.u32(2))}, pref. time {_lifetime(body.u32(6))}")


def _ndp_rdnss(body: _View) -> str:
    addresses = "".join(f", addr: {body.ip6(at)}" for at in range(6, body.end - body.start, 16))
    return f" lifetime {_lifetime(body.u32(2))}{addresses}"


def _ndp_unknown(body: _View) -> str:
    return "".join("\n\t  " + line for line in hex_lines(body.rest()))


_NDP_OPTIONS: dict[int, tuple[str, Callable[[_View], str]]] = {
    1: ("source link-address", lambda body: body.mac(0, body.end - body.start)),
    2: ("destination link-address", lambda body: body.mac(0, body.end - body.start)),
    3: ("prefix info", _ndp_prefix),
    5: ("mtu", lambda body: f" {body.u32(2)}"),
    25: ("rdnss", _ndp_rdnss),
}


# -- -v: HTTP -------------------------------------------------------------------------------
def _http_lines(decoder: _Decoder, data: bytes, whole: bool) -> None:
    """Every line of the message, each on a tab-indented line of its own.

    A line that is not text ends the listing silently. The segment's last line, unended,
    is printed with the ``[|http]`` marker; a line cut by the capture is not printed, the
    marker alone says the rest is missing.
    """
    while data:
        line, ended = _first_line(data, whole)
        if line is None:
            return
        if not ended:
            if whole:
                decoder.out("\n\t" + line.decode("ascii"))
            raise _TruncatedError()
        decoder.out("\n\t" + line.decode("ascii"))
        data = data[len(line) + (2 if data[len(line)] == 0x0D else 1):]
    if not whole:
        raise _TruncatedError()  # the segment goes on beyond the capture


# -- dispatch tables ------------------------------------------------------------------------
_LINKTYPES: dict[int, _Printer] = {
    dlt.DLT_NULL: _null, dlt.DLT_LOOP: _null, dlt.DLT_EN10MB: _ethernet, dlt.DLT_LINUX_SLL: _sll,
    dlt.DLT_LINUX_SLL2: _sll2, dlt.DLT_RAW: _raw, dlt.DLT_IPV4: _raw, dlt.DLT_IPV6: _raw,
    _LINKTYPE_RAW: _raw,
}
_ETHERTYPES: dict[int, _Printer] = {0x0800: _ipv4, 0x86DD: _ipv6, 0x0806: _arp, 0x8035: _arp}
_IP_PROTOCOLS: dict[int, _Printer] = {
    1: _icmp, 58: _icmp6, 4: _ipv4, 41: _ipv6,
    59: lambda decoder, view, length: decoder.out("no next header"),
}
_PORTED: dict[int, _PortPrinter] = {6: _tcp, 17: _udp}

# the other link layers, in their own module, which takes the helpers above from this one
from ._decode_links import ethertype_printers, link_printers  # noqa: E402
from ._decode_llc import llc_frame  # noqa: E402

_LINKTYPES.update(link_printers())
_ETHERTYPES.update(ethertype_printers())
