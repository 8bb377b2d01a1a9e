"""libpcap's constants, with libpcap's values (pcap/pcap.h, pcap/dlt.h, pcap/bpf.h).

pcapy exported the ``DLT_*`` link types and ``PCAP_D_*`` directions as plain ints; they stay plain
ints here so ``reader.datalink() == pcapy.DLT_EN10MB`` and ``%d`` formatting work unchanged. The
``IntEnum`` classes are the typed spelling of the same values.
"""

from __future__ import annotations

import enum
import sys

from ._args import as_int


class Direction(enum.IntEnum):
    """Which packets ``setdirection`` keeps (pcap_direction_t)."""

    INOUT = 0
    IN = 1
    OUT = 2


class TstampPrecision(enum.IntEnum):
    """Time-stamp precision of a live handle or savefile (PCAP_TSTAMP_PRECISION_*)."""

    MICRO = 0
    NANO = 1


class TstampType(enum.IntEnum):
    """Time-stamp sources libpcap can be asked for (PCAP_TSTAMP_*)."""

    HOST = 0
    HOST_LOWPREC = 1
    HOST_HIPREC = 2
    ADAPTER = 3
    ADAPTER_UNSYNCED = 4
    HOST_HIPREC_UNSYNCED = 5


class Status(enum.IntEnum):
    """libpcap's status codes: errors (< 0) and ``pcap_activate`` warnings (> 0)."""

    ERROR = -1
    ERROR_BREAK = -2
    ERROR_NOT_ACTIVATED = -3
    ERROR_ACTIVATED = -4
    ERROR_NO_SUCH_DEVICE = -5
    ERROR_RFMON_NOTSUP = -6
    ERROR_NOT_RFMON = -7
    ERROR_PERM_DENIED = -8
    ERROR_IFACE_NOT_UP = -9
    ERROR_CANTSET_TSTAMP_TYPE = -10
    ERROR_PROMISC_PERM_DENIED = -11
    ERROR_TSTAMP_PRECISION_NOTSUP = -12
    ERROR_CAPTURE_NOTSUP = -13
    WARNING = 1
    WARNING_PROMISC_NOTSUP = 2
    WARNING_TSTAMP_TYPE_NOTSUP = 3


PCAP_D_INOUT = 0
PCAP_D_IN = 1
PCAP_D_OUT = 2

PCAP_TSTAMP_PRECISION_MICRO = 0
PCAP_TSTAMP_PRECISION_NANO = 1

PCAP_ERROR = -1
PCAP_ERROR_BREAK = -2
PCAP_ERROR_NOT_ACTIVATED = -3
PCAP_ERROR_ACTIVATED = -4
PCAP_ERROR_NO_SUCH_DEVICE = -5
PCAP_ERROR_RFMON_NOTSUP = -6
PCAP_ERROR_NOT_RFMON = -7
PCAP_ERROR_PERM_DENIED = -8
PCAP_ERROR_IFACE_NOT_UP = -9
PCAP_ERROR_CANTSET_TSTAMP_TYPE = -10
PCAP_ERROR_PROMISC_PERM_DENIED = -11
PCAP_ERROR_TSTAMP_PRECISION_NOTSUP = -12
PCAP_ERROR_CAPTURE_NOTSUP = -13
PCAP_WARNING = 1
PCAP_WARNING_PROMISC_NOTSUP = 2
PCAP_WARNING_TSTAMP_TYPE_NOTSUP = 3

PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF


class FanoutMode(enum.IntEnum):
    """How a Linux ``PACKET_FANOUT`` group spreads packets over its sockets (linux/if_packet.h)."""

    HASH = 0  # by flow hash: every packet of a flow goes to the same socket
    LB = 1  # round robin
    CPU = 2  # by the CPU that received the packet
    ROLLOVER = 3  # fill one socket, then the next
    RND = 4  # at random
    QM = 5  # by the packet's recorded receive queue


class FanoutFlag(enum.IntFlag):
    """Flags added to a ``FanoutMode`` (``set_fanout(group, mode, flags)``, or or-ed in)."""

    ROLLOVER = 0x1000  # a full socket passes packets on to the next
    UNIQUEID = 0x2000  # the kernel picks an unused group id (ask with group id 0)
    IGNORE_OUTGOING = 0x4000  # outgoing packets are not captured (Linux 4.20+)
    DEFRAG = 0x8000  # IP fragments are reassembled first, so they hash with their flow


# pcapy-ng's names for the same values (it exports the modes; the flags are ours).
PACKET_FANOUT_HASH = 0
PACKET_FANOUT_LB = 1
PACKET_FANOUT_CPU = 2
PACKET_FANOUT_ROLLOVER = 3
PACKET_FANOUT_RND = 4
PACKET_FANOUT_QM = 5
PACKET_FANOUT_FLAG_ROLLOVER = 0x1000
PACKET_FANOUT_FLAG_UNIQUEID = 0x2000
PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000
PACKET_FANOUT_FLAG_DEFRAG = 0x8000

