"""The typed records of a pcapng file, and the option codec they share.

A pcapng file (draft-ietf-opsawg-pcapng) is a sequence of blocks. The reader (``_pcapng``) turns
them into the immutable records defined here; the writer (``_pcapng_writer``) turns headers and
these records back into blocks:

- ``Section``: one Section Header Block (byte order, version, shb_hardware/os/userappl, comments);
- ``Interface``: one Interface Description Block: link type, snapshot length, time-stamp
  resolution and offset, every option, and the Interface Statistics Blocks that referred to it;
- ``PacketOptions``: the options of one Enhanced (or obsolete) Packet Block;
- ``NameResolution``, ``InterfaceStatistics``, ``DecryptionSecrets`` and ``CustomBlock``;
- ``PcapngFileInfo``: everything above for a whole file, growing as the file is read (what a
  pcapng ``SavefileSource`` exposes as ``file_header``).

Options are kept twice: decoded into named fields, and raw as ``Option(code, value)`` tuples in
the section's byte order, so nothing a file carries is lost, not even options this module does
not know. Decoding follows spec §3.5: strings end at the first NUL and are decoded as UTF-8 with
invalid bytes replaced; an option whose value has the wrong length for its code is kept raw but
not decoded (the spec lets a reader ignore it). An option list whose framing is broken (an option
running past the end of its block) is a ``MalformedSavefileError``.

``PacketOptions`` decodes lazily: the reader hands it the block's option bytes and nothing is
parsed until a field is asked for, so packets whose options nobody reads cost one slice.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, dataclass, field
from typing import Callable, NamedTuple, Optional, Protocol, TypeVar, Union, cast, overload

from .._errors import MalformedSavefileError


@functools.lru_cache(maxsize=64)
def _layout(fmt: str) -> struct.Struct:
    """A ``struct.Struct`` for an option's value, made once per format and byte order."""
    return struct.Struct(fmt)


class BlockType(enum.IntEnum):
    """Block type codes (spec §10.1); the MSB-set range is for local use."""

    SECTION_HEADER = 0x0A0D0D0A
    INTERFACE_DESCRIPTION = 0x00000001
    PACKET = 0x00000002  # obsolete (spec appendix A)
    SIMPLE_PACKET = 0x00000003
    NAME_RESOLUTION = 0x00000004
    INTERFACE_STATISTICS = 0x00000005
    ENHANCED_PACKET = 0x00000006
    IRIG_TIMESTAMP = 0x00000007
    ARINC_429 = 0x00000008
    SYSTEMD_JOURNAL_EXPORT = 0x00000009
    DECRYPTION_SECRETS = 0x0000000A
    HONE_MACHINE_INFO = 0x00000101
    HONE_CONNECTION_EVENT = 0x00000102
    CUSTOM = 0x00000BAD
    CUSTOM_NO_COPY = 0x40000BAD


class CommonOption(enum.IntEnum):
    """Option codes valid in every block (spec §3.5)."""

    ENDOFOPT = 0
    COMMENT = 1
    CUSTOM_STRING = 2988
    CUSTOM_BINARY = 2989
    CUSTOM_STRING_NO_COPY = 19372
    CUSTOM_BINARY_NO_COPY = 19373


class SectionOption(enum.IntEnum):
    """Section Header Block options (spec §4.1)."""

    HARDWARE = 2
    OS = 3
    USERAPPL = 4


class InterfaceOption(enum.IntEnum):
    """Interface Description Block options (spec §4.2)."""

    NAME = 2
    DESCRIPTION = 3
    IPV4ADDR = 4
    IPV6ADDR = 5
    MACADDR = 6
    EUIADDR = 7
    SPEED = 8
    TSRESOL = 9
    TZONE = 10
    FILTER = 11
    OS = 12
    FCSLEN = 13
    TSOFFSET = 14
    HARDWARE = 15
    TXSPEED = 16
    RXSPEED = 17
    IANA_TZNAME = 18


class PacketOption(enum.IntEnum):
    """Enhanced Packet Block options (spec §4.3); the Packet Block shares codes 2 and 3."""

    FLAGS = 2
    HASH = 3
    DROPCOUNT = 4
    PACKETID = 5
    QUEUE = 6
    VERDICT = 7
    PROCESSID_THREADID = 8


class NameResolutionOption(enum.IntEnum):
    """Name Resolution Block options (spec §4.5)."""

    DNSNAME = 2
    DNS_IP4ADDR = 3
    DNS_IP6ADDR = 4


class NameRecordType(enum.IntEnum):
    """Name Resolution Block record types (spec §4.5)."""

    END = 0
    IPV4 = 1
    IPV6 = 2
    EUI48 = 3
    EUI64 = 4


class StatisticsOption(enum.IntEnum):
    """Interface Statistics Block options (spec §4.6)."""

    STARTTIME = 2
    ENDTIME = 3
    IFRECV = 4
    IFDROP = 5
    FILTERACCEPT = 6
    OSDROP = 7
    USRDELIV = 8


class SecretsType(enum.IntEnum):
    """Decryption Secrets Block secrets types (spec §4.7)."""

    TLS_KEY_LOG = 0x544C534B
    SSH_KEY_LOG = 0x5353484B
    WIREGUARD_KEY_LOG = 0x57474B4C
    ZIGBEE_NWK_KEY = 0x5A4E574B
    ZIGBEE_APS_KEY = 0x5A415053
    OPC_UA_KEY_LOG = 0x55414B4C
    ESP_SA = 0x45535053


