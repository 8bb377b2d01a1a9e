"""libpcap's pseudo-header fix-ups (pcap-util.c), packet by packet, as byte literals.

Each case gives a packet as a big-endian machine wrote it and the bytes libpcap hands a
little-endian reader: the fields the capturing host wrote in its own byte order reversed, each
only if the captured data (and, where libpcap checks it, the wire length) covers it. The
expected bytes were worked out from the C rules; the same packets were also checked against
libpcap 1.10.3 and master through ctypes when this test was written.
"""

from __future__ import annotations

import io
import struct
import sys
from typing import Optional

import pytest

import pcapy
from helpers import pcapng_block
from pcapy._pkthdr import NanoPkthdr, PcapngPkthdr, Pkthdr
from pcapy._savefile._pseudo import needs_post_processing, post_process

H = bytes.fromhex

pytestmark = pytest.mark.skipif(
    sys.byteorder != "little", reason="the literals assume a little-endian host"
)


def swap(dlt: int, data: bytes, length: Optional[int] = None) -> tuple[int, bytes]:
    """(len, data) after libpcap's fix-ups for a big-endian file read here."""
    hdr = Pkthdr(1, 2, len(data), len(data) if length is None else length)
    fixed, out = post_process(dlt, True, hdr, data)
    assert tuple(fixed[:3]) == (1, 2, len(data))
    return fixed[3], out


# PFLOG: length byte 0x40, af, action, reason, ifname[16], ruleset[16], rulenr, subrulenr,
# then uid 1000, pid 12345, rule_uid 5, rule_pid 7 (host order), dir, pad[3].
PFLOG = H(
    "40020000"
    + "00" * 32
    + "00000001 ffffffff"
    + "000003e8 00003039 00000005 00000007"
    + "01000000"
)
PFLOG_SWAPPED = H(
    "40020000"
    + "00" * 32
    + "00000001 ffffffff"
    + "e8030000 39300000 05000000 07000000"
    + "01000000"
)


def test_pflog_uid_pid_rule_uid_rule_pid():
    assert swap(117, PFLOG) == (64, PFLOG_SWAPPED)


def test_pflog_stops_at_its_own_header_length_and_at_caplen():
    short_header = b"\x34" + PFLOG[1:]  # header length 52: uid and pid only
    assert swap(117, short_header)[1] == b"\x34" + PFLOG_SWAPPED[1:52] + PFLOG[52:]
    assert swap(117, PFLOG[:50])[1] == PFLOG_SWAPPED[:48] + PFLOG[48:50]  # caplen 50: uid only
    assert swap(117, PFLOG, length=47)[1] == PFLOG  # wire length too short for uid


# LINUX_SLL: pkttype, hatype 280 (CAN), halen, addr[8], protocol; then the SocketCAN header.
SLL_HEAD = H("0000 0118 0000 0000000000000000")
CAN = H("00000123 08000000 0102030405060708")  # can_id (host order), len, pad, data
CAN_SWAPPED = H("23010000 08000000 0102030405060708")
CAN_XL = H("00000011 8003 0004 00001234 deadbeef")  # prio/VCID, flags, SDU type, length, AF
CAN_XL_SWAPPED = H("11000000 8003 0400 34120000 deadbeef")


@pytest.mark.parametrize(
    ("protocol", "frame", "expected"),
    [
        ("000c", CAN, CAN_SWAPPED),  # CAN classic
        ("000d", CAN, CAN_SWAPPED),  # CAN FD
        ("000e", CAN_XL, CAN_XL_SWAPPED),  # CAN XL
        ("0800", CAN, CAN),  # not SocketCAN: nothing to do
    ],
)
def test_linux_sll_socketcan(protocol, frame, expected):
    assert swap(113, SLL_HEAD + H(protocol) + frame)[1] == SLL_HEAD + H(protocol) + expected


@pytest.mark.parametrize(
    ("protocol", "frame", "expected"),
    [
        ("000c", CAN, CAN_SWAPPED),
        ("000e", CAN_XL, CAN_XL_SWAPPED),
    ],
)
def test_linux_sll2_socketcan(protocol, frame, expected):
    head = H(protocol) + H("0000 00000001 0118 00 00 0000000000000000")
    assert swap(276, head + frame)[1] == head + expected


def test_can_xl_swaps_what_the_data_covers():
    packet = SLL_HEAD + H("000e") + CAN_XL
    assert (
        swap(113, packet[: 16 + 10])[1] == SLL_HEAD + H("000e") + CAN_XL_SWAPPED[:8] + CAN_XL[8:10]
    )
    assert swap(113, packet[: 16 + 3])[1] == packet[:19]


# USB_LINUX: id, event 'S', transfer type (2 control / 0 isochronous), endpoint, device,
# bus_id, setup flag, data flag, ts_sec (8), ts_usec, status, urb_len, data_len, then the
# setup packet (bytes) or, for isochronous transfers, error_count and numdesc.
USB_HEAD = (
    "0102030405060708 53 {tt} 80 01 0002 00 3c 000000005f000000 0001e240 ffffff8d 00000012 00000000"
)
USB_HEAD_SWAPPED = (
    "0807060504030201 53 {tt} 80 01 0200 00 3c 0000005f00000000 40e20100 8dffffff 12000000 00000000"
)


def test_usb_linux_control_transfer():
    setup = "8006000100001200"
    packet = H(USB_HEAD.format(tt="02") + setup)
    assert swap(189, packet)[1] == H(USB_HEAD_SWAPPED.format(tt="02") + setup)


