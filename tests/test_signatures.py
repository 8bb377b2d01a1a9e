"""Call signatures: every public callable has the parameters we document, and pcapy's calls work.

pcapy's C functions take positional arguments only (``loop(cnt=1)`` was a TypeError there); ours
take them positionally with pcapy's arity *and* by the names below. ``SIGNATURES`` lists every
public function in ``pcapy.__all__`` and every public method of the classes, and a test checks
the list is complete, so a new method or a renamed parameter has to be written down here.
"""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import pcapy
from conftest import is_root, libpcap_available
from helpers import pcap_bytes, sample_records

# name -> the parameters, as inspect.signature prints them without annotations or self
SIGNATURES: dict[str, str] = {
    # pcapy's functions
    "open_live": "(device, snaplen, promisc, to_ms)",
    "open_offline": "(filename)",
    "create": "(device)",
    "compile": "(linktype, snaplen, expression, optimize, netmask, *, compiler='auto')",
    "findalldevs": "()",
    "lookupdev": "()",
    # extensions
    "list_devices": "()",
    "datalink_name": "(dlt)",
    "merge_by_time": "(inputs, output, *, file_format='pcapng', precision=None)",
    "capture_parallel": "(device, *, handler=None, workers=None, filter=None, snaplen=262144, "
                        "promisc=False, buffer_size=None, immediate=False, fanout_mode=0, "
                        "fanout_flags=32768, "
                        "group_id=None, netns=None, worker_files=None, output=None, "
                        "duration=None)",
    # Reader: pcapy's methods ...
    "Reader.dispatch": "(cnt, callback)",
    "Reader.loop": "(cnt, callback)",
    "Reader.next": "()",
    "Reader.stats": "()",
    "Reader.setfilter": "(expression, optimize=1, netmask=None, *, compiler='auto')",
    "Reader.getfd": "()",
    "Reader.set_snaplen": "(snaplen)",
    "Reader.set_promisc": "(promisc)",
    "Reader.set_timeout": "(timeout)",
    "Reader.set_buffer_size": "(buffer_size)",
    "Reader.set_rfmon": "(rfmon)",
    "Reader.activate": "()",
    "Reader.getnet": "()",
    "Reader.getmask": "()",
    "Reader.datalink": "()",
    "Reader.getnonblock": "()",
    "Reader.setnonblock": "(state)",
    "Reader.dump_open": "(target, *, precision=None, format=None)",
    "Reader.close": "()",
    "Reader.setdirection": "(direction)",
    "Reader.sendpacket": "(data)",
    "Reader.__enter__": "()",
    "Reader.__exit__": "(*exc_info)",
    # captures as tables and byte ranges (docs/tables.md)
    "Reader.to_arrow": "(batch_size=65536, columns=None, decode=True)",
    "split": "(path, n, index=None)",
    "build_index": "(path, out=None)",
    "read_range": "(path, byte_range)",
    "to_parquet": "(path_or_reader, out, *, batch_size=65536, columns=None, decode=True, "
                  "filter=None, compression='zstd')",
    "write_arrow": "(table_or_batches, path, *, format=None)",
    # ... pcapy-ng's and ours
    "Reader.next_batch": "(max_packets)",
    "Reader.loop_filtered": "(cnt, cb, admit_mask=7, addr_set=b'', flow_cutoff=0, "
                            "dpi_ports=None, tls_ports=None, dns_port=53, l2_offset=14, "
                            "profile=0)",
    "Reader.loop_to_buffer": "(cnt, writable_buf, admit_mask=7, addr_set=b'', flow_cutoff=0, "
                             "dpi_ports=None, tls_ports=None, dns_port=53, l2_offset=14, "
                             "profile=0)",
    "Reader.filtered_stats": "()",
    "Reader.geterr": "()",
    "Reader.breakloop": "()",
    "Reader.snapshot": "()",
    "Reader.get_tstamp_precision": "()",
    "Reader.set_immediate_mode": "(immediate)",
    "Reader.set_tstamp_precision": "(precision)",
    "Reader.set_tstamp_type": "(tstamp_type)",
    "Reader.list_datalinks": "()",
    "Reader.set_datalink": "(dlt)",
    "Reader.set_fanout": "(group_id, fanout_type=0, flags=0)",
    "Reader.__iter__": "()",
    "Reader.__aiter__": "()",
    # Dumper
    "Dumper": "(target, linktype=1, snaplen=65535, *, precision=None, format=None)",
    "Dumper.dump": "(header, data)",
    "Dumper.flush": "()",
    "Dumper.close": "()",
    "Dumper.__enter__": "()",
    "Dumper.__exit__": "(*exc_info)",
    # Pkthdr and its nanosecond kinds
    "Pkthdr": "(sec=0, usec=0, caplen=0, len=0, *, nsec=None)",
    "Pkthdr.getts": "()",
    "Pkthdr.getcaplen": "()",
    "Pkthdr.getlen": "()",
    "Pkthdr.getts_ns": "()",
    "Pkthdr.replace": "(**changes)",
    # BPFProgram (and its alias Bpf)
    "BPFProgram": "(expression, linktype=1, *, compiler='auto')",
    "BPFProgram.filter": "(packet)",
    "BPFProgram.get_bpf": "()",
    "BPFProgram.from_instructions": "(instructions, linktype=1)",
    "BPFProgram.inline_statements": "(deliver)",
    # records
    "Device": "(name, description, addresses, flags)",
    "DeviceAddress": "(family, address, netmask=None, broadcast=None, destination=None)",
}
CLASSES = ("Reader", "Dumper", "Pkthdr", "BPFProgram", "Device", "DeviceAddress")
TUPLE_METHODS = frozenset(("count", "index"))  # Pkthdr is a tuple