class HashAlgorithm(enum.IntEnum):
    """epb_hash algorithms (spec §4.3)."""

    TWOS_COMPLEMENT = 0
    XOR = 1
    CRC32 = 2
    MD5 = 3
    SHA1 = 4
    TOEPLITZ = 5


class VerdictType(enum.IntEnum):
    """epb_verdict types (spec §4.3)."""

    HARDWARE = 0
    LINUX_EBPF_TC = 1
    LINUX_EBPF_XDP = 2


_CUSTOM_CODES = frozenset(
    {
        CommonOption.CUSTOM_STRING,
        CommonOption.CUSTOM_BINARY,
        CommonOption.CUSTOM_STRING_NO_COPY,
        CommonOption.CUSTOM_BINARY_NO_COPY,
    }
)
#: Custom options a rewriting program must not copy into a new file (spec §6.2).
NO_COPY_CODES = frozenset({CommonOption.CUSTOM_STRING_NO_COPY, CommonOption.CUSTOM_BINARY_NO_COPY})
_STRING_CUSTOM_CODES = frozenset({CommonOption.CUSTOM_STRING, CommonOption.CUSTOM_STRING_NO_COPY})

#: Block names for messages (libpcap spells out the IDB's; the rest follow suit).
BLOCK_NAMES: dict[int, str] = {
    BlockType.SECTION_HEADER: "Section Header Block",
    BlockType.INTERFACE_DESCRIPTION: "Interface Description Block",
    BlockType.PACKET: "Packet Block",
    BlockType.SIMPLE_PACKET: "Simple Packet Block",
    BlockType.NAME_RESOLUTION: "Name Resolution Block",
    BlockType.INTERFACE_STATISTICS: "Interface Statistics Block",
    BlockType.ENHANCED_PACKET: "Enhanced Packet Block",
    BlockType.DECRYPTION_SECRETS: "Decryption Secrets Block",
    BlockType.CUSTOM: "Custom Block",
    BlockType.CUSTOM_NO_COPY: "Custom Block",
}


class Option(NamedTuple):
    """One option as stored: its code and its value (unpadded, in the section's byte order)."""

    code: int
    value: bytes


class CustomOption(NamedTuple):
    """A custom option (spec §3.5.1): a Private Enterprise Number and the vendor's data."""

    code: int
    pen: int
    data: bytes

    @property
    def copyable(self) -> bool:
        """Whether a program rewriting the file may copy this option (codes 2988 and 2989)."""
        return self.code not in NO_COPY_CODES

    @property
    def text(self) -> Optional[str]:
        """The data as a string for the string codes (2988, 19372), else ``None``."""
        return decode_text(self.data) if self.code in _STRING_CUSTOM_CODES else None


class Hash(NamedTuple):
    """An epb_hash value: the algorithm (``HashAlgorithm``) and the digest bytes."""

    algorithm: int
    digest: bytes


class Verdict(NamedTuple):
    """An epb_verdict: its type (``VerdictType``), raw data and, for eBPF types, the number."""

    kind: int
    data: bytes
    value: Optional[int]


class NameRecord(NamedTuple):
    """One Name Resolution Block record: the address, as text, and the names given for it."""

    record_type: int
    address: str
    names: tuple[str, ...]


Timestamp = tuple[int, int]

#: The most options one block may hold (a few dozen in any real file).
MAX_OPTIONS = 65_536


def decode_text(value: bytes) -> str:
    """A pcapng string: up to the first NUL, UTF-8 with invalid bytes replaced (spec §3.5, §3.7)."""
    end = value.find(b"\0")
    if end >= 0:
        value = value[:end]
    return value.decode("utf-8", "replace")


def split_options(
    data: bytes, start: int, end: int, byte_order: str, offset: int, block_type: int
) -> tuple[Option, ...]:
    """The options in ``data[start:end]``; ``offset`` is the file offset of ``data[0]``.

    The list ends at opt_endofopt or at the end of the block (spec §3.5: a reader must not
    require opt_endofopt). The checks and their order are libpcap's for IDB options: every
    option's padded value must fit before its code is looked at, and opt_endofopt has length 0.
    """
    return tuple(
        Option(code, value)
        for code, value in walk_options(data, start, end, byte_order, offset, block_type)
    )


def walk_options(
    data: bytes,
    start: int,
    end: int,
    byte_order: str,
    offset: int,
    block_type: int,
    wanted: Optional[frozenset[int]] = None,
) -> list[tuple[int, bytes]]:
    """``(code, value)`` of the options in ``data[start:end]`` (only the ``wanted`` codes, if
    given), with ``split_options``' checks. More than ``MAX_OPTIONS`` options in one block is a
    ``MalformedSavefileError``: no writer makes them, and each would cost a Python object."""
    unpack = _OPTION_HEADERS[byte_order].unpack_from
    found: list[tuple[int, bytes]] = []
    position = start
    count = 0
    while position < end:
        if end - position < 4:
            _raise_too_short(block_type, offset + position)
        code, length = unpack(data, position)
        value_start = position + 4
        position = value_start + ((length + 3) & ~3)
        if position > end:
            _raise_too_short(block_type, offset + value_start - 4)
        if code == 0:  # opt_endofopt
            if length != 0:
                raise MalformedSavefileError(
                    f"{_block_name(block_type)} has opt_endofopt option with length {length} != 0",
                    offset=offset + value_start - 4,
                )
            break
        count += 1
        if count > MAX_OPTIONS:
            raise MalformedSavefileError(
                f"{_block_name(block_type)} has more than {MAX_OPTIONS} options "
                "(pcapy's limit)",
                offset=offset + value_start - 4,
            )
        if wanted is None or code in wanted:
            found.append((code, bytes(data[value_start : value_start + length])))
    return found


