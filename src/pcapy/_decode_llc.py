"""IEEE 802.2 LLC frames and the spanning tree BPDUs they carry, as ``tcpdump -nn`` prints them.

``llc_frame`` reads the LLC header (IEEE 802.2: DSAP, SSAP, a one-byte control field for
unnumbered frames, two bytes, little-endian, for information and supervisory frames), prints
``-e``'s header text, and hands SNAP to ``pcapy._decode``, BPDUs to the spanning tree printer
(IEEE 802.1D/802.1Q: configuration, topology change, rapid and multiple spanning tree BPDUs)
and the IP SAP to IPv4. Any other frame gets tcpdump's one-line summary of the LLC header
(the SAPs by name, the frame kind and its flags) and, when it is not a supervisory frame or a
short XID, the hex dump of the whole frame. BPDUs get one line, and with ``verbose`` the
details ``tcpdump -v`` adds. Formats were derived from tcpdump 4.99's output.
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


def llc_frame(decoder: _Decoder, view: _View, length: int, addresses: Addresses) -> bool:
    """An LLC frame of ``length`` bytes on the wire (the decoder has entered the LLC layer);
    True when it was dumped as a frame nothing decodes, whose LLC header still counts as link
    layer (``Summary.link_length``) here."""
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
        return False
    decoder.link_length += size
    if dsap == ssap and control == _UI and dsap in (_SAP_STP, _SAP_IP):
        (_stp if dsap == _SAP_STP else _ipv4)(decoder, view.sub(size), length - size)
        return False
    if not decoder.link_header:
        decoder.out(_saps_text(dsap, ssap, addresses))
    return _frame_kind(decoder, view, length, control, ssap_field & 1, unnumbered)


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
_PORT_ROLES = ("Unknown", "Alternate", "Root", "Designated")
_MSTI_SIZE = 16
_MSTI_START = 102  # an MSTP BPDU's first MSTI record, after a 64-byte configuration part
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
        decoder.out(f", bridge-id {_bridge_id(view, 17)}.{view.u16(25):04x}, length {length}")
        if decoder.verbose:
            _config_details(decoder, view, version == 2)
    elif kind == 0x02 and version in (3, 4):
        _mstp(decoder, view, length, version == 4)


def _flags_text(flags: int) -> str:
    return ", ".join(name for bit, name in _BPDU_FLAGS if flags & bit) or "none"


def _bridge_id(view: _View, offset: int) -> str:
    """A bridge identifier: priority and system id extension, then the bridge's address."""
    return f"{view.u16(offset):04x}.{view.mac(offset + 2)}"


def _times_text(view: _View) -> str:
    """The four timers, which a BPDU gives in 1/256ths of a second."""
    age, most, hello, delay = (view.u16(at) / 256 for at in (27, 29, 31, 33))
    return (f"\n\tmessage-age {age:.2f}s, max-age {most:.2f}s, hello-time {hello:.2f}s, "
            f"forwarding-delay {delay:.2f}s")


def _role(flags: int) -> str:
    return _PORT_ROLES[(flags >> 2) & 3]


def _config_details(decoder: _Decoder, view: _View, rapid: bool) -> None:
    """What -v adds to a configuration or rapid BPDU: its timers and root bridge."""
    decoder.out(_times_text(view))
    decoder.out(f"\n\troot-id {_bridge_id(view, 5)}, root-pathcost {view.u32(13)}")
    if rapid:
        decoder.out(f", port-role {_role(view.u8(4))}")


def _mstp(decoder: _Decoder, view: _View, length: int, spb: bool) -> None:
    """A multiple (or shortest path) spanning tree BPDU: its lengths are checked, its CIST
    flags printed."""
    if length < _MSTP_MIN_SIZE or view.u8(35) != 0:
        raise _TruncatedError(_INVALID)
    mstp_size = view.u16(36) + 2
    if length < 36 + mstp_size:
        raise _TruncatedError(_INVALID)
    decoder.out(f", CIST Flags [{_flags_text(view.u8(4))}], length {length}")
    if decoder.verbose:
        _mstp_details(decoder, view)
    if spb:
        spb_size = view.u16(36 + mstp_size) + 2
        if length < 36 + mstp_size + spb_size or spb_size < _SPB_MIN_SIZE:
            raise _TruncatedError(_INVALID)
        if decoder.verbose:
            _spb_details(decoder, view.sub(36 + mstp_size))


