"""The ``pcapy`` command: tcpdump's everyday flags over pcapy's public API, and ``pcapy stats``.

``pcapy [-r FILE | -i IFACE] [options] [expression]`` reads a savefile or captures live, filters
with a BPF expression and prints one tcpdump-style line per packet (``pcapy._decode``), or
writes the packets with ``-w``. The flags mean what they mean to tcpdump; the output equals
``tcpdump -nn``'s (``-v``: ``tcpdump -v -nn``'s) for the protocols the decoder knows. Names are
never looked up: ``-n`` is accepted for compatibility and changes nothing. ``-d`` prints the
compiled filter program as ``tcpdump -d`` does (``-dd`` as C, ``-ddd`` as decimal). ``-L``
lists a device's link types and ``-y`` chooses one, in tcpdump 4.99's words (LINUX_SLL2 is
the default on ``any``, as there).

``pcapy stats FILE...`` summarises capture files instead: packets, bytes, time span, rates,
link types, protocols and the busiest address pairs.

Live capture waits for packets with ``select()`` on the handle's descriptor in non-blocking
mode, so Ctrl-C ends it at once even on an idle interface; it then prints tcpdump's three
statistics lines on standard error and exits 0. Every error is one line on standard error,
``pcapy: <message>``, and exit status 1.

The command uses only pcapy's public API; it is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import IO, Any, Callable, Optional, TextIO

import pcapy

from ._constants import DLT_BY_NAME, DLT_NAME
from ._decode import TcpSequences, can_print, hex_and_ascii_lines, hex_lines, summarize

PROG = "pcapy"
DEFAULT_SNAPLEN = 262144
READ_TIMEOUT_MS = 100
#: pcapy's ``MAXIMUM_SNAPLEN``: tcpdump flags records claiming more as invalid
MAXIMUM_SNAPLEN = 262144
_POLL_SECONDS = 0.1

#: Link types libpcap knows by name that pcapy's ``DLT_*`` constants leave out; capture
#: devices offer them (DOCSIS: every Linux Ethernet device, for ``-y DOCSIS``).
EXTRA_LINKTYPES = {"DOCSIS": 143, "LINUX_LAPD": 177, "FC_2_WITH_FRAME_DELIMS": 225}
LINKTYPES_BY_NAME = {**DLT_BY_NAME, **EXTRA_LINKTYPES}
LINKTYPE_NAMES = {**DLT_NAME, **{dlt: name for name, dlt in EXTRA_LINKTYPES.items()}}

#: pcap_datalink_val_to_description, by name, for the link types capture devices offer on
#: Linux, the BSDs, macOS and Windows, and the ones savefiles commonly carry (``-L``, banner)
LINKTYPE_DESCRIPTIONS = {
    "NULL": "BSD loopback", "EN10MB": "Ethernet", "IEEE802": "Token ring",
    "ARCNET": "BSD ARCNET", "SLIP": "SLIP", "PPP": "PPP", "FDDI": "FDDI",
    "ATM_RFC1483": "RFC 1483 LLC-encapsulated ATM", "RAW": "Raw IP",
    "SLIP_BSDOS": "BSD/OS SLIP", "PPP_BSDOS": "BSD/OS PPP", "PPP_SERIAL": "PPP over serial",
    "C_HDLC": "Cisco HDLC", "IEEE802_11": "802.11", "FRELAY": "Frame Relay",
    "LOOP": "OpenBSD loopback", "ENC": "OpenBSD encapsulated IP",
    "LINUX_SLL": "Linux cooked v1", "LTALK": "Localtalk", "PFLOG": "OpenBSD pflog file",
    "PRISM_HEADER": "802.11 plus Prism header", "IP_OVER_FC": "RFC 2625 IP-over-Fibre Channel",
    "IEEE802_11_RADIO": "802.11 plus radiotap header", "ARCNET_LINUX": "Linux ARCNET",
    "LINUX_IRDA": "Linux IrDA",
    "IEEE802_11_RADIO_AVS": "802.11 plus AVS radio information header",
    "DOCSIS": "DOCSIS", "LINUX_LAPD": "Linux vISDN LAPD",
    "BLUETOOTH_HCI_H4_WITH_PHDR": "Bluetooth HCI UART transport layer plus pseudo-header",
    "USB_LINUX": "USB with Linux header", "PPI": "Per-Packet Information",
    "USB_LINUX_MMAPPED": "USB with padded Linux header", "FC_2": "Fibre Channel FC-2",
    "FC_2_WITH_FRAME_DELIMS": "Fibre Channel FC-2 with frame delimiters",
    "IPNET": "Solaris ipnet", "CAN_SOCKETCAN": "CAN-bus with SocketCAN headers",
    "IPV4": "Raw IPv4", "IPV6": "Raw IPv6", "IEEE802_15_4_NOFCS": "IEEE 802.15.4 without FCS",
    "DBUS": "D-Bus", "NFLOG": "Linux netfilter log messages", "INFINIBAND": "InfiniBand",
    "NETLINK": "Linux netlink", "BLUETOOTH_LINUX_MONITOR": "Bluetooth Linux Monitor",
    "PKTAP": "Apple DLT_PKTAP", "VSOCK": "Linux vsock", "LINUX_SLL2": "Linux cooked v2",
    "AX25_KISS": "AX.25 with KISS header", "DSA_TAG_BRCM": "Broadcom tag",
    "DSA_TAG_BRCM_PREPEND": "Broadcom tag (prepended)", "DSA_TAG_DSA": "Marvell DSA",
    "DSA_TAG_EDSA": "Marvell EDSA",
}


class CommandError(Exception):
    """A problem to report as ``pcapy: <message>`` with exit status 1."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; returns the exit status (the console script passes it to ``exit``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["stats"]:
            return run_stats(args[1:])
        return run_capture(args)
    except (CommandError, pcapy.PcapError, OSError, ValueError) as err:
        if isinstance(err, BrokenPipeError):
            return _quiet_broken_pipe()
        _error(_message(err))
        return 1
    except KeyboardInterrupt:
        return 0