def checked_options(data: bytes, start: int, end: int, byte_order: str) -> tuple[Option, ...]:
    """``split_options`` of an option list that has already passed its checks."""
    unpack = _OPTION_HEADERS[byte_order].unpack_from
    make = Option._make
    options = []
    position = start
    while position < end:
        code, length = unpack(data, position)
        if code == 0:
            break
        value_start = position + 4
        options.append(make((code, data[value_start : value_start + length])))
        position = value_start + ((length + 3) & ~3)
    return tuple(options)


def custom_options(options: Sequence[Option], pen: struct.Struct) -> tuple[CustomOption, ...]:
    """The custom options long enough to hold their PEN (``pen``: a u32 Struct)."""
    return tuple(
        CustomOption(code, pen.unpack_from(value)[0], value[4:])
        for code, value in options
        if code in _CUSTOM_CODES and len(value) >= 4
    )


def _block_name(block_type: int) -> str:
    return BLOCK_NAMES.get(block_type, f"block of type {block_type}")


def _raise_too_short(block_type: int, offset: int) -> None:
    raise MalformedSavefileError(
        f"block of type {block_type} in pcapng dump file is too short", offset=offset
    )


_OPTION_HEADERS = {order: struct.Struct(f"{order}HH") for order in "<>"}


class OptionReader:
    """Decoded access to a block's raw options: first/all values, text, fixed-size numbers.

    The values are grouped by code on the first lookup (one pass over the options), so reading
    many fields of a block costs one pass, not one a field."""

    __slots__ = ("_by_code", "byte_order", "options")

    def __init__(self, options: tuple[Option, ...], byte_order: str) -> None:
        self.options = options
        self.byte_order = byte_order
        self._by_code: Optional[dict[int, list[bytes]]] = None

    def _values(self, code: int) -> list[bytes]:
        by_code = self._by_code
        if by_code is None:
            by_code = {}
            for option_code, value in self.options:
                values = by_code.get(option_code)
                if values is None:
                    by_code[option_code] = [value]
                else:
                    values.append(value)
            self._by_code = by_code
        return by_code.get(code, _NO_VALUES)

    def all(self, code: int) -> list[bytes]:
        """Every value of the options with this code, in file order."""
        return list(self._values(code))

    def first(self, code: int) -> Optional[bytes]:
        """The value of the first option with this code, or ``None``."""
        values = self._values(code)
        return values[0] if values else None

    def text(self, code: int) -> Optional[str]:
        """The first option with this code as a string."""
        value = self.first(code)
        return None if value is None else decode_text(value)

    def number(self, code: int, fmt: str) -> Optional[tuple[int, ...]]:
        """The first option with this code unpacked with ``fmt``, if its length is exactly right."""
        values = self._values(code)
        if not values:
            return None
        layout = _layout(self.byte_order + fmt)
        size = layout.size
        for value in values:
            if len(value) == size:
                return layout.unpack(value)
        return None

    def integer(self, code: int, fmt: str) -> Optional[int]:
        """The first option with this code as one integer of format ``fmt``."""
        values = self.number(code, fmt)
        return None if values is None else values[0]

    def comments(self) -> tuple[str, ...]:
        """Every opt_comment, as strings."""
        return tuple(decode_text(value) for value in self._values(CommonOption.COMMENT))

    def custom(self) -> tuple[CustomOption, ...]:
        """Every custom option long enough to hold its Private Enterprise Number."""
        if not self.options:
            return ()
        return custom_options(self.options, _layout(self.byte_order + "I"))


_NO_VALUES: list[bytes] = []


# Numeric fields inside option values, per option code, as struct formats (without the byte
# order). Values of options not listed are byte strings that read the same in either order.
# A value whose length does not match is left alone.
_SECTION_LAYOUTS: dict[int, str] = {}
_INTERFACE_LAYOUTS: dict[int, str] = {
    InterfaceOption.SPEED: "Q",
    InterfaceOption.TZONE: "hh",  # minutes east of UTC, then daylight-saving minutes (spec §4.2)
    InterfaceOption.TSOFFSET: "q",
    InterfaceOption.TXSPEED: "Q",
    InterfaceOption.RXSPEED: "Q",
}
_PACKET_LAYOUTS: dict[int, str] = {
    PacketOption.FLAGS: "I",
    PacketOption.DROPCOUNT: "Q",
    PacketOption.PACKETID: "Q",
    PacketOption.QUEUE: "I",
    PacketOption.PROCESSID_THREADID: "II",
}
_STATISTICS_LAYOUTS: dict[int, str] = {
    StatisticsOption.STARTTIME: "II",
    StatisticsOption.ENDTIME: "II",
    StatisticsOption.IFRECV: "Q",
    StatisticsOption.IFDROP: "Q",
    StatisticsOption.FILTERACCEPT: "Q",
    StatisticsOption.OSDROP: "Q",
    StatisticsOption.USRDELIV: "Q",
}
_NAME_RESOLUTION_LAYOUTS: dict[int, str] = {}
OPTION_LAYOUTS: dict[int, dict[int, str]] = {
    BlockType.SECTION_HEADER: _SECTION_LAYOUTS,
    BlockType.INTERFACE_DESCRIPTION: _INTERFACE_LAYOUTS,
    BlockType.ENHANCED_PACKET: _PACKET_LAYOUTS,
    BlockType.PACKET: _PACKET_LAYOUTS,
    BlockType.INTERFACE_STATISTICS: _STATISTICS_LAYOUTS,
    BlockType.NAME_RESOLUTION: _NAME_RESOLUTION_LAYOUTS,
}
_EBPF_VERDICTS = frozenset({VerdictType.LINUX_EBPF_TC, VerdictType.LINUX_EBPF_XDP})


