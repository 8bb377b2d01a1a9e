"""A filter on a pcapng file: one program per link type (and byte order) of its interfaces.

A BPF program reads a packet from its link-layer header on, so it is compiled for one link
type. libpcap refuses a pcapng file whose interfaces have different link types (it stops at the
first Interface Description Block whose link type differs from the first one's), so tcpdump
compiles a filter once, for the first interface. pcapy reads such files to the end: a filter
set with an expression (``Reader.setfilter("tcp")``) is compiled again for every other link
type the file's interfaces have, the first time a packet of that link type is read, and each
packet is run through the program of its own interface's link type.

The byte order counts too: libpcap's code generator has savefile rules that depend on it
(DLT_NULL's address family is compared swapped in a file of the other byte order), and every
pcapng section has its own. A program is therefore kept per *link key*, the link type and
whether the interface's section is in the other byte order than this machine's
(``link_key``); the program ``setfilter`` compiled is the first section's first interface's.

Where the expression cannot be compiled for a later link type (``ether host ...`` on a raw IP
interface), that link type's packets are rejected, and a ``PcapWarning`` says so once, with the
compiler's reason: no packet of that link type can satisfy an expression libpcap cannot even
express there, and the verdict must not depend on how far the file had been read when the
filter was set. (A program given as a ``BPFProgram`` has no expression to compile again: it
runs on packets of its own link type, in every section, and rejects the others, quietly.)

A link key is compiled the first time a packet of it reaches the careful path: the record loop
looks up ``functions`` and leaves a packet of a link key not there yet to ``accepts``. Nothing
raised there may escape the read half done, so the warning, when a warnings filter makes it an
error, is shown rather than raised (``_warn_in_a_read``).
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Callable, Optional

from .._constants import datalink_name
from .._errors import PcapError, PcapWarning

if TYPE_CHECKING:
    from .._bpf import BPFProgram
    from .._pkthdr import Pkthdr
    from .._source import LinkTypeCompiler
    from ._pcapng_types import Interface

InPlaceFilter = Callable[[bytes, int, int, int], int]  # (buffer, start, caplen, len) -> verdict

_HOST_ORDER = "<" if sys.byteorder == "little" else ">"
_SWAPPED = 1 << 32  # above every DLT (a 32-bit value)
#: Link types a filter warns about one by one; past them, one warning says the rest are
#: rejected too (a hostile file may describe thousands: its warnings stay a few lines).
MAX_WARNINGS = 8


def link_key(dlt: int, swapped: bool) -> int:
    """An interface's link type and byte order as one int (the record loop compares them)."""
    return dlt | _SWAPPED if swapped else dlt


def _reject(_buffer: bytes, _start: int, _caplen: int, _wire_length: int) -> int:
    return 0


def _warn_in_a_read(message: str) -> None:
    """A ``PcapWarning`` issued in the middle of a read. Where a warnings filter turns it into
    an error, it is shown instead of raised: an exception there would leave the read half done
    (blocks consumed, a generator ended), and the verdict it announces is already given."""
    try:
        warnings.warn(message, PcapWarning, stacklevel=4)
    except PcapWarning as raised:
        warnings.showwarning(raised, PcapWarning, __file__, 0)


class LinkPrograms:
    """A filter's programs by link key: the one it was set with, and those compiled since.

    ``functions`` maps a link key to the program's in-place function (a function that rejects
    everything where there is no program); the record loop looks there, and ``accepts`` (the
    careful path) fills it in for a link key not seen before. ``refused`` counts the link keys
    the expression could not be compiled for.
    """

    __slots__ = ("_compile_for_link", "accept", "first_link", "functions", "program", "refused")

    def __init__(
        self,
        program: BPFProgram,
        first_swapped: bool,
        compile_for_link: Optional[LinkTypeCompiler],
    ) -> None:
        self.program = program
        self.accept: InPlaceFilter = program.in_place_function
        self.first_link = link_key(program.linktype, first_swapped)
        self.functions: dict[int, InPlaceFilter] = {self.first_link: self.accept}
        self.refused = 0
        self._compile_for_link = compile_for_link

    def function_for(self, interface: Interface) -> InPlaceFilter:
        """The in-place function of ``interface``'s link type, compiled when first asked for."""
        swapped = interface.byte_order != _HOST_ORDER
        key = link_key(interface.dlt, swapped)
        function = self.functions.get(key)
        if function is None:
            function = self.functions[key] = self._compile(interface, swapped)
        return function

    def _compile(self, interface: Interface, swapped: bool) -> InPlaceFilter:
        if self._compile_for_link is None:  # a program, not an expression: its own link type
            if interface.dlt == self.program.linktype:
                return self.accept
            return _reject
        try:
            program = self._compile_for_link(interface.dlt, interface.snapshot, swapped)
        except PcapError as err:  # BPFError: the expression means nothing on this link type
            self._refuse(interface, str(err))
            return _reject
        if program == self.program:  # the same instructions (most link types, either order)
            return self.accept
        return program.in_place_function

    def _refuse(self, interface: Interface, reason: str) -> None:
        """Say (within ``MAX_WARNINGS``) that a link type's packets are rejected, and why."""
        self.refused += 1
        if self.refused <= MAX_WARNINGS:
            _warn_in_a_read(
                f"the filter cannot be compiled for link type {datalink_name(interface.dlt)} "
                f"(pcapng interface {interface.id} of section {interface.section}): {reason}; "
                "its packets are rejected"
            )
        elif self.refused == MAX_WARNINGS + 1:
            _warn_in_a_read(
                f"the filter cannot be compiled for more than {MAX_WARNINGS} of the file's link "
                "types; the packets of those met from now on are rejected without a warning each"
            )

    def accepts(self, packet: tuple[Pkthdr, bytes]) -> bool:
        """Whether the program of the packet's interface accepts it (the slow path's check)."""
        header, data = packet
        interface = header.interface
        if interface is None:  # not a pcapng packet: never given one
            return False
        return bool(self.function_for(interface)(data, 0, len(data), header.getlen()))
