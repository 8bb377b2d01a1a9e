"""``python -m pcapy._codegen``: print the source of any generated variant, for debugging.

    python -m pcapy._codegen list
    python -m pcapy._codegen dump "pcap driver" "tcp port 80"      # the filter by libpcap
    python -m pcapy._codegen dump "pcapng generator" \
        --instructions "128 0 0 0; 37 0 1 100; 6 0 0 65535; 6 0 0 0"
    python -m pcapy._codegen dump "pcap batch" "udp" --called      # called, not inlined
    python -m pcapy._codegen dump --all DIRECTORY                 # the golden set

A variant is what one family of generators writes for one filter (or none): the record loops of
the classic pcap and pcapng engines (generator, driver, batch), and the BPF translator's
functions. The engines are imported here, at the top of the stack (nothing imports this module).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from .._bpf import BPFProgram
from .._bpf_vm import program_source
from .._savefile import _pcap, _pcapng
from . import Line

Instruction = tuple[int, int, int, int]


class CalledFilter(BPFProgram):
    """A program the record loops call (its in-place function) rather than inline."""

    __slots__ = ()

    def inline_statements(self, deliver: Sequence[Line]) -> Optional[list[Line]]:
        return None


def _pcap_loop(kind: _pcap.LoopKind) -> Callable[[Optional[BPFProgram]], str]:
    return lambda program: _pcap.loop_source(_pcap.per_packet(program, kind.deliver), kind)


def _pcapng_loop(kind: _pcap.LoopKind) -> Callable[[Optional[BPFProgram]], str]:
    return lambda program: _pcapng.loop_source(_pcapng.per_packet(program, kind.deliver), kind)


def _pcap_batch(program: Optional[BPFProgram]) -> str:
    return _pcap.batch_source(_pcap.per_packet(program, _pcap.batch_deliver(nanosecond=False)))


def _bpf(in_place: bool) -> Callable[[Optional[BPFProgram]], str]:
    def source(program: Optional[BPFProgram]) -> str:
        if program is None:
            raise SystemExit("the BPF translator's variants need a filter")
        return program_source(program.instructions, in_place=in_place)

    return source


#: family -> what writes its source for a filter (None: no filter)
FAMILIES: dict[str, Callable[[Optional[BPFProgram]], str]] = {
    "pcap generator": _pcap_loop(_pcap.GENERATOR),
    "pcap iterator": _pcap_loop(_pcap.ITERATOR),
    "pcap driver": _pcap_loop(_pcap.DRIVER),
    "pcap uncounted driver": _pcap_loop(_pcap.UNCOUNTED_DRIVER),
    "pcap batch": _pcap_batch,
    "pcapng generator": _pcapng_loop(_pcapng.GENERATOR),
    "pcapng iterator": _pcapng_loop(_pcapng.ITERATOR),
    "pcapng driver": _pcapng_loop(_pcapng.DRIVER),
    "bpf program": _bpf(in_place=False),
    "bpf program in place": _bpf(in_place=True),
}

#: The golden set's filters, built without libpcap: wire length above 100 (no packet read),
#: and an IPv4 TCP test reading the packet at fixed and at indexed offsets, with scratch memory.
GOLDEN_PROGRAMS: dict[str, list[Instruction]] = {
    "longer": [(0x80, 0, 0, 0), (0x25, 0, 1, 100), (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0)],
    "tcp80": [
        (0x28, 0, 0, 12), (0x15, 0, 8, 0x0800), (0x30, 0, 0, 23), (0x15, 0, 6, 6),
        (0xB1, 0, 0, 14), (0x48, 0, 0, 16), (0x02, 0, 0, 3), (0x60, 0, 0, 3),
        (0x15, 0, 1, 80), (0x06, 0, 0, 262144), (0x06, 0, 0, 0),
    ],
}


def golden_variants() -> dict[str, str]:
    """File name -> source, for every family without a filter, with each golden filter
    inlined, and with one called."""
    out: dict[str, str] = {}
    for family, write in FAMILIES.items():
        stem = family.replace(" ", "_")
        if not family.startswith("bpf"):
            out[f"{stem}.py"] = write(None)
            out[f"{stem}__called.py"] = write(CalledFilter._compiled(GOLDEN_PROGRAMS["tcp80"], 1))
        for name, instructions in GOLDEN_PROGRAMS.items():
            out[f"{stem}__{name}.py"] = write(BPFProgram._compiled(instructions, 1))
    return out


def _program(args: argparse.Namespace) -> Optional[BPFProgram]:
    cls = CalledFilter if args.called else BPFProgram
    if args.instructions:
        instructions = [
            tuple(int(field, 0) for field in insn.split())
            for insn in args.instructions.split(";")
            if insn.strip()
        ]
        return cls._compiled(instructions, args.linktype)  # type: ignore[arg-type]
    if args.expression is None:
        return None
    compiled = BPFProgram(args.expression, args.linktype)
    return cls._compiled(compiled.instructions, args.linktype)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pcapy._codegen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the families of generated code")
    dump = commands.add_parser("dump", help="print one variant's source")
    dump.add_argument("family", nargs="?", choices=sorted(FAMILIES))
    dump.add_argument("expression", nargs="?", help="a filter, compiled by libpcap")
    dump.add_argument("--instructions", help="a program as 'code jt jf k;...' instead")
    dump.add_argument("--linktype", type=int, default=1, help="the filter's DLT (default 1)")
    dump.add_argument("--called", action="store_true", help="call the filter, do not inline it")
    dump.add_argument("--all", metavar="DIRECTORY", help="write the golden set there")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "list":
        print("\n".join(FAMILIES))
        return 0
    if args.all:
        directory = Path(args.all)
        directory.mkdir(parents=True, exist_ok=True)
        for name, source in golden_variants().items():
            (directory / name).write_text(source, encoding="utf-8")
        return 0
    if args.family is None:
        raise SystemExit("dump needs a family (see `list`) or --all DIRECTORY")
    sys.stdout.write(FAMILIES[args.family](_program(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
