"""Filtering savefiles in libpcap (offloaded) and in Python give the same packets, errors and
positions; switching between them mid-file loses nothing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import pcapy
from conftest import CORPUS, corpus_files, manifest
from helpers import pcap_bytes, udp_frame
from pcapy import _offload

pytestmark = pytest.mark.usefixtures("libpcap")


@pytest.fixture(params=["offloaded", "python"])
def mode(request, monkeypatch) -> str:
    if request.param == "python":
        monkeypatch.setenv(_offload.ENV_PURE, "1")
    else:
        monkeypatch.delenv(_offload.ENV_PURE, raising=False)
    return request.param


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    rng = random.Random(7)
    records = []
    for i in range(30000):
        port = rng.choice([53, 80, 80, 443, 8080])
        frame = udp_frame(i.to_bytes(4, "big") * rng.randint(1, 40), dport=port)
        records.append((1_700_000_000 + i, i % 1_000_000, frame, len(frame)))
    path = tmp_path_factory.mktemp("offload") / "many.pcap"
    path.write_bytes(pcap_bytes(records))
    return path


def index_of(hdr: pcapy.Pkthdr) -> int:
    return hdr.getts()[0] - 1_700_000_000


def uses_offload(reader: pcapy.Reader) -> bool:
    return type(reader._source._records).__name__ == "OffloadedRecords"


def test_offload_is_used_for_plain_files_only(many: Path, mode: str):
    reader = pcapy.open_offline(str(many))
    reader.setfilter("udp port 80")
    assert uses_offload(reader) == (mode == "offloaded")
    with open(many, "rb") as f:
        from_object = pcapy.open_offline(f)
        from_object.setfilter("udp port 80")
        assert not uses_offload(from_object)


def test_same_packets_in_both_modes(many: Path, mode: str):
    reader = pcapy.open_offline(str(many))
    reader.setfilter("udp port 80 or udp port 53")
    got = [(index_of(h), h.getcaplen(), d) for h, d in reader]
    reference = pcapy.BPFProgram("udp port 80 or udp port 53")
    with pcapy.open_offline(str(many)) as plain:
        expected = [(index_of(h), h.getcaplen(), d) for h, d in plain if reference.filter(d)]
    assert got == expected


def test_switching_filters_mid_batch_keeps_the_position(many: Path, mode: str):
    reader = pcapy.open_offline(str(many))
    seen = [index_of(reader.next()[0]) for _ in range(3)]  # unfiltered
    reader.setfilter("udp port 80")
    seen += [index_of(reader.next()[0]) for _ in range(5000)]  # crosses a batch boundary
    switch_at = seen[-1]
    reader.setfilter("udp port 53")
    first_53 = index_of(reader.next()[0])
    with pcapy.open_offline(str(many)) as plain:
        ports = [int.from_bytes(d[36:38], "big") for _, d in plain]
    assert seen[:3] == [0, 1, 2]
    assert seen[3:] == [i for i, p in enumerate(ports) if p == 80 and i > 2][:5000]
    assert first_53 == next(i for i, p in enumerate(ports) if p == 53 and i > switch_at)


def test_loop_count_breakloop_and_dispatch(many: Path, mode: str):
    reader = pcapy.open_offline(str(many))
    reader.setfilter("udp port 443")
    got: list[int] = []
    reader.loop(10, lambda h, d: got.append(index_of(h)))
    assert len(got) == 10

    def stop_at_twenty(h, d):
        got.append(index_of(h))
        if len(got) == 20:
            reader.breakloop()

    reader.loop(-1, stop_at_twenty)
    assert len(got) == 20
    assert reader.dispatch(5, lambda h, d: got.append(index_of(h))) == 5
    got.append(index_of(reader.next()[0]))
    got += [index_of(h) for h, _ in reader]
    with pcapy.open_offline(str(many)) as plain:
        expected = [index_of(h) for h, d in plain if int.from_bytes(d[36:38], "big") == 443]
    assert got == expected


BROKEN_PCAP = [p for p in corpus_files("broken", "pcap") if manifest()[p]["libpcap_result"] == "error"]


@pytest.mark.parametrize("name", BROKEN_PCAP)
def test_damaged_files_fail_the_same_way_in_both_modes(name: str, mode: str):
    path = CORPUS / name

    def read(filtered: bool) -> tuple[list[tuple[int, int]], str]:
        reader = pcapy.open_offline(str(path))
        if filtered:
            reader.setfilter("len >= 0")  # matches every packet
        packets: list[tuple[int, int]] = []
        try:
            for hdr, _ in reader:
                packets.append(hdr.getts())
        except pcapy.PcapError as err:
            return packets, str(err)
        return packets, ""

    assert read(True) == read(False)
