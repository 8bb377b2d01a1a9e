"""pcapy: the Pcapy packet-capture API in pure Python.

Code written for pcapy or pcapy-ng runs unchanged: ``open_live``, ``open_offline``, ``create``,
``findalldevs``, ``lookupdev``, ``compile``, the ``Reader``, ``Dumper``, ``Pkthdr`` and
``BPFProgram`` objects, ``PcapError``/``BPFError`` and the ``DLT_*``/``PCAP_D_*`` constants.
Savefiles (pcap, nanosecond pcap, pcapng, gzip) are read and written in Python and need no
libpcap; live capture, device listing and filter compilation load libpcap through cffi on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._bpf import Bpf, BPFProgram, compile
from ._constants import (
    DLT_ARCNET,
    DLT_ATM_RFC1483,
    DLT_C_HDLC,
    DLT_EN10MB,
    DLT_FDDI,
    DLT_IEEE802,
    DLT_IEEE802_11,
    DLT_IEEE802_11_RADIO,
    DLT_IPV4,
    DLT_IPV6,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    DLT_LOOP,
    DLT_LTALK,
    DLT_NFLOG,
    DLT_NULL,
    DLT_PPP,
    DLT_PPP_ETHER,
    DLT_PPP_SERIAL,
    DLT_RAW,
    DLT_SLIP,
    PACKET_FANOUT_CPU,
    PACKET_FANOUT_FLAG_DEFRAG,
    PACKET_FANOUT_FLAG_IGNORE_OUTGOING,
    PACKET_FANOUT_FLAG_ROLLOVER,
    PACKET_FANOUT_FLAG_UNIQUEID,
    PACKET_FANOUT_HASH,
    PACKET_FANOUT_LB,
    PACKET_FANOUT_QM,
    PACKET_FANOUT_RND,
    PACKET_FANOUT_ROLLOVER,
    PCAP_D_IN,
    PCAP_D_INOUT,
    PCAP_D_OUT,
    PCAP_ERROR,
    PCAP_ERROR_ACTIVATED,
    PCAP_ERROR_BREAK,
    PCAP_ERROR_CANTSET_TSTAMP_TYPE,
    PCAP_ERROR_CAPTURE_NOTSUP,
    PCAP_ERROR_IFACE_NOT_UP,
    PCAP_ERROR_NO_SUCH_DEVICE,
    PCAP_ERROR_NOT_ACTIVATED,
    PCAP_ERROR_NOT_RFMON,
    PCAP_ERROR_PERM_DENIED,
    PCAP_ERROR_PROMISC_PERM_DENIED,
    PCAP_ERROR_RFMON_NOTSUP,
    PCAP_ERROR_TSTAMP_PRECISION_NOTSUP,
    PCAP_NETMASK_UNKNOWN,
    PCAP_TSTAMP_PRECISION_MICRO,
    PCAP_TSTAMP_PRECISION_NANO,
    PCAP_WARNING,
    PCAP_WARNING_PROMISC_NOTSUP,
    PCAP_WARNING_TSTAMP_TYPE_NOTSUP,
    Direction,
    FanoutFlag,
    FanoutMode,
    Status,
    TstampPrecision,
    TstampType,
    datalink_name,
)
from ._devices import Device, DeviceAddress, findalldevs, list_devices, lookupdev
from ._dumper import Dumper
from ._errors import (
    BPFError,
    CaptureError,
    CapturePermissionError,
    DumpError,
    HandleStateError,
    LibpcapNotFoundError,
    MalformedSavefileError,
    NoSuchDeviceError,
    PcapError,
    PcapWarning,
    SavefileError,
    TruncatedSavefileError,
    UnknownFormatError,
    UnsupportedVersionError,
    WorkerError,
)
from ._live import create, open_live
from ._offline import open_offline
from ._pkthdr import NanoPkthdr, PcapngPkthdr, Pkthdr
from ._reader import Reader
from ._savefile._pcap import PcapFileHeader

if TYPE_CHECKING:
    from ._fanout import (
        ParallelCapture,
        ParallelResult,
        WorkerResult,
        WorkerStats,
        capture_parallel,
        merge_by_time,
    )
    from ._range_index import build_index
    from ._ranges import read_range, split
    from ._savefile._pcapng_types import (
        CustomBlock,
        DecryptionSecrets,
        Interface,
        InterfaceStatistics,
        NameResolution,
        PacketOptions,
        PcapngFileInfo,
        Section,
    )
    from ._split import ByteRange
    from ._tables import to_parquet, write_arrow

# The pcapng block types are imported when first asked for (PEP 562): building their classes is
# a sixth of `import pcapy`, and only pcapng work needs them.
_PCAPNG_TYPES = frozenset({
    "CustomBlock", "DecryptionSecrets", "Interface", "InterfaceStatistics", "NameResolution",
    "PacketOptions", "PcapngFileInfo", "Section",
})


# The worker pool loads multiprocessing: imported when first asked for.
_FANOUT_NAMES = frozenset({
    "ParallelCapture", "ParallelResult", "WorkerResult", "WorkerStats", "capture_parallel",
    "merge_by_time",
})
# Tables and ranges (docs/tables.md) load on first use too; pyarrow only when a table is made.
_LAZY_FUNCTIONS = {
    "split": "._ranges", "read_range": "._ranges", "ByteRange": "._split",
    "build_index": "._range_index",
    "to_parquet": "._tables", "write_arrow": "._tables",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY_FUNCTIONS.get(name)
    if module_name is not None:
        import importlib  # noqa: PLC0415

        module = importlib.import_module(module_name, __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    if name in _FANOUT_NAMES:
        from . import _fanout  # noqa: PLC0415

        value = getattr(_fanout, name)
        globals()[name] = value
        return value
    if name in _PCAPNG_TYPES:
        from ._savefile import _pcapng_types  # noqa: PLC0415

        value = getattr(_pcapng_types, name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'pcapy' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public names and the module's own dunders: not the helpers this file imports
    # (`annotations`, `TYPE_CHECKING`, `Any`) nor the private submodules.
    return sorted({*__all__, *(name for name in globals() if name.startswith("__"))})

__version__ = "1.0.0.dev0"

__all__ = [
    # pcapy's functions
    "compile",
    "create",
    "findalldevs",
    "lookupdev",
    "open_live",
    "open_offline",
    "list_devices",
    # live capture on several cores
    "capture_parallel",
    "merge_by_time",
    "ParallelCapture",
    "ParallelResult",
    "WorkerResult",
    "WorkerStats",
    # captures as tables and exact byte ranges (docs/tables.md; to_parquet/write_arrow need
    # pcapy-cffi[arrow])
    "build_index",
    "read_range",
    "split",
    "to_parquet",
    "write_arrow",
    # classes
    "BPFProgram",
    "Bpf",
    "ByteRange",
    "Dumper",
    "NanoPkthdr",
    "PcapngPkthdr",
    "Pkthdr",
    "Reader",
    "Device",
    "DeviceAddress",
    # savefile metadata (Reader.file_header, Pkthdr.interface / .options)
    "CustomBlock",
    "DecryptionSecrets",
    "Interface",
    "InterfaceStatistics",
    "NameResolution",
    "PacketOptions",
    "PcapFileHeader",
    "PcapngFileInfo",
    "Section",
    # exceptions and warnings
    "BPFError",
    "CaptureError",
    "CapturePermissionError",
    "DumpError",
    "HandleStateError",
    "LibpcapNotFoundError",
    "MalformedSavefileError",
    "NoSuchDeviceError",
    "PcapError",
    "PcapWarning",
    "SavefileError",
    "TruncatedSavefileError",
    "UnknownFormatError",
    "UnsupportedVersionError",
    "WorkerError",
    # constants
    "DLT_ARCNET",
    "DLT_ATM_RFC1483",
    "DLT_C_HDLC",
    "DLT_EN10MB",
    "DLT_FDDI",
    "DLT_IEEE802",
    "DLT_IEEE802_11",
    "DLT_IEEE802_11_RADIO",
    "DLT_IPV4",
    "DLT_IPV6",
    "DLT_LINUX_SLL",
    "DLT_LINUX_SLL2",
    "DLT_LOOP",
    "DLT_LTALK",
    "DLT_NFLOG",
    "DLT_NULL",
    "DLT_PPP",
    "DLT_PPP_ETHER",
    "DLT_PPP_SERIAL",
    "DLT_RAW",
    "DLT_SLIP",
    "PCAP_D_IN",
    "PCAP_D_INOUT",
    "PCAP_D_OUT",
    "PCAP_ERROR",
    "PCAP_ERROR_ACTIVATED",
    "PCAP_ERROR_BREAK",
    "PCAP_ERROR_CANTSET_TSTAMP_TYPE",
    "PCAP_ERROR_CAPTURE_NOTSUP",
    "PCAP_ERROR_IFACE_NOT_UP",
    "PCAP_ERROR_NO_SUCH_DEVICE",
    "PCAP_ERROR_NOT_ACTIVATED",
    "PCAP_ERROR_NOT_RFMON",
    "PCAP_ERROR_PERM_DENIED",
    "PCAP_ERROR_PROMISC_PERM_DENIED",
    "PCAP_ERROR_RFMON_NOTSUP",
    "PCAP_ERROR_TSTAMP_PRECISION_NOTSUP",
    "PCAP_NETMASK_UNKNOWN",
    "PCAP_TSTAMP_PRECISION_MICRO",
    "PCAP_TSTAMP_PRECISION_NANO",
    "PCAP_WARNING",
    "PCAP_WARNING_PROMISC_NOTSUP",
    "PCAP_WARNING_TSTAMP_TYPE_NOTSUP",
    "PACKET_FANOUT_CPU",
    "PACKET_FANOUT_FLAG_DEFRAG",
    "PACKET_FANOUT_FLAG_IGNORE_OUTGOING",
    "PACKET_FANOUT_FLAG_ROLLOVER",
    "PACKET_FANOUT_FLAG_UNIQUEID",
    "PACKET_FANOUT_HASH",
    "PACKET_FANOUT_LB",
    "PACKET_FANOUT_QM",
    "PACKET_FANOUT_RND",
    "PACKET_FANOUT_ROLLOVER",
    "Direction",
    "FanoutFlag",
    "FanoutMode",
    "Status",
    "TstampPrecision",
    "TstampType",
    "datalink_name",
    "__version__",
]

for _cls in (BPFProgram, Dumper, Pkthdr, NanoPkthdr, PcapngPkthdr, Reader, PcapFileHeader):
    _cls.__module__ = "pcapy"  # (the pcapng types do the same in their module)
del _cls
