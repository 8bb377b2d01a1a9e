"""One differential check: an expression compiled by libpcap and by pcapy, run over packets.

For a ``Case`` (expression, link type, netmask, savefile byte order) and a list of packets:

* libpcap compiles it optimised and unoptimised (``oracle.compile_reference``); both programs
  run on libpcap's interpreter. Where those two disagree, libpcap disagrees with itself (a
  libpcap optimiser bug): ``libpcap_split`` lists the packet, and pcapy may match either.
* pcapy's compiler (``compile_ours``, normally ``pcapy._filter.compile_filter``) compiles it
  optimised and unoptimised; each program runs on pcapy's executor (``pcapy._bpf_vm``, what
  users get) and on libpcap's interpreter (so a wrong verdict is pinned on the compiler or on
  the executor). Every verdict must equal libpcap's.
* Reject parity: for each of optimised/unoptimised, both compilers refuse or both accept.

With ``compile_ours=None`` only the libpcap side runs (the self-check that libpcap's optimised
and unoptimised programs agree), which needs no compiler of ours.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pcapy
from filter.generators import Case
from filter.oracle import (
    LOOPS,
    NO_LOOKUP,
    Program,
    Rejected,
    compile_reference,
    run_on_libpcap,
    verdicts,
)
from pcapy._bpf_vm import compile_program

CompileOurs = Callable[..., Program]
Packet = tuple[bytes, int]  # (captured bytes, wire length)

DLT_NAMES = {1: "EN10MB", 113: "LINUX_SLL", 276: "LINUX_SLL2", 12: "RAW", 228: "IPV4",
             229: "IPV6", 0: "NULL", 108: "LOOP"}


@dataclass
class Disagreement:
    """One packet (or one compile) where pcapy and libpcap differ."""

    kind: str  # "verdict", "executor", "reject-parity"
    case: Case
    detail: str
    packet: bytes = b""
    wirelen: int = 0
    libpcap: str = ""
    ours: str = ""

    def key(self) -> tuple[str, str, int]:
        return (self.kind, self.case.expression, self.case.dlt)

    def describe(self) -> str:
        case = self.case
        where = f"{case.expression!r} on {DLT_NAMES.get(case.dlt, case.dlt)}"
        if case.netmask != 0xFFFFFFFF:
            where += f" netmask=0x{case.netmask:08x}"
        if case.savefile_swapped is not None:
            where += f" savefile_swapped={case.savefile_swapped}"
        text = f"[{self.kind}] {where}: {self.detail}"
        if self.packet or self.wirelen:
            text += f"\n    packet (caplen {len(self.packet)}, len {self.wirelen}): {self.packet.hex()}"
        if self.libpcap or self.ours:
            text += f"\n    libpcap: {self.libpcap}\n    ours:    {self.ours}"
        return text


@dataclass
class CaseResult:
    case: Case
    libpcap_opt_error: str | None = None
    libpcap_unopt_error: str | None = None
    ours_opt_error: str | None = None
    ours_unopt_error: str | None = None
    pairs: int = 0  # (expression, packet) pairs with a verdict from libpcap (and ours, if any)
    disagreements: list[Disagreement] = field(default_factory=list)
    libpcap_split: list[Packet] = field(default_factory=list)  # opt and unopt libpcap differ
    libpcap_loops: list[Packet] = field(default_factory=list)  # libpcap's program never ends

    @property
    def libpcap_accepts(self) -> bool:
        return self.libpcap_unopt_error is None


def _compile_libpcap(case: Case, optimize: bool) -> tuple[Program | None, str | None]:
    try:
        return compile_reference(case.expression, case.dlt, optimize=optimize,
                                 netmask=case.netmask, savefile_swapped=case.savefile_swapped), None
    except Rejected as err:
        return None, str(err)


def _compile_ours(compile_ours: CompileOurs, case: Case, optimize: bool
                  ) -> tuple[Program | None, str | None]:
    try:
        return tuple(compile_ours(case.expression, case.dlt, optimize=optimize,
                                  netmask=case.netmask,
                                  savefile_swapped=case.savefile_swapped)), None
    except pcapy.BPFError as err:
        return None, str(err) or "BPFError"


def compare(case: Case, packets: Sequence[Packet], compile_ours: CompileOurs | None
            ) -> CaseResult:
    """Compile ``case`` both ways and compare verdicts over ``packets``."""
    result = CaseResult(case)
    lib_opt, result.libpcap_opt_error = _compile_libpcap(case, True)
    lib_unopt, result.libpcap_unopt_error = _compile_libpcap(case, False)
    run_opt = run_on_libpcap(lib_opt) if lib_opt is not None else None  # (-1 = loops)
    run_unopt = run_on_libpcap(lib_unopt) if lib_unopt is not None else None
    ours: list[tuple[str, Program]] = []
    if compile_ours is not None:
        for optimize, label in ((True, "opt"), (False, "unopt")):
            program, error = _compile_ours(compile_ours, case, optimize)
            setattr(result, f"ours_{label}_error", error)
            libpcap_error = result.libpcap_opt_error if optimize else result.libpcap_unopt_error
            if (error is None) != (libpcap_error is None):
                result.disagreements.append(Disagreement(
                    "reject-parity", case, f"{label}: libpcap and pcapy disagree on compiling",
                    libpcap=libpcap_error or "compiles", ours=error or "compiles"))
            if program is not None:
                ours.append((label, program))
    packets = list(packets)
    lib_opt_verdicts = verdicts(run_opt, lib_opt, packets) if run_opt and lib_opt else None
    lib_unopt_verdicts = (verdicts(run_unopt, lib_unopt, packets)
                          if run_unopt and lib_unopt is not None else None)
    ours_verdicts = []
    for label, program in ours:
        run_vm = compile_program(program)
        ours_verdicts.append((label, program, verdicts(run_vm, program, packets),
                              verdicts(run_on_libpcap(program), program, packets)))
    for index, (packet, wirelen) in enumerate(packets):
        expected_set = {v[index] for v in (lib_opt_verdicts, lib_unopt_verdicts) if v is not None}
        if not expected_set:
            continue
        if len(expected_set) > 1:
            result.libpcap_split.append((packet, wirelen))
        if LOOPS in expected_set:
            result.libpcap_loops.append((packet, wirelen))
        expected = lib_unopt_verdicts[index] if lib_unopt_verdicts is not None else min(expected_set)
        result.pairs += 1  # one (expression, packet) pair, however many programs ran on it
        for label, program, by_vm, by_lib in ours_verdicts:
            got_vm, got_lib = by_vm[index], by_lib[index]
            if got_vm != got_lib:
                result.disagreements.append(Disagreement(
                    "executor", case, f"ours {label}: pcapy's executor {got_vm}, libpcap's "
                    f"interpreter {got_lib} on the same program", packet, wirelen,
                    ours=repr(program)))
            if got_vm not in expected_set:
                result.disagreements.append(Disagreement(
                    "verdict", case, f"ours {label} returns {got_vm}, libpcap {expected}",
                    packet, wirelen, libpcap=repr(lib_unopt), ours=repr(program)))
    return result


UNSUPPORTED = "not supported by pcapy's filter compiler"
REJECTS_ALL = "expression rejects all packets"
#: Words of the language outside tier 1 (issue 14): pcapy's compiler may refuse them.
OUTSIDE_TIER1 = frozenset((
    "gateway", "type", "subtype", "dir", "addr1", "addr2", "addr3", "addr4", "address1",
    "address2", "address3", "address4", "ra", "ta", "wlan", "decnet", "iso", "isis", "is-is",
    "clnp", "esis", "es-is", "stp", "ipx", "netbeui", "llc", "atalk", "aarp", "lat", "sca",
    "mopdl", "moprc", "l1", "l2", "iih", "lsp", "snp", "csnp", "psnp", "ifindex", "byte", "lane",
    "oamf4", "oamf4ec", "oamf4sc", "oam", "vpi", "vci", "metac", "bcc", "sc", "ilmic", "connectmsg",
    "metaconnect", "sio", "opc", "dpc", "sls", "hsio", "hopc", "hdpc", "hsls", "fisu", "lssu",
    "msu", "hfisu", "hlssu", "hmsu", "action", "reason", "rnr", "rulenum", "rset", "ruleset",
    "srnr", "subrulenum", "on", "ppp", "radio", "fddi", "tr", "arcnet", "slip",
))
NEWER_THAN_LIBPCAP_1_10 = frozenset(("vxlan",))


def words(expression: str) -> set[str]:
    return set(expression.replace("(", " ").replace(")", " ").replace("!", " ").split())


def uses_outside_tier1(expression: str) -> bool:
    """Whether the expression uses a construct outside tier 1, or a host/network *name*."""
    tokens = words(expression)
    return bool(tokens & OUTSIDE_TIER1) or any(".libpcap.test" in t for t in tokens)


PROVES_REJECTS_ALL = "pcapy's optimiser proves 'rejects all packets', libpcap's does not"


def libpcap_rejects_every(result: CaseResult, packets: Sequence[Packet]) -> bool:
    """libpcap's optimised program returns 0 on every one of ``packets`` and the edge ones."""
    program = compile_reference(result.case.expression, result.case.dlt, optimize=True,
                                netmask=result.case.netmask,
                                savefile_swapped=result.case.savefile_swapped)
    run = run_on_libpcap(program)
    return all(v == 0 for v in verdicts(run, program, [*packets, *EDGE_PACKETS]))


