"""The optimizer: folds what the program already knows, threads jumps, drops dead code.

It works on the block graph before layout, in three passes repeated until nothing changes:

1. **Knowledge forward** (constant folding, decided branches). Each value a statement computes
   gets a value number: packet loads at the same place, constants, and arithmetic on known
   values get the same number on every path. Along each edge the pass knows which registers
   hold which values and what the tests taken so far said about them (``A == 0x800`` on a
   ``jeq`` true branch, ``A != 0x800`` on its false one, any ``jgt``/``jge``/``jset`` result).
   Knowledge at a block is what holds on every edge into it; a test it decides becomes an
   unconditional jump.
2. **Jump threading.** An edge into a block whose test the edge's own knowledge decides goes
   straight to the block's successor, when the place reached needs nothing the block would
   have set and the block loads nothing from the packet that the edge has not loaded already.
3. **Dead code.** Statements whose result no later test or statement uses are dropped (so are
   blocks no longer reached), except packet loads; a test with both branches to one place
   becomes a jump, and an empty jump is skipped.

A packet load is never dropped from a path that ran it: kept, it rejects a packet too short for
it. libpcap's optimized programs drop such a load in some cases and keep it in others (its
unoptimized ones always keep it), so keeping every one gives, on every packet, the verdict of
one of libpcap's two programs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ._ir import (
    ABS,
    ADD,
    ALU,
    AND,
    DIV,
    IMM,
    IND,
    JA,
    JEQ,
    JGE,
    JGT,
    JMP,
    LD,
    LDX,
    LEN,
    LSH,
    MEM,
    MISC,
    MOD,
    MSH,
    MUL,
    NEG,
    OR,
    RSH,
    ST,
    STX,
    SUB,
    TXA,
    XOR,
    Block,
    Stmt,
    X,
    block_order,
    successors,
)

Value = tuple[object, ...]
_MAX_FACTS = 12
_MAX_CONSTANTS = 8
_SMALL_PROGRAM = 256  # blocks
_MAX_VALUE_DEPTH = 6
_PASSES = 4


def _constant(value: int) -> Value:
    return ("k", value & 0xFFFFFFFF)


def _depth(value: Value) -> int:
    return max((1 + _depth(part) for part in value if isinstance(part, tuple)), default=0)


_opaque_numbers = itertools.count()


def _opaque() -> Value:
    """A value known to equal no other (a fresh number each time, thread-safe)."""
    return ("opaque", next(_opaque_numbers))


def _fold(op: int, a: int, b: int) -> Optional[int]:
    if op in (DIV, MOD) and b == 0:
        return None
    if op in (LSH, RSH) and b > 31:
        return 0
    results = {ADD: a + b, SUB: a - b, MUL: a * b, OR: a | b, AND: a & b, XOR: a ^ b,
               LSH: a << b, RSH: a >> b, DIV: a // b if b else 0, MOD: a % b if b else 0}
    return results[op] & 0xFFFFFFFF if op in results else None  # fmt: skip


def _identity(op: int, right: Optional[int]) -> Union[str, int, None]:
    """``A op right`` when it does not depend on A ("a": it is A itself), else None.

    Only what libpcap's optimizer also knows makes a constant: a test decided from a value
    whose load never ran would drop that load, and with it the rejection of a packet too
    short for it, where libpcap's programs (optimized or not) keep it."""
    if right == 0 and op in (AND, MUL):  # libpcap's optimizer folds these too
        return 0
    if (right == 0 and op in (ADD, SUB, OR, XOR, LSH, RSH)) or (
        right == 0xFFFFFFFF and op == AND
    ):
        return "a"
    return None


