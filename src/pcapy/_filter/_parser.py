"""Tokens -> the tree of ``_ast``, accepting exactly what libpcap's grammar accepts.

A recursive-descent parser with backtracking stands in for libpcap's LALR(1) grammar. Where the
grammar lets one token start two constructs (a ``(`` opens a parenthesised expression, an
arithmetic operand or a list of bare ids; ``not`` negates a term or a bare id), the parser tries
the alternatives in an order that gives the grammar's reading. Arithmetic follows the grammar's
precedence declarations, including its quirk: ``%`` and ``^`` have no declared precedence, so
bison shifts on them and they group to the right over everything.

Qualifiers: every parse function takes the qualifiers a bare id would inherit here (the
grammar's ``$<blk>0``) and returns those the next bare id after ``and``/``or`` inherits.

Depth: libpcap's parser is bison's, whose stack holds at most ``YYMAXDEPTH`` (10,000) states;
an expression that needs more (about 10,000 nested parentheses or ``not``s, 5,000 pending
arithmetic operators) is refused with "memory exhausted". The parser keeps the same count:
``depth`` is the number of grammar symbols bison would have on its stack (every token taken is
one, an empty ``null``/``pqual`` is one, a production reduced leaves one where its symbols
were), so it refuses exactly what libpcap refuses, and refuses it before going deeper.
"""

from __future__ import annotations

from typing import Callable, Optional, cast

from .._errors import BPFError
from ._ast import (
    UNDEFINED_QUALIFIERS,
    Address,
    Arith,
    BinaryOp,
    Chain,
    Constant,
    Keyword,
    Load,
    Negate,
    Node,
    Not,
    PacketLength,
    ProtoAbbrev,
    Qualifiers,
    Relation,
)
from ._lexer import Token, tokenize

PROTOCOL_QUALIFIERS = frozenset({
    "LINK", "IP", "ARP", "RARP", "SCTP", "TCP", "UDP", "ICMP", "IGMP", "IGRP", "PIM", "VRRP",
    "CARP", "ATALK", "AARP", "DECNET", "LAT", "SCA", "MOPDL", "MOPRC", "IPV6", "ICMPV6", "AH",
    "ESP", "ISO", "ESIS", "ISIS", "L1", "L2", "IIH", "LSP", "SNP", "PSNP", "CSNP", "CLNP", "STP",
    "IPX", "NETBEUI", "RADIO",
})  # fmt: skip
_SIMPLE_DIRECTIONS = {"ADDR1", "ADDR2", "ADDR3", "ADDR4", "RA", "TA"}
_ADDRESS_QUALIFIERS = {"HOST", "NET", "PORT", "PORTRANGE"}
_RELATIONS = {">": ("JGT", False), "GEQ": ("JGE", False), "=": ("JEQ", False),
              "LEQ": ("JGT", True), "<": ("JGE", True), "NEQ": ("JEQ", True)}  # fmt: skip
# Binary arithmetic operators -> precedence (None: declared nowhere, so bison always shifts).
_ARITH_PRECEDENCE: dict[str, Optional[int]] = {
    "|": 1, "&": 2, "LSH": 3, "RSH": 3, "+": 4, "-": 4, "*": 5, "/": 5, "%": None, "^": None,
}  # fmt: skip
_UNARY_MINUS_PRECEDENCE = 6
_ARITH_SPELLING = {"LSH": "<<", "RSH": ">>"}
_OPTIONAL_NUMBER_KEYWORDS = {"VLAN", "MPLS", "PPPOES", "GENEVE", "VXLAN"}
# bison's stack: state 0 plus one state a symbol; full at YYMAXDEPTH states (yacc.c's check).
YYMAXDEPTH = 10000
MAX_STACK_SYMBOLS = YYMAXDEPTH - 2
STACK_EXHAUSTED = "can't parse filter expression: memory exhausted"
_UNSUPPORTED_START = {
    "LANE", "METAC", "BCC", "OAMF4EC", "OAMF4SC", "SC", "ILMIC", "OAM", "OAMF4", "CONNECTMSG",
    "METACONNECT", "VPI", "VCI", "FISU", "LSSU", "MSU", "HFISU", "HLSSU", "HMSU", "SIO", "OPC",
    "DPC", "SLS", "HSIO", "HOPC", "HDPC", "HSLS", "PF_IFNAME", "PF_RSET", "PF_RNR", "PF_SRNR",
    "PF_REASON", "PF_ACTION", "LLC", "TYPE", "SUBTYPE", "DIR",
}  # fmt: skip


class _BacktrackError(Exception):
    """This alternative does not parse here; the caller tries the next one."""


