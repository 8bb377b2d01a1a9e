"""Conformance: every file of the shared corpus, read through ``pcapy.open_offline``, against libpcap.

The reference is libpcap MASTER (MANIFEST.tsv's ``compare_lib`` column where it differs from
1.10.3): packet counts, link type, every packet's time stamp, lengths and bytes (as sha256
digests, in microseconds through ``getts()`` and nanoseconds through ``getts_ns()``), and the
error message and failure point of broken files.

- ``pcap/`` and ``pcapng/``: valid files. Where libpcap reads a file to the end, pcapy must give
  exactly the same packets. Where libpcap stops on a valid pcapng file because an interface has
  another link type or snapshot length, pcapy must give libpcap's packets first and then read on
  to the end: as many packets as the file's packet blocks (MANIFEST ``structure``), and no error.
- ``broken/``: pcapy must raise a ``SavefileError`` of the right kind, at the same point as
  libpcap (never later), with libpcap's message and the byte offset of the fault; the only
  exceptions are listed in ``EARLIER_DIAGNOSES`` (pcapy finds a fault libpcap overlooks first).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

import pcapy

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
FOLDERS = ("pcap", "pcapng", "broken")

# Faults pcapy reports before libpcap reaches the one libpcap reports. Both files start with a
# Section Header Block whose trailer is not its length (libpcap never checks the first SHB's
# trailer, and then trips over the next block).
EARLIER_DIAGNOSES = {
    "broken/shb-option-too-long.pcapng": (
        "block total length in header 52 and trailer 808464432 don't match"
    ),
    "broken/tftp-heapoverflow.pcap": (
        "block total length in header 52 and trailer 808464432 don't match"
    ),
}



@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return {row["path"]: row for row in csv.DictReader(lines, delimiter="\t")}


def corpus_params(folder: str) -> list:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return [pytest.param(None, marks=pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}"))]
    return sorted(path for path in manifest() if path.startswith(folder + "/"))


@dataclass(frozen=True)
class Expected:
    """libpcap master's result for one file."""

    result: str  # eof, error, open-failed
    packets: int
    error: str
    dlt: Optional[int]
    digest_ns: str  # full sha256, or a 16-hex-digit prefix (compare_lib)
    digest_us: Optional[str]  # only when master equals 1.10.3


def master_result(row: dict[str, str]) -> Expected:
    compare = row["compare_lib"]
    error = "" if row["libpcap_error"] == "-" else row["libpcap_error"]
    dlt = _dlt(row["libpcap_linktype"])
    if compare == "=":
        return Expected(
            row["libpcap_result"],
            int(row["packets"]),
            error,
            dlt,
            row["pkt_digest"],
            row["pkt_digest_usec"],
        )
    if compare.startswith("open-failed: "):
        return Expected("open-failed", 0, compare.split(": ", 1)[1], None, "", None)
    fields = dict(part.split("=", 1) for part in compare.split(" err: ")[0].split() if "=" in part)
    master_error = compare.split(" err: ", 1)[1] if " err: " in compare else ""
    return Expected(
        compare.split()[0],
        int(fields["n"]),
        master_error,
        _dlt(compare.split()[1]),
        fields["digest"],
        None,
    )


def _dlt(column: str) -> Optional[int]:
    return int(column.split(":", maxsplit=1)[0]) if column[:1].isdigit() else None


def packet_blocks(row: dict[str, str]) -> int:
    """How many packet blocks (EPB, SPB, PB) the file's block structure lists."""
    blocks = re.search(r"blocks=(\S+)", row["structure"])
    assert blocks is not None
    counts = dict(item.split(":") for item in blocks.group(1).split(","))
    return sum(int(counts.get(kind, 0)) for kind in ("EPB", "SPB", "PB"))


@dataclass
class Outcome:
    """What pcapy gave for one file."""

    result: str = "eof"
    packets: int = 0
    error: str = ""
    error_class: type = type(None)
    error_offset: Optional[int] = None
    dlt: Optional[int] = None
    digests_ns: tuple[str, ...] = ()  # after each packet: sha256 so far
    digests_us: tuple[str, ...] = ()


