"""Fuzzing in CI: a short bounded pass of ``fuzz/run.py``, and every input that ever failed.

The bounded pass runs the mutation engine (deterministic for its seed, no atheris needed) for
3,000 inputs per target. Failing inputs found by any run are kept under ``tests/data/fuzz/`` as
``<target>-<sha1>.bin`` and replayed through every target; the bugs they found also have a
byte-literal test each below, saying what the right behaviour is.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import pcapy
from helpers import untraced_environment

REPO = Path(__file__).resolve().parents[1]
FUZZ = REPO / "fuzz"
KEPT = REPO / "tests" / "data" / "fuzz"
TARGETS = ("read", "api", "gzip", "roundtrip", "bpf", "offload")
CI_SEED = 20240601
INPUTS_PER_TARGET = 3000


@pytest.fixture(scope="module")
def harness():
    sys.path.insert(0, str(FUZZ))
    try:
        import harness as module
    finally:
        sys.path.remove(str(FUZZ))
    return module


def test_bounded_fuzzing_pass(tmp_path: Path):
    command = [
        sys.executable, str(FUZZ / "run.py"), "--engine", "mutate", "--target", "all",
        "--inputs", str(INPUTS_PER_TARGET * len(TARGETS)), "--workers", "2",
        "--seed", str(CI_SEED), "--crashes", str(tmp_path), "--report-every", "1000",
        # This pass looks for crashes and wrong answers; time and memory budgets are held by
        # the hostile-input tests (untraced). CPU seconds an input may take on a busy machine:
        "--timeout", "10",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                            env=untraced_environment())
    report = result.stdout + result.stderr
    for trace in sorted(tmp_path.glob("*.txt"))[:3]:
        report += f"\n--- {trace.name}\n{trace.read_text()}"
    assert result.returncode == 0, report
    assert f"inputs run: {INPUTS_PER_TARGET * len(TARGETS):,}" in result.stdout, report
    assert "failures: 0" in result.stdout, report


HOSTILE_INPUTS = 120


def test_bounded_hostile_pass(tmp_path: Path):
    # Issue 12 #8: structure-aware recipes (floods of blocks, options and name records, huge
    # blocks, gzip-wrapped), read by next() and next_batch() with every metadata field touched,
    # each within item 1's time and memory budget (files up to 2 MiB here; 16 MiB in long runs).
    command = [
        sys.executable, str(FUZZ / "run.py"), "--engine", "mutate", "--target", "hostile",
        "--inputs", str(HOSTILE_INPUTS), "--workers", "2", "--seed", str(CI_SEED),
        "--max-size", str(2 << 20), "--crashes", str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                            env=untraced_environment())
    report = result.stdout + result.stderr
    for trace in sorted(tmp_path.glob("*.txt"))[:3]:
        report += f"\n--- {trace.name}\n{trace.read_text()}"
    assert result.returncode == 0, report
    assert f"inputs run: {HOSTILE_INPUTS:,}" in result.stdout, report
    assert "failures: 0" in result.stdout, report


def _fuzz_run(tmp_path: Path, *args: str) -> str:
    command = [sys.executable, str(FUZZ / "run.py"), "--crashes", str(tmp_path / "crashes"),
               "--report-every", "1000", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                            env=untraced_environment())
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_resumed_run_goes_on_with_the_same_stream(tmp_path: Path):
    # The long run is stopped and resumed across sessions: a run stopped after 300 inputs and
    # resumed to 720 must have run exactly the inputs of one run of 720 (same PRNG state, same
    # pool), counting each once, per target and over both segments.
    common = ["--engine", "mutate", "--target", "all", "--workers", "2", "--seed", "5",
              "--timeout", "10", "--keep-current", "--checkpoint-every", "1"]
    _fuzz_run(tmp_path, *common, "--inputs", "720", "--state", str(tmp_path / "whole.json"))
    _fuzz_run(tmp_path, *common, "--inputs", "300", "--state", str(tmp_path / "parts.json"))
    out = _fuzz_run(tmp_path, "--resume", str(tmp_path / "parts.json"), "--inputs", "720")
    assert "inputs run: 420" in out, out
    parts = json.loads((tmp_path / "parts.json").read_text())
    whole = json.loads((tmp_path / "whole.json").read_text())
    assert parts["inputs_done"] == whole["inputs_done"] == 720
    assert parts["inputs_per_target"] == whole["inputs_per_target"] == dict.fromkeys(TARGETS, 120)
    assert [(s["inputs_at_start"], s["inputs_at_end"]) for s in parts["segments"]] == [
        (0, 300), (300, 720)]
    assert parts["failures_total"] == whole["failures_total"] == 0
    _assert_same_worker_streams(tmp_path / "parts.json", tmp_path / "whole.json", 360)


def _assert_same_worker_streams(resumed_path: Path, straight_path: Path, number: int) -> None:
    """Both workers' checkpoints: the resumed run's streams are the straight run's."""
    sys.path.insert(0, str(FUZZ))
    try:
        import state
    finally:
        sys.path.remove(str(FUZZ))
    for index in range(2):
        resumed = state.load_checkpoint(resumed_path, index)
        straight = state.load_checkpoint(straight_path, index)
        assert resumed is not None and straight is not None
        assert resumed.number == straight.number == number
        assert resumed.rng == straight.rng
        assert resumed.pools == straight.pools


