"""A failed ``activate()`` says why in libpcap's words (issue 11, item 13).

``activate()`` returns libpcap's status, as in pcapy; ``geterr()`` then gives the reason, worded
as ``open_live`` raises it (and as tcpdump prints it), so that a program need not print
"status -8".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import pcapy
from conftest import is_root
from pcapy._libpcap._status import PRIVILEGE_HINT

pytestmark = pytest.mark.usefixtures("libpcap")

NO_PERMISSION = "You don't have permission to perform this capture on that device"


def refusal_of_a_missing_device() -> tuple[int, type[pcapy.PcapError], str]:
    """What activating a device that does not exist gives: status, exception and reason. An
    ordinary user is refused before libpcap looks the device up (its packet socket comes
    first), so the reason is the missing privilege, with pcapy's hint."""
    if is_root():
        return (pcapy.PCAP_ERROR_NO_SUCH_DEVICE, pcapy.NoSuchDeviceError,
                "No such device exists (No such device exists)")
    return (pcapy.PCAP_ERROR_PERM_DENIED, pcapy.CapturePermissionError,
            f"{NO_PERMISSION} (socket: Operation not permitted) ({PRIVILEGE_HINT})")


def test_geterr_after_a_failed_activation_is_open_lives_message() -> None:
    status, error, reason = refusal_of_a_missing_device()
    with pcapy.create("nosuchdev0") as reader:
        assert reader.activate() == status
        message = reader.geterr()
    with pytest.raises(error) as raised:
        pcapy.open_live("nosuchdev0", 100, 0, 10)
    assert message == str(raised.value) == f"nosuchdev0: {reason}"


def test_geterr_on_a_savefile_is_refused(tmp_path) -> None:
    from helpers import pcap_bytes, sample_records

    path = tmp_path / "one.pcap"
    path.write_bytes(pcap_bytes(sample_records(1)))
    with pcapy.open_offline(str(path)) as reader, pytest.raises(pcapy.PcapError,
                                                                 match="live capture"):
        reader.geterr()


@pytest.mark.live
@pytest.mark.skipif(not is_root(), reason=f"needs root to drop capabilities; uid {os.geteuid()}")
def test_permission_denied_names_the_reason() -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    probe = ("import pcapy; r = pcapy.create('lo'); s = r.activate(); "
             "print(s); print(r.geterr())")
    done = subprocess.run([setpriv, "--bounding-set", "-net_raw,-net_admin", sys.executable,
                           "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    status, message = done.stdout.splitlines()[:2]
    assert int(status) == pcapy.PCAP_ERROR_PERM_DENIED
    assert message.startswith(f"lo: {NO_PERMISSION} (socket: Operation not permitted)")
