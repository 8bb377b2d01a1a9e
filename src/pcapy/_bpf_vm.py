"""Pure-Python executor for classic BPF programs, with libpcap's userland semantics.

This module owns two things:

* :func:`validate`, which checks a program (a sequence of ``(code, jt, jf, k)``
  tuples, the ``struct bpf_insn`` array that ``pcap_compile`` produces and
  ``tcpdump -ddd`` prints) with the rules of libpcap's ``bpf_validate``
  (``pcapint_validate_filter`` in ``bpf_filter.c``), plus one rule of its own:
  it also rejects opcodes that ``bpf_validate`` lets through but that libpcap's
  interpreter cannot execute (libpcap calls ``abort()`` when it reaches one).
* :func:`compile_program`, which turns a valid program into a Python function
  ``f(packet, wirelen) -> int`` that returns exactly what libpcap's
  ``bpf_filter(program, packet, wirelen, len(packet))`` returns, as an
  unsigned 32-bit integer (0 means "reject").

How the translation works
-------------------------
The program is translated once into Python source code, which is ``exec``-ed
into a closure, so each packet runs straight-line Python code with no
per-instruction dispatch:

1. The reachable instructions are split into basic blocks.  Apart from
   backward ``ja`` jumps (which libpcap allows in userland; ``ip6 protochain``
   uses them), every jump goes forward, so the blocks form a directed
   acyclic graph.
2. Each path through the graph becomes nested ``if`` statements.  Every path
   ends in ``return``, so the branch with the smaller code is indented and the
   other one simply follows; nesting depth thus stays logarithmic in the code
   size.  A block reached from several places is copied into each of them
   while it is small.
3. A block that is the target of a backward jump, or that is reached from
   several places and is too big to copy, becomes a *state*.  When a program
   has states, its function is a ``while True`` loop that selects the state to
   run with a binary tree of comparisons; entering a state costs one
   assignment and a ``continue``.  This keeps the code size linear in the
   program size whatever the shape of the program (copying alone could be
   exponential), and it runs loops.
4. While it writes one path, the translator tracks what it knows on that path:
   constant values of A and X (loads of constants, arithmetic on constants and
   the true branch of ``jeq`` are folded away), and the packet length already
   proven.  Packet bounds checks are hoisted: before each block it checks, in
   one comparison, the largest length below which every way out of the block
   returns 0, so most loads need no check of their own.

Loads use precompiled :class:`struct.Struct` ``unpack_from`` methods for
16- and 32-bit words and plain indexing for bytes, so ``bytes``,
``bytearray`` and byte-format ``memoryview`` packets all work.
"""

from __future__ import annotations

import struct
from typing import Callable, Optional, Sequence, Union, cast

from ._codegen import (
    ACCUMULATOR,
    BASE,
    CAPLEN,
    INDEX,
    LOAD_U16,
    LOAD_U32,
    PACKET,
    REJECT,
    WIRELEN,
    Emitter,
    Line,
    compile_variant,
    indented,
    scratch,
)

__all__ = [
    "FilterFunction",
    "InPlaceFilterFunction",
    "Instruction",
    "InvalidProgramError",
    "PacketData",
    "compile_program",
    "compile_program_in_place",
    "inline_statements",
    "program_source",
    "validate",
]

Instruction = tuple[int, int, int, int]
"""One ``struct bpf_insn``: ``(code, jt, jf, k)``."""

PacketData = Union[bytes, bytearray, memoryview]
"""Packet bytes accepted by compiled filters (a memoryview must have format 'B')."""

FilterFunction = Callable[[PacketData, int], int]
"""A compiled filter: ``f(packet, wirelen)`` returns the program's return value."""

InPlaceFilterFunction = Callable[[PacketData, int, int, int], int]
"""A compiled filter over ``buffer[base:base + caplen]``: ``f(buffer, base, caplen, wirelen)``."""


class InvalidProgramError(ValueError):
    """A BPF program that libpcap would refuse to install or could not run."""


# --- Instruction encoding (pcap/bpf.h) ---------------------------------------

_LD, _LDX, _ST, _STX, _ALU, _JMP, _RET, _MISC = range(8)

_W, _H, _B = 0x00, 0x08, 0x10
_IMM, _ABS, _IND, _MEM, _LEN, _MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0

_ADD, _SUB, _MUL, _DIV, _OR, _AND = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50
_LSH, _RSH, _NEG, _MOD, _XOR = 0x60, 0x70, 0x80, 0x90, 0xA0

_JA, _JEQ, _JGT, _JGE, _JSET = 0x00, 0x10, 0x20, 0x30, 0x40

_SRC_X = 0x08  # BPF_X; BPF_K is 0
_RVAL_A = 0x10  # BPF_A in BPF_RET instructions
_TXA = 0x80  # BPF_MISC operation; BPF_TAX is 0

_MEMWORDS = 16  # BPF_MEMWORDS
_ROUNDS = "rounds"  # a looping program's budget of state changes (see _round_budget)
_MIN_ROUNDS = 256
_U32 = 0xFFFFFFFF
_U32_LITERAL = "0xFFFFFFFF"

