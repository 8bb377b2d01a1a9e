"""docs/tables.md: every ```python example runs, in order, on a copy of a corpus capture."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tables.tables_helpers import CORPUS, REPO

pytest.importorskip("duckdb", reason="the sql extra is not installed: pip install 'pcapy-cffi[sql]'")
pytest.importorskip("polars", reason="polars is not installed")
pytest.importorskip("dask.dataframe", reason="the dask extra is not installed")

DOC = REPO / "docs" / "tables.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples_for_every_engine():
    text = "\n".join(examples())
    for engine in ("duckdb", "polars", "pandas", "pcapy.dask", "to_parquet", "write_arrow"):
        assert engine in text


def test_the_examples_run_in_order(tmp_path):
    shutil.copy(CORPUS / "pcap" / "example.pcap", tmp_path / "capture.pcap")
    # example after example, each its own script (later ones use the files earlier ones wrote;
    # a Dask cluster's worker processes import their script again, which must be its own only)
    for number, code in enumerate(examples(), 1):
        script = tmp_path / f"example{number}.py"
        script.write_text(code, encoding="utf-8")
        result = subprocess.run([sys.executable, script.name], cwd=tmp_path,
                                capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, \
            f"example {number}:\n{code}\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
