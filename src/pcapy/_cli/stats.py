"""``pcapy stats FILE...``: packets, bytes, time span, rates, link types, protocols and the
busiest address pairs of capture files, each and all together."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import IO, NamedTuple, Optional

import pcapy

from .._decode import summarize
from ._args import Parser
from ._common import PROG, error_message, report
from ._linktypes import linktype_text
from .printer import packet_linktype
from .progress import Progress

#: progress is estimated from the bytes of the file consumed: each record's captured length
#: plus its header (exact for classic pcap)
FILE_HEADER_BYTES = 24
RECORD_HEADER_BYTES = 16


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


class FileTally(NamedTuple):
    """One file's counts, and what stopped its reading early (None: read to its end)."""

    tally: Tally
    problem: Optional[str]
    opened: bool


def tally_file(path: str, stream: IO[str]) -> FileTally:
    """Count one capture file, with a progress bar on ``stream`` if it is a terminal.

    A file that cannot be opened, or is damaged partway, gives what was counted before the
    damage and the error's text.
    """
    tally = Tally()
    opened = False
    with Progress.for_file(path, stream) as progress:
        progress.update(FILE_HEADER_BYTES)
        try:
            with pcapy.open_offline(path) as reader:
                opened = True
                default = reader.datalink()
                for header, data in reader:
                    tally.add(header, data, packet_linktype(header, default))
                    progress.advance(header.getcaplen() + RECORD_HEADER_BYTES)
        except (pcapy.PcapError, OSError, ValueError) as err:
            return FileTally(tally, file_problem(err, path), opened)
    return FileTally(tally, None, opened)


def file_problem(err: BaseException, path: str) -> str:
    """The error's text without the file's name (it is printed before it), with the byte
    offset of the damage when the error knows it."""
    if isinstance(err, OSError) and err.strerror and err.filename in (path, None):
        return err.strerror
    text = error_message(err).removeprefix(f"{path}: ")
    offset = getattr(err, "offset", None)  # savefile errors say where the damage starts
    return f"{text} (at byte offset {offset})" if isinstance(offset, int) else text


def build_parser() -> Parser:
    """``pcapy stats``'s arguments."""
    parser = Parser(prog=f"{PROG} stats",
                    description="Summarise capture files: packets, bytes, time span, rates, "
                                "link types, protocols and the busiest address pairs, for "
                                "each file and all together.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap or pcapng files")
    parser.add_argument("--top", type=int, default=10,
                        help="how many protocols and talkers to list (default 10)")
    return parser


def run(argv: Sequence[str]) -> int:
    """``pcapy stats FILE [FILE ...]``: a report per file and one for all of them.

    A file that cannot be read is named on standard error (``pcapy: FILE: error``) with its
    report up to the damage, the other files are still read, and the status is 1.
    """
    args = build_parser().parse_args(argv)
    total = Tally()
    failed = 0
    for path in args.files:
        tally, problem, opened = tally_file(path, sys.stderr)
        if opened:
            lines = tally.report(path, args.top)
            if problem is not None:
                lines.insert(1, f"  damaged:      {problem} (counted up to there)")
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
        if problem is not None:
            failed += 1
            report(f"{path}: {problem}")
        total.merge(tally)
    if len(args.files) > 1:
        sys.stdout.write("\n".join(total.report(f"all {len(args.files)} files", args.top)) + "\n")
    return 1 if failed else 0
