"""``Reader.list_datalinks()`` and ``Reader.set_datalink()``: savefiles, handle states, bad
arguments, and live devices checked against ``tcpdump -L`` and against what is captured.

libpcap is the reference throughout: a savefile offers only its own link type (libpcap's
``pcap_list_datalinks`` on a savefile answers that, and ``pcap_set_datalink`` refuses any other
with "<NAME> is not one of the DLTs supported by this device"); a live device offers what the
kernel lets libpcap choose from. On Linux ``lo`` offers EN10MB only, an Ethernet device (eth0,
a veth) EN10MB and DOCSIS (which libpcap only pretends: the frames stay Ethernet), and ``any``
LINUX_SLL and LINUX_SLL2, the one device where switching changes the bytes captured. Traffic
goes only to 127.0.0.1 or stays inside the test's own network namespaces, in bounded bursts.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import pcapy
import pcapy._libpcap as libpcap_module
from conftest import CORPUS, manifest
from helpers import pcap_bytes, sample_records
from live.lab import (
    BROADCAST_MAC,
    LOOPBACK,
    WAIT,
    NetnsLab,
    in_netns,
    lab_frame,
    markers,
    payloads,
    send_udp,
)

EN10MB, DOCSIS = pcapy.DLT_EN10MB, 143
SLL, SLL2 = pcapy.DLT_LINUX_SLL, pcapy.DLT_LINUX_SLL2
NOT_OFFERED = "is not one of the DLTs supported by this device"


# -- libpcap as the reference ------------------------------------------------------------------
def libpcap_on_savefile(path: Path, dlt: int) -> tuple[list[int], int, str]:
    """What libpcap itself answers for a savefile: its list, and ``pcap_set_datalink(dlt)``'s
    status and message (called through pcapy's private cffi binding, for reference only)."""
    loaded = libpcap_module.load()
    ffi, lib = loaded.ffi, loaded.lib
    errbuf = ffi.new("char[]", 256)
    pcap = lib.pcap_open_offline(str(path).encode(), errbuf)
    if pcap == ffi.NULL:
        pytest.skip(f"libpcap cannot open {path.name}: {ffi.string(errbuf).decode()}")
    try:
        array_out = ffi.new("int **")
        count = lib.pcap_list_datalinks(pcap, array_out)
        assert count > 0
        listed = [array_out[0][index] for index in range(count)]
        lib.pcap_free_datalinks(array_out[0])
        status = lib.pcap_set_datalink(pcap, dlt)
        return listed, status, ffi.string(lib.pcap_geterr(pcap)).decode()
    finally:
        lib.pcap_close(pcap)


def tcpdump_link_types(device: str, *prefix: str) -> list[str]:
    """The link-type names ``tcpdump -L -i device`` prints (it exits 1 if it cannot open it)."""
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed")
    result = subprocess.run([*prefix, "tcpdump", "-L", "-i", device], capture_output=True,
                            text=True, timeout=30, check=False)
    if result.returncode != 0:
        return []
    text = result.stdout + result.stderr  # 4.99.3 prints the list on stderr, later on stdout
    return re.findall(r"^  (\S+)", text, flags=re.MULTILINE)


def names(dlts: list[int]) -> list[str]:
    return [{DOCSIS: "DOCSIS"}.get(dlt, pcapy.datalink_name(dlt)) for dlt in dlts]


@pytest.fixture
def savefile(tmp_path: Path) -> Path:
    path = tmp_path / "five.pcap"
    path.write_bytes(pcap_bytes(sample_records(5)))
    return path


# -- savefiles ---------------------------------------------------------------------------------
def test_a_savefile_offers_only_its_own_link_type(savefile: Path) -> None:
    with pcapy.open_offline(str(savefile)) as reader:
        assert reader.list_datalinks() == [EN10MB]
        reader.set_datalink(EN10MB)  # its own type: accepted, nothing changes
        assert reader.datalink() == EN10MB
        assert len(list(reader)) == 5


@pytest.mark.parametrize(("dlt", "message"), [
    (SLL, f"LINUX_SLL {NOT_OFFERED}"),
    (pcapy.DLT_IEEE802_11_RADIO, f"IEEE802_11_RADIO {NOT_OFFERED}"),
    (-5, f"DLT -5 {NOT_OFFERED}"),
    (100_000, f"DLT 100000 {NOT_OFFERED}"),
])
def test_a_savefile_refuses_other_link_types_with_libpcaps_message(
        savefile: Path, dlt: int, message: str) -> None:
    listed, status, libpcap_message = libpcap_on_savefile(savefile, dlt)
    assert (listed, status, libpcap_message) == ([EN10MB], -1, message)
    with pcapy.open_offline(str(savefile)) as reader:
        with pytest.raises(pcapy.PcapError) as info:
            reader.set_datalink(dlt)
        assert str(info.value) == message
        assert reader.datalink() == EN10MB
        assert len(list(reader)) == 5  # the reader is still usable


def corpus_savefiles() -> list[str]:
    """A spread of link types from the corpus: classic pcap, and pcapng with several."""
    wanted = ["pcap/sll2.pcap", "pcap/LINKTYPE_IPV4.pcap", "pcapng/NullLoopback.pcap",
              "pcap/tcp-handshake-nano.pcap"]
    if not CORPUS.is_dir():
        return wanted
    rows = manifest()
    mixed = [path for path, row in rows.items()  # libpcap opens these, then stops reading
             if row["format"] == "pcapng" and "," in row["linktypes_in_file"]]
    return wanted + sorted(mixed)[:3]


@pytest.mark.parametrize("name", corpus_savefiles())
def test_corpus_savefiles_list_what_libpcap_lists(name: str) -> None:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"the conformance corpus is not at {CORPUS} (need {name})")
    listed, status, _message = libpcap_on_savefile(path, SLL2)
    with pcapy.open_offline(str(path)) as reader:
        assert reader.list_datalinks() == listed == [reader.datalink()]
        if listed != [SLL2]:
            assert status == -1
            with pytest.raises(pcapy.PcapError, match=NOT_OFFERED):
                reader.set_datalink(SLL2)


