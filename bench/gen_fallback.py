#!/usr/bin/env python3
"""Fallback capture generator, used by run.py only when ../shared/bench/gen_pcap.py is absent.

Deterministic (seeded) Ethernet/IPv4 traffic: about 10% TCP with port 80 on one side (the only
port-80 traffic, so ``tcp port 80`` matches exactly those), the rest TCP 443/22, UDP 53/443 and
ICMP echo, with a realistic size mix (bare ACKs, full 1514-byte segments, mid-size). Same
command line as gen_pcap.py: ``gen_fallback.py OUT [--count N] [--seed S] [--nanosecond]``.
"""

from __future__ import annotations

import argparse
import random
import struct

ETHERNET = b"\x00\x16\x3e\x11\x22\x33\x52\x54\x00\xaa\xbb\xcc\x08\x00"


def ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def packet(rng: random.Random, ident: int) -> bytes:
    roll = rng.random()
    if roll < 0.10:
        proto, sport, dport = 6, rng.randrange(32768, 61000), 80
        if rng.random() < 0.5:
            sport, dport = dport, sport
    elif roll < 0.65:
        proto, sport, dport = 6, rng.randrange(32768, 61000), rng.choice([443, 443, 22, 8443])
    elif roll < 0.95:
        proto, sport, dport = 17, rng.randrange(32768, 61000), rng.choice([53, 123, 443])
    else:
        proto, sport, dport = 1, 0, 0
    size = rng.choice([0, 0, 0, 1460, 1460, rng.randrange(1, 1400)])
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), rng.getrandbits(32),
                         0x50, 0x10, 502, 0, 0)
    elif proto == 17:
        size = min(size, 1400)
        l4 = struct.pack("!HHHH", sport, dport, 8 + size, 0)
    else:
        size = 56
        l4 = struct.pack("!BBHHH", 8, 0, 0, ident & 0xFFFF, 1)
    payload = rng.randbytes(size)
    total = 20 + len(l4) + size
    src = bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)])
    dst = bytes([93, 184, rng.randrange(256), rng.randrange(1, 255)])
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident & 0xFFFF, 0x4000, 64, proto, 0,
                         src, dst)
    header = header[:10] + struct.pack("!H", ip_checksum(header)) + header[12:]
    return ETHERNET + header + l4 + payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nanosecond", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    magic = 0xA1B23C4D if args.nanosecond else 0xA1B2C3D4
    units = 1_000_000_000 if args.nanosecond else 1_000_000
    record = struct.Struct("<IIII")
    when = 1_700_000_000 * units
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1))
        for ident in range(args.count):
            data = packet(rng, ident)
            when += rng.randrange(1, 2000) * (units // 1_000_000)
            sec, frac = divmod(when, units)
            f.write(record.pack(sec, frac, len(data), len(data)) + data)


if __name__ == "__main__":
    main()
