"""``host A or host B or ...``: one search tree instead of a test per address.

libpcap compiles n ``host`` terms into n sequential tests (and its optimizer then takes time and
memory that grow faster than n). Here a run of eight or more ``or``-ed IPv4 host/net terms with the
same qualifiers and mask compiles to a balanced tree of ``jge`` comparisons over the sorted
addresses (runs of consecutive addresses become one range), so a packet costs O(log n)
comparisons and the program grows linearly.

The verdict is libpcap's, truncated packets included. For one address family (the link-layer
type tests are exclusive and load the same bytes in every term), libpcap's sequence
``(src == A1 or dst == A1) or (src == A2 or dst == A2) ...`` loads the source address first
(rejecting the packet if it is cut short there), accepts if it is A1, and otherwise loads the
destination address (rejecting if cut short) before it can accept on any other address. So the
code here is: load src; accept if A1; load dst; accept if dst is in the set; reload src (already
known to be in the packet); accept if src is in the set. With only ``src`` or only ``dst``, one
load and one tree.

The trees are shared between the families (IPv4, ARP, RARP): each family's entry leaves the
offset of its source address in X, so the reload is ``ld [x + 0]``.
"""

from __future__ import annotations

from typing import Optional

from .._errors import BPFError
from . import _ast as ast
from ._gen import (
    ETHERTYPE_ARP,
    ETHERTYPE_IP,
    ETHERTYPE_REVARP,
    CodeGenerator,
    parse_dotted,
    parse_ipv6,
)
from ._ir import (
    ABS,
    ALU,
    AND,
    IMM,
    IND,
    JEQ,
    JGE,
    JGT,
    JMP,
    LD,
    LDX,
    MAX_INSTRUCTIONS,
    Block,
    Fragment,
    K,
    Stmt,
    W,
    disjoin,
    goto,
)

SetKey = tuple[str, str, int]  # (protocol qualifier, direction, mask)
# Fewer terms are compiled one after another, as libpcap compiles them: a tree saves little
# there, and its optimizer then knows what libpcap's knows (``(src host A or B) and src host C``
# rejects every packet: libpcap proves it, and so does pcapy's from the same tests)
SMALLEST_SET = 8
_LEAF_SIZE = 4  # ranges tested one after another at a leaf of the tree
_FAMILIES = {"IP": (ETHERTYPE_IP, 12, 16), "ARP": (ETHERTYPE_ARP, 14, 24),
             "RARP": (ETHERTYPE_REVARP, 14, 24)}  # fmt: skip


def _address_and_mask(node: ast.Address) -> Optional[tuple[int, int]]:
    """The (address, mask) an IPv4 host/net term compares with, None if not such a term."""
    try:
        if node.kind == "NUM":
            value, bits, mask = node.number, 32, 0xFFFFFFFF
            if node.qualifiers.addr == "NET":
                while value and (value & 0xFF000000) == 0:
                    value, mask = (value << 8) & 0xFFFFFFFF, (mask << 8) & 0xFFFFFFFF
                return value, mask
        elif node.kind == "HID":
            value, bits = parse_dotted(node.text)
        else:
            return None
    except BPFError:
        return None
    shift = 32 - bits
    return (value << shift) & 0xFFFFFFFF, (0xFFFFFFFF << shift) & 0xFFFFFFFF


def _ipv6_set_key(node: ast.Address) -> Optional[SetKey]:
    q = node.qualifiers
    if q.proto not in ("DEFAULT", "IPV6") or q.dir not in ("DEFAULT", "OR", "SRC", "DST"):
        return None
    if q.addr not in ("DEFAULT", "HOST"):
        return None
    try:
        parse_ipv6(node.text)
    except BPFError:
        return None
    return (IPV6_SET, "OR" if q.dir == "DEFAULT" else q.dir, 0)


def _member_value(node: ast.Node) -> int:
    assert isinstance(node, ast.Address)
    address = _address_and_mask(node)
    assert address is not None
    return address[0]


IPV6_SET = "IP6"  # the protocol of a set key of IPv6 host terms (``ip6 host``, ``host``)


def set_key(node: ast.Node) -> Optional[SetKey]:
    """What terms must share to be one set (None: this node is not a set member)."""
    if not isinstance(node, ast.Address):
        return None
    q = node.qualifiers
    if node.kind == "HID6":
        return _ipv6_set_key(node)
    if q.proto not in ("DEFAULT", "IP") or q.dir not in ("DEFAULT", "OR", "SRC", "DST"):
        return None
    if q.addr not in ("DEFAULT", "HOST", "NET"):
        return None
    address = _address_and_mask(node)
    if address is None:
        return None
    return (q.proto, "OR" if q.dir == "DEFAULT" else q.dir, address[1])


def _ranges(values: list[int]) -> list[tuple[int, int]]:
    """Sorted distinct values as maximal runs of consecutive integers."""
    ranges: list[tuple[int, int]] = []
    for value in sorted(set(values)):
        if ranges and ranges[-1][1] + 1 == value:
            ranges[-1] = (ranges[-1][0], value)
        else:
            ranges.append((value, value))
    return ranges


