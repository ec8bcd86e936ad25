"""LOSO never leaks: the test subject reaches no training-side stage, and a leaking variant is caught."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data.splits import group_folds, loso_folds
from toolkit.train import protocol
from toolkit.train.data import generated_windows
from toolkit.train.protocol import TRAINING_STAGES, LeakError, prepare_fold


@pytest.mark.parametrize("folds_of", [lambda s: loso_folds(s, 0.25, seed=3), lambda s: group_folds(s, 3, 0.25)])
def test_no_fold_leaks(folds_of):
    w = generated_windows(subjects=6, classes=3, per_class=4)
    for fold in folds_of(w.subject):
        for fraction in (0.25, 1.0):
            data = prepare_fold(w, fold, fraction, seed=0)
            audit = data.guard.audit
            for stage in TRAINING_STAGES:
                assert not set(audit[stage]) & set(fold.test_subjects), (fold.name, stage)
            assert set(audit["train"]) | set(audit["val"]) <= set(fold.train_subjects) | set(fold.val_subjects)
            assert set(audit["test"]) == set(fold.test_subjects)
            assert audit["val"] and not set(audit["val"]) & set(audit["train"])
            # normaliser statistics equal those of the training windows alone
            tr, _, _ = fold.indices(w.subject)
            assert data.counts["test"] == int(np.sum(np.isin(w.subject, fold.test_subjects)))
            if fraction == 1.0:
                assert np.allclose(data.normalizer.mean, w.x[tr].reshape(-1, 6).mean(0))


def test_a_leaking_fold_builder_is_detected(monkeypatch):
    w = generated_windows(subjects=4, classes=3, per_class=4)
    fold = loso_folds(w.subject, 0.25)[0]
    honest = protocol.fold_indices

    def leaky(windows, f):  # the classic bug: training windows selected from everything but validation
        tr, va, te = honest(windows, f)
        return np.setdiff1d(np.arange(len(windows)), va), va, te

    monkeypatch.setattr(protocol, "fold_indices", leaky)
    with pytest.raises(LeakError, match="reached stage"):
        prepare_fold(w, fold)


def test_leaking_validation_is_detected(monkeypatch):
    w = generated_windows(subjects=4, classes=3, per_class=4)
    fold = loso_folds(w.subject, 0.25)[1]
    honest = protocol.fold_indices
    monkeypatch.setattr(protocol, "fold_indices", lambda wi, f: (honest(wi, f)[0], honest(wi, f)[2],
                                                                 honest(wi, f)[2]))  # fmt: skip
    with pytest.raises(LeakError):
        prepare_fold(w, fold)
