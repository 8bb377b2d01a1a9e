"""``ip6 host A or ip6 host B or ...``: a trie of search trees over the address's four words.

libpcap compiles each IPv6 ``host`` term into one test per 32-bit word of the source address,
then of the destination address, term after term. Here the address field is searched word by
word: the first word in a balanced tree of the distinct first words, then, for each, the
second word among the set's addresses that begin with it, and so on; a packet costs O(log n)
comparisons (plus one per word) and the program grows linearly.

The verdict is libpcap's, truncated packets included. With ``src`` or ``dst`` alone, a packet
is accepted only when all four words of the field were loaded and matched, so any order of
loads gives the same verdicts. With both (``host``), libpcap's sequence loads the source words
of the first term (a packet too short for them is rejected: either a word is missing, or the
source differs and the destination's first load fails), accepts if the source is that first
address, and otherwise loads destination words term by term: term i's destination words are
loaded while they equal address i's, so a packet cut inside the destination address is rejected
at the first term whose address begins as its destination does, unless an earlier term (or
that one) matched its source. So the code here: search the source in its trie and keep, in a
scratch register, the position in the list of the first term with that address (accepting at
once if it is the first); then search the destination in its trie, and before each further
word is loaded, accept if the source's term comes no later than the first term the
destination still matches (a packet too short for that word is accepted by libpcap exactly
then); a destination found accepts, one not found accepts if the source was found. What is
kept is the first of those guards' positions at or after the source's (all they ask), so
addresses in one interval between them share a block, and consecutive ones a range.

Sets with a variable network-layer offset (after ``geneve``/``vxlan``), or with all 16 scratch
registers in use, are compiled term by term.
"""

from __future__ import annotations

import bisect
from typing import Union

from .._errors import BPFError
from . import _ast as ast
from ._gen import ETHERTYPE_IPV6, CodeGenerator, parse_ipv6
from ._ir import IMM, JEQ, JGE, JGT, JMP, LD, MEM, ST, Block, Fragment, K, Stmt, W, goto
from ._sets import _LEAF_SIZE, _ranges, _sequential, _set_branch, _Tree

_SOURCE, _DESTINATION = 8, 24  # the addresses' offsets in the IPv6 header
_NOT_FOUND = 0xFFFFFFFF  # the source's term position when the source is not in the set


class _Exit:
    """A branch that leaves the fragment (as true, or as false)."""

    def __init__(self, outcome: bool) -> None:
        self.outcome = outcome


_ACCEPT, _REJECT = _Exit(True), _Exit(False)
Target = Union[Block, _Exit]


def _word(address: int, level: int) -> int:
    return (address >> (32 * (3 - level))) & 0xFFFFFFFF


def _groups(addresses: list[int], level: int) -> list[tuple[int, list[int]]]:
    """The sorted addresses grouped by their word at ``level``, in order."""
    groups: list[tuple[int, list[int]]] = []
    for address in addresses:
        word = _word(address, level)
        if groups and groups[-1][0] == word:
            groups[-1][1].append(address)
        else:
            groups.append((word, [address]))
    return groups


class _Builder:
    """The blocks of one fragment, with its true and false exits."""

    def __init__(self, gen: CodeGenerator, first_term: dict[int, int]) -> None:
        self.gen = gen
        self.first_term = first_term  # address -> position of its first term (from 1)
        self.true_exits: list[tuple[Block, bool]] = []
        self.false_exits: list[tuple[Block, bool]] = []

    def branch(self, block: Block, branch: bool, target: Target) -> None:
        if isinstance(target, _Exit):
            (self.true_exits if target.outcome else self.false_exits).append((block, branch))
        else:
            _set_branch((block, branch), target)

    def dispatch(self, keys: list[tuple[int, Target]], missing: Target) -> Block:
        """A balanced tree over the sorted words in ``keys``, each leading to its target
        (consecutive words with one target tested as a range)."""
        ranges: list[tuple[int, int, Target]] = []
        for word, target in keys:
            if ranges and ranges[-1][1] + 1 == word and ranges[-1][2] is target:
                ranges[-1] = (ranges[-1][0], word, target)
            else:
                ranges.append((word, word, target))
        return self._tree(ranges, missing)

    def _tree(self, ranges: list[tuple[int, int, Target]], missing: Target) -> Block:
        if len(ranges) > _LEAF_SIZE:
            middle = len(ranges) // 2
            node = Block([], JMP | JGE | K, ranges[middle][0], settled=True)
            node.true = self._tree(ranges[middle:], missing)
            node.false = self._tree(ranges[:middle], missing)
            return node
        following: Target = missing
        for low, high, target in reversed(ranges):  # built from the last test back
            if low == high:
                test = Block([], JMP | JEQ | K, low, settled=True)
                self.branch(test, True, target)
                self.branch(test, False, following)
            else:
                test = Block([], JMP | JGE | K, low, settled=True)
                at_most = Block([], JMP | JGT | K, high, settled=True)
                test.true = at_most
                self.branch(test, False, following)
                self.branch(at_most, True, following)
                self.branch(at_most, False, target)
            following = test
        assert isinstance(following, Block)
        return following

    def load(self, field: int, level: int) -> list[Stmt]:
        return self.gen.load("linkpl", field + 4 * level, W)

    def accepting_trie(self, field: int, addresses: list[int], level: int = 0,
                       missing: Target = _REJECT) -> Block:
        """Accept if the field is one of the addresses (all sharing ``level`` first words)."""
        if level == 3:  # the last word: consecutive addresses make ranges
            tree = _Tree(_ranges([_word(address, 3) for address in addresses]))
            self.true_exits += tree.found
            for block, branch in tree.missing:
                self.branch(block, branch, missing)
            return goto(self.load(field, 3), tree.root)
        keys: list[tuple[int, Target]] = [
            (word, self.accepting_trie(field, group, level + 1, missing))
            for word, group in _groups(addresses, level)
        ]
        return goto(self.load(field, level), self.dispatch(keys, missing))


