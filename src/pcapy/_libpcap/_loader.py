"""Find and load libpcap once, lazily, through cffi in ABI mode (no compiler needed).

``load()`` is called by every function that needs libpcap, never at import, so ``import pcapy``
and all savefile work succeed on a machine without libpcap. The first call tries, in order:
the path in ``$PCAPY_LIBPCAP`` (if set, it is the only candidate), the platform's library names,
and ``ctypes.util.find_library``. If nothing loads, one ``LibpcapNotFoundError`` lists every
attempt and says how to install libpcap; the failure is remembered, so later calls fail fast
with the same error.
"""

from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional, Union

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
    from cffi import FFI  # noqa: PLC0415 - imported on first use: `import pcapy` stays light

    ffi = FFI()
    ffi.cdef(spec.timeval + spec.pcap_stat + spec.sockaddr + _cdef.TYPES)
    for group in (_cdef.CORE, _cdef.FILTERS, _cdef.SAVEFILES, _cdef.LIVE, _cdef.DEVICES,
                  _cdef.SAVEFILE_FILTER, _cdef.C_LIBRARY):
        ffi.cdef(group)
    ffi.cdef(_cdef.OPTIONAL)
    return ffi


def _candidates(spec: _platform.PlatformSpec) -> list[str]:
    override = os.environ.get(ENV_OVERRIDE)
    if override:
        return [override]
    names = list(spec.library_names)
    import ctypes.util  # noqa: PLC0415 - only when loading

    found = ctypes.util.find_library(spec.find_library_name)
    if found and found not in names:
        names.append(found)
    return names


def _load(spec: _platform.PlatformSpec) -> Libpcap:
    for directory in spec.dll_directories:
        if os.path.isdir(directory) and hasattr(os, "add_dll_directory"):
            os.add_dll_directory(directory)
    ffi = _make_ffi(spec)
    tried: list[str] = []
    for name in _candidates(spec):
        try:
            lib = ffi.dlopen(name)
            lib.pcap_lib_version  # noqa: B018 - a library without it is not libpcap
        except (OSError, AttributeError) as err:
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
        traceback.clear_frames(seen.__traceback__)
        seen = seen.__context__


def _reason(err: Union[OSError, AttributeError]) -> str:
    return str(err).split("\n", 1)[0] or type(err).__name__


def _describe(ffi: Any, lib: Any, path: str, spec: _platform.PlatformSpec) -> Libpcap:
    optional = set()
    for function in _cdef.OPTIONAL_FUNCTIONS:
        try:
            getattr(lib, function)
        except AttributeError:
            continue
        optional.add(function)
    version = ffi.string(lib.pcap_lib_version()).decode("utf-8", "replace")
    return Libpcap(ffi, lib, path, version, spec, frozenset(optional), _c_library(ffi))


def _c_library(ffi: Any) -> Any:
    """The process's C library through the same ffi, if it has open_memstream; else None."""
    try:
        libc = ffi.dlopen(None)
        libc.open_memstream  # noqa: B018 - probe: POSIX 2008, not on Windows
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def reset_for_tests() -> None:
    """Forget the loaded library and any remembered failure (tests of the loader only)."""
    global _loaded, _failure
    with _lock:
        _loaded = None
        _failure = None
