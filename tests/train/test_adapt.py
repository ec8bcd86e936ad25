"""SimCLR adaptation on unlabelled windows: physical views, a loss that falls, only the encoder changes, no leak."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.data.splits import fit_normalizer, loso_folds
from toolkit.errors import ConfigError
from toolkit.models.multi3net import Multi3Net
from toolkit.train import protocol
from toolkit.train.adapt import AdaptConfig, adapt_encoder, two_views
from toolkit.train.data import generated_windows
from toolkit.train.modelcfg import resolve_model_config
from toolkit.train.protocol import LeakError, adapt_fold

STILL = dict(scale=0.0, acc_noise_ms2=0.0, gyro_noise_rads=0.0, shift_samples=0)


def tiny_model(seed: int = 0) -> Multi3Net:
    torch.manual_seed(seed)
    return Multi3Net(resolve_model_config("tiny", {}, 60)).eval()


def test_rotated_views_keep_the_magnitudes_of_acc_and_gyro():
    x = generated_windows(subjects=1, classes=3, per_class=2).x
    v1, v2 = two_views(x, np.random.default_rng(0), AdaptConfig(twist_deg=90.0, tilt_deg=30.0, **STILL))
    for v in (v1, v2):
        for sl in (slice(0, 3), slice(3, 6)):
            np.testing.assert_allclose(np.linalg.norm(v[..., sl], axis=-1), np.linalg.norm(x[..., sl], axis=-1),
                                       rtol=1e-5, atol=1e-4)  # fmt: skip
        assert np.abs(v - x).max() > 1.0  # the watch really turned (gravity 9.81 m/s^2 moved between axes)
    assert np.abs(v1 - v2).max() > 1.0


def test_time_shift_is_a_circular_roll_within_the_limit():
    x = generated_windows(subjects=1, classes=2, per_class=3).x
    shift_only = AdaptConfig(twist_deg=0.0, tilt_deg=0.0, **{**STILL, "shift_samples": 4})
    v, _ = two_views(x, np.random.default_rng(1), shift_only)
    for w, orig in zip(v, x, strict=True):
        assert any(np.allclose(w, np.roll(orig, s, axis=0)) for s in range(-4, 5))


def test_adaptation_lowers_the_contrastive_loss_and_changes_only_that_encoder():
    w = generated_windows(subjects=2, classes=4, per_class=8)
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adapted, losses = adapt_encoder(model, w.x, fit_normalizer(w.x), AdaptConfig(steps=60, batch_size=32), seed=0)
    assert len(losses) == 60 and np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.3, losses
    for k, v in model.state_dict().items():  # the input model is untouched
        assert torch.equal(v, before[k]), k
    changed = {k for k, v in adapted.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("imu_left.") for k in changed), sorted(changed)[:5]
    assert not adapted.training


def test_the_seed_fixes_the_result():
    w = generated_windows(subjects=1, classes=3, per_class=6)
    norm, cfg = fit_normalizer(w.x), AdaptConfig(steps=3, batch_size=8)
    a = adapt_encoder(tiny_model(), w.x, norm, cfg, seed=0)[0].state_dict()
    b = adapt_encoder(tiny_model(), w.x, norm, cfg, seed=0)[0].state_dict()
    c = adapt_encoder(tiny_model(), w.x, norm, cfg, seed=1)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("bad", [dict(steps=0), dict(batch_size=-1), dict(lr=0.0), dict(scale=1.5),
                                 dict(twist_deg=200.0), dict(shift_samples=-1), dict(acc_noise_ms2=-0.1)])  # fmt: skip
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        AdaptConfig(**bad)


def test_bad_windows_are_refused():
    w = generated_windows(subjects=1, classes=2, per_class=2)
    norm = fit_normalizer(w.x)
    with pytest.raises(ConfigError, match="at least 2"):
        adapt_encoder(tiny_model(), w.x[:1], norm)
    with pytest.raises(ConfigError, match=r"\(N, L, 6\)"):
        adapt_encoder(tiny_model(), w.x[..., :3], norm)


def test_adapt_fold_sees_the_training_subjects_only():
    w = generated_windows(subjects=5, classes=3, per_class=3)
    fold = loso_folds(w.subject, 0.25)[0]
    guard = protocol.LeakGuard(fold.name, frozenset(fold.test_subjects))
    adapt_fold(w, fold, tiny_model(), fit_normalizer(w.x), AdaptConfig(steps=1, batch_size=4), guard=guard)
    assert guard.audit["adapt"] == sorted(fold.train_subjects)


def test_a_leaking_adaptation_is_detected(monkeypatch):
    w = generated_windows(subjects=4, classes=3, per_class=3)
    fold = loso_folds(w.subject, 0.25)[0]
    monkeypatch.setattr(protocol, "fold_indices", lambda wi, f: (np.arange(len(wi)), np.zeros(0, int),
                                                                 np.zeros(0, int)))  # fmt: skip
    with pytest.raises(LeakError, match="adapt"):
        adapt_fold(w, fold, tiny_model(), fit_normalizer(w.x), AdaptConfig(steps=1, batch_size=4))
