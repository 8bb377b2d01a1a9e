"""pcapy-ng 2.x's classify-and-admit loops: ``loop_filtered``, ``loop_to_buffer``,
``filtered_stats``.

pcapy-ng classifies each packet in C and hands Python only the classes a caller admits. Here the
same classification runs in Python over the reader's own ``loop()`` (so a filter set with
``setfilter`` applies first, a live reader waits as ``loop()`` waits, and ``breakloop()`` ends
it); the results are pcapy-ng's, the speed is that of any Python callback.

Two classifiers, chosen by ``profile``; each returns a class *index*, which selects a bit of
``admit_mask`` and a counter; the class id handed to the callback is the index, plus 100 for the
security profile:

- generic (0): 0 OTHER, 1 FLOW_HEAD (among the first ``flow_cutoff`` packets of its TCP/UDP
  flow), 2 SET_MATCH (source or destination address in ``addr_set``).
- security (1): 0 DNS (either port is ``dns_port``), 1 DPI (TCP carrying payload on one of
  ``dpi_ports``), 2 noise, 3 IOC (address in ``addr_set``, any protocol), 4 HEAD (a noise
  packet among the first ``flow_cutoff`` of its flow on one of ``tls_ports``), 5 SYN (a pure
  SYN).

Both find the IPv4 header at ``l2_offset``, skipping up to two 802.1Q/802.1ad tags, and read
only the captured bytes. ``addr_set`` is packed 4-byte network-order addresses (0.0.0.0 never
matches). Flows are directional 5-tuples, counted in a table of at most 2**20 flows (the oldest
is forgotten first: its next packet starts a new flow, as in pcapy-ng's table).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ._args import as_c_int, as_int

GENERIC, SECURITY = 0, 1
SECURITY_BASE = 100
CLASSES = {GENERIC: 3, SECURITY: 6}
DEFAULT_DPI_PORTS = frozenset((80, 8080, 3128, 8000, 8118, 1080))
DEFAULT_TLS_PORTS = frozenset((443,))
MAX_FLOWS = 1 << 20
MAX_L2_OFFSET = 64
_VLAN_TPIDS = (b"\x81\x00", b"\x88\xa8")
_MAX_VLAN_TAGS = 2
_TCP, _UDP = 6, 17
_PURE_SYN = 0x02
_NO_ADDRESS = b"\x00\x00\x00\x00"
_SLOT_HEADER = struct.Struct("<IB")  # loop_to_buffer: caplen (little-endian u32), class id

# security classes, by index
_DNS, _DPI, _NOISE, _IOC, _HEAD, _SYN = range(6)
# generic classes, by index
_OTHER, _FLOW_HEAD, _SET_MATCH = range(3)

ClassCallback = Callable[[Any, bytes, int], object]


@dataclass(frozen=True)
class ClassifierConfig:
    """The classification a ``loop_filtered``/``loop_to_buffer`` call asked for."""

    admit_mask: int
    addresses: frozenset[bytes]
    flow_cutoff: int
    dpi_ports: frozenset[int]
    tls_ports: frozenset[int]
    dns_port: int
    l2_offset: int
    profile: int

    @property
    def class_base(self) -> int:
        """What is added to a class index to make the id the callback sees."""
        return SECURITY_BASE if self.profile == SECURITY else 0


def make_config(
    admit_mask: object = 7,
    addr_set: object = b"",
    flow_cutoff: object = 0,
    dpi_ports: object = None,
    tls_ports: object = None,
    dns_port: object = 53,
    l2_offset: object = 14,
    profile: object = 0,
) -> ClassifierConfig:
    """Check and convert the arguments as pcapy-ng's parser does (integers as its ``i``)."""
    offset = as_c_int("l2_offset", l2_offset)
    if not 0 <= offset <= MAX_L2_OFFSET:
        raise ValueError(f"l2_offset out of range [0,{MAX_L2_OFFSET}]")
    chosen = as_c_int("profile", profile)
    if chosen not in CLASSES:
        raise ValueError("profile must be 0 (generic) or 1 (security)")
    return ClassifierConfig(
        admit_mask=as_c_int("admit_mask", admit_mask),
        addresses=_address_set(addr_set),
        flow_cutoff=max(as_c_int("flow_cutoff", flow_cutoff), 0),
        dpi_ports=_ports("dpi_ports", dpi_ports, DEFAULT_DPI_PORTS),
        tls_ports=_ports("tls_ports", tls_ports, DEFAULT_TLS_PORTS),
        dns_port=as_c_int("dns_port", dns_port) & 0xFFFF,
        l2_offset=offset,
        profile=chosen,
    )