def convert_option(block_type: int, option: Option, from_order: str, to_order: str) -> Option:
    """The option re-encoded from one byte order to another.

    Numbers the spec defines are converted; a custom option's PEN is converted but its data is
    opaque and left as it is (spec §6.4); options this module does not know are copied unchanged.
    """
    if from_order == to_order:
        return option
    code, value = option
    if code in _CUSTOM_CODES:
        return Option(code, _swap_prefix(value, "I", from_order, to_order))
    if block_type in (BlockType.ENHANCED_PACKET, BlockType.PACKET) and code == PacketOption.VERDICT:
        return Option(code, _convert_verdict(value, from_order, to_order))
    fmt = OPTION_LAYOUTS.get(block_type, {}).get(code)
    if fmt is not None and len(value) == struct.calcsize(fmt):
        return Option(code, _swap_prefix(value, fmt, from_order, to_order))
    return option


def _swap_prefix(value: bytes, fmt: str, from_order: str, to_order: str) -> bytes:
    size = struct.calcsize(fmt)
    if len(value) < size:
        return value
    fields = struct.unpack_from(from_order + fmt, value)
    return struct.pack(to_order + fmt, *fields) + value[size:]


def _convert_verdict(value: bytes, from_order: str, to_order: str) -> bytes:
    if len(value) == 9 and value[0] in _EBPF_VERDICTS:
        return value[:1] + _swap_prefix(value[1:], "Q", from_order, to_order)
    return value


def encode_options(options: list[Option], byte_order: str) -> bytes:
    """Options as stored in a block: each padded to 4 bytes, then opt_endofopt; empty if none."""
    if not options:
        return b""
    header = _OPTION_HEADERS[byte_order]
    parts = []
    for code, value in options:
        if len(value) > 0xFFFF:
            raise ValueError(f"option {code} is {len(value)} bytes long; the limit is 65535")
        parts.append(header.pack(code, len(value)) + value + bytes(-len(value) % 4))
    parts.append(header.pack(CommonOption.ENDOFOPT, 0))
    return b"".join(parts)


# The records the reader makes in bulk (sections, statistics, name resolution, secrets, custom
# blocks) are made undecoded: the reader checks the block (its option framing included) and
# stores the block's bytes with what else decoding needs as ``_pending``; the first read of any
# field decodes them all into the instance's ``__dict__``, where the dataclass's own methods
# (``__eq__``, ``__repr__``, ``__hash__``, pickling) and later reads find them. Each field's
# class attribute is a non-data descriptor (``_DecodedOnRead``): the instance's ``__dict__``
# comes first, so a decoded or constructed record reads its fields as any dataclass does. A
# file of many such blocks costs a small object per block while nobody reads them.
_PENDING = "_pending"
_R = TypeVar("_R")