def host6_set_fragment(gen: CodeGenerator, nodes: list[ast.Node], direction: str) -> Fragment:
    """The fragment for ``ip6 host A1 or ip6 host A2 or ...`` (one direction for all)."""
    if gen.off_linkpl.variable:
        return _sequential(gen, nodes)
    addresses: list[int] = []
    for node in nodes:
        assert isinstance(node, ast.Address)
        addresses.append(int.from_bytes(parse_ipv6(node.text), "big"))
    first_term: dict[int, int] = {}
    for position, address in enumerate(addresses, 1):
        first_term.setdefault(address, position)
    test = gen.linktype_test(ETHERTYPE_IPV6)
    builder = _Builder(gen, first_term)
    unique = sorted(first_term)
    if direction in ("SRC", "DST"):
        entry = builder.accepting_trie(_SOURCE if direction == "SRC" else _DESTINATION, unique)
    else:
        try:
            register = gen.alloc_register()
        except BPFError:  # all 16 scratch registers in use: libpcap's sequence needs none
            return _sequential(gen, nodes)
        entry = _both_directions(builder, unique, register)
        gen.free_register(register)
    for block, branch in test.true_exits:
        _set_branch((block, branch), entry)
    return Fragment(test.head, builder.true_exits, test.false_exits + builder.false_exits)


def _both_directions(builder: _Builder, unique: list[int], register: int) -> Block:
    """Source trie (which of the guards' positions its term comes no later than kept in
    M[register]), then destination trie."""
    last = max(builder.first_term.values())
    not_in_set = Block([Stmt(LD | MEM, register)], JMP | JGT | K, last)
    builder.false_exits.append((not_in_set, True))
    builder.true_exits.append((not_in_set, False))
    guards: set[int] = {last}
    destination = _destination_trie(builder, unique, register, 0, 1, not_in_set, guards)
    source_missing = goto([Stmt(LD | IMM, _NOT_FOUND), Stmt(ST, register)], destination)
    stores = _Stores(register, destination, sorted(guards))
    return _source_trie(builder, unique, 0, stores, source_missing)


class _Stores:
    """The blocks that keep the source's term position, one per interval between the guards'
    positions (all a guard asks is whether the position is at most its own)."""

    def __init__(self, register: int, destination: Block, guards: list[int]) -> None:
        self.register, self.destination, self.guards = register, destination, guards
        self.blocks: dict[int, Block] = {}

    def target(self, position: int) -> Target:
        if position == 1:  # the first term's source: libpcap accepts it before any other load
            return _ACCEPT
        kept = self.guards[bisect.bisect_left(self.guards, position)]
        if kept not in self.blocks:
            self.blocks[kept] = goto([Stmt(LD | IMM, kept), Stmt(ST, self.register)],
                                     self.destination)
        return self.blocks[kept]


def _source_trie(builder: _Builder, addresses: list[int], level: int, stores: _Stores,
                 missing: Block) -> Block:
    keys: list[tuple[int, Target]] = [
        (word, _source_trie(builder, group, level + 1, stores, missing) if level < 3
         else stores.target(builder.first_term[group[0]]))
        for word, group in _groups(addresses, level)
    ]
    return goto(builder.load(_SOURCE, level), builder.dispatch(keys, missing))


def _destination_trie(builder: _Builder, addresses: list[int], register: int, level: int,
                      checked: int, missing: Block, guards: set[int]) -> Block:
    """Load word ``level`` of the destination and go on among ``addresses``; ``checked``: the
    term position the source's has been compared with already."""
    if level == 3:
        return builder.accepting_trie(_DESTINATION, addresses, 3, missing)
    keys: list[tuple[int, Target]] = []
    for word, group in _groups(addresses, level):
        earliest = min(builder.first_term[address] for address in group)
        following = _destination_trie(builder, group, register, level + 1,
                                      max(checked, earliest), missing, guards)
        if earliest > checked:  # the source's term, if no later, accepts before this load
            guards.add(earliest)
            guard = Block([Stmt(LD | MEM, register)], JMP | JGT | K, earliest, following)
            builder.true_exits.append((guard, False))
            following = guard
        keys.append((word, following))
    return goto(builder.load(_DESTINATION, level), builder.dispatch(keys, missing))
