"""Pkthdr: one packet's time stamp and lengths, at the resolution its source recorded.

A header is an immutable ``tuple`` subclass holding ``(seconds, fraction, caplen, len)`` exactly as
the savefile or libpcap gave them, so the reader builds one with a single C call over the result of
``struct.unpack_from`` (the cheapest header object that still has methods; see
docs/performance.md). What the fraction counts is a property of the class, not of the instance:

- ``Pkthdr``: microseconds (classic pcap, libpcap's default live precision);
- ``NanoPkthdr``: nanoseconds (nanosecond pcap, nanosecond live capture, every pcapng packet);
- ``PcapngPkthdr``: nanoseconds plus the pcapng interface and the packet block's options.

Conversion happens only when asked: ``getts()`` gives pcapy's ``(sec, usec)``, ``getts_ns()``
gives ``(sec, nsec)`` and ``ts_ns`` an integer count of nanoseconds since the Epoch. Two headers
compare equal when their times (in nanoseconds) and lengths are equal, whatever their class.

Time fields are unsigned 32-bit values in a classic pcap file; a fraction outside the usual range
(a corrupt ``usec >= 10**6``) is kept as recorded, as libpcap does, rather than silently "fixed".
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Optional

from ._args import as_int

if TYPE_CHECKING:
    from ._savefile._pcapng_types import Interface, PacketOptions

_MAX_U32 = 0xFFFFFFFF
_MAX_SECONDS = (1 << 64) - 1


def _check_field(name: str, value: object, limit: int) -> int:
    value = as_int(f"Pkthdr {name}", value)  # a plain int, even from an int subclass
    if not 0 <= value <= limit:
        raise ValueError(f"Pkthdr {name} must be in 0..{limit}, got {value}")
    return value


class _HeaderType(type):
    """The metaclass of the headers: ``Pkthdr(...)`` validates its arguments here.

    The classes themselves keep tuple's own constructor, so the readers build a header with one
    C call, ``header_builder(cls)(fields)``, without this check (their fields are already valid).
    """

    def __call__(
        cls,
        sec: int = 0,
        usec: int = 0,
        caplen: int = 0,
        len: int = 0,
        *,
        nsec: Optional[int] = None,
    ) -> Pkthdr:
        sec = _check_field("sec", sec, _MAX_SECONDS)
        caplen = _check_field("caplen", caplen, _MAX_U32)
        len = _check_field("len", len, _MAX_U32)
        if nsec is None:
            return _build_usec((sec, _check_field("usec", usec, 999_999), caplen, len))
        if usec:
            raise ValueError("give either usec or nsec, not both")
        return _build_nsec((sec, _check_field("nsec", nsec, 999_999_999), caplen, len))


class Pkthdr(tuple, metaclass=_HeaderType):  # type: ignore[type-arg]
    """A packet header: time stamp, captured length and length on the wire.

    ``Pkthdr(sec, usec, caplen, len)`` builds one (pcapy could not); ``Pkthdr(sec, caplen=...,
    len=..., nsec=...)`` builds a nanosecond one. Instances are immutable; ``replace()`` returns a
    changed copy. pcapy's accessors ``getts()``, ``getcaplen()`` and ``getlen()`` work as before.
    """

    __slots__ = ()
    #: how many units of the stored fraction make one second
    units_per_second: ClassVar[int] = 1_000_000

    if TYPE_CHECKING:  # the constructor is _HeaderType.__call__; this is its signature
        def __new__(cls, sec: int = 0, usec: int = 0, caplen: int = 0, len: int = 0, *,
                    nsec: Optional[int] = None) -> Pkthdr: ...

    # pcapy's accessors -------------------------------------------------------------------
    def getts(self) -> tuple[int, int]:
        """The time stamp as ``(seconds, microseconds)`` since the Epoch (pcapy's form)."""
        return (self[0], self[1])

    def getcaplen(self) -> int:
        """How many bytes of the packet were captured (the length of the data)."""
        return self[2]  # type: ignore[no-any-return]

    def getlen(self) -> int:
        """The packet's length on the wire, which may exceed ``getcaplen()``."""
        return self[3]  # type: ignore[no-any-return]

    # extensions --------------------------------------------------------------------------
    def getts_ns(self) -> tuple[int, int]:
        """The time stamp as ``(seconds, nanoseconds)``, at full resolution."""
        return (self[0], self[1] * 1000)

    sec = property(operator.itemgetter(0), doc="Seconds since the Epoch.")
    caplen = property(operator.itemgetter(2), doc="Captured length (same as getcaplen()).")
    len = property(operator.itemgetter(3), doc="Length on the wire (same as getlen()).")

    @property
    def usec(self) -> int:
        """The fraction of the second in microseconds (truncated for nanosecond headers)."""
        return self.getts()[1]

    @property
    def nsec(self) -> int:
        """The fraction of the second in nanoseconds."""
        return self.getts_ns()[1]

    @property
    def ts_ns(self) -> int:
        """The time stamp as one integer: nanoseconds since the Epoch."""
        sec, nsec = self.getts_ns()
        return sec * 1_000_000_000 + nsec

    @property
    def timestamp(self) -> float:
        """The time stamp as a float of seconds (lossy: use ``ts_ns`` for exact arithmetic)."""
        sec, nsec = self.getts_ns()
        return sec + nsec / 1e9

    @property
    def interface(self) -> Optional[Interface]:
        """The pcapng interface the packet was captured on; ``None`` outside pcapng."""
        return None

    @property
    def options(self) -> Optional[PacketOptions]:
        """The pcapng packet block's options (comments, flags, ...); ``None`` outside pcapng."""
        return None

    @property
    def comment(self) -> Optional[str]:
        """The packet's first pcapng comment, or ``None``."""
        options = self.options
        return options.comments[0] if options and options.comments else None

    def replace(self, **changes: int) -> Pkthdr:
        """A copy with some of ``sec``, ``usec`` or ``nsec``, ``caplen`` and ``len`` changed.

        The copy keeps nanosecond resolution if the original had it or ``nsec`` is given; pcapng
        interface and options are not carried over.
        """
        unknown = set(changes) - {"sec", "usec", "nsec", "caplen", "len"}
        if unknown:
            raise TypeError(f"replace() got unexpected field(s): {', '.join(sorted(unknown))}")
        sec = changes.get("sec", self[0])
        caplen = changes.get("caplen", self[2])
        length = changes.get("len", self[3])
        if "usec" in changes:
            return Pkthdr(sec, changes["usec"], caplen, length, nsec=changes.get("nsec"))
        if "nsec" in changes or self.units_per_second != 1_000_000:
            nsec = changes.get("nsec", self.getts_ns()[1])
            return Pkthdr(sec, caplen=caplen, len=length, nsec=nsec)
        return Pkthdr(sec, self[1], caplen, length)

    # value semantics ---------------------------------------------------------------------
    def _key(self) -> tuple[int, int, int, int]:
        sec, nsec = self.getts_ns()
        return (sec, nsec, self[2], self[3])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Pkthdr):
            return self._key() == other._key()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, Pkthdr):
            return self._key() != other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        sec, frac = self[0], self[1]
        unit = "usec" if self.units_per_second == 1_000_000 else "nsec"
        return f"Pkthdr(sec={sec}, {unit}={frac}, caplen={self[2]}, len={self[3]})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (make_header, (type(self), tuple(self)))


