"""One fold of the subject-wise protocol, with a guard that proves the test subjects never leak.

For a :class:`~toolkit.data.splits.Fold` (train / validation / test subjects, validation drawn from the training
subjects only) :func:`prepare_fold` selects the windows of each set, samples the label fraction per class
(:func:`sample_label_fraction`) on the TRAINING windows only (model selection sees every window of the validation
subjects: a 10 % cut would leave a few dozen windows to select on), fits the normaliser on the training windows
only and returns normalised tensors plus the window indices of each set (so scikit-learn methods use exactly the
same windows). :func:`fit_and_test` trains one method (with ``head: auto``, each classifier head, keeping the
better validation macro F1) and predicts the test set.

Leak guard: every consumer of data in a fold (normaliser fitting, training, validation/model selection,
label sampling) passes the subject ids of the windows it ACTUALLY receives through :meth:`LeakGuard.check`,
which raises :class:`LeakError` if any test subject is among them and keeps an audit (stage -> subjects seen)
that tests and reports can inspect. The check looks at the data, not at the fold's declared subject lists, so
an indexing bug that let test windows through would be caught.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from toolkit.data.splits import Fold, Normalizer, fit_normalizer
from toolkit.data.windows import RealWindows
from toolkit.errors import Multi3EdgeError
from toolkit.models.config import Multi3NetConfig
from toolkit.models.multi3net import Multi3Net
from toolkit.train.adapt import AdaptConfig, adapt_encoder
from toolkit.train.channels import ALL_CHANNELS, slice_stats
from toolkit.train.config import HEADS, FinetuneConfig
from toolkit.train.data import classifier_inputs
from toolkit.train.finetune import FinetuneResult, build_classifier, classifier_spec, predict_logits, train_classifier

TRAINING_STAGES = ("normalizer", "train", "val", "label_sampling", "adapt")


class LeakError(Multi3EdgeError):
    """Windows of a test subject reached a training-side stage of a fold."""


@dataclass
class LeakGuard:
    """Records which subjects each stage of a fold saw; refuses test subjects in training-side stages."""

    fold: str
    test_subjects: frozenset[str]
    audit: dict[str, list[str]] = field(default_factory=dict)

    def check(self, stage: str, subjects: np.ndarray) -> None:
        seen = sorted(set(np.asarray(subjects).astype(str).tolist()))
        self.audit.setdefault(stage, [])
        self.audit[stage] = sorted(set(self.audit[stage]) | set(seen))
        if stage in TRAINING_STAGES:
            leaked = sorted(self.test_subjects.intersection(seen))
            if leaked:
                raise LeakError(f"fold {self.fold}: test subject(s) {leaked} reached stage {stage!r}")


def fold_indices(windows: RealWindows, fold: Fold) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) window indices of ``fold`` (a seam the leak test patches)."""
    return fold.indices(windows.subject)