# Linux's SKF_AD_OFF + SKF_AD_VLAN_TAG / SKF_AD_VLAN_TAG_PRESENT.  libpcap's
# bpf_filter.c special-cases byte loads at these offsets (when built on Linux)
# to read VLAN metadata from its aux_data argument, and returns 0 when
# aux_data is NULL, which it always is for savefiles and pcap_offline_filter.
_SKF_AD_OFF = 0x100000000 - 0x1000
_VLAN_AUX_OFFSETS = frozenset({_SKF_AD_OFF + 44, _SKF_AD_OFF + 48})

_ALU_OPS = (_ADD, _SUB, _MUL, _DIV, _OR, _AND, _LSH, _RSH, _NEG, _MOD, _XOR)
_ALU_NAMES = {
    _ADD: "add",
    _SUB: "sub",
    _MUL: "mul",
    _DIV: "div",
    _OR: "or",
    _AND: "and",
    _LSH: "lsh",
    _RSH: "rsh",
    _NEG: "neg",
    _MOD: "mod",
    _XOR: "xor",
}
_JUMP_NAMES = {_JEQ: "jeq", _JGT: "jgt", _JGE: "jge", _JSET: "jset"}


def _implemented_opcodes() -> dict[int, str]:
    """Map every opcode libpcap's interpreter executes to its mnemonic.

    ``bpf_filter`` switches on the whole 16-bit code; any other code reaches
    its ``default: abort();``.
    """
    names = {
        _RET | _IMM: "ret #k",
        _RET | _RVAL_A: "ret a",
        _LD | _W | _ABS: "ld [k]",
        _LD | _H | _ABS: "ldh [k]",
        _LD | _B | _ABS: "ldb [k]",
        _LD | _W | _IND: "ld [x + k]",
        _LD | _H | _IND: "ldh [x + k]",
        _LD | _B | _IND: "ldb [x + k]",
        _LD | _W | _LEN: "ld #len",
        _LDX | _W | _LEN: "ldx #len",
        _LDX | _B | _MSH: "ldxb 4*([k]&0xf)",
        _LD | _IMM: "ld #k",
        _LDX | _IMM: "ldx #k",
        _LD | _MEM: "ld M[k]",
        _LDX | _MEM: "ldx M[k]",
        _ST: "st M[k]",
        _STX: "stx M[k]",
        _JMP | _JA: "ja",
        _MISC | 0x00: "tax",
        _MISC | _TXA: "txa",
    }
    for op, name in _JUMP_NAMES.items():
        names[_JMP | op] = f"{name} #k"
        names[_JMP | op | _SRC_X] = f"{name} x"
    for op, name in _ALU_NAMES.items():
        names[_ALU | op] = f"{name} #k" if op != _NEG else "neg"
        if op != _NEG:
            names[_ALU | op | _SRC_X] = f"{name} x"
    return names


_OPCODE_NAMES = _implemented_opcodes()


# --- Validation ---------------------------------------------------------------


def _normalize(program: Sequence[Instruction]) -> list[Instruction]:
    """Return the program as a list of int 4-tuples, checking field widths."""
    insns: list[Instruction] = []
    for i, insn in enumerate(program):
        try:
            code, jt, jf, k = (int(field) for field in insn)
        except (TypeError, ValueError):
            raise InvalidProgramError(
                f"instruction {i} is not a (code, jt, jf, k) tuple of integers: {insn!r}"
            ) from None
        if not (0 <= code <= 0xFFFF and 0 <= jt <= 0xFF and 0 <= jf <= 0xFF and 0 <= k <= _U32):
            raise InvalidProgramError(
                f"instruction {i} {insn!r} does not fit struct bpf_insn "
                "(code is 16 bits, jt and jf 8 bits, k 32 bits unsigned)"
            )
        insns.append((code, jt, jf, k))
    return insns


def _check_instruction(i: int, insn: Instruction, length: int) -> None:
    """Apply bpf_validate's per-instruction rules, then the interpreter's."""
    code, _, _, k = insn
    where = f"instruction {i} (code {code:#06x})"
    cls = code & 0x07
    if cls in (_LD, _LDX):
        mode = code & 0xE0
        if mode not in (_IMM, _ABS, _IND, _MEM, _LEN, _MSH):
            raise InvalidProgramError(f"{where}: invalid load addressing mode {mode:#04x}")
        if mode == _MEM and k >= _MEMWORDS:
            raise InvalidProgramError(
                f"{where}: scratch memory index {k} out of range (0-{_MEMWORDS - 1})"
            )
    elif cls in (_ST, _STX):
        if k >= _MEMWORDS:
            raise InvalidProgramError(
                f"{where}: scratch memory index {k} out of range (0-{_MEMWORDS - 1})"
            )
    elif cls == _ALU:
        op = code & 0xF0
        if op not in _ALU_OPS:
            raise InvalidProgramError(f"{where}: invalid ALU operation {op:#04x}")
        if op in (_DIV, _MOD) and not code & _SRC_X and k == 0:
            raise InvalidProgramError(f"{where}: {_ALU_NAMES[op]} by constant zero")
    elif cls == _JMP:
        _check_jump(where, i, insn, length)
    # bpf_validate accepts any BPF_RET and BPF_MISC instruction; unknown ones
    # are caught below, like every other code the interpreter would abort on.
    if code not in _OPCODE_NAMES:
        raise InvalidProgramError(
            f"{where}: not an instruction libpcap's BPF interpreter can execute"
        )


