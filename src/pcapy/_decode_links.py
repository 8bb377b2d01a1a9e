"""Link layers beyond Ethernet and Linux cooked capture, for ``pcapy._decode``.

Each printer decodes its link-layer header and hands the network layer inside (IPv4, IPv6,
ARP, an ethertype) to the core decoder, printing what ``tcpdump -nn`` prints: nothing of the
link header unless ``-e``, except where tcpdump always shows it (Marvell and Broadcom switch
tags, SLARP, vsock, the PPP-in-HDLC protocol name). Formats were taken from tcpdump 4.99's
output on the corpus and from the specifications: Cisco HDLC and SLARP, RFC 1662 (PPP in
HDLC framing), RFC 1055 (SLIP, with libpcap's 16-byte pseudo-header), Linux NFLOG
(nfnetlink_log TLVs), Apple PKTAP, Solaris ipnet, RFC 4391 (IP over InfiniBand), RFC 1201
(ARCNET), Marvell DSA/EDSA and Broadcom switch tags, Linux vsockmon, PPI, IEEE 802.11 and
RFC 1483 (LLC over ATM); and MPLS label stacks (RFC 3032), which Ethernet, PPP and Cisco HDLC carry.

This module is imported by ``pcapy._decode`` at its end and uses its helpers; nothing else
imports it.
"""

from __future__ import annotations

from typing import Callable, Optional

from . import _constants as dlt
from ._decode import (
    _ETHERTYPE_NAMES,
    _ETHERTYPES,
    _LINKTYPES,
    _arp,
    _Decoder,
    _ethernet_frame,
    _ethertype_text,
    _ipv4,
    _ipv6,
    _llc,
    _Printer,
    _TruncatedError,
    _View,
)

_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD


def _ip_by_version(decoder: _Decoder, view: _View, length: int) -> None:
    """IPv4 or IPv6 as the version nibble says (tcpdump's ``ip_print`` on a bare IP packet)."""
    version = view.u8(0) >> 4
    (_ipv6 if version == 6 else _ipv4)(decoder, view, length)


def _truncated(decoder: _Decoder, captured: int) -> None:
    """The link header itself is cut: `` [|layer]``, with all of it counted as header."""
    decoder.link_length = captured
    raise _TruncatedError()


# -- Cisco HDLC and SLARP -----------------------------------------------------------------
_CHDLC_CASTS = {0x0F: "unicast", 0x8F: "bcast"}
_SLARP = 0x8035


def _chdlc(decoder: _Decoder, view: _View, length: int) -> None:
    """Cisco HDLC: address, control, a 2-byte ethertype."""
    decoder.enter("C-HDLC", "chdlc")
    if length < 4:
        raise _TruncatedError()
    protocol = view.u16(2)
    decoder.link_length = 4
    if decoder.link_header:
        cast = _CHDLC_CASTS.get(view.u8(0), f"0x{view.u8(0):02x}")
        decoder.out(f"{cast}, {_ethertype_text(protocol, False, length)}")
    body = view.sub(4)
    printer = {_ETHERTYPE_IPV4: _ipv4, _ETHERTYPE_IPV6: _ipv6, _SLARP: _slarp, 0x8847: _mpls,
               0x8848: _mpls}.get(protocol)
    if printer is not None:
        printer(decoder, body, length - 4)
    elif not decoder.link_header:
        decoder.out(f"unknown CHDLC protocol (0x{protocol:04x})")


