"""A sidecar index of a capture file's range boundaries, built in one pass (``build_index``).

``split`` finds its boundaries by walking the file's records from its start (``_boundaries``);
the index keeps that walk: the first record (pcapng: packet block) at or after every ``step``
bytes, with its context, in a small JSON file beside the capture (``FILE.pcapy-index``) or at a
path the caller gives. It is used only while it matches the file: the same size, the same
modification time (nanoseconds) and the same SHA-256 of the first 64 KiB; otherwise ``split``
walks the file again (and an index the caller named raises ``PcapError``). The index is
trusted as written, as the file is: keep it where the capture is.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Optional, Union

from ._boundaries import Boundary, boundaries, file_kind
from ._errors import PcapError

__all__ = ["INDEX_SUFFIX", "RangeIndex", "build_index", "load_index", "sidecar_path"]

PathLike = Union[str, "os.PathLike[str]"]
INDEX_SUFFIX = ".pcapy-index"
FORMAT_VERSION = 1
_DIGEST_BYTES = 64 << 10
MAX_STEP = 1 << 20
MIN_STEP = 256


@dataclass(frozen=True)
class RangeIndex:
    """Boundaries of one capture file, as ``_boundaries.boundaries`` gives them, in order."""

    points: list[Boundary]


def sidecar_path(path: PathLike) -> str:
    """Where ``build_index`` writes (and ``split`` looks for) the index of ``path`` by default."""
    return os.fspath(path) + INDEX_SUFFIX


def _identity(path: str) -> dict[str, Any]:
    """What an index must match of its file: size, modification time, digest of its head."""
    stat = os.stat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read(_DIGEST_BYTES)).hexdigest()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": digest}


def index_step(size: int) -> int:
    """Bytes between indexed points: about 4,096 points a file, at least one a MiB."""
    return max(MIN_STEP, min(MAX_STEP, size // 4096))


def build_index(path: PathLike, out: Optional[PathLike] = None) -> str:
    """Walk ``path`` once and write its range index to ``out`` (default ``path + ".pcapy-index"``);
    returns where it was written. ``split`` then reads the boundaries from it instead of the
    file. Raises ``PcapError`` for a file that is not a classic pcap or pcapng file (gzip
    files are always one range: they need no index)."""
    path = os.fspath(path)
    identity = _identity(path)
    size = identity["size"]
    with open(path, "rb") as f:
        kind = file_kind(f.read(64))
        if kind is None:
            raise PcapError(f"{path}: not a pcap or pcapng file (gzip files are one range)")
        step = index_step(size)
        points = boundaries(f, size, list(range(step, size, step)))
    contexts: dict[tuple[tuple[int, int], ...], int] = {}
    encoded = [[offset, contexts.setdefault(context, len(contexts))]
               for offset, context in _distinct(points)]
    document = {"pcapy_index": FORMAT_VERSION, "format": kind, **identity, "step": step,
                "contexts": [[list(piece) for piece in c] for c in contexts],
                "points": encoded}
    target = os.fspath(out) if out is not None else sidecar_path(path)
    temporary = f"{target}.{os.getpid()}.tmp"
    with open(temporary, "w") as f:
        json.dump(document, f, separators=(",", ":"))
    os.replace(temporary, target)
    return target


def _distinct(points: list[Boundary]) -> list[Boundary]:
    kept: list[Boundary] = []
    for point in points:
        if not kept or point[0] > kept[-1][0]:
            kept.append(point)
    return kept


def load_index(path: PathLike, index: Optional[PathLike]) -> Optional[RangeIndex]:
    """The index of ``path``: ``index`` if given (``PcapError`` if it does not match the file
    or cannot be read), else the sidecar if there is one and it matches
    (None otherwise: the caller walks the file)."""
    named = index is not None
    where = os.fspath(index) if index is not None else sidecar_path(path)
    if not named and not os.path.exists(where):
        return None
    try:
        with open(where, "rb") as f:
            document = json.loads(f.read())
        points = _decode(document)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        if named:
            raise PcapError(f"cannot read the range index {where}: {err}") from err
        return None
    if any(document.get(k) != v for k, v in _identity(os.fspath(path)).items()):
        if named:
            raise PcapError(f"the range index {where} does not match {os.fspath(path)} "
                            "(size, modification time or first bytes differ): build it again "
                            "with pcapy.build_index")
        return None
    return RangeIndex(points)


def _decode(document: Any) -> list[Boundary]:
    if document["pcapy_index"] != FORMAT_VERSION:
        raise ValueError(f"index format {document['pcapy_index']!r}, not {FORMAT_VERSION}")
    contexts = [tuple((int(o), int(s)) for o, s in c) for c in document["contexts"]]
    points = [(int(offset), contexts[number]) for offset, number in document["points"]]
    offsets = [offset for offset, _ in points]
    if offsets != sorted(set(offsets)) or any(o < 0 for o in offsets):
        raise ValueError("its points are not increasing offsets")
    return points
