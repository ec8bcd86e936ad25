"""Subject-wise folds and the train-only normaliser: tests that would catch a leak."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data.recording import make_recording
from toolkit.data.splits import (
    CoverageWarning,
    Normalizer,
    choose_validation,
    fit_fold_normalizer,
    fit_normalizer,
    group_folds,
    loso_folds,
    subject_groups,
)
from toolkit.data.windows import real_windows
from toolkit.errors import ConfigError
from toolkit.mount import Mount


@pytest.fixture(scope="module")
def windows():
    """A real-shaped dataset: 12 subjects x 2 recordings, each subject with its own offset (so leaks show)."""
    recs = []
    rng = np.random.default_rng(0)
    for s in range(12):
        for k in range(2):
            n = 800
            t = np.arange(n) / 100.0
            acc = rng.normal(size=(n, 3)) + [s, -s, 9.81]
            recs.append(make_recording(subject=f"s{s:02d}", recording=f"s{s:02d}_{k}", timestamps_s=t, acc_device=acc,
                                       gyro_device=rng.normal(size=(n, 3)) * (s + 1), labels=np.full(n, s % 3),
                                       class_names=["a", "b", "c"], profile="wear-os-watch", mount=Mount("left")))
    return real_windows(recs)


@pytest.mark.parametrize("make_folds", [lambda s: loso_folds(s), lambda s: group_folds(s, k=5)])
def test_no_test_subject_or_recording_leaks_into_train_val_or_normaliser(windows, make_folds):
    folds = make_folds(windows.subject)
    all_subjects = set(windows.subject.tolist())
    tested = set()
    norm_all = fit_normalizer(windows.x)
    for fold in folds:
        tr, va, te = fold.indices(windows.subject)
        assert tr.size and va.size and te.size
        assert not set(tr) & set(te) and not set(va) & set(te) and not set(tr) & set(va)
        test_subj, test_rec = set(windows.subject[te]), set(windows.recording[te])
        for idx in (tr, va):
            assert not set(windows.subject[idx]) & test_subj
            assert not set(windows.recording[idx]) & test_rec
        assert set(fold.val_subjects) <= all_subjects - set(fold.test_subjects)
        assert set(tr) | set(va) | set(te) == set(range(len(windows)))
        tested |= test_subj
        norm = fit_fold_normalizer(windows.x, windows.subject, fold)
        np.testing.assert_allclose(norm.mean, fit_normalizer(windows.x[tr]).mean)  # train windows only
        assert not np.allclose(norm.mean, norm_all.mean)  # differs from a fit on all data
    assert tested == all_subjects  # every subject is tested exactly once
    assert sum(len(f.test_subjects) for f in folds) == len(all_subjects)


def test_groups_are_deterministic_and_balanced(windows):
    g1 = subject_groups(windows.subject, 5, seed=0)
    assert g1 == subject_groups(list(reversed(windows.subject.tolist())), 5, seed=0)
    assert max(len(g) for g in g1) - min(len(g) for g in g1) <= 1
    assert sorted(s for g in g1 for s in g) == sorted(set(windows.subject.tolist()))
    assert g1 != subject_groups(windows.subject, 5, seed=1)
    with pytest.raises(ConfigError):
        subject_groups(["a", "b"], 5)


def test_normalizer_nan_and_round_trip():
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(50, 10, 6))
    x[:10, :, 3:] = np.nan
    n = fit_normalizer(x)
    z = n.transform(x)
    assert np.isnan(z[:10, :, 3:]).all()
    np.testing.assert_allclose(np.nanmean(z.reshape(-1, 6), 0), 0, atol=1e-5)
    np.testing.assert_allclose(np.nanstd(z.reshape(-1, 6), 0), 1, atol=1e-4)
    m = Normalizer.from_dict(n.to_dict())
    np.testing.assert_allclose(m.mean, n.mean) and np.testing.assert_allclose(m.std, n.std)


def test_validation_choice_covers_every_class_when_possible():
    # 8 subjects; only s3 and s6 have class 2, only s5 has class 3: a random pick of 2 often misses class 2
    classes = {"s0": {0, 1}, "s1": {0, 1}, "s2": {0, 1}, "s3": {0, 2}, "s4": {0, 1}, "s5": {1, 3}, "s6": {1, 2},
               "s7": {0, 1}}  # fmt: skip
    subject = np.array([s for s, ks in classes.items() for _ in ks])
    y = np.array([k for ks in classes.values() for k in sorted(ks)])
    names = ["a", "b", "c", "d"]
    with pytest.warns(CoverageWarning) as rec:
        folds = loso_folds(subject, 0.25, seed=0, y=y, class_names=names)
    for fold in folds:
        val = set().union(*(classes[s] for s in fold.val_subjects))
        train = set().union(*(classes[s] for s in fold.train_subjects))
        rest = set().union(*(classes[s] for s in fold.train_subjects + fold.val_subjects))
        assert train == rest  # training keeps every class it can
        if fold.test_subjects[0] not in ("s3", "s6"):
            assert 2 in val  # the second holder of class 2 goes to validation when another one trains
        assert fold.val_missing == tuple(names[k] for k in range(4) if k not in val)
    fold_s0 = next(f for f in folds if f.name == "loso-s0")
    # class d lives only in s5, which must train: validation lacks it, and the warning names it
    assert fold_s0.val_missing == ("d",) and "s5" in fold_s0.train_subjects
    msgs = [str(w.message) for w in rec]
    assert any(m.startswith("fold loso-s0: no validation subject has class(es) d") for m in msgs)
    assert any("no test subject has class(es)" in m and "c" in m for m in msgs)
    assert folds == loso_folds(subject, 0.25, seed=0, y=y, class_names=names)  # seeded, deterministic
    assert choose_validation(["a", "b"], {"a": frozenset({0}), "b": frozenset({1})}, 0, np.random.default_rng(0)) == []