def _check_jump(where: str, i: int, insn: Instruction, length: int) -> None:
    """Check jump targets the way bpf_validate does (in 32-bit unsigned math)."""
    code, jt, jf, k = insn
    op = code & 0xF0
    after = i + 1
    if op == _JA:
        # libpcap computes from + k in u_int: a k that wraps around lands
        # backwards, which userland libpcap deliberately allows (it
        # implements "ip6 protochain" with a backward ja).
        target = (after + k) & _U32
        if target >= length:
            raise InvalidProgramError(
                f"{where}: ja target {after + k} is past the end of the "
                f"{length}-instruction program"
            )
    elif op in _JUMP_NAMES:
        for label, offset in (("jt", jt), ("jf", jf)):
            if after + offset >= length:
                raise InvalidProgramError(
                    f"{where}: {label} target {after + offset} is past the end of the "
                    f"{length}-instruction program"
                )
    else:
        raise InvalidProgramError(f"{where}: invalid jump operation {op:#04x}")


def validate(program: Sequence[Instruction]) -> None:
    """Raise :class:`InvalidProgramError` unless libpcap would accept and run *program*.

    The rules are those of libpcap's ``bpf_validate``: the program is not
    empty; loads use a known addressing mode; scratch memory indexes are below
    16; ALU operations are known and never divide by a constant zero; jump
    targets lie inside the program (a ``ja`` may jump backwards, as userland
    libpcap allows); the last instruction is a ``ret``.  Additionally, every
    opcode must be one that libpcap's interpreter executes, because libpcap
    aborts the process on any other (``bpf_validate`` does not check that).
    Field widths must match ``struct bpf_insn``.
    """
    insns = _normalize(program)
    if not insns:
        raise InvalidProgramError("BPF program is empty")
    for i, insn in enumerate(insns):
        _check_instruction(i, insn, len(insns))
    last_code = insns[-1][0]
    if last_code & 0x07 != _RET:
        raise InvalidProgramError(
            f"last instruction (code {last_code:#06x}) is not a ret, so the "
            "program could run off its end"
        )


# --- Control flow analysis ----------------------------------------------------

_INFINITE_LENGTH = 1 << 64  # "every path from here returns 0"
_DUPLICATION_LIMIT = 24  # largest shared block (in statements) copied inline
_MAX_TOTAL_SIZE_FACTOR = 8  # inline copies may at most multiply code by this


class _Block:
    """A basic block: straight-line instructions, then one way out."""

    __slots__ = ("body", "code", "k", "kind", "start", "targets")

    def __init__(self, start: int) -> None:
        self.start = start
        self.body: list[tuple[int, int]] = []  # (code, k) of non-jump instructions
        self.kind = ""  # "ret", "goto" or "cond"
        self.code = 0  # opcode of the ret or conditional jump
        self.k = 0
        self.targets: tuple[int, ...] = ()  # (next,) for goto, (jt, jf) for cond


def _successors(insns: Sequence[Instruction], i: int) -> tuple[int, ...]:
    """Indexes of the instructions that can run after instruction *i*."""
    code, jt, jf, k = insns[i]
    cls = code & 0x07
    if cls == _RET:
        return ()
    if cls != _JMP:
        return (i + 1,)
    if code & 0xF0 == _JA:
        return ((i + 1 + k) & _U32,)
    return (i + 1 + jt, i + 1 + jf)


def _find_leaders(insns: Sequence[Instruction]) -> list[int]:
    """Start indexes of the basic blocks reachable from instruction 0, sorted."""
    leaders = {0}
    reachable = {0}
    pending = [0]
    while pending:
        i = pending.pop()
        nexts = _successors(insns, i)
        if insns[i][0] & 0x07 == _JMP:
            leaders.update(nexts)
        for n in nexts:
            if n not in reachable:
                reachable.add(n)
                pending.append(n)
    return sorted(leaders)


def _build_blocks(insns: Sequence[Instruction]) -> dict[int, _Block]:
    """Split the reachable part of the program into basic blocks."""
    leaders = _find_leaders(insns)
    leader_set = set(leaders)
    blocks: dict[int, _Block] = {}
    for start in leaders:
        block = _Block(start)
        i = start
        while True:
            code, _, _, k = insns[i]
            cls = code & 0x07
            if cls == _RET:
                block.kind, block.code, block.k = "ret", code, k
                break
            if cls == _JMP:
                targets = _successors(insns, i)
                if len(targets) == 1 or targets[0] == targets[1]:
                    block.kind, block.targets = "goto", targets[:1]
                else:
                    block.kind, block.code, block.k, block.targets = "cond", code, k, targets
                break
            block.body.append((code, k))
            i += 1
            if i in leader_set:
                block.kind, block.targets = "goto", (i,)
                break
        blocks[start] = block
    return blocks