@dataclass
class _State:
    """What holds at one point: register contents and what tests said about values."""

    a: Optional[Value] = None
    x: Optional[Value] = None
    memory: dict[int, Value] = field(default_factory=dict)
    # value -> the constants it can be (a jeq found it equal to one of them on every path)
    equal: dict[Value, frozenset[int]] = field(default_factory=dict)
    tests: dict[tuple[Value, int, int], bool] = field(default_factory=dict)
    loaded: frozenset[Value] = frozenset()  # the packet loads every path here has run

    def copy(self) -> _State:
        return _State(self.a, self.x, dict(self.memory), dict(self.equal), dict(self.tests),
                      self.loaded)

    @staticmethod
    def constant_of(value: Optional[Value]) -> Optional[int]:
        """The value's constant, if it is one (a value a ``jeq`` found equal to a constant is
        not made one: libpcap's optimizer uses that only to decide other ``jeq``s)."""
        if value is None or value[0] != "k":
            return None
        return value[1]  # type: ignore[return-value]

    def learn(self, key: tuple[Value, int, int], outcome: bool) -> None:
        value, code, k = key
        if code == JEQ and value[0] != "k":
            if outcome:
                self.equal[value] = frozenset((k,))
                _trim(self.equal)
            elif value in self.equal:
                self.equal[value] = self.equal[value] - {k}
        self.tests[key] = outcome
        _trim(self.tests)


def _trim(table: dict[Any, Any]) -> None:
    while len(table) > _MAX_FACTS:
        del table[next(iter(table))]


def _meet(states: list[_State]) -> _State:
    first = states[0]
    if all(state is first for state in states):
        return first.copy()
    rest = states[1:]
    return _State(
        first.a if all(s.a == first.a for s in rest) else None,
        first.x if all(s.x == first.x for s in rest) else None,
        {r: v for r, v in first.memory.items() if all(s.memory.get(r) == v for s in rest)},
        _meet_equal(first.equal, [s.equal for s in rest]),
        {t: o for t, o in first.tests.items() if all(s.tests.get(t) == o for s in rest)},
        first.loaded.intersection(*(s.loaded for s in rest)),
    )


def _meet_equal(first: dict[Value, frozenset[int]], rest: list[dict[Value, frozenset[int]]]
                ) -> dict[Value, frozenset[int]]:
    """The constants each value can be on some path (known only if it is known on all)."""
    met: dict[Value, frozenset[int]] = {}
    for value, constants in first.items():
        if all(value in other for other in rest):
            union = constants.union(*(other[value] for other in rest))
            if len(union) <= _MAX_CONSTANTS:
                met[value] = union
    return met


def _bounded(value: Value) -> Value:
    return value if _depth(value) <= _MAX_VALUE_DEPTH else _opaque()


def _alu_value(state: _State, stmt: Stmt) -> Value:
    op = stmt.code & 0xF0
    a = state.a if state.a is not None else _opaque()
    if op == NEG:
        known = state.constant_of(a)
        return _constant(-known) if known is not None else _bounded(("neg", a))
    operand = state.x if stmt.code & X else _constant(stmt.k)
    operand = operand if operand is not None else _opaque()
    left, right = state.constant_of(a), state.constant_of(operand)
    identity = _identity(op, right)
    if isinstance(identity, int):
        return _constant(identity)
    if identity == "a":
        return a
    if left is not None and right is not None:
        folded = _fold(op, left, right)
        if folded is not None:
            return _constant(folded)
    return _bounded(("alu", op, a, operand))


def _load_value(state: _State, stmt: Stmt) -> Value:  # noqa: PLR0911 - one case a mode
    mode = stmt.code & 0xE0
    if mode == IMM:
        return _constant(stmt.k)
    if mode == ABS:
        return ("ld", stmt.code, stmt.k)
    if mode == LEN:
        return ("len",)
    if mode == MEM:
        return state.memory.get(stmt.k) or _opaque()
    if mode == MSH:
        return ("msh", stmt.k)
    absolute = _absolute(state, stmt)
    if absolute is not None:
        return ("ld", absolute.code, absolute.k)
    x = state.x if state.x is not None else _opaque()
    return _bounded(("ldi", stmt.code, stmt.k, x))