def _message(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (``pcapy -r f | head``): stop without a word."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


# -- arguments ---------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported as one ``pcapy: ...`` line (status 1)."""

    def error(self, message: str) -> Any:
        raise CommandError(message)


def build_parser() -> argparse.ArgumentParser:
    """The capture command's options (tcpdump's letters where they mean the same)."""
    parser = _Parser(prog=PROG, description="Read, capture, filter and print packets the way "
                     "tcpdump does (output as with tcpdump -nn).",
                     epilog="pcapy stats FILE [FILE ...] summarises capture files.")
    parser.add_argument("-D", "--list-interfaces", action="store_true",
                        help="list the capture devices, with addresses and flags")
    parser.add_argument("-i", "--interface", metavar="IFACE", help="capture on IFACE")
    parser.add_argument("-L", "--list-data-link-types", dest="list_linktypes",
                        action="store_true",
                        help="list the link types IFACE can capture with (for -y), and exit")
    parser.add_argument("-r", dest="read", metavar="FILE",
                        help="read packets from FILE ('-': stdin)")
    parser.add_argument("-w", dest="write", metavar="FILE",
                        help="write packets to FILE ('-': stdout); pcapng if it ends in .pcapng")
    parser.add_argument("--format", choices=("pcap", "pcapng"), help="format written by -w")
    parser.add_argument("-c", dest="count", type=int, default=0, metavar="COUNT",
                        help="stop after COUNT packets")
    parser.add_argument("-s", "--snapshot-length", dest="snaplen", type=int,
                        default=DEFAULT_SNAPLEN, metavar="SNAPLEN",
                        help="bytes kept of each packet (0: 262144)")
    parser.add_argument("-p", "--no-promiscuous-mode", dest="no_promisc", action="store_true",
                        help="do not put the interface in promiscuous mode")
    parser.add_argument("--immediate", "--immediate-mode", dest="immediate", action="store_true",
                        help="deliver packets as soon as they arrive")
    parser.add_argument("-n", action="count", default=0,
                        help="accepted for compatibility: names are never looked up")
    parser.add_argument("-d", action="count", default=0, dest="dump_program",
                        help="print the compiled filter (-dd: as C, -ddd: as decimal)")
    parser.add_argument("-O", "--no-optimize", dest="no_optimize", action="store_true",
                        help="do not optimise the filter program")
    parser.add_argument("-e", action="store_true", dest="link_header",
                        help="print the link-layer header")
    parser.add_argument("-x", action="count", default=0, dest="hex",
                        help="print each packet in hex (-xx: with its link-layer header)")
    parser.add_argument("-X", action="count", default=0, dest="hex_ascii",
                        help="print each packet in hex and ASCII (-XX: with the link header)")
    parser.add_argument("--time-precision", "--time-stamp-precision", dest="precision",
                        choices=("micro", "nano"), default="micro",
                        help="time stamps in microseconds (default) or nanoseconds")
    parser.add_argument("-t", action="store_true", dest="no_time", help="print no time stamp")
    parser.add_argument("-S", "--absolute-tcp-sequence-numbers", dest="absolute",
                        action="store_true", help="print absolute TCP sequence numbers")
    parser.add_argument("-q", action="store_true", dest="quiet", help="print less protocol detail")
    parser.add_argument("-v", action="count", default=0, dest="verbose",
                        help="print IP header details and verified checksums, as tcpdump -v "
                             "(-vv and -vvv print the same)")
    parser.add_argument("-l", action="store_true", dest="line_buffered",
                        help="flush standard output after every packet")
    parser.add_argument("-y", "--linktype", metavar="LINKTYPE",
                        help="capture with this link type (one -L lists; default LINUX_SLL2 "
                             "on 'any'), or compile -d for it without a file or device; "
                             "a name (case-insensitive) or a number")
    parser.add_argument("--version", action="version", version=f"pcapy {pcapy.__version__}")
    parser.add_argument("expression", nargs="*", help="a BPF filter expression")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parsed and checked options; raises ``CommandError`` on a usage problem."""
    args = build_parser().parse_args(argv)
    if args.read and args.interface:
        raise CommandError("-r and -i cannot be used together")
    if args.count < 0:
        raise CommandError(f"invalid packet count {args.count}")
    if args.snaplen < 0:
        raise CommandError(f"invalid snaplen {args.snaplen}")
    args.snaplen = args.snaplen or DEFAULT_SNAPLEN
    args.filter = " ".join(args.expression)
    # checked now, whatever the source, as tcpdump does
    args.dlt = parse_linktype(args.linktype) if args.linktype is not None else None
    return args


def parse_linktype(text: str) -> int:
    """A DLT number from a name as tcpdump's ``-y`` takes it (``en10mb``, ``LINUX_SLL2``:
    any case), or, beyond tcpdump, ``DLT_EN10MB`` or ``1``."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    value = LINKTYPES_BY_NAME.get(name, LINKTYPES_BY_NAME.get(name.removeprefix("DLT_")))
    if value is None:
        raise CommandError(f"invalid data link type {text}")
    return value


