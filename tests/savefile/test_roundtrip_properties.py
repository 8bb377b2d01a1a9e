"""Round trips: random packets written in every format through ``pcapy.Dumper`` read back the same.

Formats: classic pcap with microsecond and with nanosecond time stamps, and pcapng (microsecond
and nanosecond default interface). Every file is read back through ``pcapy.open_offline``;
tcpdump and tshark must read the same packets from it too. Gzip-compressed copies of corpus
files open like the originals.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pcapy
from pcapy._savefile import open_savefile

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()

# (Dumper format, precision): how each format is written
FORMATS = {
    "pcap-usec": ("pcap", "micro"),
    "pcap-nsec": ("pcap", "nano"),
    "pcapng-usec": ("pcapng", "micro"),
    "pcapng-nsec": ("pcapng", "nano"),
}


@st.composite
def packets(
    draw: st.DrawFn, nanosecond: bool, max_seconds: int = 2**32 - 1, for_tools: bool = False
):
    """A list of (Pkthdr, data): any time stamp the format holds, caplen = len(data).

    ``for_tools``: what tcpdump and tshark print one line for (an Ethernet header's worth of
    data at least, len >= caplen).
    """
    count = draw(st.integers(0, 12))
    result = []
    wire_at_least_caplen = for_tools
    for _ in range(count):
        data = draw(st.binary(min_size=14 if for_tools else 0, max_size=80))
        low = len(data) if wire_at_least_caplen else 0
        wire = draw(st.integers(low, 0xFFFF))
        seconds = draw(st.integers(0, max_seconds))
        if nanosecond and draw(st.booleans()):
            hdr = pcapy.Pkthdr(
                seconds, nsec=draw(st.integers(0, 999_999_999)), caplen=len(data), len=wire
            )
        else:
            hdr = pcapy.Pkthdr(seconds, draw(st.integers(0, 999_999)), len(data), wire)
        result.append((hdr, data))
    return result


def write(path: Path, name: str, written: list) -> None:
    file_format, precision = FORMATS[name]
    with pcapy.Dumper(
        str(path), pcapy.DLT_EN10MB, 65535, format=file_format, precision=precision
    ) as dumper:
        for hdr, data in written:
            dumper.dump(hdr, data)


def read_back(path: Path) -> list:
    reader = pcapy.open_offline(str(path))
    try:
        return [(hdr.getts_ns(), hdr.caplen, hdr.len, data) for hdr, data in reader]
    finally:
        reader.close()


def expected(written: list) -> list:
    return [(hdr.getts_ns(), hdr.caplen, hdr.len, data) for hdr, data in written]


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("name", sorted(FORMATS))
@SETTINGS
@given(data=st.data())
def test_written_packets_read_back_identically(tmp_path: Path, name: str, data: st.DataObject):
    nanosecond = FORMATS[name][1] == "nano" or FORMATS[name][0] == "pcapng"
    written = data.draw(packets(nanosecond))
    path = tmp_path / f"roundtrip.{FORMATS[name][0]}"
    write(path, name, written)
    assert read_back(path) == expected(written)
    reader = pcapy.open_offline(str(path))
    assert (reader.datalink(), reader.snapshot()) == (pcapy.DLT_EN10MB, 65535)
    reader.close()


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([1, 10, 10**3, 10**6, 10**9, 2**10, 2**20, 2**30]),
    st.integers(-(2**40), 2**40),
    st.data(),
)
def test_pcapng_interfaces_keep_their_clock_when_copied(resolution, offset, data):
    """Any if_tsresol coarser than a nanosecond, any if_tsoffset: the copy's times are the same."""
    import struct

    def block(block_type, body):
        body += bytes(-len(body) % 4)
        return (
            struct.pack("<II", block_type, len(body) + 12)
            + body
            + struct.pack("<I", len(body) + 12)
        )

    code = (
        next(k for k in range(10) if 10**k == resolution)
        if 10**9 % resolution == 0
        else 0x80 | (resolution.bit_length() - 1)
    )
    options = struct.pack("<HHB3x", 9, 1, code) + struct.pack("<HHq", 14, 8, offset)
    units = data.draw(st.lists(st.integers(0, 2**64 - 1), max_size=8))
    source = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + block(
        1, struct.pack("<HHI", 1, 0, 0) + options
    )
    source += b"".join(
        block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, 0, 0)) for t in units
    )
    originals = list(open_savefile(io.BytesIO(source)).packets)
    out = io.BytesIO()
    dumper = pcapy.Dumper(out, pcapy.DLT_EN10MB, 65535, format="pcapng")
    for hdr, payload in originals:  # times before 1970 too: the copy keeps the source's offset
        dumper.dump(hdr, payload)
    dumper.flush()
    copies = list(open_savefile(io.BytesIO(out.getvalue())).packets)
    assert [h.getts_ns() for h, _ in copies] == [h.getts_ns() for h, _ in originals]


