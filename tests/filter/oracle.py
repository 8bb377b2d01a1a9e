"""The reference for filter verification: libpcap's compiler and libpcap's own interpreter.

Programs are compiled by ``pcap_compile`` (on ``pcap_open_dead``, or on a savefile opened with
``pcap_open_offline`` when the savefile's byte order matters: libpcap's DLT_NULL/DLT_LOOP rules)
and run by ``pcap_offline_filter``, which is libpcap's ``bpf_filter`` over a packet header's
caplen and len. pcapy's own executor (``pcapy._bpf_vm``) plays no part in the reference.

libpcap 1.10 leaves the scratch memory ``M[]`` uninitialised. A program that reads a word it
did not store first has no defined verdict there; libpcap's compiler never emits one, and the
kernel refuses one (``SO_ATTACH_FILTER``). So before a program of *ours* runs on libpcap's
interpreter, ``run_on_libpcap`` stores 0 in every word first (the prefix is 16 ``st``
instructions; jumps are relative, so the rest is unchanged), which is what pcapy's executor and
libpcap master do; ``reads_unset_scratch`` tells whether a program needs that at all.

This module is shared by tests/filter and fuzz/filter_diff.py; it uses the loaded libpcap
through ``pcapy._libpcap.load()`` (the ffi/lib pair), as fuzz/harness.py does.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pcapy
from pcapy import _libpcap
from pcapy._libpcap._status import handle_error

Instruction = tuple[int, int, int, int]
Program = tuple[Instruction, ...]

#: Tier 1: the link types most captures have (issue 14), by libpcap's DLT_ name.
TIER1_NAMES = ("EN10MB", "LINUX_SLL", "LINUX_SLL2", "RAW", "IPV4", "IPV6", "NULL", "LOOP")
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
TESTRUN_SNAPLEN = 262144  # filtertest's default (MAXIMUM_SNAPLEN)
_MAX_U32 = 0xFFFFFFFF
_ZERO_SCRATCH: Program = tuple((0x02, 0, 0, k) for k in range(16))  # st M[k] with A == 0


def libpcap() -> Any:
    """The loaded libpcap (``pcapy._libpcap.Libpcap``)."""
    return _libpcap.load()


@functools.cache
def dlt_value(name: str) -> int:
    """libpcap's DLT_ value for a name without the ``DLT_`` prefix; -1 if it knows none."""
    lib = libpcap().lib
    return int(lib.pcap_datalink_name_to_val(name.encode("ascii")))


def tier1_dlts() -> dict[str, int]:
    return {name: dlt_value(name) for name in TIER1_NAMES}


def parse_netmask(text: str | None) -> int:
    """A case's netmask: dotted quad, or None for PCAP_NETMASK_UNKNOWN."""
    if text is None:
        return PCAP_NETMASK_UNKNOWN
    return int.from_bytes(bytes(int(part) for part in text.split(".")), "big")


NO_LOOKUP = "not given to libpcap: a name it could look up in DNS"
# Words after these are port or protocol names (files: /etc/services, /etc/protocols), never hosts.
_NAMED_BY_FILES = frozenset({"PORT", "PORTRANGE", "PROTO", "PROTOCHAIN"})
_PORT_RANGE = re.compile(r"[0-9]+-[0-9]+$")


@functools.cache
def _hosts_file_names() -> frozenset[str]:
    try:
        lines = Path("/etc/hosts").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()
    return frozenset(word for line in lines for word in line.split("#")[0].split()[1:])


def name_lookup(expression: str) -> str | None:
    """A word of ``expression`` libpcap might resolve through DNS, or None.

    libpcap's compiler looks host names up (getaddrinfo), and that sends a DNS query off this
    machine; the tests never let it. A word after ``port``/``proto``/... is looked up in files;
    a name in /etc/hosts is resolved there. Any other word may be a host name: the expression is
    not given to libpcap (a few port names after an implied ``port`` are refused too).
    """
    from pcapy._filter._lexer import tokenize

    try:
        tokens = tokenize(expression)
    except pcapy.BPFError:
        return None  # libpcap's scanner refuses it too, before any lookup
    hosts_file_names = _hosts_file_names()
    for before, token in zip([None, *tokens], tokens):
        if token.kind != "ID" or token.text in hosts_file_names or _PORT_RANGE.match(token.text):
            continue
        if before is not None and before.kind in _NAMED_BY_FILES:
            continue
        return token.text
    return None


