"""Turn libpcap's status codes into exceptions, right beside each call.

``pcap_geterr`` is read before anything can close or reuse the handle (pcapy read it after
``pcap_close``). Error codes map to ``PcapError`` subclasses through one table; the positive
``pcap_activate`` codes become ``PcapWarning``s.
"""

from __future__ import annotations

from typing import Any, Optional

from .._constants import Status
from .._errors import (
    CaptureError,
    CapturePermissionError,
    HandleStateError,
    NoSuchDeviceError,
    PcapError,
)

_ERROR_CLASSES: dict[int, type[CaptureError]] = {
    Status.ERROR_NO_SUCH_DEVICE: NoSuchDeviceError,
    Status.ERROR_PERM_DENIED: CapturePermissionError,
    Status.ERROR_PROMISC_PERM_DENIED: CapturePermissionError,
    Status.ERROR_ACTIVATED: HandleStateError,
    Status.ERROR_NOT_ACTIVATED: HandleStateError,
}

PRIVILEGE_HINT = (
    "capturing needs root, or the CAP_NET_RAW and CAP_NET_ADMIN capabilities "
    "(e.g. 'setcap cap_net_raw,cap_net_admin=eip' on the Python binary)"
)


def status_text(ffi: Any, lib: Any, status: int) -> str:
    """libpcap's words for a status code (pcap_statustostr)."""
    return str(ffi.string(lib.pcap_statustostr(status)).decode("utf-8", "replace"))


def handle_error(ffi: Any, lib: Any, handle: Any) -> str:
    """The handle's last error message (pcap_geterr), read while the handle is still open."""
    return str(ffi.string(lib.pcap_geterr(handle)).decode("utf-8", "replace"))


def error_for_status(
    ffi: Any, lib: Any, status: int, handle: Any = None, context: str = ""
) -> PcapError:
    """The exception for a negative status, with libpcap's own message."""
    message = ""
    if handle is not None and status in (Status.ERROR, Status.ERROR_PERM_DENIED,
                                         Status.ERROR_NO_SUCH_DEVICE,
                                         Status.ERROR_PROMISC_PERM_DENIED,
                                         Status.ERROR_RFMON_NOTSUP, Status.ERROR_IFACE_NOT_UP,
                                         Status.ERROR_CAPTURE_NOTSUP):
        message = handle_error(ffi, lib, handle)
    if not message:
        message = status_text(ffi, lib, status)
    if status in (Status.ERROR_PERM_DENIED, Status.ERROR_PROMISC_PERM_DENIED):
        message = f"{message} ({PRIVILEGE_HINT})"
    if context:
        message = f"{context}: {message}"
    cls = _ERROR_CLASSES.get(status, CaptureError)
    return cls(message, status)


def check(ffi: Any, lib: Any, status: int, handle: Any = None, context: str = "") -> int:
    """Raise for a negative status; return the status otherwise."""
    if status < 0:
        raise error_for_status(ffi, lib, status, handle, context)
    return status


def errbuf_message(ffi: Any, errbuf: Any, fallback: Optional[str] = None) -> str:
    """The NUL-terminated message libpcap left in an error buffer."""
    text = ffi.string(errbuf).decode("utf-8", "replace")
    return str(text or fallback or "unknown libpcap error")