def _absolute(state: _State, stmt: Stmt) -> Optional[Stmt]:
    """``[x + k]`` with X known, as the absolute load it is (not when x + k passes 2**32: the
    indexed load then rejects every packet, the absolute one would not)."""
    if stmt.code & 0x07 not in (LD, LDX) or stmt.code & 0xE0 != IND:
        return None
    known = state.constant_of(state.x)
    if known is None or known + (stmt.k & 0xFFFFFFFF) > 0xFFFFFFFF:
        return None
    return Stmt((stmt.code & ~IND) | ABS, known + (stmt.k & 0xFFFFFFFF))


def _run(state: _State, stmt: Stmt) -> bool:
    """Apply one statement to the state; True if it changed nothing (it can be skipped)."""
    cls = stmt.code & 0x07
    if cls in (LD, LDX):
        value = _load_value(state, stmt)
        if _reads_the_packet(stmt) and value not in state.loaded:
            state.loaded = state.loaded | {value}
        unchanged = (state.a if cls == LD else state.x) == value
        if cls == LD:
            state.a = value
        else:
            state.x = value
    elif cls in (ST, STX):
        stored = state.a if cls == ST else state.x
        stored = stored if stored is not None else _opaque()
        unchanged = state.memory.get(stmt.k) == stored
        state.memory[stmt.k] = stored
    elif cls == ALU:
        value = _alu_value(state, stmt)
        unchanged = state.a == value
        state.a = value
    elif cls == MISC:
        if stmt.code & 0xF8 == TXA:
            unchanged = state.a is not None and state.a == state.x
            state.a = state.x if state.x is not None else _opaque()
        else:
            unchanged = state.x is not None and state.x == state.a
            state.x = state.a if state.a is not None else _opaque()
    else:
        raise _Unoptimizable
    return unchanged


class _Unoptimizable(Exception):  # noqa: N818 - a signal, not an error
    """A block with jumps among its statements: left as generated."""


def _decide(state: _State, block: Block) -> Optional[bool]:  # noqa: PLR0911
    """The block's test outcome if the state decides it."""
    op = block.jump & 0xF0
    a = state.a
    if a is None:
        return None
    if block.jump & X:
        other = state.x
        if other is None:
            return None
        right = state.constant_of(other)
    else:
        right = block.k
    left = state.constant_of(a)
    if left is not None and right is not None:
        return _compare(op, left, right)
    if block.jump & X or right is None:
        return None
    key = (a, op, right)
    if key in state.tests:
        return state.tests[key]
    if op == JEQ and a in state.equal:
        constants = state.equal[a]
        if right not in constants:
            return False
        return True if len(constants) == 1 else None
    return None


def _compare(op: int, left: int, right: int) -> bool:
    if op == JEQ:
        return left == right
    if op == JGT:
        return left > right
    if op == JGE:
        return left >= right
    return bool(left & right)  # JSET


def _learn_branch(state: _State, block: Block, branch: bool) -> None:
    """What taking this branch of the block's test tells (the state is changed)."""
    if block.jump & 0xF0 != JA and not block.jump & X and state.a is not None:
        state.learn((state.a, block.jump & 0xF0, block.k & 0xFFFFFFFF), branch)


def _edge_state(state: _State, block: Block, branch: bool) -> _State:
    edge = state.copy()
    _learn_branch(edge, block, branch)
    return edge


# --- the graph --------------------------------------------------------------------------------


def _make_jump(block: Block, target: Block) -> None:
    block.jump = JMP | JA
    block.k = 0
    block.true = block.false = target


def _pass_settled(block: Block, states: list[_State], incoming: dict[int, list[_State]]) -> None:
    """A settled block is left alone: it changes no register, and what follows it knows what
    held before it (shared, not copied: a search tree has thousands of these)."""
    first = states[0]
    state = first if all(other is first for other in states) else _meet(states)
    for target in (block.true, block.false):
        targets = incoming.setdefault(id(target), [])
        if not targets or targets[-1] is not state:
            targets.append(state)


