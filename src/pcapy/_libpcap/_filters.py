"""BPF compilation through libpcap's compiler, and installing programs on live handles.

Compiled programs leave this module as plain Python ``(code, jt, jf, k)`` tuples: the C
``bpf_program`` is freed (``pcap_freecode``) before ``compile_filter`` returns, so a
``BPFProgram`` owns no C memory and cannot leak it. Installing a program rebuilds the C array
for the duration of the ``pcap_setfilter`` call, which copies it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from .._errors import BPFError
from ._loader import load
from ._status import handle_error

Instruction = tuple[int, int, int, int]

# libpcap before 1.8 kept the filter parser's state in globals; a lock costs nothing by
# comparison with compiling.
_compile_lock = threading.Lock()


def compile_filter(
    dlt: int, snaplen: int, expression: str, optimize: bool, netmask: int
) -> list[Instruction]:
    """Compile ``expression`` for a link type with libpcap; raise BPFError with its message."""
    libpcap = load()
    ffi, lib = libpcap.ffi, libpcap.lib
    handle = lib.pcap_open_dead(dlt, snaplen)
    if handle == ffi.NULL:
        raise BPFError(f"cannot compile filters for link type {dlt} (pcap_open_dead failed)")
    try:
        program = ffi.new("struct bpf_program *")
        with _compile_lock:
            status = lib.pcap_compile(
                handle, program, expression.encode("utf-8"), int(bool(optimize)), netmask
            )
        if status < 0:
            raise BPFError(handle_error(ffi, lib, handle) or "cannot compile filter")
        try:
            return _instructions(program)
        finally:
            lib.pcap_freecode(program)
    finally:
        lib.pcap_close(handle)


def _instructions(program: Any) -> list[Instruction]:
    insns = program.bf_insns
    return [
        (insns[i].code, insns[i].jt, insns[i].jf, insns[i].k) for i in range(program.bf_len)
    ]


def set_handle_filter(handle: Any, instructions: Sequence[Instruction]) -> None:
    """Install a compiled program on an open pcap_t (pcap_setfilter copies it)."""
    libpcap = load()
    ffi, lib = libpcap.ffi, libpcap.lib
    insns = ffi.new("struct bpf_insn[]", len(instructions))
    for slot, (code, jt, jf, k) in zip(insns, instructions):
        slot.code, slot.jt, slot.jf, slot.k = code, jt, jf, k
    program = ffi.new("struct bpf_program *")
    program.bf_len = len(instructions)
    program.bf_insns = insns
    if lib.pcap_setfilter(handle, program) < 0:
        raise BPFError(handle_error(ffi, lib, handle) or "cannot install filter")
