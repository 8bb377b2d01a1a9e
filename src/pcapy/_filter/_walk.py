"""The parsed filter -> one code fragment: what each id means under its qualifiers.

This is the part of libpcap's compiler that its grammar actions call (``gen_scode`` for names,
``gen_ncode`` for numbers and dotted addresses, ``gen_mcode``/``gen_mcode6`` for networks,
``gen_ecode`` for MAC addresses), over ``_gen.CodeGenerator``. Nodes are visited left to right;
a run of ``or``-ed IPv4 ``host`` terms goes to ``_sets`` and becomes one search tree.
"""

from __future__ import annotations

import re
from typing import Optional

from .._errors import BPFError
from . import _ast as ast
from ._gen import (
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    PROTO_UNDEF,
    CodeGenerator,
    parse_dotted,
    parse_ipv6,
    parse_mac,
    unsupported,
)
from ._ir import JGE, JGT, Fragment, conjoin, disjoin, negate
from ._names import ETHER_PROTOCOLS, IP_PROTOCOLS, TCP_PORTS, UDP_PORTS
from ._sets import IPV6_SET, SMALLEST_SET, host_set_fragment, set_key
from ._sets6 import host6_set_fragment

_PORT_PROTOCOLS = {"UDP": IPPROTO_UDP, "TCP": IPPROTO_TCP, "SCTP": IPPROTO_SCTP,
                   "DEFAULT": PROTO_UNDEF}  # fmt: skip
_PROTOCOL_NAMES = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}
_RANGE = re.compile(r"\s*([+-]?\d+)-\s*([+-]?\d+)")
_NOT_FOR_ADDRESSES = {"PORT": "'port'", "PORTRANGE": "'portrange'", "PROTO": "'proto'",
                      "PROTOCHAIN": "'protochain'"}  # fmt: skip


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