def _address_set(addr_set: object) -> frozenset[bytes]:
    if addr_set is None:
        return frozenset()
    if isinstance(addr_set, str):
        raise TypeError("addr_set must be a bytes-like object, not str")
    try:
        packed = memoryview(addr_set).cast("B").tobytes()  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"addr_set must be a bytes-like object, not {type(addr_set).__name__}"
        ) from None
    whole = len(packed) - len(packed) % 4
    return frozenset(packed[i : i + 4] for i in range(0, whole, 4)) - {_NO_ADDRESS}


def _ports(name: str, ports: object, default: frozenset[int]) -> frozenset[int]:
    """None: the default; any iterable of integers (even empty) replaces it."""
    if ports is None:
        return default
    if not isinstance(ports, Iterable) or isinstance(ports, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of ints, not {type(ports).__name__}")
    return frozenset(as_int(f"{name} item", port) & 0xFFFF for port in ports)


def locate_ipv4(packet: bytes, offset: int) -> int:
    """Where the IPv4 header begins (after up to two VLAN tags), or -1."""
    length = len(packet)
    for _ in range(_MAX_VLAN_TAGS + 1):
        if length < offset + 20:
            return -1
        if packet[offset] >> 4 == 4:
            return offset
        if offset < 2 or packet[offset - 2 : offset] not in _VLAN_TPIDS:
            return -1
        offset += 4
    return -1


class FlowTable:
    """Packets seen per directional 5-tuple, for at most ``MAX_FLOWS`` flows."""

    def __init__(self) -> None:
        self._counts: dict[bytes, int] = {}

    def seen(self, key: bytes) -> int:
        """How many packets of this flow came before this one."""
        counts = self._counts
        before = counts.get(key)
        if before is None:
            if len(counts) >= MAX_FLOWS:
                del counts[next(iter(counts))]  # the oldest flow
            before = 0
        counts[key] = before + 1
        return before


def _flow_key(packet: bytes, l3: int, l4: int) -> bytes:
    # protocol, source and destination address, source and destination port
    return packet[l3 + 9 : l3 + 10] + packet[l3 + 12 : l3 + 20] + packet[l4 : l4 + 4]


class Classifier:
    """``classify(packet) -> class index`` for one run (it owns that run's flow table)."""

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config
        self.flows = FlowTable() if config.flow_cutoff else None
        self.classify: Callable[[bytes], int] = (
            self._security if config.profile == SECURITY else self._generic
        )

    def _generic(self, packet: bytes) -> int:
        config = self.config
        l3 = locate_ipv4(packet, config.l2_offset)
        if l3 < 0:
            return _OTHER
        addresses = config.addresses
        if addresses and (
            packet[l3 + 12 : l3 + 16] in addresses or packet[l3 + 16 : l3 + 20] in addresses
        ):
            return _SET_MATCH
        if self.flows is not None and packet[l3 + 9] in (_TCP, _UDP):
            l4 = l3 + (packet[l3] & 0x0F) * 4
            if (
                l4 - l3 >= 20
                and len(packet) >= l4 + 4
                and self.flows.seen(_flow_key(packet, l3, l4)) < config.flow_cutoff
            ):
                return _FLOW_HEAD
        return _OTHER

    def _security(self, packet: bytes) -> int:
        config = self.config
        l3 = locate_ipv4(packet, config.l2_offset)
        if l3 < 0:
            return _NOISE
        l4 = l3 + (packet[l3] & 0x0F) * 4
        ports: Optional[tuple[int, int]] = None
        if l4 - l3 >= 20 and packet[l3 + 9] in (_TCP, _UDP) and len(packet) >= l4 + 4:
            ports = (packet[l4] << 8 | packet[l4 + 1], packet[l4 + 2] << 8 | packet[l4 + 3])
            verdict = self._by_ports(packet, l3, l4, ports)
            if verdict != _NOISE:
                return verdict
        return self._refine_noise(packet, l3, l4, ports)

    def _by_ports(self, packet: bytes, l3: int, l4: int, ports: tuple[int, int]) -> int:
        config = self.config
        if config.dns_port in ports:
            return _DNS
        if packet[l3 + 9] == _TCP and len(packet) >= l4 + 14:
            if packet[l4 + 13] == _PURE_SYN:
                return _SYN
            header = (packet[l4 + 12] >> 4) * 4
            if header >= 20 and len(packet) > l4 + header and not config.dpi_ports.isdisjoint(
                ports
            ):
                return _DPI
        return _NOISE

    def _refine_noise(
        self, packet: bytes, l3: int, l4: int, ports: Optional[tuple[int, int]]
    ) -> int:
        """Noise that is still worth keeping: a listed address, or a watched flow's head."""
        config = self.config
        addresses = config.addresses
        if addresses and (
            packet[l3 + 12 : l3 + 16] in addresses or packet[l3 + 16 : l3 + 20] in addresses
        ):
            return _IOC
        if (
            ports is not None
            and self.flows is not None
            and not config.tls_ports.isdisjoint(ports)
            and self.flows.seen(_flow_key(packet, l3, l4)) < config.flow_cutoff
        ):
            return _HEAD
        return _NOISE


class FilteredCounts:
    """The counters ``filtered_stats()`` reads: ``(admitted, dropped, per-class counts...)``.

    Updated in place as packets are classified, so another thread may poll them mid-run.
    """

    def __init__(self) -> None:
        self.profile = GENERIC
        self.values = [0] * (2 + max(CLASSES.values()))

    def reset(self, profile: int) -> None:
        """Zero the counters for a new run with ``profile``."""
        self.profile = profile
        self.values[:] = [0] * len(self.values)

    def snapshot(self) -> tuple[int, ...]:
        """The counters now, as pcapy-ng returns them for the run's profile."""
        return tuple(self.values[: 2 + CLASSES[self.profile]])


def check_callback(callback: object) -> ClassCallback:
    """A callable taking ``(hdr, data, cls)``, or TypeError."""
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    return callback


def filtered_loop(
    loop: Callable[[int, Callable[[Any, bytes], None]], None],
    cnt: int,
    callback: ClassCallback,
    config: ClassifierConfig,
    counts: FilteredCounts,
) -> tuple[int, ...]:
    """``loop_filtered``: classify each packet ``loop`` delivers, call back for admitted ones."""
    classify = Classifier(config).classify
    counts.reset(config.profile)
    tally = counts.values
    admit, base = config.admit_mask, config.class_base

    def each(hdr: Any, data: bytes) -> None:
        index = classify(data)
        tally[2 + index] += 1
        if (admit >> index) & 1:
            tally[0] += 1
            callback(hdr, data, base + index)
        else:
            tally[1] += 1

    loop(cnt, each)
    return counts.snapshot()


def writable_bytes(buffer: object) -> memoryview:
    """``buffer`` as a writable, contiguous view of bytes (``loop_to_buffer``'s target)."""
    try:
        view = memoryview(buffer)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"writable_buf must be a writable bytes-like object, not {type(buffer).__name__}"
        ) from None
    if view.readonly:
        raise TypeError(f"writable_buf must be writable, not a read-only {type(buffer).__name__}")
    if not view.c_contiguous:
        raise TypeError("writable_buf must be a contiguous buffer")
    return view.cast("B")


