"""The TESTrun fixture (tests/data/filtertests) is regenerate.py's output from shared/."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "filtertests"
SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared" / "filtertests").resolve()


def regenerate_module():
    spec = importlib.util.spec_from_file_location("regenerate", FIXTURE / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (SHARED / "cases.json").is_file(), reason=f"{SHARED} is not present")
def test_the_committed_fixture_is_current(tmp_path):
    written = regenerate_module().write(SHARED, tmp_path)
    assert written
    for fresh in written:
        committed = FIXTURE / fresh.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} missing: run tests/data/filtertests/regenerate.py"
        assert committed.read_bytes() == fresh.read_bytes(), (
            f"{committed} is stale: run tests/data/filtertests/regenerate.py")
    committed_savefiles = {p.name for p in (FIXTURE / "savefiles").iterdir()}
    assert committed_savefiles == {p.name for p in (tmp_path / "savefiles").iterdir()}


def test_the_fixture_keeps_tier1_only_and_its_licence():
    cases = json.loads((FIXTURE / "cases.json").read_text(encoding="utf-8"))
    tier1 = set(cases["tier1"])
    assert tier1 == {"EN10MB", "LINUX_SLL", "LINUX_SLL2", "RAW", "IPV4", "IPV6", "NULL", "LOOP"}
    assert {b["DLT"] for b in cases["accept"]} == tier1
    assert {b["DLT"] for b in cases["reject"]} == tier1
    assert {b["DLT"] for b in cases["apply"]} <= tier1
    assert not {b["DLT"] for b in cases["outside"]} & tier1
    assert (len(cases["accept"]), len(cases["apply"]), len(cases["reject"])) == (368, 96, 3456)
    for block in cases["apply"]:
        assert (FIXTURE / "savefiles" / block["savefile"]).is_file()
    licence = (FIXTURE / "LICENSE").read_text(encoding="utf-8")
    assert "Redistribution and use in source and binary forms" in licence
    assert "f26ae497fce4cda04355806101dd8d3e851d5672" in licence