class Walker:
    def __init__(self, generator: CodeGenerator) -> None:
        self.gen = generator

    def node(self, node: ast.Node) -> Fragment:
        if isinstance(node, ast.Chain):
            return self.chain(node)
        if isinstance(node, ast.Not):
            return negate(self.node(node.operand))
        if isinstance(node, ast.Address):
            return self.address(node)
        if isinstance(node, ast.ProtoAbbrev):
            return self.gen.proto_abbrev(node.proto)
        if isinstance(node, ast.Relation):
            return self.gen.relation(node)
        return self.keyword(node)

    def chain(self, chain: ast.Chain) -> Fragment:
        items: list[tuple[str, ast.Node]] = [("or", chain.first), *chain.rest]
        result: Optional[Fragment] = None
        index = 0
        while index < len(items):
            operator, node = items[index]
            run_end = self._host_run_end(items, index)
            if run_end - index >= SMALLEST_SET:
                fragment = self._host_set([item[1] for item in items[index:run_end]])
                index = run_end
            else:
                fragment = self.node(node)
                index += 1
            if result is None:
                result = fragment
            else:
                result = (conjoin if operator == "and" else disjoin)(result, fragment)
        assert result is not None
        return result

    def _host_set(self, nodes: list[ast.Node]) -> Fragment:
        key = set_key(nodes[0])
        assert key is not None
        if key[0] == IPV6_SET:
            return host6_set_fragment(self.gen, nodes, key[1])
        return host_set_fragment(self.gen, nodes)

    @staticmethod
    def _host_run_end(items: list[tuple[str, ast.Node]], start: int) -> int:
        """End of the run of ``or``-ed host terms with one key starting at ``start``."""
        if start > 0 and items[start][0] != "or":
            return start + 1
        key = set_key(items[start][1])
        if key is None:
            return start + 1
        end = start + 1
        while end < len(items) and items[end][0] == "or":
            node = items[end][1]
            if not isinstance(node, ast.Address) or set_key(node) != key:
                break
            end += 1
        return end

    # --- ids under qualifiers -----------------------------------------------------------------

    def address(self, node: ast.Address) -> Fragment:  # noqa: PLR0911 - one case a kind of id
        qualifiers = node.qualifiers
        if node.kind in ("HID", "HID_LEN", "HID_MASK", "HID6", "HID6_LEN"):
            self._check_address_qualifier(node)
        if node.kind == "NUM":
            return self.number_or_dotted(None, node.number, qualifiers)
        if node.kind == "HID":
            return self.number_or_dotted(node.text, 0, qualifiers)
        if node.kind == "HID_LEN":
            return self.network(node.text, None, node.number, qualifiers)
        if node.kind == "HID_MASK":
            return self.network(node.text, node.mask_text, 0, qualifiers)
        if node.kind in ("HID6", "HID6_LEN"):
            length = node.number if node.kind == "HID6_LEN" else 128
            return self.network6(node.text, length, qualifiers)
        if node.kind == "EID":
            return self.ether_address(node.text, qualifiers)
        if node.kind == "AID":
            raise BPFError("aid supported only on ARCnet")
        return self.name(node.text, qualifiers)

    @staticmethod
    def _check_address_qualifier(node: ast.Address) -> None:
        what = _NOT_FOR_ADDRESSES.get(node.qualifiers.addr)
        if what is not None:
            family = "IPv6" if node.kind.startswith("HID6") else "IPv4"
            raise BPFError(f"{what} qualifier applied to {family} address")

    def number_or_dotted(self, text: Optional[str], value: int, q: ast.Qualifiers) -> Fragment:
        """gencode's ``gen_ncode``: a number, or a dotted IPv4 address or prefix."""
        if q.proto == "DECNET":
            raise unsupported("DECnet addresses")
        bits = 32
        if text is not None:
            value, bits = parse_dotted(text)
        if q.addr in ("DEFAULT", "HOST", "NET"):
            return self._numeric_host(text is None, value, bits, q)
        if q.addr in ("PORT", "PORTRANGE"):
            noun = "port" if q.addr == "PORT" else "portrange"
            if q.proto not in _PORT_PROTOCOLS:
                raise BPFError(f"illegal qualifier of '{noun}'")
            if value > 65535:
                raise BPFError(f"illegal port number {value} > 65535")
            protocol = _PORT_PROTOCOLS[q.proto]
            return self.gen.ports(value, value, protocol, q.dir, q.addr == "PORTRANGE")
        if q.addr == "GATEWAY":
            raise BPFError("'gateway' requires a name")
        if q.addr == "PROTO":
            return self.gen.proto(value, q.proto, q.dir)
        if q.addr == "PROTOCHAIN":
            return self.gen.protochain(value, q.proto)
        raise BPFError("syntax error in filter expression")

    def _numeric_host(self, is_number: bool, value: int, bits: int, q: ast.Qualifiers
                      ) -> Fragment:  # fmt: skip
        if q.proto == "LINK":
            raise BPFError("illegal link layer address")
        mask = 0xFFFFFFFF
        if is_number and q.addr == "NET":  # `net 10`: the number's leading zero bytes are dropped
            while value and (value & 0xFF000000) == 0:
                value, mask = _u32(value << 8), _u32(mask << 8)
        else:
            value, mask = _u32(value << (32 - bits)), _u32(mask << (32 - bits))
        return self.gen.host(value, mask, q.proto, q.dir, q.addr)

    def network(self, text: str, mask_text: Optional[str], length: int, q: ast.Qualifiers
                ) -> Fragment:  # fmt: skip
        """gencode's ``gen_mcode``: ``net A.B.C.D/len`` or ``net A.B.C.D mask M``."""
        value, bits = parse_dotted(text)
        value = _u32(value << (32 - bits))
        if mask_text is not None:
            mask, mask_bits = parse_dotted(mask_text)
            mask = _u32(mask << (32 - mask_bits))
            if value & ~mask:
                raise BPFError(f'non-network bits set in "{text} mask {mask_text}"')
        else:
            if length > 32:
                raise BPFError("mask length must be <= 32")
            mask = 0 if length == 0 else _u32(0xFFFFFFFF << (32 - length))
            if value & ~mask:
                raise BPFError(f'non-network bits set in "{text}/{length}"')
        if q.addr != "NET":
            raise BPFError("Mask syntax for networks only")
        return self.gen.host(value, mask, q.proto, q.dir, q.addr)

    def network6(self, text: str, length: int, q: ast.Qualifiers) -> Fragment:
        """gencode's ``gen_mcode6``."""
        address = parse_ipv6(text)
        if length > 128:
            raise BPFError("mask length must be <= 128")
        mask = (((1 << length) - 1) << (128 - length)).to_bytes(16, "big")
        if any(a & ~m & 0xFF for a, m in zip(address, mask)):
            raise BPFError(f'non-network bits set in "{text}/{length}"')
        if q.addr in ("DEFAULT", "HOST") and length != 128:
            raise BPFError("Mask syntax for networks only")
        if q.addr not in ("DEFAULT", "HOST", "NET"):
            raise BPFError("invalid qualifier against IPv6 address")
        return self.gen.host6(address, mask, q.proto, q.dir, q.addr)

    def ether_address(self, text: str, q: ast.Qualifiers) -> Fragment:
        if q.addr in ("HOST", "DEFAULT") and q.proto == "LINK":
            return self.gen.ether_address_test(parse_mac(text), q.dir)
        raise BPFError("ethernet address used in non-ether expression")

    def name(self, name: str, q: ast.Qualifiers) -> Fragment:
        """gencode's ``gen_scode``: a name (host, network, port, protocol)."""
        if q.addr in ("DEFAULT", "HOST"):
            raise unsupported(f"host name {name!r} (a name lookup)")
        if q.addr == "NET":
            raise unsupported(f"network name {name!r} (a name lookup)")
        if q.addr == "PORT":
            if q.proto not in _PORT_PROTOCOLS:
                raise BPFError("illegal qualifier of 'port'")
            port, protocol = port_by_name(name, f"unknown port '{name}'")
            protocol = _checked_protocol(q.proto, protocol, f"port '{name}'")
            _check_port_number(port)
            return self.gen.ports(port, port, protocol, q.dir, False)
        if q.addr == "PORTRANGE":
            if q.proto not in _PORT_PROTOCOLS:
                raise BPFError("illegal qualifier of 'portrange'")
            low, high, protocol = port_range_by_name(name)
            protocol = _checked_protocol(q.proto, protocol, f"port in range '{name}'")
            _check_port_number(low)
            _check_port_number(high)
            return self.gen.ports(low, high, protocol, q.dir, True)
        if q.addr == "GATEWAY":
            raise unsupported("'gateway'")
        if q.addr in ("PROTO", "PROTOCHAIN"):
            number = protocol_by_name(name, q.proto)
            if q.addr == "PROTO":
                return self.gen.proto(number, q.proto, q.dir)
            return self.gen.protochain(number, q.proto)
        raise BPFError("syntax error in filter expression")

    # --- other primitives ---------------------------------------------------------------------

    def keyword(self, node: ast.Keyword) -> Fragment:  # noqa: PLR0911 - one case a keyword
        gen = self.gen
        name = node.name
        if name == "BROADCAST":
            return gen.broadcast(node.proto)
        if name == "MULTICAST":
            return gen.multicast(node.proto)
        if name == "LESS":
            return negate(gen.packet_length_test(JGT, node.number or 0))
        if name == "GREATER":
            return gen.packet_length_test(JGE, node.number or 0)
        if name in ("INBOUND", "OUTBOUND"):
            return gen.inbound(name == "OUTBOUND")
        if name == "VLAN":
            return gen.vlan(node.number)
        if name == "MPLS":
            return gen.mpls(node.number)
        if name == "PPPOED":
            return gen.linktype_test(0x8863)
        if name == "PPPOES":
            return gen.pppoes(node.number)
        if name in ("GENEVE", "VXLAN"):
            return gen.tunnel(name, node.number)
        if name == "IFINDEX":
            raise unsupported("'ifindex'")
        raise unsupported("'byte'")


