"""fuzz/gzip_size.py: the decompressed size the fuzz harness budgets and the pool weighs by."""

from __future__ import annotations

import gzip
import random
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
sys.path.insert(0, str(FUZZ))
from gzip_size import decompressed_size  # noqa: E402

sys.path.remove(str(FUZZ))


def test_plain_input_is_its_own_length():
    assert decompressed_size(b"\xd4\xc3\xb2\xa1" + bytes(40)) == 44
    assert decompressed_size(b"") == 0


def test_one_member_is_its_inflated_length():
    assert decompressed_size(gzip.compress(bytes(100_000))) == 100_000


def test_concatenated_members_all_count():
    # pcapy (like gzip -d) reads them as one stream: 3 members of 50 kB are 150 kB to read.
    data = b"".join(gzip.compress(bytes([i]) * 50_000) for i in range(3))
    assert decompressed_size(data) == 150_000


def test_a_cut_or_broken_member_counts_what_it_gave_and_ends_there():
    first = gzip.compress(bytes(30_000))
    cut = gzip.compress(random.Random(12).randbytes(200_000))  # inflates in proportion
    cut = cut[: len(cut) // 2]
    size = decompressed_size(first + cut + gzip.compress(bytes(10)))
    assert 30_000 < size < 230_000  # the cut member's start counted, nothing after it
    assert decompressed_size(first + b"\x1f\x8bgarbage") == 30_000
    assert decompressed_size(first + b"trailing bytes") == 30_000


def test_a_bomb_is_inflated_up_to_the_cap_only():
    bomb = gzip.compress(bytes(64 << 20), compresslevel=9)
    assert len(bomb) < 100_000
    assert (1 << 20) <= decompressed_size(bomb, cap=1 << 20) < (1 << 20) + (4 << 20)
    assert decompressed_size(bomb) == 64 << 20


def test_never_less_than_the_input():
    tiny = gzip.compress(b"")
    assert decompressed_size(tiny) == len(tiny)
