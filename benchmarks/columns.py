"""Per-run score columns shared by the LOSO side benchmarks (``ssl_adapt.py``, ``finetune_variants.py``).

A run is one ``{"fold", "seed", <column>: macro F1, ...}`` record; every column was scored on the same windows of
that fold and seed, so columns are compared by per-fold paired differences exactly as the tables compare methods
(:func:`toolkit.train.metrics.paired_differences`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from toolkit.data.splits import Fold, loso_folds
from toolkit.data.windows import RealWindows
from toolkit.errors import Multi3EdgeError
from toolkit.train.metrics import paired_differences

NOT_SCORES = ("fold", "seed", "added")  #: run keys that are not score columns


REPO = Path(__file__).resolve().parents[1]


def add_run_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every side benchmark shares: checkpoint, dataset, data root, evaluation config."""
    ap.add_argument("--checkpoint", help="pretrained Multi3Net checkpoint (.pt with .json sidecar); needed to run")
    ap.add_argument("--dataset", default="seglearn", help="seglearn | sp-sw-har | ...")
    ap.add_argument("--data-root", help="dataset root (default $MULTI3EDGE_DATA, else ../shared/data)")
    ap.add_argument("--config", default=str(REPO / "reports" / "configs" / "eval_loso.yaml"),
                    help="evaluation config whose finetune section (grid, budget, heads) is used")


def table_folds(windows: RealWindows, val_fraction: float, names: list[str] | None = None) -> list[Fold]:
    """The LOSO folds of ``edge-eval`` (seed 0, stratified validation); with ``names``, only those (by name)."""
    folds = loso_folds(windows.subject, val_fraction, seed=0, y=windows.y, class_names=windows.class_names)
    if not names:
        return folds
    unknown = sorted(set(names) - {f.name for f in folds})
    if unknown:
        raise Multi3EdgeError(f"unknown folds {unknown} (known: {', '.join(f.name for f in folds)})")
    return [f for f in folds if f.name in names]


def summarise(
    runs: list[dict], label_fraction: float, pairs: list[tuple[str, str]]
) -> tuple[dict[str, float], dict[str, dict]]:
    """(mean macro F1 per column, paired differences ``"a - b"`` of each pair whose columns both exist)."""
    names = [k for k in runs[0] if k not in NOT_SCORES]
    means = {k: float(np.mean([r[k] for r in runs])) for k in names}
    long = [{"method": k, "label_fraction": label_fraction, "seed": r["seed"], "fold": r["fold"], "macro_f1": r[k]}
            for r in runs for k in names]  # fmt: skip
    diffs = {f"{a} - {b}": p for a, b in pairs if a in names and b in names
             and (p := paired_differences(long, a, b, label_fraction)) is not None}  # fmt: skip
    return means, diffs


def print_summary(title: str, means: dict[str, float], paired: dict[str, dict]) -> None:
    """The means and each paired difference (points, bootstrap 95 % interval, folds won, sign test)."""
    print(title)
    print("  " + "  ".join(f"{k} {100 * v:.1f}" for k, v in means.items()))
    for k, p in paired.items():
        print(f"  {k}: {100 * p['mean']:+.1f} [{100 * p['ci_low']:+.1f}, {100 * p['ci_high']:+.1f}], "
              f"{p['wins']}/{p['folds']} folds won, sign test p = {p['p_sign']:.3f}")  # fmt: skip


def merge_parts(paths: list[str], keys: tuple[str, ...], pairs: list[tuple[str, str]]) -> dict:
    """One result from the JSON files of a run split over processes (``--folds``); they must agree on ``keys``."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    for path, part in zip(paths[1:], parts[1:], strict=True):
        if any(part[k] != parts[0][k] for k in keys):
            raise Multi3EdgeError(f"{path} differs from {paths[0]} in one of {keys}: not parts of one run")
    runs = [r for part in parts for r in part["runs"]]
    means, diffs = summarise(runs, parts[0]["label_fraction"], pairs)
    return {**{k: parts[0][k] for k in (*keys, "checkpoint")}, "folds": sorted({r["fold"] for r in runs}),
            "means": means, "paired": diffs, "runs": runs, "seconds": sum(part["seconds"] for part in parts),
            "command": " ".join(sys.argv), "parts": [{"path": path, "command": part["command"]}
                                                      for path, part in zip(paths, parts, strict=True)]}  # fmt: skip


def write(res: dict, out: str | None) -> int:
    """Write ``res`` as JSON to ``out`` (if given); the exit status 0."""
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(res, indent=1))
        print(f"wrote {out}")
    return 0