def test_resumed_run_may_add_a_worker(tmp_path: Path):
    # One worker, then two: the first goes on with its stream, the second starts its own, so
    # both are the streams of a run that had two workers from the start.
    common = ["--engine", "mutate", "--target", "all", "--seed", "6", "--timeout", "10"]
    _fuzz_run(tmp_path, *common, "--workers", "2", "--inputs", "480",
              "--state", str(tmp_path / "two.json"))
    _fuzz_run(tmp_path, *common, "--workers", "1", "--inputs", "150",
              "--state", str(tmp_path / "grown.json"))
    out = _fuzz_run(tmp_path, "--resume", str(tmp_path / "grown.json"), "--workers", "2",
                    "--inputs", "480")
    assert "inputs run: 330" in out, out
    grown = json.loads((tmp_path / "grown.json").read_text())
    assert grown["settings"]["workers"] == 2
    assert [s["workers"] for s in grown["segments"]] == [1, 2]
    assert grown["inputs_per_target"] == dict.fromkeys(TARGETS, 80)
    _assert_same_worker_streams(tmp_path / "grown.json", tmp_path / "two.json", 240)
    fewer = subprocess.run([sys.executable, str(FUZZ / "run.py"), "--resume",
                            str(tmp_path / "two.json"), "--workers", "1"],
                           capture_output=True, text=True, timeout=120, check=False)
    assert fewer.returncode == 2 and "resume them all" in fewer.stderr


def test_state_file_is_not_overwritten(tmp_path: Path):
    (tmp_path / "taken.json").write_text("{}")
    command = [sys.executable, str(FUZZ / "run.py"), "--engine", "mutate", "--inputs", "6",
               "--state", str(tmp_path / "taken.json")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "exists" in result.stderr
    assert (tmp_path / "taken.json").read_text() == "{}"


@pytest.mark.parametrize("name", ["idb_flood", "nrb_records", "huge_custom", "mix", "clipped_records",
                                  "bad_packet_options"])
def test_hostile_recipes_stay_within_budget(harness, name: str):
    sys.path.insert(0, str(FUZZ))
    try:
        import structured
    finally:
        sys.path.remove(str(FUZZ))
    harness.install_time_bound()
    harness.run_one(harness.TARGETS["hostile"], structured.RECIPES[name], 100)


def test_read_target_holds_issue_12s_time_budget(harness):
    # CPU seconds past the constant must be paid for by decompressed bytes (3 MB/s asserted).
    plain = bytes(1000)
    harness._check_time_budget(plain, harness.BUDGET_CONSTANT)
    with pytest.raises(harness.FuzzFailure, match="over issue 12's budget"):
        harness._check_time_budget(plain, harness.BUDGET_CONSTANT + 0.01)
    bomb = gzip.compress(bytes(6_000_000), mtime=0)  # 6 MB read: 2 s past the constant
    harness._check_time_budget(bomb, harness.BUDGET_CONSTANT + 1.9)
    harness._check_time_budget(bomb + bomb, harness.BUDGET_CONSTANT + 3.9)  # two members
    with pytest.raises(harness.FuzzFailure, match="6,000,000 bytes"):
        harness._check_time_budget(bomb, harness.BUDGET_CONSTANT + 2.1)


def _kept_inputs() -> list[Path]:
    return sorted(KEPT.glob("*.bin")) if KEPT.is_dir() else []


@pytest.mark.parametrize("path", _kept_inputs(), ids=lambda p: p.name[:24])
@pytest.mark.parametrize("target", TARGETS)
def test_kept_failing_inputs_pass_every_target(harness, path: Path, target: str):
    harness.install_time_bound()
    harness.run_one(harness.TARGETS[target], path.read_bytes(), 10.0)


# -- the bugs, one byte literal each --------------------------------------------------------------


def _pcap(records: list[tuple[int, int, bytes]], magic: int = 0xA1B2C3D4) -> bytes:
    out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1)]
    out += [struct.pack("<IIII", sec, frac, len(data), len(data)) + data
            for sec, frac, data in records]
    return b"".join(out)


