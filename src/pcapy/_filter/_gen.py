"""Code generation: the parsed filter -> blocks of classic BPF, with libpcap's semantics.

libpcap's ``gencode.c`` (read for semantics, not copied) is the reference. What a filter accepts
depends not only on what it tests but on the order of its loads, because a load past the end of
a truncated packet rejects it; so every primitive here tests the same bytes in the same order as
libpcap's code for it, and the generator keeps the same mutable state libpcap does:

* the offsets of the link-layer header, its type field and its payload, which ``vlan``,
  ``mpls``, ``pppoes``, ``geneve`` and ``vxlan`` move for everything generated after them (and
  which become register-held, variable offsets after ``geneve``/``vxlan``);
* the scratch-memory registers, allocated round-robin as libpcap does, so an expression that
  needs more than 16 fails here as it fails there.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import sys
from dataclasses import dataclass, replace
from typing import Callable, Optional

from .._errors import BPFError
from . import _ast as ast
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
    JSET,
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
    SIZE_CODES,
    ST,
    STX,
    SUB,
    TAX,
    TXA,
    XOR,
    B,
    Fragment,
    H,
    K,
    Stmt,
    W,
    X,
    branch_on,
    conjoin,
    disjoin,
    negate,
)

# --- link types and protocol numbers ------------------------------------------------------------

DLT_NULL, DLT_EN10MB, DLT_PPP, DLT_RAW, DLT_LOOP = 0, 1, 9, 12, 108
DLT_LINUX_SLL, DLT_IPV4, DLT_IPV6, DLT_LINUX_SLL2 = 113, 228, 229, 276
SUPPORTED_LINKTYPES = {
    DLT_NULL: "NULL", DLT_EN10MB: "EN10MB", DLT_RAW: "RAW", DLT_LOOP: "LOOP",
    DLT_LINUX_SLL: "LINUX_SLL", DLT_IPV4: "IPV4", DLT_IPV6: "IPV6", DLT_LINUX_SLL2: "LINUX_SLL2",
}  # fmt: skip

ETHERTYPE_IP, ETHERTYPE_ARP, ETHERTYPE_REVARP, ETHERTYPE_IPV6 = 0x0800, 0x0806, 0x8035, 0x86DD
ETHERTYPE_8021Q, ETHERTYPE_8021AD, ETHERTYPE_8021QINQ = 0x8100, 0x88A8, 0x9100
ETHERTYPE_MPLS, ETHERTYPE_PPPOED, ETHERTYPE_PPPOES, ETHERTYPE_TEB = 0x8847, 0x8863, 0x8864, 0x6558
ETHERTYPE_ATALK, ETHERTYPE_AARP, ETHERTYPE_IPX, ETHERTYPE_DN = 0x809B, 0x80F3, 0x8137, 0x6003
ETHERTYPE_NS, ETHERTYPE_LAT, ETHERTYPE_SCA = 0x0600, 0x6004, 0x6007
ETHERTYPE_MOPDL, ETHERTYPE_MOPRC = 0x6001, 0x6002
ETHERMTU = 1500
LLCSAP_IP, LLCSAP_ISONS, LLCSAP_NETBEUI, LLCSAP_IPX, LLCSAP_SNAP, LLCSAP_8021D = (
    0x06, 0xFE, 0xF0, 0xE0, 0xAA, 0x42,
)  # fmt: skip
LINUX_SLL_P_802_3, LINUX_SLL_P_802_2, LINUX_SLL_OUTGOING = 0x0001, 0x0004, 4
PPP_TYPES = {ETHERTYPE_IP: 0x21, ETHERTYPE_IPV6: 0x57, ETHERTYPE_DN: 0x27,
             ETHERTYPE_ATALK: 0x29, ETHERTYPE_NS: 0x25, LLCSAP_ISONS: 0x23, LLCSAP_8021D: 0x31,
             LLCSAP_IPX: 0x2B}  # fmt: skip
IPPROTO_ICMP, IPPROTO_IGMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IGRP = 1, 2, 6, 17, 9
IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_ESP, IPPROTO_AH = 0, 43, 44, 50, 51
IPPROTO_ICMPV6, IPPROTO_NONE, IPPROTO_DSTOPTS, IPPROTO_PIM, IPPROTO_VRRP = 58, 59, 60, 103, 112
IPPROTO_SCTP = 132
PROTO_UNDEF = -1
AF_INET = 2
AF_INET6_LINUX = 10
BSD_AFNUM_INET6 = (24, 28, 30)  # NetBSD/OpenBSD/BSD/OS/Npcap, FreeBSD, Darwin
SKF_AD_PKTTYPE_OFFSET = 0xFFFFF000 + 4
PACKET_OUTGOING = 4
GENEVE_PORT, VXLAN_PORT = 6081, 4789
OFFSET_NOT_SET = 0xFFFFFFFF
MEMWORDS = 16

_PROTO_ABBREV_LINKTYPES = {
    "IP": ETHERTYPE_IP, "ARP": ETHERTYPE_ARP, "RARP": ETHERTYPE_REVARP, "ATALK": ETHERTYPE_ATALK,
    "AARP": ETHERTYPE_AARP, "DECNET": ETHERTYPE_DN, "SCA": ETHERTYPE_SCA, "LAT": ETHERTYPE_LAT,
    "MOPDL": ETHERTYPE_MOPDL, "MOPRC": ETHERTYPE_MOPRC, "IPV6": ETHERTYPE_IPV6,
}  # fmt: skip
# proto keyword -> (IP protocol number, the qualifier gen_proto is called with)
_PROTO_ABBREV_IP_PROTOCOLS = {
    "SCTP": (IPPROTO_SCTP, "DEFAULT"), "TCP": (IPPROTO_TCP, "DEFAULT"),
    "UDP": (IPPROTO_UDP, "DEFAULT"), "ICMP": (IPPROTO_ICMP, "IP"), "IGMP": (IPPROTO_IGMP, "IP"),
    "IGRP": (IPPROTO_IGRP, "IP"), "PIM": (IPPROTO_PIM, "DEFAULT"), "VRRP": (IPPROTO_VRRP, "IP"),
    "CARP": (IPPROTO_VRRP, "IP"), "ICMPV6": (IPPROTO_ICMPV6, "IPV6"),
    "AH": (IPPROTO_AH, "DEFAULT"), "ESP": (IPPROTO_ESP, "DEFAULT"),
}  # fmt: skip
_TRANSPORT_LOADS = {"SCTP", "TCP", "UDP", "ICMP", "IGMP", "IGRP", "PIM", "VRRP", "CARP"}
_NETWORK_LOADS = {"IP", "ARP", "RARP", "ATALK", "DECNET", "SCA", "LAT", "MOPRC", "MOPDL", "IPV6"}
_ARITH_CODES = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "%": MOD, "&": AND, "|": OR, "^": XOR,
                "<<": LSH, ">>": RSH}  # fmt: skip
_RELATION_CODES = {"JEQ": JEQ, "JGT": JGT, "JGE": JGE}
_DIRECTION_NAMES = {"ADDR1": "'addr1' and 'address1' are", "ADDR2": "'addr2' and 'address2' are",
                    "ADDR3": "'addr3' and 'address3' are", "ADDR4": "'addr4' and 'address4' are",
                    "RA": "'ra' is", "TA": "'ta' is"}  # fmt: skip
_PROTO_SPELLING = {"IPV6": "ip6", "ICMPV6": "icmp6", "LINK": "link"}


def unsupported(what: str) -> BPFError:
    return BPFError(f"not supported by pcapy's filter compiler: {what} (libpcap compiles it)")


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


def _spelling(proto: str) -> str:
    return _PROTO_SPELLING.get(proto, proto.lower())


@dataclass
class Offset:
    """An absolute offset into the packet: a constant, plus a register's value if variable."""

    constant: int
    variable: bool = False
    register: int = -1


