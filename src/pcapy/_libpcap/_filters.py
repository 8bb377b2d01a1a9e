"""BPF compilation through libpcap's compiler, and installing programs on live handles.

Compiled programs leave this module as plain Python ``(code, jt, jf, k)`` tuples: the C
``bpf_program`` is freed (``pcap_freecode``) before ``compile_filter`` returns, so a
``BPFProgram`` owns no C memory and cannot leak it. Installing a program rebuilds the C array
for the duration of the ``pcap_setfilter`` call, which copies it.
"""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple, Optional

from .._errors import BPFError
from ._cdef import PCAP_ERRBUF_SIZE
from ._loader import Libpcap, load
from ._status import errbuf_message, handle_error

Instruction = tuple[int, int, int, int]

# libpcap before 1.8 kept the filter parser's state in globals; a lock costs nothing by
# comparison with compiling.
_compile_lock = threading.Lock()

_PCAP_MAGIC = 0xA1B2C3D4
_PCAP_HEADER_SIZE = 24
_HOST_ORDER, _OTHER_ORDER = ("<", ">") if sys.byteorder == "little" else (">", "<")


class SavefileShape(NamedTuple):
    """What libpcap's compiler reads from a savefile's ``pcap_t`` besides the link type.

    ``linktype`` is the LINKTYPE_ value the file stores; ``swapped`` whether the file was
    written in the other byte order than this machine's.
    """

    linktype: int
    swapped: bool


def compile_filter(
    dlt: int,
    snaplen: int,
    expression: str,
    optimize: bool,
    netmask: int,
    savefile: Optional[SavefileShape] = None,
) -> list[Instruction]:
    """Compile ``expression`` for a link type with libpcap; raise BPFError with its message.

    Without ``savefile`` the program is compiled on ``pcap_open_dead`` (as for a live capture
    or ``pcapy.compile()``). With it, on a savefile ``pcap_t`` libpcap opens over a file header
    of that shape held in memory, because libpcap's code generator has savefile rules: on
    DLT_NULL, ``ip6`` matches every BSD AF_INET6 value (24, 28, 30), and an address family is
    byte-swapped for a file from a machine of the other byte order.
    """
    libpcap = load()
    ffi, lib = libpcap.ffi, libpcap.lib
    handle, keep_alive = _compiling_handle(libpcap, dlt, snaplen, savefile)
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
        lib.pcap_close(handle)  # fclose()s a savefile's memory stream
        del keep_alive


def _compiling_handle(
    libpcap: Libpcap, dlt: int, snaplen: int, savefile: Optional[SavefileShape]
) -> tuple[Any, Any]:
    """A ``pcap_t`` to compile on, and what must outlive it (a savefile header's memory)."""
    if savefile is not None and _can_open_savefile_in_memory(libpcap):
        return _savefile_handle(libpcap, dlt, snaplen, savefile)
    handle = libpcap.lib.pcap_open_dead(dlt, snaplen)
    if handle == libpcap.ffi.NULL:
        raise BPFError(f"cannot compile filters for link type {dlt} (pcap_open_dead failed)")
    return handle, None


def _can_open_savefile_in_memory(libpcap: Libpcap) -> bool:
    """Whether ``fmemopen`` and ``pcap_fopen_offline`` exist (not on Windows)."""
    if libpcap.libc is None or not libpcap.has("pcap_fopen_offline"):
        return False
    try:
        libpcap.libc.fmemopen  # noqa: B018 - probe: POSIX 2008
    except (AttributeError, NotImplementedError):
        return False
    return True


def _savefile_handle(
    libpcap: Libpcap, dlt: int, snaplen: int, savefile: SavefileShape
) -> tuple[Any, Any]:
    """libpcap's savefile ``pcap_t`` over a classic pcap header in memory, checked."""
    ffi, lib, libc = libpcap.ffi, libpcap.lib, libpcap.libc
    order = _OTHER_ORDER if savefile.swapped else _HOST_ORDER
    header = ffi.new(
        "char[]",
        struct.pack(
            order + "IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, snaplen & 0xFFFFFFFF, savefile.linktype
        ),
    )
    stream = libc.fmemopen(header, _PCAP_HEADER_SIZE, b"rb")
    if stream == ffi.NULL:
        raise BPFError(f"cannot compile filters for link type {dlt} (fmemopen failed)")
    errbuf = ffi.new("char[]", PCAP_ERRBUF_SIZE)
    handle = lib.pcap_fopen_offline(stream, errbuf)
    if handle == ffi.NULL:
        libc.fclose(stream)  # libpcap leaves a stream it refused to the caller
        raise BPFError(f"cannot compile filters for link type {dlt}: {errbuf_message(ffi, errbuf)}")
    if lib.pcap_datalink(handle) != dlt:
        found = lib.pcap_datalink(handle)
        lib.pcap_close(handle)
        raise BPFError(f"LINKTYPE {savefile.linktype} reads as DLT {found} in libpcap, not {dlt}")
    return handle, header


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
