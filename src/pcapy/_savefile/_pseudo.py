"""Link-layer pseudo-header fix-ups libpcap applies to packets read from a savefile.

(Interim: the full set of fix-ups lands with the pseudo-header work; until then no link type
is post-processed.)
"""

from __future__ import annotations

from .._pkthdr import Pkthdr


def needs_post_processing(dlt: int, swapped: bool) -> bool:
    """Whether packets of this link type need libpcap's savefile fix-ups."""
    return False


def post_process(dlt: int, swapped: bool, hdr: Pkthdr, data: bytes) -> tuple[Pkthdr, bytes]:
    """Apply libpcap's fix-ups to one packet."""
    return hdr, data
