"""Link type names and descriptions as libpcap and tcpdump print them (``-y``, ``-L``, banners)."""

from __future__ import annotations

from typing import Optional

from .._constants import DLT_BY_NAME, DLT_NAME
from .._decode import can_print
from ._common import CommandError

#: Link types libpcap knows by name that pcapy's ``DLT_*`` constants leave out; capture
#: devices offer them (DOCSIS: every Linux Ethernet device, for ``-y DOCSIS``).
EXTRA_LINKTYPES = {"DOCSIS": 143, "LINUX_LAPD": 177, "FC_2_WITH_FRAME_DELIMS": 225}
LINKTYPES_BY_NAME = {**DLT_BY_NAME, **EXTRA_LINKTYPES}
LINKTYPE_NAMES = {**DLT_NAME, **{dlt: name for name, dlt in EXTRA_LINKTYPES.items()}}

#: pcap_datalink_val_to_description, by name, for the link types capture devices offer on
#: Linux, the BSDs, macOS and Windows, and the ones savefiles commonly carry (``-L``, banner)
LINKTYPE_DESCRIPTIONS = {
    "NULL": "BSD loopback", "EN10MB": "Ethernet", "IEEE802": "Token ring",
    "ARCNET": "BSD ARCNET", "SLIP": "SLIP", "PPP": "PPP", "FDDI": "FDDI",
    "ATM_RFC1483": "RFC 1483 LLC-encapsulated ATM", "RAW": "Raw IP",
    "SLIP_BSDOS": "BSD/OS SLIP", "PPP_BSDOS": "BSD/OS PPP", "PPP_SERIAL": "PPP over serial",
    "C_HDLC": "Cisco HDLC", "IEEE802_11": "802.11", "FRELAY": "Frame Relay",
    "LOOP": "OpenBSD loopback", "ENC": "OpenBSD encapsulated IP",
    "LINUX_SLL": "Linux cooked v1", "LTALK": "Localtalk", "PFLOG": "OpenBSD pflog file",
    "PRISM_HEADER": "802.11 plus Prism header", "IP_OVER_FC": "RFC 2625 IP-over-Fibre Channel",
    "IEEE802_11_RADIO": "802.11 plus radiotap header", "ARCNET_LINUX": "Linux ARCNET",
    "LINUX_IRDA": "Linux IrDA",
    "IEEE802_11_RADIO_AVS": "802.11 plus AVS radio information header",
    "DOCSIS": "DOCSIS", "LINUX_LAPD": "Linux vISDN LAPD",
    "BLUETOOTH_HCI_H4_WITH_PHDR": "Bluetooth HCI UART transport layer plus pseudo-header",
    "USB_LINUX": "USB with Linux header", "PPI": "Per-Packet Information",
    "USB_LINUX_MMAPPED": "USB with padded Linux header", "FC_2": "Fibre Channel FC-2",
    "FC_2_WITH_FRAME_DELIMS": "Fibre Channel FC-2 with frame delimiters",
    "IPNET": "Solaris ipnet", "CAN_SOCKETCAN": "CAN-bus with SocketCAN headers",
    "IPV4": "Raw IPv4", "IPV6": "Raw IPv6", "IEEE802_15_4_NOFCS": "IEEE 802.15.4 without FCS",
    "DBUS": "D-Bus", "NFLOG": "Linux netfilter log messages", "INFINIBAND": "InfiniBand",
    "IPOIB": "RFC 4391 IP-over-Infiniband",
    "NETLINK": "Linux netlink", "BLUETOOTH_LINUX_MONITOR": "Bluetooth Linux Monitor",
    "PKTAP": "Apple DLT_PKTAP", "VSOCK": "Linux vsock", "LINUX_SLL2": "Linux cooked v2",
    "AX25_KISS": "AX.25 with KISS header", "DSA_TAG_BRCM": "Broadcom tag",
    "DSA_TAG_BRCM_PREPEND": "Broadcom tag (prepended)", "DSA_TAG_DSA": "Marvell DSA",
    "DSA_TAG_EDSA": "Marvell EDSA",
}



def parse_linktype(text: str) -> int:
    """A DLT number from a name as tcpdump's ``-y`` takes it (``en10mb``, ``LINUX_SLL2``:
    any case), or, beyond tcpdump, ``DLT_EN10MB`` or ``1``."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    value = LINKTYPES_BY_NAME.get(name, LINKTYPES_BY_NAME.get(name.removeprefix("DLT_")))
    if value is None:
        raise CommandError(f"invalid data link type {text}")
    return value


def linktype_name(dlt: int) -> Optional[str]:
    """pcap_datalink_val_to_name: ``EN10MB``, or None for a link type without a name."""
    return LINKTYPE_NAMES.get(dlt)


def linktype_text(dlt: int) -> str:
    """``EN10MB (Ethernet)`` as tcpdump prints it in its banner."""
    name = linktype_name(dlt)
    if name is None:
        return str(dlt)
    description = LINKTYPE_DESCRIPTIONS.get(name)
    return f"{name} ({description})" if description else name


def datalink_line(dlt: int) -> str:
    """One line of ``-L``: ``  EN10MB (Ethernet)``, marked when pcapy's decoder cannot print
    that link type (as tcpdump marks the ones it cannot)."""
    name = linktype_name(dlt)
    if name is None:
        return f"  DLT {dlt} (printing not supported)"
    line = f"  {linktype_text(dlt)}"
    return line if can_print(dlt) else line + " (printing not supported)"