class Rejected(Exception):
    """libpcap refused the expression; ``str()`` is its message."""


def compile_reference(expression: str, dlt: int, snaplen: int = TESTRUN_SNAPLEN, *,
                      optimize: bool = True, netmask: int = PCAP_NETMASK_UNKNOWN,
                      savefile_swapped: bool | None = None) -> Program:
    """libpcap's program for ``expression``; raises ``Rejected`` with libpcap's message.

    ``savefile_swapped`` None compiles on ``pcap_open_dead``; False/True compiles on an empty
    savefile of that link type written in the host's / the other byte order.
    """
    lookup = name_lookup(expression)
    if lookup is not None:
        raise Rejected(f"{NO_LOOKUP}: {lookup!r}")
    if savefile_swapped is None:
        try:
            return tuple(_libpcap.compile_filter(dlt, snaplen, expression, optimize, netmask))
        except pcapy.BPFError as err:
            raise Rejected(str(err)) from None
    return _compile_on_savefile(expression, dlt, snaplen, optimize, netmask, savefile_swapped)


def savefile_header(dlt_or_linktype: int, snaplen: int, swapped: bool) -> bytes:
    """A classic pcap file header (microseconds) in host order, or the other order if swapped."""
    order = "<" if (sys.byteorder == "little") != swapped else ">"
    return struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, dlt_or_linktype)


_SCRATCH: list[Path] = []


def use_scratch_dir(directory: Path) -> None:
    """Where the empty savefiles that savefile compilation opens are written (tests: tmp_path)."""
    _SCRATCH[:] = [directory]
    _empty_savefile.cache_clear()


