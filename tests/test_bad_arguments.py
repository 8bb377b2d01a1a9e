"""Bad arguments to every public call: a clear exception of the right type, never a crash.

One table, one row per (call, bad argument). A row names the call, what it is handed, the exact
exception class expected (``TypeError`` for a wrong type, ``ValueError`` for a value out of
range or a closed reader, a ``PcapError`` subclass for what libpcap or the file refuses) and a
regular expression the message must match: the argument's name, or what was wrong with it. A
row whose expected outcome is a value (huge counts are legal and mean "no limit") checks the
value instead. Nothing here may raise ``SystemError``, ``OverflowError``, ``MemoryError`` or an
``AttributeError`` from the inside, and no row may write garbage: dumped files are read back.

Rows tagged ``libpcap`` need libpcap (compilation, ``create``); rows tagged ``live`` open ``lo``
and need root. Live rows that send send to 127.0.0.1 only, a handful of datagrams.
"""

from __future__ import annotations

import array
import io
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import pcapy
from conftest import is_root, libpcap_available
from helpers import pcap_bytes, sample_records

LOOPBACK = "127.0.0.1"
C_INT = r"must fit in a C int"
CLOSED = r"^pcap is closed$"
DUMPER_CLOSED = r"^Dumper is already closed\.$"


class Env:
    """What the rows act on; each accessor builds a fresh object, closed with the test."""

    def __init__(self, tmp: Path, request: pytest.FixtureRequest) -> None:
        self.tmp = tmp
        self._request = request
        self._to_close: list[Any] = []
        self.capture = tmp / "five.pcap"
        self.capture.write_bytes(pcap_bytes(sample_records(5)))
        self.port = 0
        self._sink: Optional[socket.socket] = None

    def keep(self, obj: Any) -> Any:
        self._to_close.append(obj)
        return obj

    def offline(self) -> pcapy.Reader:
        return self.keep(pcapy.open_offline(str(self.capture)))

    def closed_offline(self) -> pcapy.Reader:
        reader = pcapy.open_offline(str(self.capture))
        reader.close()
        return reader

    def created(self) -> pcapy.Reader:
        return self.keep(pcapy.create("lo"))

    def closed_created(self) -> pcapy.Reader:
        reader = pcapy.create("lo")
        reader.close()
        return reader

    def live(self) -> pcapy.Reader:
        """``lo``, filtered to a bound UDP port on 127.0.0.1 (see ``send``)."""
        if self._sink is None:
            self._sink = self.keep(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            self._sink.bind((LOOPBACK, 0))
            self.port = self._sink.getsockname()[1]
        reader = self.keep(pcapy.open_live("lo", 65535, 0, 200))
        reader.setfilter(f"udp dst port {self.port}")
        return reader

    def closed_live(self) -> pcapy.Reader:
        reader = pcapy.open_live("lo", 65535, 0, 200)
        reader.close()
        return reader

    def send(self, count: int) -> None:
        """``count`` datagrams to 127.0.0.1 on the port ``live()`` filters for."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(count):
                sender.sendto(b"bad-arguments-%d" % i, (LOOPBACK, self.port))

    def dumper(self, name: str = "out.pcap", **kwargs: Any) -> pcapy.Dumper:
        return self.keep(pcapy.Dumper(self.tmp / name, **kwargs))

    def closed_dumper(self) -> pcapy.Dumper:
        dumper = pcapy.Dumper(self.tmp / "closed.pcap")
        dumper.close()
        return dumper

    def program(self) -> pcapy.BPFProgram:
        return pcapy.compile(pcapy.DLT_EN10MB, 65535, "udp", 1, 0)

    def close(self) -> None:
        for obj in reversed(self._to_close):
            obj.close()


@dataclass(frozen=True)
class Row:
    """One call with bad arguments and what it must do."""

    id: str
    call: Callable[[Env], object]
    raises: Optional[type[BaseException]] = None
    match: str = ""
    check: Optional[Callable[[Any, Env], None]] = None
    needs: str = ""  # "", "libpcap" or "live"
    xfail: str = ""  # the reason, for a known bug waiting on a file this suite may not edit
    marks: tuple[Any, ...] = field(default=())


def ok(expected: Any) -> Callable[[Any, Env], None]:
    def check(result: Any, _env: Env) -> None:
        assert result == expected

    return check


def same_program(linktype: int, expression: str, netmask: int) -> Callable[[Any, Env], None]:
    def check(program: Any, _env: Env) -> None:
        assert program == pcapy.compile(linktype, 65535, expression, 1, netmask)

    return check


def collect(reader: pcapy.Reader, method: str, cnt: int) -> list[bytes]:
    got: list[bytes] = []
    getattr(reader, method)(cnt, lambda _h, data: got.append(data))
    return got


def read_back(path: Path) -> list[tuple[pcapy.Pkthdr, bytes]]:
    with pcapy.open_offline(str(path)) as reader:
        return list(reader)


def dumped(name: str, header: pcapy.Pkthdr, data: Any) -> Callable[[Env], Path]:
    """Dump one packet to ``name`` (format by suffix) and return the file's path."""

    def call(env: Env) -> Path:
        with pcapy.Dumper(env.tmp / name) as dumper:
            dumper.dump(header, data)
        return env.tmp / name

    return call


def file_holds(caplen: int, length: int, data: bytes) -> Callable[[Any, Env], None]:
    """The file has exactly one packet, with these lengths and bytes (also for tcpdump)."""

    def check(path: Path, _env: Env) -> None:
        [(hdr, got)] = read_back(path)
        assert (hdr.getcaplen(), hdr.getlen(), got) == (caplen, length, data)
        if shutil.which("tcpdump"):  # optional here (test_durability requires it)
            tcpdump = subprocess.run(["tcpdump", "-r", str(path), "-nx"], capture_output=True,
                                     text=True, timeout=30, check=False)
            assert tcpdump.returncode == 0, tcpdump.stderr
            assert "truncated" not in tcpdump.stderr

    return check


def bad_text_file(env: Env, mode: str) -> Any:
    return env.keep(open(env.tmp / "text.file", mode))  # noqa: SIM115 - closed by Env


def huge_name(_env: Env) -> str:
    return "x" * 10_000


CB = lambda _h, _d: None  # noqa: E731
HDR = pcapy.Pkthdr(1, 2, 3, 3)

# Every call a reader refuses once closed, with arguments that would otherwise be valid.
READER_CALLS: dict[str, Callable[[pcapy.Reader], object]] = {
    "next": lambda r: r.next(),
    "loop": lambda r: r.loop(1, CB),
    "dispatch": lambda r: r.dispatch(1, CB),
    "next_batch": lambda r: r.next_batch(1),
    "iter": iter,
    "breakloop": lambda r: r.breakloop(),
    "setfilter": lambda r: r.setfilter("udp"),
    "datalink": lambda r: r.datalink(),
    "snapshot": lambda r: r.snapshot(),
    "get_tstamp_precision": lambda r: r.get_tstamp_precision(),
    "getfd": lambda r: r.getfd(),
    "getnet": lambda r: r.getnet(),
    "getmask": lambda r: r.getmask(),
    "getnonblock": lambda r: r.getnonblock(),
    "setnonblock": lambda r: r.setnonblock(0),
    "stats": lambda r: r.stats(),
    "dump_open": lambda r: r.dump_open(os.devnull),
    "sendpacket": lambda r: r.sendpacket(b"\x00" * 60),
    "setdirection": lambda r: r.setdirection(pcapy.PCAP_D_INOUT),
    "set_snaplen": lambda r: r.set_snaplen(100),
    "set_promisc": lambda r: r.set_promisc(0),
    "set_timeout": lambda r: r.set_timeout(10),
    "set_buffer_size": lambda r: r.set_buffer_size(1 << 20),
    "set_rfmon": lambda r: r.set_rfmon(0),
    "set_immediate_mode": lambda r: r.set_immediate_mode(1),
    "set_tstamp_precision": lambda r: r.set_tstamp_precision(0),
    "set_tstamp_type": lambda r: r.set_tstamp_type(0),
    "activate": lambda r: r.activate(),
    "__enter__": lambda r: r.__enter__(),
    "file_format": lambda r: r.file_format,
    "file_header": lambda r: r.file_header,
    "interfaces": lambda r: r.interfaces,
}
# Calls a created but not activated handle refuses with pcapy's words.
UNACTIVATED_CALLS = ("next", "loop", "dispatch", "next_batch", "iter", "setfilter", "snapshot",
                     "stats", "dump_open", "sendpacket", "setdirection")
# The C-int options of a handle before activation: a huge value names the option.
SETTERS = {"set_snaplen": "snaplen", "set_promisc": "promisc", "set_timeout": "timeout",
           "set_buffer_size": "buffer_size", "set_rfmon": "rfmon",
           "set_immediate_mode": "immediate", "set_tstamp_precision": "precision",
           "set_tstamp_type": "tstamp_type"}


def module_rows() -> Iterator[Row]:
    # -- open_offline --------------------------------------------------------------------
    yield Row("open_offline-None", lambda e: pcapy.open_offline(None), TypeError, "open_offline")
    yield Row("open_offline-int", lambda e: pcapy.open_offline(3), TypeError, "not int")
    yield Row("open_offline-NUL-str", lambda e: pcapy.open_offline("five\x00.pcap"),
              ValueError, "path must not contain NUL")
    yield Row("open_offline-NUL-bytes", lambda e: pcapy.open_offline(b"five\x00.pcap"),
              ValueError, "path must not contain NUL")
    yield Row("open_offline-text-file", lambda e: pcapy.open_offline(bad_text_file(e, "w+")),
              TypeError, "binary mode")
    yield Row("open_offline-StringIO", lambda e: pcapy.open_offline(io.StringIO("x")),
              TypeError, "binary mode")
    yield Row("open_offline-missing", lambda e: pcapy.open_offline(str(e.tmp / "nope.pcap")),
              pcapy.PcapError, r"nope\.pcap: No such file or directory")
    yield Row("open_offline-directory", lambda e: pcapy.open_offline(str(e.tmp)),
              pcapy.PcapError, "Is a directory")
    yield Row("open_offline-very-long", lambda e: pcapy.open_offline(huge_name(e)),
              pcapy.PcapError, "File name too long")
    yield Row("open_offline-non-ascii", lambda e: pcapy.open_offline(str(e.tmp / "ёжик😀")),
              pcapy.PcapError, "ёжик😀: No such file or directory")
    yield Row("open_offline-empty-name", lambda e: pcapy.open_offline(""),
              pcapy.PcapError, "No such file or directory")
    yield Row("open_offline-empty-data", lambda e: pcapy.open_offline(io.BytesIO(b"")),
              pcapy.TruncatedSavefileError, "file header")
    yield Row("open_offline-garbage", lambda e: pcapy.open_offline(io.BytesIO(b"\x00" * 64)),
              pcapy.UnknownFormatError, "unknown file format")
    yield Row("open_offline-bytes-path", lambda e: len(list(pcapy.open_offline(
        os.fsencode(e.capture)))), check=ok(5))
    # -- open_live / create: argument checks come before libpcap is touched ---------------
    yield Row("open_live-device-int", lambda e: pcapy.open_live(1, 100, 0, 10), TypeError,
              "device must be a str")
    yield Row("open_live-device-bytes", lambda e: pcapy.open_live(b"lo", 100, 0, 10), TypeError,
              "device must be a str, not bytes")
    yield Row("open_live-device-NUL", lambda e: pcapy.open_live("lo\x00x", 100, 0, 10),
              ValueError, "device name must not contain NUL")
    yield Row("open_live-device-surrogate", lambda e: pcapy.open_live("\udcff", 100, 0, 10),
              ValueError, "device name .* cannot be encoded")
    yield Row("open_live-snaplen-str", lambda e: pcapy.open_live("lo", "100", 0, 10), TypeError,
              "snaplen must be an int")
    yield Row("open_live-snaplen-None", lambda e: pcapy.open_live("lo", None, 0, 10), TypeError,
              "snaplen must be an int")
    yield Row("open_live-snaplen-huge", lambda e: pcapy.open_live("lo", 2**40, 0, 10),
              ValueError, f"snaplen {C_INT}")
    yield Row("open_live-promisc-huge", lambda e: pcapy.open_live("lo", 100, 2**40, 10),
              ValueError, f"promisc {C_INT}")
    yield Row("open_live-to_ms-huge", lambda e: pcapy.open_live("lo", 100, 0, 2**40),
              ValueError, f"to_ms {C_INT}")
    yield Row("open_live-to_ms-negative-huge", lambda e: pcapy.open_live("lo", 100, 0, -2**40),
              ValueError, f"to_ms {C_INT}")
    yield Row("open_live-to_ms-float", lambda e: pcapy.open_live("lo", 100, 0, 1.5), TypeError,
              "to_ms must be an int, not float")
    yield Row("create-device-int", lambda e: pcapy.create(1), TypeError, "device must be a str")
    yield Row("create-device-bytes", lambda e: pcapy.create(b"lo"), TypeError,
              "device must be a str")
    yield Row("create-device-NUL", lambda e: pcapy.create("\x00"), ValueError, "NUL")
    yield Row("create-device-surrogate", lambda e: pcapy.create("lo\udcff"), ValueError,
              "cannot be encoded")
    # absurd names reach libpcap, which reports them by status (create) or by exception
    for name, device in (("very-long", "x" * 10_000), ("non-ascii", "ёжик"),
                         ("emoji", "\U0001f600"), ("empty", "")):
        yield Row(f"create-{name}-activate", lambda e, d=device: e.keep(pcapy.create(d)).activate(),
                  check=ok(pcapy.PCAP_ERROR_NO_SUCH_DEVICE), needs="live")
        yield Row(f"open_live-{name}", lambda e, d=device: pcapy.open_live(d, 100, 0, 10),
                  pcapy.NoSuchDeviceError, "No such device", needs="live")
    # -- compile ---------------------------------------------------------------------------
    def comp(*args: Any) -> Callable[[Env], object]:
        return lambda e: pcapy.compile(*args)

    en = pcapy.DLT_EN10MB
    yield Row("compile-linktype-str", comp("1", 65535, "udp", 1, 0), TypeError,
              "linktype must be an int")
    yield Row("compile-linktype-huge", comp(2**40, 65535, "udp", 1, 0), ValueError,
              f"linktype {C_INT}")
    yield Row("compile-linktype-unknown", comp(9999, 65535, "udp", 1, 0), pcapy.BPFError,
              "unknown data link type 9999", needs="libpcap")
    yield Row("compile-snaplen-huge", comp(1, 2**40, "udp", 1, 0), ValueError, f"snaplen {C_INT}")
    yield Row("compile-snaplen-2**31", comp(1, 2**31, "udp", 1, 0), ValueError, "snaplen")
    yield Row("compile-snaplen-zero", comp(en, 0, "udp", 1, 0), ValueError,
              "snaplen must be positive")
    yield Row("compile-snaplen-negative", comp(en, -5, "udp", 1, 0), ValueError,
              "snaplen must be positive")
    yield Row("compile-expression-bytes", comp(en, 65535, b"udp", 1, 0), TypeError,
              "filter expression must be a str, not bytes")
    yield Row("compile-expression-None", comp(en, 65535, None, 1, 0), TypeError,
              "filter expression")
    yield Row("compile-expression-NUL", comp(en, 65535, "udp\x00tcp", 1, 0), ValueError,
              "filter expression must not contain NUL")
    yield Row("compile-expression-surrogate", comp(en, 65535, "host \udcff", 1, 0), ValueError,
              "filter expression cannot be encoded")
    yield Row("compile-expression-syntax", comp(en, 65535, "udp and", 1, 0), pcapy.BPFError,
              "syntax error", needs="libpcap")
    yield Row("compile-expression-non-ascii", comp(en, 65535, "host ёжик", 1, 0),
              pcapy.BPFError, "syntax error|unknown host", needs="libpcap")
    yield Row("compile-optimize-str", comp(en, 65535, "udp", "1", 0), TypeError,
              "optimize must be an int")
    yield Row("compile-optimize-huge", lambda e: len(pcapy.compile(en, 65535, "udp", 2**70, 0))
              > 0, check=ok(True), needs="libpcap")
    # netmask is pcapy-ng's "I": taken modulo 2**32, so -1 is PCAP_NETMASK_UNKNOWN
    yield Row("compile-netmask-negative", comp(en, 65535, "udp", 1, -1),
              check=same_program(en, "udp", 0xFFFFFFFF), needs="libpcap")
    yield Row("compile-netmask-negative-broadcast", comp(en, 65535, "ip broadcast", 1, -1),
              pcapy.BPFError, "netmask not known", needs="libpcap")
    yield Row("compile-netmask-2**32", comp(en, 65535, "ip broadcast", 1, 2**32 + 0xFF),
              check=same_program(en, "ip broadcast", 0xFF), needs="libpcap")
    yield Row("compile-netmask-str", comp(en, 65535, "udp", 1, "0"), TypeError,
              "netmask must be an int")
    yield Row("compile-too-many-arguments", comp(en, 65535, "udp", 1, 0, 9), TypeError,
              "positional argument")
    # -- device listing and names ------------------------------------------------------------
    yield Row("findalldevs-argument", lambda e: pcapy.findalldevs(1), TypeError, "findalldevs")
    yield Row("lookupdev-argument", lambda e: pcapy.lookupdev(1), TypeError, "lookupdev")
    yield Row("list_devices-argument", lambda e: pcapy.list_devices(1), TypeError,
              "list_devices")
    yield Row("datalink_name-str", lambda e: pcapy.datalink_name("1"), TypeError, "int")
    yield Row("datalink_name-None", lambda e: pcapy.datalink_name(None), TypeError, "int")


def bpf_rows() -> Iterator[Row]:
    yield Row("BPFProgram-None", lambda e: pcapy.BPFProgram(None), TypeError, "filter expression")
    yield Row("BPFProgram-bytes", lambda e: pcapy.BPFProgram(b"udp"), TypeError, "not bytes")
    yield Row("BPFProgram-NUL", lambda e: pcapy.BPFProgram("udp\x00"), ValueError, "NUL")
    yield Row("BPFProgram-syntax", lambda e: pcapy.BPFProgram("udp and"), pcapy.BPFError,
              "syntax error", needs="libpcap")
    yield Row("BPFProgram-linktype-str", lambda e: pcapy.BPFProgram("udp", "1"), TypeError,
              "linktype must be an int")
    yield Row("BPFProgram-linktype-huge", lambda e: pcapy.BPFProgram("udp", 2**40), ValueError,
              f"linktype {C_INT}")
    yield Row("BPFProgram-linktype-negative", lambda e: pcapy.BPFProgram("udp", -5),
              pcapy.BPFError, "unknown data link type -5", needs="libpcap")
    fi = pcapy.BPFProgram.from_instructions
    yield Row("from_instructions-None", lambda e: fi(None), TypeError,
              "instructions must be an iterable")
    yield Row("from_instructions-short", lambda e: fi([(1, 2, 3)]), TypeError,
              r"instruction 0 must be a \(code, jt, jf, k\) tuple")
    yield Row("from_instructions-int", lambda e: fi([6]), TypeError, "instruction 0")
    yield Row("from_instructions-str", lambda e: fi(["abcd"]), TypeError, "instruction 0")
    yield Row("from_instructions-field-str", lambda e: fi([("6", 0, 0, 0)]), TypeError,
              "instruction field must be an int")
    yield Row("from_instructions-k-huge", lambda e: fi([(6, 0, 0, 2**40)]), pcapy.BPFError,
              "does not fit struct bpf_insn")
    yield Row("from_instructions-code-negative", lambda e: fi([(-6, 0, 0, 0)]), pcapy.BPFError,
              "does not fit")
    yield Row("from_instructions-jt-huge", lambda e: fi([(0x15, 300, 0, 0), (6, 0, 0, 1)]),
              pcapy.BPFError, "does not fit")
    yield Row("from_instructions-empty", lambda e: fi([]), pcapy.BPFError, "empty")
    yield Row("from_instructions-linktype-str", lambda e: fi([(6, 0, 0, 1)], "1"), TypeError,
              "linktype")
    accept_all = fi([(0x80, 0, 0, 0), (0x16, 0, 0, 0)])  # ld #len; ret a
    yield Row("filter-str", lambda e: accept_all.filter("abc"), TypeError, "packet must be")
    yield Row("filter-None", lambda e: accept_all.filter(None), TypeError, "packet must be")
    yield Row("filter-list", lambda e: accept_all.filter([1, 2]), TypeError, "not list")
    # a view of 32-bit items is measured and indexed in bytes, not items
    yield Row("filter-memoryview-of-ints",
              lambda e: accept_all.filter(memoryview(bytearray(40)).cast("I")), check=ok(40))
    yield Row("filter-strided-memoryview",
              lambda e: fi([(0x30, 0, 0, 1), (0x16, 0, 0, 0)]).filter(memoryview(b"a\x01b\x02")[::2]),
              check=ok(ord("b")))
    yield Row("get_bpf-argument", lambda e: accept_all.get_bpf(1), TypeError, "get_bpf")


def pkthdr_rows() -> Iterator[Row]:
    P = pcapy.Pkthdr  # noqa: N806
    yield Row("Pkthdr-caplen-huge", lambda e: P(0, 0, 2**40, 0), ValueError,
              r"caplen must be in 0\.\.4294967295, got 1099511627776")
    yield Row("Pkthdr-len-negative", lambda e: P(0, 0, 0, -1), ValueError, "len must be in")
    yield Row("Pkthdr-sec-negative", lambda e: P(-1, 0, 0, 0), ValueError, "sec must be in")
    yield Row("Pkthdr-sec-2**64", lambda e: P(2**64, 0, 0, 0), ValueError, "sec must be in")
    yield Row("Pkthdr-usec-a-second", lambda e: P(0, 10**6, 0, 0), ValueError, "usec must be in")
    yield Row("Pkthdr-nsec-a-second", lambda e: P(0, caplen=0, len=0, nsec=10**9), ValueError,
              "nsec must be in")
    yield Row("Pkthdr-usec-and-nsec", lambda e: P(0, 5, 0, 0, nsec=1), ValueError,
              "either usec or nsec")
    yield Row("Pkthdr-sec-float", lambda e: P(0.5, 0, 0, 0), TypeError, "sec must be an int")
    yield Row("Pkthdr-sec-str", lambda e: P("0", 0, 0, 0), TypeError, "sec must be an int")
    yield Row("Pkthdr-caplen-None", lambda e: P(0, 0, None, 0), TypeError, "caplen")
    yield Row("Pkthdr-caplen-bool", lambda e: P(0, 0, True, 0).getcaplen(), check=ok(1))
    yield Row("Pkthdr-nsec-str", lambda e: P(0, nsec="1"), TypeError, "nsec must be an int")
    yield Row("Pkthdr-too-many", lambda e: P(0, 0, 0, 0, 0), TypeError, "positional argument")
    yield Row("Pkthdr-unknown-keyword", lambda e: P(0, ts=1), TypeError, "ts")
    yield Row("Pkthdr.replace-unknown", lambda e: P(1, 2, 3, 3).replace(foo=1), TypeError, "foo")
    yield Row("Pkthdr.replace-caplen-negative", lambda e: P(1, 2, 3, 3).replace(caplen=-1),
              ValueError, "caplen")
    yield Row("Pkthdr.replace-sec-str", lambda e: P(1, 2, 3, 3).replace(sec="x"), TypeError,
              "sec")
    for method in ("getts", "getts_ns", "getcaplen", "getlen"):
        yield Row(f"Pkthdr.{method}-argument", lambda e, m=method: getattr(P(1, 2, 3, 3), m)(1),
                  TypeError, method)


def reader_rows() -> Iterator[Row]:
    off = Env.offline
    yield Row("loop-cnt-str", lambda e: off(e).loop("1", CB), TypeError, "cnt must be an int")
    yield Row("loop-cnt-float", lambda e: off(e).loop(1.0, CB), TypeError, "cnt must be an int")
    yield Row("loop-callback-None", lambda e: off(e).loop(1, None), TypeError,
              "callback must be callable")
    yield Row("loop-cnt-huge", lambda e: len(collect(off(e), "loop", 2**70)), check=ok(5))
    yield Row("loop-cnt-negative-huge", lambda e: len(collect(off(e), "loop", -2**70)),
              check=ok(5))
    yield Row("dispatch-cnt-None", lambda e: off(e).dispatch(None, CB), TypeError, "cnt")
    yield Row("dispatch-callback-str", lambda e: off(e).dispatch(1, "cb"), TypeError,
              "callback must be callable, not str")
    yield Row("dispatch-cnt-huge", lambda e: off(e).dispatch(2**70, CB), check=ok(5))
    yield Row("dispatch-cnt-negative-huge", lambda e: off(e).dispatch(-2**70, CB), check=ok(5))
    # pcapy-ng: a count <= 0 means 256
    yield Row("next_batch-negative", lambda e: len(off(e).next_batch(-1)[1]), check=ok(5 * 16))
    yield Row("next_batch-zero", lambda e: len(off(e).next_batch(0)[1]), check=ok(5 * 16))
    yield Row("next_batch-str", lambda e: off(e).next_batch("1"), TypeError, "max_packets")
    yield Row("next_batch-huge", lambda e: len(off(e).next_batch(2**70)[1]), check=ok(5 * 16))
    yield Row("next_batch-2**31", lambda e: len(off(e).next_batch(2**31)[1]), check=ok(5 * 16))
    yield Row("next-argument", lambda e: off(e).next(1), TypeError, "argument")
    yield Row("setfilter-None", lambda e: off(e).setfilter(None), TypeError, "filter expression")
    yield Row("setfilter-bytes", lambda e: off(e).setfilter(b"udp"), TypeError, "not bytes")
    yield Row("setfilter-int", lambda e: off(e).setfilter(5), TypeError, "not int")
    yield Row("setfilter-NUL", lambda e: off(e).setfilter("udp\x00"), ValueError, "NUL")
    yield Row("setfilter-syntax", lambda e: off(e).setfilter("udp and"), pcapy.BPFError,
              "syntax error", needs="libpcap")
    yield Row("setfilter-optimize-str", lambda e: off(e).setfilter("udp", "x"), TypeError,
              "optimize")
    yield Row("setfilter-netmask-negative", lambda e: off(e).setfilter("udp", 1, -1),
              check=ok(None), needs="libpcap")
    yield Row("setfilter-netmask-huge", lambda e: off(e).setfilter("udp", 1, 2**40),
              check=ok(None), needs="libpcap")
    yield Row("setfilter-netmask-float", lambda e: off(e).setfilter("udp", 1, 1.0), TypeError,
              "netmask must be an int, not float")
    yield Row("setnonblock-str", lambda e: off(e).setnonblock("1"), TypeError, "state")
    yield Row("setnonblock-on-savefile", lambda e: off(e).setnonblock(2**70), pcapy.PcapError,
              "^Savefiles cannot be put into non-blocking mode$")
    yield Row("stats-on-savefile", lambda e: off(e).stats(), pcapy.PcapError,
              "^Statistics aren't available from savefiles$")
    yield Row("sendpacket-on-savefile", lambda e: off(e).sendpacket(b"x"), pcapy.PcapError,
              "^Sending packets isn't supported on savefiles$")
    yield Row("sendpacket-None", lambda e: off(e).sendpacket(None), TypeError, "packet data")
    yield Row("sendpacket-str", lambda e: off(e).sendpacket("x"), TypeError, "not str")
    yield Row("setdirection-on-savefile", lambda e: off(e).setdirection(1), pcapy.PcapError,
              "needs a live capture")
    yield Row("setdirection-huge-on-savefile", lambda e: off(e).setdirection(2**40),
              pcapy.PcapError, "needs a live capture")
    yield Row("set_snaplen-on-savefile", lambda e: off(e).set_snaplen(-5), pcapy.PcapError,
              "needs a live capture")
    yield Row("set_buffer_size-huge-on-savefile", lambda e: off(e).set_buffer_size(2**40),
              pcapy.PcapError, "needs a live capture")
    yield Row("activate-on-savefile", lambda e: off(e).activate(), pcapy.PcapError,
              "needs a live capture")
    # dump_open and its targets
    yield Row("dump_open-None", lambda e: off(e).dump_open(None), TypeError, "dump target")
    yield Row("dump_open-int", lambda e: off(e).dump_open(5), TypeError, "dump target .* not int")
    yield Row("dump_open-bytes-path", lambda e: off(e).dump_open(b"x.pcap"), TypeError,
              "dump target .* not bytes")
    yield Row("dump_open-NUL", lambda e: off(e).dump_open(str(e.tmp / "x\x00.pcap")),
              ValueError, "dump target path must not contain NUL")
    yield Row("dump_open-directory", lambda e: off(e).dump_open(str(e.tmp)), pcapy.PcapError,
              "Is a directory")
    yield Row("dump_open-missing-directory", lambda e: off(e).dump_open(str(e.tmp / "no/x")),
              pcapy.PcapError, "No such file or directory")
    yield Row("dump_open-very-long", lambda e: off(e).dump_open(str(e.tmp / huge_name(e))),
              pcapy.PcapError, "File name too long")
    yield Row("dump_open-precision", lambda e: off(e).dump_open(os.devnull, precision="x"),
              ValueError, "precision must be")
    yield Row("dump_open-format", lambda e: off(e).dump_open(os.devnull, format="pcapx"),
              ValueError, "format must be one of")
    yield Row("dump_open-text-file", lambda e: off(e).dump_open(bad_text_file(e, "w")),
              TypeError, "binary mode")
    yield Row("dump_open-read-only-file", lambda e: off(e).dump_open(
        e.keep(open(e.capture, "rb"))), ValueError, "not open for writing")
    yield Row("Reader-constructed", lambda e: pcapy.Reader(None), TypeError,
              "not created directly")
    for name, call in READER_CALLS.items():
        yield Row(f"closed-savefile-{name}", lambda e, c=call: c(e.closed_offline()),
                  ValueError, CLOSED)
        yield Row(f"closed-created-{name}", lambda e, c=call: c(e.closed_created()),
                  ValueError, CLOSED, needs="libpcap")
        yield Row(f"closed-live-{name}", lambda e, c=call: c(e.closed_live()),
                  ValueError, CLOSED, needs="live")
    for name in UNACTIVATED_CALLS:
        yield Row(f"unactivated-{name}", lambda e, c=READER_CALLS[name]: c(e.created()),
                  pcapy.HandleStateError, "^This handle hasn't been activated yet$",
                  needs="libpcap")
    for method, argument in SETTERS.items():
        yield Row(f"unactivated-{method}-huge", lambda e, m=method: getattr(e.created(), m)(2**40),
                  ValueError, f"{argument} {C_INT}", needs="libpcap")
        yield Row(f"unactivated-{method}-str", lambda e, m=method: getattr(e.created(), m)("1"),
                  TypeError, f"{argument} must be an int", needs="libpcap")
    # statuses, not exceptions, as in pcapy
    yield Row("unactivated-set_snaplen-negative", lambda e: e.created().set_snaplen(-5),
              check=ok(0), needs="libpcap")
    yield Row("unactivated-set_tstamp_precision-unknown",
              lambda e: e.created().set_tstamp_precision(5),
              check=ok(pcapy.PCAP_ERROR_TSTAMP_PRECISION_NOTSUP), needs="libpcap")


def live_rows() -> Iterator[Row]:
    def burst_then(method: str, cnt: int) -> Callable[[Env], object]:
        def call(env: Env) -> object:
            reader = env.live()
            env.send(3)
            if method == "loop":  # loop(huge) runs until broken: break after the third
                seen: list[bytes] = []

                def callback(_h: Any, data: bytes) -> None:
                    seen.append(data)
                    if len(seen) == 3:
                        reader.breakloop()

                reader.loop(cnt, callback)
                return len(seen)
            if method == "next_batch":
                return len(reader.next_batch(cnt)[1]) // 16
            return reader.dispatch(cnt, CB)

        return call

    yield Row("live-loop-cnt-huge", burst_then("loop", 2**70), check=ok(3), needs="live")
    yield Row("live-dispatch-cnt-huge", burst_then("dispatch", 2**70), check=ok(3), needs="live")
    yield Row("live-dispatch-cnt-negative-huge", burst_then("dispatch", -2**70), check=ok(3),
              needs="live")
    yield Row("live-next_batch-huge", burst_then("next_batch", 2**70), check=ok(3), needs="live")
    yield Row("live-next_batch-negative", lambda e: e.live().next_batch(-1)[1], check=ok(b""),
              needs="live")  # pcapy-ng's clamp to 256; nothing was sent
    yield Row("live-setdirection-huge", lambda e: e.live().setdirection(2**40), ValueError,
              f"direction {C_INT}", needs="live")
    yield Row("live-setdirection-unknown", lambda e: e.live().setdirection(99),
              pcapy.CaptureError, "Failed setting direction", needs="live")
    yield Row("live-setdirection-str", lambda e: e.live().setdirection("in"), TypeError,
              "direction must be an int", needs="live")
    yield Row("live-sendpacket-str", lambda e: e.live().sendpacket("abc"), TypeError,
              "not str", needs="live")
    yield Row("live-sendpacket-None", lambda e: e.live().sendpacket(None), TypeError,
              "not NoneType", needs="live")
    yield Row("live-sendpacket-empty", lambda e: e.live().sendpacket(b""), pcapy.CaptureError,
              "^lo: cannot send an empty packet$", needs="live")
    yield Row("live-sendpacket-too-long", lambda e: e.live().sendpacket(b"\x00" * 100_000),
              pcapy.CaptureError, "Message too long", needs="live")
    yield Row("live-setfilter-syntax", lambda e: e.live().setfilter("udp and"), pcapy.BPFError,
              "syntax error", needs="live")
    yield Row("live-setfilter-other-linktype",
              lambda e: e.live().setfilter(pcapy.compile(pcapy.DLT_RAW, 100, "udp", 1, 0)),
              pcapy.BPFError, "compiled for link type RAW, but lo captures EN10MB", needs="live")
    yield Row("live-setfilter-netmask-str", lambda e: e.live().setfilter("udp", 1, "0"),
              TypeError, "netmask must be an int", needs="live")
    yield Row("live-setnonblock-str", lambda e: e.live().setnonblock("1"), TypeError, "state",
              needs="live")
    yield Row("live-set_snaplen-after-activation", lambda e: e.live().set_snaplen(5),
              check=ok(pcapy.PCAP_ERROR_ACTIVATED), needs="live")
    yield Row("live-set_buffer_size-huge", lambda e: e.live().set_buffer_size(2**40),
              ValueError, f"buffer_size {C_INT}", needs="live")
    yield Row("live-activate-again", lambda e: e.live().activate(),
              check=ok(pcapy.PCAP_ERROR_ACTIVATED), needs="live")
    yield Row("live-dump_open-NUL", lambda e: e.live().dump_open("x\x00"), ValueError, "NUL",
              needs="live")
    yield Row("failed-activation-again",
              lambda e: [e.keep(r := pcapy.create("nosuchdev0")).activate(), r.activate()],
              pcapy.HandleStateError, "already failed", needs="live")


def dumper_rows() -> Iterator[Row]:
    D = pcapy.Dumper  # noqa: N806
    yield Row("Dumper-None", lambda e: D(None), TypeError, "dump target")
    yield Row("Dumper-bytes-path", lambda e: D(b"x.pcap"), TypeError, "not bytes")
    yield Row("Dumper-NUL", lambda e: D(str(e.tmp / "a\x00b")), ValueError, "NUL")
    yield Row("Dumper-linktype-str", lambda e: D(e.tmp / "x.pcap", "1"), TypeError,
              "linktype must be an int")
    yield Row("Dumper-linktype-negative", lambda e: D(e.tmp / "x.pcap", -1), ValueError,
              "link type -1")
    yield Row("Dumper-linktype-huge-pcapng", lambda e: D(e.tmp / "x.pcapng", 2**40), ValueError,
              "link type 1099511627776")
    yield Row("Dumper-snaplen-zero", lambda e: D(e.tmp / "x.pcap", 1, 0), ValueError, "snaplen")
    yield Row("Dumper-snaplen-huge", lambda e: D(e.tmp / "x.pcap", 1, 2**40), ValueError,
              "snaplen must be in")
    yield Row("Dumper-snaplen-float", lambda e: D(e.tmp / "x.pcap", 1, 1.5), TypeError,
              "snaplen must be an int")
    yield Row("Dumper-precision", lambda e: D(e.tmp / "x.pcap", precision="pico"), ValueError,
              "precision")
    yield Row("Dumper-format", lambda e: D(e.tmp / "x.pcap", format="erf"), ValueError, "format")
    yield Row("Dumper-text-file", lambda e: D(io.StringIO()), TypeError, "binary mode")
    yield Row("Dumper-read-only-file", lambda e: D(e.keep(open(e.capture, "rb"))), ValueError,
              "not open for writing")
    yield Row("Dumper-missing-directory", lambda e: D(e.tmp / "no" / "x.pcap"), pcapy.PcapError,
              "No such file or directory")
    yield Row("dump-header-tuple", lambda e: e.dumper().dump((1, 2, 3, 3), b"abc"),
              pcapy.PcapError, r"^Not a pkthdr object \(got tuple\)$")
    yield Row("dump-header-None", lambda e: e.dumper().dump(None, b"abc"), pcapy.PcapError,
              "Not a pkthdr object")
    yield Row("dump-data-str", lambda e: e.dumper().dump(HDR, "abc"), TypeError,
              "packet data must be bytes-like, not str")
    yield Row("dump-data-None", lambda e: e.dumper().dump(HDR, None), TypeError, "packet data")
    yield Row("dump-data-list", lambda e: e.dumper().dump(HDR, [1, 2, 3]), TypeError,
              "packet data")
    yield Row("dump-too-many", lambda e: e.dumper().dump(HDR, b"abc", 1), TypeError, "dump")
    yield Row("dump-sec-huge-pcap", lambda e: e.dumper().dump(pcapy.Pkthdr(2**40, 0, 3, 3),
              b"abc"), pcapy.PcapError, "does not fit a pcap file")
    yield Row("dump-sec-huge-pcapng", lambda e: e.dumper("x.pcapng").dump(
        pcapy.Pkthdr(2**63, 0, 3, 3), b"abc"), pcapy.PcapError, "does not fit a pcapng block")
    for suffix in ("pcap", "pcapng"):
        # caplen beyond the data: what there is is written, caplen corrected; never more
        yield Row(f"dump-caplen-exceeds-data-{suffix}",
                  dumped(f"short.{suffix}", pcapy.Pkthdr(1, 2, 100, 1500), b"abc"),
                  check=file_holds(3, 1500, b"abc"))
        yield Row(f"dump-caplen-4GiB-{suffix}",
                  dumped(f"huge.{suffix}", pcapy.Pkthdr(1, 2, 2**32 - 1, 2**32 - 1), b"abc"),
                  check=file_holds(3, 2**32 - 1, b"abc"))
        yield Row(f"dump-data-beyond-caplen-{suffix}",
                  dumped(f"long.{suffix}", pcapy.Pkthdr(1, 2, 2, 9), b"abcdef"),
                  check=file_holds(2, 9, b"ab"))
        yield Row(f"dump-empty-data-{suffix}",
                  dumped(f"empty.{suffix}", pcapy.Pkthdr(1, 2, 60, 60), b""),
                  check=file_holds(0, 60, b""))
        # bytes-like objects whose len() is not their size in bytes
        yield Row(f"dump-memoryview-of-ints-{suffix}",
                  dumped(f"ints.{suffix}", pcapy.Pkthdr(1, 2, 8, 8),
                         memoryview(bytearray(range(8))).cast("I")),
                  check=file_holds(8, 8, bytes(range(8))))
        yield Row(f"dump-strided-memoryview-{suffix}",
                  dumped(f"strided.{suffix}", pcapy.Pkthdr(1, 2, 3, 3), memoryview(b"aXbXcX")[::2]),
                  check=file_holds(3, 3, b"abc"))
        yield Row(f"dump-array-{suffix}",
                  dumped(f"array.{suffix}", pcapy.Pkthdr(1, 2, 4, 4), array.array("H", [1, 2])),
                  check=file_holds(4, 4, struct.pack("=HH", 1, 2)))
    yield Row("closed-dump", lambda e: e.closed_dumper().dump(HDR, b"abc"), pcapy.PcapError,
              DUMPER_CLOSED)
    yield Row("closed-dump-bad-arguments", lambda e: e.closed_dumper().dump(None, None),
              pcapy.PcapError, DUMPER_CLOSED)
    yield Row("closed-flush", lambda e: e.closed_dumper().flush(), pcapy.PcapError,
              DUMPER_CLOSED)
    yield Row("closed-__enter__", lambda e: e.closed_dumper().__enter__(), pcapy.PcapError,
              DUMPER_CLOSED)
    yield Row("closed-close-again", lambda e: e.closed_dumper().close(), check=ok(None))


ROWS = [*module_rows(), *bpf_rows(), *pkthdr_rows(), *reader_rows(), *live_rows(),
        *dumper_rows()]


def params() -> Iterator[Any]:
    for row in ROWS:
        marks = list(row.marks)
        if row.needs == "live":
            marks.append(pytest.mark.live)
        if row.xfail:
            marks.append(pytest.mark.xfail(reason=row.xfail, strict=True))
        yield pytest.param(row, id=row.id, marks=marks)


@pytest.fixture
def env(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Env]:
    environment = Env(tmp_path, request)
    yield environment
    environment.close()


def test_table_ids_are_unique() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", list(params()))
def test_bad_argument(row: Row, env: Env) -> None:
    if row.needs in ("libpcap", "live") and not libpcap_available():
        pytest.skip("libpcap cannot be loaded on this machine")
    if row.needs == "live" and not is_root():
        pytest.skip(f"live capture needs root (CAP_NET_RAW and CAP_NET_ADMIN); running as uid "
                    f"{os.geteuid()}")
    if row.raises is None:
        assert row.check is not None, "a row either raises or checks its result"
        row.check(row.call(env), env)
        return
    with pytest.raises(BaseException) as caught:  # noqa: PT011 - the exact class is checked below
        row.call(env)
    error = caught.value
    assert type(error) is row.raises, f"{type(error).__name__}: {error}"
    assert not isinstance(error, (SystemError, OverflowError, MemoryError, AttributeError))
    assert row.match, "an error row must say what its message mentions"
    assert caught.match(row.match)
