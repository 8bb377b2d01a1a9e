"""Find and load libpcap once, lazily, through cffi in ABI mode (no compiler needed).

``load()`` is called by every function that needs libpcap, never at import, so ``import pcapy``
and all savefile work succeed on a machine without libpcap. The first call tries, in order:
the path in ``$PCAPY_LIBPCAP`` (if set, it is the only candidate), the platform's library names,
and, only if none of those loads, ``ctypes.util.find_library``. If nothing loads, one
``LibpcapNotFoundError`` lists every attempt and says how to install libpcap; the failure is
remembered, so later calls fail fast with the same error.

The C declarations come pre-parsed (cffi's out-of-line ABI mode): the platform's generated
``_ffi_<platform>`` module, which needs only ``_cffi_backend``. Parsing ``_cdef``'s text at run
time instead would import pycparser and cost about 25 ms on the first libpcap call of every
process; it remains only as a fallback (see ``_parsed_ffi``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Optional

from .._errors import LibpcapNotFoundError
from . import _cdef, _platform

ENV_OVERRIDE = "PCAPY_LIBPCAP"


@dataclass
class Libpcap:
    """The loaded library: cffi's ``ffi`` and ``lib``, where it came from, and what it offers."""

    ffi: Any
    lib: Any
    path: str
    version: str
    spec: _platform.PlatformSpec
    optional: frozenset[str] = field(default_factory=frozenset)
    #: the C library, when it offers open_memstream (for filtered savefile reading); else None
    libc: Any = None

    def has(self, function: str) -> bool:
        """Whether an OPTIONAL entry point exists in this libpcap."""
        return function in self.optional


_lock = threading.Lock()
_loaded: Optional[Libpcap] = None
_failure: Optional[LibpcapNotFoundError] = None


def load() -> Libpcap:
    """Return the loaded libpcap, loading it on first use; raise LibpcapNotFoundError if absent."""
    global _loaded, _failure
    if _loaded is not None:
        return _loaded
    with _lock:
        if _loaded is None:
            if _failure is not None:
                raise _failure
            try:
                _loaded = _load(_platform.current())
            except LibpcapNotFoundError as err:
                _failure = err
                raise
    return _loaded


def _make_ffi(spec: _platform.PlatformSpec) -> Any:
    """cffi's ``ffi`` declaring ``_cdef.declarations(spec)``: pre-parsed if possible."""
    prebuilt = _prebuilt_ffi(spec)
    return prebuilt if prebuilt is not None else _parsed_ffi(spec)


def _prebuilt_ffi(spec: _platform.PlatformSpec) -> Any:
    """The ``ffi`` of ``spec``'s generated module, or None if that module cannot be imported.

    It can be missing (a packager kept only some files, a spec was added without running
    ``_generate_ffi``) or refused: ``_cffi_backend`` raises ImportError for a module format it
    does not know. Neither is a reason to fail, since the same declarations can still be parsed
    at run time, only slower; anything else wrong with the module is a bug the tests catch.
    """
    try:
        module = importlib.import_module(f".{spec.ffi_module}", __package__)
    except ImportError:
        return None
    return module.ffi


def _parsed_ffi(spec: _platform.PlatformSpec) -> Any:
    """The fallback: a new ``ffi`` parsing the declarations now (imports cffi and pycparser)."""
    from cffi import FFI  # noqa: PLC0415 - imported on first use: `import pcapy` stays light

    ffi = FFI()
    ffi.cdef(_cdef.declarations(spec))
    return ffi


def _candidates(spec: _platform.PlatformSpec) -> Iterator[str]:
    """Library names to dlopen, lazily: ``find_library`` runs only after the others failed.

    ``ctypes.util.find_library`` is slow (it imports ctypes and, on Linux, runs ldconfig or a
    compiler in a subprocess), and the platform's names almost always load first.
    """
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        yield override
        return
    yield from spec.library_names
    import ctypes.util  # noqa: PLC0415 - only when every usual name failed

    found = ctypes.util.find_library(spec.find_library_name)
    if found and found not in spec.library_names:
        yield found


