"""Filters on pcapng files whose interfaces have several link types (issue 11, item 9).

A filter expression is compiled once per link type (and section byte order) of the file's
interfaces, and each packet goes through the program of its own interface's link type, in every
way of reading (the generated record loop with the filter inlined or called, and the careful
path). libpcap stops reading such a file at the first interface of another link type, so the
reference is tcpdump on the file split by interface: each interface's packets written to a
classic pcap file of their own, in their section's byte order (by the tests' own writer), which
tcpdump reads and filters for that link type with libpcap's savefile rules.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import pcapy
from helpers import Trickle, pcap_bytes, pcapng_block, read_all, udp_frame

pytestmark = pytest.mark.usefixtures("libpcap")

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
EXAMPLE = CORPUS / "pcapng" / "pcapng-example.pcapng"  # EN10MB, then LINUX_SLL
MANY = CORPUS / "pcapng" / "many_interfaces-1.pcapng"  # EN10MB interfaces and a NULL one
SLL2 = CORPUS / "pcap" / "sll2.pcap"
ETHERNET = CORPUS / "pcap" / "example.pcap"
MERGE = REPO / "examples" / "merge_pcapng.py"

InterfaceKey = tuple[int, int]  # (section, interface id)
Packet = tuple[Any, bytes]


def need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"the conformance corpus is not at {CORPUS}")
    return path


# -- the ways of reading ---------------------------------------------------------------------
def by_iteration(reader: pcapy.Reader) -> list[Packet]:
    return list(reader)


def by_loop(reader: pcapy.Reader) -> list[Packet]:
    out: list[Packet] = []
    reader.loop(-1, lambda hdr, data: out.append((hdr, data)))
    return out


def by_dispatch(reader: pcapy.Reader) -> list[Packet]:
    out: list[Packet] = []
    while reader.dispatch(7, lambda hdr, data: out.append((hdr, data))):
        pass
    return out


def by_turns(reader: pcapy.Reader) -> list[Packet]:
    """next, loop, dispatch and iteration by turns, each from where the last one stopped."""
    out: list[Packet] = []
    keep: Callable[[Any, bytes], None] = lambda hdr, data: out.append((hdr, data))  # noqa: E731
    while True:
        before = len(out)
        hdr, data = reader.next()
        if hdr is not None:
            out.append((hdr, data))
        reader.loop(5, keep)
        reader.dispatch(3, keep)
        out.extend(packet for _, packet in zip(range(4), reader))
        if len(out) == before:
            return out


WAYS = [by_iteration, read_all, by_loop, by_dispatch, by_turns]


def batch_count(reader: pcapy.Reader) -> int:
    """How many packets ``next_batch`` delivers (its metadata: 16 bytes a packet)."""
    total = 0
    while True:
        _buffer, meta = reader.next_batch(50)
        if not meta:
            return total
        total += len(meta) // 16


def per_interface(packets: list[Packet]) -> Counter[InterfaceKey]:
    return Counter((hdr.interface.section, hdr.interface.id) for hdr, _ in packets)


def opened(path: Path, step: Optional[int]) -> pcapy.Reader:
    """The file, or a stream of it in chunks of ``step`` bytes (1: the careful path only)."""
    if step is None:
        return pcapy.open_offline(str(path))
    return pcapy.open_offline(Trickle(path.read_bytes(), step))


# -- the reference: tcpdump on the file split by interface -----------------------------------
def split_by_interface(path: Path, directory: Path) -> dict[InterfaceKey, Path]:
    """Each interface's packets in a classic pcap file of its own, with the interface's
    LINKTYPE and snapshot length, in its section's byte order (libpcap's savefile rules
    depend on it); time stamps are the packets' numbers (a filter never reads them)."""
    packets: dict[InterfaceKey, list[tuple[int, int, bytes, int]]] = {}
    interfaces: dict[InterfaceKey, Any] = {}
    with pcapy.open_offline(str(path)) as reader:
        for hdr, data in reader:
            interface = hdr.interface
            key = (interface.section, interface.id)
            interfaces[key] = interface
            records = packets.setdefault(key, [])
            records.append((len(records), 0, data, hdr.getlen()))
    files = {}
    for key, records in packets.items():
        interface = interfaces[key]
        files[key] = directory / f"{path.stem}-{path.parent.name}-{key[0]}-{key[1]}.pcap"
        files[key].write_bytes(pcap_bytes(records, linktype=interface.linktype,
                                          snaplen=interface.snapshot,
                                          order=interface.byte_order))
    return files


