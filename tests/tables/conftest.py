"""Tables tests: they need the ``arrow`` extra (pyarrow, numpy); skipped with a reason without it."""

from __future__ import annotations

import pytest

pytest.importorskip("pyarrow", reason="the arrow extra is not installed: pip install 'pcapy-cffi[arrow]'")
pytest.importorskip("numpy", reason="the arrow extra is not installed: pip install 'pcapy-cffi[arrow]'")