class UnsupportedSyntaxError(BPFError):
    """Valid libpcap syntax for a part of the language pcapy's compiler does not implement."""


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.furthest = 0  # the furthest token reached, for the syntax error's message
        self.depth = 0  # grammar symbols on libpcap's parser stack (see the module docstring)
        self.exhausted = False  # an alternative needed more than bison's stack holds
        # (position, depth) where arith() failed: a '(' is tried as arithmetic first, so each
        # level of ((((...)))) would otherwise parse all the levels inside it again
        self.arith_failures: set[tuple[int, int]] = set()

    # --- token access -------------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.position]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def take(self, *kinds: str) -> Token:
        token = self.current
        if token.kind not in kinds:
            self.furthest = max(self.furthest, self.position)
            raise _BacktrackError
        self.position += 1
        self.push()
        return token

    def push(self) -> None:
        """One more symbol on the stack (a token, or an empty ``null``/``pqual``)."""
        self.depth += 1
        if self.depth > MAX_STACK_SYMBOLS:
            self.exhausted = True
            raise _BacktrackError

    def reduced(self, base: int) -> None:
        """A production started at stack depth ``base`` is reduced to its one symbol."""
        self.depth = base + 1

    def at(self, *kinds: str) -> bool:
        return self.current.kind in kinds

    def attempt(self, *alternatives: Callable[[], object]) -> object:
        """The first alternative that parses; the position is restored after each failure."""
        start, depth = self.position, self.depth
        for alternative in alternatives:
            try:
                return alternative()
            except _BacktrackError:  # noqa: PERF203 - backtracking is the point
                self.position, self.depth = start, depth
        raise _BacktrackError

    # --- boolean level ------------------------------------------------------------------------

    def program(self) -> Optional[Node]:
        if self.at("EOF"):
            return None
        self.push()  # the grammar's empty ``null``
        node, _ = self.expression(UNDEFINED_QUALIFIERS)
        self.reduced(0)
        self.take("EOF")
        return node

    def expression(self, inherited: Qualifiers) -> tuple[Node, Qualifiers]:
        base = self.depth
        first, qualifiers = self.term(inherited)
        rest: list[tuple[str, Node]] = []
        while self.at("AND", "OR"):
            operator = "and" if self.take("AND", "OR").kind == "AND" else "or"
            node, qualifiers = self.term_or_id(qualifiers)
            self.reduced(base)
            rest.append((operator, node))
        return (Chain(first, tuple(rest)) if rest else first), qualifiers

    def term_or_id(self, inherited: Qualifiers) -> tuple[Node, Qualifiers]:
        def as_id() -> tuple[Node, Qualifiers]:
            return self.bare_id(inherited), inherited

        return cast("tuple[Node, Qualifiers]", self.attempt(lambda: self.term(inherited), as_id))

    def term(self, inherited: Qualifiers) -> tuple[Node, Qualifiers]:
        base = self.depth
        if self.at("!"):
            self.take("!")
            node, qualifiers = self.term(inherited)
            self.reduced(base)
            return Not(node), qualifiers
        return self.rterm(inherited)

    def rterm(self, inherited: Qualifiers) -> tuple[Node, Qualifiers]:
        base = self.depth
        result = self.rterm_parts(inherited)
        self.reduced(base)
        return result

    def rterm_parts(self, inherited: Qualifiers) -> tuple[Node, Qualifiers]:
        kind = self.current.kind
        if kind == "(":
            return cast(
                "tuple[Node, Qualifiers]",
                self.attempt(self.relation_term, lambda: self.parenthesised(inherited)),
            )
        if kind in PROTOCOL_QUALIFIERS:
            return self.after_protocol(kind)
        if kind in ("SRC", "DST", "PROTO", "PROTOCHAIN", "GATEWAY") or kind in _SIMPLE_DIRECTIONS:
            self.push()  # the empty ``pqual``
            return self.qualified_id("DEFAULT")
        if kind in _ADDRESS_QUALIFIERS:
            self.push()
            return self.qualified_id("DEFAULT")
        if kind in ("NUM", "-", "LEN"):
            return self.relation_term()
        if kind in _UNSUPPORTED_START:
            raise UnsupportedSyntaxError(
                f"not supported by pcapy's filter compiler: {self.current.text!r} "
                "(compile with libpcap for this)"
            )
        return self.other(), UNDEFINED_QUALIFIERS

    def parenthesised(self, inherited: Qualifiers) -> tuple[Node, Qualifiers]:
        self.take("(")
        node, _ = self.expression(inherited)
        self.take(")")
        return node, inherited

    def relation_term(self) -> tuple[Node, Qualifiers]:
        left = self.arith()
        relation = self.take(*_RELATIONS)
        right = self.arith()
        op, is_reversed = _RELATIONS[relation.kind]
        return Relation(op, is_reversed, left, right), UNDEFINED_QUALIFIERS

    def after_protocol(self, proto: str) -> tuple[Node, Qualifiers]:
        following = self.peek().kind
        if following == "[":
            return self.relation_term()
        if following in ("TK_BROADCAST", "TK_MULTICAST"):
            self.take(proto)
            return self.other(proto), UNDEFINED_QUALIFIERS
        if following in ("TYPE", "SUBTYPE", "DIR"):
            raise UnsupportedSyntaxError(
                "not supported by pcapy's filter compiler: 802.11 "
                f"{self.peek().text!r} (compile with libpcap for this)"
            )
        if following in ("SRC", "DST", "PROTO", "PROTOCHAIN", "GATEWAY") or following in (
            _SIMPLE_DIRECTIONS | _ADDRESS_QUALIFIERS
        ):
            self.take(proto)
            return self.qualified_id(proto)
        self.take(proto)
        return ProtoAbbrev(proto), UNDEFINED_QUALIFIERS

    # --- qualifiers and ids -------------------------------------------------------------------

    def qualified_id(self, proto: str) -> tuple[Node, Qualifiers]:
        """``head id``, the head's ``pqual`` (a protocol, or empty) already on the stack."""
        base = self.depth - 1
        qualifiers = self.head(proto)
        self.reduced(base)
        return self.bare_id(qualifiers), qualifiers

    def head(self, proto: str) -> Qualifiers:
        if self.at("PROTO", "PROTOCHAIN", "GATEWAY"):
            return Qualifiers(proto, "DEFAULT", self.take("PROTO", "PROTOCHAIN", "GATEWAY").kind)
        direction = self.direction()
        address = self.take(*_ADDRESS_QUALIFIERS).kind if self.at(*_ADDRESS_QUALIFIERS) else None
        if direction is None and address is None:
            raise _BacktrackError
        return Qualifiers(proto, direction or "DEFAULT", address or "DEFAULT")

    def direction(self) -> Optional[str]:
        if self.at(*_SIMPLE_DIRECTIONS):
            return self.take(*_SIMPLE_DIRECTIONS).kind
        if not self.at("SRC", "DST"):
            return None
        first = self.take("SRC", "DST").kind
        if not self.at("AND", "OR"):
            return first
        combination = self.take("AND", "OR").kind
        self.take("DST" if first == "SRC" else "SRC")
        self.depth -= 2  # reduced to one ``dqual``
        return combination

    def bare_id(self, qualifiers: Qualifiers) -> Node:
        """The grammar's ``id``: a plain id, a number, or a parenthesised list of ids."""
        base = self.depth
        node = self.bare_id_parts(qualifiers)
        self.reduced(base)
        return node

    def bare_id_parts(self, qualifiers: Qualifiers) -> Node:
        if self.at("("):
            return cast(
                "Node",
                self.attempt(
                    lambda: Address(qualifiers, "NUM", "", self.pnum()),
                    lambda: self.parenthesised_ids(qualifiers),
                ),
            )
        if self.at("NUM"):
            return Address(qualifiers, "NUM", "", self.take("NUM").value)
        return self.nid(qualifiers)

    def parenthesised_ids(self, qualifiers: Qualifiers) -> Node:
        self.take("(")
        base = self.depth
        if self.at("NUM", "("):
            first: Node = Address(qualifiers, "NUM", "", self.pnum())
            if not self.at("AND", "OR"):
                raise _BacktrackError
        else:
            first = self.nid(qualifiers)
            self.reduced(base)
        rest: list[tuple[str, Node]] = []
        while self.at("AND", "OR"):
            operator = "and" if self.take("AND", "OR").kind == "AND" else "or"
            rest.append((operator, self.bare_id(qualifiers)))
            self.reduced(base)
        self.take(")")
        return Chain(first, tuple(rest)) if rest else first

    def nid(self, qualifiers: Qualifiers) -> Node:
        token = self.current
        if token.kind == "!":
            self.take("!")
            return Not(self.bare_id(qualifiers))
        if token.kind in ("ID", "EID", "AID"):
            self.take(token.kind)
            return Address(qualifiers, token.kind, token.text)
        if token.kind in ("HID", "HID6"):
            return self.host_address(qualifiers)
        raise _BacktrackError

    def host_address(self, qualifiers: Qualifiers) -> Node:
        token = self.take("HID", "HID6")
        if self.at("/"):
            self.take("/")
            length = self.take("NUM").value
            return Address(qualifiers, token.kind + "_LEN", token.text, length)
        if token.kind == "HID" and self.at("NETMASK"):
            self.take("NETMASK")
            mask = self.take("HID")
            return Address(qualifiers, "HID_MASK", token.text, 0, mask.text)
        return Address(qualifiers, token.kind, token.text)

    def pnum(self) -> int:
        base = self.depth
        if self.at("("):
            self.take("(")
            value = self.pnum()
            self.take(")")
            self.reduced(base)
            return value
        return self.take("NUM").value

    # --- other primitives ---------------------------------------------------------------------

    def other(self, proto: str = "DEFAULT") -> Node:
        kind = self.current.kind
        if kind in ("TK_BROADCAST", "TK_MULTICAST"):
            if proto == "DEFAULT":
                self.push()  # the empty ``pqual``
            self.take(kind)
            return Keyword("BROADCAST" if kind == "TK_BROADCAST" else "MULTICAST", proto=proto)
        if kind in ("LESS", "GREATER", "IFINDEX"):
            self.take(kind)
            return Keyword(kind, self.take("NUM").value)
        if kind == "CBYTE":
            self.take(kind)
            index = self.take("NUM").value
            operator = self.take("&", "|", "<", ">", "=").kind
            return Keyword("BYTE", index, byte_op=operator, byte_value=self.take("NUM").value)
        if kind in ("INBOUND", "OUTBOUND", "PPPOED"):
            self.take(kind)
            return Keyword(kind)
        if kind in _OPTIONAL_NUMBER_KEYWORDS:
            self.take(kind)
            number = cast("Optional[int]", self.attempt(self.pnum, lambda: None))
            return Keyword(kind, number)
        raise _BacktrackError

    # --- arithmetic ---------------------------------------------------------------------------

    def arith(self) -> Arith:
        """An arithmetic expression, grouped as bison groups it with the grammar's precedences."""
        start = (self.position, self.depth)
        if start in self.arith_failures:
            raise _BacktrackError
        try:
            return self.arith_parts()
        except _BacktrackError:
            self.arith_failures.add(start)
            raise

    def arith_parts(self) -> Arith:
        base = self.depth  # bison's stack holds each operand and operator pending here
        operands: list[Arith] = []
        operators: list[str] = []  # binary operator kinds, or "NEG"
        while True:
            while self.at("-"):
                self.take("-")
                operators.append("NEG")
            operands.append(self.arith_operand())
            kind = self.current.kind
            if kind not in _ARITH_PRECEDENCE:
                break
            while operators and _reduces_before(operators[-1], kind):
                _reduce(operands, operators)
            self.depth = base + len(operands) + len(operators)
            operators.append(self.take(kind).kind)
        while operators:
            _reduce(operands, operators)
        self.reduced(base)
        return operands[0]

    def arith_operand(self) -> Arith:
        base = self.depth
        operand = self.arith_operand_parts()
        self.reduced(base)
        return operand

    def arith_operand_parts(self) -> Arith:
        token = self.current
        if token.kind == "NUM":
            self.take("NUM")
            return Constant(token.value)
        if token.kind == "LEN":
            self.take("LEN")
            return PacketLength()
        if token.kind == "(":
            self.take("(")
            inner = self.arith()
            self.take(")")
            return inner
        if token.kind in PROTOCOL_QUALIFIERS:
            self.take(token.kind)
            self.take("[")
            index = self.arith()
            size = 1
            if self.at(":"):
                self.take(":")
                size = self.take("NUM").value
            self.take("]")
            return Load(token.kind, index, size)
        raise _BacktrackError


