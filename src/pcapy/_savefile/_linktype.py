"""Link types: the LINKTYPE_* numbers files carry versus the DLT_* numbers libpcap reports.

They are the same number except for a few historical values whose DLT_ differs between
operating systems (libpcap's pcap-common.c keeps the same table); a reader reports the DLT_, a
writer stores the LINKTYPE_. Also here: the largest packet libpcap accepts for a link type.
"""

from __future__ import annotations

from .._constants import DLT_ATM_CLIP, DLT_ATM_RFC1483, DLT_PPP_BSDOS, DLT_RAW, DLT_SLIP_BSDOS

# LINKTYPE_ value -> DLT_ value where they differ.
_LINKTYPE_TO_DLT = {
    100: DLT_ATM_RFC1483,
    101: DLT_RAW,
    102: DLT_SLIP_BSDOS,
    103: DLT_PPP_BSDOS,
    106: DLT_ATM_CLIP,
}
_DLT_TO_LINKTYPE = {dlt: linktype for linktype, dlt in _LINKTYPE_TO_DLT.items()}

# DLT_ values that are written unchanged although they lie outside the two "matching" ranges.
_UNCHANGED_DLTS = frozenset({32, 50, 51, 99})  # REDBACK_SMARTEDGE, PPP_SERIAL, PPP_ETHER, SYMANTEC

#: libpcap's largest packet (MAXIMUM_SNAPLEN), and the link types allowed more.
MAXIMUM_SNAPLEN = 262_144
_MAX_SNAPLEN_BY_DLT = {
    231: 128 * 1024 * 1024,  # DLT_DBUS: a D-Bus message may be 128 MiB
    279: 8 * 1024 * 1024,  # DLT_EBHSCR
    249: 1024 * 1024,  # DLT_USBPCAP
}

# The link-type field of a pcap file header: the low 16 bits are the LINKTYPE_, bits 16-25 are
# reserved (must be zero), bit 26 says an FCS length is present in bits 28-31.
LINKTYPE_MASK = 0x0000FFFF
LINKTYPE_RESERVED_MASK = 0x03FF0000
LINKTYPE_FCS_PRESENT = 0x04000000


def linktype_to_dlt(linktype: int) -> int:
    """The DLT_ value libpcap reports for a file's LINKTYPE_ value."""
    return _LINKTYPE_TO_DLT.get(linktype, linktype)


def dlt_to_linktype(dlt: int) -> int:
    """The LINKTYPE_ value to store for a DLT_ value, or -1 if it has none (as libpcap)."""
    if 0 <= dlt <= 10 or 104 <= dlt <= 304 or dlt in _UNCHANGED_DLTS:
        return dlt
    return _DLT_TO_LINKTYPE.get(dlt, -1)


def max_snaplen_for_dlt(dlt: int) -> int:
    """The largest captured length libpcap accepts for a packet of this link type."""
    return _MAX_SNAPLEN_BY_DLT.get(dlt, MAXIMUM_SNAPLEN)


def adjust_snapshot(dlt: int, snaplen: int) -> int:
    """The snapshot length a reader uses: a file's 0 or > INT_MAX means the link type's maximum."""
    if snaplen == 0 or snaplen > 0x7FFFFFFF:
        return max_snaplen_for_dlt(dlt)
    return snaplen
