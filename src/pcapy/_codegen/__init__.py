"""The one home of generated code: the loop ABI, an emitter, and compiling variants.

pcapy writes Python at run time in two places: the savefile record loops (``_savefile._pcap``,
``_savefile._pcapng``) and the BPF translator (``_bpf_vm``), whose statements are pasted into
those loops so a rejected packet costs no call. This module is what they share:

- **The loop ABI**: the names a record loop defines for each packet and that BPF statements
  read (``PACKET``, ``BASE``, ``CAPLEN``, ``WIRELEN``, the ``LOAD_U16``/``LOAD_U32`` loaders),
  the names BPF statements may assign (``ACCUMULATOR``, ``INDEX``, the ``SCRATCH`` cells), and
  the reject convention: an inlined filter drops a packet with ``REJECT`` (``continue``: on to
  the next record of the loop). Both sides spell these names through the constants below, so
  renaming one renames it everywhere.
- **Statements** are ``(depth, text)`` pairs: no indentation is written into strings. An
  ``Emitter`` collects them, with ``block(header)`` as the indentation context.
- **Variants**: ``compile_variant`` compiles one generated source under a file name of its own
  (``<pcapy FAMILY DIGEST>``), registers the source in ``linecache`` (as attrs does), so a
  traceback shows the generated line and pdb can step through it, and remembers it for
  ``python -m pcapy._codegen dump`` (see ``__main__``). With ``PCAPY_CODEGEN_DIR`` set in the
  environment each variant is also written to that directory and compiled from there, so
  coverage.py measures generated code like written code (the test suite does this).

Generated functions take their dependencies as keyword-only parameters: a caller that passes a
name the variant does not know, or forgets one, fails at the call with the name in the message.
"""

from __future__ import annotations

import contextlib
import hashlib
import linecache
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, cast

__all__ = [
    "ACCUMULATOR",
    "BASE",
    "CAPLEN",
    "INDEX",
    "LOAD_U16",
    "LOAD_U32",
    "PACKET",
    "REJECT",
    "SCRATCH",
    "WIRELEN",
    "Emitter",
    "Line",
    "Variant",
    "compile_variant",
    "indented",
    "render",
    "scratch",
    "source_of",
    "suite",
    "variants",
]

# --- The loop ABI -------------------------------------------------------------------------
#: The buffer the current packet lies in (a read chunk, or the packet itself).
PACKET = "pkt"
#: Where the packet starts in ``PACKET`` (0 for a packet of its own).
BASE = "base"
#: Its captured length: the packet is ``PACKET[BASE : BASE + CAPLEN]``.
CAPLEN = "buflen"
#: Its length on the wire.
WIRELEN = "wirelen"
#: Big-endian ``unpack_from`` of 16 and 32 bits, called as ``LOAD_U16(PACKET, offset)[0]``.
LOAD_U16 = "_u16"
LOAD_U32 = "_u32"
#: BPF's registers and scratch memory, the only names BPF statements assign.
ACCUMULATOR = "a"
INDEX = "x"
SCRATCH = "m"
#: How an inlined filter drops a packet: on to the next record of the enclosing loop.
REJECT = "continue"


def scratch(cell: int) -> str:
    """The variable holding BPF scratch memory cell ``M[cell]``."""
    return f"{SCRATCH}{cell}"


# --- Statements and the emitter -----------------------------------------------------------
Line = tuple[int, str]
"""One statement: its depth (in blocks, relative to where it is emitted) and its text."""

_INDENT = "    "


def indented(lines: Iterable[Line], levels: int = 1) -> list[Line]:
    """``lines`` nested ``levels`` blocks deeper."""
    return [(depth + levels, text) for depth, text in lines]


def suite(header: str, *body: str) -> list[Line]:
    """A compound statement: ``header:`` followed by ``body``, one block deeper."""
    return [(0, f"{header}:"), *((1, text) for text in body)]


def render(lines: Iterable[Line]) -> str:
    """The source text of ``lines``."""
    return "".join(f"{_INDENT * depth}{text}\n" for depth, text in lines)


