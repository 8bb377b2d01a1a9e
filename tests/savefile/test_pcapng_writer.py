"""PcapngWriter: blocks written, interfaces mapped, options kept, lengths corrected."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import pcapy
from helpers import pcapng_block, pcapng_split_blocks
from pcapy._savefile import open_savefile
from pcapy._savefile._pcapng_types import CustomOption, PacketOptions
from pcapy._savefile._pcapng_writer import PcapngWriter

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()

SHB_PCAPY = bytes.fromhex(
    "0a0d0d0a 2c000000 4d3c2b1a 01000000 ffffffff ffffffff 04000500 70636170 79000000"
    "00000000 2c000000"
)
# IDB: EN10MB, snaplen 65535, if_tsresol 6 / 9, opt_endofopt
IDB_USEC = bytes.fromhex("01000000 20000000 01000000 ffff0000 09000100 06000000 00000000 20000000")
IDB_NSEC = bytes.fromhex("01000000 20000000 01000000 ffff0000 09000100 09000000 00000000 20000000")


class Recorder:
    """A ``write`` that keeps each call's bytes."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.calls.append(bytes(data))

    @property
    def data(self) -> bytes:
        return b"".join(self.calls)

    @property
    def blocks(self) -> list[bytes]:
        """Every block written, whichever call wrote it (the writer is little-endian)."""
        return split_blocks(self.data)


split_blocks = pcapng_split_blocks


def read_back(data: bytes):
    source = open_savefile(io.BytesIO(data))
    return source, list(source.packets)


def test_a_new_file_is_the_section_header_and_the_default_interface():
    write = Recorder()
    PcapngWriter(write, 1, 65535, nanosecond=False)
    assert write.blocks == [SHB_PCAPY, IDB_USEC]
    assert len(write.calls) == 1  # one write: a file that exists is readable
    source, packets = read_back(write.data)
    assert (source.dlt, source.snapshot, packets) == (1, 65535, [])
    PcapngWriter(write := Recorder(), 1, 65535, nanosecond=True)
    assert write.blocks == [SHB_PCAPY, IDB_NSEC]


def test_one_write_per_packet():
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=False)
    writer.write_packet(pcapy.Pkthdr(1700000000, 123456, 3, 60), b"abc")
    assert write.calls[1] == bytes.fromhex(
        # EPB: interface 0, 1700000000123456 us = 0x00060a24 18202240, caplen 3, len 60
        "06000000 24000000 00000000 240a0600 40222018 03000000 3c000000 61626300 24000000"
    )
    assert len(write.calls) == 2


@pytest.mark.parametrize("nanosecond", [False, True], ids=["usec", "nsec"])
def test_the_fast_path_writes_what_the_careful_path_writes(nanosecond):
    fast, careful = Recorder(), Recorder()
    fast_writer = PcapngWriter(fast, 1, 65535, nanosecond=nanosecond)
    careful_writer = PcapngWriter(careful, 1, 65535, nanosecond=nanosecond)
    kind = {"nsec": 999_999_999} if nanosecond else {"usec": 999_999}
    headers = [pcapy.Pkthdr(sec, caplen=caplen, len=caplen + extra, **kind)
               for sec in (0, 1, 1_700_000_000, 2**32 + 5) for caplen in range(9)
               for extra in (0, 1000)]
    for hdr in headers:
        data = bytes(range(hdr.caplen))
        fast_writer.write_packet(hdr, data)
        careful_writer._write_packet(hdr, data)  # the general path, as other headers take
    assert fast.calls == careful.calls
    _, packets = read_back(fast.data)
    assert [hdr for hdr, _ in packets] == headers


def test_a_time_too_large_for_the_fast_path_is_still_refused():
    writer = PcapngWriter(Recorder(), 1, 65535, nanosecond=True)
    with pytest.raises(pcapy.PcapError, match="does not fit a pcapng block"):
        writer.write_packet(pcapy.Pkthdr(2**64 - 1, caplen=1, len=1, nsec=0), b"x")


def test_microsecond_headers_are_written_exactly():
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=False)
    headers = [
        pcapy.Pkthdr(0, 0, 1, 1),
        pcapy.Pkthdr(1700000000, 999999, 2, 9),
        pcapy.Pkthdr(2**33, 1, 0, 0),
    ]
    for hdr in headers:
        writer.write_packet(hdr, b"xy"[: hdr.caplen])
    _, packets = read_back(write.data)
    assert [hdr.getts() for hdr, _ in packets] == [h.getts() for h in headers]
    assert [hdr.getts_ns() for hdr, _ in packets] == [h.getts_ns() for h in headers]
    assert [(hdr.caplen, hdr.len, data) for hdr, data in packets] == [
        (1, 1, b"x"),
        (2, 9, b"xy"),
        (0, 0, b""),
    ]


