"""The pre-parsed cffi modules: committed output of _generate_ffi, and what the loader uses.

If the first test fails, ``_cdef.py`` or ``_platform.py`` changed without regenerating:
run ``python -m pcapy._libpcap._generate_ffi`` and commit the ``_ffi_*.py`` files it rewrites.
"""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import cffi
import pytest

import pcapy
from pcapy._libpcap import _cdef, _generate_ffi, _loader, _platform

PACKAGE_DIR = Path(_generate_ffi.__file__).resolve().parent
REGENERATE = "python -m pcapy._libpcap._generate_ffi"


def prebuilt(spec: _platform.PlatformSpec):
    return importlib.import_module(f"pcapy._libpcap.{spec.ffi_module}").ffi


def test_committed_modules_are_the_generators_output(tmp_path):
    written = _generate_ffi.write_all(tmp_path)
    assert [p.name for p in written] == [f"{s.ffi_module}.py" for s in _platform.ALL_SPECS]
    for fresh in written:
        committed = PACKAGE_DIR / fresh.name
        assert committed.is_file(), f"{committed} is missing: run {REGENERATE}"
        assert committed.read_bytes() == fresh.read_bytes(), (
            f"{committed.name} is stale (or cffi {cffi.__version__} writes it differently): "
            f"run {REGENERATE} and commit the result"
        )


def test_no_module_is_left_from_a_removed_spec():
    expected = {f"{s.ffi_module}.py" for s in _platform.ALL_SPECS}
    assert {p.name for p in PACKAGE_DIR.glob("_ffi_*.py")} == expected


def test_every_spec_has_its_own_module_and_declarations():
    specs = _platform.ALL_SPECS
    assert len({s.ffi_module for s in specs}) == len(specs)
    assert len({_cdef.declarations(s) for s in specs}) == len(specs)  # else share one module
    assert _platform.current() in specs


def test_generated_header_says_how_to_regenerate():
    text = (PACKAGE_DIR / f"{_platform.LINUX.ffi_module}.py").read_text(encoding="utf-8")
    header = text.split("import _cffi_backend", 1)[0]
    assert REGENERATE in header and "do not edit" in header
    assert "# ruff: noqa" in header and "# mypy: ignore-errors" in header
    assert _platform.LINUX.sockaddr in header


def test_prebuilt_layouts_match_parsing_the_declarations():
    """Struct layouts are computed at run time either way; both ffis must agree on them."""
    spec = _platform.current()
    parsed = cffi.FFI()
    parsed.cdef(_cdef.declarations(spec))
    ffi = prebuilt(spec)
    structs = ["timeval", "pcap_stat", "sockaddr", "pcap_pkthdr", "bpf_insn", "bpf_program",
               "pcap_addr", "pcap_if"]
    for name in structs:
        ctype = f"struct {name}"
        assert ffi.sizeof(ctype) == parsed.sizeof(ctype), ctype
        fields = [(f, t.offset) for f, t in ffi.typeof(ctype).fields]
        assert fields == [(f, t.offset) for f, t in parsed.typeof(ctype).fields], ctype


@pytest.mark.usefixtures("libpcap")
def test_first_use_needs_neither_cffi_nor_pycparser_nor_find_library():
    code = (
        "import sys, importlib, pcapy\n"
        "pcapy.compile(1, 65535, 'tcp port 80', 1, 0xffffffff)\n"
        "from pcapy._libpcap import _loader, _platform\n"
        "spec = _platform.current()\n"
        "module = importlib.import_module('pcapy._libpcap.' + spec.ffi_module)\n"
        "print(_loader.load().ffi is module.ffi)\n"
        "print(sorted(m for m in ('cffi', 'pycparser') if m in sys.modules))\n"
        "print(_loader.load().path in spec.library_names, 'ctypes.util' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    uses_prebuilt, imported, find_library = out.stdout.splitlines()
    assert uses_prebuilt == "True"
    assert imported == "[]"
    if find_library.startswith("True"):  # a usual name loaded: find_library never ran
        assert find_library == "True False"


@pytest.fixture
def fresh_loader():
    _loader.reset_for_tests()
    yield
    _loader.reset_for_tests()


@pytest.mark.usefixtures("libpcap", "fresh_loader")
def test_fallback_parses_the_declarations_when_the_module_cannot_be_imported(monkeypatch):
    expected = _loader.load()
    _loader.reset_for_tests()
    name = f"pcapy._libpcap.{_platform.current().ffi_module}"
    monkeypatch.setitem(sys.modules, name, None)  # makes importing it raise ImportError
    fallback = _loader.load()
    assert isinstance(fallback.ffi, cffi.FFI)
    assert fallback.ffi is not expected.ffi
    assert fallback.optional == expected.optional
    assert (fallback.libc is None) == (expected.libc is None)
    assert fallback.version == expected.version
    assert pcapy.compile(1, 65535, "tcp port 80", 1, 0xFFFFFFFF).get_bpf()


@pytest.mark.usefixtures("libpcap", "fresh_loader")
def test_optional_entry_points_are_probed_with_the_prebuilt_ffi():
    libpcap = _loader.load()
    assert libpcap.has("pcap_open_offline_with_tstamp_precision")  # libpcap 1.5+
    assert not libpcap.has("pcap_getevent")  # Npcap only
    assert not libpcap.has("WaitForSingleObject")  # kernel32, declared for Windows
    assert libpcap.libc is not None  # glibc has open_memstream


@pytest.mark.usefixtures("libpcap", "fresh_loader")
def test_find_library_runs_only_after_the_usual_names_fail(monkeypatch, tmp_path):
    import ctypes.util

    real = _loader.load().path
    calls = []

    def find_library(name):
        calls.append(name)
        return real

    monkeypatch.setattr(ctypes.util, "find_library", find_library)
    monkeypatch.delenv(_loader.ENV_OVERRIDE, raising=False)
    spec = _platform.current()
    assert _loader._load(dataclasses.replace(spec, library_names=(real,))).path == real
    assert calls == []
    missing = dataclasses.replace(spec, library_names=(str(tmp_path / "libpcap.so.99"),))
    assert _loader._load(missing).path == real
    assert calls == [spec.find_library_name]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dlopens glibc by name")
@pytest.mark.usefixtures("fresh_loader")
def test_a_library_without_libpcap_symbols_is_rejected(monkeypatch):
    """The pre-built ffi reports a missing symbol with ffi.error, not AttributeError."""
    monkeypatch.setenv(_loader.ENV_OVERRIDE, "libc.so.6")
    with pytest.raises(pcapy.LibpcapNotFoundError, match="pcap_lib_version"):
        _loader.load()
