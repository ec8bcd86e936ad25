"""Classification metrics (scikit-learn) and their aggregation over folds and seeds.

Per fold: macro F1 over the classes present in the fold's true or predicted labels (scikit-learn's default
``labels``; a LOSO test subject may lack classes, which would otherwise count as F1 = 0) and accuracy. Pooled
over every fold of a setting: per-class F1 over all K classes and the K x K confusion matrix (rows = true).
Aggregation: mean and (population) standard deviation over every (fold, seed) run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
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
