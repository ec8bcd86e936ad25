"""Subject-wise evaluation folds and a normaliser fitted on training windows only.

* :func:`loso_folds`: leave-one-subject-out; one fold per subject.
* :func:`group_folds`: ``k`` subject groups (default 5, as the Multi3Net+ paper's five subject groups): the
  sorted subject ids are shuffled with ``seed`` and dealt round-robin into ``k`` groups, so the assignment is
  deterministic, balanced (sizes differ by at most one) and independent of window counts. Fold ``i`` tests on
  group ``i``.
* In every fold the **validation subjects are drawn from the training subjects only** (``val_fraction`` of them,
  at least one when there are two or more, with a per-fold seed); train, validation and test subjects are
  disjoint. Given the window labels ``y``, the choice is **stratified** (:func:`choose_validation`): among the
  subject subsets of the right size (all of them, or ``MAX_SUBSETS`` seeded random ones when there are more),
  it keeps those whose remaining training subjects cover the most classes, then those whose validation subjects
  cover the most classes, and picks one of them with the fold's seed. Classes that no validation subject or no
  test subject of a fold has are named in the fold (``val_missing`` / ``test_missing``) and in a
  :class:`CoverageWarning`.
* :func:`stratified_case_folds`: for datasets **without subject ids** (UEA ``.ts`` files such as BasicMotions),
  ``k`` folds over the cases (recordings) with scikit-learn's seeded :class:`~sklearn.model_selection.
  StratifiedKFold` on each case's label; the validation cases are a stratified share of the training cases. The
  folds hold out cases, not people, so their scores are optimistic compared with subject-wise ones. Selected by
  ``split: stratified-cases`` in the evaluation config (``edge-eval --split stratified-cases``).
* :class:`Normalizer`: per-channel mean / std (NaN-aware, so missing gyro channels are ignored), fitted with
  :func:`fit_normalizer` on the fold's training windows only.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from toolkit.errors import ConfigError

SCHEMA_VERSION = 1
#: most subject subsets scored when choosing validation subjects (beyond it: a seeded random sample)
MAX_SUBSETS = 2000


class CoverageWarning(UserWarning):
    """A fold's validation or test subjects lack some classes."""


