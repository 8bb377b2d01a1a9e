"""Link-layer pseudo-header fix-ups libpcap applies to packets read from a savefile.

A few link types carry a pseudo-header whose fields the capturing machine wrote in its own byte
order. When a file (or pcapng section) was written in the other byte order than this machine's,
libpcap byte-swaps those fields so that readers see host-order values (pcap-util.c,
``pcapint_post_process``); this module does the same, field for field, with the same bounds:
a field is swapped only if the captured data (and, where libpcap checks it, the wire length)
covers it, and swapping stops at the first field that is not covered.

- DLT_PFLOG (117): uid, pid, rule_uid, rule_pid, each also within the header's own length byte;
- DLT_LINUX_SLL (113) / DLT_LINUX_SLL2 (276) carrying SocketCAN (protocol 0x000C CAN, 0x000D
  CAN FD: the CAN id; 0x000E CAN XL: priority/VCID, payload length, acceptance field);
- DLT_USB_LINUX (189) and DLT_USB_LINUX_MMAPPED (220): the URB header, and for the 64-byte header
  the isochronous descriptors that follow it;
- DLT_NFLOG (239): the type and length of each TLV (the values are big-endian already).

And, whatever the byte order, the DLT_USB_LINUX_MMAPPED length fix: old libpcap versions
computed the original length of incoming isochronous completion events from the URB length
instead of the descriptors; libpcap recomputes it when the length looks like the old formula's.
"""

from __future__ import annotations

import sys
from typing import Callable

from .._pkthdr import Pkthdr, make_header

DLT_PFLOG = 117
DLT_LINUX_SLL = 113
DLT_LINUX_SLL2 = 276
DLT_USB_LINUX = 189
DLT_USB_LINUX_MMAPPED = 220
DLT_NFLOG = 239

_MAX_U32 = 0xFFFFFFFF
_HOST = sys.byteorder

# SocketCAN protocols in the cooked headers (LINUX_SLL_P_*), and the fields to swap after the
# cooked header as (end offset, size): a field is swapped if the rest of the packet reaches end.
_CAN_FIELDS = ((4, 4),)  # can_id
_CAN_XL_FIELDS = ((4, 4), (8, 2), (12, 4))  # priority_vcid, payload_length, acceptance_field
_SOCKETCAN_FIELDS = {0x000C: _CAN_FIELDS, 0x000D: _CAN_FIELDS, 0x000E: _CAN_XL_FIELDS}

# struct pfloghdr: length byte at 0; uid, pid, rule_uid, rule_pid at 44, 48, 52, 56.
_PFLOG_FIELD_ENDS = (48, 52, 56, 60)

# The USB URB header (pcap/usb.h), as (end offset, size) in order: id (a 64-bit value), bus_id,
# ts_sec (64-bit), ts_usec, status, urb_len, data_len.
_USB_FIELDS = ((8, 8), (14, 2), (24, 8), (28, 4), (32, 4), (36, 4), (40, 4))
_USB_ISO_FIELDS = ((44, 4), (48, 4))  # s.iso.error_count, s.iso.numdesc (isochronous only)
_USB_MMAPPED_FIELDS = ((52, 4), (56, 4), (60, 4), (64, 4))  # interval, start_frame, flags, ndesc
_USB_MMAPPED_HEADER = 64
_USB_DESCRIPTOR = 16  # status, offset, len, padding
_USB_MAX_DESCRIPTORS = 128  # the Linux USB monitor's limit (libpcap's USB_MAXDESC)
_URB_ISOCHRONOUS = 0
_URB_COMPLETE = ord("C")
_URB_TRANSFER_IN = 0x80


def _reverse(data: bytearray, start: int, size: int) -> None:
    data[start : start + size] = data[start : start + size][::-1]


def _swap_fields(
    data: bytearray, base: int, room: int, fields: tuple[tuple[int, int], ...]
) -> bool:
    """Swap each field ending within ``room`` bytes of ``base``; stop at the first that does not."""
    for end, size in fields:
        if room < end:
            return False
        _reverse(data, base + end - size, size)
    return True


def _host_u32(data: bytearray, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], _HOST)


def _swap_pflog(data: bytearray, caplen: int, length: int) -> None:
    header_length = data[0] if caplen else 0
    for end in _PFLOG_FIELD_ENDS:
        if caplen < end or length < end or header_length < end:
            return
        _reverse(data, end - 4, 4)


def _swap_socketcan(
    data: bytearray, caplen: int, length: int, header: int, protocol_at: int
) -> None:
    if caplen < header or length < header:
        return
    protocol = int.from_bytes(data[protocol_at : protocol_at + 2], "big")
    fields = _SOCKETCAN_FIELDS.get(protocol)
    if fields is not None:
        _swap_fields(data, header, min(caplen, length) - header, fields)


def _swap_linux_sll(data: bytearray, caplen: int, length: int) -> None:
    _swap_socketcan(data, caplen, length, header=16, protocol_at=14)


def _swap_linux_sll2(data: bytearray, caplen: int, length: int) -> None:
    _swap_socketcan(data, caplen, length, header=20, protocol_at=0)


