"""Programs given as instructions are held to the Linux kernel's classic BPF rules (issue 12 #4).

A program libpcap would run but the kernel refuses (a backward or wrapping jump, a shift by 32,
a read of scratch memory never written, more than 4096 instructions) is a ``BPFError`` at
``from_instructions``, before libpcap or the Python executor ever runs it. Programs libpcap's
compiler makes from an expression are trusted as libpcap trusts them.
"""

from __future__ import annotations

import pytest

import pcapy

RET_1 = (0x06, 0, 0, 1)
LD_LEN = (0x80, 0, 0, 0)

REFUSED = {
    "ja to itself (wraps)": [(0x05, 0, 0, 0xFFFFFFFF), RET_1],
    "ja backwards": [LD_LEN, (0x05, 0, 0, 0xFFFFFFFE), RET_1],
    "ja past the end": [(0x05, 0, 0, 1), RET_1],
    "jeq past the end": [(0x15, 3, 0, 0), RET_1],
    "div by constant zero": [(0x34, 0, 0, 0), RET_1],
    "mod by constant zero": [(0x94, 0, 0, 0), RET_1],
    "shift by 32": [(0x64, 0, 0, 32), RET_1],
    "scratch index 16": [(0x02, 0, 0, 16), RET_1],
    "scratch read before write": [(0x60, 0, 0, 3), RET_1],
    "read written on one path only": [
        (0x15, 0, 1, 0), (0x02, 0, 0, 1), (0x60, 0, 0, 1), RET_1,
    ],
    "last is not a return": [RET_1, LD_LEN],
    "unknown opcode": [(0xFF, 0, 0, 0), RET_1],
    "empty": [],
    "4097 instructions": [LD_LEN] * 4096 + [RET_1],
    "ancillary offset past the kernel's": [(0x30, 0, 0, 0xFFFFF000 + 64), RET_1],
}


@pytest.mark.parametrize("program", REFUSED.values(), ids=REFUSED.keys())
def test_programs_the_kernel_refuses_are_bpf_errors(program):
    with pytest.raises(pcapy.BPFError, match="invalid BPF program"):
        pcapy.BPFProgram.from_instructions(program)


def test_the_issues_spinning_program_is_refused_and_never_run():
    # Before: accepted, and pcap_dispatch spun in it beyond Ctrl-C.
    with pytest.raises(pcapy.BPFError, match="ja jumps"):
        pcapy.BPFProgram.from_instructions([(0x05, 0, 0, 0xFFFFFFFF), (0x06, 0, 0, 1)])


ACCEPTED = {
    "4096 instructions": [LD_LEN] * 4095 + [RET_1],
    "forward ja to the last": [(0x05, 0, 0, 1), (0x06, 0, 0, 0), RET_1],
    "store then load": [(0x02, 0, 0, 15), (0x60, 0, 0, 15), (0x16, 0, 0, 0)],
    "write on both paths": [
        (0x15, 0, 2, 0), (0x02, 0, 0, 1), (0x05, 0, 0, 1), (0x02, 0, 0, 1),
        (0x60, 0, 0, 1), (0x16, 0, 0, 0),
    ],
    "ancillary VLAN tag load": [(0x30, 0, 0, 0xFFFFF000 + 44), (0x16, 0, 0, 0)],
    "shift by 31": [(0x64, 0, 0, 31), RET_1],
}


@pytest.mark.parametrize("program", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_programs_the_kernel_accepts_run(program):
    verdict = pcapy.BPFProgram.from_instructions(program).filter(b"\x01" * 64)
    assert 0 <= verdict <= 0xFFFFFFFF


@pytest.mark.parametrize("expression", ["tcp port 80 or udp", "ip[8] > 60", "vlan and tcp"])
def test_libpcaps_own_programs_pass_the_kernels_rules(expression):
    compiled = pcapy.compile(pcapy.DLT_EN10MB, 65535, expression, 1, 0)
    again = pcapy.BPFProgram.from_instructions(compiled.get_bpf())
    assert again.get_bpf() == compiled.get_bpf()


def test_an_expression_with_a_loop_compiles_as_libpcap_allows():
    # protochain walks IPv6 headers with a backward ja: libpcap's own, bounded by the packet.
    program = pcapy.compile(pcapy.DLT_EN10MB, 65535, "ip6 protochain 6", 1, 0)
    assert program.filter(b"\0" * 60) == 0
    with pytest.raises(pcapy.BPFError, match="ja jumps"):
        pcapy.BPFProgram.from_instructions(program.get_bpf())

