"""`import pcapy` loads only what every use needs; the rest comes on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pcapy

DEFERRED = ("cffi", "_cffi_backend", "pycparser", "ctypes.util", "pcapy._bpf_vm",
            "pcapy._savefile._pcapng", "pcapy._savefile._pcapng_types",
            "pcapy._savefile._pcapng_writer")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {DEFERRED!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_import_pcapy_defers_libpcap_the_translator_and_pcapng():
    assert loaded_after("import pcapy") == []


def test_the_pcapng_types_load_when_first_asked_for():
    assert loaded_after("import pcapy; pcapy.PacketOptions") == ["pcapy._savefile._pcapng_types"]
    assert pcapy.Interface.__module__ == "pcapy"
    assert {"Interface", "Section", "PacketOptions"} <= set(pcapy.__all__)


def test_the_translator_loads_with_the_first_program():
    code = "import pcapy; pcapy.BPFProgram.from_instructions([(6, 0, 0, 65535)])"
    assert loaded_after(code) == ["pcapy._bpf_vm"]


def test_an_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="NoSuchThing"):
        pcapy.NoSuchThing  # noqa: B018
    assert not hasattr(pcapy, "NoSuchThing")
