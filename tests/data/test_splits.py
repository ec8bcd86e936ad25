"""Subject-wise folds and the train-only normaliser: tests that would catch a leak."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.mount import Mount
from toolkit.data.recording import make_recording
from toolkit.data.splits import (
    Normalizer,
    fit_fold_normalizer,
    fit_normalizer,
    group_folds,
    loso_folds,
    subject_groups,
)
from toolkit.data.windows import real_windows
from toolkit.errors import ConfigError


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
