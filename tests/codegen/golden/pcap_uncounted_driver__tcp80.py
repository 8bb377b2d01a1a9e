def run(*, cursor, unpack_from, record_size, make, fast_limit, slow, accept, _u16, _u32, callback, left, source):
    pkt, pos = cursor.buffer, cursor.position
    end = len(pkt)
    try:
        while True:
            while not source.break_requested and pos + record_size <= end:
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
                    callback(make(fields), pkt[base:stop])
                    continue
                continue
            if source.break_requested:
                return left
            cursor.position = pos
            pos = -1
            item = slow()
            pkt, pos = cursor.buffer, cursor.position
            end = len(pkt)
            if item is None:
                return left
            if accept is None or accept(item[1], 0, len(item[1]), item[0][3]):
                callback(*item)
    finally:
        if pos >= 0 and cursor.buffer is pkt:
            cursor.position = pos
