"""Pkthdr: construction, accessors at both resolutions, value semantics."""

from __future__ import annotations

import pickle

import pytest

import pcapy
from pcapy import NanoPkthdr, Pkthdr


def test_constructible_like_pcapy_pr65():
    h = Pkthdr(1700000000, 123456, 60, 1514)
    assert h.getts() == (1700000000, 123456)
    assert h.getcaplen() == 60
    assert h.getlen() == 1514
    assert (h.sec, h.usec, h.nsec, h.caplen, h.len) == (1700000000, 123456, 123456000, 60, 1514)
    assert h.ts_ns == 1700000000_123456000
    assert h.interface is None and h.options is None and h.comment is None


def test_nanosecond_header_keeps_nanoseconds():
    h = Pkthdr(1700000000, caplen=10, len=10, nsec=123456789)
    assert isinstance(h, NanoPkthdr)
    assert h.getts() == (1700000000, 123456)  # pcapy's form truncates, as libpcap does
    assert h.getts_ns() == (1700000000, 123456789)
    assert h.ts_ns == 1700000000_123456789
    assert h.timestamp == pytest.approx(1700000000.123456789)


def test_equality_is_by_value_across_resolutions():
    micro = Pkthdr(5, 7, 1, 2)
    nano = Pkthdr(5, caplen=1, len=2, nsec=7000)
    assert micro == nano
    assert hash(micro) == hash(nano)
    assert micro != Pkthdr(5, caplen=1, len=2, nsec=7001)
    assert len({micro, nano}) == 1


def test_repr_names_fields():
    assert repr(Pkthdr(1, 2, 3, 4)) == "Pkthdr(sec=1, usec=2, caplen=3, len=4)"
    assert repr(Pkthdr(1, caplen=3, len=4, nsec=5)) == "Pkthdr(sec=1, nsec=5, caplen=3, len=4)"


def test_replace_returns_changed_copy():
    h = Pkthdr(1, 2, 3, 4)
    assert h.replace(caplen=2) == Pkthdr(1, 2, 2, 4)
    assert h.replace(nsec=9).getts_ns() == (1, 9)
    n = Pkthdr(1, caplen=3, len=4, nsec=999)
    assert n.replace(sec=2).getts_ns() == (2, 999)
    with pytest.raises(TypeError):
        h.replace(bogus=1)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("1", 0, 0, 0), {}, TypeError),
        ((1.5, 0, 0, 0), {}, TypeError),
        ((None, 0, 0, 0), {}, TypeError),
        ((-1, 0, 0, 0), {}, ValueError),
        ((0, 1_000_000, 0, 0), {}, ValueError),
        ((0, 0, 2**32, 0), {}, ValueError),
        ((0, 0, 0, -1), {}, ValueError),
        ((0,), {"nsec": 10**9}, ValueError),
        ((0, 5), {"nsec": 5}, ValueError),
    ],
)
def test_bad_fields_raise_clear_errors(args, kwargs, error):
    with pytest.raises(error):
        Pkthdr(*args, **kwargs)


def test_immutable_and_picklable():
    h = Pkthdr(1, caplen=3, len=4, nsec=5)
    with pytest.raises(AttributeError):
        h.caplen = 9  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(h))
    assert again == h and type(again) is NanoPkthdr


def test_public_module_name():
    assert Pkthdr.__module__ == "pcapy"
    assert pcapy.Pkthdr is Pkthdr