def linktype_name(dlt: int) -> Optional[str]:
    """pcap_datalink_val_to_name: ``EN10MB``, or None for a link type without a name."""
    return LINKTYPE_NAMES.get(dlt)


def linktype_text(dlt: int) -> str:
    """``EN10MB (Ethernet)`` as tcpdump prints it in its banner."""
    name = linktype_name(dlt)
    if name is None:
        return pcapy.datalink_name(dlt)
    description = LINKTYPE_DESCRIPTIONS.get(name)
    return f"{name} ({description})" if description else name


def datalink_line(dlt: int) -> str:
    """One line of ``-L``: ``  EN10MB (Ethernet)``, marked when pcapy's decoder cannot print
    that link type (as tcpdump marks the ones it cannot)."""
    name = linktype_name(dlt)
    if name is None:
        return f"  DLT {dlt} (printing not supported)"
    line = f"  {linktype_text(dlt)}"
    return line if can_print(dlt) else line + " (printing not supported)"


# -- capture and read ------------------------------------------------------------------------
def run_capture(argv: Sequence[str]) -> int:
    """``pcapy [options] [expression]``: list, compile, read, capture or write packets."""
    args = parse_args(argv)
    if args.list_interfaces:
        print_devices(sys.stdout)
        return 0
    if args.list_linktypes and not args.read and (args.interface or not args.dump_program):
        return list_linktypes(args)  # tcpdump: -L needs a device; a file ignores it
    if args.dump_program:
        return _print_program(args)
    reader = open_reader(args)
    try:
        with stop_signals(enabled=not args.read):
            _banner(describe_source(reader, args))
            return _process(reader, args)
    finally:
        reader.close()


def open_reader(args: argparse.Namespace) -> pcapy.Reader:
    """The Reader the options ask for: a savefile, or an activated live capture."""
    if args.read:
        reader = pcapy.open_offline(args.read)  # -y is for captures: tcpdump ignores it here
    else:
        args.interface = args.interface or pcapy.lookupdev()
        reader = open_live(args.interface, args)
        _close_on_error(reader, choose_linktype, reader, args)
    if args.filter:
        try:
            reader.setfilter(args.filter)
        except BaseException:
            reader.close()
            raise
    return reader