@dataclass(frozen=True)
class Fold:
    """One evaluation fold: disjoint subject sets."""

    name: str
    train_subjects: tuple[str, ...]
    val_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    val_missing: tuple[str, ...] = ()  #: classes no validation subject has (known when labels were given)
    test_missing: tuple[str, ...] = ()  #: classes no test subject has

    def __post_init__(self) -> None:
        tr, va, te = set(self.train_subjects), set(self.val_subjects), set(self.test_subjects)
        if tr & va or tr & te or va & te:
            raise ConfigError(f"fold {self.name}: subject sets overlap")

    def indices(self, subject: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(train, val, test) integer indices of the windows whose (N,) ``subject`` falls in each set."""
        s = np.asarray(subject).astype(str)
        return tuple(np.flatnonzero(np.isin(s, list(group))) for group in  # type: ignore[return-value]
                     (self.train_subjects, self.val_subjects, self.test_subjects))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "train": list(self.train_subjects), "val": list(self.val_subjects),
               "test": list(self.test_subjects)}  # fmt: skip
        if self.val_missing or self.test_missing:
            out |= {"val_missing": list(self.val_missing), "test_missing": list(self.test_missing)}
        return out


#: ``split`` value of the evaluation config that selects :func:`stratified_case_folds`.
CASE_SPLIT = "stratified-cases"


def _subjects(subject: np.ndarray | list[str]) -> list[str]:
    subs = sorted(set(np.asarray(subject).astype(str).tolist()))
    if len(subs) < 2:
        raise ConfigError(
            f"subject-wise folds (leave-one-subject-out, subject groups) need subject ids, but the windows have "
            f"{len(subs)} subject ({', '.join(subs) or 'none'}): give the dataset a subject file, or use the "
            f"stratified case split (edge-eval --split {CASE_SPLIT}, or 'split: {CASE_SPLIT}' in the eval config)")
    return subs


def _n_val(n_train: int, val_fraction: float) -> int:
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = 0 if val_fraction == 0 or n_train < 2 else max(1, int(round(val_fraction * n_train)))
    return min(n_val, n_train - 1)


def subject_classes(subject: np.ndarray | list[str], y: np.ndarray) -> dict[str, frozenset[int]]:
    """{subject: the class indices its (N,) windows ``y`` have}."""
    s = np.asarray(subject).astype(str)
    y = np.asarray(y)
    return {sub: frozenset(np.unique(y[s == sub]).tolist()) for sub in sorted(set(s.tolist()))}


def choose_validation(
    candidates: list[str], classes_of: dict[str, frozenset[int]], n_val: int, rng: np.random.Generator
) -> list[str]:
    """``n_val`` of ``candidates`` as validation subjects, stratified for class coverage (module docstring).

    Returns them in ``candidates`` order. Deterministic for a given ``rng`` state.
    """
    if n_val <= 0:
        return []
    n = len(candidates)
    if math.comb(n, n_val) <= MAX_SUBSETS:
        subsets = [tuple(c) for c in itertools.combinations(range(n), n_val)]
    else:
        subsets = sorted({tuple(sorted(rng.choice(n, size=n_val, replace=False).tolist())) for _ in range(MAX_SUBSETS)})
    every = frozenset().union(*(classes_of[c] for c in candidates))

    def score(sub: tuple[int, ...]) -> tuple[int, int]:
        val = frozenset().union(*(classes_of[candidates[i]] for i in sub))
        rest = [candidates[i] for i in range(n) if i not in sub]
        train = frozenset().union(*(classes_of[c] for c in rest)) if rest else every
        return len(train), len(val)

    scores = [score(sub) for sub in subsets]
    best = max(scores)
    ties = [sub for sub, sc in zip(subsets, scores, strict=True) if sc == best]
    pick = set(ties[int(rng.integers(len(ties)))])
    return [c for i, c in enumerate(candidates) if i in pick]


def _split_val(
    train: list[str],
    val_fraction: float,
    rng: np.random.Generator,
    classes_of: dict[str, frozenset[int]] | None = None,
) -> tuple[list[str], list[str]]:
    n_val = _n_val(len(train), val_fraction)
    if classes_of is not None:
        picked = set(choose_validation(train, classes_of, n_val, rng))
    else:
        picked = set(rng.choice(np.asarray(train), size=n_val, replace=False).tolist()) if n_val else set()
    return [s for s in train if s not in picked], [s for s in train if s in picked]


def with_coverage(
    fold: Fold, classes_of: dict[str, frozenset[int]] | None, class_names: list[str] | None
) -> Fold:
    """``fold`` with its missing classes named (and a CoverageWarning) when labels are known."""
    if classes_of is None:
        return fold
    every = sorted(frozenset().union(*classes_of.values()))
    names = class_names or [str(k) for k in range(max(every) + 1)]

    def missing(subjects: tuple[str, ...]) -> tuple[str, ...]:
        have = frozenset().union(*(classes_of[s] for s in subjects)) if subjects else frozenset()
        return tuple(names[k] for k in every if k not in have)

    val_missing = missing(fold.val_subjects) if fold.val_subjects else ()
    test_missing = missing(fold.test_subjects)
    if val_missing or test_missing:
        parts = []
        if val_missing:
            parts.append(f"no validation subject has class(es) {', '.join(val_missing)}")
        if test_missing:
            parts.append(f"no test subject has class(es) {', '.join(test_missing)}")
        warnings.warn(f"fold {fold.name}: " + "; ".join(parts), CoverageWarning, stacklevel=3)
    return Fold(fold.name, fold.train_subjects, fold.val_subjects, fold.test_subjects, val_missing, test_missing)


def loso_folds(
    subject: np.ndarray | list[str],
    val_fraction: float = 0.2,
    seed: int = 0,
    y: np.ndarray | None = None,
    class_names: list[str] | None = None,
) -> list[Fold]:
    """Leave-one-subject-out folds over the distinct subjects of ``subject`` (sorted).

    With the windows' (N,) labels ``y`` the validation subjects are chosen for class coverage (module docstring).
    """
    subs = _subjects(subject)
    classes_of = subject_classes(subject, y) if y is not None else None
    folds = []
    for i, test in enumerate(subs):
        rest = [s for s in subs if s != test]
        train, val = _split_val(rest, val_fraction, np.random.default_rng([seed, i]), classes_of)
        folds.append(with_coverage(Fold(f"loso-{test}", tuple(train), tuple(val), (test,)), classes_of, class_names))
    return folds


def subject_groups(subject: np.ndarray | list[str], k: int = 5, seed: int = 0) -> list[list[str]]:
    """Deterministic assignment of the distinct subjects to ``k`` groups (module docstring)."""
    subs = _subjects(subject)
    if not 2 <= k <= len(subs):
        raise ConfigError(f"k must be between 2 and the number of subjects ({len(subs)}), got {k}")
    order = np.random.default_rng(seed).permutation(len(subs))
    groups: list[list[str]] = [[] for _ in range(k)]
    for rank, idx in enumerate(order):
        groups[rank % k].append(subs[idx])
    return [sorted(g) for g in groups]


def group_folds(
    subject: np.ndarray | list[str],
    k: int = 5,
    val_fraction: float = 0.2,
    seed: int = 0,
    y: np.ndarray | None = None,
    class_names: list[str] | None = None,
) -> list[Fold]:
    """``k`` folds, fold ``i`` testing on subject group ``i`` (:func:`subject_groups`); ``y`` as in loso_folds."""
    groups = subject_groups(subject, k, seed)
    classes_of = subject_classes(subject, y) if y is not None else None
    folds = []
    for i, test in enumerate(groups):
        rest = sorted(s for j, g in enumerate(groups) if j != i for s in g)
        train, val = _split_val(rest, val_fraction, np.random.default_rng([seed, 1000 + i]), classes_of)
        folds.append(with_coverage(Fold(f"group-{i}", tuple(train), tuple(val), tuple(test)), classes_of, class_names))
    return folds


def case_labels(case: np.ndarray | list[str], y: np.ndarray) -> dict[str, int]:
    """{case id: its majority label} of (N,) window case ids and labels (ties: the smallest label)."""
    c = np.asarray(case).astype(str)
    y = np.asarray(y, dtype=np.int64)
    out = {}
    for cid in sorted(set(c.tolist())):
        vals, counts = np.unique(y[c == cid], return_counts=True)
        out[cid] = int(vals[np.argmax(counts)])
    return out


def stratified_case_folds(
    case: np.ndarray | list[str],
    y: np.ndarray,
    k: int = 5,
    val_fraction: float = 0.2,
    seed: int = 0,
    class_names: list[str] | None = None,
) -> list[Fold]:
    """``k`` folds over cases (module docstring); the returned folds name **case ids** in their subject fields, so
    use them with the windows' case (recording) ids: ``fold.indices(windows.recording)``.

    Args:
        case: (N,) case id of each window; y: (N,) labels; k: folds (at most the smallest class's case count);
        val_fraction: share of each fold's training cases used for validation (stratified); seed: shuffling.

    Raises:
        ConfigError: fewer than 2 cases, or a class with fewer than ``k`` cases.
    """
    labels = case_labels(case, y)
    ids = list(labels)
    lab = np.asarray([labels[i] for i in ids])
    if len(ids) < 2:
        raise ConfigError(f"{CASE_SPLIT}: need at least 2 cases, got {len(ids)}")
    smallest = int(np.min(np.bincount(lab)[np.unique(lab)]))
    if not 2 <= k <= smallest:
        raise ConfigError(f"{CASE_SPLIT}: {k} folds need at least {k} cases of every class (the smallest class has "
                          f"{smallest}); use fewer folds (--groups)")
    _n_val(2, val_fraction)  # validates val_fraction
    classes_of = {i: frozenset([labels[i]]) for i in ids}
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for f, (tr, te) in enumerate(skf.split(np.zeros(len(ids)), lab)):
        train = [ids[i] for i in tr]
        val: list[str] = []
        n_val = _n_val(len(train), val_fraction)
        if n_val:
            strat = lab[tr] if np.min(np.bincount(lab[tr])[np.unique(lab[tr])]) >= 2 and n_val >= len(set(lab[tr])) \
                else None
            train, val = train_test_split(train, test_size=n_val, random_state=seed * 1000 + f, stratify=strat)
        fold = Fold(f"cases-{f}", tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(ids[i] for i in te)))
        folds.append(with_coverage(fold, classes_of, class_names))
    return folds


@dataclass
class Normalizer:
    """Per-channel standardisation ``(x - mean) / std``.

    Attributes:
        mean: (C,) float64; std: (C,) float64 (channels with std < ``eps`` or no finite data get std 1).
    """

    mean: np.ndarray
    std: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(..., C) -> (..., C) float32 standardised (NaN stays NaN)."""
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) * self.std + self.mean

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalizer:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION:
            raise ConfigError(f"normaliser: expected a dict with schema {SCHEMA_VERSION}")
        mean, std = np.asarray(data["mean"], np.float64), np.asarray(data["std"], np.float64)
        if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
            raise ConfigError("normaliser: mean and std must be equal-length vectors, std > 0")
        return cls(mean, std)


def fit_normalizer(x: np.ndarray, eps: float = 1e-8) -> Normalizer:
    """Fit on (N, L, C) or (M, C) training windows (NaN ignored)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 2 or a.shape[0] == 0:
        raise ConfigError(f"fit_normalizer: need (N, ..., C) data, got shape {a.shape}")
    flat = a.reshape(-1, a.shape[-1])
    finite = np.isfinite(flat)
    cnt = finite.sum(0)
    mean = np.where(cnt > 0, np.nansum(np.where(finite, flat, 0.0), 0) / np.maximum(cnt, 1), 0.0)
    var = np.where(cnt > 0, np.nansum(np.where(finite, (flat - mean) ** 2, 0.0), 0) / np.maximum(cnt, 1), 1.0)
    std = np.sqrt(var)
    std = np.where(std < eps, 1.0, std)
    return Normalizer(mean, std)


def fit_fold_normalizer(x: np.ndarray, subject: np.ndarray, fold: Fold) -> Normalizer:
    """A :class:`Normalizer` fitted on the fold's training windows only."""
    train, _, _ = fold.indices(subject)
    if train.size == 0:
        raise ConfigError(f"fold {fold.name}: no training windows")
    return fit_normalizer(np.asarray(x)[train])


__all__ = [
    "CASE_SPLIT",
    "CoverageWarning",
    "Fold",
    "Normalizer",
    "fit_fold_normalizer",
    "choose_validation",
    "fit_normalizer",
    "group_folds",
    "loso_folds",
    "case_labels",
    "stratified_case_folds",
    "subject_classes",
    "subject_groups",
    "with_coverage",
]
