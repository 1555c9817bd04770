"""The bare-symbol capture simulator lives with the benchmarks (benchmarks/capture/synth.py),
not in the library; the reader tests import it from there."""

from __future__ import annotations

import sys
from pathlib import Path

_CAPTURE = str(Path(__file__).resolve().parents[2] / "benchmarks" / "capture")
if _CAPTURE not in sys.path:
    sys.path.append(_CAPTURE)  # appended: never shadows an installed module
