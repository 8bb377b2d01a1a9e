def _make_filter(_u16, _u32):
    def bpf_program(pkt, wirelen):
        a = wirelen & 0xFFFFFFFF
        if a > 100:
            return 65535
        return 0
    return bpf_program
