"""Every exception and warning pcapy raises, in one tree.

    Exception
     └── PcapError                   anything pcapy or libpcap reports
          ├── BPFError                 a filter that does not compile or cannot run
          ├── LibpcapNotFoundError     libpcap could not be loaded (lists every place tried)
          ├── WorkerError              a capture worker process failed (capture_parallel)
          ├── DumpError                writing a savefile failed (also an OSError: .errno)
          ├── CaptureError             a live-capture call that libpcap refused
          │    ├── NoSuchDeviceError
          │    ├── CapturePermissionError   (also a PermissionError)
          │    └── HandleStateError         a call that makes no sense for the handle's state
          └── SavefileError            a capture file that is not what it claims to be
               ├── UnknownFormatError       not pcap, nanosecond pcap or pcapng
               ├── UnsupportedVersionError  a known format at a version we refuse
               ├── TruncatedSavefileError   the file ends inside a header or a record
               └── MalformedSavefileError   a length, option or field that cannot be right

    UserWarning
     └── PcapWarning                 pcap_activate's warnings (PCAP_WARNING_*)

pcapy (the C extension) made ``PcapError`` and ``BPFError`` unrelated siblings of ``Exception``;
here ``BPFError`` is a ``PcapError``, so ``except PcapError`` and ``except BPFError`` both still
catch what they caught there. A closed handle raises the builtin ``ValueError``, as in pcapy.

Savefile errors say what libpcap says, word for word (``str(err)``, e.g. "truncated dump file;
tried to read 16 header bytes, only got 4"), and carry the byte ``offset`` at which the problem
was found as an attribute, so that a program can point at the place in the file.
"""

from __future__ import annotations

from typing import Optional


class PcapError(Exception):
    """The root of every error pcapy raises; ``str(err)`` is the message (libpcap's own, if any)."""


class BPFError(PcapError):
    """A BPF filter that does not compile, or a compiled program that cannot run."""


class LibpcapNotFoundError(PcapError):
    """libpcap is needed for this call and could not be loaded.

    ``tried`` lists every library name or path that was attempted, with the loader's reason.
    """

    def __init__(self, message: str, tried: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.tried = tried

    def __reduce__(self) -> tuple[type[LibpcapNotFoundError], tuple[str, tuple[str, ...]]]:
        return (type(self), (str(self), self.tried))


class CaptureError(PcapError):
    """libpcap refused a live-capture operation; ``status`` is its PCAP_ERROR_* code, if any."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[type[CaptureError], tuple[str, Optional[int]]]:
        return (type(self), (str(self), self.status))


class NoSuchDeviceError(CaptureError):
    """The capture device does not exist (PCAP_ERROR_NO_SUCH_DEVICE)."""


class CapturePermissionError(CaptureError, PermissionError):
    """The process lacks the privilege to capture (needs root, or CAP_NET_RAW and CAP_NET_ADMIN)."""

    def __str__(self) -> str:
        # PermissionError's own __str__ would format errno/strerror; keep the message as given.
        return str(self.args[0]) if self.args else ""


class HandleStateError(CaptureError):
    """A call that does not fit the handle's state (e.g. before ``activate()`` or after it)."""


class SavefileError(PcapError):
    """A capture file that cannot be read as far as it claims.

    ``str(err)`` (also ``reason``) is libpcap's message for the fault; ``offset`` is the byte
    offset in the file where it was found (None when unknown).
    """

    def __init__(self, message: str, offset: Optional[int] = None) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(message)

    def __reduce__(self) -> tuple[type[SavefileError], tuple[str, Optional[int]]]:
        return (type(self), (self.reason, self.offset))


class UnknownFormatError(SavefileError):
    """The data starts with no magic number pcapy knows (pcap, nanosecond pcap, pcapng, gzip)."""


class UnsupportedVersionError(SavefileError):
    """A pcap or pcapng file whose version number is not one this reader accepts."""


class TruncatedSavefileError(SavefileError):
    """The file ends in the middle of a header, a record or a block."""


class MalformedSavefileError(SavefileError):
    """A length, option or field value that no valid file can have."""


class DumpError(PcapError, OSError):
    """Writing a savefile failed: a full disk, ``/dev/full``, an I/O error.

    Also an ``OSError``, with its ``errno`` and ``strerror``. Raised by the call whose data
    could not be written (``Dumper()`` itself when the file header cannot be), and again by
    every later ``dump()`` or ``flush()``: the file is cut short.
    """


class WorkerError(PcapError):
    """A worker of ``capture_parallel`` failed; the others were stopped.

    ``worker`` is its index, ``traceback`` the worker's formatted traceback. The exception it
    raised, when it could be sent back, is the ``__cause__``, with the worker's traceback as its
    own ``__cause__``, so an uncaught WorkerError prints both.
    """

    def __init__(self, message: str, worker: int = -1, traceback: str = "") -> None:
        super().__init__(message)
        self.worker = worker
        self.traceback = traceback

    def __reduce__(self) -> tuple[type[WorkerError], tuple[str, int, str]]:
        return (type(self), (str(self), self.worker, self.traceback))


class PcapWarning(UserWarning):
    """A warning from libpcap, e.g. ``pcap_activate`` returning PCAP_WARNING_PROMISC_NOTSUP."""


for _cls in (
    PcapError,
    BPFError,
    LibpcapNotFoundError,
    CaptureError,
    NoSuchDeviceError,
    CapturePermissionError,
    HandleStateError,
    SavefileError,
    UnknownFormatError,
    UnsupportedVersionError,
    TruncatedSavefileError,
    MalformedSavefileError,
    WorkerError,
    PcapWarning,
):
    _cls.__module__ = "pcapy"
del _cls