def test_a_nanosecond_header_in_a_microsecond_file_gets_a_nanosecond_interface():
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=False)
    writer.write_packet(pcapy.Pkthdr(5, 7, 1, 1), b"a")
    writer.write_packet(pcapy.Pkthdr(5, nsec=123456789, caplen=1, len=1), b"b")
    writer.write_packet(pcapy.Pkthdr(6, nsec=1, caplen=1, len=1), b"c")
    assert write.blocks[3] == IDB_NSEC  # written the first time it is needed, once
    assert split_blocks(write.calls[2])[0] == IDB_NSEC  # in one write with its first packet
    source, packets = read_back(write.data)
    assert [hdr.getts_ns() for hdr, _ in packets] == [(5, 7000), (5, 123456789), (6, 1)]
    assert [hdr.interface.id for hdr, _ in packets] == [0, 1, 1]
    assert [i.tsresol for i in source.file_header.interfaces] == [10**6, 10**9]


def test_microsecond_headers_in_a_nanosecond_file():
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=True)
    writer.write_packet(pcapy.Pkthdr(5, 7, 1, 1), b"a")
    _, [(hdr, _)] = read_back(write.data)
    assert hdr.getts_ns() == (5, 7000) and hdr.interface.id == 0


def test_short_data_corrects_caplen_and_long_data_is_cut():
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=False)
    writer.write_packet(pcapy.Pkthdr(1, 0, 10, 100), b"short")
    writer.write_packet(pcapy.Pkthdr(1, 0, 3, 100), memoryview(b"longer"))
    _, packets = read_back(write.data)
    assert [(hdr.caplen, hdr.len, data) for hdr, data in packets] == [
        (5, 100, b"short"),
        (3, 100, b"lon"),
    ]


def multi_interface_file() -> bytes:
    """Two interfaces with other link types, names and resolutions, big-endian, with options."""

    def block(block_type: int, body: bytes) -> bytes:
        return pcapng_block(block_type, body, ">")

    def option(code: int, value: bytes) -> bytes:
        return struct.pack(">HH", code, len(value)) + value + bytes(-len(value) % 4)

    def epb(if_id: int, units: int, data: bytes, options: bytes = b"") -> bytes:
        fixed = struct.pack(
            ">IIIII", if_id, units >> 32, units & 0xFFFFFFFF, len(data), len(data) + 4
        )
        return block(6, fixed + data + bytes(-len(data) % 4) + options)

    out = block(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(
        1, struct.pack(">HHI", 1, 0, 0) + option(2, b"eth0") + option(8, struct.pack(">Q", 10**9))
    )
    out += block(
        1,
        struct.pack(">HHI", 113, 0, 128)
        + option(2, b"any")
        + option(9, b"\x03")
        + option(14, struct.pack(">q", 1000)),
    )
    packet_options = (
        option(1, b"first")
        + option(2, struct.pack(">I", 1))
        + option(4, struct.pack(">Q", 3))
        + option(2989, struct.pack(">I", 9) + b"\x01\x02")
        + option(19373, struct.pack(">I", 9) + b"x")
    )
    out += epb(0, 1_700_000_000_000_001, b"one", packet_options + option(0, b""))
    out += epb(1, 1_700_000_000_123, b"two")
    out += epb(0, 1_700_000_001_000_000, b"three")
    return out


def test_pcapng_packets_keep_their_interfaces_and_options():
    _, originals = read_back(multi_interface_file())
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=False)
    for hdr, data in originals:
        writer.write_packet(hdr, data)
    source, copies = read_back(write.data)
    interfaces = source.file_header.interfaces
    # the default interface, then each source interface the first time a packet used it
    # ... with its own clock: the same if_tsresol and if_tsoffset
    assert [(i.linktype, i.snaplen, i.name, i.tsresol, i.tsoffset) for i in interfaces] == [
        (1, 65535, None, 10**6, 0),
        (1, 0, "eth0", 10**6, 0),
        (113, 128, "any", 10**3, 1000),
    ]
    assert interfaces[1].speed == 10**9  # converted from big-endian
    assert [hdr.interface.id for hdr, _ in copies] == [1, 2, 1]
    assert [(hdr.getts_ns(), data) for hdr, data in copies] == [
        (hdr.getts_ns(), data) for hdr, data in originals
    ]
    assert copies[1][0].getts_ns() == (1_700_001_000, 123_000_000)  # if_tsoffset applied
    first = copies[0][0].options
    assert (first.comments, first.flags, first.dropcount) == (["first"], 1, 3)
    # the do-not-copy custom option stays behind (spec: copy semantics)
    assert first.custom_options == [CustomOption(2989, 9, b"\x01\x02")]
    assert originals[0][0].options.custom_options[1].code == 19373