@functools.cache
def read_with_pcapy(path: str) -> Outcome:
    outcome = Outcome()
    ns, us = hashlib.sha256(), hashlib.sha256()
    digests_ns, digests_us = [ns.hexdigest()], [us.hexdigest()]
    try:
        reader = pcapy.open_offline(str(CORPUS / path))
    except pcapy.PcapError as err:
        return Outcome("open-failed", 0, str(err), type(err), getattr(err, "offset", None),
                       None, tuple(digests_ns), tuple(digests_us))
    outcome.dlt = reader.datalink()
    try:
        for hdr, data in reader:
            for digest, (sec, frac), log in (
                (ns, hdr.getts_ns(), digests_ns),
                (us, hdr.getts(), digests_us),
            ):
                digest.update(struct.pack("<qqII", sec, frac, hdr.getcaplen(), hdr.getlen()) + data)
                log.append(digest.hexdigest())
            outcome.packets += 1
    except pcapy.PcapError as err:
        outcome.result, outcome.error, outcome.error_class = "error", str(err), type(err)
        outcome.error_offset = getattr(err, "offset", None)
    finally:
        reader.close()
    outcome.digests_ns, outcome.digests_us = tuple(digests_ns), tuple(digests_us)
    return outcome


def expected_class(message: str) -> type:
    if message.startswith("truncated"):
        return pcapy.TruncatedSavefileError
    if message == "unknown file format":
        return pcapy.UnknownFormatError
    if "version" in message:
        return pcapy.UnsupportedVersionError
    return pcapy.MalformedSavefileError


def stops_on_valid_file(expected: Expected) -> bool:
    """libpcap's pcapng limit: every interface must share the first one's type and snaplen."""
    return expected.result == "error" and expected.error.startswith("an interface has a ")


def problems(path: str) -> list[str]:
    """Everything on which pcapy disagrees with the expectations for ``path`` (empty: agrees)."""
    row = manifest()[path]
    expected = master_result(row)
    got = read_with_pcapy(path)
    if path.startswith("broken/"):
        return broken_file_problems(path, expected, got)
    if stops_on_valid_file(expected):
        return read_beyond_problems(row, expected, got)
    return same_result_problems(expected, got)


def same_packets_problems(expected: Expected, got: Outcome, count: int) -> list[str]:
    found = []
    if expected.result == "open-failed":
        return found
    if not got.digests_ns[count].startswith(expected.digest_ns):
        found.append(f"nanosecond digest of the first {count} packets differs")
    if expected.digest_us is not None and got.digests_us[count] != expected.digest_us:
        found.append(f"microsecond digest of the first {count} packets differs")
    return found


def same_result_problems(expected: Expected, got: Outcome) -> list[str]:
    if (got.result, got.packets) != (expected.result, expected.packets):
        return [
            f"libpcap: {expected.result} after {expected.packets} packets; "
            f"pcapy: {got.result} after {got.packets} ({got.error})"
        ]
    if expected.result == "open-failed":
        return message_problems(expected.error, got)
    found = same_packets_problems(expected, got, got.packets)
    if expected.dlt is not None and got.dlt != expected.dlt:
        found.append(f"datalink {got.dlt} != {expected.dlt}")
    return found


def read_beyond_problems(row: dict[str, str], expected: Expected, got: Outcome) -> list[str]:
    if got.result != "eof":
        return [f"stopped: {got.result} ({got.error})"]
    found = []
    if got.packets != packet_blocks(row):
        found.append(f"{got.packets} packets, the file has {packet_blocks(row)} packet blocks")
    if got.packets >= expected.packets:
        found += same_packets_problems(expected, got, expected.packets)
    return found


def broken_file_problems(path: str, expected: Expected, got: Outcome) -> list[str]:
    if got.result == "eof":
        return [f"read {got.packets} packets to the end; libpcap: {expected.error}"]
    if expected.result == "open-failed" and got.result != "open-failed":
        return [f"opened, but libpcap fails at open: {expected.error}"]
    if got.packets != expected.packets:
        return [f"{got.packets} packets before the error; libpcap {expected.packets}"]
    message = EARLIER_DIAGNOSES.get(path, expected.error)
    return same_packets_problems(expected, got, got.packets) + message_problems(message, got)


