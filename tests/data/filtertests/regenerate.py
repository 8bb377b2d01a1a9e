"""Regenerate this folder's fixture from ``../shared/filtertests`` (libpcap's TESTrun as data).

    python tests/data/filtertests/regenerate.py [SHARED_FILTERTESTS] [OUTPUT_DIR]

Writes ``cases.json`` and copies the savefiles the kept apply cases read into ``savefiles/``.
Kept, from ``cases.json`` of the-tcpdump-group/libpcap ``testprogs/TESTrun`` (commit f26ae497):

* ``accept``: every block on a tier-1 link type (EN10MB, LINUX_SLL, LINUX_SLL2, RAW, IPV4,
  IPV6, NULL, LOOP), without master's ``opt``/``unopt`` listings (instruction text is
  version-specific; the tests compare verdicts);
* ``apply``: every block whose savefile's link type is tier 1;
* ``reject``: every test on a tier-1 link type that compiles an expression (the six that
  open a broken savefile test the savefile reader, not the compiler, and are left out);
* ``outside``: the accept blocks on every other link type, as (name, DLT, aliases) only: pcapy's
  own compiler must refuse them with BPFError.

tests/filter/test_testrun_fixture.py checks that the committed files are this script's output.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parents[2] / ".." / "shared" / "filtertests"
TIER1 = ("EN10MB", "LINUX_SLL", "LINUX_SLL2", "RAW", "IPV4", "IPV6", "NULL", "LOOP")
# LINKTYPE_ values (savefile headers) of the tier-1 link types
TIER1_LINKTYPES = {1: "EN10MB", 113: "LINUX_SLL", 276: "LINUX_SLL2", 101: "RAW", 228: "IPV4",
                   229: "IPV6", 0: "NULL", 108: "LOOP"}
ACCEPT_FIELDS = ("name", "DLT", "aliases", "snaplen", "netmask", "skip", "linuxext", "gen_off")
SOURCE = ("the-tcpdump-group/libpcap testprogs/TESTrun at f26ae497fce4cda04355806101dd8d3e851d5672"
          " (1.11.0-PRE-GIT), via shared/filtertests/cases.json; BSD licence: see LICENSE")


def savefile_linktype(path: Path) -> int:
    """The link type of a classic pcap file, or of a pcapng file's first interface."""
    data = path.read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return int(struct.unpack_from("<I", data, 20)[0]) & 0xFFFF
    if magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return int(struct.unpack_from(">I", data, 20)[0]) & 0xFFFF
    if magic == b"\x0a\x0d\x0d\x0a":
        order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        offset = struct.unpack_from(order + "I", data, 4)[0]  # past the section header block
        while offset < len(data):
            block_type, length = struct.unpack_from(order + "II", data, offset)
            if block_type == 1:  # interface description block
                return int(struct.unpack_from(order + "H", data, offset + 8)[0])
            offset += length
    raise ValueError(f"{path}: no link type found")


def extract(cases: dict[str, Any], savefiles: Path) -> dict[str, Any]:
    accept = [{key: block[key] for key in ACCEPT_FIELDS}
              for block in cases["accept"] if block["DLT"] in TIER1]
    outside = [{"name": block["name"], "DLT": block["DLT"], "aliases": block["aliases"]}
               for block in cases["accept"] if block["DLT"] not in TIER1]
    linktypes = {name: savefile_linktype(savefiles / name)
                 for name in sorted({block["savefile"] for block in cases["apply"]})}
    apply = [dict(block, DLT=TIER1_LINKTYPES[linktypes[block["savefile"]]])
             for block in cases["apply"] if linktypes[block["savefile"]] in TIER1_LINKTYPES]
    reject = [block for block in cases["reject"]
              if block["DLT"] in TIER1 and block["savefile"] is None]
    return {"source": SOURCE, "tier1": list(TIER1), "accept": accept, "apply": apply,
            "reject": reject, "outside": outside}


def render(fixture: dict[str, Any]) -> str:
    """JSON with one case per line, so a change upstream shows as a small diff."""
    parts = []
    for key in sorted(fixture):
        value = fixture[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            rows = ",\n".join(json.dumps(row, sort_keys=True) for row in value)
            parts.append(f"{json.dumps(key)}: [\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write(shared: Path, output: Path) -> list[Path]:
    """Write the fixture from ``shared`` into ``output``; return the files written."""
    cases = json.loads((shared / "cases.json").read_text(encoding="utf-8"))
    fixture = extract(cases, shared / "savefiles")
    output.mkdir(parents=True, exist_ok=True)
    written = [output / "cases.json"]
    written[0].write_text(render(fixture), encoding="utf-8", newline="\n")
    (output / "savefiles").mkdir(exist_ok=True)
    for name in sorted({block["savefile"] for block in fixture["apply"]}):
        shutil.copyfile(shared / "savefiles" / name, output / "savefiles" / name)
        written.append(output / "savefiles" / name)
    return written


def main(argv: list[str]) -> int:
    shared = Path(argv[0]) if argv else DEFAULT_SHARED
    output = Path(argv[1]) if len(argv) > 1 else HERE
    for path in write(shared.resolve(), output):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