def tool_packets(tool: str, path: Path) -> list:
    """(sec, nsec, caplen, len) of every packet, as tcpdump or tshark reads the file."""
    if tool == "tcpdump":
        command = ["tcpdump", "-r", str(path), "-n", "-tt", "--time-stamp-precision=nano", "-q"]
        lines = subprocess.run(
            command, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        # one line per packet, starting with its time stamp; hex dumps of payloads are indented
        return [
            tuple(int(part) for part in line.split()[0].split("."))
            for line in lines
            if line[:1].isdigit()
        ]
    command = [
        "tshark",
        "-r",
        str(path),
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.cap_len",
        "-e",
        "frame.len",
    ]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    result = []
    for line in lines:
        stamp, caplen, wire = line.split("\t")
        seconds, _, fraction = stamp.partition(".")
        result.append((int(seconds), int(fraction.ljust(9, "0")[:9]), int(caplen), int(wire)))
    return result


@pytest.mark.tools
@pytest.mark.parametrize("tool", ["tcpdump", "tshark"])
@pytest.mark.parametrize("name", sorted(FORMATS))
@settings(
    max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_tcpdump_and_tshark_read_what_pcapy_writes(tool: str, name: str, data: st.DataObject):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    nanosecond = FORMATS[name][1] == "nano" or FORMATS[name][0] == "pcapng"
    # libpcap 1.10.3 (under tcpdump) reads 32-bit seconds as signed; tshark may grow len < caplen
    written = data.draw(packets(nanosecond, max_seconds=2**31 - 1, for_tools=True))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"tool.{FORMATS[name][0]}"
        write(path, name, written)
        got = tool_packets(tool, path)
    if tool == "tcpdump":
        assert got == [hdr.getts_ns() for hdr, _ in written]
    else:
        assert got == [(*hdr.getts_ns(), hdr.caplen, hdr.len) for hdr, _ in written]


@pytest.mark.parametrize(
    "original",
    [
        "pcap/afs.pcap",
        "pcapng/pcapng-example.pcapng",
        "pcapng/pcapng-test-generator/be/test202.pcapng",
    ],
)
def test_gzip_compressed_files_open_like_the_originals(tmp_path: Path, original: str):
    source = CORPUS / original
    if not source.is_file():
        pytest.skip(f"no corpus at {CORPUS}")
    compressed = tmp_path / (source.name + ".gz")
    compressed.write_bytes(gzip.compress(source.read_bytes()))
    assert read_back(compressed) == read_back(source)
    reader = pcapy.open_offline(str(compressed))
    assert reader.datalink() == pcapy.open_offline(str(source)).datalink()
    reader.close()


def test_gzip_compressed_pcapng_written_by_pcapy(tmp_path: Path):
    written = [(pcapy.Pkthdr(1, 2, 3, 4), b"abc"), (pcapy.Pkthdr(5, nsec=6, caplen=1, len=1), b"z")]
    plain = tmp_path / "w.pcapng"
    write(plain, "pcapng-usec", written)
    compressed = tmp_path / "w.pcapng.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_back(compressed) == expected(written)