class Emitter:
    """Collects statements; ``block(header)`` writes ``header:`` and nests what follows."""

    def __init__(self) -> None:
        self._lines: list[Line] = []
        self._depth = 0

    def line(self, *texts: str) -> None:
        """Statements at the current depth."""
        self._lines += [(self._depth, text) for text in texts]

    def lines(self, lines: Iterable[Line]) -> None:
        """Statements whose depths are relative to the current one."""
        self._lines += indented(lines, self._depth)

    @contextlib.contextmanager
    def block(self, header: str) -> Iterator[None]:
        """``with emitter.block("if x"):`` emits ``if x:`` and nests the statements inside."""
        self.line(f"{header}:")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    @property
    def statements(self) -> list[Line]:
        """What was emitted so far."""
        return list(self._lines)

    def source(self) -> str:
        """What was emitted, as source text."""
        return render(self._lines)


def signature(name: str, parameters: Sequence[str]) -> str:
    """The header of a generated function taking ``parameters`` by keyword only."""
    return f"def {name}(*, {', '.join(parameters)})"


# --- Compiling and registering variants ---------------------------------------------------
@dataclass(frozen=True, eq=False)
class Variant:
    """One generated source: its family (what generated it), file name and lines (the very
    list ``linecache`` holds: the text is kept once)."""

    family: str
    filename: str
    lines: list[str]

    @property
    def source(self) -> str:
        """The source text."""
        return "".join(self.lines)


# The variants alive, for ``linecache``, ``variants()`` and ``source_of``: an entry lives as
# long as a function compiled from it (a process compiling filter after filter keeps only the
# sources its live filters and loops came from), counted when one source is compiled twice.
_VARIANTS: dict[str, Variant] = {}
_LIVE: dict[str, int] = {}
_LOCK = threading.RLock()  # re-entered by _forget when a collection runs under it
ENV_DIRECTORY = "PCAPY_CODEGEN_DIR"


def compile_variant(family: str, source: str, entry: str) -> Callable[..., Any]:
    """Compile ``source`` and return its function ``entry``.

    ``family`` names what generated it (``"pcap generator"``, ``"bpf program"``); the file name
    adds a digest of the source, so each distinct variant has its own name, in tracebacks, in
    ``linecache`` and in ``variants()``.
    """
    digest = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    filename = _filename(family, digest, source)
    with _LOCK:
        variant = _VARIANTS.setdefault(
            filename, Variant(family, filename, source.splitlines(True))
        )
        _LIVE[filename] = _LIVE.get(filename, 0) + 1
        # mtime None: linecache.checkcache() keeps the entry (there is no file to compare).
        linecache.cache[filename] = (len(source), None, variant.lines, filename)
    namespace: dict[str, Any] = {}
    # The source is written by pcapy's generators, from its templates and validated programs.
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    function = cast(Callable[..., Any], namespace[entry])
    # Functions made by `function` (a filter's closure) keep `namespace` and so `function`.
    weakref.finalize(function, _forget, filename)
    return function


def _forget(filename: str) -> None:
    with _LOCK:
        left = _LIVE.pop(filename, 1) - 1
        if left:
            _LIVE[filename] = left
            return
        _VARIANTS.pop(filename, None)
        linecache.cache.pop(filename, None)


def _filename(family: str, digest: str, source: str) -> str:
    directory = os.environ.get(ENV_DIRECTORY)
    if not directory:
        return f"<pcapy {family} {digest}>"
    path = Path(directory).resolve() / f"{family.replace(' ', '_')}_{digest}.py"
    if not path.exists():
        # Written whole under a name of its own, then renamed: processes compiling the same
        # variant at once never leave (or read) a file half written.
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_text(source, encoding="utf-8")
        os.replace(partial, path)
    return str(path)


def variants() -> list[Variant]:
    """The variants of the generated functions alive in this process, oldest first."""
    with _LOCK:
        return list(_VARIANTS.values())


def source_of(function: Callable[..., Any]) -> str:
    """The generated source ``function`` was compiled from."""
    filename = function.__code__.co_filename
    with _LOCK:
        variant = _VARIANTS.get(filename)
    if variant is None:
        raise ValueError(f"{function!r} was not compiled by pcapy._codegen")
    return variant.source
