"""The offline Reader: pcapy's API over the pure-Python engine, and its fixes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import pcapy
from helpers import NSEC_MAGIC, pcap_bytes, read_all, sample_records, udp_frame


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    path = tmp_path / "five.pcap"
    path.write_bytes(pcap_bytes(sample_records(5)))
    return path


def test_next_returns_headers_and_bytes_then_none(capture: Path):
    reader = pcapy.open_offline(str(capture))
    packets = read_all(reader)
    expected = sample_records(5)
    assert [(h.getts(), h.getcaplen(), h.getlen(), d) for h, d in packets] == [
        ((s, f), len(d), w, d) for s, f, d, w in expected
    ]
    assert reader.next() == (None, b"")  # stays at EOF
    assert reader.datalink() == pcapy.DLT_EN10MB
    assert reader.snapshot() == 65535


def test_path_objects_file_objects_and_bytesio(capture: Path):
    data = capture.read_bytes()
    for source in (capture, str(capture), io.BytesIO(data)):
        with pcapy.open_offline(source) as reader:
            assert len(read_all(reader)) == 5
    with open(capture, "rb") as f, pcapy.open_offline(f) as reader:
        assert len(read_all(reader)) == 5


def test_stdin_dash(capture: Path):
    code = "import pcapy; r = pcapy.open_offline('-'); print(sum(1 for _ in r))"
    out = subprocess.run([sys.executable, "-c", code], input=capture.read_bytes(),
                         capture_output=True, check=True)
    assert out.stdout.strip() == b"5"


def test_iteration_loop_and_dispatch_counts(capture: Path):
    assert len(list(pcapy.open_offline(str(capture)))) == 5
    seen = []
    reader = pcapy.open_offline(str(capture))
    assert reader.loop(2, lambda h, d: seen.append(d)) is None
    assert len(seen) == 2
    assert reader.dispatch(2, lambda h, d: seen.append(d)) == 2
    assert reader.dispatch(-1, lambda h, d: seen.append(d)) == 1
    assert reader.dispatch(-1, lambda h, d: seen.append(d)) == 0
    assert [d for *_, d, _w in [(0, 0, d, 0) for _, _, d, _ in sample_records(5)]] == seen


def test_loop_zero_and_negative_read_to_the_end(capture: Path):
    for cnt in (0, -1):
        seen = []
        pcapy.open_offline(str(capture)).loop(cnt, lambda h, d: seen.append(h))
        assert len(seen) == 5


def test_callback_exception_propagates_as_itself_and_reader_stays_usable(capture: Path):
    reader = pcapy.open_offline(str(capture))

    def boom(hdr, data):
        raise KeyError("from callback")

    with pytest.raises(KeyError, match="from callback"):
        reader.loop(1, boom)
    with pytest.raises(KeyError):
        reader.dispatch(-1, boom)
    seen = []
    reader.loop(-1, lambda h, d: seen.append(h))  # pcapy raised SystemError here
    assert len(seen) == 3


def test_breakloop_from_the_callback_stops_the_loop(capture: Path):
    reader = pcapy.open_offline(str(capture))
    seen = []

    def stop_after_two(hdr, data):
        seen.append(hdr)
        if len(seen) == 2:
            reader.breakloop()

    reader.loop(-1, stop_after_two)
    assert len(seen) == 2
    reader.loop(-1, lambda h, d: seen.append(h))  # the next loop is not broken
    assert len(seen) == 5


def test_savefile_only_answers(capture: Path):
    reader = pcapy.open_offline(str(capture))
    assert reader.getnet() == "0.0.0.0"
    assert reader.getmask() == "0.0.0.0"
    assert reader.getnonblock() == 0
    reader.setnonblock(0)
    assert reader.getfd() >= 0
    assert reader.is_live is False
    with pytest.raises(pcapy.PcapError, match="Statistics aren't available from savefiles"):
        reader.stats()
    with pytest.raises(pcapy.PcapError, match="non-blocking"):
        reader.setnonblock(1)
    with pytest.raises(pcapy.PcapError, match="Sending packets isn't supported on savefiles"):
        reader.sendpacket(b"x")
    with pytest.raises(pcapy.PcapError):
        reader.set_snaplen(10)


CLOSED_CALLS = [
    ("next", ()), ("loop", (1, print)), ("dispatch", (1, print)), ("setfilter", ("tcp",)),
    ("datalink", ()), ("getnonblock", ()), ("setnonblock", (0,)), ("stats", ()), ("getfd", ()),
    ("getnet", ()), ("getmask", ()), ("dump_open", ("x.pcap",)), ("__enter__", ()),
    ("snapshot", ()), ("breakloop", ()), ("sendpacket", (b"",)), ("activate", ()),
    ("set_snaplen", (1,)), ("__iter__", ()),
]


@pytest.mark.parametrize(("method", "args"), CLOSED_CALLS)
def test_every_method_after_close_raises_value_error(capture: Path, method, args):
    reader = pcapy.open_offline(str(capture))
    reader.close()
    reader.close()  # idempotent
    with pytest.raises(ValueError, match="pcap is closed"):
        getattr(reader, method)(*args)


def test_context_manager_closes(capture: Path):
    with pcapy.open_offline(str(capture)) as reader:
        assert reader.next()[0] is not None
    assert reader.closed
    with pytest.raises(ValueError, match="pcap is closed"):
        reader.next()


@pytest.mark.parametrize(
    ("args", "error"),
    [((None,), TypeError), ((123,), TypeError), ((1.5,), TypeError)],
)
def test_open_offline_bad_argument_types(args, error):
    with pytest.raises(error):
        pcapy.open_offline(*args)


def test_missing_file_message_matches_pcapy(tmp_path: Path):
    missing = tmp_path / "nope.pcap"
    with pytest.raises(pcapy.PcapError, match=rf"^{missing}: No such file or directory$"):
        pcapy.open_offline(str(missing))


def test_unknown_format_and_empty_file(tmp_path: Path):
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a capture file at all")
    with pytest.raises(pcapy.UnknownFormatError, match="unknown file format"):
        pcapy.open_offline(str(junk))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(pcapy.TruncatedSavefileError, match="only got 0"):
        pcapy.open_offline(str(empty))


def test_bad_callback_and_count_types(capture: Path):
    reader = pcapy.open_offline(str(capture))
    with pytest.raises(TypeError):
        reader.loop("1", print)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reader.loop(1, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        reader.dispatch(None, print)  # type: ignore[arg-type]
    assert reader.next()[0] is not None  # nothing was consumed by the failed calls


def test_nanosecond_files_give_nano_headers(tmp_path: Path):
    path = tmp_path / "nano.pcap"
    path.write_bytes(pcap_bytes([(1700000000, 123456789, b"abc", 3)], magic=NSEC_MAGIC))
    reader = pcapy.open_offline(str(path))
    hdr, data = reader.next()
    assert hdr.getts() == (1700000000, 123456)
    assert hdr.getts_ns() == (1700000000, 123456789)
    assert reader.get_tstamp_precision() == pcapy.TstampPrecision.NANO


def test_keyword_arguments_accepted(capture: Path):
    reader = pcapy.open_offline(filename=str(capture))
    seen = []
    reader.loop(cnt=1, callback=lambda h, d: seen.append(h))
    assert len(seen) == 1


def test_iterating_a_temporary_reader_reads_everything(tmp_path: Path):
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_bytes(sample_records(5) * 20000))  # several read chunks
    assert sum(1 for _ in pcapy.open_offline(str(path))) == 100000
    assert sum(1 for _ in pcapy.open_offline(str(path)).__iter__()) == 100000


def test_a_callers_file_object_is_left_open(capture: Path):
    with open(capture, "rb") as f:
        reader = pcapy.open_offline(f)
        reader.close()
        assert not f.closed


def test_file_format_header_and_interfaces(capture: Path, corpus):
    reader = pcapy.open_offline(str(capture))
    assert reader.file_format == "pcap"
    assert reader.file_header.snaplen == 65535
    assert reader.interfaces == []
    ng = pcapy.open_offline(str(corpus / "pcapng" / "pcapng-example.pcapng"))
    assert ng.file_format == "pcapng"
    packets = list(ng)
    assert len(ng.interfaces) == 2
    assert {h.interface.dlt for h, _ in packets} == {1, 113}
    assert any(h.comment for h, _ in packets)


@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filtered"])
def test_loop_to_the_end_stops_and_resumes_exactly_across_chunks(tmp_path: Path, filtered):
    # loop(-1) runs a driver that keeps no count: a break and a callback's exception must
    # still leave the reader right after the packet delivered, chunk boundaries included.
    frames = [udp_frame(bytes([i % 251]) * (300 + i % 700), dport=80 + i % 3) for i in range(3000)]
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_bytes((1700000000 + i, i, frame, len(frame))
                                for i, frame in enumerate(frames)))
    expected = [frame for frame in frames if not filtered or frame[37] == 80]
    reader = pcapy.open_offline(str(path))
    if filtered:
        reader.setfilter("udp dst port 80")
    seen: list[bytes] = []
    first_stop, second_stop = len(expected) // 4, len(expected) // 2

    def break_at_first_stop(_hdr, data):
        seen.append(data)
        if len(seen) == first_stop:
            reader.breakloop()

    def fail_at_second_stop(_hdr, data):
        seen.append(data)
        if len(seen) == second_stop:
            raise KeyError("stop")

    reader.loop(-1, break_at_first_stop)
    assert len(seen) == first_stop
    with pytest.raises(KeyError):
        reader.loop(0, fail_at_second_stop)
    reader.loop(-1, lambda _hdr, data: seen.append(data))
    assert seen == expected
    assert reader.next() == (None, b"")
