"""``bpf_image``-style text of a program (what ``tcpdump -d`` and ``pcapy -d`` print)."""

from __future__ import annotations

from collections.abc import Sequence

from ._ir import Instruction


def image(program: Sequence[Instruction]) -> str:
    return "\n".join(f"({i:03d}) {insn}" for i, insn in enumerate(program))