def _scratch_dir() -> Path:
    if not _SCRATCH:  # outside pytest: a private directory, removed at exit
        directory = Path(tempfile.mkdtemp(prefix="filterverify-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _SCRATCH.append(directory)
    return _SCRATCH[0]


@functools.cache
def _empty_savefile(linktype: int, snaplen: int, swapped: bool) -> bytes:
    path = _scratch_dir() / f"empty-{linktype}-{snaplen}-{int(swapped)}.pcap"
    path.write_bytes(savefile_header(linktype, snaplen, swapped))
    return str(path).encode()


def _compile_on_savefile(expression: str, dlt: int, snaplen: int, optimize: bool,
                         netmask: int, swapped: bool) -> Program:
    path = _empty_savefile(linktype_of(dlt), snaplen, swapped)
    program, opened_dlt, _snaplen = compile_on_savefile(expression, path, optimize, netmask)
    if opened_dlt != dlt:
        raise RuntimeError(f"savefile of DLT {dlt} opened as {opened_dlt}")
    return program


def compile_on_savefile(expression: str, path: bytes | str, optimize: bool = True,
                        netmask: int = PCAP_NETMASK_UNKNOWN) -> tuple[Program, int, int]:
    """libpcap's program for a savefile (``pcap_open_offline``), its DLT and snapshot length."""
    lp = libpcap()
    ffi, lib = lp.ffi, lp.lib
    errbuf = ffi.new("char[]", 256)
    path = path.encode() if isinstance(path, str) else path
    handle = lib.pcap_open_offline(path, errbuf)
    if handle == ffi.NULL:
        raise RuntimeError(ffi.string(errbuf).decode())
    try:
        program = ffi.new("struct bpf_program *")
        if lib.pcap_compile(handle, program, expression.encode(), int(optimize), netmask) < 0:
            raise Rejected(handle_error(ffi, lib, handle))
        try:
            insns = program.bf_insns
            instructions = tuple((insns[i].code, insns[i].jt, insns[i].jf, insns[i].k)
                                 for i in range(program.bf_len))
        finally:
            lib.pcap_freecode(program)
        return instructions, int(lib.pcap_datalink(handle)), int(lib.pcap_snapshot(handle))
    finally:
        lib.pcap_close(handle)


def savefile_is_swapped(path: Path) -> bool:
    """Whether a pcap or pcapng file's (first section's) byte order is not the host's."""
    head = path.read_bytes()[:12]
    if head[:4] == b"\x0a\x0d\x0d\x0a":
        little = head[8:12] == b"\x4d\x3c\x2b\x1a"
    else:
        little = head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    return little != (sys.byteorder == "little")


#: DLT_ values whose LINKTYPE_ (savefile) value differs, for the link types this module uses.
_LINKTYPE_OF_DLT = {12: 101, 14: 101}


def linktype_of(dlt: int) -> int:
    return _LINKTYPE_OF_DLT.get(dlt, dlt)


def libpcap_runner(program: Sequence[Instruction]) -> Callable[[bytes, int], int]:
    """``f(packet, wirelen)``: ``program`` as a C ``struct bpf_program`` on libpcap's interpreter.

    The closure holds the instruction array itself: ``bf_insns`` does not keep it alive.
    """
    lp = libpcap()
    ffi, lib = lp.ffi, lp.lib
    array = ffi.new("struct bpf_insn[]", max(len(program), 1))
    for slot, (code, jt, jf, k) in zip(array, program):
        slot.code, slot.jt, slot.jf, slot.k = code, jt, jf, k
    bpf = ffi.new("struct bpf_program *")
    bpf.bf_len, bpf.bf_insns = len(program), array
    header = ffi.new("struct pcap_pkthdr *")
    offline_filter = lib.pcap_offline_filter
    keep = (array, bpf, header)

    def run(packet: bytes, wirelen: int) -> int:
        header.caplen, header.len = len(packet), wirelen
        return int(offline_filter(keep[1], keep[2], packet)) & _MAX_U32

    return run


def run_on_libpcap(program: Sequence[Instruction]) -> Callable[[bytes, int], int]:
    """``f(packet, wirelen)``: libpcap's verdict for any program (scratch memory zeroed first)."""
    if reads_unset_scratch(program):
        program = _ZERO_SCRATCH + tuple(program)
    return libpcap_runner(program)


def reads_unset_scratch(program: Sequence[Instruction]) -> bool:
    """Whether some path may load ``M[k]`` before storing it (what the kernel refuses).

    A conservative forward pass over the program: the set of words certainly stored is
    intersected where paths join; jumps are all forward in compiled code (a backward jump,
    as in ``protochain``, makes the answer True unless every load is of a word stored first on
    every path, which the pass cannot prove, so it stays conservative).
    """
    count = len(program)
    stored: list[frozenset[int] | None] = [None] * (count + 1)
    stored[0] = frozenset()
    for pc, (code, jt, jf, k) in enumerate(program):
        known = stored[pc]
        if known is None:
            continue  # unreachable
        cls = code & 0x07
        if cls in (0x00, 0x01) and code & 0xE0 == 0x60 and k not in known:  # ld/ldx M[k]
            return True
        if cls in (0x02, 0x03):  # st / stx
            known = known | {k}
        if cls == 0x06:  # ret
            continue
        targets: tuple[int, ...]
        if cls == 0x05:
            if code == 0x05:  # ja
                if k > _MAX_U32 // 2:
                    return True  # backward
                targets = (pc + 1 + k,)
            else:
                targets = (pc + 1 + jt, pc + 1 + jf)
        else:
            targets = (pc + 1,)
        for target in targets:
            if target >= count:
                continue
            previous = stored[target]
            stored[target] = known if previous is None else previous & known
    return False


def ours_available() -> bool:
    """Whether pcapy's own compiler (``pcapy._filter.compile_filter``) exists in this tree."""
    try:
        from pcapy._filter import compile_filter  # noqa: F401
    except ImportError:
        return False
    return True


def has_backward_jump(program: Sequence[Instruction]) -> bool:
    """Whether a ``ja`` goes backwards (libpcap emits one for ``protochain``): it may loop."""
    return any(code == 0x05 and k > _MAX_U32 // 2 for code, _jt, _jf, k in program)


LOOPS = -1  # the verdict of a run that does not end (a program that loops on that packet)
STEP_LIMIT = 200_000


def verdicts(run: Callable[[bytes, int], int], program: Sequence[Instruction],
             packets: Sequence[tuple[bytes, int]]) -> list[int]:
    """``run`` over every packet; ``LOOPS`` where the program would never return.

    libpcap's ``protochain`` code loops forever on some packets (in libpcap's interpreter as in
    pcapy's), and a C call cannot be interrupted; so a program with a backward jump is first
    traced by ``steps_to_return`` (a plain interpreter that counts steps), and ``run`` is
    called only on the packets it returns on.
    """
    if not has_backward_jump(program):
        return [run(data, wirelen) for data, wirelen in packets]
    return [run(data, wirelen) if steps_to_return(program, data, wirelen) is not None else LOOPS
            for data, wirelen in packets]


_SIZES = {0x00: 4, 0x08: 2, 0x10: 1}


def _load(packet: bytes, offset: int, size: int) -> int | None:
    if offset < 0 or offset + size > len(packet):
        return None
    return int.from_bytes(packet[offset:offset + size], "big")


def _alu(op: int, a: int, b: int) -> int | None:
    """One ALU operation on unsigned 32-bit values (None: division by zero ends the run)."""
    if op in (0x30, 0x90) and b == 0:
        return None
    results = {0x00: lambda: a + b, 0x10: lambda: a - b, 0x20: lambda: a * b,
               0x30: lambda: a // b, 0x40: lambda: a | b, 0x50: lambda: a & b,
               0x60: lambda: a << b if b < 32 else 0, 0x70: lambda: a >> b if b < 32 else 0,
               0x80: lambda: -a, 0x90: lambda: a % b, 0xA0: lambda: a ^ b}
    return results[op]() & _MAX_U32


def _jump_taken(op: int, a: int, b: int) -> bool:
    return {0x10: a == b, 0x20: a > b, 0x30: a >= b, 0x40: bool(a & b)}[op]


def steps_to_return(program: Sequence[Instruction], packet: bytes, wirelen: int,
                    limit: int = STEP_LIMIT) -> int | None:
    """How many instructions a run takes to return, or None if it takes more than ``limit``.

    Only the control flow matters here (libpcap's interpreter gives the verdict); loads past
    the packet and divisions by zero end a run, as in libpcap.
    """
    a = x = 0
    memory = [0] * 16
    pc = 0
    for step in range(limit):
        if not 0 <= pc < len(program):
            return step
        code, jt, jf, k = program[pc]
        cls = code & 0x07
        pc += 1
        if cls == 0x06:  # ret
            return step + 1
        if cls in (0x00, 0x01):  # ld, ldx
            mode = code & 0xE0
            if cls == 0x01 and mode == 0xA0:  # ldxb 4*([k]&0xf)
                byte = _load(packet, k, 1)
                if byte is None:
                    return step + 1
                x = (byte & 0x0F) * 4
                continue
            value: int | None
            if mode == 0x00:
                value = k
            elif mode == 0x80:
                value = wirelen
            elif mode == 0x60:
                value = memory[k & 0x0F]
            else:
                offset = k if mode == 0x20 else (x + k) & _MAX_U32
                value = _load(packet, offset, _SIZES.get(code & 0x18, 4))
            if value is None:
                return step + 1
            if cls == 0x00:
                a = value
            else:
                x = value
        elif cls == 0x02:
            memory[k & 0x0F] = a
        elif cls == 0x03:
            memory[k & 0x0F] = x
        elif cls == 0x04:
            result = _alu(code & 0xF0, a, x if code & 0x08 else k)
            if result is None:
                return step + 1
            a = result
        elif cls == 0x05:
            if code & 0xF0 == 0x00:  # ja
                pc = (pc + k) & _MAX_U32 if k <= _MAX_U32 // 2 else pc + k - (1 << 32)
            else:
                taken = _jump_taken(code & 0xF0, a, x if code & 0x08 else k)
                pc += jt if taken else jf
        elif code & 0xF8 == 0x00:  # tax
            x = a
        else:  # txa
            a = x
    return None
