"""IEEE 802.2 LLC frames and the spanning tree BPDUs they carry, as ``tcpdump -nn`` prints them.

``llc_frame`` reads the LLC header (IEEE 802.2: DSAP, SSAP, a one-byte control field for
unnumbered frames, two bytes, little-endian, for information and supervisory frames), prints
``-e``'s header text, and hands SNAP to ``pcapy._decode``, BPDUs to the spanning tree printer
(IEEE 802.1D/802.1Q: configuration, topology change, rapid and multiple spanning tree BPDUs)
and the IP SAP to IPv4. Any other frame gets tcpdump's one-line summary of the LLC header
(the SAPs by name, the frame kind and its flags) and, when it is not a supervisory frame or a
short XID, the hex dump of the whole frame. Formats were derived from tcpdump 4.99's output.
"""

from __future__ import annotations

from typing import Optional

from ._decode import _Decoder, _ipv4, _snap, _TruncatedError, _View

_SAP_SNAP, _SAP_STP, _SAP_IP = 0xAA, 0x42, 0x06
_UI = 0x03  # the control field of an unnumbered information frame
_XID = 0xAF
_XID_FORMAT = 0x81  # an XID payload in the IEEE basic format starts with this byte
_POLL_U, _POLL_IS = 0x10, 0x100  # the poll/final bit of a one- and of a two-byte control field
_SAP_NAMES = {
    0x00: "Null", 0xFF: "Global", 0x02: "802.1B I", 0x03: "802.1B G", 0x06: "IP", 0x04: "SNA",
    0x0E: "ProWay NM", 0x42: "STP", 0x4E: "RS511", 0x7E: "ISO8208", 0x8E: "ProWay",
    0xAA: "SNAP", 0xE0: "IPX", 0xF0: "NetBeui", 0xFE: "OSI",
}
_U_COMMANDS = {0x03: "ui", 0xE3: "test", 0xAF: "xid", 0x63: "ua", 0x43: "disc", 0x0F: "dm",
               0x6F: "sabme", 0x87: "frmr"}
#: the SSAP's command/response bit together with the control field's poll/final bit
_FLAGS = {0: "Command", 1: "Response", _POLL_U: "Poll", _POLL_U | 1: "Final",
          _POLL_IS: "Poll", _POLL_IS | 1: "Final"}
_SUPERVISORY = {0: "Receiver Ready", 1: "Receiver not Ready", 2: "Reject"}

#: an LLC frame's link-layer addresses, source then destination, when the link has them
Addresses = Optional[tuple[str, str]]


def llc_frame(decoder: _Decoder, view: _View, length: int, addresses: Addresses) -> None:
    """An LLC frame of ``length`` bytes on the wire (the decoder has entered the LLC layer)."""
    if not view.has(0, 3):
        _cut(decoder, view)
    dsap_field, ssap_field, control = view.u8(0), view.u8(1), view.u8(2)
    unnumbered = control & 3 == 3
    if not unnumbered:
        if not view.has(0, 4):
            _cut(decoder, view)
        control = view.u8(2) | view.u8(3) << 8
    size = 3 if unnumbered else 4
    dsap, ssap = dsap_field & 0xFE, ssap_field & 0xFE
    if decoder.link_header:
        decoder.out(_header_text(dsap_field, ssap_field, control, unnumbered))
    if dsap == ssap == _SAP_SNAP and control == _UI:
        macs = "" if addresses is None else " > ".join(addresses)
        _snap(decoder, view, length, macs)
        return
    decoder.link_length += size
    if dsap == ssap and control == _UI and dsap in (_SAP_STP, _SAP_IP):
        (_stp if dsap == _SAP_STP else _ipv4)(decoder, view.sub(size), length - size)
        return
    if not decoder.link_header:
        decoder.out(_saps_text(dsap, ssap, addresses))
    dumped = _frame_kind(decoder, view, length, control, ssap_field & 1, unnumbered)
    if dumped and addresses is None:  # a cooked capture counts a dumped frame's LLC as data
        decoder.link_length -= size


def _cut(decoder: _Decoder, view: _View) -> None:
    decoder.out(" [|llc]")
    decoder.hexdump(view.rest(), force=True)
    raise _TruncatedError("")


def _sap_name(sap: int, which: str) -> str:
    return _SAP_NAMES.get(sap, f"Unknown {which} 0x{sap:02x}")


def _header_text(dsap_field: int, ssap_field: int, control: int, unnumbered: bool) -> str:
    """``-e``'s ``LLC, dsap STP (0x42) Individual, ssap STP (0x42) Command, ctrl 0x03: ``."""
    dsap, ssap = dsap_field & 0xFE, ssap_field & 0xFE
    kind = "Group" if dsap_field & 1 else "Individual"
    role = "Response" if ssap_field & 1 else "Command"
    ctrl = f"0x{control:02x}" if unnumbered else f"0x{control:04x}"
    return (f"LLC, dsap {_SAP_NAMES.get(dsap, 'Unknown')} (0x{dsap:02x}) {kind}, "
            f"ssap {_SAP_NAMES.get(ssap, 'Unknown')} (0x{ssap:02x}) {role}, ctrl {ctrl}: ")


