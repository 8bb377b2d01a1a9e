def run(*, reader, cursor, make, from_block, slow, accept, filter_link, others, _u16, _u32, callback, left, source):
    pkt, pos = cursor.buffer, cursor.position
    units_clock = None
    try:
        while True:
            if reader.failure is not None:
                raise reader.failure
            layout = reader.layout
            unpack_next = layout.trailer_and_epb_head.unpack_from
            order = layout.order
            fast = reader.fast
            max_block = reader.max_block
            chunk_offset = cursor.offset
            last = len(pkt) - 28
            current = -1
            fields = (0,) * 8
            if pos <= last:
                fields = (0, *layout.epb_head.unpack_from(pkt, pos))
            while not source.break_requested:
                _, block_type, length, if_id, high, low, buflen, wirelen = fields
                stop = pos + length
                if block_type != 6 or stop > last:
                    break
                if if_id != current:
                    if if_id >= len(fast):
                        break
                    snapshot, interface, link, clock = fast[if_id]
                    if snapshot < 0:
                        break
                    current, matches = if_id, link == filter_link
                    if not matches:
                        other = others.get(link)
                        if other is None:
                            break
                    if clock is not units_clock:
                        units_clock, stamp_high, stamp_low = clock, -1, 0
                        resolution, tsoffset, multiplier, _ = clock
                if buflen > snapshot:
                    break
                if length == (buflen + 35) & -4:
                    options = None
                else:
                    if buflen + 36 > length or length & 3 or length > max_block:
                        break
                    options_start = pos + 28 + ((buflen + 3) & -4)
                    options = from_block(pkt[options_start : stop - 4], order, chunk_offset + options_start)
                fields = unpack_next(pkt, stop - 4)
                if fields[0] != length:
                    break
                base = pos + 28
                pos = stop
                if not matches:
                    if other(pkt, base, buflen, wirelen):
                        fraction = low - stamp_low
                        if high != stamp_high or fraction >= resolution or fraction < 0:
                            stamp_seconds, fraction = divmod((high << 32) | low, resolution)
                            stamp_seconds += tsoffset
                            stamp_high, stamp_low = high, low - fraction
                        yield make((stamp_seconds, fraction * multiplier, buflen, wirelen, interface, options)), pkt[base : base + buflen]
                    continue
                a = wirelen & 0xFFFFFFFF
                if a > 100:
                    fraction = low - stamp_low
                    if high != stamp_high or fraction >= resolution or fraction < 0:
                        stamp_seconds, fraction = divmod((high << 32) | low, resolution)
                        stamp_seconds += tsoffset
                        stamp_high, stamp_low = high, low - fraction
                    yield make((stamp_seconds, fraction * multiplier, buflen, wirelen, interface, options)), pkt[base : base + buflen]
                    continue
                continue
            if source.break_requested:
                cursor.position = pos
                source.break_requested = False
                return
            cursor.position = pos
            pos = -1
            item = slow()
            pkt, pos = cursor.buffer, cursor.position
            if item is None:
                return
            yield item
    except GeneratorExit:
        cursor.position = pos
        raise
