def batch(*, cursor, unpack_from, record_size, fast_limit, accept, _u16, _u32, meta, pack_into, left):
    pkt, pos = cursor.buffer, cursor.position
    end = len(pkt)
    used = 0
    try:
        while left and pos + record_size <= end:
            fields = unpack_from(pkt, pos)
            base = pos + record_size
            buflen = fields[2]
            stop = base + buflen
            if buflen > fast_limit or stop > end:
                break
            pos = stop
            m3 = 0
            if buflen < 24: continue
            a = _u16(pkt, base + 12)[0]
            if a != 2048:
                continue
            a = pkt[base + 23]
            if a != 6:
                continue
            x = (pkt[base + 14] & 15) << 2
            if buflen < x + 18: continue
            a = _u16(pkt, base + x + 16)[0]
            m3 = a
            a = m3
            if a == 80:
                pack_into(meta, used, fields[0], fields[1], base, buflen)
                used += 16
                left -= 1
                continue
            continue
    finally:
        cursor.position = pos
    return pkt, used