def _load(spec: _platform.PlatformSpec) -> Libpcap:
    for directory in spec.dll_directories:
        if os.path.isdir(directory) and hasattr(os, "add_dll_directory"):
            os.add_dll_directory(directory)
    ffi = _make_ffi(spec)
    not_libpcap: tuple[type[Exception], ...] = (OSError, *_missing_symbol_errors(ffi))
    tried: list[str] = []
    for name in _candidates(spec):
        try:
            lib = ffi.dlopen(name)
            lib.pcap_lib_version  # noqa: B018 - a library without it is not libpcap
        except not_libpcap as err:
            tried.append(f"{name}: {_reason(err)}")
            _drop_frames(err)
            continue
        return _describe(ffi, lib, name, spec)
    source = f"${ENV_OVERRIDE}" if os.environ.get(ENV_OVERRIDE) else "the usual places"
    raise LibpcapNotFoundError(
        f"libpcap could not be loaded from {source}; tried: " + "; ".join(tried)
        + f". To fix: {spec.install_hint}, or set ${ENV_OVERRIDE} to the library's full path.",
        tuple(tried),
    )


def _drop_frames(err: BaseException) -> None:
    """Free the frames a failed attempt's traceback holds.

    cffi's dlopen error chains an exception whose traceback cycles back to it through a frame;
    until the garbage collector runs, that cycle would keep alive every caller frame up the
    stack, including a caller's open files.
    """
    seen: Optional[BaseException] = err
    while seen is not None:
        _clear_frames(seen.__traceback__)
        seen = seen.__context__


def _clear_frames(tb: Optional[TracebackType]) -> None:
    """``traceback.clear_frames``, without importing traceback (and textwrap) for it.

    A failed name is routine (Debian has no libpcap.so.1), so that import would add about 1 ms to
    the first libpcap call of most processes.
    """
    while tb is not None:
        with contextlib.suppress(RuntimeError):  # a frame still executing (ours) cannot be cleared
            tb.tb_frame.clear()
        tb = tb.tb_next


def _reason(err: Exception) -> str:
    return str(err).split("\n", 1)[0] or type(err).__name__


def _missing_symbol_errors(ffi: Any) -> tuple[type[Exception], ...]:
    """What reading a declared function the library lacks raises, for probing entry points.

    An in-line ``cffi.FFI`` raises AttributeError; a pre-built ffi raises its own ``ffi.error``
    (not an AttributeError subclass), and AttributeError for names it does not declare.
    """
    error = getattr(ffi, "error", None)
    return (AttributeError,) if error is None else (AttributeError, error)


def _describe(ffi: Any, lib: Any, path: str, spec: _platform.PlatformSpec) -> Libpcap:
    missing = _missing_symbol_errors(ffi)
    optional = set()
    for function in _cdef.OPTIONAL_FUNCTIONS:
        try:
            getattr(lib, function)
        except missing:
            continue
        optional.add(function)
    version = ffi.string(lib.pcap_lib_version()).decode("utf-8", "replace")
    return Libpcap(ffi, lib, path, version, spec, frozenset(optional), _c_library(ffi))


def _c_library(ffi: Any) -> Any:
    """The process's C library through the same ffi, if it has open_memstream; else None."""
    # dlopen(None) raises OSError or TypeError on Windows, which has no open_memstream either
    unusable: tuple[type[Exception], ...] = (OSError, TypeError, *_missing_symbol_errors(ffi))
    try:
        libc = ffi.dlopen(None)
        libc.open_memstream  # noqa: B018 - probe: POSIX 2008, not on Windows
    except unusable:
        return None
    return libc


def reset_for_tests() -> None:
    """Forget the loaded library and any remembered failure (tests of the loader only)."""
    global _loaded, _failure
    with _lock:
        _loaded = None
        _failure = None