PCAP = _pcap([(1, 2, b"\x00" * 20), (3, 4, b"\x11" * 30)])


def _read_all(data: bytes) -> list[bytes]:
    return [payload for _hdr, payload in pcapy.open_offline(io.BytesIO(data))]


def test_truncated_gzip_stream_is_a_truncated_savefile_error():
    # Was a bare PcapError ("error reading dump file: Compressed file ended ...").
    cut = gzip.compress(PCAP, mtime=0)[:-12]
    with pytest.raises(pcapy.TruncatedSavefileError, match="truncated gzip stream"):
        _read_all(cut)


def test_damaged_deflate_data_is_a_malformed_savefile_error():
    # Was zlib.error ("invalid block type") escaping pcapy altogether.
    damaged = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 40
    with pytest.raises(pcapy.MalformedSavefileError, match="damaged gzip stream"):
        pcapy.open_offline(io.BytesIO(damaged))


def test_gzip_stream_with_a_bad_crc_is_a_malformed_savefile_error():
    compressed = gzip.compress(PCAP, mtime=0)
    bad_crc = compressed[:-8] + struct.pack("<I", zlib.crc32(PCAP) ^ 1) + compressed[-4:]
    with pytest.raises(pcapy.MalformedSavefileError, match="CRC check failed"):
        _read_all(bad_crc)  # was a bare PcapError


def test_corrupt_usec_fraction_written_as_nanoseconds_is_refused_cleanly():
    # A usec fraction >= 2**32 / 1000 read as it is (as libpcap does) cannot be stored in a
    # nanosecond file; the writer raised struct.error.
    reader = pcapy.open_offline(io.BytesIO(_pcap([(5, 4_000_000_000, b"\x22" * 8)])))
    hdr, data = reader.next()
    dumper = pcapy.Dumper(io.BytesIO(), precision="nano")
    with pytest.raises(pcapy.PcapError, match="fraction 4000000000000 does not fit"):
        dumper.dump(hdr, data)


def _pcapng_with_negative_time() -> bytes:
    def block(block_type: int, body: bytes) -> bytes:
        return struct.pack("<II", block_type, len(body) + 12) + body + struct.pack(
            "<I", len(body) + 12)

    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    tsoffset = struct.pack("<HHq", 14, 8, -100) + struct.pack("<HH", 0, 0)
    idb = block(1, struct.pack("<HHI", 1, 0, 0) + tsoffset)
    epb = block(6, struct.pack("<IIIII", 0, 0, 1_000_000, 4, 4) + b"abcd")
    return shb + idb + epb


def test_negative_pcapng_time_in_next_batch_is_a_pcap_error():
    # Issue 12 #6: next_batch() raised struct.error ("argument out of range"); next() reads it.
    reader = pcapy.open_offline(io.BytesIO(_pcapng_with_negative_time()))
    with pytest.raises(pcapy.PcapError, match="-99 s does not fit next_batch"):
        reader.next_batch(8)
    again = pcapy.open_offline(io.BytesIO(_pcapng_with_negative_time()))
    assert again.next()[0].getts() == (-99, 0)


def test_negative_pcapng_time_written_to_classic_pcap_is_refused_cleanly():
    # if_tsoffset -100 puts the packet at -99 s; the classic pcap writer raised struct.error.
    reader = pcapy.open_offline(io.BytesIO(_pcapng_with_negative_time()))
    hdr, data = reader.next()
    assert hdr.getts() == (-99, 0)
    dumper = pcapy.Dumper(io.BytesIO())
    with pytest.raises(pcapy.PcapError, match="-99 s does not fit a pcap file"):
        dumper.dump(hdr, data)
    copy = io.BytesIO()
    with pcapy.Dumper(copy, format="pcapng") as pcapng_dumper:
        pcapng_dumper.dump(hdr, data)
    again, _ = pcapy.open_offline(io.BytesIO(copy.getvalue())).next()
    assert again.getts_ns() == (-99, 0)


class _Greedy(io.RawIOBase):
    """A file object whose first read returns everything, whatever size was asked for."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data

    read1 = read


def test_fast_path_enforces_the_link_type_maximum_too():
    # snaplen 1,000,000 on Ethernet (maximum 262,144) and a 300,000-byte record: the slow path
    # refused it, but a record lying whole in one read chunk took the fast path, which checked
    # the snapshot length only, and was returned.
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 1_000_000, 1)
    data = header + struct.pack("<IIII", 1, 0, 300_000, 300_000) + b"x" * 300_000
    for source in (io.BytesIO(data), _Greedy(data)):
        reader = pcapy.open_offline(source)
        with pytest.raises(pcapy.MalformedSavefileError, match="bigger than maximum of 262144"):
            reader.next()