def _slarp(decoder: _Decoder, view: _View, length: int) -> None:
    """Cisco's Serial Line ARP: request, reply (address/mask) or keepalive."""
    decoder.enter("SLARP", "chdlc_slarp")
    decoder.out(f"SLARP (length: {length}), ")
    if length < 14:
        raise _TruncatedError()
    view.need(0, 14)
    code = view.u32(0)
    if code == 0:
        decoder.out("request")
    elif code == 1:
        decoder.out(f"reply {view.ip4(4)}/{view.ip4(8)}")
    elif code == 2:
        decoder.out(f"keepalive: mineseen=0x{view.u32(4):08x}, yourseen=0x{view.u32(8):08x}, "
                    f"reliability=0x{view.u16(12):04x}")
        if length >= 18:
            decoder.out(", link uptime=" + _uptime(view.u32(14) // 1000))
    else:
        decoder.out(f"0x{code:02x} unknown")
        decoder.hexdump(view.sub(4).rest(), ascii_too=False, force=True)
    if length > 18 and decoder.verbose:
        decoder.out(f", (trailing junk: {length - 18} bytes)")


def _uptime(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h{minutes}m{seconds}s"


# -- PPP and SLIP -------------------------------------------------------------------------
_PPP_NAMES = {0x21: "IP", 0x57: "IP6", 0x2B: "IPX", 0x23: "OSI", 0x2D: "VJC IP",
              0x2F: "VJNC IP", 0x281: "MPLS", 0x283: "MPLS", 0xC021: "LCP", 0x8021: "IPCP",
              0x8057: "IP6CP", 0xC023: "PAP", 0xC223: "CHAP", 0x80FD: "CCP"}
_PPP_MPLS = frozenset((0x281, 0x283))
_PPP_IP: dict[int, _Printer] = {0x21: _ipv4, 0x2F: _ipv4, _ETHERTYPE_IPV4: _ipv4, 0x57: _ipv6,
                                 _ETHERTYPE_IPV6: _ipv6}


def _ppp(decoder: _Decoder, view: _View, length: int) -> None:
    """PPP (RFC 1661): an optional address/control pair, a 1- or 2-byte protocol."""
    decoder.enter("PPP", "ppp")
    offset = 2 if view.has(0, 2) and view.u16(0) in (0xFF03, 0x0003, 0x0103) else 0
    if offset and decoder.link_header and view.u8(0) != 0xFF:
        decoder.out("In  " if view.u8(0) == 0 else "Out ")
    protocol = view.u8(offset)
    if protocol % 2 == 0:  # no protocol-field compression: two bytes
        protocol, offset = view.u16(offset), offset + 2
    else:
        offset += 1
    decoder.link_length = 4  # what tcpdump counts for -x, whatever the header's real size
    if decoder.link_header:
        name = _PPP_NAMES.get(protocol, "unknown")
        decoder.out(f"{name} (0x{protocol:04x}), length {length}: ")
    _ppp_payload(decoder, protocol, view.sub(offset), length - offset)


def _ppp_payload(decoder: _Decoder, protocol: int, view: _View, length: int) -> None:
    printer = _PPP_IP.get(protocol) or (_mpls if protocol in _PPP_MPLS else None)
    if printer is not None:
        printer(decoder, view, length)
        return
    decoder.out(_PPP_NAMES.get(protocol, f"unknown PPP protocol (0x{protocol:04x})") + " ")
    decoder.hexdump(view.rest(), ascii_too=False, force=True)


def _ppp_serial(decoder: _Decoder, view: _View, length: int) -> None:
    """PPP in HDLC-like framing (RFC 1662), or Cisco HDLC on the same link."""
    view.need(0, 2)
    if view.u8(0) in _CHDLC_CASTS:
        _chdlc(decoder, view, length)
        return
    decoder.enter("PPP", "ppp_hdlc")
    view.need(0, 4)
    if decoder.link_header:
        decoder.out(f"{view.u8(0):02x} {view.u8(1):02x} {length} ")
    decoder.link_length = 2
    if view.u8(0) != 0xFF:
        decoder.out(f"unknown addr {view.u8(2):02x}; ctrl {view.u8(3):02x}")
        return
    protocol = view.u16(2)
    decoder.link_length = 4
    decoder.out(_PPP_NAMES.get(protocol, f"unknown PPP protocol (0x{protocol:04x})") + ": ")
    printer = _PPP_IP.get(protocol) or (_mpls if protocol in _PPP_MPLS else None)
    if printer is not None:
        printer(decoder, view.sub(4), length - 4)
    else:
        decoder.hexdump(view.sub(4).rest(), ascii_too=False, force=True)


def _slip(decoder: _Decoder, view: _View, length: int) -> None:
    """SLIP with libpcap's 16-byte pseudo-header (direction, compression, saved header)."""
    decoder.enter("SLIP", "slip")
    if not view.has(0, 16):
        _truncated(decoder, len(view.rest()))
    decoder.link_length = 16
    if decoder.link_header:
        decoder.out(_slip_head(view, length))
    _ip_by_version(decoder, view.sub(16), length - 16)


def _slip_head(view: _View, length: int) -> str:
    """-e: the direction and what the compressor did (IP, uncompressed TCP, other)."""
    direction = view.u8(0)
    text = {0: "I ", 1: "O "}.get(direction, f"Invalid direction {direction} ")
    compression = view.u8(1)
    if compression & 0xF0 == 0x40:
        return text + f"ip {length}: "
    if compression & 0xF0 == 0x70:
        return text + f"utcp {view.u8(1 + 9)}: "
    return text + f"slip-{compression}!: "


# -- Linux NFLOG, Apple PKTAP, Solaris ipnet, IP over InfiniBand --------------------------
_NFLOG_FAMILIES = {2: ("IPv4", _ipv4), 10: ("IPv6", _ipv6)}
_NFULA_PAYLOAD = 9


def _nflog(decoder: _Decoder, view: _View, length: int) -> None:
    """Linux NFLOG: family, version, resource id, then TLVs (host byte order); the payload
    TLV holds the packet."""
    decoder.enter("NFLOG", "nflog")
    if not view.has(0, 4):
        _truncated(decoder, len(view.rest()))
    family, version, resource = view.u8(0), view.u8(1), view.u16(2)
    decoder.link_length = 4
    if version != 0:
        decoder.out(f"version {version} (unknown)")
        return
    name, printer = _NFLOG_FAMILIES.get(family, ("Unknown", None))
    head = (f"version {version}, resource ID {resource}, "
            + (f"family {name} ({family})" if not decoder.quiet else
               name if printer else f"Unknown NFLOG (0x{family:02x})"))
    if decoder.link_header:
        decoder.out(f"{head}, length {length}: ")
    offset = _nflog_payload_offset(decoder, view, length)
    if printer is not None:
        printer(decoder, view.sub(offset), length - offset)
        return
    if not decoder.link_header:
        decoder.out(f"{head}, length {length}: ")
    decoder.hexdump(view.sub(offset).rest())


def _nflog_payload_offset(decoder: _Decoder, view: _View, length: int) -> int:
    """Where the payload TLV's data starts (after walking the TLVs before it)."""
    offset = 4
    while offset < length:
        if not view.has(offset, 4):
            raise _TruncatedError()
        size = int.from_bytes(view.raw(offset, 2), "little")
        size += -size % 4
        if size < 4 or not view.has(offset, size):
            raise _TruncatedError()
        if int.from_bytes(view.raw(offset + 2, 2), "little") == _NFULA_PAYLOAD:
            decoder.link_length = offset + 4
            return offset + 4
        offset += size
        decoder.link_length = offset
    return offset


_PKTAP_HEADER = 108


def _pktap(decoder: _Decoder, view: _View, length: int) -> None:
    """Apple PKTAP: a little-endian header naming the inner packet's link type."""
    decoder.enter("PKTAP", "pktap")
    if length < _PKTAP_HEADER:
        decoder.out(f" (packet too short, {length} < {_PKTAP_HEADER}) (invalid)")
        return
    view.need(0, 12)
    size = int.from_bytes(view.raw(0, 4), "little")
    record = int.from_bytes(view.raw(4, 4), "little")
    inner = int.from_bytes(view.raw(8, 4), "little")
    if size < _PKTAP_HEADER or size > length:
        relation = "small" if size < _PKTAP_HEADER else "big"
        bound = _PKTAP_HEADER if size < _PKTAP_HEADER else length
        decoder.out(f" (pkt_len too {relation}, {size} {'<' if relation == 'small' else '>'} "
                    f"{bound}) (invalid)")
        return
    view.need(0, size)
    if decoder.link_header:
        decoder.out(_pktap_head(inner, size, length, decoder.quiet))
    decoder.link_length = size
    if record == 0:
        decoder.out("no data")
    elif record == 1:
        _inner_linktype(decoder, inner, view.sub(size), length - size,
                        lambda: _pktap_head(inner, size, length, decoder.quiet))


def _pktap_head(inner: int, size: int, length: int, quiet: bool) -> str:
    name = dlt.DLT_NAME.get(inner, "UNKNOWN")
    return (name if quiet else f"DLT {name} ({inner}) len {size}") + f", length {length}: "


def _inner_linktype(decoder: _Decoder, inner: int, view: _View, length: int,
                    head: Callable[[], str]) -> None:
    """The packet inside a PKTAP or PPI header, printed by its own link type's printer."""
    printer = _LINKTYPES.get(inner)
    if printer is None:
        if not decoder.link_header:
            decoder.out(head())
        decoder.hexdump(view.rest())
        return
    outer = decoder.link_length
    decoder.link_length = 0
    printer(decoder, view, length)
    # tcpdump 4.99 counts the inner header twice here (-x and -X start after both)
    decoder.link_length = outer + 2 * decoder.link_length


_IPNET_FAMILIES = {2: ("IPv4", _ipv4), 26: ("IPv6", _ipv6)}


def _ipnet(decoder: _Decoder, view: _View, length: int) -> None:
    """Solaris ipnet: version, family, hook type, length, interface and zone ids."""
    decoder.enter("IPNET", "ipnet")
    view.need(0, 24)
    decoder.link_length = 24
    family = view.u8(1)
    name, printer = _IPNET_FAMILIES.get(family, ("Unknown", None))
    head = (f"{view.u32(16)} > {view.u32(20)}, "
            + (f"family {name} ({family})" if not decoder.quiet else
               name if printer else f"Unknown Ethertype (0x{family:04x})")
            + f", length {length}: ")
    if decoder.link_header:
        decoder.out(head)
    if printer is not None:
        printer(decoder, view.sub(24), length - 24)
        return
    if not decoder.link_header:
        decoder.out(head)
    decoder.hexdump(view.sub(24).rest())


def _ipoib(decoder: _Decoder, view: _View, length: int) -> None:
    """IP over InfiniBand (RFC 4391) as Linux captures it: a 44-byte header ending in an
    ethertype."""
    decoder.enter("IPoIB", "ipoib")
    if len(view.rest()) < 44 or length < 44:
        decoder.link_length = min(len(view.rest()), length)
        decoder.out(" [|ipoib]")
        return
    ethertype = view.u16(40)
    decoder.link_length = 44
    name = _ETHERTYPE_NAMES.get(ethertype, "Unknown")
    head = (f", ethertype {name}" + ("" if decoder.quiet else f" (0x{ethertype:04x})")
            + f", length {length}: ")
    printer = _ETHERTYPES.get(ethertype)
    if decoder.link_header:
        decoder.out("IPOIB" + head)
    if printer is not None:
        printer(decoder, view.sub(44), length - 44)
        return
    if not decoder.link_header:
        decoder.out(head)
    decoder.hexdump(view.sub(44).rest())


# -- ARCNET -------------------------------------------------------------------------------
_ARC_OLD_TYPES = frozenset((240, 241, 0x80))  # old IP, old ARP, diagnose: no split fields
_ARC_PAYLOADS: dict[int, _Printer] = {240: _ipv4, 212: _ipv4, 0xC4: _ipv6,
                                       241: _arp, 213: _arp, 214: _arp}
_ARC_NAMES = {240: "oldip", 241: "oldarp", 212: "ip", 213: "arp", 214: "rarp", 221: "atalk",
              247: "banyan", 250: "ipx", 0xC4: "ipv6", 0x80: "diag"}


def _arcnet(decoder: _Decoder, view: _View, length: int) -> None:
    """ARCNET as BSD captures it (RFC 1201): source, destination, type, then for the newer
    types a split flag and sequence id (an exception frame repeats them after 0xff)."""
    decoder.enter("ARCNET", "arcnet")
    if not view.has(0, 3):
        _truncated(decoder, len(view.rest()))
    kind = view.u8(2)
    header, flag, seqid = 3, 0, 0
    if kind not in _ARC_OLD_TYPES:
        if not view.has(0, 6):
            _truncated(decoder, len(view.rest()))
        flag, seqid, header = view.u8(3), view.u16(4), 6
        if flag == 0xFF:
            if not view.has(0, 10):
                _truncated(decoder, len(view.rest()))
            flag, seqid, header = view.u8(7), view.u16(8), 10
    if decoder.link_header:
        decoder.out(_arcnet_head(view, kind, length, kind not in _ARC_OLD_TYPES, flag, seqid,
                                 decoder.quiet))
    decoder.link_length = header
    if kind not in _ARC_OLD_TYPES and flag and flag % 2 == 0:
        return  # a later fragment of a split packet
    _arcnet_payload(decoder, kind, view.sub(header), length - header)


def _arcnet_linux(decoder: _Decoder, view: _View, length: int) -> None:
    """ARCNET as Linux captures it: source, destination, a 2-byte offset, type, and for the
    newer types a split flag and sequence id."""
    decoder.enter("ARCNET", "arcnet_linux")
    if not view.has(0, 5):
        _truncated(decoder, len(view.rest()))
    kind = view.u8(4)
    header = 5 if kind in _ARC_OLD_TYPES else 8
    if not view.has(0, header):
        _truncated(decoder, len(view.rest()))
    if decoder.link_header:  # tcpdump reads these as the BSD header: the type at byte 2
        decoder.out(_arcnet_head(view, view.u8(2), length, False, 0, 0, decoder.quiet))
    decoder.link_length = header
    _arcnet_payload(decoder, kind, view.sub(header), length - header)


def _arcnet_head(view: _View, kind: int, length: int, split: bool, flag: int,
                 seqid: int, quiet: bool) -> str:
    ends = f"{view.u8(0):02x} {view.u8(1):02x}"
    if quiet:
        return f"{ends} {length}: "
    name = _ARC_NAMES.get(kind, f"{kind:02x}")
    if not split:
        return f"{ends} {name} {length}: "
    if flag == 0:
        return f"{ends} {name} seqid {seqid:04x} {length}: "
    if flag % 2:
        return f"{ends} {name} seqid {seqid:04x} (first of {flag // 2 + 1}) {length}: "
    return f"{ends} {name} seqid {seqid:04x} (split {flag}) {length}: "


def _arcnet_payload(decoder: _Decoder, kind: int, view: _View, length: int) -> None:
    printer = _ARC_PAYLOADS.get(kind)
    if printer is None:
        decoder.hexdump(view.rest())
    else:
        printer(decoder, view, length)


# -- switch tags --------------------------------------------------------------------------
_DSA_MODES = {0: "To CPU", 1: "From CPU", 2: "To Sniffer", 3: "Forward"}
_DSA_CODES = {0: "BPDU (MGMT) Trap", 1: "Frame2Reg", 2: "IGMP/MLD Trap", 3: "Policy Trap",
              4: "ARP Mirror", 5: "Policy Mirror"}


def _dsa_fields(tag: bytes, link_header: bool) -> str:
    """A Marvell DSA tag's 4 bytes: mode, device, port, VLAN (as tcpdump words them)."""
    mode, tagged, device = tag[0] >> 6, tag[0] >> 5 & 1, tag[0] & 0x1F
    port, trunk, cfi = tag[1] >> 3, tag[1] >> 2 & 1, tag[1] & 1
    priority, vid = tag[2] >> 5, (tag[2] & 0x0F) << 8 | tag[3]
    if not link_header:
        where = {3: f"Forward {'trunk' if trunk else 'port'} {device}.{port}, ",
                 1: f"CPU > port {device}.{port}, ", 0: f"port {device}.{port} > CPU, ",
                 2: f"port {device}.{port} > {'Rx' if trunk else 'Tx'} Sniffer, "}[mode]
        return where + f"VLAN {vid}{'t' if tagged else 'u'}, "
    text = f"mode {_DSA_MODES[mode]}, "
    if mode == 3:
        text += f"dev {device}, {'trunk' if trunk else 'port'} {port}, "
    elif mode == 1:
        text += f"target dev {device}, port {port}, "
    else:
        text += f"source dev {device}, port {port}, "
        code = (tag[1] >> 1 & 3) << 1 | tag[2] >> 4 & 1
        text += (f"code {_DSA_CODES.get(code, 'reserved')}, " if mode == 0 else
                 f"{'ingress' if trunk else 'egress'} sniff, ")
    return (text + ("tagged, " if tagged else "untagged, ") + ("CFI, " if cfi else "")
            + f"VID {vid}, FPri {priority}, ")


def _dsa_tag(view: _View, link_header: bool) -> str:
    return ("Marvell DSA " if link_header else "DSA ") + _dsa_fields(view.raw(0, 4), link_header)


def _edsa_tag(view: _View, link_header: bool) -> str:
    ethertype = view.u16(0)
    if link_header:
        head = (f"Marvell EDSA ethertype 0x{ethertype:04x} "
                f"({_ETHERTYPE_NAMES.get(ethertype, 'Unknown')}), "
                f"rsvd {view.u8(2)} {view.u8(3)}, ")
    else:
        head = f"EDSA 0x{ethertype:04x}, "
    return head + _dsa_fields(view.raw(4, 4), link_header)


_BRCM_TE = ("None", "Untag", "Header", "Reserved")
_BRCM_RC = {1: "mirror", 2: "MAC learning", 4: "switching", 8: "prot term", 16: "prot snoop",
            32: "exception"}


def _brcm_tag(view: _View, link_header: bool) -> str:
    """A Broadcom switch tag: ingress (to the switch) or egress (from it)."""
    tag = view.raw(0, 4)
    text = "BRCM tag OP: " + ("IG" if tag[0] else "EG")
    if tag[0] & 0x20:
        text += (f", TC: {tag[1] >> 2 & 7}, TE: {_BRCM_TE[tag[1] & 3]}, TS: {tag[1] >> 7}, "
                 f"DST map: 0x{(tag[2] << 8 | tag[3]) & 0x1FF:04x}")
    else:
        text += (f", CID: {tag[1]}, RC: {_BRCM_RC.get(tag[2], 'reserved')}, "
                 f"TC: {tag[3] >> 5 & 7}, port: {tag[3] & 0x1F}")
    return text + ", "


def _switch_tagged(tag: Callable[[_View, bool], str], size: int) -> _Printer:
    """Ethernet with a switch tag of ``size`` bytes between the addresses and the type."""
    def printer(decoder: _Decoder, view: _View, length: int) -> None:
        _ethernet_frame(decoder, view, length, tag, size)
    return printer


def _brcm_prepend(decoder: _Decoder, view: _View, length: int) -> None:
    """A Broadcom tag before the Ethernet frame."""
    decoder.enter("BRCM", "brcm-tag-prepend")
    if not view.has(0, 4):
        raise _TruncatedError()
    if decoder.link_header:
        decoder.out(_brcm_tag(view, True))
    _ethernet_frame(decoder, view.sub(4), length - 4, None, 0)
    decoder.link_length += 4


# -- vsock, PPI and IEEE 802.11 -----------------------------------------------------------
_VSOCK_TRANSPORTS = {0: "UNKNOWN", 1: "NO_INFO", 2: "VIRTIO"}
_VSOCK_OPS = {0: "UNKNOWN", 1: "CONNECT", 2: "DISCONNECT", 3: "CONTROL", 4: "PAYLOAD"}


def _vsock(decoder: _Decoder, view: _View, length: int) -> None:
    """Linux vsockmon: addresses (context id and port), operation, transport (little-endian)."""
    decoder.enter("vsock", "vsock")
    captured = len(view.rest())
    if captured < 32:
        _truncated(decoder, captured)
    decoder.link_length = 32

    def little(offset: int, size: int) -> int:
        return int.from_bytes(view.raw(offset, size), "little")

    transport = little(26, 2)
    decoder.out(_VSOCK_TRANSPORTS.get(transport, f"Invalid transport ({transport})") + " ")
    operation = little(24, 2)
    decoder.out(f"{little(0, 8)}.{little(16, 4)} > {little(8, 8)}.{little(20, 4)} "
                f"{_VSOCK_OPS.get(operation, f' invalid op ({operation})')}, length {captured}")


def _ppi(decoder: _Decoder, view: _View, length: int) -> None:
    """Per-Packet Information: a little-endian header naming the inner link type."""
    decoder.enter("PPI", "ppi")
    captured = len(view.rest())
    if captured < 8:
        _truncated(decoder, captured)
    size = int.from_bytes(view.raw(2, 2), "little")
    inner = int.from_bytes(view.raw(4, 4), "little")
    if size < 8 or size > 65532:
        decoder.link_length = captured
        decoder.out(f" [length {size} < 8 or > 65532] (invalid)")
        return
    if captured < size:
        _truncated(decoder, captured)

    def head() -> str:
        name = dlt.DLT_NAME.get(inner, "UNKNOWN")
        return (name if decoder.quiet else f"V.{view.u8(0)} DLT {name} ({inner}) len {size}"
                ) + f", length {length}: "

    if decoder.link_header:
        decoder.out(head())
    decoder.link_length = size
    _inner_linktype(decoder, inner, view.sub(size), length - size, head)


_WLAN_CONTROL = {11: "Request-To-Send", 12: "Clear-To-Send", 13: "Acknowledgment"}


def _ieee80211(decoder: _Decoder, view: _View, length: int) -> None:
    """IEEE 802.11 frames: data frames carry LLC/SNAP and so IP; acknowledgments and the
    other short control frames print their receiver address. Management frames end here."""
    decoder.enter("802.11", "802.11")
    control = int.from_bytes(view.raw(0, 2), "little")
    kind, subtype = control >> 2 & 3, control >> 4 & 0xF
    if kind == 1 and subtype in _WLAN_CONTROL:
        decoder.link_length = 10
        decoder.out(f"{_WLAN_CONTROL[subtype]} RA:{view.mac(4)} ")
        return
    if kind != 2:
        raise _TruncatedError()
    header = 24 + (6 if control >> 8 & 3 == 3 else 0) + (2 if subtype & 8 else 0)
    if control & 0x4000:  # protected: nothing readable inside
        raise _TruncatedError()
    decoder.link_length = header
    if subtype & 4:  # no data (null function, QoS null)
        return
    _llc(decoder, view.sub(header), length - header, _wlan_addresses(view, control >> 8 & 3))


#: where a data frame's source and destination addresses are, by its To DS and From DS bits
_WLAN_ADDRESSES = {0: (10, 4), 1: (10, 16), 2: (16, 4), 3: (24, 16)}


def _wlan_addresses(view: _View, distribution: int) -> Optional[tuple[str, str]]:
    source, destination = _WLAN_ADDRESSES[distribution]
    if not view.has(source, 6):
        return None
    return view.mac(source), view.mac(destination)


# -- MPLS (RFC 3032) -----------------------------------------------------------------------
_MPLS_RESERVED = ("IPv4 explicit NULL", "router alert", "IPv6 explicit NULL", "implicit NULL")


def _mpls(decoder: _Decoder, view: _View, length: int) -> None:
    """An MPLS label stack, then IPv4 or IPv6 (by the last label, else by the first byte)."""
    decoder.enter("MPLS", "mpls")
    decoder.out("MPLS")
    offset = 0
    while True:
        if length - offset < 4:
            decoder.out(" (invalid)")
            view.need(offset, length - offset)
            return
        entry = view.u32(offset)
        label, bottom = entry >> 12, entry >> 8 & 1
        decoder.out(("\n\t" if offset and decoder.verbose else " ") + f"(label {label}")
        if decoder.verbose and label < 16:
            decoder.out(f" ({_MPLS_RESERVED[label] if label < 4 else 'rsvd'})")
        decoder.out(f", tc {entry >> 9 & 7}" + (", [S]" if bottom else "")
                    + f", ttl {entry & 0xFF})")
        offset += 4
        if bottom:
            break
    _mpls_payload(decoder, label, view.sub(offset), length - offset)


def _mpls_payload(decoder: _Decoder, label: int, view: _View, length: int) -> None:
    printer: Optional[_Printer] = {0: _ipv4, 3: _ipv4, 2: _ipv6}.get(label)
    if printer is None:
        if length < 1:
            return
        first = view.u8(0)
        printer = (_ipv4 if 0x45 <= first <= 0x4F else _ipv6 if 0x60 <= first <= 0x6F
                   else None)
    if printer is None:
        decoder.hexdump(view.rest())
        return
    decoder.out("\n\t" if decoder.verbose else " ")
    printer(decoder, view, length)


# -- ATM with LLC encapsulation ----------------------------------------------------------
#: the LLC headers (UI frames of the SNAP, OSI and IP SAPs) that need no 802.6 header before
_ATM_LLC_HEADERS = frozenset((0xAAAA03, 0xFEFE03, 0x060603))
_ATM_MAC_HEADER = 20  # the 802.6 MAC header a Fore driver put before any other frame
_CISCO_NLPID = 0x03


def _atm_rfc1483(decoder: _Decoder, view: _View, length: int) -> None:
    """RFC 1483/2684 LLC encapsulation: an LLC frame, after an 802.6 MAC header unless it
    starts as the usual ones do (tcpdump's guess, kept for its output)."""
    decoder.enter("ATM", "atm")
    if view.u8(0) == _CISCO_NLPID:  # an OSI packet after a Cisco NLPID, which we do not decode
        decoder.hexdump(view.rest(), force=True)
        return
    header = 0
    if int.from_bytes(view.raw(0, 3), "big") not in _ATM_LLC_HEADERS:
        if decoder.link_header:
            decoder.out(f"{view.u32(0):08x}{view.u32(4):08x} {view.u32(8):08x}{view.u32(12):08x} ")
        view.need(0, _ATM_MAC_HEADER)
        header = _ATM_MAC_HEADER
    decoder.link_length = header
    _llc(decoder, view.sub(header), length - header, None)


def ethertype_printers() -> dict[int, _Printer]:
    """The network layers of this module, by ethertype."""
    return {0x8847: _mpls, 0x8848: _mpls}


_LINK_PRINTERS: dict[int, _Printer] = {
    dlt.DLT_C_HDLC: _chdlc, dlt.DLT_PPP: _ppp, dlt.DLT_PPP_SERIAL: _ppp_serial,
    dlt.DLT_SLIP: _slip, dlt.DLT_NFLOG: _nflog, dlt.DLT_PKTAP: _pktap,
    149: _pktap,  # LINKTYPE_USER2: Apple's PKTAP files, as tcpdump reads them
    dlt.DLT_IPNET: _ipnet, dlt.DLT_IPOIB: _ipoib, dlt.DLT_ARCNET: _arcnet,
    dlt.DLT_ARCNET_LINUX: _arcnet_linux, dlt.DLT_DSA_TAG_DSA: _switch_tagged(_dsa_tag, 4),
    dlt.DLT_DSA_TAG_EDSA: _switch_tagged(_edsa_tag, 8),
    dlt.DLT_DSA_TAG_BRCM: _switch_tagged(_brcm_tag, 4),
    dlt.DLT_DSA_TAG_BRCM_PREPEND: _brcm_prepend, dlt.DLT_VSOCK: _vsock, dlt.DLT_PPI: _ppi,
    dlt.DLT_IEEE802_11: _ieee80211, dlt.DLT_ATM_RFC1483: _atm_rfc1483,
}


def link_printers() -> dict[int, _Printer]:
    """The printers of this module, by link type."""
    return dict(_LINK_PRINTERS)

