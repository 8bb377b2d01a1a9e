def _make_filter(_u16, _u32):
    def bpf_program(pkt, wirelen):
        buflen = len(pkt)
        m3 = 0
        if buflen < 24: return 0
        a = _u16(pkt, 12)[0]
        if a != 2048:
            return 0
        a = pkt[23]
        if a != 6:
            return 0
        x = (pkt[14] & 15) << 2
        if buflen < x + 18: return 0
        a = _u16(pkt, x + 16)[0]
        m3 = a
        a = m3
        if a == 80:
            return 262144
        return 0
    return bpf_program
