"""How many bytes the reader sees in an input: its gzip members inflated, as far as they go.

One function for the two places that ask (``harness.py``'s time budget and ``mutate.py``'s
pool weights). pcapy reads concatenated gzip members as one stream (as gzip(1) does), so every
member counts; inflating stops at ``cap`` bytes, so a bomb costs no more than that.
"""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
_STEP = 1 << 22  # bytes inflated per call


def decompressed_size(data: bytes, cap: int = 64 << 20) -> int:
    """The input's decompressed length (the sum over its gzip members, counted until a member
    is cut short or broken, or until at least ``cap`` bytes), else its own length; never less
    than its own length."""
    size, pending = 0, data
    while pending[:2] == GZIP_MAGIC and size < cap:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while pending and size < cap and not inflate.eof:
                size += len(inflate.decompress(pending, _STEP))
                pending = inflate.unconsumed_tail
        except zlib.error:
            break
        if not inflate.eof:
            break
        pending = inflate.unused_data
    return max(size, len(data))