def _load_requirement(code: int, k: int) -> int:
    """Packet length an absolute load needs (0 for instructions that load nothing fixed)."""
    if code == _LD | _B | _ABS and k in _VLAN_AUX_OFFSETS:
        return _INFINITE_LENGTH
    if code in (_LD | _B | _ABS, _LDX | _B | _MSH):
        return k + 1
    if code == _LD | _H | _ABS:
        return k + 2
    if code == _LD | _W | _ABS:
        return k + 4
    return 0


class _Plan:
    """Which blocks become states, code size estimates and hoisted bounds checks."""

    def __init__(self, blocks: dict[int, _Block]) -> None:
        self.blocks = blocks
        self.order = sorted(blocks)
        self.states = self._loop_targets()
        self.size: dict[int, int] = {}
        self._choose_states(_DUPLICATION_LIMIT)
        if self.total_size() > _MAX_TOTAL_SIZE_FACTOR * self._instruction_count() + 256:
            self.states = self._loop_targets()
            self._choose_states(1)
        self.required_length = self._required_lengths()

    def _instruction_count(self) -> int:
        return sum(len(b.body) + 1 for b in self.blocks.values())

    def _loop_targets(self) -> set[int]:
        """Blocks entered by a backward jump (they must become states)."""
        return {t for b in self.blocks.values() for t in b.targets if t <= b.start}

    def _predecessor_counts(self) -> dict[int, int]:
        counts = dict.fromkeys(self.blocks, 0)
        for block in self.blocks.values():
            for target in block.targets:
                counts[target] += 1
        return counts

    def cost(self, target: int) -> int:
        """Statements emitted where control passes to *target*."""
        return 1 if target in self.states else self.size[target]

    def _choose_states(self, limit: int) -> None:
        """Turn shared blocks bigger than *limit* statements into states.

        Blocks are visited last to first, so forward successors are decided
        before their predecessors; size[b] is the size of b's inline code.
        """
        predecessors = self._predecessor_counts()
        self.size = {}
        for start in reversed(self.order):
            block = self.blocks[start]
            size = len(block.body) + 1 + sum(self.cost(t) for t in block.targets)
            self.size[start] = size
            if start != 0 and predecessors[start] >= 2 and size > limit:
                self.states.add(start)

    def roots(self) -> list[int]:
        """Blocks whose code is emitted once as a region: the entry and the states."""
        return sorted(self.states | {0})

    def total_size(self) -> int:
        return sum(self.size[r] for r in self.roots())

    def _required_lengths(self) -> dict[int, int]:
        """For each block, a packet length below which every path from it returns 0.

        A block needs the longest of its own absolute loads; after that, the
        shortest of its successors' needs.  ``ret #0`` needs nothing but
        returns 0, so it is "infinite" and never lowers the minimum.  A state
        successor counts as 0: its region checks its own need.
        """
        required: dict[int, int] = {}
        for start in reversed(self.order):
            block = self.blocks[start]
            own = max((_load_requirement(c, k) for c, k in block.body), default=0)
            if block.kind == "ret":
                returns_zero = block.code == _RET | _IMM and block.k == 0
                after = _INFINITE_LENGTH if returns_zero else 0
            else:
                after = min(0 if t in self.states else required[t] for t in block.targets)
            required[start] = max(own, after)
        return required


# --- Code generation ----------------------------------------------------------


class _PathFacts:
    """What the translator knows at one point of one path."""

    __slots__ = ("a", "length", "x", "x_length")

    def __init__(self, a: int | None, x: int | None) -> None:
        self.a = a  # constant value of A, or None (then variable `a` holds A)
        self.x = x  # same for X
        self.length = 0  # caplen >= length is proven
        self.x_length = 0  # caplen >= X + x_length is proven (X variable)

    def copy(self) -> _PathFacts:
        facts = _PathFacts(self.a, self.x)
        facts.length = self.length
        facts.x_length = self.x_length
        return facts

    def a_expr(self) -> str:
        return ACCUMULATOR if self.a is None else str(self.a)

    def x_expr(self) -> str:
        return INDEX if self.x is None else str(self.x)

    def set_x_variable(self) -> None:
        self.x = None
        self.x_length = 0


_FOLDERS: dict[int, Callable[[int, int], int]] = {
    _ADD: lambda a, b: a + b,
    _SUB: lambda a, b: a - b,
    _MUL: lambda a, b: a * b,
    _DIV: lambda a, b: a // b,
    _MOD: lambda a, b: a % b,
    _AND: lambda a, b: a & b,
    _OR: lambda a, b: a | b,
    _XOR: lambda a, b: a ^ b,
    _LSH: lambda a, b: a << b,
    _RSH: lambda a, b: a >> b,
    _NEG: lambda a, _: -a,
}


