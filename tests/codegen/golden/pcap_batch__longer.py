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
            wirelen = fields[3]
            a = wirelen & 0xFFFFFFFF
            if a > 100:
                pack_into(meta, used, fields[0], fields[1], base, buflen)
                used += 16
                left -= 1
                continue
            continue
    finally:
        cursor.position = pos
    return pkt, used