class _DecodedOnRead:
    """A field of a record that may be undecoded: decodes the record when it is missing."""

    __slots__ = ("default", "name")

    def __init__(self, name: str, default: object) -> None:
        self.name = name
        self.default = default

    def __get__(self, record: object, owner: Optional[type] = None) -> object:
        if record is None:  # the class attribute: the default, as a dataclass has it
            if self.default is MISSING:
                raise AttributeError(self.name)
            return self.default
        state = record.__dict__
        pending = state.get(_PENDING)
        if pending is not None:  # (another thread may have decoded it meanwhile)
            state.update(pending[0](*pending[1:]))
            state.pop(_PENDING, None)
        try:
            return state[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


def _decoded_on_first_read(cls: type[_R]) -> type[_R]:
    """Class decorator (after ``@dataclass``): instances made by ``undecoded`` decode their
    fields when one is first read."""
    for name, spec in getattr(cls, "__dataclass_fields__").items():  # noqa: B009 - a dataclass
        setattr(cls, name, _DecodedOnRead(name, spec.default))
    return cls


def undecoded(cls: type[_R], decode: Callable[..., dict[str, object]], *arguments: object) -> _R:
    """A record of ``cls`` whose fields are ``decode(*arguments)``, decoded on first read."""
    record = cls.__new__(cls)
    record.__dict__[_PENDING] = (decode, *arguments)  # one tuple a record
    return record


@_decoded_on_first_read
@dataclass(frozen=True)
class Section:
    """A Section Header Block: the section's byte order, version and descriptive options."""

    index: int
    offset: int
    byte_order: str
    version_major: int
    version_minor: int
    section_length: int  # -1 when the writer did not say
    hardware: Optional[str] = None
    os: Optional[str] = None
    userappl: Optional[str] = None
    comments: tuple[str, ...] = ()
    custom_options: tuple[CustomOption, ...] = ()
    options: tuple[Option, ...] = ()

    @property
    def version(self) -> tuple[int, int]:
        """``(major, minor)``; readers treat 1.2 as 1.0 (spec §4.1)."""
        return (self.version_major, self.version_minor)


@_decoded_on_first_read
@dataclass(frozen=True)
class InterfaceStatistics:
    """An Interface Statistics Block; times are ``(sec, nsec)`` in the interface's clock."""

    interface_id: int
    section: int
    offset: int
    timestamp: Timestamp
    starttime: Optional[Timestamp] = None
    endtime: Optional[Timestamp] = None
    ifrecv: Optional[int] = None
    ifdrop: Optional[int] = None
    filteraccept: Optional[int] = None
    osdrop: Optional[int] = None
    usrdeliv: Optional[int] = None
    comments: tuple[str, ...] = ()
    custom_options: tuple[CustomOption, ...] = ()
    options: tuple[Option, ...] = ()


# [the Interface whose options were decoded last, their OptionReader]
_LAST_DECODED: list[object] = []


class Interface:
    """An Interface Description Block: one capture interface of one section.

    ``linktype`` is the LINKTYPE_ value stored in the file and ``dlt`` the DLT_ value a reader
    reports; ``snaplen`` is as stored (0 means "no limit") and ``snapshot`` the limit a reader
    enforces (libpcap's: 0 becomes the link type's maximum). ``tsresol`` counts time-stamp units
    per second (10**6 unless ``if_tsresol`` says otherwise; binary resolutions give powers of 2)
    and ``tsoffset`` is the ``if_tsoffset`` in seconds. ``statistics`` grows as Interface
    Statistics Blocks for the interface are read (within the file's metadata budget, see
    ``PcapngFileInfo``).

    Compact: the option bytes are kept as they are in the file and every option field (``name``,
    ``comments``, ``options``...) is decoded when it is read, so a section of many interfaces,
    or an interface of many options, costs what its bytes cost. Interfaces compare by identity:
    two IDBs are two interfaces even when they look alike.
    """

    __slots__ = ("__weakref__", "_option_bytes", "byte_order", "dlt", "id", "linktype", "offset",
                 "section", "snaplen", "snapshot", "statistics", "tsoffset", "tsresol")

    def __init__(
        self,
        id: int,
        section: int,
        offset: int,
        byte_order: str,
        linktype: int,
        dlt: int,
        snaplen: int,
        snapshot: int,
        tsresol: int = 1_000_000,
        tsoffset: int = 0,
        option_bytes: bytes = b"",
    ) -> None:
        self.id = id
        self.section = section
        self.offset = offset
        self.byte_order = byte_order
        self.linktype = linktype
        self.dlt = dlt
        self.snaplen = snaplen
        self.snapshot = snapshot
        self.tsresol = tsresol
        self.tsoffset = tsoffset
        self._option_bytes = option_bytes  # the block's options, from offset + 16
        self.statistics: list[InterfaceStatistics] = []

    @property
    def options(self) -> tuple[Option, ...]:
        """Every option as ``Option(code, value)``, in file order (decoded on each read)."""
        data = self._option_bytes
        return split_options(data, 0, len(data), self.byte_order, self.offset + 16,
                             BlockType.INTERFACE_DESCRIPTION)

    def _reader(self) -> OptionReader:
        # The fields of one interface are often read together (a repr, a program listing every
        # field): the last interface's decoded options are kept, so that reading its fields
        # costs one decoding, and nothing more is kept however many interfaces there are.
        last = _LAST_DECODED
        if last and last[0] is self:
            return cast(OptionReader, last[1])
        reader = OptionReader(self.options, self.byte_order)
        _LAST_DECODED[:] = [self, reader]
        return reader

    @property
    def name(self) -> Optional[str]:
        """if_name."""
        return self._reader().text(InterfaceOption.NAME)

    @property
    def description(self) -> Optional[str]:
        """if_description."""
        return self._reader().text(InterfaceOption.DESCRIPTION)

    @property
    def comments(self) -> tuple[str, ...]:
        """Every opt_comment."""
        return self._reader().comments()

    @property
    def ipv4_addresses(self) -> tuple[tuple[str, str], ...]:
        """if_IPv4addr values as ``(address, netmask)``."""
        return tuple(
            (format_address(NameRecordType.IPV4, v[:4]), format_address(NameRecordType.IPV4, v[4:]))
            for v in self._reader().all(InterfaceOption.IPV4ADDR)
            if len(v) == 8
        )

    @property
    def ipv6_addresses(self) -> tuple[tuple[str, int], ...]:
        """if_IPv6addr values as ``(address, prefix length)``."""
        return tuple(
            (format_address(NameRecordType.IPV6, v[:16]), v[16])
            for v in self._reader().all(InterfaceOption.IPV6ADDR)
            if len(v) == 17
        )

    def _hardware_address(self, code: int, size: int) -> Optional[str]:
        value = self._reader().first(code)
        if value is None or len(value) != size:
            return None
        return format_address(NameRecordType.EUI48, value)

    @property
    def mac_address(self) -> Optional[str]:
        """if_MACaddr."""
        return self._hardware_address(InterfaceOption.MACADDR, 6)

    @property
    def eui_address(self) -> Optional[str]:
        """if_EUIaddr."""
        return self._hardware_address(InterfaceOption.EUIADDR, 8)

    @property
    def speed(self) -> Optional[int]:
        """if_speed, bits per second."""
        return self._reader().integer(InterfaceOption.SPEED, "Q")

    @property
    def tzone(self) -> Optional[tuple[int, int]]:
        """if_tzone."""
        values = self._reader().number(InterfaceOption.TZONE, "hh")
        return None if values is None else (values[0], values[1])

    @property
    def filter(self) -> Optional[tuple[int, bytes]]:
        """if_filter as ``(kind, filter bytes)``."""
        value = self._reader().first(InterfaceOption.FILTER)
        return (value[0], value[1:]) if value else None

    @property
    def os(self) -> Optional[str]:
        """if_os."""
        return self._reader().text(InterfaceOption.OS)

    @property
    def fcslen(self) -> Optional[int]:
        """if_fcslen."""
        return self._reader().integer(InterfaceOption.FCSLEN, "B")

    @property
    def hardware(self) -> Optional[str]:
        """if_hardware."""
        return self._reader().text(InterfaceOption.HARDWARE)

    @property
    def txspeed(self) -> Optional[int]:
        """if_txspeed."""
        return self._reader().integer(InterfaceOption.TXSPEED, "Q")

    @property
    def rxspeed(self) -> Optional[int]:
        """if_rxspeed."""
        return self._reader().integer(InterfaceOption.RXSPEED, "Q")

    @property
    def iana_tzname(self) -> Optional[str]:
        """if_iana_tzname."""
        return self._reader().text(InterfaceOption.IANA_TZNAME)

    @property
    def custom_options(self) -> tuple[CustomOption, ...]:
        """Every custom option."""
        return self._reader().custom()

    def __repr__(self) -> str:
        name = self.name
        shown = f" {name!r}" if name else ""
        return (
            f"<Interface {self.id} of section {self.section}{shown} linktype={self.linktype} "
            f"snaplen={self.snaplen} tsresol={self.tsresol}>"
        )


class InterfaceSource(Protocol):
    """One section's interfaces as the reader keeps them: the first ``kept`` belong in
    ``PcapngFileInfo.interfaces``, each made on first use (one object whoever asks first)."""

    @property
    def kept(self) -> int: ...

    def interface(self, index: int) -> Interface: ...


class InterfaceList(Sequence[Interface]):
    """``PcapngFileInfo.interfaces``: every section's kept interfaces in file order, a sequence
    that grows as the file is read (an iterator sees the interfaces read after it started).

    The reader hands it each section's interfaces (``add_source``) and the ``Interface``
    objects are made when the list is first read past them: a flood of interfaces no one looks
    at costs no object a block. It compares equal to a list of the same interfaces. Threads
    reading it while another reads the file see every interface once, in order.
    """

    __slots__ = ("_lock", "_made", "_next_id", "_source_index", "_sources")

    def __init__(self) -> None:
        self._made: list[Interface] = []
        self._sources: list[InterfaceSource] = []
        self._source_index = 0  # the source being read from, at its interface _next_id
        self._next_id = 0
        self._lock = threading.Lock()

    def add_source(self, source: InterfaceSource) -> None:
        """A section's interfaces, after those of the sections before it."""
        self._sources.append(source)

    def _all(self) -> list[Interface]:
        """Every interface kept so far, made."""
        made, sources = self._made, self._sources
        with self._lock:
            while self._source_index < len(sources):
                source = sources[self._source_index]
                while self._next_id < source.kept:
                    made.append(source.interface(self._next_id))
                    self._next_id += 1
                if self._source_index + 1 == len(sources):
                    break
                self._source_index, self._next_id = self._source_index + 1, 0
        return made

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> Interface: ...

    @overload
    def __getitem__(self, index: slice) -> list[Interface]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Interface, list[Interface]]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Interface]:
        made = self._all()  # the same list each time, appended to under the lock
        index = 0
        while index < len(made) or index < len(self._all()):  # made past the end: read on
            yield made[index]
            index += 1

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InterfaceList):
            other = other._all()
        if not isinstance(other, list):
            return NotImplemented
        return self._all() == other

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return repr(self._all())

    def __reduce__(self) -> tuple[Callable[[list[Interface]], InterfaceList], tuple[object]]:
        """Pickled (and copied) as the interfaces kept so far."""
        return (_interface_list, (list(self._all()),))