def libpcap_optimizer_wrong(result: CaseResult, packets: Sequence[Packet]) -> bool:
    """libpcap 1.10.3's optimiser says "rejects all packets" where its own unoptimised
    program accepts one of ``packets`` (the ``jset #0xffffffff`` bug, libpcap PR #1742)."""
    if result.libpcap_opt_error != REJECTS_ALL or result.libpcap_unopt_error is not None:
        return False
    unoptimised = compile_reference(result.case.expression, result.case.dlt, optimize=False,
                                    netmask=result.case.netmask,
                                    savefile_swapped=result.case.savefile_swapped)
    run = run_on_libpcap(unoptimised)
    candidates = [*packets, *EDGE_PACKETS]
    return any(v not in (0, LOOPS) for v in verdicts(run, unoptimised, candidates))


#: Packets of all zeros and all ones: witnesses for tests of constants (``link[0] == 0``).
EDGE_PACKETS: tuple[Packet, ...] = tuple(
    (fill * size, size) for fill in (b"\x00", b"\xff") for size in (1, 2, 4, 14, 20, 40, 64, 128))


def explained(disagreement: Disagreement, result: CaseResult, packets: Sequence[Packet],
              *, outside_allowed: bool = True) -> str | None:
    """Why a reject-parity difference is allowed (a category name), or None if it is not.

    Verdict and executor differences are never allowed (``compare`` already lets pcapy match
    either of libpcap's programs where they disagree with each other).
    """
    if disagreement.kind != "reject-parity":
        return None
    if (result.libpcap_unopt_error or "").startswith(NO_LOOKUP):
        return "a word libpcap might look up in DNS: not given to it"
    ours = disagreement.ours
    if ours.startswith(UNSUPPORTED):
        expression = result.case.expression
        return "outside tier 1" if outside_allowed and uses_outside_tier1(expression) else None
    if result.libpcap_unopt_error is not None and result.libpcap_opt_error is not None:
        if words(result.case.expression) & NEWER_THAN_LIBPCAP_1_10:
            return "newer than libpcap 1.10.3"
        return None
    if ours == REJECTS_ALL and disagreement.libpcap == "compiles" and \
            libpcap_rejects_every(result, packets):
        # a known divergence, not a verdict one: pcapy's optimiser proves the expression
        # matches nothing where libpcap's does not (libpcap's program then rejects every packet)
        return PROVES_REJECTS_ALL
    if ours == "compiles" and libpcap_optimizer_wrong(result, packets):
        return "libpcap 1.10.3 optimiser wrongly rejects all"
    if (ours == "compiles" and result.libpcap_unopt_error is None
            and disagreement.libpcap == result.libpcap_opt_error != REJECTS_ALL):
        # libpcap's optimised and unoptimised compiles disagree (its optimiser folds constants
        # into an error, e.g. "shift by more than 31 bits"): pcapy may do either
        return f"libpcap 1.10.3 optimiser alone refuses: {result.libpcap_opt_error}"
    return None


def unexplained(result: CaseResult, packets: Sequence[Packet], *,
                outside_allowed: bool = True) -> list[Disagreement]:
    return [d for d in result.disagreements
            if explained(d, result, packets, outside_allowed=outside_allowed) is None]
