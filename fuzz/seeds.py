"""Seed inputs: the conformance corpus plus small generated files for what it lacks.

The corpus (``shared/corpus``: pcap, pcapng, broken) has no big-endian Kuznetzov file, few
byte-swapped pseudo-headers and no gzip; the generated seeds cover those, and every pcapng block
type with options, in both byte orders, so mutations start close to every parser path.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
CORPUS_FOLDERS = ("pcap", "pcapng", "broken")


def _udp(payload: bytes, proto: int = 17) -> bytes:
    transport = struct.pack("!HHHH", 1234, 53, 8 + len(payload), 0) + payload
    if proto == 6:
        transport = struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x50, 0x02, 512, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(transport), 1, 0, 64, proto, 0,
                     b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02")
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + transport


FRAMES = [_udp(b"q" * 3), _udp(b"", 6), b"\x00" * 60, _udp(b"x" * 90, 6), b"\xff" * 20]


def pcap(frames: list[bytes], *, order: str = "<", magic: int = 0xA1B2C3D4,
         linktype: int = 1, snaplen: int = 65535, version: tuple[int, int] = (2, 4),
         kuznetzov: bool = False) -> bytes:
    out = [struct.pack(f"{order}IHHiIII", magic, *version, 0, 0, snaplen, linktype)]
    for index, frame in enumerate(frames):
        lengths = (len(frame), len(frame) + index)
        if version < (2, 3):  # those writers stored the lengths the other way round
            lengths = lengths[::-1]
        record = struct.pack(f"{order}IIII", 1_700_000_000 + index, index * 1000, *lengths)
        if kuznetzov:
            record += struct.pack(f"{order}IHBB", 1, 2, 3, 0)
        out.append(record + frame)
    return b"".join(out)


def block(block_type: int, body: bytes, order: str = "<") -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack(f"{order}II", block_type, len(body) + 12) + body + struct.pack(
        f"{order}I", len(body) + 12)


def option(code: int, value: bytes, order: str = "<") -> bytes:
    return struct.pack(f"{order}HH", code, len(value)) + value + bytes(-len(value) % 4)


def options(items: list[tuple[int, bytes]], order: str = "<") -> bytes:
    return b"".join(option(c, v, order) for c, v in items) + option(0, b"", order)


def pcapng_section(order: str = "<", linktype: int = 1, tsresol: int = 6) -> bytes:
    u32 = struct.Struct(order + "I")
    shb = block(0x0A0D0D0A, struct.pack(f"{order}IHHq", 0x1A2B3C4D, 1, 0, -1) + options(
        [(2, b"cpu"), (3, b"os"), (4, b"app"), (1, b"comment")], order), order)
    idb_options = [(2, b"eth0"), (9, bytes([tsresol])), (14, struct.pack(order + "q", 5)),
                   (4, b"\x0a\x00\x00\x01\xff\xff\xff\x00"), (6, b"\x00\x11\x22\x33\x44\x55"),
                   (8, struct.pack(order + "Q", 10**9)), (11, b"\x00tcp"), (13, b"\x04")]
    idb = block(1, struct.pack(f"{order}HHI", linktype, 0, 0) + options(idb_options, order), order)
    idb2 = block(1, struct.pack(f"{order}HHI", 101, 0, 256), order)
    blocks = [shb, idb, idb2]
    for index, frame in enumerate(FRAMES):
        epb_options = options([(1, b"hi"), (2, u32.pack(1)), (3, b"\x02abcd"),
                               (4, struct.pack(order + "Q", 7)), (2989, u32.pack(32473) + b"z")],
                              order) if index % 2 else b""
        body = struct.pack(f"{order}IIIII", index % 2, 1, index, len(frame), len(frame) + 1)
        body += frame + bytes(-len(frame) % 4) + epb_options
        blocks.append(block(6, body, order))
    blocks.append(block(3, u32.pack(len(FRAMES[0])) + FRAMES[0], order))
    blocks.append(block(2, struct.pack(f"{order}HHIIII", 0, 0xFFFF, 0, 9, 4, 4) + b"abcd", order))
    nrb = struct.pack(f"{order}HH", 1, 8) + b"\x0a\x00\x00\x01a.b\x00"
    nrb += struct.pack(f"{order}HH", 2, 18) + bytes(16) + b"c\x00" + bytes(2)
    nrb += struct.pack(f"{order}HH", 0, 0) + options([(2, b"dns")], order)
    blocks.append(block(4, nrb, order))
    isb_options = options([(2, struct.pack(order + "II", 0, 5)), (4, struct.pack(order + "Q", 9))],
                          order)
    blocks.append(block(5, struct.pack(f"{order}III", 0, 0, 77) + isb_options, order))
    blocks.append(block(10, struct.pack(f"{order}II", 0x544C534B, 5) + b"keys!" + bytes(3),
                        order))
    blocks.append(block(0xBAD, u32.pack(32473) + b"custom", order))
    blocks.append(block(0x40000BAD, u32.pack(32473) + b"nocopy", order))
    blocks.append(block(0x80000001, b"local", order))
    return b"".join(blocks)


def _pseudo_header_frames() -> dict[int, bytes]:
    usb = bytearray(64 + 16 * 2)
    usb[8], usb[9], usb[10] = ord("C"), 0, 0x81  # complete, isochronous, in
    struct.pack_into(">I", usb, 60, 2)  # ndesc (big-endian file)
    struct.pack_into(">I", usb, 36, 32)
    pflog = bytes([61]) + bytes(63)
    sll_can = bytes(14) + b"\x00\x0c" + b"\x00\x00\x01\x23" + bytes(12)
    nflog = b"\x02\x00\x00\x00" + struct.pack(">HH", 8, 1) + b"abcd"
    return {220: bytes(usb), 117: pflog, 113: sll_can, 239: nflog, 276: b"\x00\x0d" + bytes(30)}


def generated() -> dict[str, bytes]:
    """Small files named by what they exercise."""
    seeds = {
        "usec-le.pcap": pcap(FRAMES),
        "nsec-be.pcap": pcap(FRAMES, order=">", magic=0xA1B23C4D),
        "kuznetzov-le.pcap": pcap(FRAMES, magic=0xA1B2CD34, kuznetzov=True),
        "kuznetzov-be.pcap": pcap(FRAMES, order=">", magic=0xA1B2CD34, kuznetzov=True),
        "v2.3-swapped.pcap": pcap(FRAMES, version=(2, 3)),
        "v2.2.pcap": pcap(FRAMES, version=(2, 2)),
        "snaplen-10.pcap": pcap(FRAMES, snaplen=10),
        "raw-ip.pcap": pcap([f[14:] for f in FRAMES], linktype=101),
        "sections-le.pcapng": pcapng_section("<"),
        "sections-be.pcapng": pcapng_section(">", tsresol=0x89),
        "mixed.pcapng": pcapng_section("<", tsresol=9) + pcapng_section(">", linktype=113),
    }
    for dlt, frame in _pseudo_header_frames().items():
        seeds[f"dlt{dlt}-be.pcap"] = pcap([frame, frame[:50]], order=">", linktype=dlt)
        seeds[f"dlt{dlt}-be.pcapng"] = pcapng_section(">", linktype=dlt)
    seeds["usec-le.pcap.gz"] = gzip.compress(seeds["usec-le.pcap"], mtime=0)
    seeds["mixed.pcapng.gz"] = gzip.compress(seeds["mixed.pcapng"], mtime=0)
    return seeds


def corpus_files(root: Path = CORPUS) -> list[Path]:
    files: list[Path] = []
    for folder in CORPUS_FOLDERS:
        files += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    return files


def load(max_len: int = 65536, root: Path = CORPUS) -> dict[str, bytes]:
    """Every seed, cut to ``max_len`` bytes: corpus files by their path, then generated ones,
    then (when ``max_len`` lets them in whole) issue 12's hostile files, gzipped and scaled to
    a few MB, and the ``hostile`` target's recipes for them."""
    seeds = {str(p.relative_to(root)): p.read_bytes()[:max_len] for p in corpus_files(root)}
    seeds.update({f"generated/{name}": data[:max_len] for name, data in generated().items()})
    import structured  # noqa: PLC0415 - fuzz/ is on the path

    seeds.update({f"recipe/{name}": data for name, data in structured.RECIPES.items()})
    for name, data in hostile_seeds().items():
        if len(data) <= max_len:
            seeds[f"hostile/{name}"] = data
    return seeds


def hostile_seeds() -> dict[str, bytes]:
    """Issue 12's inputs (``hostile.py``) at a size a fuzzing worker reads in a fraction of a
    second (past 65,536 options or interfaces where that is what they test)."""
    import hostile  # noqa: PLC0415

    scaled = {
        "idb_flood": (66_000,), "idb_empty_options": (300_000,), "lt231_options": (300_000,),
        "lt231_custom": (256 << 10,), "nrb_records": (256 << 10,), "epb_empty_options": (300_000,),
        "section_flood": (20_000,), "isb_flood": (20_000,), "custom_flood": (20_000,),
    }
    return {f"{name}.gz": gzip.compress(b"".join(hostile.INPUTS[name](*arguments)), mtime=0)
            for name, arguments in scaled.items()}