class _BufferWriter:
    """Admitted packets appended to a buffer as ``[u32 caplen LE][u8 class][bytes]``."""

    def __init__(self, view: memoryview, config: ClassifierConfig) -> None:
        self.view, self.config = view, config
        self.classify = Classifier(config).classify
        self.written = self.dropped = self.overflow = self.used = 0
        self.classes = [0] * CLASSES[config.profile]

    def __call__(self, _hdr: Any, data: bytes) -> None:
        index = self.classify(data)
        self.classes[index] += 1
        if not (self.config.admit_mask >> index) & 1:
            self.dropped += 1
            return
        end = self.used + _SLOT_HEADER.size + len(data)
        if end > len(self.view):
            self.overflow += 1  # the buffer is full; classification goes on
            return
        _SLOT_HEADER.pack_into(self.view, self.used, len(data), self.config.class_base + index)
        self.view[self.used + _SLOT_HEADER.size : end] = data
        self.used = end
        self.written += 1

    def result(self) -> tuple[int, ...]:
        return (self.written, self.dropped, self.overflow, self.used, *self.classes)


def buffer_loop(
    loop: Callable[[int, Callable[[Any, bytes], None]], None],
    cnt: int,
    view: memoryview,
    config: ClassifierConfig,
) -> tuple[int, ...]:
    """``loop_to_buffer``: ``(written, dropped, overflow, bytes used, per-class counts...)``."""
    writer = _BufferWriter(view, config)
    loop(cnt, writer)
    return writer.result()
