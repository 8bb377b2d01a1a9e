"""pcapy's own pcap-filter compiler: filter expressions to classic BPF without libpcap.

``compile_filter`` takes what ``pcap_compile`` takes and gives instructions whose verdict on
every packet is the one libpcap's program gives (libpcap's ``gencode.c`` is the reference for
semantics). The pipeline: ``_lexer`` (tokens as libpcap's scanner cuts them), ``_parser`` (the
grammar, to ``_ast``), ``_walk``/``_gen``/``_sets`` (code, through the blocks of ``_ir``),
and ``_optimize`` (folding, jump threading, dead code). ``pcapy -d`` lists the result.

This package never imports libpcap; it raises only ``BPFError`` (the parts of the language it
does not implement raise one that says so, and ``pcapy.compile`` can then use libpcap instead).
"""

from __future__ import annotations

from typing import Optional

from .._errors import BPFError
from ._gen import SUPPORTED_LINKTYPES, CodeGenerator
from ._ir import MAX_INSTRUCTIONS, Instruction, assemble, finish, returning
from ._optimize import accepts_nothing, optimize_graph
from ._parser import parse
from ._walk import Walker

__all__ = ["MAX_INSTRUCTIONS", "SUPPORTED_LINKTYPES", "compile_filter"]

def compile_filter(
    expression: str,
    linktype: int,
    snaplen: int = 262144,
    *,
    optimize: bool = True,
    netmask: int = 0xFFFFFFFF,
    savefile_swapped: Optional[bool] = None,
) -> tuple[Instruction, ...]:
    """(code, jt, jf, k) classic BPF instructions, as pcap_compile would give (verdicts identical).

    savefile_swapped None: compiled as on pcap_open_dead/live; False/True: compiled for a savefile
    of that link type whose byte order equals/differs from the host's (libpcap's savefile rules
    for DLT_NULL/DLT_LOOP: BSD AF_INET6 values 24/28/30, swapped AF values). Raises
    pcapy.BPFError (pcapy._errors) with a message naming the unsupported or wrong part.
    """
    try:
        return _compile(expression, linktype, snaplen, optimize, netmask, savefile_swapped)
    except RecursionError:
        raise BPFError("filter expression nested too deeply") from None


def _compile(
    expression: str,
    linktype: int,
    snaplen: int,
    optimize: bool,
    netmask: int,
    savefile_swapped: Optional[bool],
) -> tuple[Instruction, ...]:
    if not isinstance(expression, str):
        raise BPFError(f"filter expression must be a str, not {type(expression).__name__}")
    for name, value in (("linktype", linktype), ("snaplen", snaplen), ("netmask", netmask)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BPFError(f"{name} must be an int, not {type(value).__name__}")
    if snaplen == 0:  # pcap_open_dead keeps the snapshot length it is given
        raise BPFError("snaplen of 0 rejects all packets")
    snaplen &= 0xFFFFFFFF
    generator = CodeGenerator(linktype, snaplen, netmask & 0xFFFFFFFF, savefile_swapped)
    tree = parse(expression)
    root = returning(snaplen) if tree is None else finish(Walker(generator).node(tree), snaplen)
    if optimize and not generator.no_optimize:
        root = optimize_graph(root)
        if accepts_nothing(root):
            raise BPFError("expression rejects all packets")
    program = assemble(root)
    if len(program) > MAX_INSTRUCTIONS:
        raise BPFError(
            f"filter compiles to {len(program)} instructions, more than the {MAX_INSTRUCTIONS} "
            "(BPF_MAXINSNS) a kernel accepts"
        )
    return tuple(program)
