"""LOSO never leaks: the test subject reaches no training-side stage, and a leaking variant is caught."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.data.splits import Normalizer, group_folds, loso_folds
from toolkit.train import protocol
from toolkit.train.config import FinetuneConfig
from toolkit.train.data import generated_windows
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import TRAINING_STAGES, LeakError, prepare_fold


@pytest.mark.parametrize("folds_of", [lambda s: loso_folds(s, 0.25, seed=3), lambda s: group_folds(s, 3, 0.25)])
def test_no_fold_leaks(folds_of):
    w = generated_windows(subjects=6, classes=3, per_class=4)
    for fold in folds_of(w.subject):
        for fraction in (0.25, 1.0):
            data = prepare_fold(w, fold, fraction, seed=0)
            audit = data.guard.audit
            for stage in set(TRAINING_STAGES) - {"adapt"}:  # adapt: only adapt_fold (tests/train/test_adapt.py)
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


def test_a_fixed_normaliser_is_used_as_given_and_fitted_on_no_real_window():
    """Pretrained rows standardise with the checkpoint's own statistics: nothing of the dataset is fitted."""
    w = generated_windows(subjects=4, classes=3, per_class=4)
    fold = loso_folds(w.subject, 0.25)[0]
    fixed = Normalizer(mean=np.arange(6, dtype=np.float64), std=np.full(6, 2.0))
    data = prepare_fold(w, fold, 1.0, seed=0, normalizer=fixed)
    assert data.normalizer is fixed and data.guard.audit["normalizer"] == []
    tr = data.index["train"]
    assert np.allclose(data.train[0].numpy(), (w.x[tr] - np.arange(6)) / 2.0, atol=1e-5)


def test_only_pretrained_runs_take_the_pretrained_normaliser(tiny_checkpoint, monkeypatch):
    pre, pre_norm, _ = load_pretrained(tiny_checkpoint)
    w = generated_windows(subjects=4, classes=3, per_class=6)
    fold = loso_folds(w.subject, 0.25)[0]
    seen = []
    real_prepare = protocol.prepare_fold
    monkeypatch.setattr(protocol, "prepare_fold", lambda *a, normalizer=None, **k: seen.append(normalizer)
                        or real_prepare(*a, normalizer=normalizer, **k))  # fmt: skip
    for method, norm_mode, expected in [("multi3net", "pretrained", pre_norm), ("multi3net", "fold", None),
                                        ("base", "pretrained", None)]:  # fmt: skip
        cfg = FinetuneConfig(method=method, normalizer=norm_mode, min_steps=2, max_steps=2, eval_every=2,
                             batch_size=8, device="cpu", progress=False)  # fmt: skip
        protocol.fit_and_test(w, fold, cfg, pre.cfg, pre if method == "multi3net" else None, torch.device("cpu"),
                              pre_norm)  # fmt: skip
        assert seen[-1] is expected, (method, norm_mode)


def test_auto_head_keeps_the_better_validation_f1(tiny_checkpoint):
    """head: auto (edge-finetune's default) trains each head and keeps the one validation prefers, like edge-eval."""
    pre, pre_norm, _ = load_pretrained(tiny_checkpoint)
    w = generated_windows(subjects=4, classes=3, per_class=6)
    fold = loso_folds(w.subject, 0.25)[0]
    kw = {"min_steps": 4, "max_steps": 4, "eval_every": 2, "batch_size": 8, "device": "cpu", "progress": False}
    one = {h: protocol.fit_and_test(w, fold, FinetuneConfig(head=h, **kw), pre.cfg, pre, torch.device("cpu"), pre_norm)
           for h in ("moe", "mlp")}  # fmt: skip
    lines: list[str] = []
    auto = protocol.fit_and_test(w, fold, FinetuneConfig(head="auto", **kw), pre.cfg, pre, torch.device("cpu"),
                                 pre_norm, log=lines.append)  # fmt: skip
    want = "mlp" if one["mlp"].result.best_val_f1 > one["moe"].result.best_val_f1 else "moe"
    assert auto.head == want and auto.spec == one[want].spec
    assert np.array_equal(auto.y_pred, one[want].y_pred)  # the same run as the fixed head's
    assert lines[-1].startswith(f"head {want} kept") and len(lines) == 3
