"""Per-OS facts about libpcap, as data: where the library lives and how its structs are laid out.

One ``PlatformSpec`` is chosen at import for the running system. Each spec's C declarations are
also pre-parsed into a module of their own (``ffi_module``, written by ``_generate_ffi``), so a
change to a spec's structs needs ``python -m pcapy._libpcap._generate_ffi`` afterwards. Only Linux
is exercised by this project's tests; the macOS and Windows entries are written from their
documentation:

- macOS ships libpcap as ``/usr/lib/libpcap.A.dylib`` (Homebrew's in ``/opt/homebrew/opt/libpcap``
  or ``/usr/local/opt/libpcap``). Its ``struct timeval`` has a 32-bit ``tv_usec``
  (``suseconds_t`` is ``__int32_t``) and ``struct sockaddr`` starts with a length byte.
- Windows uses Npcap's ``wpcap.dll``, installed in ``%SystemRoot%\\System32\\Npcap`` (which is not
  on the DLL search path: Npcap's guide says to add that directory). ``long`` is 32 bits there,
  and ``struct pcap_stat`` has an extra ``ps_capt`` field. There is no selectable descriptor;
  live capture waits on the event from ``pcap_getevent`` (see ``_libpcap._handle``).
- FreeBSD, NetBSD and OpenBSD use the BSD ``sockaddr`` layout and ``libpcap.so``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformSpec:
    """What differs between systems for loading and talking to libpcap."""

    library_names: tuple[str, ...]  # tried in order with dlopen
    find_library_name: str  # passed to ctypes.util.find_library as a last resort
    dll_directories: tuple[str, ...]  # Windows: directories to add before loading
    timeval: str  # C declaration of struct timeval
    pcap_stat: str  # C declaration of struct pcap_stat
    sockaddr: str  # C declaration of struct sockaddr
    install_hint: str  # how to get libpcap, for the not-found error
    has_selectable_fd: bool
    ffi_module: str  # these declarations pre-parsed by _generate_ffi, imported by _loader


_POSIX_TIMEVAL = "struct timeval { long tv_sec; long tv_usec; };"
_STAT = "struct pcap_stat { unsigned int ps_recv; unsigned int ps_drop; unsigned int ps_ifdrop; };"
_LINUX_SOCKADDR = "struct sockaddr { unsigned short sa_family; char sa_data[14]; };"
_BSD_SOCKADDR = (
    "struct sockaddr { unsigned char sa_len; unsigned char sa_family; char sa_data[14]; };"
)

LINUX = PlatformSpec(
    library_names=("libpcap.so.1", "libpcap.so.0.8", "libpcap.so"),
    find_library_name="pcap",
    dll_directories=(),
    timeval=_POSIX_TIMEVAL,
    pcap_stat=_STAT,
    sockaddr=_LINUX_SOCKADDR,
    install_hint=(
        "install libpcap: 'apt-get install libpcap0.8' (Debian, Ubuntu), "
        "'dnf install libpcap' (Fedora, RHEL), 'apk add libpcap' (Alpine)"
    ),
    has_selectable_fd=True,
    ffi_module="_ffi_linux",
)

MACOS = PlatformSpec(
    library_names=(
        "/usr/lib/libpcap.A.dylib",
        "libpcap.A.dylib",
        "/opt/homebrew/opt/libpcap/lib/libpcap.dylib",
        "/usr/local/opt/libpcap/lib/libpcap.dylib",
    ),
    find_library_name="pcap",
    dll_directories=(),
    timeval="struct timeval { long tv_sec; int tv_usec; };",
    pcap_stat=_STAT,
    sockaddr=_BSD_SOCKADDR,
    install_hint="macOS ships libpcap in /usr/lib; 'brew install libpcap' gives a newer one",
    has_selectable_fd=True,
    ffi_module="_ffi_macos",
)

BSD = PlatformSpec(
    library_names=("libpcap.so", "libpcap.so.8", "libpcap.so.1"),
    find_library_name="pcap",
    dll_directories=(),
    timeval=_POSIX_TIMEVAL,
    pcap_stat=_STAT,
    sockaddr=_BSD_SOCKADDR,
    install_hint=(
        "libpcap is part of the base system; install the 'libpcap' package for a newer one"
    ),
    has_selectable_fd=True,
    ffi_module="_ffi_bsd",
)

_SYSTEM_ROOT = os.environ.get("SYSTEMROOT", r"C:\Windows")

WINDOWS = PlatformSpec(
    library_names=("wpcap.dll",),
    find_library_name="wpcap",
    dll_directories=(os.path.join(_SYSTEM_ROOT, "System32", "Npcap"),),
    timeval="struct timeval { long tv_sec; long tv_usec; };",  # long is 32-bit on Windows
    pcap_stat=(
        "struct pcap_stat { unsigned int ps_recv; unsigned int ps_drop; "
        "unsigned int ps_ifdrop; unsigned int ps_capt; };"
    ),
    sockaddr=_LINUX_SOCKADDR,
    install_hint="install Npcap from https://npcap.com (the WinPcap-compatible mode is not needed)",
    has_selectable_fd=False,
    ffi_module="_ffi_windows",
)


#: every spec, in the order ``_generate_ffi`` writes their modules
ALL_SPECS: tuple[PlatformSpec, ...] = (LINUX, MACOS, BSD, WINDOWS)

_BY_PLATFORM = {"linux": LINUX, "darwin": MACOS, "win32": WINDOWS}


def current() -> PlatformSpec:
    """The spec for the running system (the BSDs and anything unknown get ``BSD``)."""
    name = "linux" if sys.platform.startswith("linux") else sys.platform
    return _BY_PLATFORM.get(name, BSD)
