"""Writing pcapng: a Section Header Block, Interface Description Blocks, Enhanced Packet Blocks.

A ``PcapngWriter`` owns no file; it is handed a binary stream's ``write`` and calls it once per
block, so an interruption can never leave half a block behind. The file is little-endian, one
section (version 1.0, ``shb_userappl`` "pcapy"), and starts with the default interface: the
dumper's link type and snapshot length, with microsecond (``if_tsresol`` 6) or nanosecond
(``if_tsresol`` 9) time stamps.

Interfaces are written as packets need them, so no time stamp loses precision and no packet
loses its interface:

- a packet read from pcapng carries its source ``Interface``; each distinct source interface
  gets its own IDB the first time one of its packets is written, with the same link type,
  snapshot length, options, ``if_tsresol`` and ``if_tsoffset``. The reader turned the
  interface's time-stamp units into nanoseconds by truncation; for resolutions of a
  nanosecond or coarser that is undone exactly (the units are the nanoseconds times the
  resolution, rounded up), so a copy has the original's time stamps bit for bit. Finer
  resolutions, and times the source's units cannot express, are written in nanoseconds;
- any other header is written on the default interface, or, if the header is finer than the
  default (a nanosecond header in a microsecond file), on a nanosecond twin of it.

A packet's options (comments, flags, hashes, ...) are written with it, converted to little-endian
where the spec defines their numbers. Custom options marked "do not copy" (spec §6.2) are left
out when they came from another file. Data shorter than the header's caplen is written as it is,
with the caplen corrected; longer data is cut at caplen.
"""

from __future__ import annotations

import struct
from typing import Callable, NamedTuple, Optional, Union

from .._errors import PcapError
from .._pkthdr import NanoPkthdr, Pkthdr
from ._linktype import dlt_to_linktype
from ._pcapng_types import (
    NO_COPY_CODES,
    BlockType,
    Interface,
    InterfaceOption,
    Option,
    PacketOptions,
    SectionOption,
    convert_option,
    encode_options,
)

BytesLike = Union[bytes, bytearray, memoryview]

BYTE_ORDER = "<"
USERAPPL = "pcapy"
_MAX_U64 = (1 << 64) - 1
_NS = 1_000_000_000
_NOT_COPIED = frozenset({InterfaceOption.TSRESOL, InterfaceOption.TSOFFSET})

_BLOCK_HEAD = struct.Struct("<II")
_SHB_FIXED = struct.Struct("<IHHq")
_IDB_FIXED = struct.Struct("<HHI")
_EPB_FIXED = struct.Struct("<IIIII")
_TRAILER = struct.Struct("<I")
_EPB_HEAD = struct.Struct("<7I")  # block type, total length, then the EPB's fixed fields
_PADDING = (b"", b"\0", b"\0\0", b"\0\0\0")


def build_block(block_type: int, body: bytes) -> bytes:
    """A whole block: type, total length, the body padded to 4 bytes, total length again."""
    body += bytes(-len(body) % 4)
    length = len(body) + 12
    return _BLOCK_HEAD.pack(block_type, length) + body + _TRAILER.pack(length)


def build_section_header() -> bytes:
    """The Section Header Block this writer starts a file with."""
    options = [Option(SectionOption.USERAPPL, USERAPPL.encode())]
    body = _SHB_FIXED.pack(0x1A2B3C4D, 1, 0, -1) + encode_options(options, BYTE_ORDER)
    return build_block(BlockType.SECTION_HEADER, body)


def build_interface(
    linktype: int, snaplen: int, options: list[Option], resolution: int, offset: int = 0
) -> bytes:
    """An Interface Description Block: ``options``, then if_tsresol and (if any) if_tsoffset."""
    clock = [Option(InterfaceOption.TSRESOL, bytes([tsresol_code(resolution)]))]
    if offset:
        clock.append(Option(InterfaceOption.TSOFFSET, struct.pack("<q", offset)))
    body = _IDB_FIXED.pack(linktype, 0, snaplen) + encode_options([*options, *clock], BYTE_ORDER)
    return build_block(BlockType.INTERFACE_DESCRIPTION, body)


def tsresol_code(resolution: int) -> int:
    """The if_tsresol byte for ``resolution`` units per second (10**k or 2**k)."""
    exponent = 0
    while 10**exponent < resolution:
        exponent += 1
    if 10**exponent == resolution:
        return exponent
    if resolution & (resolution - 1) == 0:
        return 0x80 | (resolution.bit_length() - 1)
    raise ValueError(f"{resolution} units per second is neither a power of 10 nor of 2")


def copied_interface_options(interface: Interface) -> list[Option]:
    """A source interface's options as a copy writes them (little-endian, see module doc)."""
    return [
        convert_option(BlockType.INTERFACE_DESCRIPTION, option, interface.byte_order, BYTE_ORDER)
        for option in interface.options
        if option.code not in _NOT_COPIED and option.code not in NO_COPY_CODES
    ]


def packet_options(options: Optional[PacketOptions]) -> list[Option]:
    """A packet's options as written: little-endian; from a file, without no-copy ones."""
    if options is None:
        return []
    block_type = BlockType.ENHANCED_PACKET
    return [
        convert_option(block_type, option, options.byte_order, BYTE_ORDER)
        for option in options.raw
        if not (options.from_file and option.code in NO_COPY_CODES)
    ]


def build_enhanced_packet(
    interface_id: int, units: int, caplen: int, length: int, data: BytesLike, options: bytes
) -> bytes:
    """An Enhanced Packet Block (``units``: time stamp in the interface's resolution)."""
    fixed = _EPB_FIXED.pack(interface_id, units >> 32, units & 0xFFFFFFFF, caplen, length)
    return build_block(
        BlockType.ENHANCED_PACKET, fixed + bytes(data) + bytes(-caplen % 4) + options
    )