# -- handle states and bad arguments (no privilege needed) -------------------------------------
def test_an_unactivated_handle_refuses_both() -> None:
    # libpcap: pcap_list_datalinks returns PCAP_ERROR_NOT_ACTIVATED; pcap_set_datalink has no
    # list yet and would claim the type is unsupported. pcapy says what is wrong for both.
    with pcapy.create("lo") as reader:
        for call in (reader.list_datalinks, lambda: reader.set_datalink(EN10MB)):
            with pytest.raises(pcapy.HandleStateError, match="hasn't been activated"):
                call()
        assert reader.datalink() == pcapy.PCAP_ERROR_NOT_ACTIVATED


def test_a_closed_reader_raises_value_error(savefile: Path) -> None:
    readers = [pcapy.create("lo"), pcapy.open_offline(str(savefile))]
    for reader in readers:
        reader.close()
        for call in (reader.list_datalinks, lambda: reader.set_datalink(EN10MB),
                     lambda: reader.set_datalink("EN10MB")):  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="^pcap is closed$"):
                call()


@pytest.mark.parametrize("bad", ["EN10MB", 1.0, None, b"\x01", [1]])
def test_set_datalink_wants_an_int(savefile: Path, bad: Any) -> None:
    with pcapy.create("lo") as live, pcapy.open_offline(str(savefile)) as offline:
        for reader in (live, offline):
            with pytest.raises(TypeError, match="dlt must be an int"):
                reader.set_datalink(bad)


def test_set_datalink_wants_a_c_int(savefile: Path) -> None:
    with pcapy.create("lo") as live, pcapy.open_offline(str(savefile)) as offline:
        for reader in (live, offline):
            for value in (1 << 31, -(1 << 31) - 1):
                with pytest.raises(ValueError, match="dlt must fit in a C int"):
                    reader.set_datalink(value)
            with pytest.raises(TypeError):
                reader.list_datalinks(1)  # type: ignore[call-arg]


def test_true_is_link_type_1_as_everywhere_else(savefile: Path) -> None:
    with pcapy.open_offline(str(savefile)) as reader:
        reader.set_datalink(True)  # bool is an int, as for every other int argument


