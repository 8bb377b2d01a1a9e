"""BPF filters: ``compile()`` and ``BPFProgram`` (the manual's ``Bpf``).

Expressions are compiled by libpcap's own compiler when it loads, so a filter means exactly what
it means to tcpdump, and otherwise by pcapy's (``_filter``), which gives the same verdicts for
the language most filters use and names what it does not support. The ``compiler`` keyword
chooses: ``"auto"`` (the default: libpcap if it loads), ``"libpcap"`` or ``"pcapy"``. The
compiled program is kept as Python ``(code, jt, jf, k)`` tuples and run by pcapy's
BPF executor (``_bpf_vm``), which translates it once into Python code with libpcap's userland
semantics; running a filter therefore never crosses into C, and a program built from
instructions (``BPFProgram.from_instructions``) runs without libpcap at all.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Callable, Optional, Union

from . import _libpcap
from ._args import as_c_int, as_int, as_u32_wrapped
from ._constants import DLT_EN10MB
from ._errors import BPFError, LibpcapNotFoundError
from ._savefile._linktype import dlt_to_linktype

if TYPE_CHECKING:
    from ._bpf_vm import InPlaceFilterFunction
    from ._codegen import Line
    from ._source import SavefileFacts

# The translator (_bpf_vm) is imported by the first program made, not by `import pcapy`.

Instruction = tuple[int, int, int, int]
BytesLike = Union[bytes, bytearray, memoryview]
FilterFunction = Callable[[BytesLike, int], int]


_HOST_ORDER = "<" if sys.byteorder == "little" else ">"
COMPILERS = ("auto", "libpcap", "pcapy")


def _as_compiler(compiler: object) -> str:
    if compiler not in COMPILERS:
        raise ValueError(f"compiler must be one of {', '.join(map(repr, COMPILERS))}, "
                         f"not {compiler!r}")
    return str(compiler)
def _as_expression(expression: object) -> str:
    if not isinstance(expression, str):
        raise TypeError(f"filter expression must be a str, not {type(expression).__name__}")
    if "\x00" in expression:
        raise ValueError("filter expression must not contain NUL characters")
    try:
        expression.encode("utf-8")  # what libpcap's compiler is handed
    except UnicodeEncodeError as err:
        raise ValueError(f"filter expression cannot be encoded as UTF-8: {err.reason}") from None
    return expression


def _as_instruction(index: int, insn: object) -> Instruction:
    fields: tuple[object, ...] = ()
    if not isinstance(insn, (str, bytes)):
        with contextlib.suppress(TypeError):  # not iterable
            fields = tuple(insn)  # type: ignore[arg-type]
    if len(fields) != 4:
        raise TypeError(f"instruction {index} must be a (code, jt, jf, k) tuple, not {insn!r}")
    code, jt, jf, k = (as_int("instruction field", field) for field in fields)
    return (code, jt, jf, k)


def _as_packet(packet: object) -> BytesLike:
    if isinstance(packet, (bytes, bytearray)):
        return packet
    if not isinstance(packet, memoryview):
        raise TypeError(f"packet must be bytes-like, not {type(packet).__name__}")
    # a view of another format or a strided one: index and measure it in bytes
    if packet.format == "B" and packet.ndim == 1 and packet.c_contiguous:
        return packet
    return packet.cast("B") if packet.c_contiguous else packet.tobytes()


def _check_as_the_kernel_does(instructions: Sequence[Instruction]) -> None:
    """libpcap's rules, then the Linux kernel's (no backward jump, see ``_bpf_kernel``)."""
    from ._bpf_kernel import KernelRejectsError, check_classic  # noqa: PLC0415 - on first use
    from ._bpf_vm import InvalidProgramError, validate  # noqa: PLC0415

    try:
        validate(instructions)
        check_classic(instructions)
    except (InvalidProgramError, KernelRejectsError) as err:
        raise BPFError(f"invalid BPF program: {err}") from err


class BPFProgram:
    """A compiled BPF filter program.

    ``BPFProgram(expression, linktype=DLT_EN10MB)`` compiles like pcapy's (snaplen 65536, no
    optimisation, netmask 0); ``pcapy.compile()`` gives full control. ``filter(packet)`` returns
    the program's verdict: 0 to reject, otherwise the number of bytes to keep.
    """

    __slots__ = ("_function", "_in_place", "_inlined", "_instructions", "linktype")

    def __init__(
        self, expression: str, linktype: int = DLT_EN10MB, *, compiler: str = "auto"
    ) -> None:
        expression = _as_expression(expression)
        linktype = as_c_int("linktype", linktype)
        instructions = _compile_instructions(
            _as_compiler(compiler), linktype, 65536, expression, False, 0, None
        )
        self._setup(instructions, linktype)

    def _setup(self, instructions: Sequence[Instruction], linktype: int) -> None:
        self._instructions = tuple(instructions)
        self.linktype = linktype
        self._function: Optional[FilterFunction] = None
        self._in_place: Optional[InPlaceFilterFunction] = None
        self._inlined: dict[tuple[Line, ...], Optional[tuple[Line, ...]]] = {}
        from ._bpf_vm import InvalidProgramError, compile_program  # noqa: PLC0415 - see above

        try:
            self._function = compile_program(self._instructions)
        except InvalidProgramError as err:
            raise BPFError(f"invalid BPF program: {err}") from err

    @classmethod
    def from_instructions(
        cls, instructions: Iterable[Sequence[int]], linktype: int = DLT_EN10MB
    ) -> BPFProgram:
        """A program from ``(code, jt, jf, k)`` tuples, e.g. ``tcpdump -ddd`` output; no libpcap."""
        if not isinstance(instructions, Iterable):
            raise TypeError(
                "instructions must be an iterable of (code, jt, jf, k) tuples, "
                f"not {type(instructions).__name__}"
            )
        checked = [_as_instruction(index, insn) for index, insn in enumerate(instructions)]
        _check_as_the_kernel_does(checked)
        return cls._compiled(checked, as_int("linktype", linktype))

    @classmethod
    def _compiled(cls, instructions: Sequence[Instruction], linktype: int) -> BPFProgram:
        """A program libpcap's compiler made: trusted as libpcap trusts it (see _bpf_kernel)."""
        program = cls.__new__(cls)
        program._setup(instructions, linktype)
        return program

    def filter(self, packet: BytesLike) -> int:
        """Run the program over ``packet`` (its wire length taken as ``len(packet)``)."""
        packet = _as_packet(packet)
        return self.function(packet, len(packet))

    @property
    def function(self) -> FilterFunction:
        """The executable form: ``f(packet, wire_length) -> verdict``."""
        assert self._function is not None  # set in _setup, which every constructor runs
        return self._function

    @property
    def in_place_function(self) -> InPlaceFilterFunction:
        """The form savefile readers use: ``f(buffer, start, caplen, wire_length)``."""
        if self._in_place is None:
            from ._bpf_vm import compile_program_in_place  # noqa: PLC0415

            self._in_place = compile_program_in_place(self._instructions)
        return self._in_place

    def inline_statements(self, deliver: Sequence[Line]) -> Optional[list[Line]]:
        """The program as statements for a savefile reader's loop (see ``_bpf_vm``).

        Translated once for each ``deliver``: a reader asks again whenever it builds a loop
        (each ``dispatch()``), and validating and translating took ~0.2 ms a time."""
        key = tuple(deliver)
        if key not in self._inlined:
            from ._bpf_vm import inline_statements  # noqa: PLC0415

            inlined = inline_statements(self._instructions, key)
            self._inlined[key] = None if inlined is None else tuple(inlined)
        found = self._inlined[key]
        return None if found is None else list(found)

    def get_bpf(self) -> list[Instruction]:
        """The instructions as ``(code, jt, jf, k)`` tuples, as ``tcpdump -ddd`` prints them."""
        return list(self._instructions)

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        """The instructions as an immutable tuple."""
        return self._instructions

    @property
    def loops(self) -> bool:
        """Whether the program jumps backwards (``ip6 protochain``): libpcap's interpreter
        may then never return, so such a program is only ever run by pcapy's, which bounds
        its rounds (see ``_bpf_vm``)."""
        from ._bpf_kernel import jumps_backward  # noqa: PLC0415 - on first use

        return jumps_backward(self._instructions)

    def __len__(self) -> int:
        return len(self._instructions)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BPFProgram):
            return self._instructions == other._instructions
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._instructions)

    def __repr__(self) -> str:
        return f"<BPFProgram linktype={self.linktype} instructions={len(self._instructions)}>"