def test_usb_linux_isochronous_transfer_and_short_capture():
    packet = H(USB_HEAD.format(tt="00") + "00000001 00000002")
    assert swap(189, packet)[1] == H(USB_HEAD_SWAPPED.format(tt="00") + "01000000 02000000")
    # caplen 20: id and bus_id swapped; ts_sec (ends at 24) is not captured
    assert swap(189, packet[:20])[1] == H("0807060504030201 53 00 80 01 0200 00 3c") + packet[16:20]


# USB_LINUX_MMAPPED, a completed incoming isochronous transfer: event 'C', endpoint 0x81,
# urb_len 384, data flag 0, then interval 8, start_frame 16, xfer_flags 0x200, ndesc 2 and two
# descriptors (status, offset, len, pad): data at 0..192 and 256..448.
MMAPPED_BE = H(
    "0102030405060708 43 00 81 01 0002 00 00 000000005f000000 0001e240 00000000 00000180 00000000"
    "00000001 00000002 00000008 00000010 00000200 00000002"
    "00000000 00000000 000000c0 00000000 ffffffee 00000100 000000c0 00000000"
)
MMAPPED_LE = H(
    "0807060504030201 43 00 81 01 0200 00 00 0000005f00000000 40e20100 00000000 80010000 00000000"
    "01000000 02000000 08000000 10000000 00020000 02000000"
    "00000000 00000000 c0000000 00000000 eeffffff 00010000 c0000000 00000000"
)


def test_usb_mmapped_swaps_header_and_descriptors_then_fixes_the_length():
    # The file's len is the old libpcap formula: 64 + 16 * ndesc + urb_len = 480. The data
    # really ends at the last descriptor's end: 64 + 32 + 448 = 544.
    assert swap(220, MMAPPED_BE, length=480) == (544, MMAPPED_LE)


def test_usb_mmapped_length_fix_applies_in_either_byte_order():
    hdr = Pkthdr(1, 2, len(MMAPPED_LE), 480)
    fixed, data = post_process(220, False, hdr, MMAPPED_LE)
    assert (fixed.len, data) == (544, MMAPPED_LE)
    assert needs_post_processing(220, False)


def test_usb_mmapped_length_fix_only_for_the_old_formula():
    assert swap(220, MMAPPED_BE, length=481) == (481, MMAPPED_LE)
    outgoing = MMAPPED_BE[:10] + b"\x01" + MMAPPED_BE[11:]  # endpoint 0x01: not incoming
    assert swap(220, outgoing, length=480)[0] == 480


def test_usb_mmapped_length_never_below_caplen():
    packet = MMAPPED_LE + bytes(600)  # captured more than the descriptors account for
    hdr = Pkthdr(1, 2, len(packet), 480)
    fixed, _ = post_process(220, False, hdr, packet)
    assert fixed.len == len(packet)


# NFLOG: family, version 0, resource id (big-endian), then TLVs with host-order length/type.
NFLOG = H("02000001 0008 0001 08000001 0005 000a 61000000 0002 0009 ffff")
NFLOG_SWAPPED = H("02000001 0800 0100 08000001 0500 0a00 61000000 0200 0900 ffff")


def test_nflog_tlv_headers_until_one_is_too_short():
    assert swap(239, NFLOG) == (len(NFLOG), NFLOG_SWAPPED)


def test_nflog_other_versions_are_left_alone():
    version_1 = NFLOG[:1] + b"\x01" + NFLOG[2:]
    assert swap(239, version_1)[1] == version_1


def test_the_header_keeps_its_class_and_pcapng_fields():
    interface, options = object(), object()
    hdr = tuple.__new__(PcapngPkthdr, (1, 2, len(MMAPPED_BE), 480, interface, options))
    fixed, _ = post_process(220, True, hdr, MMAPPED_BE)
    assert type(fixed) is PcapngPkthdr
    assert tuple(fixed) == (1, 2, len(MMAPPED_BE), 544, interface, options)
    nano = tuple.__new__(NanoPkthdr, (1, 2, len(PFLOG), len(PFLOG)))
    assert type(post_process(117, True, nano, PFLOG)[0]) is NanoPkthdr


@pytest.mark.parametrize("dlt", [117, 113, 276, 189, 220, 239])
def test_which_link_types_need_fix_ups(dlt):
    assert needs_post_processing(dlt, True)
    assert needs_post_processing(dlt, False) == (dlt == 220)
    assert not needs_post_processing(1, True)


def big_endian_pcap(dlt: int, packets: list[tuple[bytes, int]]) -> bytes:
    out = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, dlt)
    for data, length in packets:
        out += struct.pack(">IIII", 1, 0, len(data), length) + data
    return out


def big_endian_pcapng(dlt: int, packets: list[tuple[bytes, int]]) -> bytes:
    def block(block_type: int, body: bytes) -> bytes:
        return pcapng_block(block_type, body, ">")

    out = block(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack(">HHI", dlt, 0, 65535))
    for data, length in packets:
        out += block(6, struct.pack(">IIIII", 0, 0, 1_000_000, len(data), length) + data)
    return out


@pytest.mark.parametrize("make_file", [big_endian_pcap, big_endian_pcapng])
def test_both_engines_fix_big_endian_files(make_file):
    can = SLL_HEAD + H("000c") + CAN
    reader = pcapy.open_offline(io.BytesIO(make_file(113, [(can, len(can))])))
    assert [data for _, data in reader] == [SLL_HEAD + H("000c") + CAN_SWAPPED]
    reader = pcapy.open_offline(io.BytesIO(make_file(117, [(PFLOG, 64)])))
    assert [data for _, data in reader] == [PFLOG_SWAPPED]
    reader = pcapy.open_offline(io.BytesIO(make_file(220, [(MMAPPED_BE, 480)])))
    assert [(hdr.len, data) for hdr, data in reader] == [(544, MMAPPED_LE)]