def tcpdump_count(tcpdump: str, path: Path, expression: str) -> Optional[int]:
    """tcpdump's packet count, or None when it cannot compile the filter for the file."""
    done = subprocess.run([tcpdump, "-nr", str(path), expression], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        assert "pcap_loop" not in done.stderr, done.stderr  # not a read error: a filter one
        return None
    return len(done.stdout.splitlines())


def tcpdump_counts(
    tcpdump: str, files: dict[InterfaceKey, Path], expression: str
) -> dict[InterfaceKey, Optional[int]]:
    return {key: tcpdump_count(tcpdump, path, expression) for key, path in files.items()}


def accepted(counts: dict[InterfaceKey, Optional[int]]) -> Counter[InterfaceKey]:
    """What pcapy must give: tcpdump's count per interface (none where it cannot compile)."""
    return Counter({key: count for key, count in counts.items() if count})


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("split")


@pytest.fixture(scope="module")
def example_split(split_dir: Path) -> dict[InterfaceKey, Path]:
    return split_by_interface(need(EXAMPLE), split_dir)


@pytest.fixture(scope="module")
def many_split(split_dir: Path) -> dict[InterfaceKey, Path]:
    return split_by_interface(need(MANY), split_dir)


# -- the tests -------------------------------------------------------------------------------
#: A filter the record loop calls rather than inlines (its program loops: ip6 protochain).
CALLED = "ip6 protochain 17 or tcp[13] & 8 != 0"


def test_the_called_filter_is_called():
    program = pcapy.compile(pcapy.DLT_EN10MB, 262144, CALLED, 1, 0)
    assert program.inline_statements([(0, "yield")]) is None


def test_the_files_have_several_link_types():
    for path in (EXAMPLE, MANY):
        with pcapy.open_offline(str(need(path))) as reader:
            dlts = {hdr.interface.dlt for hdr, _ in reader}
            assert len(dlts) == 2
            # datalink() is the first interface's; each header names its own
            assert reader.datalink() == reader.interfaces[0].dlt


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("step", [None, 1, 997])
@pytest.mark.parametrize("expression", ["tcp", "ip", "not ip", "", CALLED])
def test_pcapng_example_per_interface_as_tcpdump(tcpdump, example_split, way, step, expression):
    reference = accepted(tcpdump_counts(tcpdump, example_split, expression))
    assert reference  # the filter has packets to keep
    reader = opened(EXAMPLE, step)
    reader.setfilter(expression)
    assert per_interface(way(reader)) == reference


@pytest.mark.parametrize("compiler", ["auto", "pcapy"])
def test_pcapng_example_tcp_count_as_tcpdump_every_way(tcpdump, example_split, compiler):
    expected = sum(accepted(tcpdump_counts(tcpdump, example_split, "tcp")).values())
    # (next_batch cannot take this file: its SLL interface's time stamps are past 2**32 s)
    for way in WAYS:
        reader = pcapy.open_offline(str(EXAMPLE))
        reader.setfilter("tcp", compiler=compiler)
        assert len(way(reader)) == expected


@pytest.mark.parametrize("way", WAYS)
def test_an_empty_filter_keeps_every_packet_of_many_interfaces(way):
    everything = len(read_all(pcapy.open_offline(str(need(MANY)))))
    reader = pcapy.open_offline(str(MANY))
    reader.setfilter("")
    assert len(way(reader)) == everything
    reader = pcapy.open_offline(str(MANY))
    reader.setfilter("")
    assert batch_count(reader) == everything


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("step", [None, 1])
def test_an_expression_a_link_type_cannot_have_rejects_its_packets(tcpdump, many_split, way,
                                                                   step):
    # "ether multicast" means nothing on DLT_NULL: tcpdump refuses it for that interface's
    # file, and pcapy rejects that interface's packets (the Ethernet ones are filtered), saying
    # so once with libpcap's reason.
    counts = tcpdump_counts(tcpdump, many_split, "ether multicast")
    assert None in counts.values()
    assert any(counts.values())
    reader = opened(MANY, step)
    reader.setfilter("ether multicast")
    with pytest.warns(pcapy.PcapWarning) as warned:
        assert per_interface(way(reader)) == accepted(counts)
    assert [str(w.message) for w in warned] == [
        "the filter cannot be compiled for link type NULL (pcapng interface 10 of section 0): "
        "link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/"
        "802.11/ATM LANE/Fibre Channel; its packets are rejected"
    ]
    reader = opened(MANY, step)
    reader.setfilter("ether multicast")
    with pytest.warns(pcapy.PcapWarning):
        assert batch_count(reader) == sum(accepted(counts).values())


def test_a_compiled_program_runs_on_its_own_link_type_only(tcpdump, example_split):
    program = pcapy.compile(pcapy.DLT_EN10MB, 262144, "tcp", 1, 0)
    counts = tcpdump_counts(tcpdump, example_split, "tcp")
    for way in WAYS:
        reader = pcapy.open_offline(str(EXAMPLE))
        reader.setfilter(program)
        got = per_interface(way(reader))
        assert got == Counter({key: n for key, n in counts.items() if key == (0, 0)})


def test_a_filter_set_midway_applies_per_link_type_from_there():
    push = "tcp[13] & 8 != 0"
    everything = read_all(pcapy.open_offline(str(need(EXAMPLE))))
    reader = pcapy.open_offline(str(EXAMPLE))
    first = [reader.next() for _ in range(40)]
    reader.setfilter(push)
    rest = list(reader)
    # the reference: each packet through the expression compiled for its interface's link type
    dlts = {h.interface.dlt for h, _ in everything}
    programs = {dlt: pcapy.BPFProgram(push, dlt) for dlt in dlts}
    expected = [p for p in everything[40:] if programs[p[0].interface.dlt].filter(p[1])]
    assert [d for _, d in first] == [d for _, d in everything[:40]]
    assert [d for _, d in rest] == [d for _, d in expected]
    assert {h.interface.dlt for h, _ in rest} == {1, 113}


def merged_file(directory: Path) -> Path:
    """examples/merge_pcapng.py over an SLL2 capture and an Ethernet one."""
    output = directory / "merged.pcapng"
    subprocess.run([sys.executable, str(MERGE), str(output), str(need(SLL2)),
                    str(need(ETHERNET))], check=True, capture_output=True)
    return output


@pytest.mark.parametrize("way", WAYS)
def test_a_merge_of_sll2_and_ethernet_keeps_every_ip_packet(tcpdump, tmp_path, way):
    merged = merged_file(tmp_path)
    expected = {dlt: tcpdump_count(tcpdump, path, "ip")
                for dlt, path in ((276, SLL2), (1, ETHERNET))}
    assert all(expected.values())
    reader = pcapy.open_offline(str(merged))
    assert reader.datalink() == 276  # the first interface's: the SLL2 capture's
    reader.setfilter("ip")
    got = Counter(hdr.interface.dlt for hdr, _ in way(reader))
    assert got == Counter(expected)
    reader = pcapy.open_offline(str(merged))
    reader.setfilter("ip")
    assert batch_count(reader) == sum(expected.values())  # type: ignore[arg-type]


def test_loop_filtered_sees_the_packets_of_every_link_type(tcpdump, example_split):
    expected = sum(accepted(tcpdump_counts(tcpdump, example_split, "tcp")).values())
    reader = pcapy.open_offline(str(EXAMPLE))
    reader.setfilter("tcp")
    seen: list[int] = []
    stats = reader.loop_filtered(-1, lambda hdr, data, kind: seen.append(kind))
    assert stats[0] + stats[1] == expected  # admitted + dropped: every packet the filter kept
    assert reader.filtered_stats() == stats
    assert len(seen) == stats[0]


# -- sections in both byte orders: DLT_NULL's address family is compiled per section ---------
AF_INET, BSD_AF_INET6 = 2, 24
IPV4 = udp_frame(b"ipv4")[14:]
IPV6 = b"\x60" + bytes(39) + b"ipv6"


def null_packets(order: str) -> list[bytes]:
    """DLT_NULL frames as a machine of byte order ``order`` writes them: 3 IPv4, 2 IPv6."""
    def frame(family: int, packet: bytes) -> bytes:
        return struct.pack(order + "I", family) + packet

    return [frame(AF_INET, IPV4)] * 3 + [frame(BSD_AF_INET6, IPV6)] * 2


def mixed_order_null_pcapng() -> bytes:
    out = b""
    for order in "<>":
        out += pcapng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)
        out += pcapng_block(1, struct.pack(order + "HHI", 0, 0, 0), order)  # LINKTYPE_NULL
        for n, frame in enumerate(null_packets(order)):
            fixed = struct.pack(order + "IIIII", 0, 0, n, len(frame), len(frame))
            out += pcapng_block(6, fixed + frame, order)
    return out


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("step", [None, 1])
@pytest.mark.parametrize("expression", ["ip", "ip6"])
def test_each_section_s_byte_order_gets_its_own_program(tcpdump, tmp_path, way, step,
                                                          expression):
    expected = Counter[InterfaceKey]()
    for section, order in enumerate("<>"):  # each section as the classic pcap file it would be
        path = tmp_path / f"section{section}.pcap"
        path.write_bytes(pcap_bytes([(n, 0, frame, len(frame))
                                     for n, frame in enumerate(null_packets(order))],
                                    linktype=0, order=order))
        expected[(section, 0)] = tcpdump_count(tcpdump, path, expression) or 0
    assert all(expected.values())
    data = mixed_order_null_pcapng()
    reader = pcapy.open_offline(io.BytesIO(data) if step is None else Trickle(data, step))
    reader.setfilter(expression)
    assert per_interface(way(reader)) == expected
    reader = pcapy.open_offline(io.BytesIO(data) if step is None else Trickle(data, step))
    reader.setfilter(expression)
    assert batch_count(reader) == sum(expected.values())