def test_options_built_by_hand_are_written_in_full():
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=True)
    options = PacketOptions(
        comments=["hand made"], flags=2, custom_options=[CustomOption(19372, 7, b"keep")]
    )
    writer.write_packet(tuple.__new__(pcapy.PcapngPkthdr, (1, 5, 1, 1, None, options)), b"z")
    _, [(copy, data)] = read_back(write.data)
    assert copy.options == options and data == b"z"
    assert copy.options.custom_options[0].text == "keep"


def test_time_stamps_that_do_not_fit_are_refused():
    writer = PcapngWriter(Recorder(), 1, 65535, nanosecond=True)
    with pytest.raises(pcapy.PcapError, match="does not fit a pcapng block"):
        writer.write_packet(pcapy.Pkthdr(2**40, 0, 0, 0), b"")
    negative = tuple.__new__(pcapy.PcapngPkthdr, (-5, 0, 0, 0, None, None))
    with pytest.raises(pcapy.PcapError, match="does not fit a pcapng block"):
        writer.write_packet(negative, b"")


def test_link_types_without_a_linktype_value_are_refused():
    with pytest.raises(ValueError, match="no LINKTYPE_ value"):
        PcapngWriter(Recorder(), 13, 65535, nanosecond=False)


def test_the_dumper_writes_pcapng_by_suffix_or_by_request(tmp_path):
    for path, fmt in ((tmp_path / "a.pcapng", None), (tmp_path / "b.cap", "pcapng")):
        with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 1500, format=fmt) as dumper:
            assert dumper.file_format == "pcapng"
            dumper.dump(pcapy.Pkthdr(1, 2, 3, 4), b"abc")
        reader = pcapy.open_offline(str(path))
        assert [(hdr.getts(), data) for hdr, data in reader] == [((1, 2), b"abc")]
        assert reader.snapshot() == 1500


def test_reader_dump_open_converts_a_whole_corpus_file(tmp_path):
    source = CORPUS / "pcapng" / "pcapng-example.pcapng"
    if not source.is_file():
        pytest.skip(f"no corpus at {CORPUS}")
    reader = pcapy.open_offline(str(source))
    originals = list(reader)
    with reader.dump_open(str(tmp_path / "copy.pcapng")) as dumper:
        for hdr, data in originals:
            dumper.dump(hdr, data)
    copy = pcapy.open_offline(str(tmp_path / "copy.pcapng"))
    copies = list(copy)
    assert [(h.getts_ns(), h.caplen, h.len, d) for h, d in copies] == [
        (h.getts_ns(), h.caplen, h.len, d) for h, d in originals
    ]
    assert [h.comment for h, _ in copies] == [h.comment for h, _ in originals]
    assert [h.interface.linktype for h, _ in copies] == [h.interface.linktype for h, _ in originals]


def test_tshark_reads_comments_and_interface_names(tmp_path):
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed")
    path = tmp_path / "commented.pcapng"
    _, originals = read_back(multi_interface_file())
    with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 65535) as dumper:
        for hdr, data in originals:
            dumper.dump(hdr, data)
    fields = ["frame.comment", "frame.interface_name", "frame.time_epoch", "frame.cap_len"]
    command = [tshark, "-r", str(path), "-T", "fields", "-E", "separator=|"]
    command += [arg for name in fields for arg in ("-e", name)]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines == [
        "first|eth0|1700000000.000001000|3",
        "|any|1700001000.123000000|3",
        "|eth0|1700000001.000000000|5",
    ]


def test_a_time_finer_than_its_interface_goes_on_a_nanosecond_twin():
    _, originals = read_back(multi_interface_file())
    hdr, data = originals[1]  # interface "any": milliseconds, if_tsoffset 1000
    finer = tuple.__new__(pcapy.PcapngPkthdr, (hdr[0], 123456789, *hdr[2:]))
    write = Recorder()
    writer = PcapngWriter(write, 1, 65535, nanosecond=False)
    for header in (hdr, finer, hdr):
        writer.write_packet(header, data)
    source, copies = read_back(write.data)
    assert [h.getts_ns() for h, _ in copies] == [hdr.getts_ns(), finer.getts_ns(), hdr.getts_ns()]
    assert [h.interface.id for h, _ in copies] == [1, 2, 1]
    twin = source.file_header.interfaces[2]
    assert (twin.name, twin.linktype, twin.tsresol, twin.tsoffset) == ("any", 113, 10**9, 1000)