def _shift_count(b: int, from_x: bool) -> int | None:
    """The count libpcap really shifts by; None when the result is 0.

    libpcap tests shifts by X explicitly: X >= 32 gives 0.  Shifts by a
    constant k are plain C ``A <<= k``, undefined for k >= 32; on x86 and
    ARM, and so in libpcap as built for them, the count is taken modulo 32.
    """
    if from_x:
        return b if b < 32 else None
    return b & 31


def _fold_alu(op: int, a: int, b: int, from_x: bool) -> int | None:
    """Compute a constant ALU result as libpcap does; None means "return 0"."""
    if op in (_DIV, _MOD) and b == 0:  # only possible with X: libpcap rejects
        return None
    if op in (_LSH, _RSH):
        count = _shift_count(b, from_x)
        if count is None:
            return 0
        b = count
    return _FOLDERS[op](a, b) & _U32


# Operand values that leave A unchanged.
# Operand values that leave A unchanged.
_ALU_IDENTITY = {_ADD: 0, _SUB: 0, _MUL: 1, _DIV: 1, _OR: 0, _XOR: 0, _LSH: 0, _RSH: 0}

# Python expressions for A op b; {m} is 0xFFFFFFFF, for C's 32-bit wrap-around.
_ALU_CONSTANT_TEMPLATES = {
    _ADD: "({a} + {b}) & {m}",
    _SUB: "({a} - {b}) & {m}",
    _MUL: "{a} * {b} & {m}",
    _DIV: "{a} // {b}",
    _MOD: "{a} % {b}",
    _AND: "{a} & {b}",
    _OR: "{a} | {b}",
    _XOR: "{a} ^ {b}",
    _LSH: "{a} << {b} & {m}",
    _RSH: "{a} >> {b}",
    _NEG: "-{a} & {m}",
}


def _alu_with_constant(op: int, a: str, b: int, from_x: bool) -> tuple[str | None, int | None]:
    """Expression (or constant result) for A op b where A is the variable `a`.

    Returns (expression, None) for code to emit, (None, value) when the
    result is the constant value, and (None, None) when A is unchanged.
    """
    if op in (_LSH, _RSH):
        count = _shift_count(b, from_x)
        if count is None:
            return None, 0
        b = count
    if _ALU_IDENTITY.get(op) == b or (op == _AND and b == _U32):
        return None, None
    if (op in (_MUL, _AND) and b == 0) or (op == _MOD and b == 1):
        return None, 0
    return _ALU_CONSTANT_TEMPLATES[op].format(a=a, b=b, m=_U32_LITERAL), None


def _alu_with_variable_x(op: int, a: str) -> str:
    """The expression for A op X where X is the variable `x` (not a division: see _alu)."""
    if op == _LSH:
        # Shifting by X >= 32 gives 0 in libpcap; the guard also keeps Python
        # from building a huge integer.
        return f"{a} << {INDEX} & {_U32_LITERAL} if {INDEX} < 32 else 0"
    if op == _RSH:
        return f"{a} >> {INDEX}"  # A < 2**32, so X >= 32 gives 0 as in libpcap
    return _ALU_CONSTANT_TEMPLATES[op].format(a=a, b=INDEX, m=_U32_LITERAL)


def _load_expression(size: int, offset: str, in_place: bool) -> str:
    """Python expression reading a big-endian value of *size* at *offset* of the packet.

    An in-place filter reads the packet where it lies, ``BASE`` bytes into ``PACKET``.
    """
    where = f"{BASE} + {offset}" if in_place else offset
    if size == _B:
        return f"{PACKET}[{where}]"
    unpack = LOAD_U16 if size == _H else LOAD_U32
    return f"{unpack}({PACKET}, {where})[0]"


_LOAD_WIDTH = {_W: 4, _H: 2, _B: 1}


def _jump_condition(op: int, a: str, b: str) -> tuple[str, str]:
    """The (condition, negated condition) for a conditional jump."""
    if op == _JEQ:
        return f"{a} == {b}", f"{a} != {b}"
    if op == _JGT:
        return f"{a} > {b}", f"{a} <= {b}"
    if op == _JGE:
        return f"{a} >= {b}", f"{a} < {b}"
    return f"{a} & {b}", f"not {a} & {b}"


def _decide_jump(op: int, a: int, b: int) -> bool:
    if op == _JEQ:
        return a == b
    if op == _JGT:
        return a > b
    if op == _JGE:
        return a >= b
    return bool(a & b)


class _Exits:
    """How a translated path ends: returning a verdict, or, inlined into a record loop,
    rejecting with ``REJECT`` and delivering with the loop's own statements."""

    def __init__(self, deliver: Optional[Sequence[Line]] = None) -> None:
        self.inlined = deliver is not None
        self._deliver = list(deliver or ())
        self.reject = REJECT if self.inlined else "return 0"

    def verdict(self, value: str) -> list[Line]:
        """The statements that end a path whose verdict is ``value`` (a literal or ``a``)."""
        if not self.inlined:
            return [(0, f"return {value}")]
        if value == "0":
            return [(0, REJECT)]
        if value.isdigit():
            return [*self._deliver, (0, REJECT)]
        return [(0, f"if {value}:"), *indented(self._deliver), (0, REJECT)]


