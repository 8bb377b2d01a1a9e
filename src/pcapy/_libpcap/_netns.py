"""Joining a Linux network namespace from the calling thread (``setns(2)``).

A capture worker that must capture inside a namespace (``ip netns add NAME``) joins it before it
opens its handle: libpcap's packet socket belongs to the namespace of the thread that creates it,
and stays bound to that namespace's device for its whole life. ``setns`` moves only the calling
thread. Python 3.12 has ``os.setns``; before it the C library's is called through cffi, which is
why this lives here.
"""

from __future__ import annotations

import os
from typing import Any

from .._errors import CaptureError

CLONE_NEWNET = 0x40000000
NETNS_DIRECTORY = "/run/netns"  # where `ip netns add` mounts its namespaces


def join_netns(name: str) -> None:
    """Move the calling thread into network namespace ``name`` (under /run/netns) or path."""
    path = name if "/" in name else os.path.join(NETNS_DIRECTORY, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise CaptureError(f"network namespace {name}: {error.strerror} ({path})") from None
    try:
        _setns(fd)
    except OSError as error:
        raise CaptureError(f"cannot join network namespace {name}: {error.strerror}") from None
    finally:
        os.close(fd)


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    ffi, libc = _libc()
    if libc.setns(fd, CLONE_NEWNET) != 0:
        code = ffi.errno
        raise OSError(code, os.strerror(code))


def _libc() -> tuple[Any, Any]:
    from cffi import FFI  # noqa: PLC0415 - only workers in a namespace on Python < 3.12 need it

    ffi = FFI()
    ffi.cdef("int setns(int fd, int nstype);")
    return ffi, ffi.dlopen(None)