class NanoPkthdr(Pkthdr):
    """A header whose fraction counts nanoseconds (``getts()`` still gives microseconds)."""

    __slots__ = ()
    units_per_second: ClassVar[int] = 1_000_000_000

    def getts(self) -> tuple[int, int]:
        """The time stamp as ``(seconds, microseconds)``: the nanoseconds truncated, as libpcap."""
        return (self[0], self[1] // 1000)

    def getts_ns(self) -> tuple[int, int]:
        """The time stamp as ``(seconds, nanoseconds)``."""
        return (self[0], self[1])


class PcapngPkthdr(NanoPkthdr):
    """A pcapng packet's header: ``(sec, nsec, caplen, len, interface, options)``."""

    __slots__ = ()

    @property
    def interface(self) -> Optional[Interface]:
        """The Interface Description Block the packet refers to."""
        return self[4]  # type: ignore[no-any-return]

    @property
    def options(self) -> Optional[PacketOptions]:
        """The packet block's options, or ``None`` when it had none."""
        return self[5]  # type: ignore[no-any-return]


#: A packet as every engine delivers it: its header and its captured bytes.
Packet = tuple[Pkthdr, bytes]


def header_builder(cls: type[Pkthdr]) -> Callable[[tuple[Any, ...]], Pkthdr]:
    """A function building a header of ``cls`` from already-validated fields: one C call.

    It is ``type.__call__`` bound to ``cls``, which runs tuple's constructor and skips the
    validating ``_HeaderType.__call__`` (``tuple.__new__(cls, fields)`` costs a third more).
    """
    return type.__call__.__get__(cls)  # type: ignore[no-any-return]


def make_header(cls: type[Pkthdr], fields: tuple[Any, ...]) -> Pkthdr:
    """Build a header of ``cls`` from already-validated fields."""
    return header_builder(cls)(fields)


_build_usec = header_builder(Pkthdr)
_build_nsec = header_builder(NanoPkthdr)
