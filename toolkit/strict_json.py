"""Strict JSON out: every number finite, undefined figures as ``null``.

Python's ``json`` writes bare ``NaN`` / ``Infinity`` by default, which is not JSON (RFC 8259) and breaks ``jq``,
JavaScript and most parsers. :func:`dumps` replaces non-finite floats (Python and numpy) by ``None`` and then
serialises with ``allow_nan=False``, so a NaN can never reach a file or a pipe unnoticed.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float (nested in dicts, lists, tuples, numpy arrays) replaced by None;
    numpy scalars and arrays become plain Python numbers and lists."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite_or_none(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`finite_or_none` (``obj``) with ``allow_nan=False``; other kwargs pass through."""
    return json.dumps(finite_or_none(obj), allow_nan=False, **kwargs)


__all__ = ["dumps", "finite_or_none"]
