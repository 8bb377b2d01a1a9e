"""The savefile stream's public reads (``pcapy._savefile._stream.ByteSource``): what a walk of
its own over a file (the table output's) reads through, with the engine's checks."""

from __future__ import annotations

import gzip
import io

import pytest

import pcapy
from helpers import pcap_bytes, sample_records
from pcapy._savefile._stream import open_stream


@pytest.fixture
def capture(tmp_path):
    data = pcap_bytes(sample_records(20))
    path = tmp_path / "sample.pcap"
    path.write_bytes(data)
    return path, data


def test_a_plain_file_is_read_into_a_buffer_of_the_callers(capture):
    path, data = capture
    stream = open_stream(str(path))
    try:
        assert stream.first == data  # a small file: all of it in the first read
        buffer = bytearray(10)
        assert stream.readinto(memoryview(buffer)) == 0  # its end
        stream.seek(4)
        assert stream.readinto(memoryview(buffer)) == 10
        assert bytes(buffer) == data[4:14]
        assert stream.read(6) == data[14:20]
    finally:
        stream.close()


def test_a_read_after_close_is_refused(capture):
    stream = open_stream(str(capture[0]))
    stream.close()
    with pytest.raises(pcapy.PcapError, match="the savefile was closed"):
        stream.readinto(memoryview(bytearray(4)))
    with pytest.raises(pcapy.PcapError, match="the savefile was closed"):
        stream.read(4)


def test_only_a_plain_file_pcapy_opened_is_read_into_a_buffer(capture):
    path, data = capture
    given = io.BytesIO(data)
    stream = open_stream(given)
    assert stream.file is given
    with pytest.raises(pcapy.PcapError, match="not a plain file pcapy opened"):
        stream.readinto(memoryview(bytearray(4)))
    compressed = path.with_suffix(".pcap.gz")
    compressed.write_bytes(gzip.compress(data))
    stream = open_stream(str(compressed))
    try:
        assert stream.first == data
        with pytest.raises(pcapy.PcapError, match="not a plain file pcapy opened"):
            stream.readinto(memoryview(bytearray(4)))
    finally:
        stream.close()