# -- live devices ------------------------------------------------------------------------------
def open_device(device: str, to_ms: int = 20) -> pcapy.Reader:
    return pcapy.open_live(device, 65535, 0, to_ms)


@pytest.mark.live
def test_loopback_offers_ethernet_only() -> None:
    with open_device("lo") as reader:
        assert reader.list_datalinks() == [EN10MB]
        assert names(reader.list_datalinks()) == tcpdump_link_types("lo") == ["EN10MB"]
        reader.set_datalink(EN10MB)
        assert reader.datalink() == EN10MB
        with pytest.raises(pcapy.CaptureError) as info:
            reader.set_datalink(SLL2)
        assert str(info.value) == f"LINUX_SLL2 {NOT_OFFERED}"
        assert info.value.status == pcapy.PCAP_ERROR
        with pytest.raises(pcapy.CaptureError, match=f"^DLT -1 {NOT_OFFERED}$"):
            reader.set_datalink(-1)
        assert reader.datalink() == EN10MB


def local_devices() -> list[str]:
    try:
        return sorted(device for device in pcapy.findalldevs() if device != "lo")
    except pcapy.PcapError:
        return []


@pytest.mark.live
@pytest.mark.parametrize("device", local_devices())
def test_every_device_lists_what_tcpdump_lists(device: str) -> None:
    expected = tcpdump_link_types(device)
    if not expected:  # tcpdump could not open it (not up, no D-Bus, no Bluetooth...)
        with pytest.raises(pcapy.PcapError):
            open_device(device).close()
        return
    with open_device(device) as reader:
        assert names(reader.list_datalinks()) == expected
        assert reader.datalink() == reader.list_datalinks()[0]


@pytest.mark.live
def test_an_ethernet_device_can_claim_docsis() -> None:
    # libpcap offers DOCSIS on every Ethernet device and only relabels: nothing is sent here.
    offering = [device for device in local_devices() if device != "any"
                and tcpdump_link_types(device) == ["EN10MB", "DOCSIS"]]
    if not offering:
        pytest.skip("no Ethernet device to open on this machine")
    with open_device(offering[0]) as reader:
        assert reader.list_datalinks() == [EN10MB, DOCSIS]
        reader.set_datalink(DOCSIS)
        assert reader.datalink() == DOCSIS
        assert reader.list_datalinks() == [EN10MB, DOCSIS]
        reader.set_datalink(EN10MB)
        assert reader.datalink() == EN10MB


# -- "any": switching between the two cooked headers changes what is captured ---------------
def cooked_udp(data: bytes, dlt: int) -> tuple[int, bytes]:
    """The protocol and UDP payload of a LINUX_SLL or LINUX_SLL2 frame (IPv4 inside)."""
    if dlt == SLL:
        protocol, header = struct.unpack_from("!H", data, 14)[0], 16
    else:
        protocol, header = struct.unpack_from("!H", data, 0)[0], 20
    ihl = (data[header] & 0x0F) * 4
    return protocol, data[header + ihl + 8:]


def capture_burst(reader: pcapy.Reader, port: int, sent: list[bytes]) -> list[bytes]:
    """Send ``sent`` to 127.0.0.1:port and read until as many packets came (WAIT s at most)."""
    send_udp(port, sent)
    captured: list[bytes] = []
    deadline = time.monotonic() + WAIT
    while len(captured) < len(sent) and time.monotonic() < deadline:
        hdr, data = reader.next()
        if hdr is not None:
            captured.append(data)
    return captured