# -- every corpus file with several link types -----------------------------------------------
def several_link_types() -> list[str]:
    """The corpus's pcapng files whose packets come with more than one link type."""
    found = []
    for path in sorted(p for p in (CORPUS / "pcapng").rglob("*") if p.is_file()):
        try:
            with pcapy.open_offline(str(path)) as reader:
                dlts = {hdr.interface.dlt for hdr, _ in reader if hdr.interface is not None}
        except pcapy.SavefileError:
            continue  # a file no reader opens (test_corpus.py checks how it is refused)
        if len(dlts) > 1:
            found.append(str(path.relative_to(CORPUS)))
    return found


SEVERAL = several_link_types() if CORPUS.is_dir() else []


def test_the_corpus_has_files_of_several_link_types_and_byte_orders():
    need(EXAMPLE)
    assert {"pcapng/pcapng-example.pcapng", "pcapng/many_interfaces-1.pcapng",
            "pcapng/pcapng-test-generator/le/test202.pcapng",
            "pcapng/pcapng-test-generator/be/test202.pcapng"} <= set(SEVERAL)


@pytest.mark.parametrize("name", SEVERAL)
def test_every_file_of_several_link_types_filters_as_tcpdump(tcpdump, tmp_path, name):
    path = CORPUS / name
    files = split_by_interface(path, tmp_path)
    for expression in ("", "ip", "ip6", "tcp", "udp", "not ip", "len > 100"):
        reference = accepted(tcpdump_counts(tcpdump, files, expression))
        for way, step in ((by_iteration, None), (by_loop, None), (by_iteration, 1)):
            reader = opened(path, step)
            reader.setfilter(expression)
            assert per_interface(way(reader)) == reference, (expression, way.__name__, step)


