"""Every integer parameter of the public API takes what pcapy-ng takes (issue 11, item 1).

pcapy-ng parses its integers with ``PyArg_ParseTuple``: ``i`` accepts ``bool`` (an ``int``) and
any object with ``__index__``; ``I`` (``compile``'s netmask) also wraps modulo 2**32. Programs
written for it pass ``True`` for flags (Dshell: ``compile(dlt, 65536, expr, True, 0xffffffff)``)
and NumPy integers for counts. One table: each row calls one parameter with a plain ``int``,
then with an ``__index__`` object and (for 0 and 1) a ``bool``, and the results must be equal.
A last test checks that the table names every ``int`` parameter of every public callable.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

import pcapy
from conftest import is_root, libpcap_available
from helpers import pcap_bytes, sample_records
from test_signatures import public_callables, resolve


class Index:
    """An integer-like object that is not an ``int`` (as a NumPy integer is)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


@dataclass(frozen=True)
class Row:
    callable: str  # as test_signatures names it
    parameter: str
    value: int
    call: Callable[[Any, Path], object]  # (value, tmp_path) -> a comparable result
    needs: str = ""  # "", "libpcap" or "live"


def capture_path(tmp: Path) -> Path:
    path = tmp / "five.pcap"
    if not path.exists():
        path.write_bytes(pcap_bytes(sample_records(5)))
    return path


def offline(tmp: Path) -> pcapy.Reader:
    return pcapy.open_offline(str(capture_path(tmp)))


def parquet_rows(value: Any, tmp: Path) -> object:
    out = tmp / f"rows{len(os.listdir(tmp))}.parquet"
    return pcapy.to_parquet(capture_path(tmp), out, batch_size=value)


def delivered(method: str) -> Callable[[Any, Path], object]:
    def call(value: Any, tmp: Path) -> object:
        got: list[bytes] = []
        with offline(tmp) as reader:
            getattr(reader, method)(value, lambda _h, data: got.append(data))
        return got

    return call


def dumped_header(**kwargs: Any) -> Callable[[Any, Path], object]:
    def call(value: Any, tmp: Path) -> object:
        path = tmp / f"d{len(os.listdir(tmp))}.pcap"
        arguments = {name: (value if given is None else given) for name, given in kwargs.items()}
        pcapy.Dumper(path, **arguments).close()
        return path.read_bytes()

    return call


def on_created(method: str) -> Callable[[Any, Path], object]:
    def call(value: Any, _tmp: Path) -> object:
        with pcapy.create("lo") as reader:
            return getattr(reader, method)(value)

    return call


def with_reader(action: Callable[[pcapy.Reader, Any], object]) -> Callable[[Any, Path], object]:
    def call(value: Any, tmp: Path) -> object:
        with offline(tmp) as reader:
            return action(reader, value)

    return call


def filtered(**kwargs: Any) -> Callable[[Any, Path], object]:
    def action(reader: pcapy.Reader, value: Any) -> object:
        arguments = {name: (value if given is None else given) for name, given in kwargs.items()}
        reader.setfilter("udp", **arguments)
        return [data for _, data in reader]

    return with_reader(action)


def live_opened(position: int) -> Callable[[Any, Path], object]:
    def call(value: Any, _tmp: Path) -> object:
        arguments: list[Any] = ["lo", 65535, 0, 100]
        arguments[position] = value
        with pcapy.open_live(*arguments) as reader:
            return (reader.snapshot(), reader.datalink())

    return call


def classified(method: str, parameter: str) -> Callable[[Any, Path], object]:
    """pcapy-ng's classifying loops, with one parameter given (ports as a one-item list)."""

    def call(value: Any, tmp: Path) -> object:
        arguments: dict[str, Any] = {"cnt": -1, "flow_cutoff": 2}
        arguments[parameter] = [value] if parameter.endswith("_ports") else value
        seen: list[int] = []
        with offline(tmp) as reader:
            if method == "loop_to_buffer":
                buffer = bytearray(4096)
                return reader.loop_to_buffer(writable_buf=buffer, **arguments), bytes(buffer)
            result = reader.loop_filtered(cb=lambda _h, _d, cls: seen.append(cls), **arguments)
            return result, seen, reader.filtered_stats()

    return call