@dataclass
class _Arith:
    """An arithmetic value being built: its statements leave it in scratch register ``register``;
    ``checks`` is the protocol test that must hold before its loads run."""

    stmts: list[Stmt]
    register: int
    checks: Optional[Fragment] = None


class CodeGenerator:
    """Generates the code of one filter for one link type (libpcap's compiler state)."""

    def __init__(
        self, linktype: int, snaplen: int, netmask: int, savefile_swapped: Optional[bool]
    ) -> None:
        if linktype not in SUPPORTED_LINKTYPES:
            raise unsupported(f"link type {linktype}")
        self.snaplen = snaplen
        self.netmask = netmask
        self.reading_savefile = savefile_swapped is not None
        self.savefile_swapped = bool(savefile_swapped)
        self.outermost_linktype = self.linktype = self.prev_linktype = linktype
        self.no_optimize = False
        self.registers_used = [False] * MEMWORDS
        self.current_register = 0
        self.label_stack_depth = 0
        self.vlan_stack_depth = 0
        self.is_encapsulated = False  # after geneve/vxlan: an inner Ethernet header may follow
        self.off_linkhdr = Offset(0)
        self.off_prevlinkhdr = Offset(0)
        self.off_linktype, self.off_linkpl = self._initial_offsets(linktype)
        self.off_nl = 0
        self.off_nl_nosnap = 3 if linktype == DLT_EN10MB else 0

    @staticmethod
    def _initial_offsets(linktype: int) -> tuple[Offset, Offset]:
        if linktype == DLT_EN10MB:
            return Offset(12), Offset(14)
        if linktype in (DLT_NULL, DLT_LOOP):
            return Offset(0), Offset(4)
        if linktype in (DLT_RAW, DLT_IPV4, DLT_IPV6):
            return Offset(OFFSET_NOT_SET), Offset(0)
        if linktype == DLT_LINUX_SLL:
            return Offset(14), Offset(16)
        return Offset(0), Offset(20)  # DLT_LINUX_SLL2

    # --- registers ----------------------------------------------------------------------------

    def alloc_register(self) -> int:
        for _ in range(MEMWORDS):
            if not self.registers_used[self.current_register]:
                self.registers_used[self.current_register] = True
                return self.current_register
            self.current_register = (self.current_register + 1) % MEMWORDS
        raise BPFError("too many registers needed to evaluate expression")

    def free_register(self, register: int) -> None:
        self.registers_used[register] = False

    # --- loads and comparisons ----------------------------------------------------------------

    def variable_part(self, offset: Offset) -> Optional[list[Stmt]]:
        """``ldx M[reg]`` for a register-held offset (allocating the register first time)."""
        if not offset.variable:
            return None
        if offset.register == -1:
            offset.register = self.alloc_register()
        return [Stmt(LDX | MEM, offset.register)]

    def load_relative(self, offset: Offset, extra: int, size: int) -> list[Stmt]:
        stmts = self.variable_part(offset)
        if stmts is not None:
            return [*stmts, Stmt(LD | IND | size, offset.constant + extra)]
        return [Stmt(LD | ABS | size, offset.constant + extra)]

    def load_x_ip_header_length(self) -> list[Stmt]:
        stmts = self.variable_part(self.off_linkpl)
        base = self.off_linkpl.constant + self.off_nl
        if stmts is None:
            return [Stmt(LDX | MSH | B, base)]
        return [*stmts, Stmt(LD | IND | B, base), Stmt(ALU | AND | K, 0xF),
                Stmt(ALU | LSH | K, 2), Stmt(ALU | ADD | X), Stmt(MISC | TAX)]  # fmt: skip

    def load(self, relative_to: str, offset: int, size: int) -> list[Stmt]:  # noqa: PLR0911
        """Load ``size`` bytes at ``offset`` from a header (gencode's ``gen_load_a``)."""
        if relative_to == "packet":
            return [Stmt(LD | ABS | size, offset)]
        if relative_to == "linkhdr":
            return self.load_relative(self.off_linkhdr, offset, size)
        if relative_to == "prevlinkhdr":
            return self.load_relative(self.off_prevlinkhdr, offset, size)
        if relative_to == "llc":
            return self.load_relative(self.off_linkpl, offset, size)
        if relative_to == "prevmplshdr":
            return self.load_relative(self.off_linkpl, self.off_nl - 4 + offset, size)
        if relative_to == "linkpl":
            return self.load_relative(self.off_linkpl, self.off_nl + offset, size)
        if relative_to == "linkpl_nosnap":
            return self.load_relative(self.off_linkpl, self.off_nl_nosnap + offset, size)
        if relative_to == "linktype":
            return self.load_relative(self.off_linktype, offset, size)
        if relative_to == "tran_ipv4":
            base = self.off_linkpl.constant + self.off_nl + offset
            return [*self.load_x_ip_header_length(), Stmt(LD | IND | size, base)]
        assert relative_to == "tran_ipv6"
        return self.load_relative(self.off_linkpl, self.off_nl + 40 + offset, size)

    def compare(
        self,
        relative_to: str,
        offset: int,
        size: int,
        value: int,
        mask: int = 0xFFFFFFFF,
        jump: int = JEQ,
        reverse: bool = False,
    ) -> Fragment:
        """gencode's ``gen_ncmp``: load, mask, compare with a constant."""
        stmts = self.load(relative_to, offset, size)
        if _u32(mask) != 0xFFFFFFFF:
            stmts.append(Stmt(ALU | AND | K, _u32(mask)))
        fragment = branch_on(stmts, JMP | jump | K, _u32(value))
        if reverse and jump in (JGT, JGE):
            return negate(fragment)
        return fragment

    def compare_bytes(self, relative_to: str, offset: int, data: bytes) -> Fragment:
        """gencode's ``gen_bcmp``: words from the end, then a half-word, then a byte."""
        fragment: Optional[Fragment] = None
        size = len(data)
        while size >= 4:
            word = int.from_bytes(data[size - 4 : size], "big")
            part = self.compare(relative_to, offset + size - 4, W, word)
            fragment = part if fragment is None else conjoin(fragment, part)
            size -= 4
        while size >= 2:
            half = int.from_bytes(data[size - 2 : size], "big")
            part = self.compare(relative_to, offset + size - 2, H, half)
            fragment = part if fragment is None else conjoin(fragment, part)
            size -= 2
        if size > 0:
            part = self.compare(relative_to, offset, B, data[0])
            fragment = part if fragment is None else conjoin(fragment, part)
        assert fragment is not None
        return fragment

    @staticmethod
    def constant_test(value: bool) -> Fragment:
        """gencode's ``gen_true``/``gen_false``: ``ld #v; jeq #1``."""
        return branch_on([Stmt(LD | IMM, int(value))], JMP | JEQ | K, 1)

    # --- link-layer type tests ----------------------------------------------------------------

    def linktype_test(self, ll_proto: int) -> Fragment:  # noqa: PLR0911 - one case a link type
        """Is the packet's link-layer payload of this type (gencode's ``gen_linktype``)."""
        if self.label_stack_depth > 0:
            return self.mpls_linktype_test(ll_proto)
        linktype = self.linktype
        if linktype == DLT_EN10MB:
            return self.ether_linktype_test(ll_proto)
        if linktype == DLT_LINUX_SLL:
            return self.sll_linktype_test(ll_proto)
        if linktype == DLT_RAW:
            version = {ETHERTYPE_IP: 0x40, ETHERTYPE_IPV6: 0x60}.get(ll_proto)
            if version is None:
                return self.constant_test(False)
            return self.compare("linkhdr", 0, B, version, 0xF0)
        if linktype in (DLT_IPV4, DLT_IPV6):
            wanted = ETHERTYPE_IP if linktype == DLT_IPV4 else ETHERTYPE_IPV6
            return self.constant_test(ll_proto == wanted)
        if linktype == DLT_PPP:
            return self.compare("linktype", 0, H, PPP_TYPES.get(ll_proto, ll_proto))
        if linktype in (DLT_NULL, DLT_LOOP):
            return self.loopback_linktype_test(ll_proto)
        if self.off_linktype.constant != OFFSET_NOT_SET:  # DLT_LINUX_SLL2
            return self.compare("linktype", 0, H, ll_proto)
        raise unsupported(f"link-layer type filtering on link type {linktype}")

    def ether_linktype_test(self, ll_proto: int) -> Fragment:
        if ll_proto in (LLCSAP_ISONS, LLCSAP_IP, LLCSAP_NETBEUI):
            is_length = negate(self.compare("linktype", 0, H, ETHERMTU, jump=JGT))
            return conjoin(is_length, self.compare("llc", 0, H, (ll_proto << 8) | ll_proto))
        if ll_proto == LLCSAP_IPX:
            llc_ipx = disjoin(self.compare("llc", 0, B, LLCSAP_IPX),
                              self.compare("llc", 0, H, 0xFFFF))  # fmt: skip
            llc_ipx = disjoin(self.snap_test(0x000000, ETHERTYPE_IPX), llc_ipx)
            is_length = negate(self.compare("linktype", 0, H, ETHERMTU, jump=JGT))
            return disjoin(self.compare("linktype", 0, H, ETHERTYPE_IPX),
                           conjoin(is_length, llc_ipx))  # fmt: skip
        if ll_proto in (ETHERTYPE_ATALK, ETHERTYPE_AARP):
            is_length = negate(self.compare("linktype", 0, H, ETHERMTU, jump=JGT))
            org = 0x080007 if ll_proto == ETHERTYPE_ATALK else 0x000000
            snap = conjoin(is_length, self.snap_test(org, ll_proto))
            return disjoin(self.compare("linktype", 0, H, ll_proto), snap)
        if ll_proto <= ETHERMTU:
            is_length = negate(self.compare("linktype", 0, H, ETHERMTU, jump=JGT))
            return conjoin(is_length, self.compare("linktype", 2, B, ll_proto))
        return self.compare("linktype", 0, H, ll_proto)

    def sll_linktype_test(self, ll_proto: int) -> Fragment:
        if ll_proto in (LLCSAP_ISONS, LLCSAP_IP, LLCSAP_NETBEUI):
            return conjoin(self.compare("linktype", 0, H, LINUX_SLL_P_802_2),
                           self.compare("llc", 0, H, (ll_proto << 8) | ll_proto))  # fmt: skip
        if ll_proto == LLCSAP_IPX:
            llc = disjoin(self.compare("llc", 0, B, LLCSAP_IPX),
                          self.snap_test(0x000000, ETHERTYPE_IPX))  # fmt: skip
            llc = conjoin(self.compare("linktype", 0, H, LINUX_SLL_P_802_2), llc)
            llc = disjoin(self.compare("linktype", 0, H, LINUX_SLL_P_802_3), llc)
            return disjoin(self.compare("linktype", 0, H, ETHERTYPE_IPX), llc)
        if ll_proto in (ETHERTYPE_ATALK, ETHERTYPE_AARP):
            org = 0x080007 if ll_proto == ETHERTYPE_ATALK else 0x000000
            snap = conjoin(self.compare("linktype", 0, H, LINUX_SLL_P_802_2),
                           self.snap_test(org, ll_proto))  # fmt: skip
            return disjoin(self.compare("linktype", 0, H, ll_proto), snap)
        if ll_proto <= ETHERMTU:
            return conjoin(self.compare("linktype", 0, H, LINUX_SLL_P_802_2),
                           self.compare("linkhdr", self.off_linkpl.constant, B, ll_proto))
        return self.compare("linktype", 0, H, ll_proto)

    def snap_test(self, org: int, ptype: int) -> Fragment:
        header = bytes([LLCSAP_SNAP, LLCSAP_SNAP, 0x03]) + org.to_bytes(3, "big")
        return self.compare_bytes("llc", 0, header + (ptype & 0xFFFF).to_bytes(2, "big"))

    def loopback_family_test(self, family: int) -> Fragment:
        """The 4-byte address family of a NULL/LOOP header, in the byte order it is stored."""
        if self.linktype == DLT_NULL:
            if self.reading_savefile and self.savefile_swapped:
                family = int.from_bytes(family.to_bytes(4, "little"), "big")
            if sys.byteorder == "little":  # htonl
                family = int.from_bytes(family.to_bytes(4, "little"), "big")
        return self.compare("linkhdr", 0, W, family)

    def loopback_linktype_test(self, ll_proto: int) -> Fragment:
        if ll_proto == ETHERTYPE_IP:
            return self.loopback_family_test(AF_INET)
        if ll_proto != ETHERTYPE_IPV6:
            return self.constant_test(False)
        if not self.reading_savefile:
            return self.loopback_family_test(AF_INET6_LINUX)
        bsd, freebsd, darwin = (self.loopback_family_test(v) for v in BSD_AFNUM_INET6)
        return disjoin(darwin, disjoin(bsd, freebsd))

    def mpls_linktype_test(self, ll_proto: int) -> Fragment:
        versions = {ETHERTYPE_IP: 0x40, ETHERTYPE_IPV6: 0x60}
        if ll_proto not in versions:
            raise BPFError("unsupported protocol over mpls")
        bottom_of_stack = self.compare("linkpl", -2, B, 0x01, 0x01)
        return conjoin(bottom_of_stack, self.compare("linkpl", 0, B, versions[ll_proto], 0xF0))

    def prevlinkhdr_check(self) -> Optional[Fragment]:
        """After geneve/vxlan: is there an inner Ethernet header (not IP directly)."""
        if not self.is_encapsulated:
            return None
        stmts = [Stmt(LD | MEM, self.off_linkhdr.register),
                 Stmt(LDX | MEM, self.off_linkpl.register)]  # fmt: skip
        return negate(branch_on(stmts, JMP | JEQ | X))

    # --- protocols ----------------------------------------------------------------------------

    def proto_abbrev(self, proto: str) -> Fragment:
        """A protocol keyword on its own: ``ip``, ``tcp``, ``arp``..."""
        if proto in _PROTO_ABBREV_LINKTYPES:
            return self.linktype_test(_PROTO_ABBREV_LINKTYPES[proto])
        if proto in _PROTO_ABBREV_IP_PROTOCOLS:
            number, qualifier = _PROTO_ABBREV_IP_PROTOCOLS[proto]
            return self.proto(number, qualifier, "DEFAULT")
        if proto == "LINK":
            raise BPFError("link layer applied in wrong context")
        raise unsupported(f"the protocol {_spelling(proto)!r}")

    def ip_fragment_test(self) -> Fragment:
        """Not a fragment other than the first (gencode's ``gen_ipfrag``)."""
        return negate(branch_on(self.load("linkpl", 6, H), JMP | JSET | K, 0x1FFF))

    def proto(self, number: int, proto: str, direction: str) -> Fragment:
        """``[ip|ip6|ether] proto N`` (gencode's ``gen_proto``)."""
        if direction != "DEFAULT":
            raise BPFError("direction applied to 'proto'")
        if proto == "DEFAULT":
            return disjoin(self.proto(number, "IP", direction),
                           self.proto(number, "IPV6", direction))  # fmt: skip
        if proto == "LINK":
            return self.linktype_test(number)
        if proto == "IP":
            return conjoin(self.linktype_test(ETHERTYPE_IP), self.compare("linkpl", 9, B, number))
        if proto == "IPV6":
            is_ipv6 = self.linktype_test(ETHERTYPE_IPV6)
            fragment_then = conjoin(self.compare("linkpl", 6, B, IPPROTO_FRAGMENT),
                                    self.compare("linkpl", 40, B, number))  # fmt: skip
            direct = self.compare("linkpl", 6, B, number)
            return conjoin(is_ipv6, disjoin(direct, fragment_then))
        if proto in ("ARP", "RARP"):
            raise BPFError(f"{_spelling(proto)} does not encapsulate another protocol")
        if proto in ("ISO", "ISIS", "L1", "L2", "IIH", "LSP", "SNP", "CSNP", "PSNP"):
            raise unsupported(f"'{_spelling(proto)} proto' (OSI)")
        raise BPFError(f"'{_spelling(proto)} proto' is bogus")

    def protochain(self, number: int, proto: str) -> Fragment:
        """``protochain N``: follow IPv6 extension headers and AH (a loop in the program)."""
        if proto == "DEFAULT":
            return disjoin(self.protochain(number, "IP"), self.protochain(number, "IPV6"))
        if proto not in ("IP", "IPV6"):
            raise BPFError("bad protocol applied for 'protochain'")
        scratch = self.alloc_register()
        if self.off_linkpl.variable:
            raise BPFError("'protochain' not supported with variable length headers")
        self.no_optimize = True
        base = self.off_linkpl.constant + self.off_nl
        if proto == "IP":
            family = self.linktype_test(ETHERTYPE_IP)
            stmts = [Stmt(LD | ABS | B, base + 9), Stmt(LDX | MSH | B, base)]
        else:
            family = self.linktype_test(ETHERTYPE_IPV6)
            stmts = [Stmt(LD | ABS | B, base + 6), Stmt(LDX | IMM, 40)]
        stmts.extend(_protochain_loop(number, proto == "IPV6", base, scratch))
        self.free_register(scratch)
        return conjoin(family, branch_on(stmts, JMP | JEQ | K, number))

    # --- hosts and networks -------------------------------------------------------------------

    def host(self, address: int, mask: int, proto: str, direction: str, kind: str) -> Fragment:
        """IPv4 ``host``/``net`` (gencode's ``gen_host``)."""
        noun = "net" if kind == "NET" else "host"
        if proto == "DEFAULT":
            ip = self.host(address, mask, "IP", direction, kind)
            if self.label_stack_depth != 0:
                return ip
            arp = self.host(address, mask, "ARP", direction, kind)
            either = disjoin(ip, arp)
            return disjoin(either, self.host(address, mask, "RARP", direction, kind))
        if proto == "IP":
            return self.host_op(address, mask, direction, ETHERTYPE_IP, 12, 16)
        if proto in ("ARP", "RARP"):
            ethertype = ETHERTYPE_ARP if proto == "ARP" else ETHERTYPE_REVARP
            return self.host_op(address, mask, direction, ethertype, 14, 24)
        if proto == "LINK":
            raise BPFError(f"link-layer modifier applied to {noun}")
        if proto == "DECNET":
            raise unsupported("DECnet addresses")
        if proto == "IPV6":
            raise BPFError("'ip6' modifier applied to ip host")
        raise BPFError(f"'{_spelling(proto)}' modifier applied to {noun}")

    def host_op(
        self, address: int, mask: int, direction: str, ll_proto: int, src: int, dst: int
    ) -> Fragment:
        if direction in ("AND", "OR", "DEFAULT"):
            source = self.host_op(address, mask, "SRC", ll_proto, src, dst)
            destination = self.host_op(address, mask, "DST", ll_proto, src, dst)
            join = conjoin if direction == "AND" else disjoin
            return join(source, destination)
        if direction in _DIRECTION_NAMES:
            raise BPFError(f"{_DIRECTION_NAMES[direction]} not valid qualifiers for addresses "
                           "other than 802.11 MAC addresses")  # fmt: skip
        offset = src if direction == "SRC" else dst
        return conjoin(self.linktype_test(ll_proto),
                       self.compare("linkpl", offset, W, address, mask))  # fmt: skip

    def host6(self, address: bytes, mask: bytes, proto: str, direction: str, kind: str) -> Fragment:
        noun = "net" if kind == "NET" else "host"
        if proto in ("DEFAULT", "IPV6"):
            return self.host6_op(address, mask, direction, 8, 24)
        if proto == "LINK":
            raise BPFError(f"link-layer modifier applied to ip6 {noun}")
        raise BPFError(f"'{_spelling(proto)}' modifier applied to ip6 {noun}")

    def host6_op(self, address: bytes, mask: bytes, direction: str, src: int, dst: int) -> Fragment:
        if direction in ("AND", "OR", "DEFAULT"):
            source = self.host6_op(address, mask, "SRC", src, dst)
            destination = self.host6_op(address, mask, "DST", src, dst)
            join = conjoin if direction == "AND" else disjoin
            return join(source, destination)
        if direction in _DIRECTION_NAMES:
            raise BPFError(f"{_DIRECTION_NAMES[direction]} not valid qualifiers for addresses "
                           "other than 802.11 MAC addresses")  # fmt: skip
        offset = src if direction == "SRC" else dst
        words = [
            self.compare("linkpl", offset + 4 * i, W, int.from_bytes(address[4 * i : 4 * i + 4],
                         "big"), int.from_bytes(mask[4 * i : 4 * i + 4], "big"))
            for i in (3, 2, 1, 0)
        ]  # fmt: skip
        combined = words[0]
        for word in words[1:]:
            combined = conjoin(word, combined)
        return conjoin(self.linktype_test(ETHERTYPE_IPV6), combined)

    def ether_host(self, address: bytes, direction: str) -> Fragment:
        """``ether host/src/dst`` on Ethernet (gencode's ``gen_ehostop``)."""
        if direction == "SRC":
            return self.compare_bytes("linkhdr", 6, address)
        if direction == "DST":
            return self.compare_bytes("linkhdr", 0, address)
        if direction in ("AND", "OR", "DEFAULT"):
            source = self.ether_host(address, "SRC")
            destination = self.ether_host(address, "DST")
            return (conjoin if direction == "AND" else disjoin)(source, destination)
        raise BPFError(f"{_DIRECTION_NAMES[direction]} not valid qualifiers for addresses other "
                       "than 802.11 MAC addresses")  # fmt: skip

    def ether_address_test(self, address: bytes, direction: str) -> Fragment:
        if self.linktype != DLT_EN10MB:
            raise BPFError("ethernet addresses supported only on "
                           "ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel")  # fmt: skip
        check = self.prevlinkhdr_check()
        fragment = self.ether_host(address, direction)
        return fragment if check is None else conjoin(check, fragment)

    # --- ports --------------------------------------------------------------------------------

    def port_test(self, port: int, ip_proto: int, direction: str, ipv6: bool) -> Fragment:
        """``[tcp|udp|sctp] [src|dst] port N`` over IPv4 or IPv6 (gencode's ``gen_port``)."""
        return self._transport_test(ip_proto, direction, ipv6,
                                    lambda field: self._port_atom(field, port, ipv6))  # fmt: skip

    def portrange_test(
        self, low: int, high: int, ip_proto: int, direction: str, ipv6: bool
    ) -> Fragment:
        low, high = min(low, high), max(low, high)
        return self._transport_test(ip_proto, direction, ipv6,
                                    lambda field: self._range_atom(field, low, high, ipv6))

    def _port_atom(self, field: int, port: int, ipv6: bool) -> Fragment:
        return self.compare("tran_ipv6" if ipv6 else "tran_ipv4", field, H, port)

    def _range_atom(self, field: int, low: int, high: int, ipv6: bool) -> Fragment:
        where = "tran_ipv6" if ipv6 else "tran_ipv4"
        at_least = self.compare(where, field, H, low, jump=JGE)
        at_most = self.compare(where, field, H, high, jump=JGT, reverse=True)
        return conjoin(at_least, at_most)

    def _transport_test(
        self, ip_proto: int, direction: str, ipv6: bool, atom: Callable[[int], Fragment]
    ) -> Fragment:
        family = self.linktype_test(ETHERTYPE_IPV6 if ipv6 else ETHERTYPE_IP)
        if ip_proto == PROTO_UNDEF:
            tcp = self._transport_op(IPPROTO_TCP, direction, ipv6, atom)
            udp = self._transport_op(IPPROTO_UDP, direction, ipv6, atom)
            either = disjoin(tcp, udp)
            sctp = self._transport_op(IPPROTO_SCTP, direction, ipv6, atom)
            return conjoin(family, disjoin(sctp, either))
        return conjoin(family, self._transport_op(ip_proto, direction, ipv6, atom))

    def _transport_op(
        self, ip_proto: int, direction: str, ipv6: bool, atom: Callable[[int], Fragment]
    ) -> Fragment:
        if ipv6:
            protocol = self.compare("linkpl", 6, B, ip_proto)
        else:
            protocol = conjoin(self.compare("linkpl", 9, B, ip_proto), self.ip_fragment_test())
        if direction == "SRC":
            ports = atom(0)
        elif direction == "DST":
            ports = atom(2)
        elif direction in ("AND", "OR", "DEFAULT"):
            source, destination = atom(0), atom(2)
            ports = (conjoin if direction == "AND" else disjoin)(source, destination)
        else:
            raise BPFError(f"{_DIRECTION_NAMES[direction]} not valid qualifiers for ports")
        return conjoin(protocol, ports)

    def ports(self, low: int, high: int, ip_proto: int, direction: str, is_range: bool) -> Fragment:
        """IPv4 or IPv6 (libpcap tests IPv6 first)."""
        if is_range:
            v4 = self.portrange_test(low, high, ip_proto, direction, False)
            v6 = self.portrange_test(low, high, ip_proto, direction, True)
        else:
            v4 = self.port_test(low, ip_proto, direction, False)
            v6 = self.port_test(low, ip_proto, direction, True)
        return disjoin(v6, v4)

    # --- other primitives ---------------------------------------------------------------------

    def packet_length_test(self, jump: int, length: int) -> Fragment:
        return branch_on([Stmt(LD | W | LEN)], JMP | jump | K, _u32(length))

    def broadcast(self, proto: str) -> Fragment:
        if proto in ("DEFAULT", "LINK"):
            if self.linktype != DLT_EN10MB:
                raise BPFError("not a broadcast link")
            check = self.prevlinkhdr_check()
            fragment = self.ether_host(b"\xff" * 6, "DST")
            return fragment if check is None else conjoin(check, fragment)
        if proto == "IP":
            if self.netmask == 0xFFFFFFFF:
                raise BPFError("netmask not known, so 'ip broadcast' not supported")
            is_ip = self.linktype_test(ETHERTYPE_IP)
            hostmask = _u32(~self.netmask)
            all_zero = self.compare("linkpl", 16, W, 0, hostmask)
            all_ones = self.compare("linkpl", 16, W, hostmask, hostmask)
            return conjoin(is_ip, disjoin(all_zero, all_ones))
        raise BPFError("only link-layer/IP broadcast filters supported")

    def multicast(self, proto: str) -> Fragment:
        if proto in ("DEFAULT", "LINK"):
            if self.linktype != DLT_EN10MB:
                raise BPFError("link-layer multicast filters supported only on ethernet/FDDI/"
                               "token ring/ARCNET/802.11/ATM LANE/Fibre Channel")  # fmt: skip
            check = self.prevlinkhdr_check()
            fragment = branch_on(self.load("linkhdr", 0, B), JMP | JSET | K, 1)
            return fragment if check is None else conjoin(check, fragment)
        if proto == "IP":
            return conjoin(self.linktype_test(ETHERTYPE_IP),
                           self.compare("linkpl", 16, B, 224, jump=JGE))  # fmt: skip
        if proto == "IPV6":
            return conjoin(self.linktype_test(ETHERTYPE_IPV6),
                           self.compare("linkpl", 24, B, 255))  # fmt: skip
        raise BPFError("only IP multicast filters supported on ethernet/FDDI/token ring/"
                       "ARCNET/802.11/ATM LANE/Fibre Channel")  # fmt: skip

    def inbound(self, outbound: bool) -> Fragment:
        if self.linktype == DLT_LINUX_SLL:
            fragment = self.compare("linkhdr", 0, H, LINUX_SLL_OUTGOING)
        elif self.linktype == DLT_LINUX_SLL2:
            fragment = self.compare("linkhdr", 10, B, LINUX_SLL_OUTGOING)
        elif self.reading_savefile:
            name = SUPPORTED_LINKTYPES.get(self.linktype, str(self.linktype))
            raise BPFError(f"inbound/outbound not supported on {name} when reading savefiles")
        else:  # Linux: the kernel's packet-type field, which only a socket filter can read
            fragment = self.compare("linkhdr", SKF_AD_PKTTYPE_OFFSET, H, PACKET_OUTGOING)
        return fragment if outbound else negate(fragment)

    def vlan(self, vlan_id: Optional[int]) -> Fragment:
        if self.label_stack_depth > 0:
            raise BPFError("no VLAN match after MPLS")
        if self.linktype != DLT_EN10MB:
            raise BPFError(f"no VLAN support for {SUPPORTED_LINKTYPES.get(self.linktype)}")
        tagged = disjoin(disjoin(self.linktype_test(ETHERTYPE_8021Q),
                                 self.linktype_test(ETHERTYPE_8021AD)),
                         self.linktype_test(ETHERTYPE_8021QINQ))  # fmt: skip
        if vlan_id is not None:
            if vlan_id > 0x0FFF:
                raise BPFError(f"VLAN tag {vlan_id} greater than maximum {0x0FFF}")
            tagged = conjoin(tagged, self.compare("linkpl", 0, H, vlan_id, 0x0FFF))
        self.off_linkpl.constant += 4
        self.off_linktype.constant += 4
        self.vlan_stack_depth += 1
        return tagged

    def mpls(self, label: Optional[int]) -> Fragment:
        if self.label_stack_depth > 0:
            fragment = self.compare("prevmplshdr", 2, B, 0, 0x01)
        elif self.linktype == DLT_EN10MB:
            fragment = self.linktype_test(ETHERTYPE_MPLS)
        elif self.linktype == DLT_PPP:
            fragment = self.linktype_test(0x0281)
        else:
            raise BPFError(f"no MPLS support for {SUPPORTED_LINKTYPES.get(self.linktype)}")
        if label is not None:
            if label > 0xFFFFF:
                raise BPFError(f"MPLS label {label} greater than maximum {0xFFFFF}")
            fragment = conjoin(fragment, self.compare("linkpl", 0, W, label << 12, 0xFFFFF000))
        self.off_nl_nosnap += 4
        self.off_nl += 4
        self.label_stack_depth += 1
        return fragment

    def push_link_header(self, linktype: int, variable: bool, constant: int, register: int) -> None:
        self.prev_linktype = self.linktype
        self.off_prevlinkhdr = replace(self.off_linkhdr)
        self.linktype = linktype
        self.off_linkhdr = Offset(constant, variable, register)
        self.is_encapsulated = False

    def pppoes(self, session: Optional[int]) -> Fragment:
        fragment = self.linktype_test(ETHERTYPE_PPPOES)
        if session is not None:
            if session > 0xFFFF:
                raise BPFError(f"PPPoE session number {session} greater than maximum {0xFFFF}")
            fragment = conjoin(fragment, self.compare("linkpl", 0, W, session, 0x0000FFFF))
        self.push_link_header(DLT_PPP, self.off_linkpl.variable,
                              self.off_linkpl.constant + self.off_nl + 6,
                              self.off_linkpl.register)  # fmt: skip
        self.off_linktype = replace(self.off_linkhdr)
        self.off_linkpl = replace(self.off_linkpl, constant=self.off_linkhdr.constant + 2)
        self.off_nl = 0
        self.off_nl_nosnap = 0
        return fragment

    def tunnel(self, name: str, vni: Optional[int]) -> Fragment:
        """``geneve [vni]`` / ``vxlan [vni]``: UDP to the tunnel port, then inner offsets."""
        geneve = name == "GENEVE"
        v4 = self._tunnel_check(geneve, vni, ipv6=False)
        v4 = conjoin(v4, branch_on([*self.load_x_ip_header_length(), Stmt(MISC | TXA)],
                              JMP | JEQ | X))  # fmt: skip
        v6 = self._tunnel_check(geneve, vni, ipv6=True)
        stmts = self.variable_part(self.off_linkpl)
        if stmts is None:
            stmts = [Stmt(LD | IMM, 40)]
        else:
            stmts += [Stmt(LD | IMM, 40), Stmt(ALU | ADD | X)]
        v6 = conjoin(v6, branch_on([*stmts, Stmt(MISC | TAX)], JMP | JEQ | X))
        either = disjoin(v4, v6)
        offsets = self._geneve_offsets() if geneve else self._vxlan_offsets()
        inner = branch_on([*offsets, Stmt(LD | IMM, 1)], JMP | JEQ | K, 1)
        self.is_encapsulated = True
        return conjoin(either, inner)

    def _tunnel_check(self, geneve: bool, vni: Optional[int], ipv6: bool) -> Fragment:
        port = GENEVE_PORT if geneve else VXLAN_PORT
        where = "tran_ipv6" if ipv6 else "tran_ipv4"
        udp = self.port_test(port, IPPROTO_UDP, "DST", ipv6)
        if geneve:
            fragment = conjoin(udp, self.compare(where, 8, B, 0, 0xC0))
        else:
            fragment = conjoin(udp, self.compare(where, 8, B, 0x08))
        if vni is not None:
            if vni > 0xFFFFFF:
                label = "Geneve" if geneve else "VXLAN"
                raise BPFError(f"{label} VNI {vni} greater than maximum {0xFFFFFF}")
            fragment = conjoin(fragment, self.compare(where, 12, W, vni << 8, 0xFFFFFF00))
        return fragment

    def _geneve_offsets(self) -> list[Stmt]:
        stmts = [Stmt(ALU | ADD | K, self.off_linkpl.constant + self.off_nl + 8),
                 Stmt(MISC | TAX), Stmt(ALU | ADD | K, 2)]  # fmt: skip
        self.off_linktype = Offset(0, True, self.alloc_register())
        stmts += [Stmt(ST, self.off_linktype.register), Stmt(LD | IND | B, 0),
                  Stmt(ALU | AND | K, 0x3F), Stmt(ALU | MUL | K, 4), Stmt(ALU | ADD | K, 8),
                  Stmt(ALU | ADD | X)]  # fmt: skip
        self.push_link_header(DLT_EN10MB, True, 0, self.alloc_register())
        self.no_optimize = True
        set_linktype = Stmt(MISC | TXA)
        store_payload = Stmt(STX, 0)
        is_ethernet = Stmt(JMP | JEQ | K, ETHERTYPE_TEB, set_linktype, store_payload)
        stmts += [Stmt(ST, self.off_linkhdr.register), Stmt(LD | IND | H, 2),
                  Stmt(LDX | MEM, self.off_linkhdr.register), is_ethernet, set_linktype,
                  Stmt(ALU | ADD | K, 12), Stmt(ST, self.off_linktype.register),
                  Stmt(ALU | ADD | K, 2), Stmt(MISC | TAX)]  # fmt: skip
        self.off_linkpl = Offset(0, True, self.alloc_register())
        store_payload.k = self.off_linkpl.register
        stmts.append(store_payload)
        self.off_nl = 0
        return stmts

    def _vxlan_offsets(self) -> list[Stmt]:
        stmts = [Stmt(ALU | ADD | K, self.off_linkpl.constant + self.off_nl + 8),
                 Stmt(ALU | ADD | K, 8)]  # fmt: skip
        self.push_link_header(DLT_EN10MB, True, 0, self.alloc_register())
        stmts += [Stmt(ST, self.off_linkhdr.register), Stmt(ALU | ADD | K, 12)]
        self.off_linktype = Offset(0, True, self.alloc_register())
        stmts += [Stmt(ST, self.off_linktype.register), Stmt(ALU | ADD | K, 2),
                  Stmt(MISC | TAX)]  # fmt: skip
        self.off_linkpl = Offset(0, True, self.alloc_register())
        stmts.append(Stmt(STX, self.off_linkpl.register))
        self.off_nl = 0
        return stmts

    # --- arithmetic ---------------------------------------------------------------------------

    def arith(self, node: ast.Arith) -> _Arith:
        if isinstance(node, ast.Constant):
            register = self.alloc_register()
            return _Arith([Stmt(LD | IMM, node.value), Stmt(ST, register)], register)
        if isinstance(node, ast.PacketLength):
            register = self.alloc_register()
            return _Arith([Stmt(LD | W | LEN), Stmt(ST, register)], register)
        if isinstance(node, ast.Negate):
            value = self.arith(node.operand)
            value.stmts += [Stmt(LD | MEM, value.register), Stmt(ALU | NEG),
                            Stmt(ST, value.register)]  # fmt: skip
            return value
        if isinstance(node, ast.BinaryOp):
            return self.arith_binary(node)
        return self.arith_load(node)

    def arith_binary(self, node: ast.BinaryOp) -> _Arith:
        left = self.arith(node.left)
        right = self.arith(node.right)
        first = right.stmts[0]
        if first.code == LD | IMM:
            if node.op == "/" and first.k == 0:
                raise BPFError("division by zero")
            if node.op == "%" and first.k == 0:
                raise BPFError("modulus by zero")
            if node.op in ("<<", ">>") and first.k > 31:
                raise BPFError("shift by more than 31 bits")
        left.stmts += right.stmts
        left.stmts += [Stmt(LDX | MEM, right.register), Stmt(LD | MEM, left.register),
                       Stmt(ALU | X | _ARITH_CODES[node.op])]  # fmt: skip
        self.free_register(left.register)
        self.free_register(right.register)
        left.register = self.alloc_register()
        left.stmts.append(Stmt(ST, left.register))
        return left  # libpcap keeps only the left operand's protocol checks

    def arith_load(self, node: ast.Load) -> _Arith:
        index = self.arith(node.index)
        register = self.alloc_register()
        self.free_register(index.register)
        if node.size not in SIZE_CODES:
            raise BPFError("data size must be 1, 2, or 4")
        size = SIZE_CODES[node.size]
        proto = node.proto
        if proto == "LINK":
            index.stmts += self._indexed(self.off_linkhdr, index.register, 0, size)
        elif proto in _NETWORK_LOADS:
            index.stmts += self._indexed(self.off_linkpl, index.register, self.off_nl, size)
            checks = self.proto_abbrev(proto)
            index.checks = checks if index.checks is None else conjoin(index.checks, checks)
        elif proto in _TRANSPORT_LOADS:
            index.stmts += [*self.load_x_ip_header_length(), Stmt(LD | MEM, index.register),
                            Stmt(ALU | ADD | X), Stmt(MISC | TAX),
                            Stmt(LD | IND | size, self.off_linkpl.constant + self.off_nl)]
            checks = conjoin(self.proto_abbrev(proto), self.ip_fragment_test())
            if index.checks is not None:
                checks = conjoin(index.checks, checks)
            index.checks = conjoin(self.proto_abbrev("IP"), checks)
        elif proto == "ICMPV6":
            checks = self.proto_abbrev("IPV6")
            if index.checks is not None:
                checks = conjoin(index.checks, checks)
            index.checks = conjoin(checks, self.compare("linkpl", 6, B, IPPROTO_ICMPV6))
            index.stmts += self._indexed(self.off_linkpl, index.register, self.off_nl + 40, size)
        elif proto == "RADIO":
            raise BPFError("radio information not present in capture")
        else:
            raise BPFError("unsupported index operation")
        index.register = register
        index.stmts.append(Stmt(ST, register))
        return index

    def _indexed(self, offset: Offset, register: int, extra: int, size: int) -> list[Stmt]:
        stmts = self.variable_part(offset)
        if stmts is None:
            stmts = [Stmt(LDX | MEM, register)]
        else:
            stmts += [Stmt(LD | MEM, register), Stmt(ALU | ADD | X), Stmt(MISC | TAX)]
        return [*stmts, Stmt(LD | IND | size, offset.constant + extra)]

    def relation(self, node: ast.Relation) -> Fragment:
        left = self.arith(node.left)
        right = self.arith(node.right)
        code = _RELATION_CODES[node.op]
        transfer = [Stmt(LDX | MEM, right.register), Stmt(LD | MEM, left.register)]
        if code == JEQ:
            fragment = branch_on([*left.stmts, *right.stmts, *transfer, Stmt(ALU | SUB | X)],
                            JMP | JEQ | K, 0)  # fmt: skip
        else:
            fragment = branch_on([*left.stmts, *right.stmts, *transfer], JMP | code | X)
        if node.reversed:
            fragment = negate(fragment)
        self.free_register(left.register)
        self.free_register(right.register)
        checks = left.checks
        if right.checks is not None:
            checks = right.checks if checks is None else conjoin(checks, right.checks)
        return fragment if checks is None else conjoin(checks, fragment)