#: The manual's name for the class.
Bpf = BPFProgram


def compile(
    linktype: int,
    snaplen: int,
    expression: str,
    optimize: int,
    netmask: int,
    *,
    compiler: str = "auto",
) -> BPFProgram:
    """Compile a filter expression for a link type and snapshot length.

    ``compiler``: ``"auto"`` (libpcap's compiler when libpcap loads, pcapy's otherwise),
    ``"libpcap"`` or ``"pcapy"``.
    """
    return compile_for(linktype, snaplen, expression, optimize, netmask, savefile_swapped=None,
                       compiler=compiler)


def compile_for(
    linktype: int,
    snaplen: int,
    expression: str,
    optimize: int,
    netmask: int,
    *,
    savefile_swapped: Optional[bool],
    compiler: str = "auto",
) -> BPFProgram:
    """Compile ``expression`` as libpcap compiles it for a capture of this kind.

    ``savefile_swapped=None``: not a savefile (a live capture, ``compile()``), compiled on
    ``pcap_open_dead``. ``False``/``True``: a savefile in this machine's byte order or in the
    other one; libpcap's code generator has rules of its own for savefiles (DLT_NULL's
    ``ip6`` matches every BSD AF_INET6 value, a swapped file's address family is swapped), so
    the program is compiled on a savefile ``pcap_t`` of that link type, snapshot length and
    byte order. Every filter for a savefile goes through here (one call per link type for a
    pcapng file with several).
    """
    linktype = as_c_int("linktype", linktype)
    snaplen = as_c_int("snaplen", snaplen)
    expression = _as_expression(expression)
    netmask = as_u32_wrapped("netmask", netmask)
    if snaplen <= 0:
        raise ValueError(f"snaplen must be positive, got {snaplen}")
    instructions = _compile_instructions(
        _as_compiler(compiler), linktype, snaplen, expression,
        bool(as_int("optimize", optimize)), netmask, savefile_swapped,
    )
    return BPFProgram._compiled(instructions, linktype)


