"""Linear probes on frozen IMU encoders: does pretraining give features that transfer to real watches?

API (all scikit-learn; one CPU thread):

* :func:`encoder_features` (from :mod:`toolkit.train.features`): frozen encoder -> (N, D) features.
* :func:`select_fit_predict`: fit one estimator per hyper-parameter on the training windows, keep the one with
  the best validation macro F1 (the first of the grid when there is no validation window), predict the test set.
* :func:`probe_f1`: standardised features (StandardScaler fitted on the training windows) + class-balanced
  logistic regression, ``C`` chosen on the validation subjects from ``C_GRID`` -> :class:`ProbeScore`.
* :func:`probe_fold`: one probe on one fold of the protocol (:func:`toolkit.train.protocol.prepare_fold`: the
  same training windows at the same label fraction and seed as the deep methods, the fold normaliser, every
  validation window), ``pretrained`` or ``random`` encoder (same architecture, random init seeded with the run
  seed).
* :func:`run_loso_probe`: pretrained vs random over LOSO folds x label fractions x seeds, with the per-fold paired
  differences (``benchmarks/probe.py`` prints them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from toolkit.data.splits import Fold, Normalizer, loso_folds
from toolkit.data.windows import RealWindows
from toolkit.models.config import Multi3NetConfig
from toolkit.models.multi3net import Multi3Net
from toolkit.train.features import encoder_features
from toolkit.train.metrics import fold_metrics
from toolkit.train.protocol import FoldData, prepare_fold

#: inverse regularisation strengths tried for the logistic regression
C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
PROBE_KINDS = ("pretrained", "random")


@dataclass
class ProbeScore:
    """Outcome of one fitted-and-selected scikit-learn model on one fold."""

    macro_f1: float  #: on the test windows (NaN without test windows)
    param: Any  #: the selected hyper-parameter
    val_f1: float | None  #: its validation macro F1 (None without validation windows)
    y_pred: np.ndarray  #: (N_test,) predicted class indices


def _macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    return fold_metrics(y, p)["macro_f1"]


def select_fit_predict(
    make: Callable[[Any], Any],
    grid: Sequence[Any],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    x_test: np.ndarray,
) -> tuple[np.ndarray, Any, float | None]:
    """(test predictions, selected parameter, its validation macro F1) (module docstring)."""
    x_tr, y_tr = train
    has_val = val is not None and len(val[1]) > 0
    best: tuple[float, Any, Any] | None = None
    for param in grid if has_val else grid[:1]:
        est = make(param).fit(x_tr, y_tr)
        score = _macro_f1(val[1], est.predict(val[0])) if has_val else float("nan")  # type: ignore[index]
        if best is None or score > best[0]:
            best = (score, param, est)
    assert best is not None
    pred = best[2].predict(x_test) if len(x_test) else np.zeros(0, np.int64)
    return np.asarray(pred, np.int64), best[1], (best[0] if has_val else None)


def logistic_probe(c: float) -> Any:
    """StandardScaler + class-balanced multinomial logistic regression with inverse regularisation ``c``."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, class_weight="balanced"))


def probe_f1(
    features: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    test_idx: np.ndarray,
    c_grid: Sequence[float] = C_GRID,
) -> ProbeScore:
    """Linear probe on (N, D) ``features`` with (N,) labels ``y``, split by window indices (module docstring)."""
    f, y = np.asarray(features), np.asarray(y)
    val = (f[val_idx], y[val_idx]) if len(val_idx) else None
    pred, c, val_f1 = select_fit_predict(logistic_probe, c_grid, (f[train_idx], y[train_idx]), val, f[test_idx])
    score = _macro_f1(y[test_idx], pred) if len(test_idx) else float("nan")
    return ProbeScore(macro_f1=score, param=c, val_f1=val_f1, y_pred=pred)


