"""The public surface: pcapy's names and call shapes, plus the documented extras."""

from __future__ import annotations

import inspect

import pcapy

PCAPY_FUNCTIONS = ["open_live", "open_offline", "lookupdev", "findalldevs", "compile", "create"]
PCAPY_CONSTANTS = {
    "DLT_NULL": 0, "DLT_EN10MB": 1, "DLT_IEEE802": 6, "DLT_ARCNET": 7, "DLT_SLIP": 8, "DLT_PPP": 9,
    "DLT_FDDI": 10, "DLT_ATM_RFC1483": 11, "DLT_RAW": 12, "DLT_PPP_SERIAL": 50, "DLT_PPP_ETHER": 51,
    "DLT_C_HDLC": 104, "DLT_IEEE802_11": 105, "DLT_LOOP": 108, "DLT_LINUX_SLL": 113, "DLT_LTALK": 114,
    "PCAP_D_INOUT": 0, "PCAP_D_IN": 1, "PCAP_D_OUT": 2,
}
READER_METHODS = [
    "dispatch", "loop", "next", "stats", "setfilter", "getfd", "set_snaplen", "set_promisc",
    "set_timeout", "set_buffer_size", "activate", "getnet", "getmask", "datalink", "getnonblock",
    "setnonblock", "dump_open", "close", "set_rfmon", "setdirection", "sendpacket", "__enter__", "__exit__",
]


def test_pcapy_functions_and_classes_exist():
    for name in PCAPY_FUNCTIONS:
        assert callable(getattr(pcapy, name)), name
    for name in ("Reader", "Dumper", "Pkthdr", "BPFProgram", "Bpf", "PcapError", "BPFError"):
        assert hasattr(pcapy, name), name


def test_pcapy_constants_have_libpcaps_values():
    for name, value in PCAPY_CONSTANTS.items():
        assert getattr(pcapy, name) == value, name


def test_reader_dumper_pkthdr_bpf_methods():
    for name in READER_METHODS:
        assert callable(getattr(pcapy.Reader, name)), name
    for name in ("dump", "close"):
        assert callable(getattr(pcapy.Dumper, name))
    for name in ("getts", "getcaplen", "getlen"):
        assert callable(getattr(pcapy.Pkthdr, name))
    assert callable(pcapy.BPFProgram.filter) and callable(pcapy.BPFProgram.get_bpf)


def test_call_shapes_accept_pcapys_positional_arguments():
    assert list(inspect.signature(pcapy.compile).parameters)[:5] == [
        "linktype", "snaplen", "expression", "optimize", "netmask"]
    assert len(inspect.signature(pcapy.open_live).parameters) >= 4
    assert list(inspect.signature(pcapy.Reader.loop).parameters)[1:3] == ["cnt", "callback"]


def test_all_names_exist_and_are_unique():
    assert len(set(pcapy.__all__)) == len(pcapy.__all__)
    for name in pcapy.__all__:
        assert hasattr(pcapy, name), name


def test_exception_tree():
    assert issubclass(pcapy.BPFError, pcapy.PcapError)
    for name in ("LibpcapNotFoundError", "SavefileError", "CaptureError", "NoSuchDeviceError",
                 "TruncatedSavefileError", "UnknownFormatError", "MalformedSavefileError"):
        assert issubclass(getattr(pcapy, name), pcapy.PcapError), name
    assert issubclass(pcapy.CapturePermissionError, PermissionError)
    assert pcapy.PcapError.__module__ == "pcapy"
    assert issubclass(pcapy.PcapWarning, UserWarning)


def test_public_classes_report_module_pcapy():
    for cls in (pcapy.Reader, pcapy.Dumper, pcapy.Pkthdr, pcapy.BPFProgram):
        assert cls.__module__ == "pcapy"


def test_dir_shows_the_public_names_only():
    """dir(pcapy) lists pcapy's API, not the helpers __init__ imports (issue 11, item 5)."""
    names = dir(pcapy)
    assert set(pcapy.__all__) <= set(names)
    assert {"annotations", "TYPE_CHECKING", "Any"}.isdisjoint(names)
    assert [name for name in names if name.startswith("_") and not name.startswith("__")] == []
    assert "__version__" in names