def resolve(name: str) -> Callable[..., Any]:
    obj: Any = pcapy
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]


def plain(signature: inspect.Signature) -> str:
    """The signature without annotations, return annotation or ``self``."""
    params = [p.replace(annotation=inspect.Parameter.empty)
              for p in signature.parameters.values() if p.name != "self"]
    return str(signature.replace(parameters=params, return_annotation=inspect.Signature.empty))


def public_callables() -> Iterator[str]:
    for name in pcapy.__all__:
        obj = getattr(pcapy, name)
        if inspect.isfunction(obj):
            yield name
    for cls_name in CLASSES:
        cls = getattr(pcapy, cls_name)
        for attr, value in vars(cls).items():
            wrapped = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
            if inspect.isfunction(wrapped) and (not attr.startswith("_") or attr in (
                    "__enter__", "__exit__", "__iter__", "__aiter__")):
                yield f"{cls_name}.{attr}"


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_has_the_documented_parameters(name: str) -> None:
    assert plain(inspect.signature(resolve(name))) == SIGNATURES[name]


def test_every_public_callable_is_listed() -> None:
    missing = sorted(set(public_callables()) - set(SIGNATURES))
    assert missing == [], f"add these to SIGNATURES: {missing}"


def test_nanosecond_headers_and_the_alias_share_the_signatures() -> None:
    assert pcapy.Bpf is pcapy.BPFProgram
    for cls in (pcapy.NanoPkthdr, pcapy.PcapngPkthdr):
        assert plain(inspect.signature(cls)) == SIGNATURES["Pkthdr"]
        for method in ("getts", "getcaplen", "getlen", "getts_ns"):
            assert plain(inspect.signature(getattr(cls, method))) == "()"
    assert set(dir(pcapy.Pkthdr)) - set(dir(tuple)) >= {"getts", "getcaplen", "getlen"}
    assert TUPLE_METHODS <= set(dir(pcapy.Pkthdr))


# -- calls with pcapy's arity, positionally, and by keyword -----------------------------------
@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "five.pcap"
    path.write_bytes(pcap_bytes(sample_records(5)))
    return path


def test_offline_calls_with_pcapys_arity(capture: Path, tmp_path: Path) -> None:
    got: list[int] = []
    cb = lambda hdr, data: got.append(hdr.getcaplen())  # noqa: E731
    reader = pcapy.open_offline(str(capture))
    hdr, data = reader.next()
    assert hdr.getts() == (1_700_000_000, 0) and hdr.getcaplen() == len(data) == hdr.getlen()
    assert reader.dispatch(1, cb) == 1
    reader.loop(1, cb)
    assert len(got) == 2
    assert reader.datalink() == pcapy.DLT_EN10MB
    assert (reader.getnet(), reader.getmask(), reader.getnonblock()) == ("0.0.0.0", "0.0.0.0", 0)
    assert reader.setnonblock(0) is None
    assert reader.getfd() >= 0
    dumper = reader.dump_open(str(tmp_path / "out.pcap"))
    dumper.dump(hdr, data)
    dumper.close()
    assert reader.__enter__() is reader
    assert reader.__exit__(None, None, None) is None
    assert reader.close() is None


