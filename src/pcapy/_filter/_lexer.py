"""The filter language's tokens, cut as libpcap's scanner cuts them.

libpcap's scanner (flex) takes, at each position, the longest text any rule matches, and among
rules matching the same length the one listed first. This module does the same with the same
rules: keywords, named constants, numbers (decimal, octal, ``0x`` hex), dotted IPv4 prefixes,
IPv6 addresses, MAC addresses, ``$``-ARCnet addresses, identifiers, ``\\``-escaped identifiers
and the operators. Numbers are converted with libpcap's overflow and octal-digit rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .._errors import BPFError

# Keyword spellings -> token kind (scanner.l's first block).
KEYWORDS: dict[str, str] = {
    "dst": "DST", "src": "SRC",
    "link": "LINK", "ether": "LINK", "ppp": "LINK", "slip": "LINK",
    "fddi": "LINK", "tr": "LINK", "wlan": "LINK",
    "arp": "ARP", "rarp": "RARP", "ip": "IP", "sctp": "SCTP", "tcp": "TCP", "udp": "UDP",
    "icmp": "ICMP", "igmp": "IGMP", "igrp": "IGRP", "pim": "PIM", "vrrp": "VRRP",
    "carp": "CARP", "radio": "RADIO", "ip6": "IPV6", "icmp6": "ICMPV6", "ah": "AH", "esp": "ESP",
    "atalk": "ATALK", "aarp": "AARP", "decnet": "DECNET", "lat": "LAT", "sca": "SCA",
    "moprc": "MOPRC", "mopdl": "MOPDL", "iso": "ISO", "esis": "ESIS", "es-is": "ESIS",
    "isis": "ISIS", "is-is": "ISIS", "l1": "L1", "l2": "L2", "iih": "IIH", "lsp": "LSP",
    "snp": "SNP", "csnp": "CSNP", "psnp": "PSNP", "clnp": "CLNP", "stp": "STP", "ipx": "IPX",
    "netbeui": "NETBEUI",
    "host": "HOST", "net": "NET", "mask": "NETMASK", "port": "PORT", "portrange": "PORTRANGE",
    "proto": "PROTO", "protochain": "PROTOCHAIN", "gateway": "GATEWAY",
    "type": "TYPE", "subtype": "SUBTYPE", "direction": "DIR", "dir": "DIR",
    "address1": "ADDR1", "addr1": "ADDR1", "address2": "ADDR2", "addr2": "ADDR2",
    "address3": "ADDR3", "addr3": "ADDR3", "address4": "ADDR4", "addr4": "ADDR4",
    "ra": "RA", "ta": "TA",
    "less": "LESS", "greater": "GREATER", "byte": "CBYTE",
    "broadcast": "TK_BROADCAST", "multicast": "TK_MULTICAST",
    "and": "AND", "or": "OR", "not": "!",
    "len": "LEN", "length": "LEN", "inbound": "INBOUND", "outbound": "OUTBOUND",
    "ifindex": "IFINDEX",
    "vlan": "VLAN", "mpls": "MPLS", "pppoed": "PPPOED", "pppoes": "PPPOES", "geneve": "GENEVE",
    "vxlan": "VXLAN",
    "lane": "LANE", "llc": "LLC", "metac": "METAC", "bcc": "BCC", "oam": "OAM",
    "oamf4": "OAMF4", "oamf4ec": "OAMF4EC", "oamf4sc": "OAMF4SC", "sc": "SC", "ilmic": "ILMIC",
    "vpi": "VPI", "vci": "VCI", "connectmsg": "CONNECTMSG", "metaconnect": "METACONNECT",
    "on": "PF_IFNAME", "ifname": "PF_IFNAME", "rset": "PF_RSET", "ruleset": "PF_RSET",
    "rnr": "PF_RNR", "rulenum": "PF_RNR", "srnr": "PF_SRNR", "subrulenum": "PF_SRNR",
    "reason": "PF_REASON", "action": "PF_ACTION",
    "fisu": "FISU", "lssu": "LSSU", "lsu": "LSSU", "msu": "MSU", "hfisu": "HFISU",
    "hlssu": "HLSSU", "hmsu": "HMSU", "sio": "SIO", "opc": "OPC", "dpc": "DPC", "sls": "SLS",
    "hsio": "HSIO", "hopc": "HOPC", "hdpc": "HDPC", "hsls": "HSLS",
}  # fmt: skip

# Named constants: the scanner returns them as numbers.
NAMED_CONSTANTS: dict[str, int] = {
    "icmptype": 0, "icmpcode": 1,
    "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
    "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
    "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
    "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
    "icmp6type": 0, "icmp6code": 1,
    "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
    "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
    "icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
    "icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
    "icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136,
    "icmp6-redirect": 137, "icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
    "icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
    "icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
    "icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
    "icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
    "icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
    "icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
    "icmp6-multicastrouterterm": 153,
    "tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
    "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}  # fmt: skip

_TWO_CHAR_OPERATORS = {">=": "GEQ", "<=": "LEQ", "!=": "NEQ", "==": "=", "<<": "LSH",
                       ">>": "RSH", "&&": "AND", "||": "OR"}  # fmt: skip
_ONE_CHAR_OPERATORS = frozenset("+-*/%:[]!<>()&|^=")

_N = r"(?:0[xX][0-9A-Fa-f]+|[0-9]+)"  # hex first: Python's alternation is not longest-match
_B = r"[0-9A-Fa-f][0-9A-Fa-f]?"
_B2 = r"[0-9A-Fa-f]{4}"
_W = r"[0-9A-Fa-f]{1,4}"
_V4_TAIL = rf"{_N}\.{_N}\.{_N}\.{_N}"


def _v6_alternatives() -> list[str]:
    """The scanner's IPv6 spellings: 8 groups, 6 + an IPv4 tail, or fewer around one ``::``."""
    alternatives = [":".join([_W] * 8), ":".join([_W] * 6) + ":" + _V4_TAIL]
    for groups, tail in ((7, ""), (5, _V4_TAIL)):
        for total in range(groups + 1):
            for left in range(total + 1):
                right = total - left
                left_text = ":".join([_W] * left)
                right_parts = [_W] * right + ([tail] if tail else [])
                alternatives.append(left_text + "::" + ":".join(right_parts))
    return alternatives