def _swap_usb_header(data: bytearray, caplen: int) -> bool:
    """The 48-byte URB header; whether every field of it was within the captured data."""
    if not _swap_fields(data, 0, caplen, _USB_FIELDS):
        return False
    if data[9] == _URB_ISOCHRONOUS:
        return _swap_fields(data, 0, caplen, _USB_ISO_FIELDS)
    return True  # the setup packet is bytes: nothing to swap


def _swap_usb(data: bytearray, caplen: int, length: int) -> None:
    _swap_usb_header(data, caplen)


def _swap_usb_mmapped(data: bytearray, caplen: int, length: int) -> None:
    if not _swap_usb_header(data, caplen):
        return
    if not _swap_fields(data, 0, caplen, _USB_MMAPPED_FIELDS) or data[9] != _URB_ISOCHRONOUS:
        return
    # ndesc is in host order now; the loop ends at the captured data in any case.
    descriptors = min(_host_u32(data, 60), (caplen - _USB_MMAPPED_HEADER) // _USB_DESCRIPTOR + 1)
    for index in range(descriptors):
        base = _USB_MMAPPED_HEADER + index * _USB_DESCRIPTOR
        if not _swap_fields(data, base, caplen - base, ((4, 4), (8, 4), (12, 4))):
            return


def _swap_nflog(data: bytearray, caplen: int, length: int) -> None:
    if caplen < 4 or length < 4 or data[1] != 0:  # nflog_version 0 only
        return
    position, caplen, length = 4, caplen - 4, length - 4
    while caplen >= 4:
        _reverse(data, position, 2)  # tlv_length
        _reverse(data, position + 2, 2)  # tlv_type
        size = int.from_bytes(data[position : position + 2], _HOST)
        size += -size % 4
        if size < 4 or caplen < size or length < size:
            return
        position, caplen, length = position + size, caplen - size, length - size


_SWAPPERS: dict[int, Callable[[bytearray, int, int], None]] = {
    DLT_PFLOG: _swap_pflog,
    DLT_LINUX_SLL: _swap_linux_sll,
    DLT_LINUX_SLL2: _swap_linux_sll2,
    DLT_USB_LINUX: _swap_usb,
    DLT_USB_LINUX_MMAPPED: _swap_usb_mmapped,
    DLT_NFLOG: _swap_nflog,
}


def _fixed_usb_length(data: bytearray, caplen: int, length: int) -> int:
    """The original length libpcap reports for a DLT_USB_LINUX_MMAPPED packet (host order)."""
    if caplen < _USB_MMAPPED_HEADER:
        return length
    descriptors = _host_u32(data, 60)
    if descriptors > _USB_MAX_DESCRIPTORS or data[15] != 0:  # data_flag 0: data is present
        return length
    if not (
        data[9] == _URB_ISOCHRONOUS and data[8] == _URB_COMPLETE and data[10] & _URB_TRANSFER_IN
    ):
        return length
    header_length = _USB_MMAPPED_HEADER + descriptors * _USB_DESCRIPTOR
    if length != (header_length + _host_u32(data, 32)) & _MAX_U32 or caplen < header_length:
        return length  # not the old formula's value, or descriptors missing
    new_length = min(header_length + _isochronous_data_end(data, caplen, descriptors), _MAX_U32)
    if new_length >= caplen:
        length = new_length
    return max(length, caplen)


def _isochronous_data_end(data: bytearray, caplen: int, descriptors: int) -> int:
    """The end of the furthest data any captured descriptor points at (clamped to 32 bits)."""
    end = 0
    captured = (caplen - _USB_MMAPPED_HEADER) // _USB_DESCRIPTOR
    for index in range(min(descriptors, captured)):
        base = _USB_MMAPPED_HEADER + index * _USB_DESCRIPTOR
        size = _host_u32(data, base + 8)
        if size:
            end = max(end, min(_host_u32(data, base + 4) + size, _MAX_U32))
    return end


def needs_post_processing(dlt: int, swapped: bool) -> bool:
    """Whether packets of this link type need libpcap's savefile fix-ups."""
    return dlt == DLT_USB_LINUX_MMAPPED or (swapped and dlt in _SWAPPERS)


def post_process(dlt: int, swapped: bool, hdr: Pkthdr, data: bytes) -> tuple[Pkthdr, bytes]:
    """Apply libpcap's fix-ups to one packet: byte-swapped pseudo-header fields, USB length.

    ``swapped`` says the file (or pcapng section) is in the other byte order than this machine.
    The header keeps its class and every field but the length, which only the USB fix changes.
    """
    caplen, length = hdr[2], hdr[3]
    buffer = bytearray(data)
    swapper = _SWAPPERS.get(dlt) if swapped else None
    if swapper is not None:
        swapper(buffer, caplen, length)
    if dlt == DLT_USB_LINUX_MMAPPED:
        new_length = _fixed_usb_length(buffer, caplen, length)
        if new_length != length:
            hdr = make_header(type(hdr), (*hdr[:3], new_length, *hdr[4:]))
    return hdr, bytes(buffer)
