"""Clip descriptions from a CMU-style ``index.tsv``, so a clip's text travels with its motion.

The index is a tab-separated file with a header row naming at least the columns ``clip`` and
``description`` (CMU excerpt: ``clip  format  path  description``). Without such a header the first
column is taken as the clip and the last as the description.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

INDEX_NAME = "index.tsv"
#: How many parent folders above the clip's own folder are searched for an index.
MAX_PARENT_LEVELS = 3


@lru_cache(maxsize=32)
def _read_index(path: str, mtime_ns: int) -> dict[str, str]:
    del mtime_ns  # part of the cache key only
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r and any(c.strip() for c in r)]
    except OSError:
        return out
    if not rows:
        return out
    header = [c.strip().lower() for c in rows[0]]
    if "clip" in header and "description" in header:
        ci, di = header.index("clip"), header.index("description")
        rows = rows[1:]
    else:
        ci, di = 0, -1
    need = max(ci, di) + 1 if di >= 0 else 2
    for r in rows:
        if len(r) >= need:
            out.setdefault(r[ci].strip(), r[di].strip())
    return out


def describe_clip(path: str | Path) -> str:
    """The description of the clip at ``path`` (looked up by file stem, e.g. ``"02_01"``), or ``""``."""
    folder = Path(path).resolve().parent
    stem = Path(path).stem
    for _ in range(MAX_PARENT_LEVELS + 1):
        cand = folder / INDEX_NAME
        if cand.is_file():
            text = _read_index(str(cand), cand.stat().st_mtime_ns).get(stem)
            if text is not None:
                return text
        if folder.parent == folder:
            break
        folder = folder.parent
    return ""