def _pass_on(block: Block, state: _State, incoming: dict[int, list[_State]]) -> None:
    """What each way out of the block knows, for the blocks it leads to."""
    if block.jump & 0xF0 == JA:
        assert block.true is not None
        incoming.setdefault(id(block.true), []).append(state)
        return
    for branch, target in ((True, block.true), (False, block.false)):
        assert target is not None
        incoming.setdefault(id(target), []).append(_edge_state(state, block, branch))


def _walk_with_knowledge(
    order: list[Block],
) -> Iterator[tuple[Block, _State, dict[int, list[_State]]]]:
    """Each reached block that is not settled, with what holds on every way into it; the
    caller adds what each way out of it knows to the third item."""
    incoming: dict[int, list[_State]] = {id(order[0]): [_State()]}
    for block in order:
        states = incoming.pop(id(block), None)
        if not states or block.returns:
            continue
        if block.settled:
            _pass_settled(block, states, incoming)
            continue
        yield block, _meet(states), incoming


def _knowledge_pass(order: list[Block]) -> bool:
    """Pass 1: decide tests from what holds on every way into them."""
    changed = False
    live_in = _liveness(order)
    for block, state, incoming in _walk_with_knowledge(order):
        kept: list[Stmt] = []
        before_last = state.a
        for stmt in block.stmts:
            absolute = _absolute(state, stmt)  # the load of X it used may become dead
            before = state.a
            if not _run(state, absolute or stmt):  # a reload is dropped
                kept.append(absolute or stmt)
                before_last = before
        if kept != block.stmts:
            block.stmts = kept
            changed = True
        if block.jump & 0xF0 != JA:
            changed |= _test_constants(block, state, before_last, live_in)
            decided = _decide(state, block)
            if decided is not None:
                target = block.true if decided else block.false
                assert target is not None
                _make_jump(block, target)
                changed = True
        _pass_on(block, state, incoming)
    return changed


def _test_constants(block: Block, state: _State, before_last: Optional[Value],
                    live_in: dict[int, set[Register]]) -> bool:
    """A test against an X known constant tests that constant; ``sub c; jeq #k`` (libpcap's code
    for ``=`` and ``!=``) is ``jeq #k+c`` when nothing after it reads A, so the tests of one
    value compare with constants the next tests can be decided from."""
    changed = False
    if block.jump & X:
        constant = state.constant_of(state.x)
        if constant is not None:
            block.jump, block.k, changed = block.jump & ~X, constant, True
    last = block.stmts[-1] if block.stmts else None
    if (last is None or block.jump != JMP | JEQ or last.code & 0xF7 != ALU | SUB
            or any("A" in live_in[id(target)] for target in successors(block))):
        return changed
    subtracted = state.constant_of(state.x) if last.code & X else last.k & 0xFFFFFFFF
    if subtracted is None:
        return changed
    block.stmts = block.stmts[:-1]
    block.k = (block.k + subtracted) & 0xFFFFFFFF
    state.a = before_last
    return True


def _thread(state: _State, target: Block, live_in: dict[int, set[Register]]) -> Block:
    """Where an edge in this state can go instead: past blocks whose test the state decides
    and whose packet loads it has run already, as far as the place reached does not need a
    value the skipped statements would have set."""
    reachable: list[tuple[Block, set[Register]]] = []
    written: set[Register] = set()
    current = target
    trial = state.copy()  # one copy, carried along the chain
    for _ in range(64):
        if current.returns or current.settled or not _run_loading_nothing_new(trial, current):
            break
        written.update(_defs_uses(stmt)[0] for stmt in current.stmts)
        if current.jump & 0xF0 == JA:
            following = current.true
        else:
            decided = _decide(trial, current)
            if decided is None:
                break
            _learn_branch(trial, current, decided)
            following = current.true if decided else current.false
        assert following is not None
        current = following
        reachable.append((current, set(written)))
    for place, skipped_writes in reversed(reachable):
        if not skipped_writes & live_in.get(id(place), set()):
            return place
    return target