def fold_features(data: FoldData, model: Multi3Net | None, cfg: Multi3NetConfig, seed: int, encoder: str = "left"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Frozen-encoder features of a prepared fold's (train, val, test) windows (already normalised)."""
    out = []
    for part in (data.train, data.val, data.test):
        if part is None:
            out.append(np.zeros((0, 1)))
        else:
            out.append(encoder_features(model, part[0], None, seed=seed, cfg=cfg, encoder=encoder))
    return out[0], out[1], out[2]


def probe_fold(
    windows: RealWindows,
    fold: Fold,
    pretrained: Multi3Net,
    kind: str,
    label_fraction: float,
    seed: int,
    c_grid: Sequence[float] = C_GRID,
    encoder: str = "left",
    data: FoldData | None = None,
) -> tuple[ProbeScore, FoldData]:
    """One probe (``kind`` pretrained | random) on one fold (module docstring); returns the score and the fold."""
    if kind not in PROBE_KINDS:
        raise ValueError(f"probe kind must be one of {PROBE_KINDS}, got {kind!r}")
    data = data or prepare_fold(windows, fold, label_fraction, seed)
    model = pretrained if kind == "pretrained" else None
    f_tr, f_va, f_te = fold_features(data, model, pretrained.cfg, seed, encoder)
    y_tr, y_te = data.train[1].numpy(), data.test[1].numpy()
    val = (f_va, data.val[1].numpy()) if data.val is not None else None
    pred, c, val_f1 = select_fit_predict(logistic_probe, c_grid, (f_tr, y_tr), val, f_te)
    score = _macro_f1(y_te, pred) if len(y_te) else float("nan")
    return ProbeScore(macro_f1=score, param=c, val_f1=val_f1, y_pred=pred), data


def run_loso_probe(
    pretrained: Multi3Net,
    windows: RealWindows,
    label_fractions: Sequence[float] = (0.1,),
    seeds: Sequence[int] = (0, 1, 2),
    val_fraction: float = 0.2,
    max_folds: int | None = None,
    c_grid: Sequence[float] = C_GRID,
    log: Callable[[str], None] | None = None,
    pretrained_normalizer: Normalizer | None = None,
) -> dict[str, Any]:
    """Pretrained vs random-init probes over LOSO folds (the folds of ``edge-eval``, stratified validation).

    Returns ``{"runs": [{fold, label_fraction, seed, probe_pretrained, probe_random, diff}], "summary":
    {fraction: {"probe_pretrained", "probe_random", "mean_paired_diff", "folds_won", "folds"}}}`` with
    macro F1 in [0, 1]; ``diff`` = pretrained - random on the same windows, the summary's difference is the mean
    over folds of the per-fold mean over seeds. With ``pretrained_normalizer`` the pretrained probe standardises the
    windows with it (the encoder's pretraining statistics); the random probe always uses the fold's own.
    """
    folds = loso_folds(windows.subject, val_fraction, seed=0, y=windows.y, class_names=windows.class_names)
    folds = folds[:max_folds] if max_folds else folds
    runs = []
    for frac in label_fractions:
        for seed in seeds:
            for fold in folds:
                rnd, data = probe_fold(windows, fold, pretrained, "random", frac, seed, c_grid)
                pre_data = prepare_fold(windows, fold, frac, seed, normalizer=pretrained_normalizer) \
                    if pretrained_normalizer is not None else data
                pre, _ = probe_fold(windows, fold, pretrained, "pretrained", frac, seed, c_grid, data=pre_data)
                rec = {"fold": fold.name, "label_fraction": frac, "seed": seed, "probe_pretrained": pre.macro_f1,
                       "probe_random": rnd.macro_f1, "diff": pre.macro_f1 - rnd.macro_f1,
                       "C_pretrained": pre.param, "C_random": rnd.param, "counts": data.counts}  # fmt: skip
                runs.append(rec)
                if log:
                    log(f"probe {frac:.0%} seed {seed} {fold.name}: pretrained {pre.macro_f1:.3f} random "
                        f"{rnd.macro_f1:.3f} diff {rec['diff']:+.3f}")  # fmt: skip
    summary = {}
    for frac in label_fractions:
        sel = [r for r in runs if r["label_fraction"] == frac]
        per_fold = {}
        for r in sel:
            per_fold.setdefault(r["fold"], []).append(r["diff"])
        diffs = np.array([np.mean(v) for v in per_fold.values()])
        summary[str(frac)] = {
            "probe_pretrained": float(np.mean([r["probe_pretrained"] for r in sel])),
            "probe_random": float(np.mean([r["probe_random"] for r in sel])),
            "mean_paired_diff": float(diffs.mean()), "folds_won": int((diffs > 0).sum()), "folds": int(diffs.size),
        }  # fmt: skip
    return {"runs": runs, "summary": summary, "class_names": windows.class_names, "folds": len(folds)}


__all__ = [
    "C_GRID",
    "ProbeScore",
    "encoder_features",
    "logistic_probe",
    "probe_f1",
    "probe_fold",
    "run_loso_probe",
    "select_fit_predict",
]
