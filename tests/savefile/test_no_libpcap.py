"""Savefile work needs no libpcap: proved in a child process where libpcap cannot be loaded.

Two ways of taking libpcap away:

- hidden: a private mount namespace (``unshare --mount``, root only) in which every libpcap
  shared object on the machine is covered by an empty file, so the dynamic loader cannot load
  it whatever name or path is asked for;
- overridden: ``PCAPY_LIBPCAP`` pointing at a path that does not exist (pcapy then tries only
  that), which any user can do.

The child reads classic pcap, pcapng and gzip files, writes pcap and pcapng and reads them back,
then checks that ``compile()`` and ``setfilter()`` asked for libpcap's compiler
(``compiler="libpcap"``) raise ``LibpcapNotFoundError`` naming what was tried, and that no
libpcap was ever mapped into the process. (Filters compiled by pcapy's own compiler without
libpcap are tested in tests/filter/test_compiler_no_libpcap.py.)
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()

CHILD = r"""
import gzip, io, os, sys
import pcapy

corpus = sys.argv[1]
tmp = sys.argv[2]

def count(path):
    reader = pcapy.open_offline(path)
    packets = [(hdr.getts_ns(), data) for hdr, data in reader]
    reader.close()
    return packets

pcap = count(os.path.join(corpus, "pcap", "afs.pcap"))
pcapng = count(os.path.join(corpus, "pcapng", "pcapng-example.pcapng"))
assert len(pcap) > 0 and len(pcapng) == 159, (len(pcap), len(pcapng))

compressed = os.path.join(tmp, "example.pcapng.gz")
with open(os.path.join(corpus, "pcapng", "pcapng-example.pcapng"), "rb") as f:
    data = f.read()
with open(compressed, "wb") as f:
    f.write(gzip.compress(data))
assert count(compressed) == pcapng

for name in ("copy.pcap", "copy.pcapng"):
    reader = pcapy.open_offline(os.path.join(corpus, "pcap", "afs.pcap"))
    out = os.path.join(tmp, name)
    with reader.dump_open(out) as dumper:
        for hdr, payload in reader:
            dumper.dump(hdr, payload)
    assert count(out) == pcap, name

failures = []
try:
    pcapy.compile(pcapy.DLT_EN10MB, 65535, "tcp", 1, 0, compiler="libpcap")
except pcapy.LibpcapNotFoundError as err:
    failures.append(err)
reader = pcapy.open_offline(os.path.join(corpus, "pcap", "afs.pcap"))
try:
    reader.setfilter("tcp", compiler="libpcap")
except pcapy.LibpcapNotFoundError as err:
    failures.append(err)
assert len(failures) == 2, failures
for err in failures:
    assert err.tried and "tried:" in str(err), str(err)

with open("/proc/self/maps") as maps:
    mapped = [line for line in maps if "libpcap" in line]
assert mapped == [], mapped
print("OK", len(pcap), len(pcapng), "|", str(failures[0]))
"""


def run_child(tmp_path: Path, prefix: list[str], env: dict[str, str]) -> str:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    command = [*prefix, sys.executable, str(script), str(CORPUS), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def libpcap_files() -> list[str]:
    """Every libpcap shared object on the machine (the files, not their symlinks)."""
    found = set()
    for pattern in (
        "/usr/lib/*/libpcap.so*",
        "/usr/lib/libpcap.so*",
        "/lib/*/libpcap.so*",
        "/usr/lib64/libpcap.so*",
        "/usr/local/lib/libpcap.so*",
    ):
        found.update(os.path.realpath(path) for path in glob.glob(pattern))
    return sorted(path for path in found if os.path.isfile(path))


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the conformance corpus is not at {CORPUS}")
    return CORPUS


def test_savefiles_work_when_libpcap_is_hidden(tmp_path: Path, corpus: Path) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("hiding libpcap needs a private mount namespace, which needs root")
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare(1) and mount(8) are needed to hide libpcap")
    libraries = libpcap_files()
    if not libraries:
        pytest.skip("no libpcap is installed, so there is nothing to hide")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    mounts = " && ".join(f"mount --bind {empty} {library}" for library in libraries)
    wrapper = ["unshare", "--mount", "sh", "-c", f'{mounts} && exec "$@"', "hide-libpcap"]
    env = {k: v for k, v in os.environ.items() if k != "PCAPY_LIBPCAP"}
    output = run_child(tmp_path, wrapper, env)
    assert output.startswith("OK")
    assert "libpcap could not be loaded from the usual places" in output


def test_savefiles_work_when_libpcap_is_overridden_with_a_missing_path(
    tmp_path: Path, corpus: Path
) -> None:
    missing = str(tmp_path / "no-such-libpcap.so")
    output = run_child(tmp_path, [], {**os.environ, "PCAPY_LIBPCAP": missing})
    assert output.startswith("OK")
    assert missing in output and "$PCAPY_LIBPCAP" in output
