"""libpcap's TESTrun filter cases (tests/data/filtertests) and the packets they are run over.

``accept_cases()`` turns every tier-1 accept block into one ``Case`` per alias; ``packets_for()``
gives, for a link type, a fixed sample of real packets: the corpus's captures of that link type
(``../shared/corpus``) and of the filter-test savefiles, Ethernet ones re-framed for the other
tier-1 link types, and a few truncations of each, plus packets generated from the expression's
own constants (``generators.PacketGenerator``).
"""

from __future__ import annotations

import csv
import functools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pcapy
from filter.differential import EDGE_PACKETS
from filter.generators import EN10MB, Case, PacketGenerator, corpus_reframed, seeds_from_expression
from filter.oracle import TESTRUN_SNAPLEN, dlt_value, parse_netmask

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "data" / "filtertests"
CORPUS = (HERE.parents[1] / ".." / "shared" / "corpus").resolve()
GEN_OFF = {None: None, "unswapped": False, "swapped": True}

CORPUS_SAMPLE = 400  # real packets per link type (before truncations)
GENERATED_PER_CASE = 120


@functools.cache
def fixture() -> dict[str, Any]:
    return json.loads((FIXTURE / "cases.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class TestrunCase:
    """One expression of a TESTrun accept block, as compiled for the comparison."""

    block: str
    case: Case
    snaplen: int

    @property
    def label(self) -> str:
        return f"{self.block}: {self.case.expression!r}"


def accept_cases() -> list[TestrunCase]:
    cases = []
    for block in fixture()["accept"]:
        for expression in block["aliases"]:
            case = Case(expression, dlt_value(block["DLT"]), parse_netmask(block["netmask"]),
                        GEN_OFF[block["gen_off"]])
            cases.append(TestrunCase(block["name"], case, block["snaplen"] or TESTRUN_SNAPLEN))
    return cases


def _single_linktype_files() -> Iterator[tuple[Path, int]]:
    """Corpus files that libpcap reads to the end and that hold one link type."""
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        return
    with open(manifest, encoding="utf-8") as f:
        rows = csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t")
        for row in rows:
            linktypes = row["linktypes_in_file"].split(",")
            if row["libpcap_result"] in ("eof", "error") and len(linktypes) == 1 and linktypes[0]:
                yield CORPUS / row["path"], int(row["libpcap_linktype"].split(":")[0])


def _read_packets(path: Path) -> list[tuple[bytes, int]]:
    packets = []
    try:
        reader = pcapy.open_offline(str(path))
        while True:
            header, data = reader.next()
            if header is None:
                break
            packets.append((bytes(data), header.getlen()))
    except pcapy.PcapError:
        pass
    return packets


@functools.cache
def real_packets() -> dict[int, list[tuple[bytes, int]]]:
    """Every distinct packet of the corpus and the filter-test savefiles, by DLT."""
    by_dlt: dict[int, dict[bytes, int]] = {}
    sources = list(_single_linktype_files())
    sources += [(path, EN10MB) for path in sorted((FIXTURE / "savefiles").iterdir())]
    for path, linktype in sources:
        dlt = 12 if linktype == 101 else linktype  # LINKTYPE_RAW is DLT_RAW (12) here
        for data, wirelen in _read_packets(path):
            by_dlt.setdefault(dlt, {}).setdefault(data, wirelen)
    return {dlt: list(packets.items()) for dlt, packets in by_dlt.items()}


@functools.cache
def corpus_sample(dlt: int) -> tuple[tuple[bytes, int], ...]:
    """A fixed sample of real packets for ``dlt``, with truncations of some of them."""
    rng = random.Random(f"corpus-{dlt}")
    packets = list(real_packets().get(dlt, []))
    if dlt != EN10MB:  # Ethernet captures' network layers under this link layer
        for data, wirelen in real_packets().get(EN10MB, []):
            framed = corpus_reframed(data, dlt, rng)
            if framed is not None:
                packets.append((framed, wirelen - len(data) + len(framed)))
    rng.shuffle(packets)
    sample = packets[:CORPUS_SAMPLE]
    for data, wirelen in sample[: CORPUS_SAMPLE // 4]:
        for cut in sorted({rng.randrange(len(data) + 1) for _ in range(3)}):
            sample.append((data[:cut], wirelen))
    return tuple(sample)


def packets_for(case: Case, count: int = GENERATED_PER_CASE) -> list[tuple[bytes, int]]:
    """Real packets of the case's link type plus ``count`` generated from its constants."""
    rng = random.Random(f"{case.expression}|{case.dlt}")
    generator = PacketGenerator(rng, seeds_from_expression(case.expression))
    generated = [generator.packet(case.dlt, case.savefile_swapped) for _ in range(count)]
    return [*corpus_sample(case.dlt), *generated, *EDGE_PACKETS]


def corpus_present() -> bool:
    return (CORPUS / "MANIFEST.tsv").is_file()