def _interface_list(interfaces: list[Interface]) -> InterfaceList:
    """An ``InterfaceList`` of interfaces already made (an unpickled one)."""
    made = InterfaceList()
    made._made.extend(interfaces)
    return made


@_decoded_on_first_read
@dataclass(frozen=True)
class NameResolution:
    """A Name Resolution Block: address-to-name records and the DNS server that gave them."""

    section: int
    offset: int
    records: tuple[NameRecord, ...] = ()
    dns_name: Optional[str] = None
    dns_ipv4: Optional[str] = None
    dns_ipv6: Optional[str] = None
    comments: tuple[str, ...] = ()
    custom_options: tuple[CustomOption, ...] = ()
    options: tuple[Option, ...] = ()


@_decoded_on_first_read
@dataclass(frozen=True)
class DecryptionSecrets:
    """A Decryption Secrets Block: key material (``SecretsType`` says its format)."""

    section: int
    offset: int
    secrets_type: int
    data: bytes
    comments: tuple[str, ...] = ()
    custom_options: tuple[CustomOption, ...] = ()
    options: tuple[Option, ...] = ()


@_decoded_on_first_read
@dataclass(frozen=True)
class CustomBlock:
    """A Custom Block: a Private Enterprise Number and the vendor's data.

    ``data`` is everything after the PEN: only the vendor knows where its custom data ends and
    its options begin (spec §4.8).
    """

    section: int
    offset: int
    block_type: int
    pen: int
    data: bytes

    @property
    def copyable(self) -> bool:
        """Whether a program rewriting the file may copy this block (type 0x00000BAD)."""
        return self.block_type == BlockType.CUSTOM