def _protochain_loop(number: int, ipv6: bool, base: int, scratch: int) -> list[Stmt]:
    """libpcap's protochain statements after the first two loads: A = next header, X = offset."""
    again = Stmt(JMP | JEQ | K, number)
    is_none = Stmt(JMP | JEQ | K, IPPROTO_NONE)
    again.jf = is_none
    stmts = [again, is_none]
    ah_check = Stmt(JMP | JEQ | K, IPPROTO_AH)
    end = Stmt(ALU | ADD | K, 0)
    if ipv6:
        extension_checks = [Stmt(JMP | JEQ | K, header) for header in
                            (IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT)]
        is_none.jf = extension_checks[0]
        for current, following in zip(extension_checks, extension_checks[1:]):
            current.jf = following
        extension_checks[-1].jf = ah_check
        advance = [Stmt(LD | IND | B, base), Stmt(ST, scratch), Stmt(LD | IND | B, base + 1),
                   Stmt(ALU | ADD | K, 1), Stmt(ALU | MUL | K, 8), Stmt(ALU | ADD | X),
                   Stmt(MISC | TAX), Stmt(LD | MEM, scratch)]  # fmt: skip
        for check in extension_checks:
            check.jt = advance[0]
        stmts += extension_checks + advance
        stmts.append(Stmt(JMP | JA, 0))  # back to `again`, fixed below
    else:
        skip = Stmt(ALU | ADD | K, 0)
        is_none.jf = skip
        stmts.append(skip)
    ah_advance = [Stmt(MISC | TXA), Stmt(LD | IND | B, base), Stmt(ST, scratch),
                  Stmt(MISC | TXA), Stmt(ALU | ADD | K, 1), Stmt(MISC | TAX),
                  Stmt(LD | IND | B, base), Stmt(ALU | ADD | K, 2), Stmt(ALU | MUL | K, 4),
                  Stmt(MISC | TAX), Stmt(LD | MEM, scratch), Stmt(JMP | JA, 0)]  # fmt: skip
    ah_check.jt = ah_advance[0]
    ah_check.jf = end
    stmts += [ah_check, *ah_advance, end]
    again.jt = end
    is_none.jt = end
    for position, stmt in enumerate(stmts):  # the backward `ja`s go to `again`, stmts[0]
        if stmt.code == JMP | JA:
            stmt.k = _u32(-position - 1)
    return stmts


# --- addresses ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def parse_dotted(text: str) -> tuple[int, int]:
    """libpcap's ``__pcap_atoin``: (value, number of bits given); BPFError if invalid."""
    value = 0
    bits = 0
    for part in text.split("."):
        number = 0
        for char in part:
            if number > 25:
                raise BPFError(f"invalid IPv4 address '{text}'")
            number = number * 10 + ord(char) - ord("0")
        if number > 255:
            raise BPFError(f"invalid IPv4 address '{text}'")
        value = ((value << 8) | (number & 0xFF)) & 0xFFFFFFFF
        bits += 8
    return value, bits


def parse_mac(text: str) -> bytes:
    """libpcap's ``pcap_ether_aton`` on a MAC token."""
    digits = re.sub(r"[:.\-]", "", text)
    if len(digits) == 12:
        return bytes.fromhex(digits)
    return bytes(int(part, 16) for part in re.split(r"[:.\-]", text))


def parse_ipv6(text: str) -> bytes:
    try:
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        raise BPFError(f"bogus IPv6 address {text}") from None


