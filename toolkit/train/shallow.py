"""The scikit-learn rows of ``edge-eval`` on one fold: ``stats_rf``, ``probe_random``, ``probe_pretrained``.

Every row uses :func:`toolkit.train.protocol.prepare_fold` with the run's label fraction and seed, so it sees
exactly the training windows the deep methods get, every window of the validation subjects (for its one
hyper-parameter) and the same test windows.

* ``stats_rf``: :func:`toolkit.train.features.window_statistics` of the raw windows (SI units; a random forest
  needs no scaling) -> class-balanced ``RandomForestClassifier`` (``RF_TREES`` trees, seeded with the run seed,
  one job), ``max_features`` chosen on the validation subjects from ``RF_GRID``.
* ``probe_*``: :func:`toolkit.train.probe.probe_fold` (logistic regression on frozen encoder features).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from toolkit.data.splits import Fold, Normalizer
from toolkit.data.windows import RealWindows
from toolkit.models.multi3net import Multi3Net
from toolkit.train.metrics import fold_metrics
from toolkit.train.probe import ProbeScore, probe_fold, select_fit_predict
from toolkit.train.protocol import FoldData, prepare_fold

RF_TREES = 200
RF_GRID: tuple[Any, ...] = ("sqrt", 0.3)  #: max_features tried (validation macro F1 picks one)


def make_forest(max_features: Any, seed: int = 0) -> RandomForestClassifier:
    """The stats_rf estimator (module docstring)."""
    return RandomForestClassifier(n_estimators=RF_TREES, max_features=max_features, class_weight="balanced",
                                  random_state=seed, n_jobs=1)  # fmt: skip


def stats_rf_fold(
    windows: RealWindows, fold: Fold, label_fraction: float, seed: int, stats: np.ndarray
) -> tuple[ProbeScore, FoldData]:
    """``stats_rf`` on one fold; ``stats`` = window_statistics of every window of ``windows`` (N, F)."""
    data = prepare_fold(windows, fold, label_fraction, seed)
    tr, va, te = data.index["train"], data.index["val"], data.index["test"]
    val = (stats[va], windows.y[va]) if va.size else None
    pred, param, val_f1 = select_fit_predict(lambda mf: make_forest(mf, seed), RF_GRID, (stats[tr], windows.y[tr]),
                                             val, stats[te])  # fmt: skip
    score = fold_metrics(windows.y[te], pred)["macro_f1"] if te.size else float("nan")
    return ProbeScore(macro_f1=score, param=param, val_f1=val_f1, y_pred=pred), data


def sklearn_fold(
    method: str,
    windows: RealWindows,
    fold: Fold,
    label_fraction: float,
    seed: int,
    stats: np.ndarray | None = None,
    pretrained: Multi3Net | None = None,
    encoder: str = "left",
    normalizer: Normalizer | None = None,
) -> tuple[ProbeScore, FoldData]:
    """One scikit-learn row (``stats_rf`` | ``probe_random`` | ``probe_pretrained``) on one fold; ``normalizer``: a
    fixed standardisation for the probe (the pretrained encoder's own) instead of the fold's."""
    if method == "stats_rf":
        if stats is None:
            raise ValueError("stats_rf needs the window statistics")
        return stats_rf_fold(windows, fold, label_fraction, seed, stats)
    if method in ("probe_random", "probe_pretrained"):
        if pretrained is None:
            raise ValueError(f"{method} needs the multi3net checkpoint (its architecture, and weights if pretrained)")
        kind = method.removeprefix("probe_")
        data = prepare_fold(windows, fold, label_fraction, seed, normalizer=normalizer) if normalizer else None
        return probe_fold(windows, fold, pretrained, kind, label_fraction, seed, encoder=encoder, data=data)
    raise ValueError(f"not a scikit-learn method: {method!r}")


__all__ = ["RF_GRID", "RF_TREES", "make_forest", "sklearn_fold", "stats_rf_fold"]