class _Tree:
    """A search tree over ranges; ``found``/``missing`` collect the branches to patch."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.found: list[tuple[Block, bool]] = []
        self.missing: list[tuple[Block, bool]] = []
        self.root = self._build(ranges)

    def _build(self, ranges: list[tuple[int, int]]) -> Block:
        if len(ranges) <= _LEAF_SIZE:
            return self._leaf_chain(ranges)
        middle = len(ranges) // 2
        node = Block([], JMP | JGE | K, ranges[middle][0], settled=True)
        node.true = self._build(ranges[middle:])
        node.false = self._build(ranges[:middle])
        return node

    def _leaf_chain(self, ranges: list[tuple[int, int]]) -> Block:
        entry: Optional[Block] = None
        outside: list[tuple[Block, bool]] = []
        for low, high in ranges:
            first, exits = self._range_test(low, high)
            if entry is None:
                entry = first
            for branch in outside:
                _set_branch(branch, first)
            outside = exits
        assert entry is not None
        self.missing.extend(outside)
        return entry

    def _range_test(self, low: int, high: int) -> tuple[Block, list[tuple[Block, bool]]]:
        """Blocks testing low <= A <= high: the entry, and the branches taken when outside."""
        if low == high:
            block = Block([], JMP | JEQ | K, low, settled=True)
            self.found.append((block, True))
            return block, [(block, False)]
        at_least = Block([], JMP | JGE | K, low, settled=True)
        at_most = Block([], JMP | JGT | K, high, settled=True)
        at_least.true = at_most
        self.found.append((at_most, False))
        return at_least, [(at_least, False), (at_most, True)]

    def patch_missing(self, target: Block) -> None:
        for branch in self.missing:
            _set_branch(branch, target)


def _check_size(ranges: int, trees: int) -> None:
    """Refuse at once a set whose trees alone pass BPF_MAXINSNS (before building them)."""
    smallest = trees * (ranges + (ranges - 1) // _LEAF_SIZE)
    if smallest > MAX_INSTRUCTIONS:
        what = "search trees" if trees > 1 else "a search tree"
        raise BPFError(
            f"filter needs at least {smallest} instructions, more than the {MAX_INSTRUCTIONS} "
            f"(BPF_MAXINSNS) a kernel accepts: {ranges} separate addresses or address ranges "
            f"make {what} of that size"
        )


def _set_branch(branch: tuple[Block, bool], target: Block) -> None:
    block, is_true = branch
    if is_true:
        block.true = target
    else:
        block.false = target


def _masked(mask: int) -> list[Stmt]:
    return [] if mask == 0xFFFFFFFF else [Stmt(ALU | AND | K, mask)]


def host_set_fragment(gen: CodeGenerator, nodes: list[ast.Node]) -> Fragment:
    """The fragment for ``host A1 or host A2 or ...`` (all with one ``set_key``)."""
    key = set_key(nodes[0])
    assert key is not None
    proto, direction, mask = key
    if gen.off_linkpl.variable:  # after geneve/vxlan: the X trick below needs a constant offset
        return _sequential(gen, nodes)
    values = [_member_value(node) & mask for node in nodes]
    _check_size(len(_ranges(values)), 2 if direction == "OR" else 1)
    families = ["IP"] if proto == "IP" or gen.label_stack_depth != 0 else ["IP", "ARP", "RARP"]
    true_exits: list[tuple[Block, bool]] = []
    false_exits: list[tuple[Block, bool]] = []
    source_tree = _Tree(_ranges(values))
    true_exits += source_tree.found
    false_exits += source_tree.missing
    destination_tree: Optional[_Tree] = None
    if direction == "OR":
        destination_tree = _Tree(_ranges(values))
        true_exits += destination_tree.found
        reload_source = goto([Stmt(LD | IND | W, 0), *_masked(mask)], source_tree.root)
        destination_tree.patch_missing(reload_source)
    fragment: Optional[Fragment] = None
    for family in families:
        ethertype, source, destination = _FAMILIES[family]
        base = gen.off_linkpl.constant + gen.off_nl
        test = gen.linktype_test(ethertype)
        if direction == "OR":
            assert destination_tree is not None
            entry = Block([Stmt(LDX | IMM, base + source), Stmt(LD | IND | W, 0), *_masked(mask)],
                          JMP | JEQ | K, values[0])  # fmt: skip
            true_exits.append((entry, True))
            entry.false = goto([Stmt(LD | ABS | W, base + destination), *_masked(mask)],
                               destination_tree.root)  # fmt: skip
        else:
            offset = base + (source if direction == "SRC" else destination)
            entry = goto([Stmt(LD | ABS | W, offset), *_masked(mask)], source_tree.root)
        for block, branch in test.true_exits:
            _set_branch((block, branch), entry)
        family_fragment = Fragment(test.head, [], test.false_exits)
        fragment = family_fragment if fragment is None else _chain_false(fragment, family_fragment)
    assert fragment is not None
    return Fragment(fragment.head, true_exits, fragment.false_exits + false_exits)


def _chain_false(first: Fragment, second: Fragment) -> Fragment:
    """first's false branches go to second (the next family's link-type test)."""
    return disjoin(first, second)


def _sequential(gen: CodeGenerator, nodes: list[ast.Node]) -> Fragment:
    from ._walk import Walker  # noqa: PLC0415 - the walker imports this module

    walker = Walker(gen)
    fragment = walker.address(nodes[0])  # type: ignore[arg-type]
    for node in nodes[1:]:
        fragment = disjoin(fragment, walker.address(node))  # type: ignore[arg-type]
    return fragment