def sample_label_fraction(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices keeping ``ceil(fraction * n_k)`` windows of every class k (at least 1), chosen with ``seed``."""
    if fraction >= 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    keep = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        n = max(1, int(np.ceil(fraction * idx.size)))
        keep.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


@dataclass
class FoldData:
    """Normalised tensors of one fold and how they were made."""

    train: tuple[Tensor, Tensor]
    val: tuple[Tensor, Tensor] | None
    test: tuple[Tensor, Tensor]
    normalizer: Normalizer
    guard: LeakGuard
    counts: dict[str, int]
    index: dict[str, np.ndarray] = field(default_factory=dict)  #: "train" / "val" / "test" -> window indices


def prepare_fold(
    windows: RealWindows,
    fold: Fold,
    label_fraction: float = 1.0,
    seed: int = 0,
    guard: LeakGuard | None = None,
    normalizer: Normalizer | None = None,
) -> FoldData:
    """Select, subsample, normalise (module docstring). Raises LeakError on a leak.

    ``normalizer``: a fixed normaliser fitted without this dataset (a pretrained encoder's own, from its synthetic
    pretraining data) instead of one fitted on the fold's training windows.
    """
    guard = guard or LeakGuard(fold.name, frozenset(fold.test_subjects))
    tr, va, te = fold_indices(windows, fold)
    guard.check("label_sampling", windows.subject[np.concatenate([tr, va])])
    tr = tr[sample_label_fraction(windows.y[tr], label_fraction, seed)]
    if tr.size == 0:
        raise Multi3EdgeError(f"fold {fold.name}: no training windows")
    if normalizer is None:
        guard.check("normalizer", windows.subject[tr])
        norm = fit_normalizer(windows.x[tr])
    else:
        guard.check("normalizer", windows.subject[tr[:0]])  # fitted elsewhere: sees no window of this dataset
        norm = normalizer
    guard.check("train", windows.subject[tr])
    guard.check("val", windows.subject[va])
    guard.check("test", windows.subject[te])

    def pair(idx: np.ndarray) -> tuple[Tensor, Tensor]:
        return classifier_inputs(windows.x[idx], norm), torch.from_numpy(windows.y[idx].astype(np.int64))

    return FoldData(train=pair(tr), val=pair(va) if va.size else None, test=pair(te), normalizer=norm, guard=guard,
                    counts={"train": int(tr.size), "val": int(va.size), "test": int(te.size)},
                    index={"train": tr, "val": va, "test": te})  # fmt: skip


def adapt_fold(
    windows: RealWindows,
    fold: Fold,
    model: Multi3Net,
    normalizer: Normalizer,
    cfg: AdaptConfig | None = None,
    seed: int = 0,
    guard: LeakGuard | None = None,
) -> tuple[Multi3Net, list[float]]:
    """:func:`toolkit.train.adapt.adapt_encoder` on every window of the fold's TRAINING subjects, labels unused
    (neither validation nor test subjects; the windows pass ``guard`` as stage ``adapt``)."""
    guard = guard or LeakGuard(fold.name, frozenset(fold.test_subjects))
    tr, _, _ = fold_indices(windows, fold)
    guard.check("adapt", windows.subject[tr])
    return adapt_encoder(model, windows.x[tr], normalizer, cfg, seed)


@dataclass
class FoldOutcome:
    """Predictions of one trained model on a fold's test subjects."""

    y_true: np.ndarray
    y_pred: np.ndarray
    result: FinetuneResult
    data: FoldData
    spec: dict[str, Any]
    head: str = ""  #: the classifier head trained ("" for dcl)


def better_on_validation(val_f1: float | None, best_val_f1: float | None) -> bool:
    """The head-selection rule: a candidate replaces the best so far only with a strictly higher validation macro F1
    (so ties and missing validation keep the earlier candidate, the first head of the grid)."""
    return val_f1 is not None and val_f1 > (best_val_f1 if best_val_f1 is not None else -1.0)


def fit_and_test(
    windows: RealWindows,
    fold: Fold,
    cfg: FinetuneConfig,
    mcfg: Multi3NetConfig,
    pretrained: Multi3Net | None,
    device: torch.device,
    pretrained_normalizer: Normalizer | None = None,
    channels: Sequence[str] = ALL_CHANNELS,
    log: Callable[[str], None] | None = None,
) -> FoldOutcome:
    """:func:`fit_and_test_head` with ``cfg.head``; for ``head: auto``, once per head of
    :data:`~toolkit.train.config.HEADS`, keeping the better validation macro F1 (the first head on a tie or without
    validation windows; each head's score goes to ``log``)."""
    if cfg.method == "dcl" or cfg.head != "auto":
        return fit_and_test_head(windows, fold, cfg, mcfg, pretrained, device, pretrained_normalizer, channels)
    best: FoldOutcome | None = None
    for head in HEADS:
        out = fit_and_test_head(windows, fold, cfg.replace(head=head), mcfg, pretrained, device,
                                pretrained_normalizer, channels)  # fmt: skip
        val = out.result.best_val_f1
        if log:
            log(f"head {head}: validation macro F1 " + ("n/a (no validation window)" if val is None else f"{val:.3f}"))
        if best is None or better_on_validation(val, best.result.best_val_f1):
            best = out
    assert best is not None
    if log:
        log(f"head {best.head} kept (the better validation macro F1; --head moe|mlp fixes it)")
    return best


def fit_and_test_head(
    windows: RealWindows,
    fold: Fold,
    cfg: FinetuneConfig,
    mcfg: Multi3NetConfig,
    pretrained: Multi3Net | None,
    device: torch.device,
    pretrained_normalizer: Normalizer | None = None,
    channels: Sequence[str] = ALL_CHANNELS,
) -> FoldOutcome:
    """Prepare the fold, build ``cfg.method`` (from ``pretrained`` when given) with the one head ``cfg.head``,
    train, predict the test windows.

    A ``multi3net`` run with ``cfg.normalizer == "pretrained"`` standardises the real windows with
    ``pretrained_normalizer`` (the statistics the encoder was pretrained with), so the encoder sees gravity and
    motion on the scale it learnt; every other run fits the normaliser on the fold's training windows.

    ``channels``: the per-wrist channels ``windows.x`` holds (:mod:`toolkit.train.channels`; accelerometer only:
    (N, L, 3 * wrists) windows, a 3-channel model, the pretrained normaliser's acc statistics).
    """
    fixed = pretrained_normalizer if cfg.method == "multi3net" and cfg.normalizer == "pretrained" else None
    wrists = windows.x.shape[-1] // len(channels)
    if fixed is not None and tuple(channels) != ALL_CHANNELS and fixed.mean.size % len(ALL_CHANNELS) == 0:
        k = fixed.mean.size // len(ALL_CHANNELS)  # the normaliser's wrists
        fixed = Normalizer(np.asarray(slice_stats(fixed.mean, channels, k)),
                           np.asarray(slice_stats(fixed.std, channels, k)))  # fmt: skip
    data = prepare_fold(windows, fold, cfg.label_fraction, cfg.seed, normalizer=fixed)
    spec = classifier_spec(cfg, len(windows.class_names), wrists, mcfg, len(channels))
    torch.manual_seed(cfg.seed)
    model = build_classifier(spec, pretrained if cfg.method == "multi3net" else None, cfg.encoder)
    res = train_classifier(model, data.train, data.val, cfg, len(windows.class_names), device,
                           pretrained=cfg.method == "multi3net")  # fmt: skip
    x_te, y_te = data.test
    pred = predict_logits(res.model, x_te, device).argmax(1).numpy() if len(y_te) else np.zeros(0, np.int64)
    return FoldOutcome(y_true=y_te.numpy(), y_pred=pred, result=res, data=data, spec=spec,
                       head="" if cfg.method == "dcl" else cfg.head)  # fmt: skip