class _Translator:
    """Writes the Python statements of one program."""

    def __init__(self, insns: Sequence[Instruction], in_place: bool = False,
                 exits: Optional[_Exits] = None) -> None:
        self.in_place = in_place
        self.exits = exits if exits is not None else _Exits()
        self.blocks = _build_blocks(insns)
        self.plan = _Plan(self.blocks)
        self.uses_caplen = False
        self.memory_read = sorted(
            {
                k
                for b in self.blocks.values()
                for code, k in b.body
                if code in (_LD | _MEM, _LDX | _MEM)
            }
        )

    # -- whole function --

    def function_body(self) -> list[Line]:
        """The statements of the filter function, at depth 0."""
        looping = bool(self.plan.states)
        body: list[Line]
        if looping:
            body = [(0, "state = 0"), (0, f"{_ROUNDS} = {self._round_budget()}"),
                    (0, "while True:"), (1, f"{_ROUNDS} -= 1"), (1, f"if {_ROUNDS} < 0:"),
                    (2, "return 0")]
            body += indented(self._dispatch(self.plan.roots()))
        else:
            body = self._region(0, _PathFacts(0, 0))
        preamble: list[Line] = []
        if self.uses_caplen and not self.in_place:
            preamble.append((0, f"{CAPLEN} = len({PACKET})"))
        if looping:
            preamble.append((0, f"{ACCUMULATOR} = {INDEX} = 0"))
        preamble += [(0, f"{scratch(k)} = 0") for k in self.memory_read]  # libpcap zeroes M[]
        return preamble + body

    def _round_budget(self) -> str:
        """How many state changes a looping program may make on one packet.

        Only compiled programs loop (the kernel's rules refuse backward jumps in programs
        given as instructions): ``ip6 protochain``, whose every round moves past one header
        of at least 8 bytes in a few state changes. A crafted header chain can make it go
        round forever, in libpcap too; here it stops after more rounds than any chain that
        fits in the packet needs, and the packet is rejected. The cost stays linear in the
        packet's size.
        """
        size = CAPLEN if self.in_place else f"len({PACKET})"
        return f"{size} + {_MIN_ROUNDS}"

    def source(self) -> str:
        """Source of ``_make_filter(_u16, _u32)``, which returns the filter."""
        parameters = [PACKET, BASE, CAPLEN, WIRELEN] if self.in_place else [PACKET, WIRELEN]
        emitter = Emitter()
        with emitter.block(f"def _make_filter({LOAD_U16}, {LOAD_U32})"):
            with emitter.block(f"def bpf_program({', '.join(parameters)})"):
                emitter.lines(self.function_body())
            emitter.line("return bpf_program")
        return emitter.source()

    def _dispatch(self, roots: list[int]) -> list[Line]:
        """Binary search on `state` that runs the region of the selected root."""
        if len(roots) == 1:
            return self._region(roots[0], _PathFacts(None, None))
        middle = len(roots) // 2
        lines: list[Line] = [(0, f"if state < {roots[middle]}:")]
        lines += indented(self._dispatch(roots[:middle]))
        return lines + self._dispatch(roots[middle:])

    # -- one region: the inline code reachable from a root without a state --

    def _region(self, root: int, facts: _PathFacts) -> list[Line]:
        """Code for every path from block *root*; each path ends the function or loop.

        The longer branch of each conditional jump continues at the same
        indentation (iteratively), the shorter one is indented (recursively),
        so recursion depth stays logarithmic.
        """
        lines: list[Line] = []
        start = root
        at_root = True
        while True:
            if not at_root and start in self.plan.states:
                lines += self._enter_state(start, facts)
                return lines
            at_root = False
            block = self.blocks[start]
            if not self._bounds_check(start, facts, lines):
                return lines
            if not self._body(block, facts, lines):
                return lines
            if block.kind == "ret":
                value = block.k if block.code == _RET | _IMM else facts.a_expr()
                lines += self.exits.verdict(str(value))
                return lines
            if block.kind == "goto":
                start = block.targets[0]
                continue
            start = self._branch(block, facts, lines)

    def _enter_state(self, target: int, facts: _PathFacts) -> list[Line]:
        lines = []
        if facts.a is not None:
            lines.append((0, f"{ACCUMULATOR} = {facts.a}"))
        if facts.x is not None:
            lines.append((0, f"{INDEX} = {facts.x}"))
        return [*lines, (0, f"state = {target}"), (0, "continue")]

    def _reject_below(self, length: str, lines: list[Line]) -> None:
        """Reject a packet shorter than ``length``, in one line."""
        self.uses_caplen = True
        lines.append((0, f"if {CAPLEN} < {length}: {self.exits.reject}"))

    def _bounds_check(self, start: int, facts: _PathFacts, lines: list[Line]) -> bool:
        """Check, once, the packet length this block's paths need; False if always 0."""
        needed = self.plan.required_length[start]
        if needed >= _INFINITE_LENGTH:
            lines += self.exits.verdict("0")
            return False
        if needed > facts.length:
            self._reject_below(str(needed), lines)
            facts.length = needed
        return True

    def _branch(self, block: _Block, facts: _PathFacts, lines: list[Line]) -> int:
        """Emit a conditional jump; return the block whose code follows it."""
        op = block.code & 0xF0
        taken, not_taken = block.targets
        from_x = bool(block.code & _SRC_X)
        b_const = facts.x if from_x else block.k
        decided = self._static_decision(op, facts.a, b_const)
        if decided is not None:
            return taken if decided else not_taken
        b = facts.x_expr() if from_x else str(block.k)
        condition, negated = _jump_condition(op, facts.a_expr(), b)
        taken_facts = facts.copy()
        if op == _JEQ and b_const is not None:
            taken_facts.a = b_const  # on the true branch of jeq, A is known
        if self.plan.cost(taken) <= self.plan.cost(not_taken):
            lines.append((0, f"if {condition}:"))
            lines += indented(self._region_from(taken, taken_facts))
            return not_taken
        lines.append((0, f"if {negated}:"))
        lines += indented(self._region_from(not_taken, facts.copy()))
        facts.a = taken_facts.a
        return taken

    @staticmethod
    def _static_decision(op: int, a: int | None, b: int | None) -> bool | None:
        """The jump's outcome if it is known at translation time, else None."""
        if b is not None:
            if a is not None:
                return _decide_jump(op, a, b)
            if op == _JSET and b == 0:
                return False
            if op == _JGE and b == 0:
                return True
            if op == _JGT and b == _U32:
                return False
        return None

    def _region_from(self, start: int, facts: _PathFacts) -> list[Line]:
        """Code for control passing to *start* (a state entry or inline code)."""
        if start in self.plan.states:
            return self._enter_state(start, facts)
        return self._region(start, facts)

    # -- straight-line instructions --

    def _body(self, block: _Block, facts: _PathFacts, lines: list[Line]) -> bool:
        """Emit a block's non-jump instructions; False if the path returned."""
        for code, k in block.body:
            cls = code & 0x07
            if cls == _LD:
                self._load_a(code, k, facts, lines)
            elif cls == _LDX:
                self._load_x(code, k, facts, lines)
            elif cls == _ST:
                lines.append((0, f"{scratch(k)} = {facts.a_expr()}"))
            elif cls == _STX:
                lines.append((0, f"{scratch(k)} = {facts.x_expr()}"))
            elif cls == _ALU:
                if not self._alu(code, k, facts, lines):
                    return False
            elif code & 0xF8 == _TXA:
                if facts.x is None:
                    lines.append((0, f"{ACCUMULATOR} = {INDEX}"))
                facts.a = facts.x
            else:  # tax
                if facts.a is None:
                    lines.append((0, f"{INDEX} = {ACCUMULATOR}"))
                facts.set_x_variable()
                facts.x = facts.a
        return True

    def _load_a(self, code: int, k: int, facts: _PathFacts, lines: list[Line]) -> None:
        mode, size = code & 0xE0, code & 0x18
        facts.a = None
        if mode == _IMM:
            facts.a = k
        elif mode == _LEN:
            lines.append((0, f"{ACCUMULATOR} = {WIRELEN} & {_U32_LITERAL}"))
        elif mode == _MEM:
            lines.append((0, f"{ACCUMULATOR} = {scratch(k)}"))
        elif mode == _ABS:  # the block's bounds check covered it
            lines.append((0, f"{ACCUMULATOR} = {_load_expression(size, str(k), self.in_place)}"))
        else:
            self._indirect_load(size, k, facts, lines)

    def _indirect_load(self, size: int, k: int, facts: _PathFacts, lines: list[Line]) -> None:
        """A = P[X + k]; rejects unless X + k + width <= caplen in exact arithmetic.

        libpcap's checks are written to catch the 32-bit wrap-around of X + k,
        so a load past 4 GiB is out of bounds, never a wrapped offset.
        """
        width = _LOAD_WIDTH[size]
        if facts.x is not None:
            offset = facts.x + k
            if offset + width > facts.length:
                self._reject_below(str(offset + width), lines)
                facts.length = offset + width
            load = _load_expression(size, str(offset), self.in_place)
            lines.append((0, f"{ACCUMULATOR} = {load}"))
            return
        if k + width > facts.x_length:
            self._reject_below(f"{INDEX} + {k + width}", lines)
            facts.x_length = k + width
        load = _load_expression(size, f"{INDEX} + {k}" if k else INDEX, self.in_place)
        lines.append((0, f"{ACCUMULATOR} = {load}"))

    def _load_x(self, code: int, k: int, facts: _PathFacts, lines: list[Line]) -> None:
        mode = code & 0xE0
        facts.set_x_variable()
        if mode == _IMM:
            facts.x = k
        elif mode == _LEN:
            lines.append((0, f"{INDEX} = {WIRELEN} & {_U32_LITERAL}"))
        elif mode == _MEM:
            lines.append((0, f"{INDEX} = {scratch(k)}"))
        else:  # ldxb 4*([k]&0xf); the block's bounds check covered it
            load = _load_expression(_B, str(k), self.in_place)
            lines.append((0, f"{INDEX} = ({load} & 15) << 2"))

    def _alu(self, code: int, k: int, facts: _PathFacts, lines: list[Line]) -> bool:
        """Emit an ALU instruction; False if it always rejects (division by X == 0)."""
        op = code & 0xF0
        from_x = bool(code & _SRC_X)
        b = facts.x if from_x else k
        if b is not None:
            if facts.a is not None:
                folded = _fold_alu(op, facts.a, b, from_x)
                if folded is None:
                    lines += self.exits.verdict("0")
                    return False
                facts.a = folded
                return True
            if from_x and b == 0 and op in (_DIV, _MOD):
                lines += self.exits.verdict("0")
                return False
            expression, value = _alu_with_constant(op, ACCUMULATOR, b, from_x)
            if expression is not None:
                lines.append((0, f"{ACCUMULATOR} = {expression}"))
            elif value is not None:
                facts.a = value
            return True
        if op in (_DIV, _MOD):  # libpcap: X == 0 rejects
            lines.append((0, f"if not {INDEX}: {self.exits.reject}"))
            sign = "//" if op == _DIV else "%"
            lines.append((0, f"{ACCUMULATOR} = {facts.a_expr()} {sign} {INDEX}"))
        else:
            lines.append((0, f"{ACCUMULATOR} = {_alu_with_variable_x(op, facts.a_expr())}"))
        facts.a = None
        return True


