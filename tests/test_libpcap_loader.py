"""Loading libpcap: lazily, with an override, and one clear error when it is absent."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pcapy
from pcapy import _libpcap
from pcapy._libpcap import _loader


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, check=False)


def test_import_does_not_load_libpcap():
    code = "import sys, pcapy; print('pcapy._libpcap._loader' in sys.modules, pcapy._libpcap._loader._loaded)"
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "None"]


def test_missing_library_error_lists_every_attempt_and_how_to_install(tmp_path):
    missing = str(tmp_path / "libpcap.so.99")  # a path nothing can have made
    code = (
        "import pcapy\n"
        "try:\n    pcapy.compile(1, 65535, 'tcp', 1, 0, compiler='libpcap')\n"
        "except pcapy.LibpcapNotFoundError as e:\n"
        "    print(type(e).__mro__[1].__name__); print(e.tried); print(e)\n"
        "try:\n    pcapy.compile(1, 65535, 'tcp', 1, 0, compiler='libpcap')\n"
        "except pcapy.PcapError as e:\n    print('again', type(e).__name__)\n"
    )
    out = run_python(code, PCAPY_LIBPCAP=missing)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "PcapError"
    assert missing in lines[1]
    assert "PCAPY_LIBPCAP" in lines[2] and "install libpcap" in lines[2]
    assert lines[3] == "again LibpcapNotFoundError"  # remembered, fails fast


@pytest.mark.usefixtures("libpcap")
def test_loaded_library_reports_version_and_optional_functions():
    lib = _libpcap.load()
    assert lib.version.startswith("libpcap version")
    assert lib.has("pcap_set_immediate_mode")
    assert _libpcap.lib_version() == lib.version
    assert _libpcap.load() is lib  # loaded once


@pytest.mark.usefixtures("libpcap")
def test_override_with_a_full_path_is_used(tmp_path):
    path = _libpcap.load().path
    import ctypes.util  # noqa: F401 - the override must bypass find_library entirely

    real = run_python("import pcapy._libpcap as l; print(l.load().path)", PCAPY_LIBPCAP=path)
    assert real.stdout.strip() == path
    not_pcap = tmp_path / "libc.so"
    not_pcap.write_bytes(b"not a shared object")
    bad = run_python("import pcapy._libpcap as l\ntry: l.load()\nexcept Exception as e: print(type(e).__name__)",
                     PCAPY_LIBPCAP=str(not_pcap))
    assert bad.stdout.strip() == "LibpcapNotFoundError"


def test_reset_for_tests_allows_a_new_attempt(monkeypatch, tmp_path):
    monkeypatch.setenv("PCAPY_LIBPCAP", str(tmp_path / "missing.so"))
    _loader.reset_for_tests()
    try:
        with pytest.raises(pcapy.LibpcapNotFoundError):
            _libpcap.load()
    finally:
        monkeypatch.delenv("PCAPY_LIBPCAP")
        _loader.reset_for_tests()