_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("AID", re.compile(rf"\$(?:{_B})")),
    ("EID", re.compile(
        rf"(?:{_B}:{_B}:{_B}:{_B}:{_B}:{_B}|{_B}-{_B}-{_B}-{_B}-{_B}-{_B}"
        rf"|{_B}\.{_B}\.{_B}\.{_B}\.{_B}\.{_B}|{_B2}\.{_B2}\.{_B2}|(?:{_B2}){{3}})")),
    ("NUM", re.compile(_N)),
    ("HID", re.compile(rf"{_N}\.{_N}(?:\.{_N})?(?:\.{_N})?")),
    ("HID6", re.compile("(?:" + "|".join(_v6_alternatives()) + ")")),
    ("BOGUS_EID", re.compile(rf"{_B}:+(?:{_B}:+)+")),
    ("ID", re.compile(r"[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?")),
    ("ESCAPED_ID", re.compile(r"\\[^ !()\n\t]+")),
)  # fmt: skip
_RULES_NEEDING_FULL_SEARCH = frozenset({"EID", "HID", "HID6", "BOGUS_EID"})
_WORD_START = re.compile(r"[0-9A-Za-z$:\\]")
_WHITESPACE = " \r\n\t"


@dataclass(frozen=True)
class Token:
    """One token: its kind (a keyword's name, ``NUM``, ``ID``, an operator...) and its text."""

    kind: str
    text: str
    value: int = 0
    position: int = 0
    length: int = 0  # characters taken from the expression (an escaped ID drops its backslash)


def _longest_match(pattern: re.Pattern[str], text: str, start: int, full_search: bool) -> int:
    """Length of the longest prefix of text[start:] the pattern matches entirely (0: none)."""
    match = pattern.match(text, start)
    if match is None:
        return 0
    if not full_search:
        return match.end() - start
    end = start
    limit = start
    while limit < len(text) and text[limit] not in _WHITESPACE and text[limit] not in "()":
        limit += 1
    for candidate in range(limit, start, -1):
        if pattern.fullmatch(text, start, candidate):
            end = candidate
            break
    return end - start


