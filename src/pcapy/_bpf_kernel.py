"""The Linux kernel's rules for classic BPF (``bpf_check_classic``), for programs from users.

libpcap's userland ``bpf_validate`` lets a ``ja`` jump backwards (its own compiler does so for
``protochain``), so a program written by hand can loop forever inside ``pcap_dispatch``, where
not even Ctrl-C reaches it. A program given as instructions (``BPFProgram.from_instructions``) is
therefore held to the kernel's rules (linux/net/core/filter.c) on top of libpcap's
(``_bpf_vm.validate``), before libpcap or the Python executor ever runs it:

- 1 to 4096 instructions (``BPF_MAXINSNS``), the last one a ``ret #k`` or ``ret a``;
- every jump goes forward and lands inside the program: ``ja`` with ``k < len - pc - 1`` (no
  wrap-around), conditional jumps with ``pc + 1 + jt`` and ``pc + 1 + jf`` inside;
- no division or modulo by a constant zero, no shift by a constant of 32 or more;
- scratch memory indexes below 16, and no slot read on a path that has not written it;
- absolute loads at ``SKF_AD_OFF`` and above only for the kernel's ancillary data.

Programs that libpcap's compiler produced from an expression are trusted as libpcap trusts
them (their loops walk the packet and end with it).
"""

from __future__ import annotations

from collections.abc import Sequence

Instruction = tuple[int, int, int, int]

MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS
_MEMWORDS = 16
_SKF_AD_OFF = 0x100000000 - 0x1000
_SKF_AD_MAX = 64  # the kernel's ancillary offsets lie in [SKF_AD_OFF, SKF_AD_OFF + 64)
_CLASS_LD, _CLASS_LDX, _CLASS_ST, _CLASS_STX, _CLASS_ALU, _CLASS_JMP, _CLASS_RET = range(7)
_MODE_ABS, _MODE_MEM = 0x20, 0x60
_OP_LSH, _OP_RSH = 0x60, 0x70
_RET_K, _RET_A = 0x06, 0x16
_JA = 0x05
_ALL_SLOTS = (1 << _MEMWORDS) - 1


class KernelRejectsError(ValueError):
    """A program the Linux kernel's classic BPF checker would refuse."""


def check_classic(program: Sequence[Instruction]) -> None:
    """Raise ``KernelRejectsError`` unless the kernel would accept ``program`` (see above)."""
    length = len(program)
    if not 0 < length <= MAX_INSTRUCTIONS:
        raise KernelRejectsError(
            f"a program has 1 to {MAX_INSTRUCTIONS} instructions, not {length}"
        )
    for pc, instruction in enumerate(program):
        _check_instruction(pc, instruction, length)
    if program[-1][0] not in (_RET_K, _RET_A):
        raise KernelRejectsError("the last instruction is not a return")
    _check_memory_initialised(program)


def _check_instruction(pc: int, instruction: Instruction, length: int) -> None:
    code, jt, jf, k = instruction
    where = f"instruction {pc} (code {code:#06x})"
    klass, op, mode = code & 0x07, code & 0xF0, code & 0xE0
    if code == _JA:
        if k >= length - pc - 1:
            raise KernelRejectsError(f"{where}: ja jumps to {pc + 1 + k}, not forward inside")
    elif klass == _CLASS_JMP:
        if pc + 1 + max(jt, jf) >= length:
            raise KernelRejectsError(f"{where}: a jump target lies past the end")
    elif klass == _CLASS_ALU and not code & 0x08 and op in (_OP_LSH, _OP_RSH) and k >= 32:
        raise KernelRejectsError(f"{where}: shift by {k}")
    elif klass == _CLASS_LD and mode == _MODE_ABS and k >= _SKF_AD_OFF + _SKF_AD_MAX:
        raise KernelRejectsError(f"{where}: load at {k:#x}, neither packet nor ancillary data")


def _memory_access(instruction: Instruction) -> tuple[int, int]:
    """(slots read, slots written) by one instruction, as bit masks."""
    code, _, _, k = instruction
    klass = code & 0x07
    if klass in (_CLASS_ST, _CLASS_STX):
        return 0, 1 << k
    if klass in (_CLASS_LD, _CLASS_LDX) and code & 0xE0 == _MODE_MEM:
        return 1 << k, 0
    return 0, 0


def _check_memory_initialised(program: Sequence[Instruction]) -> None:
    """Every scratch slot read is written first on every path (the kernel's
    ``check_load_and_stores``; the jumps, all forward, make one pass enough)."""
    written = [_ALL_SLOTS] * len(program)
    written[0] = 0
    for pc, instruction in enumerate(program):
        known = written[pc]
        reads, writes = _memory_access(instruction)
        if reads & ~known:
            raise KernelRejectsError(
                f"instruction {pc} reads scratch memory slot {reads.bit_length() - 1} "
                "before any store to it"
            )
        known |= writes
        for target in _successors(pc, instruction):
            written[target] &= known


def _successors(pc: int, instruction: Instruction) -> tuple[int, ...]:
    code, jt, jf, k = instruction
    klass = code & 0x07
    if klass == _CLASS_RET:
        return ()
    if code == _JA:
        return (pc + 1 + k,)
    if klass == _CLASS_JMP:
        return (pc + 1 + jt, pc + 1 + jf)
    return (pc + 1,)


def jumps_backward(program: Sequence[Instruction]) -> bool:
    """Whether a ``ja`` of ``program`` goes backwards (``k`` wraps modulo 2**32), as libpcap's
    own ``ip6 protochain`` code does: such a program may loop (forever, on a crafted packet, in
    libpcap's interpreter)."""
    return any(
        instruction[0] == _JA and (pc + 1 + instruction[3]) % (1 << 32) <= pc
        for pc, instruction in enumerate(program)
    )
