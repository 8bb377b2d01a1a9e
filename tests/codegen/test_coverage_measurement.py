"""How scripts/test measures generated code: each variant written to ``PCAPY_CODEGEN_DIR`` and
compiled from there, and scripts/coverage_report.py counting a variant as run only when its
function's body ran (compiling it executes its ``def`` line alone).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import coverage

from pcapy import _codegen

REPORT = Path(__file__).resolve().parents[2] / "scripts" / "coverage_report.py"

SOURCE = "def run(*, left):\n    total = 0\n    for n in left:\n        total += n\n    return total\n"


def coverage_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_variant_is_compiled_from_its_file_in_the_codegen_directory(tmp_path, monkeypatch):
    monkeypatch.setenv(_codegen.ENV_DIRECTORY, str(tmp_path))
    run = _codegen.compile_variant("test sum", SOURCE, "run")
    again = _codegen.compile_variant("test sum", SOURCE, "run")
    path = Path(run.__code__.co_filename)
    assert path.parent == tmp_path.resolve()
    assert path.name.startswith("test_sum_")
    assert path.read_text(encoding="utf-8") == SOURCE
    assert again.__code__.co_filename == str(path)
    assert sorted(tmp_path.iterdir()) == [path]  # one file a variant, nothing half written
    assert run(left=[1, 2, 3]) == 6


def test_a_variant_counts_as_run_only_when_its_function_body_ran(tmp_path):
    ran, compiled_only = tmp_path / "pcap_driver_aaaa.py", tmp_path / "pcap_driver_bbbb.py"
    never = tmp_path / "pcap_batch_cccc.py"
    for path in (ran, compiled_only, never):
        path.write_text(SOURCE, encoding="utf-8")
    data = coverage.CoverageData(no_disk=True)
    data.add_lines({str(ran): [1, 2, 3, 4, 5], str(compiled_only): [1]})
    assert coverage_report().family_runs(data, tmp_path) == {
        "pcap batch": [False],
        "pcap driver": [True, False],
    }


def test_every_record_loop_family_is_expected_without_a_filter_inlined_and_called():
    expected = coverage_report().expected_families()
    assert {"pcap batch", "pcap batch inlined", "pcap batch called"} <= expected
    assert "bpf program in place" in expected
    assert "bpf program inlined" not in expected  # the translator's functions have no loop

