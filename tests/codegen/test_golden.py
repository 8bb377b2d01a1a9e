"""Generated code under the checks written code gets: golden sources, ruff, tracebacks, pdb.

If the first test fails, a generator changed: run ``python -m pcapy._codegen dump --all
tests/codegen/golden`` and review the diff (see README.md here).
"""

from __future__ import annotations

import inspect
import io
import linecache
import pdb
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import pcapy
from helpers import pcap_bytes, sample_records
from pcapy import _codegen
from pcapy._codegen import __main__ as dump
from pcapy._savefile import _pcap

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = "python -m pcapy._codegen dump --all tests/codegen/golden"


def test_golden_sources_are_the_generators_output(tmp_path):
    assert dump.main(["dump", "--all", str(tmp_path)]) == 0
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.py")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.py")}
    assert sorted(committed) == sorted(fresh), f"run {REGENERATE}"
    for name, source in fresh.items():
        assert committed[name] == source, f"{name} is stale: run {REGENERATE} and review the diff"


def test_the_golden_set_has_every_family_with_and_without_filters():
    names = {p.stem for p in GOLDEN.glob("*.py")}
    for family in dump.FAMILIES:
        stem = family.replace(" ", "_")
        assert {f"{stem}__{name}" for name in dump.GOLDEN_PROGRAMS} <= names
        if not family.startswith("bpf"):
            assert {stem, f"{stem}__called"} <= names


def ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is a test dependency (scripts/_setup.sh installs it)")
    return found


def test_ruff_finds_nothing_in_freshly_dumped_variants(tmp_path):
    dump.main(["dump", "--all", str(tmp_path)])
    result = subprocess.run(
        [ruff(), "check", "--isolated", "--select", "F,E,W,B", "--ignore", "E501,E701",
         "--no-cache", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dump_prints_what_the_engine_compiles():
    program = "128 0 0 0; 37 0 1 100; 6 0 0 65535; 6 0 0 0"
    result = subprocess.run(
        [sys.executable, "-m", "pcapy._codegen", "dump", "pcapng driver", "--instructions", program],
        capture_output=True, text=True, check=True,
    )
    golden = (GOLDEN / "pcapng_driver__longer.py").read_text(encoding="utf-8")
    assert result.stdout == golden


def test_dump_lists_the_families():
    result = subprocess.run([sys.executable, "-m", "pcapy._codegen", "list"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:-1] == list(dump.FAMILIES)


def test_dump_without_a_family_says_so():
    with pytest.raises(SystemExit, match="needs a family"):
        dump.main(["dump"])


def test_bpf_families_need_a_filter():
    with pytest.raises(SystemExit, match="need a filter"):
        dump.main(["dump", "bpf program"])


def test_each_variant_has_its_own_name_and_its_source_in_linecache():
    generator = _pcap._record_loop(_pcap.PerPacket(_pcap.GENERATOR.deliver), "generator")
    driver = _pcap._record_loop(_pcap.PerPacket(_pcap.DRIVER.deliver), "driver")
    assert generator.__code__.co_filename != driver.__code__.co_filename
    for function in (generator, driver):
        source = _codegen.source_of(function)
        assert inspect.getsource(function) == source
        filename = function.__code__.co_filename
        assert linecache.getline(filename, 2) == source.splitlines(True)[1]
        linecache.checkcache()  # keeps entries that have no file to compare with
        assert linecache.getline(filename, 2) == source.splitlines(True)[1]
    families = {v.filename: v.family for v in _codegen.variants()}
    assert families[driver.__code__.co_filename] == "pcap driver"


def test_source_of_refuses_functions_it_did_not_compile():
    with pytest.raises(ValueError, match="not compiled by pcapy._codegen"):
        _codegen.source_of(test_source_of_refuses_functions_it_did_not_compile)


def _generated_frames(error: BaseException) -> list[traceback.FrameSummary]:
    generated = {v.filename for v in _codegen.variants()}
    return [f for f in traceback.extract_tb(error.__traceback__) if f.filename in generated]


class Boom(Exception):
    pass


def _raise(_hdr: object, _data: bytes) -> None:
    raise Boom


LONGER_THAN_40 = [(0x80, 0, 0, 0), (0x25, 0, 1, 40), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)]


@pytest.mark.parametrize("filtered", [False, True])
@pytest.mark.parametrize("cnt", [-1, 2])
def test_a_callback_raising_shows_the_generated_line(filtered, cnt):
    reader = pcapy.open_offline(io.BytesIO(pcap_bytes(sample_records())))
    if filtered:
        reader.setfilter(pcapy.BPFProgram.from_instructions(LONGER_THAN_40))
    with pytest.raises(Boom) as raised:
        reader.loop(cnt, _raise)
    frames = _generated_frames(raised.value)
    assert len(frames) == 1
    assert frames[0].line == "callback(make(fields), pkt[base:stop])"
    assert "\n    callback(make(fields), pkt[base:stop])\n" in "".join(
        traceback.format_exception(raised.value)
    )


def test_pdb_steps_through_a_generated_loop():
    stream = _pcap.PcapRecordStream(
        _pcap.parse_file_header(pcap_bytes([])), iter(()), pcap_bytes(sample_records())[24:], 24
    )
    run, fixed = stream._loop(None, _pcap.DRIVER)
    seen: list[bytes] = []

    class Source:
        break_requested = False

    arguments = dict(fixed, callback=lambda _h, d: seen.append(d), left=-1, source=Source())
    output = io.StringIO()
    # nosigint: pdb's `continue` would otherwise take over SIGINT for the rest of the session
    # (a later Ctrl-C test would land in the debugger).
    debugger = pdb.Pdb(stdin=io.StringIO("next\nnext\nlist\ncontinue\n"), stdout=output,
                       nosigint=True)
    debugger.use_rawinput = False
    # pdb's `continue` (no breakpoints left) calls sys.settrace(None): whatever traced this
    # thread before (coverage.py, under scripts/test) is put back, or nothing after this test
    # would be measured.
    tracer = sys.gettrace()
    try:
        debugger.runcall(run, **arguments)
    finally:
        sys.settrace(tracer)
    text = output.getvalue()
    assert "-> pkt, pos = cursor.buffer, cursor.position" in text
    assert "-> end = len(pkt)" in text
    assert "fields = unpack_from(pkt, pos)" in text  # `list` shows the generated source
    assert len(seen) == 5