# --- Public entry points ------------------------------------------------------

_unpack_u16 = struct.Struct(">H").unpack_from
_unpack_u32 = struct.Struct(">I").unpack_from


def program_source(program: Sequence[Instruction], *, in_place: bool = False) -> str:
    """Return the Python source that :func:`compile_program` would execute.

    The source defines ``_make_filter(_u16, _u32)``, which returns the filter
    function (the in-place form with ``in_place=True``, see
    :func:`compile_program_in_place`).  Useful for debugging; raises
    :class:`InvalidProgramError` for invalid programs.
    """
    validate(program)
    return _Translator(_normalize(program), in_place).source()


def inline_statements(
    program: Sequence[Instruction], deliver: Sequence[Line]
) -> Optional[list[Line]]:
    """The program as statements to paste into a loop over packets, or None if it loops.

    The statements read the packet in place (the loop ABI's ``PACKET``, ``BASE``, ``CAPLEN``,
    ``WIRELEN``, as :func:`compile_program_in_place` does) and, instead of returning, run
    ``REJECT`` for a rejected packet and ``deliver`` then ``REJECT`` for an accepted one.
    Inlining saves a Python call per packet, the largest single cost of reading a filtered
    savefile. Programs with backward jumps or states keep a loop of their own, whose
    ``continue`` would mean something else, so they are not inlined.
    """
    translator = _Translator(_normalize(_validated(program)), True, _Exits(deliver))
    if translator.plan.states:
        return None
    return translator.function_body()