def _saps_text(dsap: int, ssap: int, addresses: Addresses) -> str:
    """The SAPs (one name when they are equal), each after its address when there are any."""
    if dsap == ssap:
        name = _sap_name(dsap, "DSAP")
        return name + " " if addresses is None else f"{addresses[0]} > {addresses[1]} {name} "
    source, destination = _sap_name(ssap, "SSAP"), _sap_name(dsap, "DSAP")
    if addresses is None:
        return f"{source} > {destination} "
    return f"{addresses[0]} {source} > {addresses[1]} {destination} "


def _frame_kind(decoder: _Decoder, view: _View, length: int, control: int, response: int,
                unnumbered: bool) -> bool:
    """The frame's kind, flags and length; then the frame in hex, as tcpdump dumps it
    (True) unless it is a supervisory frame or an XID frame of the basic format (False)."""
    if unnumbered:
        command = control & ~_POLL_U & 0xFF
        flags = _FLAGS.get(response | (control & _POLL_U), "?")
        decoder.out(f"Unnumbered, {_U_COMMANDS.get(command, f'{command:02x}')}, "
                    f"Flags [{flags}], length {length}")
        if command == _XID and _xid(decoder, view.sub(3), length - 3):
            return False
    else:
        flags = _FLAGS.get(response | (control & _POLL_IS), "?")
        receive = (control >> 9) & 0x7F
        if control & 1:
            kind = _SUPERVISORY.get((control >> 2) & 3, "?")
            decoder.out(f"Supervisory, {kind}, rcv seq {receive}, Flags [{flags}], "
                        f"length {length}")
            return False
        decoder.out(f"Information, send seq {(control >> 1) & 0x7F}, rcv seq {receive}, "
                    f"Flags [{flags}], length {length}")
    decoder.hexdump(view.rest())
    return True


def _xid(decoder: _Decoder, payload: _View, length: int) -> bool:
    """An XID frame's format identifier and first two bytes; False when it has another
    format, whose frame is then dumped."""
    if length <= 0:
        return True
    data = payload.rest()
    if not data:
        raise _TruncatedError()
    if data[0] != _XID_FORMAT:
        return False
    if len(data) < 3 or length < 3:
        decoder.out(" [|llc]")
        decoder.hexdump(data, force=True)
        raise _TruncatedError("")
    decoder.out(f": {data[1]:02x} {data[2]:02x}")
    return True


# -- spanning tree BPDUs ------------------------------------------------------------------
_STP_VERSIONS = {0: "802.1d", 2: "802.1w", 3: "802.1s", 4: "802.1aq"}
_BPDU_TYPES = {0x00: "Config", 0x02: "Rapid STP", 0x80: "Topology Change"}
_BPDU_FLAGS = ((0x01, "Topology change"), (0x02, "Proposal"), (0x10, "Learn"),
               (0x20, "Forward"), (0x40, "Agreement"), (0x80, "Topology change ACK"))
_CONFIG_SIZE = 35  # a configuration BPDU; a rapid one adds the version 1 length byte
_MSTP_MIN_SIZE = 102
_SPB_MIN_SIZE = 87
_INVALID = " (invalid)"  # what ends the line of a BPDU shorter than its type requires


def _stp(decoder: _Decoder, view: _View, length: int) -> None:
    """A BPDU, summarised as tcpdump does without -v."""
    decoder.enter("STP", "stp")
    if length < 4:
        raise _TruncatedError(_INVALID)
    if view.u16(0):
        decoder.out(f"unknown STP version, length {length}")
        return
    version = view.u8(2)
    decoder.out("STP " + _STP_VERSIONS.get(version, f"Unknown STP protocol (0x{version:02x})"))
    if version not in _STP_VERSIONS:
        return
    kind = view.u8(3)
    decoder.out(", " + _BPDU_TYPES.get(kind, f"Unknown BPDU Type (0x{kind:02x})"))
    if kind == 0x00 or (kind == 0x02 and version == 2):
        if length < _CONFIG_SIZE + (kind == 0x02):
            raise _TruncatedError(_INVALID)
        decoder.out(f", Flags [{_flags_text(view.u8(4))}]")
        decoder.out(_bridge_text(view, length))
    elif kind == 0x02 and version in (3, 4):
        _mstp(decoder, view, length, version == 4)


def _flags_text(flags: int) -> str:
    return ", ".join(name for bit, name in _BPDU_FLAGS if flags & bit) or "none"


def _bridge_text(view: _View, length: int) -> str:
    return f", bridge-id {view.u16(17):04x}.{view.mac(19)}.{view.u16(25):04x}, length {length}"


def _mstp(decoder: _Decoder, view: _View, length: int, spb: bool) -> None:
    """A multiple (or shortest path) spanning tree BPDU: its lengths are checked, its CIST
    flags printed."""
    if length < _MSTP_MIN_SIZE or view.u8(35) != 0:
        raise _TruncatedError(_INVALID)
    mstp_size = view.u16(36) + 2
    if length < 36 + mstp_size:
        raise _TruncatedError(_INVALID)
    decoder.out(f", CIST Flags [{_flags_text(view.u8(4))}], length {length}")
    if spb:
        spb_size = view.u16(36 + mstp_size) + 2
        if length < 36 + mstp_size + spb_size or spb_size < _SPB_MIN_SIZE:
            raise _TruncatedError(_INVALID)