def _run_loading_nothing_new(state: _State, block: Block) -> bool:
    """Run the block's statements on the state; False (stopping there) at a packet load some
    path to it has not run: skipping the block would drop that load, and with it the rejection
    of a packet too short for it."""
    for stmt in block.stmts:
        if _reads_the_packet(stmt) and _load_value(state, stmt) not in state.loaded:
            return False
        _run(state, stmt)
    return True


def _threading_pass(order: list[Block]) -> bool:
    """Pass 2: edges skip blocks their own knowledge decides."""
    changed = False
    live_in = _liveness(order)
    for block, state, incoming in _walk_with_knowledge(order):
        for stmt in block.stmts:
            _run(state, stmt)
        branches = [(True, block.true)] if block.jump & 0xF0 == JA else [
            (True, block.true), (False, block.false)]  # fmt: skip
        for branch, target in branches:
            assert target is not None
            edge = state if block.jump & 0xF0 == JA else _edge_state(state, block, branch)
            threaded = _thread(edge, target, live_in)
            if threaded is not target:
                changed = True
                if block.jump & 0xF0 == JA:
                    block.true = block.false = threaded
                elif branch:
                    block.true = threaded
                else:
                    block.false = threaded
        _pass_on(block, state, incoming)
    return changed


# --- liveness ---------------------------------------------------------------------------------

Register = Union[str, int]  # "A", "X", or a scratch-memory index


def _defs_uses(stmt: Stmt) -> tuple[Register, set[Register]]:  # noqa: PLR0911 - by class
    cls, mode = stmt.code & 0x07, stmt.code & 0xE0
    if cls == LD:
        uses: set[Register] = {"X"} if mode == IND else {stmt.k} if mode == MEM else set()
        return "A", uses
    if cls == LDX:
        return "X", ({stmt.k} if mode == MEM else set())
    if cls == ST:
        return stmt.k, {"A"}
    if cls == STX:
        return stmt.k, {"X"}
    if cls == ALU:
        return "A", ({"A", "X"} if stmt.code & X and stmt.code & 0xF0 != NEG else {"A"})
    if stmt.code & 0xF8 == TXA:
        return "A", {"X"}
    return "X", {"A"}


def _liveness(order: list[Block]) -> dict[int, set[Register]]:
    """The registers each block reads before writing them (its live-in set)."""
    live_in: dict[int, set[Register]] = {}
    for block in reversed(order):
        live = _live_at_exit(block, live_in)
        for stmt in reversed(block.stmts):
            defined, used = _defs_uses(stmt)
            live.discard(defined)
            live |= used
        live_in[id(block)] = live
    return live_in


def _live_at_exit(block: Block, live_in: dict[int, set[Register]]) -> set[Register]:
    live: set[Register] = set()
    for target in successors(block):
        live |= live_in[id(target)]
    if not block.returns and block.jump & 0xF0 != JA:
        live.add("A")
        if block.jump & X:
            live.add("X")
    return live


def _reads_the_packet(stmt: Stmt) -> bool:
    return stmt.code & 0x07 in (LD, LDX) and stmt.code & 0xE0 in (ABS, IND, MSH)


def _dead_code_pass(order: list[Block]) -> bool:
    """Pass 3: drop statements whose results are never used, except packet loads: a load can
    reject a truncated packet, and libpcap's programs do not all drop the ones they could."""
    changed = False
    live_in: dict[int, set[Register]] = {}
    for block in reversed(order):
        if block.returns:
            live_in[id(block)] = set()
            continue
        live = _live_at_exit(block, live_in)
        kept: list[Stmt] = []
        for stmt in reversed(block.stmts):
            defined, used = _defs_uses(stmt)
            if defined not in live and not _reads_the_packet(stmt):
                changed = True
                continue
            live.discard(defined)
            live |= used
            kept.append(stmt)
        kept.reverse()
        block.stmts = kept
        live_in[id(block)] = live
    return changed