# Link types as libpcap's pcap_datalink() reports them (DLT_*, pcap/dlt.h). The ones pcapy
# exported come first; the rest are those a capture file or interface commonly carries.
DLT_NULL = 0
DLT_EN10MB = 1
DLT_EN3MB = 2
DLT_AX25 = 3
DLT_PRONET = 4
DLT_CHAOS = 5
DLT_IEEE802 = 6
DLT_ARCNET = 7
DLT_SLIP = 8
DLT_PPP = 9
DLT_FDDI = 10
DLT_ATM_RFC1483 = 11
DLT_RAW = 14 if sys.platform.startswith("openbsd") else 12
DLT_SLIP_BSDOS = 15
DLT_PPP_BSDOS = 16
DLT_ATM_CLIP = 19
DLT_PPP_SERIAL = 50
DLT_PPP_ETHER = 51
DLT_C_HDLC = 104
DLT_IEEE802_11 = 105
DLT_FRELAY = 107
DLT_LOOP = 12 if sys.platform.startswith("openbsd") else 108
DLT_ENC = 109
DLT_LINUX_SLL = 113
DLT_LTALK = 114
DLT_PFLOG = 117
DLT_PRISM_HEADER = 119
DLT_IP_OVER_FC = 122
DLT_SUNATM = 123
DLT_IEEE802_11_RADIO = 127
DLT_ARCNET_LINUX = 129
DLT_LINUX_IRDA = 144
DLT_USER0 = 147
DLT_PKTAP = 258
DLT_IEEE802_11_RADIO_AVS = 163
DLT_PPP_PPPD = 166
DLT_MTP2 = 140
DLT_BLUETOOTH_HCI_H4 = 187
DLT_USB_LINUX = 189
DLT_PPI = 192
DLT_IEEE802_15_4 = 195
DLT_SITA = 196
DLT_ERF = 197
DLT_BLUETOOTH_HCI_H4_WITH_PHDR = 201
DLT_AX25_KISS = 202
DLT_LAPD = 203
DLT_PPP_WITH_DIR = 204
DLT_C_HDLC_WITH_DIR = 205
DLT_IPMB_LINUX = 209
DLT_IEEE802_15_4_NONASK_PHY = 215
DLT_USB_LINUX_MMAPPED = 220
DLT_FC_2 = 224
DLT_IPNET = 226
DLT_CAN_SOCKETCAN = 227
DLT_IPV4 = 228
DLT_IPV6 = 229
DLT_IEEE802_15_4_NOFCS = 230
DLT_DBUS = 231
DLT_DVB_CI = 235
DLT_MUX27010 = 236
DLT_STANAG_5066_D_PDU = 237
DLT_NFLOG = 239
DLT_NETANALYZER = 240
DLT_NETANALYZER_TRANSPARENT = 241
DLT_IPOIB = 242
DLT_MPEG_2_TS = 243
DLT_NG40 = 244
DLT_NFC_LLCP = 245
DLT_INFINIBAND = 247
DLT_SCTP = 248
DLT_USBPCAP = 249
DLT_RTAC_SERIAL = 250
DLT_BLUETOOTH_LE_LL = 251
DLT_NETLINK = 253
DLT_BLUETOOTH_LINUX_MONITOR = 254
DLT_BLUETOOTH_BREDR_BB = 255
DLT_BLUETOOTH_LE_LL_WITH_PHDR = 256
DLT_PROFIBUS_DL = 257
DLT_EPON = 259
DLT_IPMI_HPM_2 = 260
DLT_ZWAVE_R1_R2 = 261
DLT_ZWAVE_R3 = 262
DLT_WATTSTOPPER_DLM = 263
DLT_ISO_14443 = 264
DLT_RDS = 265
DLT_USB_DARWIN = 266
DLT_SDLC = 268
DLT_LORATAP = 270
DLT_VSOCK = 271
DLT_NORDIC_BLE = 272
DLT_DOCSIS31_XRA31 = 273
DLT_ETHERNET_MPACKET = 274
DLT_DISPLAYPORT_AUX = 275
DLT_LINUX_SLL2 = 276
DLT_OPENVIZSLA = 278
DLT_EBHSCR = 279
DLT_VPP_DISPATCH = 280
DLT_DSA_TAG_BRCM = 281
DLT_DSA_TAG_BRCM_PREPEND = 282
DLT_IEEE802_15_4_TAP = 283
DLT_DSA_TAG_DSA = 284
DLT_DSA_TAG_EDSA = 285
DLT_ELEE = 286
DLT_Z_WAVE_SERIAL = 287
DLT_USB_2_0 = 288
DLT_ATSC_ALP = 289
DLT_ETW = 290
DLT_ZBOSS_NCP = 292
DLT_USB_2_0_LOW_SPEED = 293
DLT_USB_2_0_FULL_SPEED = 294
DLT_USB_2_0_HIGH_SPEED = 295
DLT_AUERSWALD_LOG = 296
DLT_ZWAVE_TAP = 297
DLT_SILABS_DEBUG_CHANNEL = 298
DLT_FIRA_UCI = 299
DLT_MDB = 300
DLT_DECT_NR = 301

#: Every ``DLT_*`` name defined above, mapped to its value (for ``-y NAME`` and link-type names).
DLT_BY_NAME: dict[str, int] = {
    name[4:]: value for name, value in list(globals().items()) if name.startswith("DLT_")
}
DLT_NAME: dict[int, str] = {}
for _name, _value in DLT_BY_NAME.items():
    DLT_NAME.setdefault(_value, _name)
del _name, _value


def datalink_name(dlt: int) -> str:
    """The ``DLT_`` name of a link type without its prefix (``"EN10MB"``), or ``"DLT_<n>"``."""
    dlt = as_int("dlt", dlt)
    return DLT_NAME.get(dlt, f"DLT_{dlt}")
