"""The code generator's intermediate form: blocks of statements ending in one test.

A ``Block`` is a run of statements followed by a conditional jump (or a return). A ``Fragment``
is what the generator passes around for one part of the expression: its entry block and the
still-open branches that leave it when the part is true and when it is false. ``conjoin``,
``disjoin`` and ``negate`` connect fragments the way libpcap's ``gen_and``/``gen_or``/
``gen_not`` do (the left one runs first), so the order in which packet bytes are loaded, and
therefore what a truncated packet does, is libpcap's.

``assemble`` lays the blocks out so every jump goes forward, then gives a branch that is too far
for an 8-bit ``jt``/``jf`` a nearby stub (a ``ja`` or a copy of a ``ret``) that later branches to
the same place share.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Optional

from .._errors import BPFError

Instruction = tuple[int, int, int, int]

# pcap/bpf.h
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0,
)  # fmt: skip
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
TAX, TXA = 0x00, 0x80
SIZE_CODES = {1: B, 2: H, 4: W}

MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS: the kernel refuses longer programs
_MAX_BRANCH = 255


@dataclass(eq=False)
class Stmt:
    """One instruction inside a block; a jump inside a block names its targets (protochain's
    and geneve's loops), a ``ja`` inside a block keeps its relative ``k``."""

    code: int
    k: int = 0
    jt: Optional[Stmt] = None
    jf: Optional[Stmt] = None


@dataclass(eq=False)
class Block:
    """Statements, then ``jump`` (a conditional BPF_JMP code with ``k``) to ``true``/``false``;
    or, when ``returns`` is set, statements then ``ret #k``."""

    stmts: list[Stmt] = field(default_factory=list)
    jump: int = JMP | JEQ | K
    k: int = 0
    true: Optional[Block] = None
    false: Optional[Block] = None
    returns: bool = False
    settled: bool = False  # already minimal (a search tree's node): the optimizer passes by


@dataclass(eq=False)
class Fragment:
    """Part of the expression: its entry block and its open true and false branches."""

    head: Block
    true_exits: list[tuple[Block, bool]]
    false_exits: list[tuple[Block, bool]]


def branch_on(stmts: list[Stmt], jump: int, k: int = 0) -> Fragment:
    """A fragment of one block: ``stmts``, then jump on the condition ``jump``/``k``."""
    block = Block(stmts, jump, k)
    return Fragment(block, [(block, True)], [(block, False)])


def returning(value: int) -> Block:
    return Block([], returns=True, k=value)


def _patch(exits: list[tuple[Block, bool]], target: Block) -> None:
    for block, branch in exits:
        if branch:
            block.true = target
        else:
            block.false = target


def _merged(first: list[tuple[Block, bool]], second: list[tuple[Block, bool]]) -> list[
    tuple[Block, bool]
]:
    """Both exit lists in one (the longer one is extended, so long chains stay linear)."""
    if len(first) < len(second):
        first, second = second, first
    first.extend(second)
    return first


def conjoin(first: Fragment, second: Fragment) -> Fragment:
    """``first and second``: first runs, then second if first was true."""
    _patch(first.true_exits, second.head)
    return Fragment(first.head, second.true_exits, _merged(first.false_exits, second.false_exits))


def disjoin(first: Fragment, second: Fragment) -> Fragment:
    """``first or second``: first runs, then second if first was false."""
    _patch(first.false_exits, second.head)
    return Fragment(first.head, _merged(first.true_exits, second.true_exits), second.false_exits)


def negate(fragment: Fragment) -> Fragment:
    return Fragment(fragment.head, fragment.false_exits, fragment.true_exits)


def finish(fragment: Fragment, accept: int) -> Block:
    """Close the program: true branches return ``accept``, false ones 0; the entry block."""
    _patch(fragment.true_exits, returning(accept))
    _patch(fragment.false_exits, returning(0))
    return fragment.head


# --- layout -----------------------------------------------------------------------------------


def goto(stmts: list[Stmt], target: Block) -> Block:
    """A block that runs ``stmts`` and continues at ``target`` (a ``ja``)."""
    return Block(stmts, JMP | JA, 0, target, target)


def successors(block: Block) -> list[Block]:
    if block.returns:
        return []
    assert block.true is not None, "an open branch at assembly"
    assert block.false is not None, "an open branch at assembly"
    return [block.true, block.false] if block.true is not block.false else [block.true]


def block_order(root: Block) -> list[Block]:
    """Reverse post-order from the root: every jump between blocks goes forward."""
    order: list[Block] = []
    seen = {id(root)}
    stack: list[tuple[Block, int]] = [(root, 0)]
    while stack:
        block, next_child = stack[-1]
        children = successors(block)
        if next_child < len(children):
            stack[-1] = (block, next_child + 1)
            child = children[next_child]
            if id(child) not in seen:
                seen.add(id(child))
                stack.append((child, 0))
        else:
            stack.pop()
            order.append(block)
    order.reverse()
    return order


@dataclass
class _Layout:
    order: list[Block]
    # after the block at this index: the stub targets placed there
    stubs: dict[int, list[Block]] = field(default_factory=dict)

    def falls_through(self, index: int) -> bool:
        """Whether the block at ``index`` is a ``ja`` to what comes right after it (omitted)."""
        block = self.order[index]
        return (block.jump == JMP | JA and not block.returns and index + 1 < len(self.order)
                and self.order[index + 1] is block.true and not self.stubs.get(index))

    def block_length(self, index: int) -> int:
        return len(self.order[index].stmts) + (0 if self.falls_through(index) else 1)

    def positions(self) -> tuple[dict[int, int], dict[int, list[int]]]:
        """Where each block's first instruction goes; each target's stub positions, sorted."""
        block_at: dict[int, int] = {}
        stubs_of: dict[int, list[int]] = {}
        position = 0
        for index, block in enumerate(self.order):
            block_at[id(block)] = position
            position += self.block_length(index)
            for target in self.stubs.get(index, ()):
                stubs_of.setdefault(id(target), []).append(position)
                position += 1
        return block_at, stubs_of


def _reach(block_at: dict[int, int], stubs_of: dict[int, list[int]], source: int,
           target: Block) -> Optional[int]:
    """Where a branch at ``source`` to ``target`` can jump: the target or a stub in reach."""
    if block_at[id(target)] - source - 1 <= _MAX_BRANCH:
        return block_at[id(target)]
    positions = stubs_of.get(id(target), [])
    nearest = bisect.bisect_right(positions, source)
    if nearest < len(positions) and positions[nearest] - source - 1 <= _MAX_BRANCH:
        return positions[nearest]
    return None


def _far_branches(layout: _Layout) -> list[tuple[int, int, Block]]:
    """(block index, branch source position, target) of every branch that is too far."""
    block_at, stubs_of = layout.positions()
    far: list[tuple[int, int, Block]] = []
    for index, block in enumerate(layout.order):
        if block.returns or block.jump == JMP | JA:
            continue
        source = block_at[id(block)] + len(block.stmts)
        far.extend(
            (index, source, target)
            for target in successors(block)
            if _reach(block_at, stubs_of, source, target) is None
        )
    return far


def _place_stubs(layout: _Layout, far: list[tuple[int, int, Block]]) -> None:
    """For each far branch, a stub as far forward as the branch reaches (to be shared)."""
    block_at, _ = layout.positions()
    ends = [block_at[id(block)] + layout.block_length(index)
            for index, block in enumerate(layout.order)]
    newest: dict[int, tuple[int, int]] = {}  # target -> (stub block index, its end position)
    for index, source, target in far:
        previous = newest.get(id(target))
        if previous is not None and previous[0] >= index and previous[1] - source - 1 <= (
            _MAX_BRANCH - 16
        ):
            continue
        stub_index = index
        while (
            stub_index + 1 < len(layout.order)
            and ends[stub_index + 1] - source - 1 <= _MAX_BRANCH - 16
            and layout.order[stub_index + 1] is not target
        ):
            stub_index += 1
        newest[id(target)] = (stub_index, ends[stub_index])
        layout.stubs.setdefault(stub_index, []).append(target)


def _layout(root: Block) -> _Layout:
    layout = _Layout(block_order(root))
    for _ in range(64):
        far = _far_branches(layout)
        if not far:
            return layout
        _place_stubs(layout, far)
    raise BPFError("filter program too large: branches cannot be laid out within 8-bit offsets")


def _stub_instruction(target: Block, position: int, target_position: int) -> Instruction:
    if target.returns and not target.stmts:
        return (RET | K, 0, 0, target.k & 0xFFFFFFFF)
    return (JMP | JA, 0, 0, target_position - position - 1)


def _branch_offset(block_at: dict[int, int], stubs_of: dict[int, list[int]], source: int,
                   target: Block) -> int:
    position = _reach(block_at, stubs_of, source, target)
    assert position is not None, "layout left a branch out of reach"
    return position - source - 1


def _block_instructions(block: Block) -> list[Instruction]:
    """The block's statements; jumps between statements resolved to relative offsets."""
    index_of = {id(stmt): index for index, stmt in enumerate(block.stmts)}
    instructions: list[Instruction] = []
    for index, stmt in enumerate(block.stmts):
        jt = index_of[id(stmt.jt)] - index - 1 if stmt.jt is not None else 0
        jf = index_of[id(stmt.jf)] - index - 1 if stmt.jf is not None else 0
        instructions.append((stmt.code, jt, jf, stmt.k & 0xFFFFFFFF))
    return instructions


def assemble(root: Block) -> list[Instruction]:
    """The program's instructions: blocks in a forward-jumping order, far branches via stubs."""
    layout = _layout(root)
    block_at, stubs_of = layout.positions()
    program: list[Instruction] = []
    for index, block in enumerate(layout.order):
        program.extend(_block_instructions(block))
        source = len(program)
        if block.returns:
            program.append((RET | K, 0, 0, block.k & 0xFFFFFFFF))
        elif block.jump == JMP | JA:
            assert block.true is not None
            if not layout.falls_through(index):
                program.append((JMP | JA, 0, 0, block_at[id(block.true)] - source - 1))
        else:
            assert block.true is not None
            assert block.false is not None
            jt = _branch_offset(block_at, stubs_of, source, block.true)
            jf = _branch_offset(block_at, stubs_of, source, block.false)
            program.append((block.jump, jt, jf, block.k & 0xFFFFFFFF))
        for target in layout.stubs.get(index, ()):
            position = len(program)
            program.append(_stub_instruction(target, position, block_at[id(target)]))
    return program