def parse_number(text: str) -> int:
    """A NUM token's value with libpcap's rules (octal with a leading 0, 32-bit overflow)."""
    if text[:2] in ("0x", "0X"):
        value = int(text[2:], 16)
    elif text.startswith("0") and len(text) > 1:
        if any(digit in "89" for digit in text):
            raise BPFError(f"number {text} contains non-octal digit")
        value = int(text, 8)
    else:
        value = int(text)
    if value > 0xFFFFFFFF:
        raise BPFError(f"number {text} overflows 32 bits")
    return value


def _operator_at(text: str, position: int) -> Optional[Token]:
    pair = text[position : position + 2]
    if pair in _TWO_CHAR_OPERATORS:
        return Token(_TWO_CHAR_OPERATORS[pair], pair, 0, position, 2)
    if text[position] in _ONE_CHAR_OPERATORS:
        return Token(text[position], text[position], 0, position, 1)
    return None


def _word_at(text: str, position: int) -> Optional[tuple[str, int]]:
    """The rule (first listed among the longest) matching at position, and its length."""
    best_rule, best_length = "", 0
    for rule, pattern in _RULES:
        length = _longest_match(pattern, text, position, rule in _RULES_NEEDING_FULL_SEARCH)
        if length > best_length:
            best_rule, best_length = rule, length
    if best_length == 0:
        return None
    return best_rule, best_length


def _word_token(rule: str, word: str, position: int) -> Token:
    length = len(word)
    if rule == "ID":
        if word in KEYWORDS:
            return Token(KEYWORDS[word], word, 0, position, length)
        if word in NAMED_CONSTANTS:
            return Token("NUM", word, NAMED_CONSTANTS[word], position, length)
        return Token("ID", word, 0, position, length)
    if rule == "ESCAPED_ID":
        return Token("ID", word[1:], 0, position, length)
    if rule == "NUM":
        return Token("NUM", word, parse_number(word), position, length)
    if rule == "BOGUS_EID":
        raise BPFError(f"bogus ethernet address {word}")
    return Token(rule, word, 0, position, length)


_PLAIN_WORD = re.compile(r"[A-Za-z][-_.A-Za-z0-9]*(?=$|[ \r\n\t()])")


def _keyword_at(text: str, position: int) -> Optional[Token]:
    """Fast path: a keyword standing alone, which no other rule can match longer."""
    match = _PLAIN_WORD.match(text, position)
    if match is None or match.group() not in KEYWORDS:
        return None
    word = match.group()
    return Token(KEYWORDS[word], word, 0, position, len(word))


_PLAIN_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+){1,3}(?=$|[ \r\n\t()])")
_MAC_LIKE_DOTTED = re.compile(r"[0-9]{4}\.[0-9]{4}\.[0-9]{4}")


def _dotted_at(text: str, position: int) -> Optional[Token]:
    """Fast path: a decimal dotted address standing alone (not ``xxxx.xxxx.xxxx``, a MAC)."""
    match = _PLAIN_DOTTED.match(text, position)
    if match is None or _MAC_LIKE_DOTTED.fullmatch(match.group()):
        return None
    return Token("HID", match.group(), 0, position, len(match.group()))


def _next_token(text: str, position: int) -> Token:
    keyword = _keyword_at(text, position) or _dotted_at(text, position)
    if keyword is not None:
        return keyword
    word = _word_at(text, position) if _WORD_START.match(text, position) else None
    operator = _operator_at(text, position)
    if word is not None and (operator is None or word[1] > operator.length):
        rule, length = word
        return _word_token(rule, text[position : position + length], position)
    if operator is not None:
        return operator
    raise BPFError(f"syntax error in filter expression: unexpected {text[position]!r}")


def tokenize(text: str) -> list[Token]:
    """The expression's tokens, ending with an ``EOF`` token; BPFError on a lexical error."""
    tokens: list[Token] = []
    position = 0
    while True:
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        if position >= len(text):
            tokens.append(Token("EOF", "", 0, position, 0))
            return tokens
        token = _next_token(text, position)
        tokens.append(token)
        position += token.length
