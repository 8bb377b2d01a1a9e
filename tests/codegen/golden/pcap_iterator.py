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
                yield make(fields), pkt[base:stop]
            if source.break_requested:
                cursor.position = pos
                source.break_requested = False
                return
            cursor.position = pos
            pos = -1
            item = slow()
            pkt, pos = cursor.buffer, cursor.position
            end = len(pkt)
            if item is None:
                return
            if accept is None or accept(item[1], 0, len(item[1]), item[0][3]):
                yield item
    except GeneratorExit:
        cursor.position = pos
        raise