# -- a link type pcapy's compiler does not implement -----------------------------------------
def ethernet_then_usb() -> bytes:
    """An Ethernet interface and a LINKTYPE_USB_LINUX one (189), one IPv4 packet on each."""
    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for linktype in (1, 189):
        out += pcapng_block(1, struct.pack("<HHI", linktype, 0, 0))
    for if_id, frame in ((0, udp_frame(b"e")), (1, bytes(48) + udp_frame(b"u")[14:])):
        out += pcapng_block(6, struct.pack("<IIIII", if_id, 0, 0, len(frame), len(frame)) + frame)
    return out


@pytest.mark.parametrize("way", WAYS)
def test_a_link_type_the_compiler_lacks_is_rejected_with_a_warning(way):
    reader = pcapy.open_offline(io.BytesIO(ethernet_then_usb()))
    reader.setfilter("ip", compiler="pcapy")  # the first interface's: EN10MB, implemented
    with pytest.warns(pcapy.PcapWarning, match="link type USB_LINUX .*not supported by pcapy's "
                      r"filter compiler: link type 189 \(libpcap compiles it\)"):
        got = way(reader)
    assert [hdr.interface.dlt for hdr, _ in got] == [pcapy.DLT_EN10MB]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("name", ["pcapng-example.pcapng",
                                  "pcapng-test-generator/le/test202.pcapng"])
