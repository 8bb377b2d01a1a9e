"""``-d``, ``-dd``, ``-ddd``: the compiled filter program as tcpdump prints it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

import pcapy

from .._bpf import compile_for, savefile_swapped
from .live import choose_linktype, open_live

_SKF_AD_OFF = 0xFFFFF000
_SKF_AD_NAMES = {0: "proto", 4: "type", 8: "ifidx", 12: "nla", 16: "nlan", 20: "mark",
                 24: "queue", 28: "hatype", 32: "rxhash", 36: "cpu", 40: "xor_x",
                 44: "vlan_tci", 48: "vlanp", 52: "poff", 56: "random", 60: "vlan_tpid"}
#: opcode -> (mnemonic, operand format), as `tcpdump -d` prints each instruction
_BPF_OPCODES: dict[int, tuple[str, str]] = {
    0x06: ("ret", "#{k}"), 0x16: ("ret", ""),
    0x20: ("ld", "[{abs}]"), 0x28: ("ldh", "[{abs}]"), 0x30: ("ldb", "[{abs}]"),
    0x80: ("ld", "#pktlen"),
    0x40: ("ld", "[x + {k}]"), 0x48: ("ldh", "[x + {k}]"), 0x50: ("ldb", "[x + {k}]"),
    0x00: ("ld", "#0x{k:x}"), 0x01: ("ldx", "#0x{k:x}"), 0xB1: ("ldxb", "4*([{k}]&0xf)"),
    0x60: ("ld", "M[{k}]"), 0x61: ("ldx", "M[{k}]"), 0x02: ("st", "M[{k}]"),
    0x03: ("stx", "M[{k}]"), 0x05: ("ja", "{target}"),
    0x25: ("jgt", "#0x{k:x}"), 0x35: ("jge", "#0x{k:x}"), 0x15: ("jeq", "#0x{k:x}"),
    0x45: ("jset", "#0x{k:x}"),
    0x2D: ("jgt", "x"), 0x3D: ("jge", "x"), 0x1D: ("jeq", "x"), 0x4D: ("jset", "x"),
    0x0C: ("add", "x"), 0x1C: ("sub", "x"), 0x2C: ("mul", "x"), 0x3C: ("div", "x"),
    0x9C: ("mod", "x"), 0x5C: ("and", "x"), 0x4C: ("or", "x"), 0xAC: ("xor", "x"),
    0x6C: ("lsh", "x"), 0x7C: ("rsh", "x"),
    0x04: ("add", "#{k}"), 0x14: ("sub", "#{k}"), 0x24: ("mul", "#{k}"), 0x34: ("div", "#{k}"),
    0x94: ("mod", "#{k}"), 0x54: ("and", "#0x{k:x}"), 0x44: ("or", "#0x{k:x}"),
    0xA4: ("xor", "#0x{k:x}"), 0x64: ("lsh", "#{k}"), 0x74: ("rsh", "#{k}"),
    0x84: ("neg", ""), 0x07: ("tax", ""), 0x87: ("txa", ""),
}


def bpf_image(instruction: Sequence[int], index: int) -> str:
    """One instruction as ``tcpdump -d`` prints it: ``(000) ldh      [12]``."""
    code, jt, jf, k = instruction
    mnemonic, operand = _BPF_OPCODES.get(code, ("unimp", "0x{code:x}"))
    signed = k - (1 << 32) if k & 0x80000000 else k
    text = operand.format(k=signed if "{k}" in operand else k & 0xFFFFFFFF, code=code,
                          abs=_absolute_operand(k), target=index + 1 + signed)
    if code & 0x07 == 0x05 and code & 0xF0 != 0x00:
        return f"({index:03d}) {mnemonic:<8} {text:<16} jt {index + 1 + jt}\tjf {index + 1 + jf}"
    return f"({index:03d}) {mnemonic:<8} {text}"


def _absolute_operand(k: int) -> str:
    name = _SKF_AD_NAMES.get(k - _SKF_AD_OFF) if k >= _SKF_AD_OFF else None
    if name is not None:
        return name
    return str(k - (1 << 32) if k & 0x80000000 else k)


def format_program(instructions: Sequence[Sequence[int]], level: int) -> list[str]:
    """``tcpdump -d`` (level 1), ``-dd`` (2) or ``-ddd`` (3) output lines."""
    if level >= 3:
        return [str(len(instructions))] + [" ".join(str(f) for f in insn) for insn in instructions]
    if level == 2:
        return [f"{{ 0x{code:x}, {jt}, {jf}, 0x{k:08x} }}," for code, jt, jf, k in instructions]
    return [bpf_image(insn, index) for index, insn in enumerate(instructions)]


def print_program(args: argparse.Namespace) -> int:
    dlt, snaplen, swapped = _compile_target(args)
    program = compile_for(dlt, snaplen, args.filter, 0 if args.no_optimize else 1, 0,
                          savefile_swapped=swapped, compiler=args.compiler)
    sys.stdout.write("".join(line + "\n" for line in format_program(program.get_bpf(),
                                                                    args.dump_program)))
    return 0


def _compile_target(args: argparse.Namespace) -> tuple[int, int, Optional[bool]]:
    """The link type and snapshot length a filter is compiled for (as tcpdump picks them),
    and for a file, whether it is in the other byte order: the program is the one ``-r FILE``
    runs, compiled with libpcap's rules for that savefile (``compile_for``)."""
    if args.read:
        with pcapy.open_offline(args.read) as reader:
            swapped = savefile_swapped(reader.file_header)
            return reader.datalink(), reader.snapshot(), swapped
    if args.interface:
        reader = open_live(args.interface, args)
        try:
            choose_linktype(reader, args)
            return reader.datalink(), reader.snapshot(), None
        finally:
            reader.close()
    return (pcapy.DLT_EN10MB if args.dlt is None else args.dlt), args.snaplen, None

