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

import sys
import threading
from typing import Any, Callable, Optional, TypeVar, Union

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
    arguments = (expression, linktype, snaplen, optimize, netmask, savefile_swapped)
    try:
        return _compile(*arguments)
    except RecursionError:
        return _compile_nested(arguments)


# The parser refuses what libpcap's parser refuses (10,000 states on bison's stack), so an
# expression it accepts nests at most ~10,000 deep; parsing and generating code for that takes
# ~7 Python frames a level. Such an expression is compiled again in a thread of its own with room
# for that many frames (Python < 3.11 puts each on the C stack), one at a time.
_NESTED_RECURSION_LIMIT = 120_000
_NESTED_STACK_BYTES = 768 * 1024 * 1024
_nested_lock = threading.Lock()


def _compile_nested(arguments: tuple[Any, ...]) -> tuple[Instruction, ...]:
    return run_nested(_compile, *arguments)


_Result = TypeVar("_Result")


def run_nested(function: Callable[..., _Result], *arguments: Any) -> _Result:
    """``function(*arguments)`` in a thread with room for the parser's and code generator's
    recursion (as deep as libpcap's parser nests); a RecursionError past it is a BPFError."""
    outcome: list[Union[_Result, BaseException]] = []

    def run() -> None:
        try:
            outcome.append(function(*arguments))
        except RecursionError:
            outcome.append(BPFError("filter expression nested too deeply"))
        except BaseException as error:  # handed to the calling thread
            outcome.append(error)

    with _nested_lock:
        limit, stack_size = sys.getrecursionlimit(), threading.stack_size()
        sys.setrecursionlimit(max(limit, _NESTED_RECURSION_LIMIT))
        try:
            threading.stack_size(_NESTED_STACK_BYTES)
            worker = threading.Thread(target=run, name="pcapy-filter-compile")
            threading.stack_size(stack_size)
            worker.start()
            worker.join()
        finally:
            sys.setrecursionlimit(limit)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


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