def test_the_warning_made_an_error_is_shown_and_the_read_goes_on(way, name):
    # The warning comes in the middle of a read (blocks consumed, a generator running): raised
    # there it would leave the read half done (an interface read twice, a generator ended), so
    # where a warnings filter makes it an error it is shown instead, and the packets are the
    # ones an unfiltered warning gives.
    path = need(CORPUS / "pcapng" / name)
    reader = pcapy.open_offline(str(path))
    reader.setfilter("ether multicast or ip")
    with pytest.warns(pcapy.PcapWarning):
        expected = [(hdr.interface.id, data) for hdr, data in way(reader)]
    interfaces = len(reader.interfaces)
    reader = pcapy.open_offline(str(path))
    reader.setfilter("ether multicast or ip")
    shown: list[str] = []
    with warnings.catch_warnings():  # restores showwarning too
        warnings.simplefilter("error")
        warnings.showwarning = lambda message, *_args, **_kwargs: shown.append(str(message))
        got = [(hdr.interface.id, data) for hdr, data in way(reader)]
    assert got == expected
    assert len(reader.interfaces) == interfaces
    assert shown
    assert all(text.startswith("the filter cannot be compiled for link type") for text in shown)


@pytest.mark.parametrize("name", ["pcapng-example.pcapng", "many_interfaces-1.pcapng",
                                  "pcapng-test-generator/be/test202.pcapng"])
def test_ranges_of_a_file_filter_as_the_whole_file(name):
    # a range reader starts with its section's header and interfaces: its first link type may
    # be another than the file's, and every range filters each packet by its own link type
    path = str(need(CORPUS / "pcapng" / name))
    whole = pcapy.open_offline(path)
    whole.setfilter("ip or ether multicast")
    with pytest.warns(pcapy.PcapWarning):
        expected = [data for _, data in whole]
    got: list[bytes] = []
    for byte_range in pcapy.split(path, 3):
        reader = pcapy.read_range(path, byte_range)
        reader.setfilter("ip or ether multicast")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pcapy.PcapWarning)  # warned again per range
            got += [data for _, data in reader]
    assert got == expected


def test_a_file_of_many_link_types_warns_a_few_lines():
    # 200 interfaces of link types no compiler knows (LINKTYPE 1000-1199), a packet on each,
    # then one on the Ethernet interface: MAX_WARNINGS warnings, one for the rest, and the
    # Ethernet packet filtered as ever.
    from pcapy._savefile._pcapng_filters import MAX_WARNINGS  # noqa: PLC0415

    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    linktypes = [1, *range(1000, 1200)]
    for linktype in linktypes:
        out += pcapng_block(1, struct.pack("<HHI", linktype, 0, 0))
    frame = udp_frame(b"x")
    for if_id in [*range(1, len(linktypes)), 0]:
        out += pcapng_block(6, struct.pack("<IIIII", if_id, 0, 0, len(frame), len(frame)) + frame)
    reader = pcapy.open_offline(io.BytesIO(out))
    reader.setfilter("ip")
    with pytest.warns(pcapy.PcapWarning) as warned:
        got = [hdr.interface.id for hdr, _ in reader]
    assert got == [0]
    assert len(warned) == MAX_WARNINGS + 1
    assert f"more than {MAX_WARNINGS} of the file's link types" in str(warned[-1].message)
