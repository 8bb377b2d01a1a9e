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

import functools
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


class Rejected(Exception):
    """libpcap refused the expression; ``str()`` is its message."""


def compile_reference(expression: str, dlt: int, snaplen: int = TESTRUN_SNAPLEN, *,
                      optimize: bool = True, netmask: int = PCAP_NETMASK_UNKNOWN,
                      savefile_swapped: bool | None = None) -> Program:
    """libpcap's program for ``expression``; raises ``Rejected`` with libpcap's message.

    ``savefile_swapped`` None compiles on ``pcap_open_dead``; False/True compiles on an empty
    savefile of that link type written in the host's / the other byte order.
    """
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


@functools.cache
def _scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="filterverify-"))


@functools.cache
def _empty_savefile(linktype: int, snaplen: int, swapped: bool) -> bytes:
    path = _scratch_dir() / f"empty-{linktype}-{snaplen}-{int(swapped)}.pcap"
    path.write_bytes(savefile_header(linktype, snaplen, swapped))
    return str(path).encode()


def _compile_on_savefile(expression: str, dlt: int, snaplen: int, optimize: bool,
                         netmask: int, swapped: bool) -> Program:
    lp = libpcap()
    ffi, lib = lp.ffi, lp.lib
    errbuf = ffi.new("char[]", 256)
    handle = lib.pcap_open_offline(_empty_savefile(linktype_of(dlt), snaplen, swapped), errbuf)
    if handle == ffi.NULL:
        raise RuntimeError(ffi.string(errbuf).decode())
    try:
        if lib.pcap_datalink(handle) != dlt:
            raise RuntimeError(f"savefile of DLT {dlt} opened as {lib.pcap_datalink(handle)}")
        program = ffi.new("struct bpf_program *")
        if lib.pcap_compile(handle, program, expression.encode(), int(optimize), netmask) < 0:
            raise Rejected(handle_error(ffi, lib, handle))
        try:
            insns = program.bf_insns
            return tuple((insns[i].code, insns[i].jt, insns[i].jf, insns[i].k)
                         for i in range(program.bf_len))
        finally:
            lib.pcap_freecode(program)
    finally:
        lib.pcap_close(handle)


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


LOOPS = -1  # the verdict of a run that did not end (a program that loops on that packet)


def verdicts(run: Callable[[bytes, int], int], program: Sequence[Instruction],
             packets: Sequence[tuple[bytes, int]], timeout: float = 2.0) -> list[int]:
    """``run`` over every packet; for a program that can loop, in a child process.

    libpcap's ``protochain`` code loops forever on some packets (in libpcap's interpreter as in
    pcapy's); such a run cannot be interrupted in-process, so a looping program runs in a forked
    child that reports each verdict as it goes; a packet it does not finish within ``timeout``
    seconds gets ``LOOPS`` and a new child carries on from the next packet.
    """
    if not has_backward_jump(program):
        return [run(data, wirelen) for data, wirelen in packets]
    results: list[int] = []
    while len(results) < len(packets):
        results += _verdicts_in_child(run, packets[len(results):], timeout)
        if len(results) < len(packets):
            results.append(LOOPS)
    return results


def _verdicts_in_child(run: Callable[[bytes, int], int],
                       packets: Sequence[tuple[bytes, int]], timeout: float) -> list[int]:
    """Verdicts from a forked child, up to the first packet it takes ``timeout`` s on."""
    import os  # noqa: PLC0415
    import select  # noqa: PLC0415

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report each verdict, then leave without cleanup
        try:
            os.close(read_end)
            for data, wirelen in packets:
                os.write(write_end, struct.pack("<I", run(data, wirelen)))
        finally:
            os._exit(0)
    os.close(write_end)
    results: list[int] = []
    buffered = b""
    try:
        while len(results) < len(packets):
            ready, _, _ = select.select([read_end], [], [], timeout)
            if not ready:
                break
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            buffered += chunk
            while len(buffered) >= 4:
                results.append(struct.unpack_from("<I", buffered)[0])
                buffered = buffered[4:]
    finally:
        os.close(read_end)
        import signal  # noqa: PLC0415

        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    return results
