"""Live capture: opening a device, choosing its link type, waiting for packets, stopping on
SIGINT/SIGTERM and tcpdump's closing statistics.

Live capture waits for packets with ``select()`` on the handle's descriptor in non-blocking
mode, so Ctrl-C ends it at once even on an idle interface.
"""

from __future__ import annotations

import argparse
import select
import sys
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import pcapy

from ._common import CommandError, report
from ._linktypes import datalink_line, linktype_name
from .stopping import StopSignals

READ_TIMEOUT_MS = 100
_POLL_SECONDS = 0.1


def open_live(device: str, args: argparse.Namespace) -> pcapy.Reader:
    """``pcapy.create`` + options + ``activate()``; activation warnings become one line each."""
    reader = pcapy.create(device)
    try:
        reader.set_snaplen(args.snaplen)
        reader.set_promisc(0 if args.no_promisc else 1)
        reader.set_timeout(READ_TIMEOUT_MS)
        if args.immediate:
            reader.set_immediate_mode(1)
        if args.precision == "nano":
            reader.set_tstamp_precision(pcapy.PCAP_TSTAMP_PRECISION_NANO)
        if args.buffer_kib:
            reader.set_buffer_size(args.buffer_kib * 1024)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = reader.activate()
        for warning in caught:
            report(f"WARNING: {warning.message}")
        if status < 0:
            raise CommandError(f"{device}: {ACTIVATE_ERRORS.get(status, 'generic error')}")
        if args.direction is not None:
            set_direction(reader, args.direction)
    except BaseException:
        reader.close()
        raise
    return reader


def set_direction(reader: pcapy.Reader, direction: int) -> None:
    """-Q: capture only packets going that way, as ``pcap_setdirection`` does."""
    try:
        reader.setdirection(direction)
    except pcapy.PcapError as err:
        raise CommandError(f"pcap_setdirection() failed: {err}") from err


def close_on_error(reader: pcapy.Reader, function: Callable[..., object],
                    *args: Any) -> None:
    """Run ``function(*args)``; close ``reader`` if it raises (then re-raise)."""
    try:
        function(*args)
    except BaseException:
        reader.close()
        raise


def choose_linktype(reader: pcapy.Reader, args: argparse.Namespace) -> None:
    """Switch a new capture to ``-y``'s link type, or ``any`` to LINUX_SLL2 by default, as
    tcpdump 4.99 does (it carries the interface's index and name); say so on stderr.

    An unsupported ``-y`` fails with libpcap's "... is not one of the DLTs supported by this
    device"; the default is only applied where the device offers it (libpcap 1.10 and later).
    """
    dlt = args.dlt
    if dlt is None and args.interface == "any":
        dlt = pcapy.DLT_LINUX_SLL2 if pcapy.DLT_LINUX_SLL2 in reader.list_datalinks() else None
    if dlt is None:
        return
    reader.set_datalink(dlt)
    report(f"data link type {linktype_name(dlt) or dlt}")


def list_linktypes(args: argparse.Namespace) -> int:
    """``-L``: the device's link types, in tcpdump's words (on stdout, as tcpdump 4.99.4 and
    later print them; 4.99.3 wrote them to stderr)."""
    device = args.interface or pcapy.lookupdev()
    reader = open_live(device, args)
    try:
        dlts = reader.list_datalinks()
    finally:
        reader.close()
    lines = [f"Data link types for {device} (use option -y to set):"]
    lines += [datalink_line(dlt) for dlt in dlts]
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


#: pcap_statustostr's words for the statuses ``activate()`` can return
ACTIVATE_ERRORS = {
    pcapy.PCAP_ERROR: "generic error",
    pcapy.PCAP_ERROR_ACTIVATED: "The setting can't be changed after the pcap_t is activated",
    pcapy.PCAP_ERROR_NO_SUCH_DEVICE: "No such device exists",
    pcapy.PCAP_ERROR_RFMON_NOTSUP: "That device doesn't support monitor mode",
    pcapy.PCAP_ERROR_NOT_RFMON: "That operation is supported only in monitor mode",
    pcapy.PCAP_ERROR_PERM_DENIED: "You don't have permission to perform this capture on that "
                                  "device",
    pcapy.PCAP_ERROR_IFACE_NOT_UP: "That device is not up",
    pcapy.PCAP_ERROR_CANTSET_TSTAMP_TYPE: "That device doesn't support setting the time stamp "
                                          "type",
    pcapy.PCAP_ERROR_PROMISC_PERM_DENIED: "You don't have permission to capture in "
                                          "promiscuous mode",
    pcapy.PCAP_ERROR_TSTAMP_PRECISION_NOTSUP: "That device doesn't support that time stamp "
                                              "precision",
}



def live_batches(reader: pcapy.Reader, counter: PacketCounter) -> Iterator[int]:
    """Dispatch packets as they arrive; yields each batch's size (0 after an idle wait).

    With a selectable descriptor the handle is made non-blocking and we wait in ``select()``
    (so signals are handled at once); without one, blocking ``dispatch`` returns at each read
    timeout instead.
    """
    fd = reader.getfd()
    if fd < 0:
        while True:
            yield reader.dispatch(counter.remaining, counter)
    reader.setnonblock(1)
    while True:
        ready, _, _ = select.select([fd], [], [], _POLL_SECONDS)
        yield reader.dispatch(counter.remaining, counter) if ready else 0


def print_statistics(reader: pcapy.Reader, captured: int, interrupted: bool) -> None:
    """tcpdump's closing lines: captured, received by filter, dropped by kernel (stderr)."""
    try:
        lines = statistics_lines(captured, *reader.stats())
    except pcapy.PcapError as err:
        lines = [_plural(captured, "captured"), f"pcap_stats: {err}"]
    write_statistics(lines, interrupted)


def statistics_lines(captured: int, received: int, dropped: int,
                     interface_dropped: int) -> list[str]:
    """tcpdump's closing lines for these counts (the interface's only if not 0)."""
    lines = [_plural(captured, "captured"), _plural(received, "received by filter"),
             _plural(dropped, "dropped by kernel")]
    if interface_dropped:
        lines.append(_plural(interface_dropped, "dropped by interface"))
    return lines


def write_statistics(lines: list[str], interrupted: bool) -> None:
    """The closing lines on stderr (after a blank line's worth of ``^C`` when interrupted)."""
    prefix = "\n" if interrupted else ""
    sys.stderr.write(prefix + "\n".join(lines) + "\n")
    sys.stderr.flush()


def _plural(count: int, what: str) -> str:
    return f"{count} packet{'' if count == 1 else 's'} {what}"


class PacketCounter:
    """Counts the packets handled, and says when ``-c`` is reached; a SIGINT or SIGTERM
    arriving while one is handled interrupts only after it."""

    def __init__(self, handle: Callable[[pcapy.Pkthdr, bytes], None], limit: int,
                 stop: StopSignals) -> None:
        self.handle = handle
        self.limit = limit
        self.count = 0
        self.stop = stop

    def __call__(self, header: pcapy.Pkthdr, data: bytes) -> None:
        with self.stop.deferred():  # a stop comes after this packet is whole
            self.count += 1
            self.handle(header, data)

    @property
    def done(self) -> bool:
        return 0 < self.limit <= self.count

    @property
    def remaining(self) -> int:
        """What to ask ``dispatch`` for: the packets left under ``-c``, or -1 for all."""
        return self.limit - self.count if self.limit else -1