def _compile_instructions(
    compiler: str,
    linktype: int,
    snaplen: int,
    expression: str,
    optimize: bool,
    netmask: int,
    savefile_swapped: Optional[bool],
) -> Sequence[Instruction]:
    """The program from the chosen compiler (``auto``: libpcap's, or pcapy's without it)."""
    if compiler != "pcapy":
        try:
            return _libpcap.compile_filter(
                linktype, snaplen, expression, optimize, netmask,
                _savefile_shape(linktype, savefile_swapped),
            )
        except LibpcapNotFoundError:
            if compiler == "libpcap":
                raise
    from ._filter import compile_filter  # noqa: PLC0415 - loaded when first needed

    return compile_filter(expression, linktype, snaplen, optimize=optimize, netmask=netmask,
                          savefile_swapped=savefile_swapped)


def savefile_swapped(file_header: Optional[SavefileFacts]) -> bool:
    """Whether a savefile (its ``file_header``: classic pcap, or pcapng's first section) was
    written in the other byte order than this machine's, as libpcap's ``pcap_t`` records it."""
    return file_header is not None and file_header.byte_order != _HOST_ORDER


def _savefile_shape(dlt: int, swapped: Optional[bool]) -> Optional[_libpcap.SavefileShape]:
    if swapped is None:
        return None
    linktype = dlt_to_linktype(dlt)
    if linktype < 0:  # no savefile can have this link type: compile as libpcap would live
        return None
    return _libpcap.SavefileShape(linktype, bool(swapped))
