"""``pcapy -L`` (``--list-data-link-types``) and ``-y``/``--linktype``, against tcpdump 4.99.

tcpdump 4.99.3 writes ``-L``'s list to standard error (4.99.4 and later, and pcapy, to standard
output), so the comparisons join tcpdump's two streams. The one intended difference: a link
type pcapy's decoder cannot print is marked ``(printing not supported)`` where tcpdump, which
prints more, has no mark (on this kind of machine none is left since pcapy prints NFLOG);
``PRINTED_BY_TCPDUMP_ONLY`` names those and the comparison accounts for each. Captures send only to 127.0.0.1, a few datagrams.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pcapy
import pcapy._libpcap as libpcap_module
from cli.live_cli import run_listening
from helpers import udp_burst
from pcapy._cli._common import CommandError
from pcapy._cli._linktypes import (
    EXTRA_LINKTYPES,
    LINKTYPE_DESCRIPTIONS,
    LINKTYPES_BY_NAME,
    datalink_line,
    linktype_name,
    parse_linktype,
)

ENV = {**os.environ, "TZ": "UTC"}
NOT_PRINTED = " (printing not supported)"
#: link types tcpdump prints and pcapy's decoder does not (their -L lines differ by the mark)
PRINTED_BY_TCPDUMP_ONLY: set[str] = set()


def pcapy_cmd(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pcapy", *args], capture_output=True,
                          text=True, env=ENV, timeout=timeout, check=False)


def tcpdump_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tcpdump", *args], capture_output=True, text=True, env=ENV,
                          timeout=30, check=False)


def needs_root() -> None:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("live capture needs root (CAP_NET_RAW and CAP_NET_ADMIN)")


# -- names and descriptions, checked against libpcap's own tables ------------------------------
def libpcap_names() -> tuple[Any, Any]:
    loaded = libpcap_module.load()
    return loaded.ffi, loaded.lib


@pytest.mark.usefixtures("libpcap")
def test_descriptions_are_libpcaps() -> None:
    ffi, lib = libpcap_names()
    for name, description in LINKTYPE_DESCRIPTIONS.items():
        dlt = LINKTYPES_BY_NAME[name]
        assert ffi.string(lib.pcap_datalink_val_to_name(dlt)).decode() == name
        libpcap_description = lib.pcap_datalink_val_to_description(dlt)
        assert ffi.string(libpcap_description).decode() == description, name


@pytest.mark.usefixtures("libpcap")
def test_names_never_contradict_libpcaps() -> None:
    # Each side knows some names the other lacks (libpcap 1.10.3: the Juniper types; pcapy:
    # newer ones like USB_2_0_LOW_SPEED); where both name a value, the names agree.
    ffi, lib = libpcap_names()
    both = 0
    for dlt in range(512):
        theirs = lib.pcap_datalink_val_to_name(dlt)
        ours = linktype_name(dlt)
        if theirs != ffi.NULL and ours is not None:
            assert ffi.string(theirs).decode() == ours, dlt
            both += 1
    assert both >= 90


@pytest.mark.usefixtures("libpcap")
def test_extra_names_have_libpcaps_values() -> None:
    _ffi, lib = libpcap_names()
    for name, dlt in EXTRA_LINKTYPES.items():
        assert lib.pcap_datalink_name_to_val(name.encode()) == dlt
        assert linktype_name(dlt) == name


@pytest.mark.parametrize(("text", "dlt"), [
    ("EN10MB", 1), ("en10mb", 1), ("Linux_Sll2", 276), ("linux_sll", 113), ("docsis", 143),
    ("NFLOG", 239), ("ipv4", 228), ("RAW", pcapy.DLT_RAW),
    ("DLT_EN10MB", 1), ("1", 1), ("276", 276),  # beyond tcpdump, as before
])
def test_y_takes_tcpdumps_names_in_any_case(text: str, dlt: int) -> None:
    assert parse_linktype(text) == dlt


@pytest.mark.parametrize("text", ["FOO", "", "-1", "EN10MB ", "DLT_", "ETHERNET"])
def test_y_refuses_unknown_names(text: str) -> None:
    with pytest.raises(CommandError, match=f"^invalid data link type {text}$"):
        parse_linktype(text)


def test_list_lines() -> None:
    assert datalink_line(1) == "  EN10MB (Ethernet)"
    assert datalink_line(276) == "  LINUX_SLL2 (Linux cooked v2)"
    assert datalink_line(143) == "  DOCSIS (DOCSIS)" + NOT_PRINTED
    assert datalink_line(239) == "  NFLOG (Linux netfilter log messages)"
    assert datalink_line(100_000) == "  DLT 100000" + NOT_PRINTED


# -- errors, exactly as tcpdump words them -----------------------------------------------------
@pytest.mark.tools
@pytest.mark.parametrize("option", [("-y", "FOO"), ("--linktype=nosuchtype",), ("-y", "")])
def test_an_unknown_name_fails_like_tcpdump(tcpdump: str, tmp_path: Path,
                                           option: tuple[str, ...]) -> None:
    # checked before anything is opened, even for a file that -y does not apply to
    path = tmp_path / "empty.pcap"
    with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 100):
        pass
    ours = pcapy_cmd(*option, "-r", str(path))
    theirs = tcpdump_cmd(*option, "-r", str(path))
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (1, "")
    assert ours.stderr == theirs.stderr.replace("tcpdump: ", "pcapy: ")


@pytest.mark.tools
@pytest.mark.live
@pytest.mark.parametrize("linktype", ["LINUX_SLL", "ieee802_11", "DOCSIS"])
def test_a_link_type_the_device_lacks_fails_like_tcpdump(tcpdump: str, linktype: str) -> None:
    needs_root()
    ours = pcapy_cmd("-i", "lo", "-c", "1", "-y", linktype)
    theirs = tcpdump_cmd("-i", "lo", "-c", "1", "-y", linktype)
    assert ours.returncode == theirs.returncode == 1
    expected = f"{linktype.upper()} is not one of the DLTs supported by this device"
    assert ours.stderr == f"pcapy: {expected}\n"
    assert theirs.stderr == f"tcpdump: {expected}\n"


@pytest.mark.live
def test_listing_a_missing_device_is_one_error_line() -> None:
    needs_root()
    result = pcapy_cmd("-L", "-i", "nosuchdev0")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["pcapy: nosuchdev0: No such device exists"]


# -- -L ----------------------------------------------------------------------------------------
def listable_devices() -> list[str]:
    try:
        return sorted(pcapy.findalldevs())
    except pcapy.PcapError:
        return ["lo"]


def expected_from_tcpdump(result: subprocess.CompletedProcess[str]) -> str:
    """tcpdump's -L text with pcapy's mark added to the types only tcpdump prints."""
    lines = (result.stdout + result.stderr).splitlines(keepends=True)
    for index, line in enumerate(lines):
        name = line.split(" (")[0].strip()
        if line.startswith("  ") and name in PRINTED_BY_TCPDUMP_ONLY:
            lines[index] = line.rstrip("\n") + NOT_PRINTED + "\n"
    return "".join(lines)


@pytest.mark.tools
@pytest.mark.live
@pytest.mark.parametrize("device", listable_devices())
@pytest.mark.parametrize("flag", ["-L", "--list-data-link-types"])
def test_list_equals_tcpdumps(tcpdump: str, device: str, flag: str) -> None:
    needs_root()
    theirs = tcpdump_cmd("-L", "-i", device)
    ours = pcapy_cmd(flag, "-i", device)
    assert ours.returncode == theirs.returncode
    if theirs.returncode != 0:  # a device neither can open (down, no D-Bus, no Bluetooth...)
        assert ours.stdout == ""
        assert ours.stderr.startswith("pcapy: ")
        return
    assert ours.stderr == ""
    assert ours.stdout == expected_from_tcpdump(theirs)
    assert ours.stdout.startswith(f"Data link types for {device} (use option -y to set):\n")


@pytest.mark.live
def test_list_wins_over_d_with_a_device_and_a_file_ignores_it(tmp_path: Path) -> None:
    needs_root()
    listed = pcapy_cmd("-L", "-d", "-i", "lo", "udp")
    assert listed.stdout == "Data link types for lo (use option -y to set):\n  EN10MB (Ethernet)\n"
    path = tmp_path / "one.pcap"
    with pcapy.Dumper(str(path), pcapy.DLT_EN10MB, 100) as dumper:
        dumper.dump(pcapy.Pkthdr(1, 0, 3, 3), b"abc")
    read = pcapy_cmd("-L", "-r", str(path))
    assert read.returncode == 0
    assert "Data link types" not in read.stdout + read.stderr


# -- -y with -d: the program is compiled for the chosen link type ------------------------------
@pytest.mark.tools
@pytest.mark.live
@pytest.mark.parametrize("options", [
    ("-i", "any"),  # tcpdump 4.99 picks LINUX_SLL2 on "any" and says so
    ("-i", "any", "-y", "linux_sll"),
    ("-i", "any", "--linktype=LINUX_SLL2"),
    ("-i", "lo", "-y", "EN10MB"),
    ("-y", "linux_sll2"),  # no device: compiled for that type, nothing said
])
def test_d_compiles_for_the_chosen_type_like_tcpdump(tcpdump: str,
                                                     options: tuple[str, ...]) -> None:
    needs_root()
    ours = pcapy_cmd("-d", *options, "udp port 53")
    theirs = tcpdump_cmd("-d", *options, "udp port 53")
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr.replace("tcpdump: ", "pcapy: ")


# -- -y on a live capture: the packets have the chosen link-layer header ----------------------
@pytest.fixture
def udp_port() -> Iterator[int]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    yield sink.getsockname()[1]
    sink.close()


def capture_as_text(args: list[str], port: int) -> subprocess.CompletedProcess[str]:
    """``pcapy *args`` run until done, with five datagrams to ``port`` once it listens."""
    result = run_listening(args, lambda: send_now(port))
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(),
                                       result.stderr.decode())


def send_now(port: int) -> None:
    """Five datagrams to 127.0.0.1:port (the capture listens already)."""
    udp_burst(port, count=5, payload=b"linktype").join()


@pytest.mark.live
@pytest.mark.parametrize(("options", "dlt", "said"), [
    ((), pcapy.DLT_LINUX_SLL2, "pcapy: data link type LINUX_SLL2"),
    (("-y", "linux_sll"), pcapy.DLT_LINUX_SLL, "pcapy: data link type LINUX_SLL"),
    (("--linktype", "Linux_SLL2"), pcapy.DLT_LINUX_SLL2, "pcapy: data link type LINUX_SLL2"),
])
def test_capturing_on_any_with_a_link_type(tmp_path: Path, udp_port: int,
                                           options: tuple[str, ...], dlt: int,
                                           said: str) -> None:
    needs_root()
    out = tmp_path / "any.pcap"
    result = capture_as_text(["-i", "any", *options, "-c", "3", "-w", str(out),
                              f"udp dst port {udp_port} and dst host 127.0.0.1"], udp_port)
    assert result.returncode == 0, result.stderr
    errors = result.stderr.splitlines()
    assert errors[0] == said
    assert errors[1].startswith(f"listening on any, link-type {linktype_name(dlt)} (")
    with pcapy.open_offline(str(out)) as reader:
        assert reader.datalink() == dlt
        packets = [data for _hdr, data in reader]
    assert len(packets) == 3
    assert all(data.endswith(b"linktype") for data in packets)
    header = 16 if dlt == pcapy.DLT_LINUX_SLL else 20
    assert all(len(data) == header + 20 + 8 + len(b"linktype") for data in packets)


@pytest.mark.live
def test_printing_a_capture_with_another_link_type(udp_port: int) -> None:
    needs_root()
    result = capture_as_text(["-i", "any", "-y", "LINUX_SLL", "-c", "2", "-t",
                              f"udp dst port {udp_port} and dst host 127.0.0.1"], udp_port)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    pattern = rf"IP 127\.0\.0\.1\.\d+ > 127\.0\.0\.1\.{udp_port}: UDP, length 8"
    assert all(re.fullmatch(pattern, line) for line in lines), lines
