"""Classification metrics (scikit-learn) and their aggregation over folds and seeds.

Per fold: macro F1 over the classes present in the fold's true or predicted labels (scikit-learn's default
``labels``; a LOSO test subject may lack classes, which would otherwise count as F1 = 0) and accuracy. Pooled
over every fold of a setting: per-class F1 over all K classes and the K x K confusion matrix (rows = true).
Aggregation: mean and (population) standard deviation over every (fold, seed) run. Paired comparison of two
methods (:func:`paired_differences`): per fold, the mean over seeds of (method - reference) macro F1 on the same
windows; then their mean over folds, a two-sided sign test over folds (``scipy.stats.binomtest``, ties dropped)
and a percentile bootstrap 95 % interval of the mean over folds (``scipy.stats.bootstrap``, seeded).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest, bootstrap
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def fold_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """{"macro_f1", "accuracy", "n"} of one fold (NaN metrics for an empty fold)."""
    if len(y_true) == 0:
        return {"macro_f1": float("nan"), "accuracy": float("nan"), "n": 0}
    return {"macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(y_true, y_pred)), "n": int(len(y_true))}  # fmt: skip


def pooled_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Per-class F1 (all classes) and confusion matrix of concatenated predictions."""
    labels = list(range(len(class_names)))
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    pooled_f1 = float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    return {"per_class_f1": {c: float(v) for c, v in zip(class_names, per_class, strict=True)},
            "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
            "macro_f1_pooled": pooled_f1}  # fmt: skip


def mean_std(values: list[float]) -> dict[str, float]:
    """{"mean", "std", "n"} over finite values."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}


def paired_differences(
    runs: list[dict[str, Any]], method: str, reference: str, label_fraction: float, experts: int | None = None,
    n_resamples: int = 10_000,
) -> dict[str, Any] | None:
    """Paired comparison of ``method`` against ``reference`` (module docstring); None without common runs.

    ``runs``: records with ``method``, ``label_fraction``, ``seed``, ``fold``, ``macro_f1`` (and ``experts``, which
    must equal ``experts`` when given). Returns {"mean", "ci_low", "ci_high", "p_sign", "wins", "losses", "ties",
    "folds", "per_fold"} with differences in macro-F1 units (not %).
    """

    def table(m: str) -> dict[tuple[str, int], float]:
        return {(r["fold"], int(r["seed"])): float(r["macro_f1"]) for r in runs
                if r["method"] == m and abs(float(r["label_fraction"]) - label_fraction) < 1e-9
                and (experts is None or r.get("experts") == experts) and np.isfinite(r["macro_f1"])}  # fmt: skip

    a, b = table(method), table(reference)
    per_fold: dict[str, list[float]] = {}
    for key in sorted(set(a) & set(b)):
        per_fold.setdefault(key[0], []).append(a[key] - b[key])
    if not per_fold:
        return None
    d = np.array([np.mean(v) for v in per_fold.values()])
    d = np.where(np.abs(d) < 1e-12, 0.0, d)  # float noise of equal scores is a tie
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    p = float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
    lo = hi = float("nan")
    if d.size >= 2 and np.ptp(d) > 0:
        ci = bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=n_resamples, method="percentile",
                       random_state=0).confidence_interval  # fmt: skip
        lo, hi = float(ci.low), float(ci.high)
    elif d.size >= 2:
        lo = hi = float(d[0])
    return {"mean": float(d.mean()), "ci_low": lo, "ci_high": hi, "p_sign": p, "wins": wins, "losses": losses,
            "ties": int(d.size - wins - losses), "folds": int(d.size),
            "per_fold": {f: float(np.mean(v)) for f, v in per_fold.items()}}  # fmt: skip