class _OutputInterface(NamedTuple):
    """An IDB of the output file: its id and its clock (units per second, offset in seconds)."""

    id: int
    resolution: int
    offset: int


_InterfaceKey = tuple[Optional[Interface], int, int]  # source interface, resolution, offset
# An output interface for a packet: its key, the interface, and its IDB if not yet written.
_Placement = tuple[_InterfaceKey, _OutputInterface, bytes]


class PcapngWriter:
    """Writes pcapng (one little-endian section) for the ``Dumper``."""

    file_format = "pcapng"

    def __init__(
        self, write: Callable[[bytes], object], dlt: int, snaplen: int, *, nanosecond: bool
    ) -> None:
        linktype = dlt_to_linktype(dlt)
        if linktype < 0:
            raise ValueError(f"link type {dlt} has no LINKTYPE_ value to store in a file")
        self._write = write
        self.dlt = dlt
        self.snaplen = snaplen
        self.nanosecond = nanosecond
        self._linktype = linktype
        self._default_resolution = _NS if nanosecond else 1_000_000
        #: the header class whose packets go on the default interface (id 0) as they are
        self._plain_header = NanoPkthdr if nanosecond else Pkthdr
        # (source Interface or None, resolution, offset) -> the IDB written for it
        self._interfaces: dict[_InterfaceKey, _OutputInterface] = {}
        # The default interface is written at once, so that even an empty file can be read.
        key, interface, block = self._interface(None, self._default_resolution, 0)
        write(build_section_header() + block)
        self._interfaces[key] = interface

    def write_packet(self, hdr: Pkthdr, data: BytesLike) -> None:
        """Append one packet as an Enhanced Packet Block (writing its IDB first if new)."""
        # Fast path: a header with no pcapng interface or options, at the file's resolution,
        # and bytes of exactly caplen (copying from a classic pcap reader): one pack, one join.
        if (type(hdr) is self._plain_header and type(data) is bytes
                and len(data) == hdr[2]):
            units = hdr[0] * self._default_resolution + hdr[1]
            if units <= _MAX_U64:
                caplen = hdr[2]
                padding = -caplen % 4
                total = 32 + caplen + padding
                self._write(b"".join((
                    _EPB_HEAD.pack(BlockType.ENHANCED_PACKET, total, 0, units >> 32,
                                   units & 0xFFFFFFFF, caplen, hdr[3]),
                    data, _PADDING[padding], _TRAILER.pack(total),
                )))
                return
        self._write_packet(hdr, data)

    def _write_packet(self, hdr: Pkthdr, data: BytesLike) -> None:
        (key, interface, new_interface_block), units = self._place(hdr)
        caplen = hdr[2]
        if len(data) != caplen:
            if len(data) < caplen:
                caplen = len(data)  # write what there is, and say so in the header
            else:
                data = data[:caplen]
        options = encode_options(packet_options(hdr.options), BYTE_ORDER)
        block = build_enhanced_packet(interface.id, units, caplen, hdr[3], data, options)
        if not new_interface_block:
            self._write(block)
            return
        # A new interface's block goes out with its first packet, in one write, and counts as
        # written only if that write completes: an interruption cannot renumber interfaces.
        self._interfaces[key] = interface
        try:
            self._write(new_interface_block + block)
        except BaseException:
            del self._interfaces[key]
            raise

    def _place(self, hdr: Pkthdr) -> tuple[_Placement, int]:
        """The interface a header is written on, and its time stamp in that interface's units."""
        seconds, fraction = int(hdr[0]), int(hdr[1])
        source = hdr.interface
        if source is None:
            resolution = max(self._default_resolution, hdr.units_per_second)
            placement = self._interface(None, resolution, 0)
            units = seconds * resolution + fraction * resolution // hdr.units_per_second
            return placement, _checked_units(units, seconds, fraction, resolution)
        resolution, offset = source.tsresol, source.tsoffset
        exact = _source_units(seconds - offset, fraction, resolution)
        if exact is not None and 0 <= exact <= _MAX_U64:
            units = exact
        else:  # not exact in the source's units, or out of their range: nanoseconds
            resolution = _NS
            units = (seconds - offset) * _NS + fraction
        placement = self._interface(source, resolution, offset)
        return placement, _checked_units(units, seconds, fraction, resolution)

    def _interface(self, source: Optional[Interface], resolution: int, offset: int) -> _Placement:
        """The output interface for a source; a new one comes with its block, still unwritten."""
        key = (source, resolution, offset)
        interface = self._interfaces.get(key)
        if interface is not None:
            return key, interface, b""
        if source is None:
            block = build_interface(self._linktype, self.snaplen, [], resolution, offset)
        else:
            options = copied_interface_options(source)
            block = build_interface(source.linktype, source.snaplen, options, resolution, offset)
        return key, _OutputInterface(len(self._interfaces), resolution, offset), block


def _source_units(seconds: int, nanoseconds: int, resolution: int) -> Optional[int]:
    """The time in the source interface's units, if the nanoseconds came from them exactly.

    The reader truncated ``units * 10**9 / resolution`` to nanoseconds; for resolutions up to
    10**9 rounding back up recovers the units, and the check says whether it did.
    """
    if resolution > _NS:
        return None
    fraction = -((-nanoseconds * resolution) // _NS)
    if fraction >= resolution or fraction * _NS // resolution != nanoseconds:
        return None
    return seconds * resolution + fraction


def _checked_units(units: int, seconds: int, fraction: int, resolution: int) -> int:
    if not 0 <= units <= _MAX_U64:
        raise PcapError(
            f"time stamp {seconds}.{fraction} does not fit a pcapng block "
            f"(64-bit count of 1/{resolution} s)"
        )
    return units