def test_offline_calls_by_keyword(capture: Path, tmp_path: Path) -> None:
    got: list[bytes] = []
    reader = pcapy.open_offline(filename=str(capture))
    assert reader.dispatch(cnt=1, callback=lambda h, d: got.append(d)) == 1
    reader.loop(cnt=1, callback=lambda h, d: got.append(d))
    assert len(reader.next_batch(max_packets=2)[1]) == 32
    reader.setnonblock(state=0)
    with reader.dump_open(target=str(tmp_path / "k.pcapng"), precision="nano",
                          format="pcapng") as dumper:
        dumper.dump(header=pcapy.Pkthdr(sec=1, usec=2, caplen=1, len=1), data=b"x")
    assert [d for _, d in pcapy.open_offline(tmp_path / "k.pcapng")] == [b"x"]
    with pcapy.Dumper(target=io.BytesIO(), linktype=pcapy.DLT_RAW, snaplen=100) as dumper:
        dumper.flush()


def test_pkthdr_and_dumper_positionally(tmp_path: Path) -> None:
    hdr = pcapy.Pkthdr(10, 20, 3, 30)
    assert (hdr.getts(), hdr.getcaplen(), hdr.getlen()) == ((10, 20), 3, 30)
    with pcapy.Dumper(str(tmp_path / "p.pcap"), pcapy.DLT_EN10MB, 65535) as dumper:
        dumper.dump(hdr, b"abc")
    [(back, data)] = list(pcapy.open_offline(str(tmp_path / "p.pcap")))
    assert back == hdr and data == b"abc"


needs_libpcap = pytest.mark.skipif(not libpcap_available(),
                                   reason="libpcap cannot be loaded on this machine")


@needs_libpcap
def test_filters_with_pcapys_arity(capture: Path) -> None:
    program = pcapy.compile(pcapy.DLT_EN10MB, 65535, "udp dst port 80", 1, 0)
    assert program == pcapy.compile(linktype=pcapy.DLT_EN10MB, snaplen=65535,
                                    expression="udp dst port 80", optimize=1, netmask=0)
    assert isinstance(program.get_bpf(), list)
    packet = next(iter(pcapy.open_offline(str(capture))))[1]
    assert program.filter(packet) > 0 and program.filter(packet=packet) > 0
    assert pcapy.BPFProgram("udp").get_bpf() == pcapy.BPFProgram("udp", 1).get_bpf()
    assert pcapy.BPFProgram(expression="udp", linktype=pcapy.DLT_EN10MB) == \
        pcapy.BPFProgram("udp")
    reader = pcapy.open_offline(str(capture))
    reader.setfilter("udp dst port 81")  # pcapy: exactly one argument
    reader.setfilter(expression="udp dst port 81", optimize=1, netmask=0)
    assert [h.getlen() for h, _ in reader] == [44]


@needs_libpcap
def test_created_handle_calls_with_pcapys_arity() -> None:
    reader = pcapy.create("lo")
    try:
        for method, value in (("set_snaplen", 100), ("set_promisc", 0), ("set_timeout", 10),
                              ("set_buffer_size", 1 << 20), ("set_rfmon", 0)):
            assert getattr(reader, method)(value) == 0, method
        assert reader.set_snaplen(snaplen=200) == 0
        assert reader.set_timeout(timeout=20) == 0
        assert reader.set_immediate_mode(immediate=1) == 0
    finally:
        reader.close()


@pytest.mark.live
@pytest.mark.skipif(not (libpcap_available() and is_root()),
                    reason=f"live capture needs root and libpcap; running as uid {os.geteuid()}")
def test_live_calls_with_pcapys_arity_and_keywords() -> None:
    for reader in (pcapy.open_live("lo", 100, 0, 10),
                   pcapy.open_live(device="lo", snaplen=100, promisc=0, to_ms=10)):
        with reader:
            reader.setfilter("udp dst port 9")
            assert reader.setdirection(pcapy.PCAP_D_INOUT) is None
            assert reader.setdirection(direction=pcapy.PCAP_D_IN) is None
            assert len(reader.stats()) == 3
            assert reader.next() == (None, b"")  # to_ms passes: pcapy's "no packet"
            assert reader.dispatch(1, lambda h, d: None) == 0
            assert reader.activate() == pcapy.PCAP_ERROR_ACTIVATED
    reader = pcapy.create(device="lo")
    assert reader.activate() == 0
    reader.close()