def describe_source(reader: pcapy.Reader, args: argparse.Namespace) -> str:
    """tcpdump's first line: ``reading from file ...`` or ``listening on ...``."""
    linktype = linktype_text(reader.datalink())
    if args.read:
        return (f"reading from file {args.read}, link-type {linktype}, "
                f"snapshot length {reader.snapshot()}")
    return (f"listening on {args.interface}, link-type {linktype}, "
            f"snapshot length {reader.snapshot()} bytes")


def _banner(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status = reader.activate()
        for warning in caught:
            _error(f"WARNING: {warning.message}")
        if status < 0:
            raise CommandError(f"{device}: {_ACTIVATE_ERRORS.get(status, 'generic error')}")
    except BaseException:
        reader.close()
        raise
    return reader


def _close_on_error(reader: pcapy.Reader, function: Callable[..., object],
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
    _error(f"data link type {linktype_name(dlt) or dlt}")


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
_ACTIVATE_ERRORS = {
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


def _process(reader: pcapy.Reader, args: argparse.Namespace) -> int:
    live = not args.read
    if args.write:
        dumper = reader.dump_open(args.write, format=args.format)
        handle: Callable[[pcapy.Pkthdr, bytes], None] = dumper.dump
    else:
        dumper = None
        handle = PacketPrinter(reader.datalink(), args, sys.stdout).print_packet
    counter = _Counter(handle, args.count)
    try:
        if live:
            return _capture_live(reader, counter)
        _read_file(reader, counter)
        return 0
    finally:
        if dumper is not None:
            dumper.close()
        sys.stdout.flush()


class _Counter:
    """Counts the packets handled, and says when ``-c`` is reached."""

    def __init__(self, handle: Callable[[pcapy.Pkthdr, bytes], None], limit: int) -> None:
        self.handle = handle
        self.limit = limit
        self.count = 0

    def __call__(self, header: pcapy.Pkthdr, data: bytes) -> None:
        self.count += 1
        self.handle(header, data)

    @property
    def done(self) -> bool:
        return 0 < self.limit <= self.count

    @property
    def remaining(self) -> int:
        """What to ask ``dispatch`` for: the packets left under ``-c``, or -1 for all."""
        return self.limit - self.count if self.limit else -1


def _read_file(reader: pcapy.Reader, counter: _Counter) -> None:
    for header, data in reader:
        counter(header, data)
        if counter.done:
            break


def _capture_live(reader: pcapy.Reader, counter: _Counter) -> int:
    interrupted = False
    try:
        for _ in live_batches(reader, counter):
            if counter.done:
                break
    except KeyboardInterrupt:
        interrupted = True
    sys.stdout.flush()
    print_statistics(reader, counter.count, interrupted)
    return 0


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals(*, enabled: bool) -> Iterator[None]:
    """Make SIGINT and SIGTERM end a live capture, as tcpdump does (even if inherited ignored).

    Both raise ``KeyboardInterrupt``; the previous handlers come back afterwards.
    """
    previous: dict[int, Any] = {}
    if enabled and threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM"):
            number = getattr(signal, name, None)
            if number is not None:
                previous[number] = signal.signal(number, _stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def live_batches(reader: pcapy.Reader, counter: _Counter) -> Iterator[int]:
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
    lines = [_plural(captured, "captured")]
    try:
        received, dropped, interface_dropped = reader.stats()
    except pcapy.PcapError as err:
        lines.append(f"pcap_stats: {err}")
    else:
        lines.append(_plural(received, "received by filter"))
        lines.append(_plural(dropped, "dropped by kernel"))
        if interface_dropped:
            lines.append(_plural(interface_dropped, "dropped by interface"))
    prefix = "\n" if interrupted else ""
    sys.stderr.write(prefix + "\n".join(lines) + "\n")
    sys.stderr.flush()


def _plural(count: int, what: str) -> str:
    return f"{count} packet{'' if count == 1 else 's'} {what}"


# -- printing packets --------------------------------------------------------------------------
class PacketPrinter:
    """Formats packets as tcpdump does: time stamp, summary, optional hex dump."""

    def __init__(self, linktype: int, args: argparse.Namespace, out: TextIO) -> None:
        self.linktype = linktype
        self.out = out
        self.nano = args.precision == "nano"
        self.show_time = not args.no_time
        self.link_header = args.link_header
        self.quiet = args.quiet
        self.hex_level = max(args.hex, args.hex_ascii)
        self.with_ascii = bool(args.hex_ascii)
        self.flush = args.line_buffered
        self.tcp = None if args.absolute else TcpSequences()
        self.verbose = bool(args.verbose)

    def print_packet(self, header: pcapy.Pkthdr, data: bytes) -> None:
        """Write one packet's line(s)."""
        self.out.write(self.format_packet(header, data) + "\n")
        if self.flush:
            self.out.flush()

    def format_packet(self, header: pcapy.Pkthdr, data: bytes) -> str:
        """The text tcpdump prints for one packet, without the final newline."""
        invalid = invalid_header(header)
        if invalid:
            return invalid
        summary = summarize(data, packet_linktype(header, self.linktype),
                            wire_length=header.getlen(),
                            link_header=self.link_header, quiet=self.quiet, tcp=self.tcp,
                            default_hex=not (self.hex_level or self.quiet),
                            verbose=self.verbose)
        text = summary.text
        if self.show_time:
            text = format_time(header, self.nano) + " " + text
        return text + self._hex(data, summary.link_length)

    def _hex(self, data: bytes, link_length: int) -> str:
        if not self.hex_level:
            return ""
        if self.hex_level == 1:
            if len(data) <= link_length:
                return ""
            data = data[link_length:]
        lines = hex_and_ascii_lines(data) if self.with_ascii else hex_lines(data)
        return "".join("\n\t" + line for line in lines)


def invalid_header(header: pcapy.Pkthdr) -> str:
    """tcpdump's ``[Invalid header: ...]`` line for impossible lengths, or ``""``."""
    caplen, length = header.getcaplen(), header.getlen()
    problems = []
    if caplen == 0:
        problems.append(" caplen==0")
    if length == 0:
        problems.append(" len==0")
    elif length < caplen:
        problems.append(f" len({length}) < caplen({caplen})")
    if caplen > MAXIMUM_SNAPLEN:
        problems.append(f" caplen({caplen}) > {MAXIMUM_SNAPLEN}")
    if length > MAXIMUM_SNAPLEN:
        problems.append(f" len({length}) > {MAXIMUM_SNAPLEN}")
    return "[Invalid header:" + ",".join(problems) + "]" if problems else ""


def format_time(header: pcapy.Pkthdr, nano: bool) -> str:
    """``HH:MM:SS.ffffff`` in local time (9 digits with ``nano``), as tcpdump prints it."""
    seconds, fraction = header.getts_ns() if nano else header.getts()
    try:
        clock = time.strftime("%H:%M:%S", time.localtime(seconds))
    except (OverflowError, OSError, ValueError):
        return "[Error converting time]"
    return f"{clock}.{fraction:09d}" if nano else f"{clock}.{fraction:06d}"


# -- -d: the compiled program ------------------------------------------------------------------
_SKF_AD_OFF = 0xFFFFF000
_SKF_AD_NAMES = {0: "proto", 4: "type", 8: "ifidx", 12: "nla", 16: "nlan", 20: "mark",
                 24: "queue", 28: "hatype", 32: "rxhash", 36: "cpu", 40: "xor_x",
                 44: "vlan_tci", 48: "vlanp", 52: "poff", 56: "random", 60: "vlan_tpid"}
#: opcode -> (mnemonic, operand format), as `tcpdump -d` prints each instruction
_BPF_OPCODES: dict[int, tuple[str, str]] = {
    0x06: ("ret", "#{k}"), 0x16: ("ret", ""),
    0x20: ("ld", "[{abs}]"), 0x28: ("ldh", "[{abs}]"), 0x30: ("ldb", "[{abs}]"),
    0x80: ("ld", "#pktlen"),
    0x40: ("ld", "[x + {k}]"), 0x48: ("ldh", "[x + {k}]"), 0x50: ("ldb", "[x + {k}]"),
    0x00: ("ld", "#0x{k:x}"), 0x01: ("ldx", "#0x{k:x}"), 0xB1: ("ldxb", "4*([{k}]&0xf)"),
    0x60: ("ld", "M[{k}]"), 0x61: ("ldx", "M[{k}]"), 0x02: ("st", "M[{k}]"),
    0x03: ("stx", "M[{k}]"), 0x05: ("ja", "{target}"),
    0x25: ("jgt", "#0x{k:x}"), 0x35: ("jge", "#0x{k:x}"), 0x15: ("jeq", "#0x{k:x}"),
    0x45: ("jset", "#0x{k:x}"),
    0x2D: ("jgt", "x"), 0x3D: ("jge", "x"), 0x1D: ("jeq", "x"), 0x4D: ("jset", "x"),
    0x0C: ("add", "x"), 0x1C: ("sub", "x"), 0x2C: ("mul", "x"), 0x3C: ("div", "x"),
    0x9C: ("mod", "x"), 0x5C: ("and", "x"), 0x4C: ("or", "x"), 0xAC: ("xor", "x"),
    0x6C: ("lsh", "x"), 0x7C: ("rsh", "x"),
    0x04: ("add", "#{k}"), 0x14: ("sub", "#{k}"), 0x24: ("mul", "#{k}"), 0x34: ("div", "#{k}"),
    0x94: ("mod", "#{k}"), 0x54: ("and", "#0x{k:x}"), 0x44: ("or", "#0x{k:x}"),
    0xA4: ("xor", "#0x{k:x}"), 0x64: ("lsh", "#{k}"), 0x74: ("rsh", "#{k}"),
    0x84: ("neg", ""), 0x07: ("tax", ""), 0x87: ("txa", ""),
}


def bpf_image(instruction: Sequence[int], index: int) -> str:
    """One instruction as ``tcpdump -d`` prints it: ``(000) ldh      [12]``."""
    code, jt, jf, k = instruction
    mnemonic, operand = _BPF_OPCODES.get(code, ("unimp", "0x{code:x}"))
    signed = k - (1 << 32) if k & 0x80000000 else k
    text = operand.format(k=signed if "{k}" in operand else k & 0xFFFFFFFF, code=code,
                          abs=_absolute_operand(k), target=index + 1 + signed)
    if code & 0x07 == 0x05 and code & 0xF0 != 0x00:
        return f"({index:03d}) {mnemonic:<8} {text:<16} jt {index + 1 + jt}\tjf {index + 1 + jf}"
    return f"({index:03d}) {mnemonic:<8} {text}"


def _absolute_operand(k: int) -> str:
    name = _SKF_AD_NAMES.get(k - _SKF_AD_OFF) if k >= _SKF_AD_OFF else None
    if name is not None:
        return name
    return str(k - (1 << 32) if k & 0x80000000 else k)


def format_program(instructions: Sequence[Sequence[int]], level: int) -> list[str]:
    """``tcpdump -d`` (level 1), ``-dd`` (2) or ``-ddd`` (3) output lines."""
    if level >= 3:
        return [str(len(instructions))] + [" ".join(str(f) for f in insn) for insn in instructions]
    if level == 2:
        return [f"{{ 0x{code:x}, {jt}, {jf}, 0x{k:08x} }}," for code, jt, jf, k in instructions]
    return [bpf_image(insn, index) for index, insn in enumerate(instructions)]


def _print_program(args: argparse.Namespace) -> int:
    dlt, snaplen = _compile_target(args)
    program = pcapy.compile(dlt, snaplen, args.filter, 0 if args.no_optimize else 1, 0)
    sys.stdout.write("".join(line + "\n" for line in format_program(program.get_bpf(),
                                                                    args.dump_program)))
    return 0


def _compile_target(args: argparse.Namespace) -> tuple[int, int]:
    """The link type and snapshot length a filter is compiled for (as tcpdump picks them)."""
    if args.read:
        with pcapy.open_offline(args.read) as reader:
            return reader.datalink(), reader.snapshot()
    if args.interface:
        reader = open_live(args.interface, args)
        try:
            choose_linktype(reader, args)
            return reader.datalink(), reader.snapshot()
        finally:
            reader.close()
    return (pcapy.DLT_EN10MB if args.dlt is None else args.dlt), args.snaplen


# -- -D: devices -------------------------------------------------------------------------------
_IF_FLAGS = ((0x2, "Up"), (0x4, "Running"), (0x1, "Loopback"), (0x8, "Wireless"))
_CONNECTION = {0x00: "Connection status unknown", 0x10: "Connected", 0x20: "Disconnected"}
_ASSOCIATION = {0x00: "Association status unknown", 0x10: "Associated", 0x20: "Not associated"}


def print_devices(out: TextIO) -> None:
    """``tcpdump -D`` lines, each followed by the device's addresses when known."""
    lister = getattr(pcapy, "list_devices", None)
    devices: list[Any] = list(lister()) if lister is not None else list(pcapy.findalldevs())
    for number, device in enumerate(devices, 1):
        out.write(device_line(number, device) + "\n")
        for address in getattr(device, "addresses", None) or ():
            line = address_line(address)
            if line:
                out.write("\t" + line + "\n")


def device_line(number: int, device: Any) -> str:
    """``1.lo [Up, Running, Loopback]``: number, name, description and flags."""
    if isinstance(device, str):
        return f"{number}.{device}"
    text = f"{number}.{device.name}"
    description = getattr(device, "description", None)
    if description:
        text += f" ({description})"
    flags = getattr(device, "flags", 0)
    if flags:
        text += f" [{format_flags(int(flags))}]"
    return text


def format_flags(flags: int) -> str:
    """tcpdump's rendering of ``PCAP_IF_*`` flags."""
    names = [name for bit, name in _IF_FLAGS if flags & bit]
    status = (_ASSOCIATION if flags & 0x8 else _CONNECTION).get(flags & 0x30)
    text = ", ".join(names) or "none"
    return f"{text}, {status}" if status else text


def address_line(address: Any) -> str:
    """``inet 127.0.0.1 netmask 255.0.0.0``, from ``(family, address, netmask, ...)``."""
    fields = ("family", "address", "netmask", "broadcast", "destination")
    values = [getattr(address, name, None) for name in fields]
    if all(value is None for value in values) and isinstance(address, tuple):
        values = list(address) + [None] * (5 - len(address))
    family, addr, netmask, broadcast, destination = values[:5]
    if not addr:
        return ""
    parts = [_family_name(family), str(addr)]
    for label, value in (("netmask", netmask), ("broadcast", broadcast),
                         ("destination", destination)):
        if value:
            parts += [label, str(value)]
    return " ".join(parts)


_FAMILY_NAMES = {"AF_INET": "inet", "AF_INET6": "inet6", "AF_PACKET": "link", "AF_LINK": "link"}


def _family_name(family: object) -> str:
    """``inet``, ``inet6`` or ``link`` for a family given by name (``"AF_INET"``) or number."""
    if isinstance(family, int):
        try:
            family = socket.AddressFamily(family).name
        except ValueError:
            return f"family {int(family)}"
    return _FAMILY_NAMES.get(str(family), str(family)) if family else "address"


# -- pcapy stats -------------------------------------------------------------------------------
class Tally:
    """What ``pcapy stats`` counts over one or more files."""

    def __init__(self) -> None:
        self.packets = 0
        self.captured_bytes = 0
        self.wire_bytes = 0
        self.first_ns: Optional[int] = None
        self.last_ns: Optional[int] = None
        self.linktypes: Counter[int] = Counter()
        self.protocols: Counter[str] = Counter()
        self.talkers: Counter[tuple[str, str]] = Counter()
        self.talker_bytes: Counter[tuple[str, str]] = Counter()

    def add(self, header: pcapy.Pkthdr, data: bytes, linktype: int) -> None:
        """Count one packet."""
        self.packets += 1
        self.captured_bytes += header.getcaplen()
        self.wire_bytes += header.getlen()
        stamp = header.ts_ns
        self.first_ns = stamp if self.first_ns is None else min(self.first_ns, stamp)
        self.last_ns = stamp if self.last_ns is None else max(self.last_ns, stamp)
        self.linktypes[linktype] += 1
        summary = summarize(data, linktype, wire_length=header.getlen(), default_hex=False)
        self.protocols[summary.protocols[-1] if summary.protocols else "unknown"] += 1
        if summary.src is not None and summary.dst is not None:
            pair = (summary.src, summary.dst)
            self.talkers[pair] += 1
            self.talker_bytes[pair] += header.getlen()

    def merge(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.packets += other.packets
        self.captured_bytes += other.captured_bytes
        self.wire_bytes += other.wire_bytes
        for stamp in (other.first_ns, other.last_ns):
            if stamp is not None:
                self.first_ns = stamp if self.first_ns is None else min(self.first_ns, stamp)
                self.last_ns = stamp if self.last_ns is None else max(self.last_ns, stamp)
        self.linktypes.update(other.linktypes)
        self.protocols.update(other.protocols)
        self.talkers.update(other.talkers)
        self.talker_bytes.update(other.talker_bytes)

    def report(self, title: str, top: int = 10) -> list[str]:
        """The report's lines."""
        lines = [f"{title}:", f"  packets:      {self.packets}",
                 f"  bytes:        {self.wire_bytes} on the wire, {self.captured_bytes} captured"]
        if self.first_ns is not None and self.last_ns is not None:
            duration = (self.last_ns - self.first_ns) / 1e9
            lines += [f"  first packet: {_utc(self.first_ns)}",
                      f"  last packet:  {_utc(self.last_ns)}",
                      f"  duration:     {duration:.6f} s"]
            if duration > 0:
                lines.append(f"  average rate: {self.packets / duration:.2f} packets/s, "
                             f"{self.wire_bytes * 8 / duration:.0f} bits/s")
        kinds = ", ".join(f"{linktype_text(dlt)}: {n}" for dlt, n in self.linktypes.most_common())
        lines.append(f"  link types:   {kinds or 'none'}")
        lines += self._protocol_lines(top) + self._talker_lines(top)
        return lines

    def _protocol_lines(self, top: int) -> list[str]:
        lines = ["  top protocols:"]
        for name, count in self.protocols.most_common(top):
            lines.append(f"    {name:<12} {count:>10} {100 * count / self.packets:6.1f}%")
        return lines if self.protocols else []

    def _talker_lines(self, top: int) -> list[str]:
        lines = ["  top talkers (source > destination: packets, bytes):"]
        for (src, dst), count in self.talkers.most_common(top):
            lines.append(f"    {src} > {dst}: {count}, {self.talker_bytes[(src, dst)]}")
        return lines if self.talkers else []


def _utc(stamp_ns: int) -> str:
    seconds, fraction = divmod(stamp_ns, 1_000_000_000)
    try:
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):
        text = f"{seconds} s after the Epoch"
    return f"{text}.{fraction:09d} UTC"


class Progress:
    """A progress bar on standard error, drawn only when it is a terminal.

    Progress is estimated from the file's size and the bytes consumed so far, counted as
    each record's captured length plus its 16-byte header (exact for classic pcap).
    """

    WIDTH = 30
    INTERVAL = 0.1

    def __init__(self, path: str, stream: IO[str]) -> None:
        self.stream = stream
        self.label = os.path.basename(path)
        self.total = _file_size(path) if stream.isatty() else 0
        self.consumed = 24
        self.next_draw = 0.0

    def advance(self, caplen: int) -> None:
        """Account for one record and redraw at most every ``INTERVAL`` seconds."""
        if not self.total:
            return
        self.consumed += caplen + 16
        now = time.monotonic()
        if now >= self.next_draw:
            self.next_draw = now + self.INTERVAL
            self.draw()

    def draw(self) -> None:
        """Draw the bar for the current estimate."""
        share = min(self.consumed / self.total, 1.0)
        filled = int(share * self.WIDTH)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {share * 100:5.1f}% {self.label}")
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar."""
        if self.total:
            self.stream.write("\r" + " " * (self.WIDTH + len(self.label) + 10) + "\r")
            self.stream.flush()


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


def packet_linktype(header: pcapy.Pkthdr, default: int) -> int:
    """The DLT of a packet: its pcapng interface's, else the reader's ``default``."""
    dlt = getattr(header.interface, "dlt", None)
    return dlt if isinstance(dlt, int) else default


def tally_file(path: str, stream: IO[str]) -> Tally:
    """Count one capture file, with a progress bar on ``stream`` if it is a terminal."""
    tally = Tally()
    progress = Progress(path, stream)
    try:
        with pcapy.open_offline(path) as reader:
            default = reader.datalink()
            for header, data in reader:
                tally.add(header, data, packet_linktype(header, default))
                progress.advance(header.getcaplen())
    finally:
        progress.close()
    return tally


def run_stats(argv: Sequence[str]) -> int:
    """``pcapy stats FILE [FILE ...]``."""
    parser = _Parser(prog=f"{PROG} stats", description="Summarise capture files.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng files")
    parser.add_argument("--top", type=int, default=10, help="how many protocols and talkers")
    args = parser.parse_args(argv)
    total = Tally()
    for path in args.files:
        tally = tally_file(path, sys.stderr)
        sys.stdout.write("\n".join(tally.report(path, args.top)) + "\n")
        total.merge(tally)
    if len(args.files) > 1:
        sys.stdout.write("\n".join(total.report(f"all {len(args.files)} files", args.top)) + "\n")
    return 0
