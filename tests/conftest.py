"""Shared fixtures: the conformance corpus, libpcap availability, tool availability."""

from __future__ import annotations

import csv
import functools
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()


@functools.cache
def manifest() -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows keyed by path (e.g. 'pcap/afs.pcap')."""
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as f:
        lines = [line for line in f if not line.startswith("#")]
    return {row["path"]: row for row in csv.DictReader(lines, delimiter="\t")}


def corpus_files(folder: str, fmt: str | None = None) -> list[str]:
    if not CORPUS.is_dir():
        return []
    rows = manifest().values()
    return sorted(r["path"] for r in rows if r["path"].startswith(folder + "/") and (fmt is None or r["format"] == fmt))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the conformance corpus is not at {CORPUS}")
    return CORPUS


def libpcap_available() -> bool:
    import pcapy._libpcap as lp

    try:
        lp.load()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def libpcap() -> None:
    if not libpcap_available():
        pytest.skip("libpcap cannot be loaded on this machine")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def tcpdump() -> str:
    return require_tool("tcpdump")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