def _precedence(operator: str) -> Optional[int]:
    return _UNARY_MINUS_PRECEDENCE if operator == "NEG" else _ARITH_PRECEDENCE[operator]


def _reduces_before(stacked: str, incoming: str) -> bool:
    """Whether bison reduces the stacked operator before shifting the incoming one."""
    stacked_precedence, incoming_precedence = _precedence(stacked), _precedence(incoming)
    if stacked_precedence is None or incoming_precedence is None:
        return False
    return stacked_precedence >= incoming_precedence


def _reduce(operands: list[Arith], operators: list[str]) -> None:
    operator = operators.pop()
    if operator == "NEG":
        operands.append(Negate(operands.pop()))
        return
    right = operands.pop()
    left = operands.pop()
    operands.append(BinaryOp(_ARITH_SPELLING.get(operator, operator), left, right))


def parse(expression: str) -> Optional[Node]:
    """The expression's tree (None for an empty expression); BPFError if it does not parse."""
    parser = _Parser(tokenize(expression))
    try:
        return parser.program()
    except _BacktrackError:
        if parser.exhausted:
            raise BPFError(STACK_EXHAUSTED) from None
        token = parser.tokens[max(parser.furthest, parser.position)]
        where = f"near {token.text!r}" if token.kind != "EOF" else "at the end"
        raise BPFError(f"syntax error in filter expression ({where})") from None