@pytest.mark.live
@pytest.mark.parametrize(("first", "then"), [(SLL, SLL2), (SLL2, SLL)])
def test_any_switches_cooked_header_versions(udp_port: int, tmp_path: Path, first: int,
                                             then: int) -> None:
    with open_device("any") as reader:
        assert reader.list_datalinks() == [SLL, SLL2]
        assert names(reader.list_datalinks()) == tcpdump_link_types("any")
        for index, (dlt, tag) in enumerate(((first, b"first"), (then, b"then"))):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                reader.set_datalink(dlt)
            assert len(caught) == index  # the second switch leaves the first filter stale
            assert reader.datalink() == dlt
            # compiled now, for the new type: it must find the datagrams in the new layout
            reader.setfilter(f"udp dst port {udp_port} and dst host {LOOPBACK}")
            sent = payloads(5, tag=tag, size=40)
            captured = capture_burst(reader, udp_port, sent)
            assert [cooked_udp(data, dlt) for data in captured] == [(0x0800, p) for p in sent]
            with reader.dump_open(str(tmp_path / f"{dlt}.pcap")) as dumper:
                for data in captured:
                    dumper.dump(pcapy.Pkthdr(1, 0, len(data), len(data)), data)
            with pcapy.open_offline(str(tmp_path / f"{dlt}.pcap")) as saved:
                assert saved.datalink() == dlt


@pytest.mark.live
def test_a_filter_installed_before_the_switch_is_flagged(udp_port: int) -> None:
    with open_device("any") as reader:
        reader.setfilter(f"udp dst port {udp_port}")  # compiled for LINUX_SLL
        with pytest.warns(pcapy.PcapWarning, match="compiled for link type LINUX_SLL, not "
                                                   "LINUX_SLL2: call setfilter"):
            reader.set_datalink(SLL2)
        reader.setfilter(f"udp dst port {udp_port}")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            reader.set_datalink(SLL2)  # no change of type: nothing to say
        sent = payloads(3, tag=b"refiltered", size=30)
        assert [cooked_udp(data, SLL2)[1] for data in capture_burst(reader, udp_port, sent)] \
            == sent


@pytest.mark.live
def test_a_program_for_the_old_type_is_refused_after_the_switch() -> None:
    with open_device("any") as reader:
        program = pcapy.compile(SLL, 65535, "udp", 1, 0)
        reader.setfilter(program)
        with pytest.warns(pcapy.PcapWarning):
            reader.set_datalink(SLL2)
        with pytest.raises(pcapy.BPFError, match="compiled for link type LINUX_SLL"):
            reader.setfilter(program)
        reader.setfilter(pcapy.compile(SLL2, 65535, "udp", 1, 0))


@pytest.mark.live
def test_a_closed_live_reader_raises_value_error() -> None:
    reader = open_device("lo")
    reader.close()
    for call in (reader.list_datalinks, lambda: reader.set_datalink(EN10MB)):
        with pytest.raises(ValueError, match="^pcap is closed$"):
            call()


# -- a veth in a network namespace -------------------------------------------------------------
@pytest.mark.live
def test_a_veth_offers_what_tcpdump_says_and_keeps_capturing(netns_lab: NetnsLab) -> None:
    lab = netns_lab
    expected = tcpdump_link_types(lab.dev_b, "ip", "netns", "exec", lab.ns_b)
    sniffer: pcapy.Reader = in_netns(lab.ns_b, open_device, lab.dev_b)
    sender: pcapy.Reader = in_netns(lab.ns_a, open_device, lab.dev_a)
    with sniffer, sender:
        assert names(sniffer.list_datalinks()) == expected == ["EN10MB", "DOCSIS"]
        sniffer.set_datalink(DOCSIS)
        assert sniffer.datalink() == DOCSIS
        mac_a = lab.mac(lab.ns_a, lab.dev_a)
        frames = [lab_frame(BROADCAST_MAC, mac_a, b"docsis-%d" % i) for i in range(3)]
        for frame in frames:
            sender.sendpacket(frame)
        seen = lab_markers(sniffer, 3)
    assert seen == [b"docsis-0", b"docsis-1", b"docsis-2"]  # DOCSIS is a label: same bytes


def lab_markers(reader: pcapy.Reader, count: int) -> list[bytes]:
    """The markers of the first ``count`` lab frames seen (other traffic is skipped; WAIT s at most)."""
    found: list[tuple[Any, bytes]] = []
    deadline = time.monotonic() + WAIT
    while len(found) < count and time.monotonic() < deadline:
        hdr, data = reader.next()
        if hdr is not None and data[12:14] == b"\x88\xb5":
            found.append((hdr, data))
    return markers(found)