def _simplify_pass(order: list[Block]) -> bool:
    """Tests with one destination become jumps; empty jumps are skipped."""
    changed = False
    for block in order:
        if block.returns:
            continue
        if block.jump & 0xF0 != JA and block.true is block.false:
            assert block.true is not None
            _make_jump(block, block.true)
            changed = True
        for branch in (True, False):
            target = block.true if branch else block.false
            hops = 0
            while (target is not None and not target.returns and target.jump & 0xF0 == JA
                   and not target.stmts and hops < 64):  # fmt: skip
                target, hops = target.true, hops + 1
            if target is not (block.true if branch else block.false):
                changed = True
                if branch:
                    block.true = target
                else:
                    block.false = target
    return changed


def _reject_early_pass(order: list[Block]) -> bool:
    """Edges into a block from which no path can accept go to a ``ret #0`` at once: whatever
    the block would do, a load past the packet's end included, the verdict is 0."""
    reject = next((block for block in order if block.returns and not block.k and not block.stmts),
                  None)
    if reject is None:
        return False
    can_accept: dict[int, bool] = {}
    for block in reversed(order):
        can_accept[id(block)] = bool(block.k) if block.returns else any(
            can_accept[id(target)] for target in successors(block))
    changed = False
    for block in order:
        if block.returns:
            continue
        if block.true is not reject and not can_accept[id(block.true)]:
            block.true, changed = reject, True
        if block.false is not reject and not can_accept[id(block.false)]:
            block.false, changed = reject, True
    return changed


def _block_key(block: Block) -> tuple[object, ...]:
    stmts = tuple((stmt.code, stmt.k & 0xFFFFFFFF) for stmt in block.stmts)
    if block.returns:
        return (True, block.k & 0xFFFFFFFF, stmts)
    return (False, block.jump, block.k & 0xFFFFFFFF, stmts, id(block.true), id(block.false),
            block.settled)


def _merge_identical_pass(order: list[Block]) -> bool:
    """Blocks doing the same thing (statements, test, and the same blocks after them) become
    one: edges to a copy go to the first of them (successors are merged before their
    predecessors, so chains of copies merge whole)."""
    first: dict[tuple[object, ...], Block] = {}
    merged: dict[int, Block] = {}
    changed = False
    for block in reversed(order):
        if not block.returns:
            assert block.true is not None
            assert block.false is not None
            true, false = merged.get(id(block.true), block.true), merged.get(id(block.false),
                                                                               block.false)
            if true is not block.true or false is not block.false:
                block.true, block.false, changed = true, false, True
        kept = first.setdefault(_block_key(block), block)
        if kept is not block:
            merged[id(block)] = kept
    return changed


def _has_inner_jumps(order: list[Block]) -> bool:
    return any(
        stmt.code & 0x07 == JMP or stmt.jt is not None for block in order for stmt in block.stmts
    )


def _skip_empty_root(root: Block) -> Block:
    while not root.returns and root.jump & 0xF0 == JA and not root.stmts:
        assert root.true is not None
        root = root.true
    return root


def optimize_graph(root: Block) -> Block:
    """The optimized program's entry block (the graph is changed in place)."""
    order = block_order(root)
    if _has_inner_jumps(order):
        return root
    if len(order) <= _SMALL_PROGRAM:  # few enough blocks to learn from a search tree's tests
        for block in order:
            block.settled = False
    for _ in range(_PASSES):
        changed = _knowledge_pass(order)  # the order stays topological: only edges move
        changed |= _threading_pass(order)  # forward, as far as those passes go
        changed |= _dead_code_pass(order)
        changed |= _reject_early_pass(order)
        changed |= _simplify_pass(order)
        changed |= _merge_identical_pass(order)  # moves edges backward: a new order
        order = block_order(root)
        if not changed:
            break
    return _skip_empty_root(root)


def accepts_nothing(root: Block) -> bool:
    """Whether every return the program can reach returns 0."""
    return not any(block.returns and block.k != 0 for block in block_order(root))