def _name(decoder: _Decoder, view: _View, offset: int) -> None:
    """A 32-byte name, up to its first NUL, byte by byte (a cut one is printed as far as it
    goes); other bytes are shown as tcpdump shows them (``M-`` and ``^`` prefixes)."""
    for at in range(offset, offset + 32):
        byte = view.u8(at)
        if byte == 0:
            return
        prefix = "M-" if byte & 0x80 else ""
        byte &= 0x7F
        if not 0x20 <= byte < 0x7F:
            prefix, byte = prefix + "^", byte ^ 0x40
        decoder.out(prefix + chr(byte))


def _digest(view: _View, offset: int, words: int) -> str:
    return "".join(f"{view.u32(offset + 4 * word):08x}" for word in range(words))


def _mstp_details(decoder: _Decoder, view: _View) -> None:
    """What -v adds to an MSTP BPDU: the CIST's bridges, timers and region, then each MSTI."""
    flags = view.u8(4)
    decoder.out(f"\n\tport-role {_role(flags)}, ")
    decoder.out(f"CIST root-id {_bridge_id(view, 5)}, CIST ext-pathcost {view.u32(13)}")
    decoder.out(f"\n\tCIST regional-root-id {_bridge_id(view, 17)}, ")
    decoder.out(f"CIST port-id {view.u16(25):04x},")
    decoder.out(_times_text(view))
    decoder.out(f"\n\tv3len {view.u16(36)}, ")
    decoder.out("MCID Name ")
    _name(decoder, view, 39)
    decoder.out(f", rev {view.u16(71)},\n\t\tdigest {_digest(view, 73, 4)}, ")
    decoder.out(f"CIST int-root-pathcost {view.u32(89)},")
    decoder.out(f"\n\tCIST bridge-id {_bridge_id(view, 93)}, ")
    decoder.out(f"CIST remaining-hops {view.u8(101)}")
    records = max(view.u16(36) - 64, 0) // _MSTI_SIZE
    for at in range(_MSTI_START, _MSTI_START + records * _MSTI_SIZE, _MSTI_SIZE):
        _msti(decoder, view, at)


def _msti(decoder: _Decoder, view: _View, at: int) -> None:
    instance, flags = view.u16(at + 1) & 0xFFF, view.u8(at)
    decoder.out(f"\n\tMSTI {instance}, Flags [{_flags_text(flags)}], port-role {_role(flags)}")
    decoder.out(f"\n\t\tMSTI regional-root-id {_bridge_id(view, at + 1)}, "
                f"pathcost {view.u32(at + 9)}")
    decoder.out(f"\n\t\tMSTI bridge-prio {view.u8(at + 13) >> 4}, "
                f"port-prio {view.u8(at + 14) >> 4}, hops {view.u8(at + 15)}")


def _spb_details(decoder: _Decoder, view: _View) -> None:
    """What -v adds to an SPB BPDU: its auxiliary region and agreement (``view`` starts at
    the version 4 length)."""
    decoder.out(f"\n\tv4len {view.u16(0)}, ")
    decoder.out("AUXMCID Name ")
    _name(decoder, view, 3)
    decoder.out(f", Rev {view.u16(35)},\n\t\tdigest {_digest(view, 37, 4)}")
    agreement, form, convention = view.u8(53), view.u8(55), view.u8(56)
    decoder.out(f"\n\tAgreement num {agreement >> 6}, Discarded Agreement num "
                f"{agreement >> 4 & 3}, Agreement valid-flag {agreement >> 3 & 1},\n\t"
                f"Restricted role-flag: {agreement >> 2 & 1}, Format id {form >> 4} cap {form}, "
                f"Convention id {convention >> 4} cap {convention},\n\tEdge count "
                f"{view.u16(57)}, Agreement digest {_digest(view, 67, 5)}")