@dataclass(eq=False)
class PcapngFileInfo:
    """What a pcapng file says besides its packets; the lists grow as the file is read.

    ``interfaces`` holds the interfaces of every section in file order (``Interface.section``
    and ``Interface.id`` say where each belongs); ``skipped_blocks`` counts, per block type, the
    blocks that were skipped because they carry nothing a packet reader uses (IRIG, ARINC 429,
    systemd journal, Hone, local-use and unknown types).

    Memory stays bounded whatever the file: records are kept while their estimated size fits a
    budget of 24 MiB a file (``_pcapng.METADATA_BUDGET``: tens of thousands of blocks, far more
    than real files hold). Past it, sections (but the first), interfaces, statistics, name
    resolution, secrets and custom blocks are still read, checked as libpcap checks them and
    applied (a section still resets the interfaces, an interface still describes its packets,
    which still name it in ``hdr.interface``), but not kept here: ``unkept_blocks`` counts
    them per block type.
    """

    sections: list[Section] = field(default_factory=list)
    interfaces: InterfaceList = field(default_factory=InterfaceList)
    statistics: list[InterfaceStatistics] = field(default_factory=list)
    name_resolution: list[NameResolution] = field(default_factory=list)
    secrets: list[DecryptionSecrets] = field(default_factory=list)
    custom_blocks: list[CustomBlock] = field(default_factory=list)
    skipped_blocks: dict[int, int] = field(default_factory=dict)
    unkept_blocks: dict[int, int] = field(default_factory=dict)

    @property
    def byte_order(self) -> str:
        """The first section's byte order, ``'<'`` or ``'>'``."""
        return self.sections[0].byte_order

    @property
    def version(self) -> tuple[int, int]:
        """The first section's version."""
        return self.sections[0].version


