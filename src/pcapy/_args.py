"""Integer arguments, taken as pcapy-ng takes them (``PyArg_ParseTuple``'s ``i`` and ``I``).

One place decides what an integer argument accepts, so that every public call agrees:

- ``as_int``: ``i`` without its range: an ``int`` (``True``/``False`` included, as ``bool`` is
  one) or anything with ``__index__`` (a NumPy integer); a ``float``, ``str`` or ``None`` is a
  ``TypeError`` naming the argument. Used where any size is meaningful (``loop``'s count).
- ``as_c_int``: ``i``: the same, and it must fit a C ``int``; pcapy-ng raises OverflowError
  there, pcapy a ``ValueError`` naming the argument and the range.
- ``as_positive_int``: ``as_int``, and at least 1 (a count or size of pcapy's own API); below
  that a ``ValueError`` naming the argument.
- ``as_u32_wrapped``: ``I``: the same types, reduced modulo 2**32 without a range check, so
  ``netmask=-1`` is ``0xffffffff`` as in pcapy-ng.
"""

from __future__ import annotations

import operator

C_INT_MIN, C_INT_MAX = -(1 << 31), (1 << 31) - 1
_U32_MASK = 0xFFFFFFFF


def as_int(name: str, value: object) -> int:
    """``value`` as a plain ``int`` if it is an integer (``bool`` and ``__index__`` too)."""
    if type(value) is int:
        return value
    try:
        return operator.index(value)  # type: ignore[arg-type]  # refused below if it has none
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None


def as_c_int(name: str, value: object) -> int:
    """An integer libpcap takes as a C ``int``; out of range is a ValueError naming it."""
    number = as_int(name, value)
    if not C_INT_MIN <= number <= C_INT_MAX:
        raise ValueError(f"{name} must fit in a C int ({C_INT_MIN}..{C_INT_MAX}), got {number}")
    return number


def as_u32_wrapped(name: str, value: object) -> int:
    """An integer taken as a C ``unsigned int`` the way ``I`` takes it: modulo 2**32."""
    return as_int(name, value) & _U32_MASK


def as_positive_int(name: str, value: object) -> int:
    """A count or size of pcapy's own API: ``as_int``'s types, at least 1."""
    number = as_int(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be a positive int, got {number!r}")
    return number