def _validated(program: Sequence[Instruction]) -> Sequence[Instruction]:
    validate(program)
    return program


def _build(source: str, family: str) -> Callable[..., int]:
    make_filter = compile_variant(family, source, "_make_filter")
    return cast(Callable[..., int], make_filter(_unpack_u16, _unpack_u32))


def compile_program_in_place(program: Sequence[Instruction]) -> InPlaceFilterFunction:
    """Like :func:`compile_program`, for a packet lying inside a larger buffer.

    The result is ``f(buffer, base, caplen, wirelen)``: the packet is
    ``buffer[base:base + caplen]``, read where it lies, so a savefile reader
    can reject a packet before copying it out (``caplen`` must not reach past
    the buffer's end).
    """
    source = program_source(program, in_place=True)
    return cast(InPlaceFilterFunction, _build(source, "bpf program in place"))


def compile_program(program: Sequence[Instruction]) -> FilterFunction:
    """Validate *program* and translate it into a fast Python filter function.

    The result is ``f(packet, wirelen) -> int``; it returns what libpcap's
    ``bpf_filter(program, packet, wirelen, len(packet))`` returns with no
    auxiliary data (as ``pcap_offline_filter`` and savefile reading use it):
    0 to reject the packet, otherwise the number of bytes to keep, as an
    unsigned 32-bit integer.

    *packet* may be ``bytes``, ``bytearray`` or a one-dimensional, contiguous
    ``memoryview`` of format ``'B'``; *wirelen* is the packet's original
    length (0 <= wirelen < 2**32).  Scratch memory starts zeroed, as in
    current libpcap.  Where libpcap's program would go round forever (a
    crafted header chain under ``ip6 protochain``), this one rejects the packet
    after more rounds than the packet's size allows a real chain.
    """
    return cast(FilterFunction, _build(program_source(program), "bpf program"))
