"""pcapng blocks as byte literals: each parsed field by field, and written again where pcapy writes it.

Every literal below is little-endian unless named ``..._BE``; the comments give the fields.
Error cases are built with the small helpers at the top (``block``, ``option``, ``shb``, ...),
which follow the spec's layouts directly and share no code with pcapy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pickle
import struct
import tracemalloc
from fractions import Fraction
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pcapy
from helpers import Trickle, pcapng_block, pcapng_option, pcapng_split_blocks
from pcapy._pkthdr import PcapngPkthdr
from pcapy._savefile import open_savefile
from pcapy._savefile._pcapng_types import (
    BlockType,
    CustomOption,
    Hash,
    NameRecord,
    PacketOptions,
    PcapngFileInfo,
    SecretsType,
    Verdict,
    encode_options,
)
from pcapy._savefile._pcapng_writer import (
    PcapngWriter,
    build_enhanced_packet,
    build_interface,
    build_section_header,
    copied_interface_options,
    packet_options,
)

H = bytes.fromhex

# SHB as pcapy writes it: byte-order magic, version 1.0, section length -1,
# shb_userappl "pcapy", opt_endofopt.
SHB_PCAPY = H(
    "0a0d0d0a 2c000000 4d3c2b1a 01000000 ffffffff ffffffff 04000500 70636170 79000000"
    "00000000 2c000000"
)
# SHB with shb_hardware "x86_64", shb_os "Linux", shb_userappl "tcpdump", a comment, and a
# custom string option (2988, PEN 32473, "vendor").
SHB_FULL = H(
    "0a0d0d0a 68000000 4d3c2b1a 01000000 ffffffff ffffffff 02000600 7838365f 36340000"
    "03000500 4c696e75 78000000 04000700 74637064 756d7000 01000d00 66697273 74207365"
    "6374696f 6e000000 ac0b0a00 d97e0000 76656e64 6f720000 00000000 68000000"
)
# IDB: EN10MB, snaplen 1514, and every option: if_name eth0, if_description uplink,
# if_IPv4addr 192.0.2.1/255.255.255.0, if_IPv6addr 2001:db8::1/64, if_MACaddr, if_EUIaddr,
# if_speed 10^9, if_tsresol 9 (ns), if_tzone (60, 60), if_filter (0, "tcp port 80"),
# if_os "Linux 6.1", if_fcslen 4, if_tsoffset -100, if_hardware e1000, if_txspeed 100,
# if_rxspeed 200, if_iana_tzname Europe/Berlin, a comment, a no-copy custom option.
IDB_FULL = H(
    "01000000 10010000 01000000 ea050000 02000400 65746830 03000600 75706c69 6e6b0000"
    "04000800 c0000201 ffffff00 05001100 20010db8 00000000 00000000 00000001 40000000"
    "06000600 00112233 44550000 07000800 02112233 44556677 08000800 00ca9a3b 00000000"
    "09000100 09000000 0a000400 3c003c00 0b000c00 00746370 20706f72 74203830 0c000900"
    "4c696e75 7820362e 31000000 0d000100 04000000 0e000800 9cffffff ffffffff 0f000500"
    "65313030 30000000 10000800 64000000 00000000 11000800 c8000000 00000000 12000d00"
    "4575726f 70652f42 65726c69 6e000000 01000a00 74686520 75706c69 6e6b0000 ac4b0900"
    "d97e0000 6c6f6361 6c000000 00000000 10010000"
)
# The same interface as pcapy's writer copies it: the options but the no-copy custom one, then
# the clock options it writes itself: if_tsresol 9 and if_tsoffset -100 (the source's).
IDB_FULL_COPIED = H(
    "01000000 00010000 01000000 ea050000 02000400 65746830 03000600 75706c69 6e6b0000"
    "04000800 c0000201 ffffff00 05001100 20010db8 00000000 00000000 00000001 40000000"
    "06000600 00112233 44550000 07000800 02112233 44556677 08000800 00ca9a3b 00000000"
    "0a000400 3c003c00 0b000c00 00746370 20706f72 74203830 0c000900 4c696e75 7820362e"
    "31000000 0d000100 04000000 0f000500 65313030 30000000 10000800 64000000 00000000"
    "11000800 c8000000 00000000 12000d00 4575726f 70652f42 65726c69 6e000000 01000a00"
    "74686520 75706c69 6e6b0000 09000100 09000000 0e000800 9cffffff ffffffff 00000000"
    "00010000"
)
# EPB on interface 0, time stamp 1700000000123456789 units, caplen 13, len 60, 13 data bytes
# (0x40..0x4c) + 3 padding, then: comment, epb_flags 0x0100008d (inbound, broadcast, 4-byte
# FCS, CRC error), epb_hash CRC32 deadbeef, epb_dropcount 7, epb_packetid, epb_queue 3,
# epb_verdict XDP 2, epb_verdict hardware 010203, epb_processid_threadid 1234/5678, custom
# binary option (2989, PEN 32473, 0001), opt_endofopt.
EPB_FULL = H(
    "06000000 a8000000 00000000 fe9c9717 15cd853d 0d000000 3c000000 40414243 44454647"
    "48494a4b 4c000000 01000900 6120636f 6d6d656e 74000000 02000400 8d000001 03000500"
    "02deadbe ef000000 04000800 07000000 00000000 05000800 88776655 44332211 06000400"
    "03000000 07000900 02020000 00000000 00000000 07000400 00010203 08000800 d2040000"
    "2e160000 ad0b0600 d97e0000 00010000 00000000 a8000000"
)
# SPB: original length 60, 10 data bytes (0x50..0x59) + 2 padding.
SPB_10 = H("03000000 1c000000 3c000000 50515253 54555657 58590000 1c000000")
# PB (obsolete): interface 0, drops 5, time stamp 1000, caplen 4, len 4, "ABCD",
# pack_flags 1, pack_hash MD5 (16 zero bytes), opt_endofopt.
PB_FULL = H(
    "02000000 48000000 00000500 00000000 e8030000 04000000 04000000 41424344 02000400"
    "01000000 03001100 03000000 00000000 00000000 00000000 00000000 00000000 48000000"
)
# NRB: ipv4 192.0.2.1 host.example/alias, ipv6 2001:db8::1 v6.example, eui48 nic, eui64 eui,
# an unknown record type 99 and a too-short ipv4 record (both skipped), nrb_record_end; then
# ns_dnsname ns.example, ns_dnsIP4addr 192.0.2.53, ns_dnsIP6addr 2001:db8::35, a comment.
NRB_FULL = H(
    "04000000 bc000000 01001700 c0000201 686f7374 2e657861 6d706c65 00616c69 61730000"
    "02001b00 20010db8 00000000 00000000 00000001 76362e65 78616d70 6c650000 03000a00"
    "00112233 44556e69 63000000 04000c00 00112233 44556677 65756900 63000700 736b6970"
    "206d6500 01000200 01020000 00000000 02000a00 6e732e65 78616d70 6c650000 03000400"
    "c0000235 04001000 20010db8 00000000 00000000 00000035 01000800 7265736f 6c766564"
    "00000000 bc000000"
)
# ISB: interface 0, time stamp as EPB_FULL's, isb_starttime (same), isb_endtime (+1 unit),
# isb_ifrecv 100, isb_ifdrop 1, isb_filteraccept 90, isb_osdrop 2, isb_usrdeliv 88, a comment.
ISB_FULL = H(
    "05000000 7c000000 00000000 fe9c9717 15cd853d 02000800 fe9c9717 15cd853d 03000800"
    "fe9c9717 16cd853d 04000800 64000000 00000000 05000800 01000000 00000000 06000800"
    "5a000000 00000000 07000800 02000000 00000000 08000800 58000000 00000000 01000500"
    "66696e61 6c000000 00000000 7c000000"
)
# DSB: TLS key log, 20 bytes "CLIENT_RANDOM 00 11\n", a comment.
DSB_TLS = H(
    "0a000000 34000000 4b534c54 14000000 434c4945 4e545f52 414e444f 4d203030 2031310a"
    "01000400 6b657973 00000000 34000000"
)
CB_COPY = H("ad0b0000 1c000000 d97e0000 63757374 6f6d2064 61746121 1c000000")  # PEN, "custom data!"
CB_NO_COPY = H("ad0b0040 18000000 d97e0000 70726976 61746500 18000000")  # PEN, "private" + pad
# A big-endian section: SHB (shb_userappl be-writer), IDB NULL snaplen 0 with if_tsresol 2^-10
# and if_tsoffset 10, EPB with time stamp 5*1024 + 1023 units and 4 bytes.
SHB_BE = H(
    "0a0d0d0a 00000030 1a2b3c4d 00010000 ffffffff ffffffff 00040009 62652d77 72697465"
    "72000000 00000000 00000030"
)
IDB_BE = H(
    "00000001 0000002c 00000000 00000000 00090001 8a000000 000e0008 00000000 0000000a"
    "00000000 0000002c"
)
EPB_BE = H("00000006 00000024 00000000 00000000 000017ff 00000004 00000004 00000002 00000024")


block, option = pcapng_block, pcapng_option


def shb(order: str = "<", options: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    fixed = struct.pack(order + "IHHq", 0x1A2B3C4D, *version, -1)
    return block(0x0A0D0D0A, fixed + options, order)


def idb(linktype: int = 1, snaplen: int = 0, options: bytes = b"", order: str = "<") -> bytes:
    return block(1, struct.pack(order + "HHI", linktype, 0, snaplen) + options, order)


def epb(
    data: bytes = b"abcd", units: int = 0, if_id: int = 0, order: str = "<", **kw: int
) -> bytes:
    caplen = kw.get("caplen", len(data))
    fixed = struct.pack(
        order + "IIIII", if_id, units >> 32, units & 0xFFFFFFFF, caplen, kw.get("wire", len(data))
    )
    return block(6, fixed + data + bytes(-len(data) % 4) + kw.get("options", b""), order)


def read(data: bytes, reader: object = None):
    """(source, packets) of a whole file given as bytes."""
    source = open_savefile(reader if reader is not None else io.BytesIO(data))
    return source, list(source.packets)


def read_until_error(data: bytes) -> tuple[list, pcapy.SavefileError]:
    """The packets read before the error, and the error (which must come)."""
    packets: list = []
    try:
        source = open_savefile(io.BytesIO(data))
        for packet in source.packets:
            packets.append(packet)
    except pcapy.SavefileError as error:
        return packets, error
    pytest.fail("no SavefileError")


def test_section_header_block_fields():
    source, packets = read(SHB_FULL + idb())
    (section,) = source.file_header.sections
    assert (section.index, section.offset, section.byte_order) == (0, 0, "<")
    assert (section.version, section.section_length) == ((1, 0), -1)
    assert (section.hardware, section.os, section.userappl) == ("x86_64", "Linux", "tcpdump")
    assert section.comments == ("first section",)
    assert section.custom_options == (CustomOption(2988, 32473, b"vendor"),)
    assert section.custom_options[0].text == "vendor" and section.custom_options[0].copyable
    assert [code for code, _ in section.options] == [2, 3, 4, 1, 2988]
    assert packets == []


def test_section_header_block_as_pcapy_writes_it():
    source, _ = read(SHB_PCAPY + idb())
    assert source.file_header.sections[0].userappl == "pcapy"
    assert build_section_header() == SHB_PCAPY


def test_interface_description_block_fields():
    source, _ = read(SHB_PCAPY + IDB_FULL)
    assert (source.dlt, source.snapshot, source.file_format) == (1, 1514, "pcapng")
    (interface,) = source.file_header.interfaces
    assert (interface.id, interface.section, interface.offset) == (0, 0, len(SHB_PCAPY))
    assert (interface.linktype, interface.dlt, interface.snaplen, interface.snapshot) == (
        1,
        1,
        1514,
        1514,
    )
    assert (interface.tsresol, interface.tsoffset) == (10**9, -100)
    assert (interface.name, interface.description) == ("eth0", "uplink")
    assert interface.ipv4_addresses == (("192.0.2.1", "255.255.255.0"),)
    assert interface.ipv6_addresses == (("2001:db8::1", 64),)
    assert interface.mac_address == "00:11:22:33:44:55"
    assert interface.eui_address == "02:11:22:33:44:55:66:77"
    assert (interface.speed, interface.txspeed, interface.rxspeed) == (10**9, 100, 200)
    assert interface.tzone == (60, 60)
    assert interface.filter == (0, b"tcp port 80")
    assert (interface.os, interface.hardware, interface.fcslen) == ("Linux 6.1", "e1000", 4)
    assert interface.iana_tzname == "Europe/Berlin"
    assert interface.comments == ("the uplink",)
    assert interface.custom_options == (CustomOption(19372, 32473, b"local"),)
    assert not interface.custom_options[0].copyable
    assert len(interface.options) == 19
    assert interface.statistics == []


def test_interface_description_block_as_the_writer_copies_it():
    source, _ = read(SHB_PCAPY + IDB_FULL)
    interface = source.file_header.interfaces[0]
    copied = build_interface(
        interface.linktype,
        interface.snaplen,
        copied_interface_options(interface),
        interface.tsresol,
        interface.tsoffset,
    )
    assert copied == IDB_FULL_COPIED


def test_enhanced_packet_block_fields():
    _, [(hdr, data)] = read(SHB_PCAPY + IDB_FULL + EPB_FULL)
    assert isinstance(hdr, PcapngPkthdr)
    # if_tsresol 9 and if_tsoffset -100: 1700000000123456789 ns minus 100 s
    assert tuple(hdr[:4]) == (1699999900, 123456789, 13, 60)
    assert hdr.getts() == (1699999900, 123456) and hdr.getts_ns() == (1699999900, 123456789)
    assert data == bytes(range(0x40, 0x4D))
    assert hdr.interface.name == "eth0"
    options = hdr.options
    assert options.comments == ["a comment"] and hdr.comment == "a comment"
    assert options.flags == 0x0100008D
    assert (options.direction, options.reception_type, options.fcs_length) == (1, 3, 4)
    assert options.hashes == [Hash(2, H("deadbeef"))]
    assert (options.dropcount, options.packet_id, options.queue) == (7, 0x1122334455667788, 3)
    assert options.verdicts == [Verdict(2, struct.pack("<Q", 2), 2), Verdict(0, H("010203"), None)]
    assert (options.process_id, options.thread_id) == (1234, 5678)
    assert options.custom_options == [CustomOption(2989, 32473, H("0001"))]
    assert options.byte_order == "<" and options.from_file
    assert len(options.raw) == 10


def test_enhanced_packet_block_written_again():
    _, [(hdr, data)] = read(SHB_PCAPY + IDB_FULL + EPB_FULL)
    units = 1700000000123456789
    options = encode_options(packet_options(hdr.options), "<")
    assert build_enhanced_packet(0, units, hdr.caplen, hdr.len, data, options) == EPB_FULL


split_blocks = pcapng_split_blocks


def test_a_whole_file_copied_by_the_writer():
    _, [(hdr, data)] = read(SHB_PCAPY + IDB_FULL + EPB_FULL)
    written: list[bytes] = []
    writer = PcapngWriter(written.append, 1, 65535, nanosecond=False)
    writer.write_packet(hdr, data)
    shb, default_idb, idb, epb_written = split_blocks(b"".join(written))
    assert (shb, idb) == (SHB_PCAPY, IDB_FULL_COPIED)
    # the copy is on interface 1 (0 is the dumper's default); everything else is the original
    assert epb_written == EPB_FULL[:8] + struct.pack("<I", 1) + EPB_FULL[12:]


def test_packet_options_built_by_hand_encode_like_the_literal():
    built = PacketOptions(
        comments=["a comment"],
        flags=0x0100008D,
        hashes=[Hash(2, H("deadbeef"))],
        dropcount=7,
        packet_id=0x1122334455667788,
        queue=3,
        verdicts=[Verdict(2, b"", 2), Verdict(0, H("010203"), None)],
        process_id=1234,
        thread_id=5678,
        custom_options=[CustomOption(2989, 32473, H("0001"))],
    )
    _, [(hdr, _data)] = read(SHB_PCAPY + IDB_FULL + EPB_FULL)
    assert built == hdr.options
    assert hash(built) == hash(hdr.options)
    assert encode_options(packet_options(built), "<") == encode_options(
        packet_options(hdr.options), "<"
    )
    assert PacketOptions(flags=1, comments=["x"]) == PacketOptions(comments=["x"], flags=1)
    assert PacketOptions(comments=["x", "y"]) != PacketOptions(comments=["y", "x"])
    assert "comments=['a comment']" in repr(built)


def test_simple_packet_block_takes_the_first_interface_snaplen():
    source, [(hdr, data)] = read(
        SHB_PCAPY + idb(snaplen=10, options=option(14, struct.pack("<q", 7))) + SPB_10
    )
    # caplen = min(len, snaplen of interface 0); no time stamp: 0 units, i.e. if_tsoffset seconds
    assert tuple(hdr[:4]) == (7, 0, 10, 60)
    assert data == bytes(range(0x50, 0x5A))
    assert hdr.options is None and hdr.interface is source.file_header.interfaces[0]


def test_obsolete_packet_block():
    _, [(hdr, data)] = read(SHB_PCAPY + idb() + PB_FULL)
    assert tuple(hdr[:4]) == (0, 1_000_000, 4, 4)  # 1000 microseconds
    assert data == b"ABCD"
    assert hdr.options.flags == 1
    assert hdr.options.hashes == [Hash(3, bytes(16))]
    assert hdr.options.dropcount == 5  # the block's drops count


def test_name_resolution_block():
    source, _ = read(SHB_PCAPY + NRB_FULL + idb())
    (names,) = source.file_header.name_resolution
    assert names.section == 0 and names.offset == len(SHB_PCAPY)
    assert names.records == (
        NameRecord(1, "192.0.2.1", ("host.example", "alias")),
        NameRecord(2, "2001:db8::1", ("v6.example",)),
        NameRecord(3, "00:11:22:33:44:55", ("nic",)),
        NameRecord(4, "00:11:22:33:44:55:66:77", ("eui",)),
    )
    assert (names.dns_name, names.dns_ipv4, names.dns_ipv6) == (
        "ns.example",
        "192.0.2.53",
        "2001:db8::35",
    )
    assert names.comments == ("resolved",)


def test_interface_statistics_block_uses_the_interface_clock():
    source, _ = read(SHB_PCAPY + IDB_FULL + ISB_FULL)
    info = source.file_header
    (stats,) = info.statistics
    assert info.interfaces[0].statistics == [stats]
    assert (stats.interface_id, stats.section) == (0, 0)
    assert stats.timestamp == (1699999900, 123456789)
    assert (stats.starttime, stats.endtime) == ((1699999900, 123456789), (1699999900, 123456790))
    assert (stats.ifrecv, stats.ifdrop, stats.filteraccept, stats.osdrop, stats.usrdeliv) == (
        100,
        1,
        90,
        2,
        88,
    )
    assert stats.comments == ("final",)


def test_decryption_secrets_block():
    source, _ = read(SHB_PCAPY + idb() + DSB_TLS)
    (secrets,) = source.file_header.secrets
    assert secrets.secrets_type == SecretsType.TLS_KEY_LOG
    assert secrets.data == b"CLIENT_RANDOM 00 11\n"
    assert secrets.comments == ("keys",)


def test_custom_blocks_keep_their_data():
    source, _ = read(SHB_PCAPY + CB_COPY + idb() + CB_NO_COPY)
    copy, no_copy = source.file_header.custom_blocks
    assert (copy.block_type, copy.pen, copy.data, copy.copyable) == (
        BlockType.CUSTOM,
        32473,
        b"custom data!",
        True,
    )
    # Only the vendor knows where its data ends: the padding stays in.
    assert (no_copy.pen, no_copy.data, no_copy.copyable) == (32473, b"private\0", False)


def _metadata_records(info: PcapngFileInfo) -> list[object]:
    return [*info.sections, *info.statistics, *info.name_resolution, *info.secrets,
            *info.custom_blocks]


def test_metadata_records_are_decoded_on_first_read_as_if_built_whole():
    # Kept blocks are stored undecoded (issue 12: a flood of them costs a small object each);
    # any field read decodes them all, and the record is then what the constructor builds.
    data = SHB_PCAPY + IDB_FULL + ISB_FULL + NRB_FULL + DSB_TLS + CB_COPY + SHB_PCAPY + idb()
    source, _ = read(data + epb(b"x"))
    records = _metadata_records(source.file_header)
    assert [type(r).__name__ for r in records] == [
        "Section", "Section", "InterfaceStatistics", "NameResolution", "DecryptionSecrets",
        "CustomBlock"]
    assert all("_pending" in vars(r) for r in records)
    names = [dir(r) for r in records]  # the fields, as for any dataclass (not decoding them)
    assert all("_pending" in vars(r) for r in records)
    assert all({f.name for f in dataclasses.fields(r)} <= set(n) for r, n in zip(records, names))
    copies = [pickle.loads(pickle.dumps(r)) for r in records]  # undecoded ones pickle too
    for record, copy in zip(records, copies):
        built = type(record)(**{f.name: getattr(record, f.name) for f in dataclasses.fields(record)})
        assert vars(record).keys() == vars(built).keys()
        assert record == built == copy and hash(record) == hash(built)
        assert repr(record) == repr(built)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        records[0].nothing  # noqa: B018
    assert (pcapy.Section.hardware, pcapy.InterfaceStatistics.comments) == (None, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        records[0].index = 3  # type: ignore[misc]


def test_kept_metadata_blocks_with_broken_options_fail_when_read():
    # A run of Interface Statistics Blocks is kept in one pass; a broken option list in one of
    # them still fails the file there, at that block, after the ones before it were kept.
    isb = block(5, struct.pack("<III", 0, 0, 7))
    broken = block(5, struct.pack("<III", 0, 0, 7) + struct.pack("<HH", 1, 99))
    data = SHB_PCAPY + idb() + isb * 5 + broken + epb(b"x")
    reader = pcapy.open_offline(io.BytesIO(data))
    with pytest.raises(pcapy.MalformedSavefileError, match="is too short") as error:
        reader.next()
    assert error.value.offset == len(SHB_PCAPY + idb() + isb * 5) + 20
    assert len(reader.file_header.statistics) == 5


@pytest.mark.parametrize("block_type", [7, 8, 9, 0x101, 0x213, 0x80000001, 0x0A0D0A00, 0xFFFFFFFF])
def test_unknown_and_local_blocks_are_skipped_and_counted(block_type):
    source, packets = read(SHB_PCAPY + idb() + block(block_type, b"\xff" * 9) + epb(b"x"))
    assert source.file_header.skipped_blocks == {block_type: 1}
    assert [data for _, data in packets] == [b"x"]


def expected_time(units: int, resolution: int, offset: int) -> tuple[int, int]:
    """Exact (seconds, nanoseconds) by rational arithmetic, truncated to nanoseconds."""
    seconds = Fraction(units, resolution)
    whole = seconds.numerator // seconds.denominator
    return whole + offset, int((seconds - whole) * 10**9)


@pytest.mark.parametrize(
    ("tsresol", "resolution"),
    [
        (0, 1),
        (3, 10**3),
        (6, 10**6),
        (9, 10**9),
        (12, 10**12),
        (19, 10**19),
        (0x80, 1),
        (0x8A, 2**10),
        (0x9E, 2**30),
        (0xA8, 2**40),
        (0xBF, 2**63),
    ],
)
@pytest.mark.parametrize("offset", [0, 3600, -1_000])
def test_time_stamp_resolutions_and_offsets(tsresol, resolution, offset):
    units = [
        t for t in (0, 1, resolution - 1, 5 * resolution + resolution // 3, 2**64 - 1) if t < 2**64
    ]
    options = option(9, bytes([tsresol])) + (
        option(14, struct.pack("<q", offset)) if offset else b""
    )
    data = SHB_PCAPY + idb(options=options) + b"".join(epb(b"", t) for t in units)
    _, packets = read(data)
    assert [hdr.getts_ns() for hdr, _ in packets] == [
        expected_time(t, resolution, offset) for t in units
    ]


def test_libpcap_binary_overflow_is_not_copied():
    # libpcap computes (frac * 10^9) mod 2^64 for 2^-40 and prints 5.010144255 here
    t = 5 * 2**40 + 2**40 - 1
    _, [(hdr, _)] = read(SHB_PCAPY + idb(options=option(9, b"\xa8")) + epb(b"", t))
    assert hdr.getts_ns() == (5, 999999999)


def test_sections_with_their_own_byte_order_and_interfaces():
    le_section = SHB_PCAPY + idb(linktype=1) + epb(b"le1", 1_000_001)
    be_section = SHB_BE + IDB_BE + EPB_BE
    source, packets = read(le_section + be_section + le_section)
    info = source.file_header
    assert [s.byte_order for s in info.sections] == ["<", ">", "<"]
    assert info.sections[1].userappl == "be-writer"
    assert [(i.section, i.id, i.linktype) for i in info.interfaces] == [
        (0, 0, 1),
        (1, 0, 0),
        (2, 0, 1),
    ]
    assert [i.tsresol for i in info.interfaces] == [10**6, 2**10, 10**6]
    assert [hdr.interface.section for hdr, _ in packets] == [0, 1, 2]
    # 2^-10 units, if_tsoffset 10: 5 + 1023/1024 s + 10 s
    assert [hdr.getts_ns() for hdr, _ in packets] == [(1, 1000), (15, 999023437), (1, 1000)]
    assert [data for _, data in packets] == [b"le1", b"\0\0\0\x02", b"le1"]
    assert source.dlt == 1  # the first interface's


def test_interfaces_with_other_link_types_and_snaplens_are_read_to_the_end():
    data = (
        SHB_PCAPY
        + idb(1, 96)
        + epb(b"a" * 96)
        + idb(0, 128)
        + epb(b"b" * 128, if_id=1)
        + epb(b"c", if_id=0)
    )
    source, packets = read(data)
    assert [(hdr.interface.linktype, hdr.caplen) for hdr, _ in packets] == [
        (1, 96),
        (0, 128),
        (1, 1),
    ]
    assert (source.dlt, source.snapshot) == (1, 96)




@pytest.mark.parametrize("step", [1, 3, 7, 64, 100])
def test_chunk_boundaries_anywhere_give_the_same_packets(step):
    data = (
        SHB_FULL
        + IDB_FULL
        + EPB_FULL
        + NRB_FULL
        + ISB_FULL
        + EPB_FULL
        + CB_COPY
        + SHB_BE
        + IDB_BE
        + EPB_BE
        + EPB_BE
    )
    whole_source, whole = read(data)
    source, trickled = read(data, Trickle(data, step))
    assert [(tuple(h[:4]), h.options, d) for h, d in trickled] == [
        (tuple(h[:4]), h.options, d) for h, d in whole
    ]
    assert len(source.file_header.interfaces) == 2


def test_valid_blocks_bigger_than_a_read_chunk():
    big = bytes(range(256)) * 4096  # 1 MiB: four read chunks
    data = SHB_PCAPY + idb(linktype=231) + epb(big) + block(0xBAD, bytes(16 * 1024 * 1024 - 12))
    source, [(hdr, payload)] = read(data)  # DLT_DBUS: packets up to 128 MiB
    assert (hdr.caplen, payload) == (len(big), big)
    assert len(source.file_header.custom_blocks[0].data) == 16 * 1024 * 1024 - 16


def test_a_block_of_exactly_16_mib_is_accepted_and_one_more_word_is_not():
    _, packets = read(SHB_PCAPY + idb() + block(0xBAD, bytes(16 * 1024 * 1024 - 12)))
    assert packets == []
    _, error = read_until_error(SHB_PCAPY + idb() + block(0xBAD, bytes(16 * 1024 * 1024 - 8)))
    assert str(error) == "pcapng block size 16777220 > maximum 16777216"
    assert error.offset == len(SHB_PCAPY) + 20


@pytest.mark.untraced  # a memory budget: tracemalloc would count coverage's own allocations
def test_a_hostile_block_length_allocates_nothing():
    data = SHB_PCAPY + idb() + struct.pack("<II", 6, 0xFFFFFFF0) + bytes(64)
    read_until_error(data)  # the engine's modules and record loops, made once, are not counted
    tracemalloc.start()
    try:
        _, error = read_until_error(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "pcapng block size 4294967280 > maximum 16777216" in str(error)
    assert peak < 1024 * 1024


def test_packet_options_are_decoded_on_demand():
    bad_options = option(1, b"ok") + struct.pack("<HH", 1, 200)  # the second runs past the block
    data = SHB_PCAPY + idb() + epb(b"abcd", options=bad_options)
    _, [(hdr, payload)] = read(data)  # the packet itself is fine, as libpcap says
    assert payload == b"abcd"
    with pytest.raises(
        pcapy.MalformedSavefileError, match="block of type 6 in pcapng dump file is too short"
    ):
        _ = hdr.options.comments


SHB_LEN = len(SHB_PCAPY)
IDB_LEN = len(idb())


@pytest.mark.parametrize(
    ("data", "error_class", "message", "offset", "packets"),
    [
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00", pcapy.UnknownFormatError, "unknown file format", 0, 0),
        (
            SHB_PCAPY[:8] + b"\x1a\x2b\x3c\x4c" + SHB_PCAPY[12:],
            pcapy.UnknownFormatError,
            "unknown file format",
            0,
            0,
        ),
        (
            shb(version=(2, 0)) + idb(),
            pcapy.UnsupportedVersionError,
            "unsupported pcapng savefile version 2.0",
            0,
            0,
        ),
        (
            shb(version=(1, 1)) + idb(),
            pcapy.UnsupportedVersionError,
            "unsupported pcapng savefile version 1.1",
            0,
            0,
        ),
        (
            SHB_PCAPY[:20],
            pcapy.TruncatedSavefileError,
            "truncated pcapng dump file; tried to read 32 bytes, only got 8",
            0,
            0,
        ),
        (
            SHB_PCAPY[:4] + struct.pack("<I", 46) + SHB_PCAPY[8:] + b"\0\0",
            pcapy.MalformedSavefileError,
            "block in pcapng dump file has a length of 46 that is not a multiple of 4",
            0,
            0,
        ),
        (
            SHB_PCAPY[:-4] + struct.pack("<I", 40) + idb(),
            pcapy.MalformedSavefileError,
            "block total length in header 44 and trailer 40 don't match",
            0,
            0,
        ),
        (
            SHB_PCAPY,
            pcapy.MalformedSavefileError,
            "the capture file has no Interface Description Blocks",
            SHB_LEN,
            0,
        ),
        (
            SHB_PCAPY + epb() + idb(),
            pcapy.MalformedSavefileError,
            "the capture file has a packet block before any Interface Description Blocks",
            SHB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + epb() + epb()[:30],
            pcapy.TruncatedSavefileError,
            "truncated pcapng dump file; tried to read 28 bytes, only got 22",
            SHB_LEN + IDB_LEN + 36,
            1,
        ),
        (
            SHB_PCAPY + idb() + epb() + b"\x06\x00\x00",
            pcapy.TruncatedSavefileError,
            "truncated pcapng dump file; tried to read 8 bytes, only got 3",
            SHB_LEN + IDB_LEN + 36,
            1,
        ),
        (
            SHB_PCAPY + idb() + struct.pack("<II", 6, 8),
            pcapy.MalformedSavefileError,
            "block in pcapng dump file has a length of 8 < 12",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + epb()[:-4] + b"\0\0\0\0",
            pcapy.MalformedSavefileError,
            "block total length in header 36 and trailer 0 don't match",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + block(6, bytes(16)),
            pcapy.MalformedSavefileError,
            "block of type 6 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + epb(b"abcd", caplen=9),
            pcapy.MalformedSavefileError,
            "block of type 6 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb(snaplen=3) + epb(b"abcd"),
            pcapy.MalformedSavefileError,
            "invalid packet capture length 4, bigger than snaplen of 3",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + epb(if_id=1),
            pcapy.MalformedSavefileError,
            "a packet arrived on interface 1, but there's no Interface Description Block for that interface",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + shb() + block(3, struct.pack("<I", 4) + b"abcd"),
            pcapy.MalformedSavefileError,
            "a packet arrived on interface 0, but there's no Interface Description Block for that interface",
            SHB_LEN + IDB_LEN + len(shb()),
            0,
        ),
        (
            SHB_PCAPY + idb(snaplen=10) + block(3, struct.pack("<I", 60) + b"abcd"),
            pcapy.MalformedSavefileError,
            "block of type 3 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + block(5, struct.pack("<III", 1, 0, 0)),
            pcapy.MalformedSavefileError,
            "an Interface Statistics Block refers to interface 1, but there's no Interface Description Block "
            "for that interface",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + shb(version=(2, 0)),
            pcapy.UnsupportedVersionError,
            "unknown pcapng savefile major version number 2",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + SHB_PCAPY[:8] + b"\xde\xad\xbe\xef" + SHB_PCAPY[12:],
            pcapy.MalformedSavefileError,
            "the file has a section with a bad byte order magic field",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + block(0x0A0D0D0A, b"\x4d\x3c\x2b\x1a\x01\x00\x00\x00"),
            pcapy.MalformedSavefileError,
            "block of type 168627466 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + block(4, option(1, b"1.2.3.4") + struct.pack("<HH", 1, 99)),
            pcapy.MalformedSavefileError,
            "block of type 4 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + block(10, struct.pack("<II", 1, 99) + b"key"),
            pcapy.MalformedSavefileError,
            "block of type 10 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            SHB_PCAPY + idb() + block(0xBAD, b""),
            pcapy.MalformedSavefileError,
            "block of type 2989 in pcapng dump file is too short",
            SHB_LEN + IDB_LEN,
            0,
        ),
        (
            shb(options=struct.pack("<HH", 2, 40)) + idb(),
            pcapy.MalformedSavefileError,
            "block of type 168627466 in pcapng dump file is too short",
            24,
            0,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_broken_files_raise_with_libpcap_message_and_offset(
    data, error_class, message, offset, packets
):
    got, error = read_until_error(data)
    assert type(error) is error_class
    assert str(error) == message
    assert error.offset == offset
    assert len(got) == packets


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            option(9, b"\x06\x06"),
            "Interface Description Block has if_tsresol option with length 2 != 1",
        ),
        (
            option(9, b"\x06") + option(9, b"\x09"),
            "Interface Description Block has more than one if_tsresol option",
        ),
        (
            option(9, b"\x14"),
            "Interface Description Block if_tsresol option resolution 10^-20 is too high",
        ),
        (
            option(9, b"\xc0"),
            "Interface Description Block if_tsresol option resolution 2^-64 is too high",
        ),
        (
            option(14, b"\0" * 4),
            "Interface Description Block has if_tsoffset option with length 4 != 8",
        ),
        (
            option(14, bytes(8)) * 2,
            "Interface Description Block has more than one if_tsoffset option",
        ),
        (
            struct.pack("<HH", 0, 4) + bytes(4),
            "Interface Description Block has opt_endofopt option with length 4 != 0",
        ),
        (struct.pack("<HH", 2, 9) + b"eth0", "block of type 1 in pcapng dump file is too short"),
    ],
)
def test_interface_option_errors_are_libpcap_s(options, message):
    bad = block(1, struct.pack("<HHI", 1, 0, 0) + options)
    _, error = read_until_error(SHB_PCAPY + bad)
    assert isinstance(error, pcapy.MalformedSavefileError)
    assert str(error).startswith(message)
    # The same block after a good interface and a packet (read by the pass over metadata
    # blocks, not by open()): the same error at the same place in the block.
    before = SHB_PCAPY + idb() + epb(b"x") + idb(options=option(2, b"eth1"))
    packets, later = read_until_error(before + bad)
    assert (type(later), str(later), len(packets)) == (type(error), str(error), 1)
    assert later.offset == error.offset + len(before) - len(SHB_PCAPY)


def test_options_after_opt_endofopt_are_ignored_and_bad_lengths_left_undecoded():
    options = (
        option(6, b"\x00\x11")
        + option(8, b"\x01")
        + option(2, b"eth1")
        + struct.pack("<HH", 0, 0)
        + b"junk"
    )
    source, _ = read(SHB_PCAPY + idb(options=options))
    interface = source.file_header.interfaces[0]
    # if_MACaddr and if_speed have the wrong lengths: kept raw, not decoded
    assert (interface.mac_address, interface.speed, interface.name) == (None, None, "eth1")
    assert [code for code, _ in interface.options] == [6, 8, 2]


RICH_FILE = (
    SHB_FULL
    + IDB_FULL
    + EPB_FULL
    + NRB_FULL
    + ISB_FULL
    + DSB_TLS
    + CB_COPY
    + PB_FULL
    + SHB_BE
    + IDB_BE
    + EPB_BE
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(RICH_FILE) - 1), st.integers(0, 255)), min_size=1, max_size=6
    ),
    st.integers(0, len(RICH_FILE)),
)
def test_damaged_files_raise_only_savefile_errors(changes, cut):
    data = bytearray(RICH_FILE)
    for position, value in changes:
        data[position] = value
    try:
        source = open_savefile(io.BytesIO(bytes(data[:cut])))
        for hdr, payload in source.packets:
            assert len(payload) == hdr.caplen
            if hdr.options is not None:
                with contextlib.suppress(pcapy.SavefileError):
                    repr(hdr.options)
    except pcapy.SavefileError:
        pass


def longer_than(size: int, linktype: int = 1) -> pcapy.BPFProgram:
    """A filter built without libpcap: accept packets whose wire length exceeds ``size``."""
    program = [(0x80, 0, 0, 0), (0x25, 0, 1, size), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]
    return pcapy.BPFProgram.from_instructions(program, linktype)


def filtered(data: bytes, program: pcapy.BPFProgram, before: int = 0) -> list:
    reader = pcapy.open_offline(io.BytesIO(data))
    taken = [reader.next()[1] for _ in range(before)]
    reader.setfilter(program)
    return taken + [payload for _, payload in reader]


def test_filters_run_on_fast_and_slow_paths():
    lengths = [10, 200, 50, 300, 99, 101]
    le_file = SHB_PCAPY + idb() + b"".join(epb(bytes([n % 256]) * n) for n in lengths)
    assert [len(d) for d in filtered(le_file, longer_than(100))] == [200, 300, 101]
    be_file = (
        shb(">") + idb(order=">") + b"".join(epb(bytes([n % 256]) * n, order=">") for n in lengths)
    )
    assert [len(d) for d in filtered(be_file, longer_than(100))] == [200, 300, 101]


def test_a_filter_set_midway_starts_at_the_next_packet():
    lengths = [10, 200, 50, 300, 99, 101]
    data = SHB_PCAPY + idb() + b"".join(epb(bytes([n % 256]) * n) for n in lengths)
    for before in range(len(lengths) + 1):
        got = [len(d) for d in filtered(data, longer_than(100), before)]
        assert got == lengths[:before] + [n for n in lengths[before:] if n > 100]


def test_a_filter_does_not_match_packets_of_another_link_type():
    data = (
        SHB_PCAPY + idb(1) + idb(0) + epb(b"e" * 200) + epb(b"n" * 200, if_id=1) + epb(b"e" * 300)
    )
    assert [d[:1] for d in filtered(data, longer_than(100, linktype=1))] == [b"e", b"e"]


@pytest.mark.libpcap
@pytest.mark.parametrize(
    "name", ["of13_ericsson.pcapng", "pcapng-example.pcapng", "dhcp-option-108.pcapng"]
)
def test_filter_expressions_match_tcpdump(name):
    import shutil
    import subprocess
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "pcapng" / name
    if not path.is_file():
        pytest.skip("no corpus")
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed")
    try:
        reader = pcapy.open_offline(str(path))
        reader.setfilter("tcp or udp port 67")
    except pcapy.LibpcapNotFoundError as err:
        pytest.skip(f"libpcap cannot be loaded: {err}")
    ours = [hdr.interface.dlt for hdr, _ in reader]
    command = ["tcpdump", "-r", str(path), "-n", "-q", "-tt", "tcp or udp port 67"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # one line per packet (one time stamp after 2038 reads "[Error converting time]")
    theirs = sum(1 for line in result.stdout.splitlines() if line[:1] not in ("", " ", "\t"))
    if name == "pcapng-example.pcapng":
        # libpcap stops at the second interface (LINUX_SLL); pcapy reads on and filters its
        # packets with the expression compiled for LINUX_SLL (test_pcapng_link_types.py
        # compares those with tcpdump's): here, the first interface's packets
        assert "different from the type of the first interface" in result.stderr
        assert len(set(ours)) == 2
        ours = [dlt for dlt in ours if dlt == pcapy.DLT_EN10MB]
    assert len(ours) == theirs


def numbered_file(count: int, broken_after: Optional[int] = None) -> bytes:
    blocks = [epb(bytes([n]) * 4, units=n) for n in range(count)]
    if broken_after is not None:
        blocks[broken_after] = blocks[broken_after][:-4] + b"\0\0\0\0"  # a trailer that lies
    return SHB_PCAPY + idb() + b"".join(blocks)


def test_loop_and_dispatch_run_in_the_engine_and_keep_the_position():
    reader = pcapy.open_offline(io.BytesIO(numbered_file(10)))
    seen = []
    reader.loop(3, lambda hdr, data: seen.append(data[0]))
    assert seen == [0, 1, 2]
    assert reader.next()[1][0] == 3
    assert reader.dispatch(2, lambda hdr, data: seen.append(data[0])) == 2
    assert seen[3:] == [4, 5]

    def stop_at_7(hdr, data):
        seen.append(data[0])
        if data[0] == 7:
            reader.breakloop()

    reader.loop(-1, stop_at_7)
    assert seen[5:] == [6, 7]
    assert [data[0] for _, data in reader] == [8, 9]


def test_a_callback_exception_leaves_the_reader_at_the_next_packet():
    reader = pcapy.open_offline(io.BytesIO(numbered_file(5)))

    def fail_on_2(hdr, data):
        if data[0] == 2:
            raise KeyError("boom")

    with pytest.raises(KeyError):
        reader.loop(-1, fail_on_2)
    assert reader.next()[1][0] == 3


def test_loop_with_a_filter():
    reader = pcapy.open_offline(
        io.BytesIO(SHB_PCAPY + idb() + b"".join(epb(b"x" * n) for n in (5, 150, 7, 200)))
    )
    reader.setfilter(longer_than(100))
    seen = []
    reader.loop(-1, lambda hdr, data: seen.append(len(data)))
    assert seen == [150, 200]


def test_a_broken_file_stays_broken():
    reader = pcapy.open_offline(io.BytesIO(numbered_file(6, broken_after=3)))
    seen = []
    with pytest.raises(pcapy.MalformedSavefileError, match="trailer 0 don't match") as first:
        reader.loop(-1, lambda hdr, data: seen.append(data[0]))
    assert seen == [0, 1, 2]
    with pytest.raises(pcapy.MalformedSavefileError) as again:
        reader.loop(-1, lambda hdr, data: seen.append(data[0]))
    assert type(again.value) is type(first.value) and str(again.value) == str(first.value)
    assert seen == [0, 1, 2]
