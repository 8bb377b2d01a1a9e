"""What the tables tests share: the corpus files and the serial read they are compared with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pcapy

REPO = Path(__file__).resolve().parents[2]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()


def corpus_paths(*folders: str) -> list[str]:
    """Every capture file under the corpus folders (recursively), relative to the corpus."""
    if not CORPUS.is_dir():
        return []
    found = []
    for folder in folders:
        for path in sorted((CORPUS / folder).rglob("*")):
            if path.is_file() and path.suffix in (".pcap", ".pcapng", ".cap", ".gz", ""):
                found.append(str(path.relative_to(CORPUS)))
    return found


def serial_read(path: Any) -> tuple[list[tuple[Any, ...]], Optional[str]]:
    """Every packet as (sec, nsec, caplen, len, data, dlt, interface name), and the error class
    that ended the read (None at a clean end of file)."""
    packets: list[tuple[Any, ...]] = []
    try:
        reader = pcapy.open_offline(path)
        dlt = reader.datalink()
        for hdr, data in reader:
            interface = hdr.interface
            packets.append((*hdr.getts_ns(), hdr[2], hdr[3], bytes(data),
                            interface.dlt if interface else dlt,
                            interface.name if interface else None))
    except pcapy.PcapError as err:
        return packets, type(err).__name__
    return packets, None


def table_rows(batches: Any) -> list[tuple[Any, ...]]:
    """Rows of Arrow batches in serial_read's shape (ts_sec/ts_frac must be among the columns)."""
    from pcapy.arrow import file_metadata

    rows = []
    for batch in batches:
        names = batch.schema.names
        metadata = file_metadata(batch.schema)
        scale = 1000 if metadata.get("nanosecond") is False else 1
        for row in batch.to_pylist():
            nsec = row["ts_frac"] * scale
            if row["ts"] is not None:  # the exact nanoseconds, where timestamp[ns] holds them
                assert row["ts"].value == row["ts_sec"] * 1_000_000_000 + nsec
            rows.append((row["ts_sec"], nsec, row["caplen"], row["len"], row["data"],
                         row["linktype"], row["interface"] if "interface" in names else None))
    return rows
