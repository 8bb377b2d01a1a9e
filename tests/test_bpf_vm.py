"""Tests for pcapy._bpf_vm, the classic BPF executor.

Four kinds of checks:

* byte-literal unit tests, one or more per instruction and per edge case of
  libpcap's bpf_filter.c, with expected values worked out from the C code;
* differential tests against tcpdump/libpcap: programs from
  ``tcpdump -ddd -y LINKTYPE EXPR`` run over real capture files must accept
  exactly the packets ``tcpdump -r FILE -w - EXPR`` writes;
* Hypothesis property tests comparing compiled programs with
  ``run_reference``, a literal transcription of bpf_filter.c kept in this
  file, and (when libpcap can be loaded) with libpcap's own ``bpf_filter``
  and ``bpf_validate`` called through ctypes;
* validation tests.

The capture-file reader below is test scaffolding, independent of the rest of
pcapy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar, cast

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import examples
from pcapy._bpf_vm import (
    Instruction,
    InvalidProgramError,
    PacketData,
    compile_program,
    program_source,
    validate,
)

# --- Opcodes (pcap/bpf.h) -----------------------------------------------------

RET_K, RET_A = 0x06, 0x16
LD_W_ABS, LD_H_ABS, LD_B_ABS = 0x20, 0x28, 0x30
LD_W_IND, LD_H_IND, LD_B_IND = 0x40, 0x48, 0x50
LD_LEN, LDX_LEN = 0x80, 0x81
LDX_MSH = 0xB1
LD_IMM, LDX_IMM, LD_MEM, LDX_MEM = 0x00, 0x01, 0x60, 0x61
ST, STX = 0x02, 0x03
JA = 0x05
JEQ_K, JGT_K, JGE_K, JSET_K = 0x15, 0x25, 0x35, 0x45
JEQ_X, JGT_X, JGE_X, JSET_X = 0x1D, 0x2D, 0x3D, 0x4D
ADD_K, SUB_K, MUL_K, DIV_K, OR_K, AND_K = 0x04, 0x14, 0x24, 0x34, 0x44, 0x54
LSH_K, RSH_K, NEG, MOD_K, XOR_K = 0x64, 0x74, 0x84, 0x94, 0xA4
ADD_X, SUB_X, MUL_X, DIV_X, OR_X, AND_X = 0x0C, 0x1C, 0x2C, 0x3C, 0x4C, 0x5C
LSH_X, RSH_X, MOD_X, XOR_X = 0x6C, 0x7C, 0x9C, 0xAC
TAX, TXA = 0x07, 0x87

ALU_K = [ADD_K, SUB_K, MUL_K, DIV_K, OR_K, AND_K, LSH_K, RSH_K, NEG, MOD_K, XOR_K]
ALU_X = [ADD_X, SUB_X, MUL_X, DIV_X, OR_X, AND_X, LSH_X, RSH_X, MOD_X, XOR_X]
JUMPS = [JEQ_K, JGT_K, JGE_K, JSET_K, JEQ_X, JGT_X, JGE_X, JSET_X]
IMPLEMENTED = frozenset(
    [RET_K, RET_A, LD_W_ABS, LD_H_ABS, LD_B_ABS, LD_W_IND, LD_H_IND, LD_B_IND]
    + [LD_LEN, LDX_LEN, LDX_MSH, LD_IMM, LDX_IMM, LD_MEM, LDX_MEM, ST, STX, JA]
    + JUMPS
    + ALU_K
    + ALU_X
    + [TAX, TXA]
)

U32 = 0xFFFFFFFF
TestFunction = TypeVar("TestFunction", bound=Callable[..., None])
SKF_AD_OFF = 0x100000000 - 0x1000  # Linux ancillary data area
SKF_AD_PKTTYPE, SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT = 4, 44, 48


def neg(n: int) -> int:
    """A negative jump offset as the u32 k field of a ja."""
    return -n & U32


# --- Reference interpreter: bpf_filter.c transcribed literally ----------------


class LibpcapWouldAbort(Exception):
    """bpf_filter.c reaches `default: abort();`."""


class StepLimitExceeded(Exception):
    """The program ran longer than the caller allowed (maybe forever)."""


def run_reference(
    program: Sequence[Instruction],
    packet: bytes,
    wirelen: int,
    max_steps: Optional[int] = None,
) -> int:
    """Interpret *program* one instruction at a time, as pcapint_filter does.

    Bounds checks keep the C code's shape, with u_int subtraction; shifts by
    a constant k >= 32 take k mod 32 (what the C `A <<= k` does on x86 and
    ARM); scratch memory starts zeroed (libpcap master).
    """
    p = bytes(packet)
    buflen = len(p)
    a = x = 0
    mem = [0] * 16
    pc = 0
    steps = 0

    def sub(u: int, v: int) -> int:
        return (u - v) & U32

    while True:
        steps += 1
        if max_steps is not None and steps > max_steps:
            raise StepLimitExceeded
        code, jt, jf, k = program[pc]
        pc += 1  # jumps are relative to the next instruction
        if code == RET_K:
            return k
        if code == RET_A:
            return a
        if code == LD_W_ABS:
            if k > buflen or 4 > buflen - k:
                return 0
            a = int.from_bytes(p[k : k + 4], "big")
        elif code == LD_H_ABS:
            if k > buflen or 2 > buflen - k:
                return 0
            a = int.from_bytes(p[k : k + 2], "big")
        elif code == LD_B_ABS:
            if k in (SKF_AD_OFF + SKF_AD_VLAN_TAG, SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT):
                return 0  # aux_data is NULL
            if k >= buflen:
                return 0
            a = p[k]
        elif code == LD_LEN:
            a = wirelen & U32
        elif code == LDX_LEN:
            x = wirelen & U32
        elif code == LD_W_IND:
            kk = (x + k) & U32
            if k > buflen or x > buflen - k or 4 > sub(buflen, kk):
                return 0
            a = int.from_bytes(p[kk : kk + 4], "big")
        elif code == LD_H_IND:
            kk = (x + k) & U32
            if x > buflen or k > buflen - x or 2 > sub(buflen, kk):
                return 0
            a = int.from_bytes(p[kk : kk + 2], "big")
        elif code == LD_B_IND:
            kk = (x + k) & U32
            if k >= buflen or x >= buflen - k:
                return 0
            a = p[kk]
        elif code == LDX_MSH:
            if k >= buflen:
                return 0
            x = (p[k] & 0xF) << 2
        elif code == LD_IMM:
            a = k
        elif code == LDX_IMM:
            x = k
        elif code == LD_MEM:
            a = mem[k]
        elif code == LDX_MEM:
            x = mem[k]
        elif code == ST:
            mem[k] = a
        elif code == STX:
            mem[k] = x
        elif code == JA:
            pc = (pc + (k - (1 << 32) if k & 0x80000000 else k)) & U32
        elif code in JUMPS:
            b = x if code & 0x08 else k
            op = code & 0xF0
            if op == 0x10:
                taken = a == b
            elif op == 0x20:
                taken = a > b
            elif op == 0x30:
                taken = a >= b
            else:
                taken = (a & b) != 0
            pc += jt if taken else jf
        elif code in ALU_K or code in ALU_X:
            a = reference_alu(code, a, x if code & 0x08 else k)
            if a < 0:
                return 0
        elif code == TAX:
            x = a
        elif code == TXA:
            a = x
        else:
            raise LibpcapWouldAbort(hex(code))


def reference_alu(code: int, a: int, b: int) -> int:
    """One ALU instruction; -1 means libpcap returns 0 (division by X == 0)."""
    op, from_x = code & 0xF0, bool(code & 0x08)
    if op in (0x30, 0x90) and b == 0:
        return -1
    if op in (0x60, 0x70):
        if from_x:
            if b >= 32:
                return 0
        else:
            b &= 31
    results = {
        0x00: lambda: a + b,
        0x10: lambda: a - b,
        0x20: lambda: a * b,
        0x30: lambda: a // b,
        0x40: lambda: a | b,
        0x50: lambda: a & b,
        0x60: lambda: a << b,
        0x70: lambda: a >> b,
        0x80: lambda: -a,
        0x90: lambda: a % b,
        0xA0: lambda: a ^ b,
    }
    return results[op]() & U32


# --- Helpers --------------------------------------------------------------------


def run(program: Sequence[Instruction], packet: bytes, wirelen: Optional[int] = None) -> int:
    """Run a program compiled, check it against the reference, return the result."""
    wl = len(packet) if wirelen is None else wirelen
    result = compile_program(program)(packet, wl)
    assert result == run_reference(program, packet, wl)
    return result


def load_then_return(load: Instruction, *setup: Instruction) -> list[Instruction]:
    """Program: setup..., the load, ret a."""
    return [*setup, load, (RET_A, 0, 0, 0)]


def alu(code: int, a: int, b: int) -> int:
    """A after `ld #a; ldx #b; <code> (#b for K ops); ret a`."""
    program = [(LD_IMM, 0, 0, a), (LDX_IMM, 0, 0, b), (code, 0, 0, b), (RET_A, 0, 0, 0)]
    return run(program, b"")


def alu_variable(code: int, a: int, b: int) -> int:
    """Same as alu(), but A and X come from the packet so nothing is folded."""
    packet = a.to_bytes(4, "big") + b.to_bytes(4, "big")
    program = [
        (LD_W_ABS, 0, 0, 4),
        (TAX, 0, 0, 0),
        (LD_W_ABS, 0, 0, 0),
        (code, 0, 0, b),
        (RET_A, 0, 0, 0),
    ]
    return run(program, packet)


PACKET = bytes(range(0x10, 0x10 + 20))  # 20 bytes: 0x10 0x11 ... 0x23


# --- Loads --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        ((LD_W_ABS, 0, 0, 0), 0x10111213),
        ((LD_W_ABS, 0, 0, 16), 0x20212223),  # last 4 bytes
        ((LD_W_ABS, 0, 0, 17), 0),  # one byte past the end
        ((LD_H_ABS, 0, 0, 18), 0x2223),
        ((LD_H_ABS, 0, 0, 19), 0),
        ((LD_B_ABS, 0, 0, 19), 0x23),
        ((LD_B_ABS, 0, 0, 20), 0),
        ((LD_W_ABS, 0, 0, U32), 0),  # k > buflen, no wrap-around
        ((LD_H_ABS, 0, 0, U32 - 1), 0),
    ],
)
def test_absolute_loads(load: Instruction, expected: int) -> None:
    assert run(load_then_return(load), PACKET) == expected


def test_out_of_bounds_load_rejects_even_when_a_ret_k_follows() -> None:
    program = [(LD_W_ABS, 0, 0, 17), (RET_K, 0, 0, 99)]
    assert run(program, PACKET) == 0
    assert run(program, PACKET + b"\x00") == 99


def test_empty_packet() -> None:
    assert run([(LD_B_ABS, 0, 0, 0), (RET_K, 0, 0, 1)], b"") == 0
    assert run([(RET_K, 0, 0, 1)], b"") == 1


@pytest.mark.parametrize(
    ("x", "load", "expected"),
    [
        (2, (LD_W_IND, 0, 0, 3), 0x15161718),
        (2, (LD_H_IND, 0, 0, 3), 0x1516),
        (2, (LD_B_IND, 0, 0, 3), 0x15),
        (16, (LD_W_IND, 0, 0, 0), 0x20212223),
        (16, (LD_W_IND, 0, 0, 1), 0),
        (0, (LD_H_IND, 0, 0, 18), 0x2223),
        (1, (LD_H_IND, 0, 0, 18), 0),
        (19, (LD_B_IND, 0, 0, 0), 0x23),
        (19, (LD_B_IND, 0, 0, 1), 0),
        # X + k wraps around 2**32 to a small offset in C's u_int arithmetic;
        # libpcap's checks are written to reject that instead of loading.
        (U32, (LD_B_IND, 0, 0, 1), 0),
        (U32 - 3, (LD_W_IND, 0, 0, 4), 0),
        (U32 - 1, (LD_H_IND, 0, 0, 2), 0),
        (1, (LD_B_IND, 0, 0, U32), 0),
        (0x80000000, (LD_W_IND, 0, 0, 0x80000000), 0),
    ],
)
def test_indirect_loads(x: int, load: Instruction, expected: int) -> None:
    # Once with X a translation-time constant, once with X only known at run
    # time (X = wirelen).
    assert run(load_then_return(load, (LDX_IMM, 0, 0, x)), PACKET) == expected
    assert run(load_then_return(load, (LDX_LEN, 0, 0, 0)), PACKET, wirelen=x) == expected


def test_indirect_load_past_the_packet_with_variable_x() -> None:
    program = [(LDX_MSH, 0, 0, 0), (LD_H_IND, 0, 0, 2), (RET_A, 0, 0, 0)]
    # X = (0x45 & 0xf) * 4 = 20; P[22:24] exists only in the longer packet.
    assert run(program, b"\x45" + bytes(21)) == 0
    assert run(program, b"\x45" + bytes(21) + b"\xab\xcd") == 0xABCD


def test_msh_load() -> None:
    program = [(LDX_MSH, 0, 0, 1), (TXA, 0, 0, 0), (RET_A, 0, 0, 0)]
    assert run(program, b"\x00\x4f") == 60  # (0x4f & 0xf) << 2
    assert run(program, b"\x00\xf3") == 12
    assert run(program, b"\x00") == 0  # out of bounds


def test_length_loads_use_wirelen_not_buffer_length() -> None:
    assert run([(LD_LEN, 0, 0, 0), (RET_A, 0, 0, 0)], PACKET, 1514) == 1514
    program = [(LDX_LEN, 0, 0, 0), (TXA, 0, 0, 0), (RET_A, 0, 0, 0)]
    assert run(program, PACKET, 77) == 77
    assert run(program, b"", U32) == U32


def test_immediate_loads() -> None:
    assert run([(LD_IMM, 0, 0, U32), (RET_A, 0, 0, 0)], b"") == U32
    assert run([(LDX_IMM, 0, 0, 5), (TXA, 0, 0, 0), (RET_A, 0, 0, 0)], b"") == 5


def test_registers_and_scratch_memory_start_at_zero() -> None:
    assert run([(RET_A, 0, 0, 0)], PACKET) == 0
    assert run([(TXA, 0, 0, 0), (RET_A, 0, 0, 0)], PACKET) == 0
    for cell in (0, 7, 15):
        assert run([(LD_MEM, 0, 0, cell), (RET_A, 0, 0, 0)], PACKET) == 0
        program = [(LDX_MEM, 0, 0, cell), (TXA, 0, 0, 0), (RET_A, 0, 0, 0)]
        assert run(program, PACKET) == 0


def test_store_and_load_scratch_memory() -> None:
    program = [
        (LD_B_ABS, 0, 0, 0),
        (ST, 0, 0, 3),
        (LDX_IMM, 0, 0, 9),
        (STX, 0, 0, 15),
        (LD_IMM, 0, 0, 0),
        (LDX_MEM, 0, 0, 3),  # X = 0x10
        (LD_MEM, 0, 0, 15),  # A = 9
        (ADD_X, 0, 0, 0),
        (RET_A, 0, 0, 0),
    ]
    assert run(program, PACKET) == 0x19


@pytest.mark.parametrize("offset", [SKF_AD_VLAN_TAG, SKF_AD_VLAN_TAG_PRESENT, SKF_AD_PKTTYPE])
@pytest.mark.parametrize("load", [LD_B_ABS, LD_H_ABS, LD_W_ABS])
def test_linux_ancillary_loads_reject_without_aux_data(load: int, offset: int) -> None:
    # bpf_filter.c special-cases byte loads of SKF_AD_VLAN_TAG(_PRESENT) and
    # returns 0 when aux_data is NULL; the other ancillary offsets are just
    # out-of-bounds packet offsets, which also return 0.
    program = [(load, 0, 0, SKF_AD_OFF + offset), (RET_K, 0, 0, 1)]
    assert run(program, bytes(1500)) == 0


# --- ALU --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "a", "b", "expected"),
    [
        (ADD_K, U32, 2, 1),
        (ADD_K, 5, 0, 5),
        (SUB_K, 0, 1, U32),
        (SUB_K, 10, 3, 7),
        (MUL_K, 0x10000, 0x10000, 0),
        (MUL_K, 0xFFFF, 0x10001, U32),
        (MUL_K, 7, 0, 0),
        (DIV_K, 100, 7, 14),
        (DIV_K, U32, 1, U32),
        (MOD_K, 100, 7, 2),
        (MOD_K, 100, 1, 0),
        (AND_K, 0xF0F0, 0xFF00, 0xF000),
        (AND_K, 0xF0F0, U32, 0xF0F0),
        (OR_K, 0xF0F0, 0x0F00, 0xFFF0),
        (XOR_K, 0xFF00, 0x0FF0, 0xF0F0),
        (LSH_K, 0x80000003, 1, 6),
        (LSH_K, 3, 31, 0x80000000),
        (RSH_K, 0x80000000, 31, 1),
        # Shifts by a constant >= 32 are C `A <<= k` (undefined behaviour);
        # libpcap as built for x86 and ARM shifts by k mod 32.
        (LSH_K, 0x80000003, 32, 0x80000003),
        (LSH_K, 0x80000003, 33, 6),
        (RSH_K, 0x80000003, 33, 0x40000001),
        (RSH_K, 0x80000003, 64, 0x80000003),
        (ADD_X, U32, 2, 1),
        (SUB_X, 1, 2, U32),
        (MUL_X, 0x80000000, 2, 0),
        (DIV_X, 100, 7, 14),
        (MOD_X, 100, 7, 2),
        (AND_X, 0xF0F0, 0xFF00, 0xF000),
        (OR_X, 0xF0F0, 0x0F00, 0xFFF0),
        (XOR_X, 0xFF00, 0x0FF0, 0xF0F0),
        (LSH_X, 3, 31, 0x80000000),
        (RSH_X, U32, 31, 1),
        # Shifts by X >= 32 give 0: libpcap tests for this explicitly.
        (LSH_X, 0x80000003, 32, 0),
        (LSH_X, 1, U32, 0),
        (RSH_X, 0x80000003, 32, 0),
        (RSH_X, U32, U32, 0),
    ],
)
def test_alu(code: int, a: int, b: int, expected: int) -> None:
    assert alu(code, a, b) == expected
    assert alu_variable(code, a, b) == expected


@pytest.mark.parametrize(("a", "expected"), [(0, 0), (1, U32), (0x80000000, 0x80000000), (U32, 1)])
def test_negation(a: int, expected: int) -> None:
    assert alu(NEG, a, 0) == expected
    assert alu_variable(NEG, a, 0) == expected


@pytest.mark.parametrize("code", [DIV_X, MOD_X])
def test_division_by_zero_x_rejects_the_packet(code: int) -> None:
    # bpf_filter.c: `if (X == 0) return 0;`, even with a ret #k after it.
    program = [(LD_IMM, 0, 0, 10), (code, 0, 0, 0), (RET_K, 0, 0, 99)]
    assert run(program, b"") == 0
    from_packet = [(LDX_MSH, 0, 0, 0), (LD_IMM, 0, 0, 10), (code, 0, 0, 0), (RET_K, 0, 0, 99)]
    assert run(from_packet, b"\x00") == 0
    assert run(from_packet, b"\x01") == 99


def test_arithmetic_chain_wraps_at_every_step() -> None:
    program = [
        (LD_W_ABS, 0, 0, 0),
        (ADD_K, 0, 0, 1),
        (MUL_K, 0, 0, 8),
        (RSH_K, 0, 0, 1),
        (RET_A, 0, 0, 0),
    ]
    # (0xFFFFFFFF + 1) wraps to 0 before the multiplication and the shift.
    assert run(program, b"\xff\xff\xff\xff") == 0
    assert run(program, b"\x0f\xff\xff\xff") == 0x40000000  # 0x10000000 * 8 >> 1
    assert run(program, b"\x1f\xff\xff\xff") == 0  # 0x20000000 * 8 wraps to 0


def test_tax_and_txa() -> None:
    program = [(LD_B_ABS, 0, 0, 1), (TAX, 0, 0, 0), (LD_IMM, 0, 0, 0), (TXA, 0, 0, 0)]
    assert run(program + [(RET_A, 0, 0, 0)], PACKET) == 0x11


# --- Jumps and returns --------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "a", "b", "taken"),
    [
        (JEQ_K, 5, 5, True),
        (JEQ_K, 5, 6, False),
        (JGT_K, 6, 5, True),
        (JGT_K, 5, 5, False),
        (JGT_K, U32, 0x7FFFFFFF, True),  # unsigned comparison
        (JGE_K, 5, 5, True),
        (JGE_K, 4, 5, False),
        (JGE_K, 0, 0, True),
        (JSET_K, 0b1010, 0b0010, True),
        (JSET_K, 0b1010, 0b0101, False),
        (JSET_K, U32, 0, False),
        (JEQ_X, 5, 5, True),
        (JGT_X, 0x80000000, 1, True),
        (JGE_X, 1, 2, False),
        (JSET_X, 0x80000000, 0x80000000, True),
    ],
)
def test_conditional_jumps(code: int, a: int, b: int, taken: bool) -> None:
    tail = [(code, 1, 2, b), (RET_K, 0, 0, 1), (RET_K, 0, 0, 10), (RET_K, 0, 0, 20)]
    expected = 10 if taken else 20
    constant = [(LD_IMM, 0, 0, a), (LDX_IMM, 0, 0, b)]
    assert run(constant + tail, b"") == expected
    from_packet = [(LD_W_ABS, 0, 0, 4), (TAX, 0, 0, 0), (LD_W_ABS, 0, 0, 0)]
    assert run(from_packet + tail, a.to_bytes(4, "big") + b.to_bytes(4, "big")) == expected


def test_ret_a_after_jeq_uses_the_compared_value() -> None:
    program = [(LD_B_ABS, 0, 0, 0), (JEQ_K, 0, 1, 5), (RET_A, 0, 0, 0), (RET_K, 0, 0, 9)]
    assert run(program, b"\x05") == 5
    assert run(program, b"\x06") == 9


def test_jump_always_and_fallthrough_into_a_shared_block() -> None:
    program = [
        (LD_B_ABS, 0, 0, 0),
        (JEQ_K, 0, 2, 1),  # 1 -> 2, else -> 4
        (LD_IMM, 0, 0, 100),
        (JA, 0, 0, 1),  # -> 5
        (LD_IMM, 0, 0, 200),
        (ADD_K, 0, 0, 1),  # shared
        (RET_A, 0, 0, 0),
    ]
    assert run(program, b"\x01") == 101
    assert run(program, b"\x02") == 201


def test_backward_jump_loop() -> None:
    # X counts to 10 through a backward ja: userland libpcap allows them.
    program = [
        (LDX_IMM, 0, 0, 0),
        (TXA, 0, 0, 0),  # 1: loop head
        (ADD_K, 0, 0, 1),
        (TAX, 0, 0, 0),
        (JEQ_K, 1, 0, 10),  # -> 6 or 5
        (JA, 0, 0, neg(5)),  # -> 1
        (RET_A, 0, 0, 0),
    ]
    assert run(program, b"") == 10
    assert "while True:" in program_source(program)


def test_backward_jump_loop_walking_the_packet() -> None:
    # Skip bytes while they are non-zero, like "ip6 protochain" walks headers.
    program = [
        (LDX_IMM, 0, 0, 0),
        (LD_B_IND, 0, 0, 0),  # 1: loop head; out of bounds -> 0
        (JEQ_K, 4, 0, 0),  # -> 7 or 3
        (TXA, 0, 0, 0),
        (ADD_K, 0, 0, 1),
        (TAX, 0, 0, 0),
        (JA, 0, 0, neg(6)),  # -> 1
        (TXA, 0, 0, 0),
        (RET_A, 0, 0, 0),
    ]
    assert run(program, b"\x01\x02\x03\x00\x05") == 3
    assert run(program, b"\x01\x02") == 0  # walks off the end


def test_self_loop_program_compiles() -> None:
    # "ja -1" jumps to itself: libpcap accepts it and would spin forever.
    program = [(JA, 0, 0, U32), (RET_K, 0, 0, 0)]
    validate(program)
    assert callable(compile_program(program))


def test_ret_values_are_unsigned_32_bit() -> None:
    assert run([(RET_K, 0, 0, U32)], b"") == U32
    assert run([(LD_IMM, 0, 0, 0x80000000), (RET_A, 0, 0, 0)], b"") == 0x80000000


def test_unreachable_instructions_are_ignored_but_validated() -> None:
    program = [(RET_K, 0, 0, 3), (LD_W_ABS, 0, 0, 1000), (RET_A, 0, 0, 0)]
    assert run(program, b"") == 3
    with pytest.raises(InvalidProgramError):
        compile_program([(RET_K, 0, 0, 3), (ST, 0, 0, 16), (RET_A, 0, 0, 0)])


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_packet_types(kind: Callable[[bytes], PacketData]) -> None:
    program = [
        (LD_H_ABS, 0, 0, 0),
        (LDX_MSH, 0, 0, 2),
        (ADD_X, 0, 0, 0),
        (ST, 0, 0, 0),
        (LD_W_IND, 0, 0, 0),
        (LDX_MEM, 0, 0, 0),
        (ADD_X, 0, 0, 0),
        (LD_B_IND, 0, 0, 1),
        (RET_A, 0, 0, 0),
    ]
    packet = bytes([0x00, 0x01, 0x01]) + bytes(range(3, 40))
    expected = run_reference(program, packet, len(packet))
    assert expected != 0
    f = compile_program(program)
    assert f(kind(packet), len(packet)) == expected
    sliced = memoryview(b"\xee" + packet)[1:]
    assert f(sliced, len(packet)) == expected


# --- Code shape ---------------------------------------------------------------


def diamond_chain(count: int) -> list[Instruction]:
    """*count* if/else diamonds in a row, each joining before the next one."""
    program: list[Instruction] = []
    for i in range(count):
        program += [
            (LD_B_ABS, 0, 0, i),
            (JSET_K, 0, 2, 1),  # odd byte -> add 1; even -> add 2
            (ADD_X, 0, 0, 0),
            (JA, 0, 0, 1),
            (SUB_X, 0, 0, 0),
            (ADD_K, 0, 0, i),  # the join
            (TAX, 0, 0, 0),
        ]
    return program + [(TXA, 0, 0, 0), (RET_A, 0, 0, 0)]


def test_large_shared_blocks_become_states_and_code_stays_linear() -> None:
    program = diamond_chain(60)  # inlining every path would need 2**60 copies
    source = program_source(program)
    assert "while True:" in source
    assert source.count("\n") < 40 * len(program)
    f = compile_program(program)
    for seed in range(5):
        packet = bytes((seed * 37 + 11 * i) & 0xFF for i in range(64))
        assert f(packet, 64) == run_reference(program, packet, 64)
    assert f(bytes(59), 59) == 0


def test_many_copies_of_small_shared_blocks_fall_back_to_states() -> None:
    # 120 tests all jump to one 21-instruction tail: small enough to copy
    # once, but 120 copies would pass the size cap, so the tail becomes a state.
    tests = 120
    program: list[Instruction] = []
    for i in range(tests):
        tail_offset = 2 * tests - 2 * i - 1  # from 2i + 1 to the tail, past the ret #0
        program += [(LD_B_ABS, 0, 0, i % 50), (JEQ_K, tail_offset, 0, 0xEE)]
    program.append((RET_K, 0, 0, 0))
    program += [(ADD_K, 0, 0, 1)] * 20 + [(RET_A, 0, 0, 0)]
    source = program_source(program)
    assert "while True:" in source
    assert source.count("\n") < 6 * len(program)
    f = compile_program(program)
    for packet in (bytes(50), bytes(9) + b"\xee" + bytes(40), bytes(20), b"\xee"):
        assert f(packet, len(packet)) == run_reference(program, packet, len(packet))


def test_long_straight_programs_do_not_hit_recursion_or_nesting_limits() -> None:
    # 3000 chained tests: each false branch goes to the next test.
    program: list[Instruction] = []
    for i in range(3000):
        program += [(LD_B_ABS, 0, 0, i % 50), (JEQ_K, 0, 1, 0xEE), (RET_K, 0, 0, i + 1)]
    program.append((RET_K, 0, 0, 0))
    f = compile_program(program)
    assert f(bytes(50), 50) == 0
    assert f(bytes(7) + b"\xee" + bytes(42), 50) == 8
    assert f(bytes(49), 49) == 0


# --- Validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ([], "empty"),
        ([(LD_IMM, 0, 0, 0)], "not a ret"),
        ([(RET_K, 0, 0, 0), (LD_IMM, 0, 0, 0)], "not a ret"),
        ([(JEQ_K, 1, 0, 0), (RET_K, 0, 0, 0)], "jt target 2"),
        ([(JEQ_K, 0, 1, 0), (RET_K, 0, 0, 0)], "jf target 2"),
        ([(JSET_X, 0, 5, 0), (RET_K, 0, 0, 0)], "past the end"),
        ([(JA, 0, 0, 1), (RET_K, 0, 0, 0)], "ja target"),
        ([(JA, 0, 0, neg(2)), (RET_K, 0, 0, 0)], "ja target"),  # before instruction 0
        ([(0x55, 0, 0, 0), (RET_K, 0, 0, 0)], "invalid jump operation"),
        ([(LD_MEM, 0, 0, 16), (RET_K, 0, 0, 0)], "scratch memory index 16"),
        ([(LDX_MEM, 0, 0, 100), (RET_K, 0, 0, 0)], "scratch memory"),
        ([(ST, 0, 0, 16), (RET_K, 0, 0, 0)], "scratch memory"),
        ([(STX, 0, 0, U32), (RET_K, 0, 0, 0)], "scratch memory"),
        ([(DIV_K, 0, 0, 0), (RET_K, 0, 0, 0)], "div by constant zero"),
        ([(MOD_K, 0, 0, 0), (RET_K, 0, 0, 0)], "mod by constant zero"),
        ([(0xB4, 0, 0, 0), (RET_K, 0, 0, 0)], "invalid ALU operation"),
        ([(0xC0, 0, 0, 0), (RET_K, 0, 0, 0)], "addressing mode"),
        ([(0xE1, 0, 0, 0), (RET_K, 0, 0, 0)], "addressing mode"),
        # Accepted by bpf_validate, but bpf_filter would abort() on them:
        ([(0x0E, 0, 0, 0)], "can execute"),  # ret x
        ([(0x8C, 0, 0, 0), (RET_K, 0, 0, 0)], "can execute"),  # neg x
        ([(0xA0, 0, 0, 0), (RET_K, 0, 0, 0)], "can execute"),  # ld msh
        ([(0x08, 0, 0, 0), (RET_K, 0, 0, 0)], "can execute"),  # ldh #k
        ([(0x0F, 0, 0, 0), (RET_K, 0, 0, 0)], "can execute"),  # misc 0x08
        ([(0x12, 0, 0, 0), (RET_K, 0, 0, 0)], "can execute"),  # st with mode bits
        ([(0x0D, 0, 0, 0), (RET_K, 0, 0, 0)], "can execute"),  # ja x
        ([(0x106, 0, 0, 0)], "can execute"),  # 16-bit code
        # Fields wider than struct bpf_insn:
        ([(0x10000, 0, 0, 0)], "does not fit"),
        ([(RET_K, 256, 0, 0)], "does not fit"),
        ([(RET_K, 0, 0, -1)], "does not fit"),
        ([(RET_K, 0, 0, 1 << 32)], "does not fit"),
        ([(RET_K, 0, 0)], "not a (code, jt, jf, k) tuple"),
        ([("ret", 0, 0, 0)], "not a (code, jt, jf, k) tuple"),
    ],
)
def test_invalid_programs(program: list[Instruction], message: str) -> None:
    with pytest.raises(InvalidProgramError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(program)
    with pytest.raises(InvalidProgramError):
        compile_program(program)


def test_invalid_program_error_is_a_value_error() -> None:
    assert issubclass(InvalidProgramError, ValueError)


@pytest.mark.parametrize(
    "program",
    [
        [(RET_K, 0, 0, 0)],
        [(RET_A, 0, 0, 0)],
        [(JA, 0, 0, 0), (RET_K, 0, 0, 0)],
        [(JA, 0, 0, neg(1)), (RET_K, 0, 0, 0)],  # backward, to itself
        [(RET_K, 0, 0, 0), (JA, 0, 0, neg(2)), (RET_K, 0, 0, 0)],  # back to 0
        [(JEQ_K, 255, 255, 0)] + [(RET_K, 0, 0, 0)] * 256,
        [(LD_MEM, 0, 0, 15), (ST, 0, 0, 15), (DIV_K, 0, 0, 1), (MOD_X, 0, 0, 0), (RET_A, 0, 0, 0)],
        [[RET_K, 0, 0, 1]],  # any sequence of four integers
    ],
)
def test_valid_programs(program: list[Instruction]) -> None:
    validate(program)


# --- Differential tests against tcpdump / libpcap -----------------------------

TCPDUMP = shutil.which("tcpdump")
_skip_without_tcpdump = pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed")


def needs_tcpdump(test: TestFunction) -> TestFunction:
    """Mark a test as comparing with tcpdump ("tools"); skip it when tcpdump is missing."""
    return cast(TestFunction, pytest.mark.tools(_skip_without_tcpdump(test)))


CORPUS = Path(os.environ.get("PCAPY_CORPUS", "/work/shared/corpus")) / "pcap"
needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"capture corpus not found at {CORPUS} (set PCAPY_CORPUS)"
)

# link type in the file header -> tcpdump -y name
LINKTYPE_NAMES = {1: "EN10MB", 113: "LINUX_SLL", 276: "LINUX_SLL2", 101: "RAW", 228: "IPV4"}

ETHERNET_FILTERS = [
    "tcp port 80",
    "udp",
    "icmp",
    "arp",
    "ip6",
    "vlan",
    "vlan and tcp",
    "host 10.0.0.1",
    "net 192.168.0.0/16",
    "portrange 1-1024",
    "tcp[tcpflags] & tcp-syn != 0",
    "ip[2:2] > 100",
    "len > 200",
    "ether broadcast",
    "ip multicast",
    "ip6 and tcp",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "icmp6",
    "ip proto 47",
    "not tcp",
    "ip6 protochain 6",
    "ip protochain 17",
    "greater 100",
    "less 60",
    "ether multicast",
    "src port 53 or dst port 53",
    "ip[6:2] & 0x1fff != 0",
    "icmp[icmptype] = icmp-echo",
    "pppoes",
    "mpls",
    "tcp and (port 80 or port 443 or port 8080)",
    "ip[0] & 0xf > 5",
    "ip6[6] = 58",
    "ether proto 0x88cc",
    "ip[2:2] / 4 > 30",
    "ip[2:2] % 7 = 3",
    "ip[2:2] * 3 > 500",
    "ip[3] ^ 0xff = 0",
    "ip[2:2] >> 8 = 1",
    "ip[0] = 0x45 and -ip[2:2] < 0xffff0000",
    "tcp[0:2] + tcp[2:2] > 2000",
    "ip[2:2] - ip[0] > 10",
    "ip[9] % ip[8] = 0",
    "udp[4:2] / (udp[4:2] - 8) = 1",
    "ip[0] << (ip[1] & 0x3f) > 0",
    "ip[4:4] >> (ip[8] & 0x3f) = 0",
    "geneve",
    "udp[8:4] = 0",
]
COOKED_FILTERS = ["tcp", "udp port 53", "ip6", "arp", "tcp[tcpflags] & tcp-syn != 0", "len > 100"]
IP_FILTERS = ["tcp", "udp", "ip", "udp port 6696", "ip[8] > 60", "ip6 protochain 17", "len > 100"]
FILTERS_BY_LINKTYPE = {
    "EN10MB": ETHERNET_FILTERS,
    "LINUX_SLL": COOKED_FILTERS,
    "LINUX_SLL2": COOKED_FILTERS,
    "RAW": IP_FILTERS + ["ip6", "icmp6"],
    "IPV4": IP_FILTERS,
}

Packets = list[tuple[bytes, int]]


def read_pcap_bytes(data: bytes) -> Optional[tuple[int, Packets]]:
    """(link type, [(captured bytes, wire length)]) of a classic pcap file, as libpcap reads it.

    Returns None for other formats (pcapng, the "modified" format...).
    Follows libpcap where it matters for filtering: caplen is clipped to the
    snapshot length, v2.3 files may have caplen and len swapped, and reading
    stops at a truncated or insane record.
    """
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = ">"
    else:
        return None
    _, major, minor, _, _, snaplen, linktype = struct.unpack(order + "IHHiIII", data[:24])
    max_snaplen = 262144
    snapshot = snaplen if 0 < snaplen <= max_snaplen else max_snaplen
    packets: Packets = []
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack_from(order + "IIII", data, offset)
        offset += 16
        if (major, minor) < (2, 3) or ((major, minor) == (2, 3) and caplen > wirelen):
            caplen, wirelen = wirelen, caplen
        if caplen > max_snaplen or offset + caplen > len(data):
            break
        packets.append((data[offset : offset + min(caplen, snapshot)], wirelen))
        offset += caplen
    return linktype & 0x03FFFFFF, packets


@functools.cache
def corpus_files() -> dict[str, list[tuple[Path, Packets]]]:
    """Classic pcap files of the corpus, by tcpdump link-type name."""
    files: dict[str, list[tuple[Path, Packets]]] = {}
    for path in sorted(CORPUS.glob("*.pcap")):
        parsed = read_pcap_bytes(path.read_bytes())
        if parsed is not None and parsed[0] in LINKTYPE_NAMES:
            files.setdefault(LINKTYPE_NAMES[parsed[0]], []).append((path, parsed[1]))
    return files


@functools.cache
def tcpdump_program(expression: str, linktype: str = "EN10MB") -> list[Instruction]:
    """The program `tcpdump -ddd -y LINKTYPE EXPRESSION` prints."""
    assert TCPDUMP is not None
    output = subprocess.run(
        [TCPDUMP, "-ddd", "-y", linktype, "--", expression],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    count = int(output[0])
    program = [tuple(int(f) for f in line.split()) for line in output[1 : count + 1]]
    return [(p[0], p[1], p[2], p[3]) for p in program]


def tcpdump_accepted(path: Path, expression: str) -> Packets:
    """Packets that `tcpdump -r FILE -w - EXPRESSION` writes out."""
    assert TCPDUMP is not None
    written = subprocess.run(
        [TCPDUMP, "-r", str(path), "-w", "-", "--", expression],
        check=True,
        capture_output=True,
    ).stdout
    parsed = read_pcap_bytes(written)
    assert parsed is not None
    return parsed[1]


@needs_tcpdump
@needs_corpus
@pytest.mark.parametrize(
    ("linktype", "expression"),
    [(lt, e) for lt, exprs in FILTERS_BY_LINKTYPE.items() for e in exprs],
)
def test_tcpdump_programs_on_corpus_files(linktype: str, expression: str) -> None:
    files = corpus_files().get(linktype, [])
    if not files:
        pytest.skip(f"no {linktype} pcap files in {CORPUS}")
    program = tcpdump_program(expression, linktype)
    f = compile_program(program)
    for path, packets in files:
        ours = [(data, wirelen) for data, wirelen in packets if f(data, wirelen)]
        theirs = tcpdump_accepted(path, expression)
        assert len(ours) == len(theirs), f"{path.name}: {expression!r}"
        assert ours == theirs, f"{path.name}: {expression!r}"


@needs_tcpdump
@needs_corpus
def test_corpus_exercises_the_filters() -> None:
    files = corpus_files()
    assert len(files.get("EN10MB", [])) >= 10
    total = sum(len(p) for _, p in files["EN10MB"])
    accepted = 0
    for expression in ETHERNET_FILTERS:
        f = compile_program(tcpdump_program(expression))
        accepted += sum(1 for _, packets in files["EN10MB"] for d, w in packets if f(d, w))
    assert total > 5000 and accepted > 10000


@needs_tcpdump
def test_tcpdump_program_shapes() -> None:
    # Ordinary filters translate to straight-line code; protochain needs the loop.
    assert "while" not in program_source(tcpdump_program("tcp port 80"))
    assert "while True:" in program_source(tcpdump_program("ip6 protochain 6"))


# --- Property tests -------------------------------------------------------------

PROPERTY_FILTERS = [
    "tcp port 80",
    "udp",
    "arp",
    "vlan and tcp",
    "net 192.168.0.0/16",
    "portrange 1-1024",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "ip6 protochain 6",
    "ip protochain 17",
    "ip[9] % ip[8] = 0",
    "udp[4:2] / (udp[4:2] - 8) = 1",
    "ip[0] << (ip[1] & 0x3f) > 0",
    "geneve",
    "len > 60",
]


def ethernet_like_packets() -> st.SearchStrategy[bytes]:
    """Random bytes, often with an IPv4/IPv6/VLAN/ARP Ethernet header start."""
    ethertypes = st.sampled_from([b"\x08\x00", b"\x86\xdd", b"\x81\x00", b"\x08\x06", b"\x88\x47"])
    ipv4 = st.builds(
        lambda head, proto, tail: head[:9] + proto + tail,
        st.binary(min_size=9, max_size=9).map(lambda b: bytes([0x45 | (b[0] & 0x0F)]) + b[1:]),
        st.sampled_from([b"\x06", b"\x11", b"\x01", b"\x2f"]),
        st.binary(max_size=150),
    )
    ipv6 = st.builds(
        lambda head, nxt, tail: b"\x60" + head[1:6] + nxt + tail,
        st.binary(min_size=6, max_size=6),
        st.sampled_from([b"\x06", b"\x11", b"\x00", b"\x2b", b"\x2c", b"\x3c", b"\x33"]),
        st.binary(max_size=150),
    )
    framed = st.builds(
        lambda macs, etype, body: macs + etype + body,
        st.binary(min_size=12, max_size=12),
        ethertypes,
        st.one_of(ipv4, ipv6, st.binary(max_size=150)),
    )
    return st.one_of(st.binary(max_size=200), framed.map(lambda b: b[:200]))


@needs_tcpdump
@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=st.sampled_from(PROPERTY_FILTERS),
    packet=ethernet_like_packets(),
    wirelen=st.one_of(st.integers(0, 2000), st.integers(0, U32)),
)
def test_tcpdump_programs_match_reference(expression: str, packet: bytes, wirelen: int) -> None:
    program = tcpdump_program(expression)
    assert compiled(tuple(program))(packet, wirelen) == run_reference(program, packet, wirelen)


@functools.cache
def compiled(program: tuple[Instruction, ...]) -> Callable[[bytes, int], int]:
    return compile_program(program)


INTERESTING_K = [
    0,
    1,
    2,
    3,
    4,
    12,
    14,
    20,
    31,
    32,
    33,
    63,
    64,
    0x7FFFFFFF,
    0x80000000,
    U32 - 1,
    U32,
]
ANCILLARY_K = [
    SKF_AD_OFF + SKF_AD_PKTTYPE,
    SKF_AD_OFF + SKF_AD_VLAN_TAG,
    SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT,
]


@st.composite
def random_programs(draw: st.DrawFn, backward_jumps: bool = False) -> list[Instruction]:
    """Random valid programs with every executable opcode; forward jumps only unless asked."""
    length = draw(st.integers(1, 40))
    small_offsets = st.integers(0, 48)
    any_k = st.one_of(st.sampled_from(INTERESTING_K), st.integers(0, U32), small_offsets)
    program: list[Instruction] = []
    for i in range(length - 1):
        room = length - 2 - i  # largest forward offset that stays before the last ret
        code = draw(st.sampled_from(sorted(IMPLEMENTED)))
        jt = jf = 0
        if code in (LD_MEM, LDX_MEM, ST, STX):
            k = draw(st.integers(0, 15))
        elif code in (LD_W_ABS, LD_H_ABS, LD_B_ABS, LDX_MSH, LD_W_IND, LD_H_IND, LD_B_IND):
            k = draw(st.one_of(small_offsets, small_offsets, any_k, st.sampled_from(ANCILLARY_K)))
        elif code in (DIV_K, MOD_K):
            k = draw(any_k.filter(bool))
        elif code == JA:
            k = draw(st.integers(0, room))
            if backward_jumps and draw(st.booleans()):
                k = neg(draw(st.integers(1, i + 1)))
        elif code in JUMPS:
            jt, jf = draw(st.integers(0, room)), draw(st.integers(0, room))
            k = draw(any_k)
        else:
            k = draw(any_k)
        program.append((code, jt, jf, k))
    ret = draw(st.sampled_from([RET_A, RET_K]))
    program.append((ret, 0, 0, draw(any_k)))
    return program


def random_packets() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=64), st.binary(max_size=200))


@settings(max_examples=examples(400), deadline=None)
@given(program=random_programs(), packet=random_packets(), wirelen=st.integers(0, U32))
def test_random_programs_match_reference(
    program: list[Instruction], packet: bytes, wirelen: int
) -> None:
    validate(program)
    assert compile_program(program)(packet, wirelen) == run_reference(program, packet, wirelen)


@settings(max_examples=examples(200), deadline=None)
@given(
    program=random_programs(backward_jumps=True),
    packets=st.lists(random_packets(), min_size=1, max_size=4),
)
def test_random_programs_with_backward_jumps_match_reference(
    program: list[Instruction], packets: list[bytes]
) -> None:
    validate(program)
    results: list[Optional[int]] = []
    for packet in packets:
        try:
            results.append(run_reference(program, packet, len(packet), max_steps=5000))
        except StepLimitExceeded:
            results.append(None)
    assume(any(r is not None for r in results))
    f = compile_program(program)
    for packet, expected in zip(packets, results):
        if expected is not None:  # programs that loop forever are not run
            assert f(packet, len(packet)) == expected


# --- libpcap itself, through ctypes ----------------------------------------------


class BpfInsn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


@functools.cache
def libpcap() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library("pcap")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.bpf_filter.restype = ctypes.c_uint
    lib.bpf_filter.argtypes = [
        ctypes.POINTER(BpfInsn),
        ctypes.c_char_p,
        ctypes.c_uint,
        ctypes.c_uint,
    ]
    lib.bpf_validate.restype = ctypes.c_int
    lib.bpf_validate.argtypes = [ctypes.POINTER(BpfInsn), ctypes.c_int]
    return lib


def insn_array(program: Sequence[Instruction]) -> ctypes.Array[BpfInsn]:
    return (BpfInsn * len(program))(*(BpfInsn(*insn) for insn in program))


_skip_without_libpcap = pytest.mark.skipif(
    libpcap() is None, reason="libpcap shared library not found"
)


def needs_libpcap(test: TestFunction) -> TestFunction:
    """Mark a test as calling libpcap ("libpcap"); skip it when libpcap cannot be loaded."""
    return cast(TestFunction, pytest.mark.libpcap(_skip_without_libpcap(test)))


# Shifts by constants >= 32 are undefined in C; our choice matches x86 and ARM.
needs_x86_or_arm = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64", "i686", "i386", "aarch64", "arm64"),
    reason="libpcap's shift-by-constant >= 32 is CPU-dependent",
)


@needs_libpcap
@needs_x86_or_arm
@settings(max_examples=examples(400), deadline=None)
@given(program=random_programs(), packet=random_packets(), wirelen=st.integers(0, U32))
def test_random_programs_match_libpcap_bpf_filter(
    program: list[Instruction], packet: bytes, wirelen: int
) -> None:
    lib = libpcap()
    assert lib is not None
    # libpcap before 1.10.6/master leaves scratch memory uninitialised; zero
    # it with "st M[i]" (A starts at 0) so both sides agree.
    zeroed = [(ST, 0, 0, cell) for cell in range(16)] + program
    expected = lib.bpf_filter(insn_array(zeroed), packet, wirelen, len(packet))
    assert compile_program(program)(packet, wirelen) == expected


@needs_libpcap
@needs_tcpdump
@settings(max_examples=examples(150), deadline=None)
@given(
    expression=st.sampled_from(PROPERTY_FILTERS),
    packet=ethernet_like_packets(),
    wirelen=st.integers(0, 2000),
)
def test_tcpdump_programs_match_libpcap_bpf_filter(
    expression: str, packet: bytes, wirelen: int
) -> None:
    lib = libpcap()
    assert lib is not None
    program = tcpdump_program(expression)
    expected = lib.bpf_filter(insn_array(program), packet, wirelen, len(packet))
    assert compiled(tuple(program))(packet, wirelen) == expected


def raw_instructions() -> st.SearchStrategy[Instruction]:
    codes = st.one_of(
        st.sampled_from(sorted(IMPLEMENTED)), st.integers(0, 0xFF), st.integers(0, 0xFFFF)
    )
    return st.tuples(
        codes,
        st.integers(0, 8),
        st.integers(0, 8),
        st.one_of(st.integers(0, 20), st.integers(0, U32)),
    )


@needs_libpcap
@settings(max_examples=examples(600), deadline=None)
@given(program=st.lists(raw_instructions(), max_size=8))
def test_validate_matches_libpcap_bpf_validate(program: list[Instruction]) -> None:
    # validate() = bpf_validate, plus rejecting opcodes bpf_filter aborts on.
    lib = libpcap()
    assert lib is not None
    array = insn_array(program) if program else (BpfInsn * 1)()
    libpcap_accepts = bool(lib.bpf_validate(array, len(program)))
    should_accept = libpcap_accepts and all(code in IMPLEMENTED for code, _, _, _ in program)
    try:
        validate(program)
    except InvalidProgramError:
        assert not should_accept
    else:
        assert should_accept
