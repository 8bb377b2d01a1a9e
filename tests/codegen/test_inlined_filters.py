"""Random programs over random packets, through the record loops that ``setfilter`` builds on a
savefile (the program inlined into the loop, or called where it cannot be), against libpcap's
own ``bpf_filter``.

tests/test_bpf_vm.py checks the translator's standalone functions the same way; these go through
the generated loops themselves: every way of delivering packets (``next()``, iteration,
``loop(-1)``, counted ``dispatch``, ``next_batch``), classic pcap and pcapng.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pcapy
from helpers import examples, pcap_bytes, pcapng_block
from pcapy._codegen import __main__ as dump
from test_bpf_vm import (
    ST,
    U32,
    Instruction,
    insn_array,
    libpcap,
    needs_libpcap,
    needs_x86_or_arm,
    random_packets,
    random_programs,
)

Packets = list[tuple[bytes, int]]


def libpcap_accepts(program: Sequence[Instruction], packets: Packets) -> list[int]:
    """The indexes of the packets libpcap's bpf_filter gives a non-zero verdict."""
    lib = libpcap()
    assert lib is not None
    # libpcap before 1.10.6 leaves scratch memory uninitialised; zero it (A starts at 0).
    zeroed = insn_array([(ST, 0, 0, cell) for cell in range(16)] + list(program))
    return [i for i, (data, wirelen) in enumerate(packets)
            if lib.bpf_filter(zeroed, data, wirelen, len(data))]


def classic_file(packets: Packets) -> bytes:
    return pcap_bytes([(i, 0, data, wirelen) for i, (data, wirelen) in enumerate(packets)],
                      snaplen=262144)


def pcapng_file(packets: Packets) -> bytes:
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
    epbs = [pcapng_block(6, struct.pack("<IIIII", 0, 0, i, len(data), wirelen) + data)
            for i, (data, wirelen) in enumerate(packets)]
    return shb + idb + b"".join(epbs)


def seconds_of(meta: bytes) -> list[int]:
    return [fields[0] for fields in struct.iter_unpack("=IIII", meta)]


def read_every_way(data: bytes, program: pcapy.BPFProgram, pcapng: bool) -> dict[str, list[int]]:
    """The packets each way of reading delivers, by index (the time stamp's seconds; pcapng's
    units are microseconds, so its seconds are the index too only below 2**32 us: use the
    fraction there)."""

    def index(hdr: pcapy.Pkthdr) -> int:
        return hdr.getts()[1] if pcapng else hdr.getts()[0]

    def opened() -> pcapy.Reader:
        reader = pcapy.open_offline(io.BytesIO(data))
        reader.setfilter(program)
        return reader

    out: dict[str, list[int]] = {}
    out["iteration"] = [index(hdr) for hdr, _ in opened()]
    reader = opened()
    out["next"] = []
    while (hdr := reader.next()[0]) is not None:
        out["next"].append(index(hdr))
    got: list[int] = []
    opened().loop(-1, lambda hdr, _d: got.append(index(hdr)))
    out["loop(-1)"] = got
    counted: list[int] = []
    reader = opened()
    while reader.dispatch(2, lambda hdr, _d: counted.append(index(hdr))):
        pass
    out["dispatch(2)"] = counted
    if not pcapng:
        reader, batches = opened(), []
        while meta := reader.next_batch(3)[1]:
            batches += seconds_of(meta)
        out["next_batch(3)"] = batches
    return out


def packets_with_wirelen() -> st.SearchStrategy[Packets]:
    return st.lists(
        st.tuples(random_packets(), st.one_of(st.integers(0, 300), st.integers(0, U32))),
        max_size=12,
    )


@needs_libpcap
@needs_x86_or_arm
@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=random_programs(), packets=packets_with_wirelen(), called=st.booleans(),
       pcapng=st.booleans())
def test_random_programs_in_the_record_loops_match_libpcap(
    program: list[Instruction], packets: Packets, called: bool, pcapng: bool
) -> None:
    cls = dump.CalledFilter if called else pcapy.BPFProgram
    compiled = cls._compiled(program, 1)
    data = pcapng_file(packets) if pcapng else classic_file(packets)
    want = libpcap_accepts(program, packets)
    for way, got in read_every_way(data, compiled, pcapng).items():
        assert got == want, way


@needs_libpcap
@settings(max_examples=30, deadline=None)
@given(program=random_programs())
def test_forward_programs_are_inlined_unless_they_need_states(program: list[Instruction]) -> None:
    inlined = pcapy.BPFProgram._compiled(program, 1).inline_statements([(0, "deliver()")])
    if inlined is not None:
        texts = [text for _depth, text in inlined]
        assert texts[-1] == "continue"  # every path ends in the loop's REJECT
        assert not any("return" in text for text in texts)


def test_a_program_is_inlined_once_for_each_deliver() -> None:
    # A reader asks for the statements whenever it builds a loop (each dispatch() call): they
    # are translated once per program and deliver, and each caller gets its own list.
    program = pcapy.BPFProgram._compiled([(0x28, 0, 0, 12), (0x15, 0, 1, 0x800),
                                          (0x06, 0, 0, 0x40000), (0x06, 0, 0, 0)], 1)
    first = program.inline_statements([(0, "deliver()")])
    assert first is not None
    first.append((0, "spoiled"))
    again = program.inline_statements([(0, "deliver()")])
    assert again == first[:-1]
    assert again is not program.inline_statements([(0, "deliver()")])
    other = program.inline_statements([(0, "yield")])
    assert other is not None
    texts = [text for _depth, text in other]
    assert "yield" in texts and "deliver()" not in texts