def fanout_on_created(group_id: Any, fanout_type: Any, flags: Any) -> object:
    """Joining is recorded before activation (the group is joined as the handle activates)."""
    with pcapy.create("lo") as reader:
        return reader.set_fanout(group_id, fanout_type, flags)


def pool_settings(parameter: str, value: Any) -> object:
    """What a ParallelCapture made with one int option would tell its workers (none started)."""
    options: dict[str, Any] = {"group_id": 7, parameter: value}
    return pcapy.ParallelCapture("lo", **options)._specs


def rows() -> Iterator[Row]:
    en = pcapy.DLT_EN10MB
    for value in (0, 1):
        yield Row("compile", "optimize", value,
                  lambda v, _t: pcapy.compile(en, 65535, "tcp port 80", v, 0), "libpcap")
        yield Row("compile", "netmask", value,
                  lambda v, _t: pcapy.compile(en, 65535, "ip broadcast", 1, v), "libpcap")
        yield Row("Reader.setfilter", "optimize", value, filtered(optimize=None), "libpcap")
        yield Row("Reader.setfilter", "netmask", value, filtered(netmask=None), "libpcap")
    yield Row("compile", "linktype", 1,
              lambda v, _t: pcapy.compile(v, 65535, "udp", 1, 0), "libpcap")
    yield Row("compile", "snaplen", 1, lambda v, _t: pcapy.compile(en, v, "udp", 1, 0), "libpcap")
    yield Row("BPFProgram", "linktype", 1,
              lambda v, _t: (pcapy.BPFProgram("udp", v).get_bpf(), pcapy.BPFProgram("udp", v)
                             .linktype), "libpcap")
    yield Row("BPFProgram.from_instructions", "instructions", 1,
              lambda v, _t: pcapy.BPFProgram.from_instructions([(6, 0, 0, v)]).get_bpf())
    yield Row("BPFProgram.from_instructions", "linktype", 1,
              lambda v, _t: pcapy.BPFProgram.from_instructions([(6, 0, 0, 1)], v).linktype)
    yield Row("datalink_name", "dlt", 1, lambda v, _t: pcapy.datalink_name(v))
    for position, name in enumerate(("sec", "usec", "caplen", "len")):
        yield Row("Pkthdr", name, 1, lambda v, _t, p=position: tuple(pcapy.Pkthdr(
            *(v if i == p else 0 for i in range(4)))))
    yield Row("Pkthdr", "nsec", 1, lambda v, _t: tuple(pcapy.Pkthdr(1, nsec=v)))
    yield Row("Pkthdr.replace", "changes", 1,
              lambda v, _t: tuple(pcapy.Pkthdr(5, 5, 5, 5).replace(caplen=v)))
    yield Row("Dumper", "linktype", 1, dumped_header(linktype=None))
    yield Row("Dumper", "precision", 1, dumped_header(precision=None))
    yield Row("Reader.dump_open", "precision", 1,
              with_reader(lambda r, v: r.dump_open(os.devnull, precision=v).close()))
    yield Row("Dumper", "snaplen", 1, dumped_header(linktype=1, snaplen=None))
    yield Row("Reader.loop", "cnt", 1, delivered("loop"))
    yield Row("Reader.dispatch", "cnt", 1, delivered("dispatch"))
    yield Row("Reader.next_batch", "max_packets", 1,
              with_reader(lambda r, v: r.next_batch(v)))
    yield Row("Reader.setnonblock", "state", 0, with_reader(lambda r, v: r.setnonblock(v)))
    yield Row("Reader.set_datalink", "dlt", 1, with_reader(lambda r, v: r.set_datalink(v)))
    for method in ("set_snaplen", "set_promisc", "set_timeout", "set_buffer_size", "set_rfmon",
                   "set_immediate_mode", "set_tstamp_precision", "set_tstamp_type"):
        parameter = list(inspect.signature(getattr(pcapy.Reader, method)).parameters)[1]
        yield Row(f"Reader.{method}", parameter, 0 if "rfmon" in method else 1,
                  on_created(method), "libpcap")
    for method in ("loop_filtered", "loop_to_buffer"):
        for name, value in (("cnt", 1), ("admit_mask", 1), ("flow_cutoff", 1), ("dns_port", 53),
                            ("l2_offset", 14), ("profile", 1), ("dpi_ports", 80),
                            ("tls_ports", 443)):
            yield Row(f"Reader.{method}", name, value, classified(method, name))
    yield Row("Reader.to_arrow", "batch_size", 2,
              with_reader(lambda r, v: [b.num_rows for b in r.to_arrow(batch_size=v)]), "pyarrow")
    yield Row("to_parquet", "batch_size", 2, parquet_rows, "pyarrow")
    yield Row("split", "n", 1, lambda v, t: [repr(r) for r in pcapy.split(capture_path(t), v)])
    # A group of this process's own (two test processes at once, as pytest-xdist runs them, must
    # not join each other's group); named in the test id, which must not differ between them.
    group = 1000 + os.getpid() % 60000
    yield Row("Reader.set_fanout", "group_id", group, lambda v, _t: fanout_on_created(v, 0, 0),
              "libpcap")
    yield Row("Reader.set_fanout", "fanout_type", 0,
              lambda v, _t: fanout_on_created(group, v, 0), "libpcap")
    yield Row("Reader.set_fanout", "flags", 0, lambda v, _t: fanout_on_created(group, 0, v),
              "libpcap")
    for position, name in ((1, "snaplen"), (2, "promisc"), (3, "to_ms")):
        yield Row("open_live", name, 1, live_opened(position), "live")
    for name in ("workers", "snaplen", "buffer_size", "fanout_mode", "fanout_flags", "group_id"):
        yield Row("capture_parallel", name, 1, lambda v, _t, name=name: pool_settings(name, v))

    def setdirection(v: Any, _t: Path) -> object:
        with pcapy.open_live("lo", 100, 0, 100) as reader:
            return reader.setdirection(v)

    yield Row("Reader.setdirection", "direction", 0, setdirection, "live")


