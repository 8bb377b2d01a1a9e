"""Filters without libpcap: pcapy's compiler takes over, and gives libpcap's answers.

A child process runs with libpcap out of reach (``PCAPY_LIBPCAP`` naming a missing file, which
any user can do; and, as root, with every libpcap on the machine covered in a private mount
namespace, as tests/savefile/test_no_libpcap.py does). There it filters savefiles with
``setfilter`` (classic pcap and pcapng, Ethernet, Linux cooked v1/v2, raw IP and DLT_NULL),
reads them with ``async for``, runs ``pcapy -r FILE EXPR`` and ``pcapy -d EXPR``, and reports
what it counted; this process counts the same with libpcap's compiler and compares.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pcapy
from conftest import CORPUS, is_root, libpcap_available

FILES = ["pcap/afs.pcap", "pcapng/pcapng-example.pcapng", "pcap/tcp-handshake-nano.pcap",
         "pcap/sll2.pcap", "pcap/babel_rtt.pcap", "pcap/ikev2four.pcap",
         "pcapng/NullLoopback.pcap", "pcap/ipv6_mobility_1.pcap", "pcap/LINKTYPE_IPV4.pcap"]
EXPRESSIONS = ["ip", "ip6", "tcp", "udp", "not tcp", "len > 100", "port 53 or port 80",
               "ip6 or arp", "net 10.0.0.0/8 or net 192.168.0.0/16"]

CHILD = r"""
import asyncio, json, os, subprocess, sys
import pcapy

corpus, files, expressions = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])

def count(path, expression):
    reader = pcapy.open_offline(os.path.join(corpus, path))
    try:
        reader.setfilter(expression)
    except pcapy.BPFError as err:  # e.g. ip6 on an IPv4-only link type: rejects all packets
        return str(err)
    return sum(1 for _ in reader)

async def count_async(path, expression):
    reader = pcapy.open_offline(os.path.join(corpus, path))
    reader.setfilter(expression)
    return sum([1 async for _ in reader])

counts = {f"{path}|{e}": count(path, e) for path in files for e in expressions}
asynchronous = {f"{files[0]}|{e}": asyncio.run(count_async(files[0], e)) for e in expressions}
cli = subprocess.run([sys.executable, "-m", "pcapy", "-r", os.path.join(corpus, files[0]),
                      "tcp"], capture_output=True, text=True, check=True).stdout
listing = subprocess.run([sys.executable, "-m", "pcapy", "-d", "tcp port 80"],
                         capture_output=True, text=True, check=True).stdout
try:
    pcapy.compile(pcapy.DLT_EN10MB, 65535, "tcp", 1, 0, compiler="libpcap")
    refused = ""
except pcapy.LibpcapNotFoundError as err:
    refused = str(err)
with open("/proc/self/maps") as maps:
    mapped = [line for line in maps if "libpcap" in line]
print(json.dumps({"counts": counts, "async": asynchronous, "cli_lines": cli.count("\n"),
                  "listing": listing, "refused": refused, "mapped": mapped}))
"""


def with_libpcap(path: str, expression: str) -> int | str:
    reader = pcapy.open_offline(str(CORPUS / path))
    try:
        reader.setfilter(expression, compiler="libpcap")
    except pcapy.BPFError as err:
        return str(err)
    return sum(1 for _ in reader)


def run_child(tmp_path: Path, prefix: list[str], env: dict[str, str]) -> dict[str, object]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    command = [*prefix, sys.executable, str(script), str(CORPUS), json.dumps(FILES),
               json.dumps(EXPRESSIONS)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return report


def check_report(report: dict[str, object]) -> None:
    expected = {f"{path}|{e}": with_libpcap(path, e) for path in FILES for e in EXPRESSIONS}
    assert report["counts"] == expected
    assert sum(count for count in expected.values() if isinstance(count, int)) > 0
    assert report["async"] == {key: expected[key] for key in report["async"]}  # type: ignore[union-attr]
    assert report["cli_lines"] == expected[f"{FILES[0]}|tcp"]
    program = pcapy.compile(pcapy.DLT_EN10MB, 262144, "tcp port 80", 1, 0, compiler="pcapy")
    listing = str(report["listing"])
    assert listing.count("\n") == len(program)
    assert listing.startswith("(000) ldh      [12]")
    assert "tried" in str(report["refused"])
    assert report["mapped"] == []


@pytest.fixture
def needs_references() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the conformance corpus is not at {CORPUS}")
    if not libpcap_available():
        pytest.skip("libpcap is needed here to compute the expected counts")


@pytest.mark.usefixtures("needs_references")
def test_filters_work_when_libpcap_is_overridden_with_a_missing_path(tmp_path: Path) -> None:
    env = {**os.environ, "PCAPY_LIBPCAP": str(tmp_path / "no-such-libpcap.so")}
    check_report(run_child(tmp_path, [], env))


def libpcap_files() -> list[str]:
    found = {os.path.realpath(path) for pattern in ("/usr/lib/*/libpcap.so*", "/lib/*/libpcap.so*",
             "/usr/lib/libpcap.so*", "/usr/lib64/libpcap.so*", "/usr/local/lib/libpcap.so*")
             for path in glob.glob(pattern)}  # fmt: skip
    return sorted(path for path in found if os.path.isfile(path))


@pytest.mark.usefixtures("needs_references")
def test_filters_work_when_libpcap_is_hidden(tmp_path: Path) -> None:
    if not is_root():
        pytest.skip("hiding libpcap needs a private mount namespace, which needs root")
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare(1) and mount(8) are needed to hide libpcap")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    mounts = " && ".join(f"mount --bind {empty} {library}" for library in libpcap_files())
    wrapper = ["unshare", "--mount", "sh", "-c", f'{mounts} && exec "$@"', "hide-libpcap"]
    env = {k: v for k, v in os.environ.items() if k != "PCAPY_LIBPCAP"}
    check_report(run_child(tmp_path, wrapper, env))
