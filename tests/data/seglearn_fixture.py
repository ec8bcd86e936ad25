"""Fake seglearn ``watch_dataset.npy`` files for tests (the real one is a pickled dict inside the PyPI wheel).

Writing a pickled object array is the only way to imitate that file; nothing here loads one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def object_npy(obj) -> bytes:
    """``obj`` saved as a 0-d object ``.npy`` (a pickle inside), as seglearn ships its dataset."""
    buf = io.BytesIO()
    np.save(buf, np.array(obj, dtype=object), allow_pickle=True)  # writing a test input, never loading one
    return buf.getvalue()


def fake_seglearn_npy(path: Path, k: int = 3) -> dict:
    """Write a small seglearn-shaped dataset of ``k`` recordings to ``path``; returns the dict written."""
    rng = np.random.default_rng(0)
    obj = {
        "X": [rng.normal(0, 0.3, (40 + 7 * i, 6)) + [-1, 0, 0, 0, 0, 0] for i in range(k)],
        "y": np.arange(k) % 7, "subject": np.arange(k) + 1, "side": np.arange(k) % 2,
        "X_labels": ["ax", "ay", "az", "wx", "wy", "wz"],
        "y_labels": ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"],
    }  # fmt: skip
    Path(path).write_bytes(object_npy(obj))
    return obj