def message_problems(message: str, got: Outcome) -> list[str]:
    found = []
    if not issubclass(got.error_class, pcapy.SavefileError):
        found.append(f"{got.error_class.__name__} is not a SavefileError")
    if got.error != message:  # libpcap's words exactly; the offset is an attribute
        found.append(f"message {got.error!r}, expected {message!r}")
    if got.error_offset is None:
        found.append("the error gives no byte offset")
    if got.error_class is not expected_class(message):
        found.append(f"{got.error_class.__name__}, expected {expected_class(message).__name__}")
    return found


@pytest.mark.parametrize("path", corpus_params("pcap"))
def test_valid_pcap_agrees_with_libpcap(path: str) -> None:
    assert problems(path) == []


@pytest.mark.parametrize("path", corpus_params("pcapng"))
def test_valid_pcapng_agrees_with_libpcap_or_reads_to_the_end(path: str) -> None:
    assert problems(path) == []


@pytest.mark.parametrize("path", corpus_params("broken"))
def test_broken_file_fails_where_libpcap_does(path: str) -> None:
    assert problems(path) == []


def test_beyond_libpcap_packets_keep_their_own_interface() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS}")
    reader = pcapy.open_offline(str(CORPUS / "pcapng/pcapng-example.pcapng"))
    linktypes = [hdr.interface.linktype for hdr, _ in reader]
    # libpcap stops at the second interface (LINUX_SLL); its 100 packets follow the first 59.
    assert linktypes == [1] * 59 + [113] * 100
    info = reader._source.file_header
    assert [(i.linktype, i.tsresol) for i in info.interfaces] == [(1, 10**9), (113, 10**6)]


def beyond_libpcap_params() -> list:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return [pytest.param(None, marks=pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}"))]
    rows = manifest().values()
    return sorted(
        r["path"]
        for r in rows
        if r["path"].startswith("pcapng/") and stops_on_valid_file(master_result(r))
    )


@pytest.mark.tools
@pytest.mark.parametrize("path", beyond_libpcap_params())
def test_packets_beyond_libpcap_agree_with_tshark(path: str) -> None:
    """Where libpcap stops, Wireshark's reader (an independent one) gives the reference."""
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed")
    fields = ["frame.time_epoch", "frame.cap_len", "frame.len", "frame.interface_id"]
    command = [tshark, "-r", str(CORPUS / path), "-T", "fields"] + [
        a for f in fields for a in ("-e", f)
    ]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    # tshark also lists custom blocks (on no interface); a Simple Packet Block has no time stamp
    theirs = [line.split("\t") for line in lines if line.split("\t")[3]]
    reader = pcapy.open_offline(str(CORPUS / path))
    ours = [(hdr.getts_ns(), hdr.caplen, hdr.len, hdr.interface.id) for hdr, _ in reader]
    assert len(ours) == len(theirs)
    for (stamp, caplen, length, if_id), (time_epoch, cap_len, frame_len, interface_id) in zip(
        ours, theirs
    ):
        assert (caplen, length, if_id) == (int(cap_len), int(frame_len), int(interface_id))
        if time_epoch:
            seconds, _, fraction = time_epoch.partition(".")
            assert stamp == (int(seconds), int(fraction.ljust(9, "0")))


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip(f"no corpus at {CORPUS}")
    agree = dict.fromkeys(FOLDERS, 0)
    total = dict.fromkeys(FOLDERS, 0)
    beyond = 0
    failures = {}
    for path in manifest():
        folder = path.split("/")[0]
        total[folder] += 1
        found = problems(path)
        if found:
            failures[path] = found
        else:
            agree[folder] += 1
            beyond += stops_on_valid_file(master_result(manifest()[path]))
    line = (
        f"corpus: pcap {agree['pcap']}/{total['pcap']}, pcapng {agree['pcapng']}/{total['pcapng']}, "
        f"broken {agree['broken']}/{total['broken']} agree; pcapng read beyond libpcap: {beyond} files"
    )
    with capsys.disabled():
        print("\n" + line)
    assert failures == {}