def port_by_name(name: str, error: str) -> tuple[int, int]:
    """libpcap's ``pcap_nametoport`` over the built-in tables: (port, protocol or UNDEF)."""
    if name.isdigit():
        value = int(name)
        if value <= 65535:
            return value, PROTO_UNDEF
    tcp, udp = TCP_PORTS.get(name), UDP_PORTS.get(name)
    if tcp is not None:
        return tcp, PROTO_UNDEF if udp == tcp else IPPROTO_TCP
    if udp is not None:
        return udp, IPPROTO_UDP
    raise BPFError(error)


def port_range_by_name(name: str) -> tuple[int, int, int]:
    numeric = _RANGE.match(name)
    if numeric is not None:
        return int(numeric.group(1)), int(numeric.group(2)), PROTO_UNDEF
    if "-" not in name:
        raise BPFError(f"unknown port in range '{name}'")
    first, second = name.split("-", 1)
    error = f"unknown port in range '{name}'"
    low, low_protocol = port_by_name(first, error)
    high, high_protocol = port_by_name(second, error)
    return low, high, low_protocol if low_protocol == high_protocol else PROTO_UNDEF


def _checked_protocol(qualifier: str, protocol: int, what: str) -> int:
    """A named port's protocol against the ``tcp``/``udp``/``sctp`` qualifier given."""
    wanted = _PORT_PROTOCOLS[qualifier]
    if wanted == PROTO_UNDEF:
        return protocol
    if protocol not in (PROTO_UNDEF, wanted):
        raise BPFError(f"{what} is {_PROTOCOL_NAMES[protocol]}")
    return wanted


def _check_port_number(port: int) -> None:
    if port < 0:
        raise BPFError(f"illegal port number {port} < 0")
    if port > 65535:
        raise BPFError(f"illegal port number {port} > 65535")


def protocol_by_name(name: str, proto: str) -> int:
    """libpcap's ``lookup_proto``: an IP protocol or ethertype name -> its number."""
    if proto in ("DEFAULT", "IP", "IPV6"):
        if name not in IP_PROTOCOLS:
            raise BPFError(f"unknown ip proto '{name}'")
        return IP_PROTOCOLS[name]
    if proto == "LINK":
        if name not in ETHER_PROTOCOLS:
            raise BPFError(f"unknown ether proto '{name}'")
        return ETHER_PROTOCOLS[name]
    if proto == "ISO":
        raise unsupported("OSI protocol names")
    raise BPFError(f"unknown protocol: {name}")