class PacketOptions:
    """The options of one packet block: comments, flags, hashes, drop count, ids, verdicts.

    Read from a file, the options are decoded on first access (a broken option list raises
    ``MalformedSavefileError`` then). ``PacketOptions(comments=["..."], flags=1, ...)`` builds a
    set to write; ``raw`` gives every option as ``Option(code, value)`` in ``byte_order``.
    """

    __slots__ = ("_block_type", "_byte_order", "_data", "_decoded", "_drops", "_offset", "_raw",
                 "from_file")

    def __init__(
        self,
        *,
        comments: Sequence[str] = (),
        flags: Optional[int] = None,
        hashes: Sequence[Hash] = (),
        dropcount: Optional[int] = None,
        packet_id: Optional[int] = None,
        queue: Optional[int] = None,
        verdicts: Sequence[Verdict] = (),
        process_id: Optional[int] = None,
        thread_id: Optional[int] = None,
        custom_options: Sequence[CustomOption] = (),
    ) -> None:
        # In the spec's order of codes, as a capture tool would write them.
        options = [Option(CommonOption.COMMENT, text.encode("utf-8")) for text in comments]
        options += _encode_numbers([(PacketOption.FLAGS, "<I", flags)])
        options += [Option(PacketOption.HASH, bytes([alg]) + digest) for alg, digest in hashes]
        options += _encode_numbers(
            [
                (PacketOption.DROPCOUNT, "<Q", dropcount),
                (PacketOption.PACKETID, "<Q", packet_id),
                (PacketOption.QUEUE, "<I", queue),
            ]
        )
        options += [Option(PacketOption.VERDICT, _encode_verdict(v)) for v in verdicts]
        if process_id is not None or thread_id is not None:
            ids = struct.pack("<II", process_id or 0, thread_id or 0)
            options.append(Option(PacketOption.PROCESSID_THREADID, ids))
        options += [Option(c.code, struct.pack("<I", c.pen) + c.data) for c in custom_options]
        self._init(None, "<", 0, BlockType.ENHANCED_PACKET, None, from_file=False)
        self._raw: Optional[tuple[Option, ...]] = tuple(options)

    def _init(
        self,
        data: Optional[bytes],
        byte_order: str,
        offset: int,
        block_type: int,
        drops: Optional[int],
        *,
        from_file: bool,
    ) -> None:
        self._data = data
        self._byte_order = byte_order
        self._offset = offset
        self._block_type = block_type
        self._drops = drops
        self._raw = None
        self._decoded: Optional[OptionReader] = None
        #: whether the options were read from a file (a rewriter drops their no-copy options)
        self.from_file = from_file

    @classmethod
    def from_block(
        cls,
        data: bytes,
        byte_order: str,
        offset: int,
        block_type: int = BlockType.ENHANCED_PACKET,
        drops: Optional[int] = None,
    ) -> PacketOptions:
        """Options to decode on demand from a block's option bytes (at file ``offset``).

        ``drops`` is an obsolete Packet Block's drops count, when the block gave one.
        """
        self = cls.__new__(cls)
        self._init(data, byte_order, offset, block_type, drops, from_file=True)
        return self

    @property
    def byte_order(self) -> str:
        """The byte order of the raw option values: the section's, or ``'<'`` when built."""
        return self._byte_order

    @property
    def raw(self) -> tuple[Option, ...]:
        """Every option as ``Option(code, value)``, in file order, opt_endofopt excluded."""
        if self._raw is None:
            data = self._data or b""
            self._raw = split_options(
                data, 0, len(data), self._byte_order, self._offset, self._block_type
            )
        return self._raw

    def _reader(self) -> OptionReader:
        reader = self._decoded
        if reader is None:  # (fields read one after another group the options once)
            reader = self._decoded = OptionReader(self.raw, self._byte_order)
        return reader

    @property
    def comments(self) -> list[str]:
        """Every opt_comment, in order."""
        return list(self._reader().comments())

    @property
    def flags(self) -> Optional[int]:
        """The epb_flags word (spec §4.3.1), or ``None``."""
        return self._reader().integer(PacketOption.FLAGS, "I")

    @property
    def direction(self) -> Optional[int]:
        """From the flags: 0 unknown, 1 inbound, 2 outbound."""
        flags = self.flags
        return None if flags is None else flags & 0x3

    @property
    def reception_type(self) -> Optional[int]:
        """From the flags: 0 unspecified, 1 unicast, 2 multicast, 3 broadcast, 4 promiscuous."""
        flags = self.flags
        return None if flags is None else (flags >> 2) & 0x7

    @property
    def fcs_length(self) -> Optional[int]:
        """From the flags: the FCS length in bytes (0 if not given)."""
        flags = self.flags
        return None if flags is None else (flags >> 5) & 0xF

    @property
    def hashes(self) -> list[Hash]:
        """Every epb_hash (at least the algorithm byte), in order."""
        return [Hash(v[0], v[1:]) for v in self._reader().all(PacketOption.HASH) if v]

    @property
    def dropcount(self) -> Optional[int]:
        """epb_dropcount, or an obsolete Packet Block's drops count."""
        count = self._reader().integer(PacketOption.DROPCOUNT, "Q")
        return self._drops if count is None else count

    @property
    def packet_id(self) -> Optional[int]:
        """epb_packetid."""
        return self._reader().integer(PacketOption.PACKETID, "Q")

    @property
    def queue(self) -> Optional[int]:
        """epb_queue."""
        return self._reader().integer(PacketOption.QUEUE, "I")

    @property
    def verdicts(self) -> list[Verdict]:
        """Every epb_verdict, in order; eBPF verdicts also give their number as ``value``."""
        return [
            _decode_verdict(value, self._byte_order)
            for value in self._reader().all(PacketOption.VERDICT)
            if value
        ]

    @property
    def process_id(self) -> Optional[int]:
        """From epb_processid_threadid: the process id."""
        ids = self._reader().number(PacketOption.PROCESSID_THREADID, "II")
        return None if ids is None else ids[0]

    @property
    def thread_id(self) -> Optional[int]:
        """From epb_processid_threadid: the thread id."""
        ids = self._reader().number(PacketOption.PROCESSID_THREADID, "II")
        return None if ids is None else ids[1]

    @property
    def custom_options(self) -> list[CustomOption]:
        """Every custom option, in order."""
        return list(self._reader().custom())

    def _normalized(self) -> tuple[tuple[Option, ...], Optional[int]]:
        """The options little-endian, grouped by code (repeated ones keep their order)."""
        block_type = self._block_type
        raw = [convert_option(block_type, o, self._byte_order, "<") for o in self.raw]
        return tuple(sorted(raw, key=lambda option: option.code)), self._drops

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PacketOptions):
            return self._normalized() == other._normalized()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._normalized())

    def __repr__(self) -> str:
        fields: list[tuple[str, Callable[[], object]]] = [
            ("comments", lambda: self.comments),
            ("flags", lambda: self.flags),
            ("hashes", lambda: self.hashes),
            ("dropcount", lambda: self.dropcount),
            ("packet_id", lambda: self.packet_id),
            ("queue", lambda: self.queue),
            ("verdicts", lambda: self.verdicts),
            ("process_id", lambda: self.process_id),
            ("thread_id", lambda: self.thread_id),
            ("custom_options", lambda: self.custom_options),
        ]
        shown = []
        for name, get in fields:
            value = get()
            if value not in (None, []):
                shown.append(f"{name}={value!r}")
        return f"PacketOptions({', '.join(shown)})"


def _encode_numbers(items: list[tuple[int, str, Optional[int]]]) -> list[Option]:
    return [
        Option(code, struct.pack(fmt, value)) for code, fmt, value in items if value is not None
    ]


def _encode_verdict(verdict: Verdict) -> bytes:
    if verdict.value is not None:
        return bytes([verdict.kind]) + struct.pack("<Q", verdict.value)
    return bytes([verdict.kind]) + verdict.data


def _decode_verdict(value: bytes, byte_order: str) -> Verdict:
    kind, data = value[0], value[1:]
    number = None
    if kind in _EBPF_VERDICTS and len(data) == 8:
        number = struct.unpack(byte_order + "Q", data)[0]
    return Verdict(kind, data, number)


def format_address(record_type: int, address: bytes) -> str:
    """An address from a name-resolution record or option as text (dotted, IPv6, or MAC/EUI)."""
    if record_type == NameRecordType.IPV4:
        return str(ipaddress.IPv4Address(address))
    if record_type == NameRecordType.IPV6:
        return str(ipaddress.IPv6Address(address))
    return ":".join(f"{byte:02x}" for byte in address)


# Public as pcapy.<name> (pcapy/__init__.py imports this module on first use of one of them).
for _cls in (CustomBlock, DecryptionSecrets, Interface, InterfaceStatistics, NameResolution,
             PacketOptions, PcapngFileInfo, Section):
    _cls.__module__ = "pcapy"
del _cls