ROWS = list(rows())


def variants(value: int) -> Iterator[Any]:
    yield Index(value)
    if value in (0, 1):
        yield bool(value)


def row_id(row: Row) -> str:
    value = "own" if (row.callable, row.parameter) == ("Reader.set_fanout", "group_id") else row.value
    return f"{row.callable}-{row.parameter}-{value}"


@pytest.mark.parametrize("row", [pytest.param(row, id=row_id(row),
                                              marks=[pytest.mark.live] if row.needs == "live"
                                              else []) for row in ROWS])
def test_integer_like_arguments_are_taken_as_their_int(row: Row, tmp_path: Path) -> None:
    if row.needs == "pyarrow" and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow is not installed (pcapy[arrow])")
    if row.needs in ("libpcap", "live") and not libpcap_available():
        pytest.skip("libpcap cannot be loaded on this machine")
    if row.needs == "live" and not is_root():
        pytest.skip(f"live capture needs root; running as uid {os.geteuid()}")
    expected = row.call(row.value, tmp_path)
    for variant in variants(row.value):
        assert row.call(variant, tmp_path) == expected, f"{type(variant).__name__}"


def test_netmask_wraps_modulo_2_32_as_pcapy_ngs_I(libpcap: None) -> None:
    en = pcapy.DLT_EN10MB
    assert pcapy.compile(en, 65536, "udp", True, -1) == pcapy.compile(en, 65536, "udp", 1,
                                                                      0xFFFFFFFF)
    broadcast = pcapy.compile(en, 65536, "ip broadcast", 1, 0xFFFFFF00)
    assert pcapy.compile(en, 65536, "ip broadcast", 1, 0xFFFFFF00 - 2**32) == broadcast
    assert pcapy.compile(en, 65536, "ip broadcast", 1, Index(0xFFFFFF00 + 2**32)) == broadcast


def test_float_and_str_stay_type_errors(tmp_path: Path) -> None:
    with offline(tmp_path) as reader:
        with pytest.raises(TypeError, match="cnt must be an int, not float"):
            reader.loop(1.0, print)
        with pytest.raises(TypeError, match="max_packets must be an int, not str"):
            reader.next_batch("1")


def int_parameters() -> Iterator[tuple[str, str]]:
    for name in (*public_callables(), "Dumper", "Pkthdr", "BPFProgram"):
        signature = inspect.signature(resolve(name))
        for parameter in signature.parameters.values():
            if "int" in str(parameter.annotation):
                yield name, parameter.name


def test_the_table_covers_every_int_parameter() -> None:
    covered = {(row.callable, row.parameter) for row in ROWS}
    missing = sorted(set(int_parameters()) - covered)
    assert missing == [], f"add rows for these int parameters: {missing}"
