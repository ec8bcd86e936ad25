"""The scikit-learn rows: stats_rf and linear probes learn the generated classes; paired-difference statistics."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data.splits import loso_folds
from toolkit.train.data import generated_windows
from toolkit.train.features import encoder_features, window_statistics
from toolkit.train.metrics import paired_differences
from toolkit.train.pretrain import load_pretrained
from toolkit.train.probe import probe_f1, run_loso_probe
from toolkit.train.shallow import sklearn_fold


@pytest.fixture(scope="module")
def windows():
    return generated_windows(subjects=5, classes=4, per_class=15, seed=3)


def test_window_statistics_are_physical():
    rate, n = 30.0, 60
    t = np.arange(n) / rate
    x = np.zeros((1, n, 6))
    x[0, :, 2] = 9.81
    x[0, :, 0] = 2.0 * np.sin(2 * np.pi * 3.0 * t)  # 3 Hz, amplitude 2 m/s^2 on acc_x
    x[0, :, 3:] = np.nan  # no gyroscope
    f = window_statistics(x, rate)
    assert f.shape == (1, 8 * 12 + 1) and np.isfinite(f).all() and f[0, -1] == 0  # no-gyro flag
    acc_x = f[0, :12]
    assert acc_x[0] == pytest.approx(0, abs=1e-9) and acc_x[1] == pytest.approx(np.sqrt(2), rel=1e-3)
    assert acc_x[11] == pytest.approx(3.0)  # dominant frequency [Hz]
    assert f[0, 12 * 2 + 0] == pytest.approx(9.81)  # acc_z mean
    assert f[0, 12 * 6 + 2] >= 9.81 - 1e-9  # acc magnitude min >= gravity


def test_stats_rf_beats_chance_clearly(windows):
    stats = window_statistics(windows.x, windows.rate_hz)
    folds = loso_folds(windows.subject, 0.25, 0, windows.y, windows.class_names)[:2]
    for fold in folds:
        score, data = sklearn_fold("stats_rf", windows, fold, 0.5, 0, stats=stats)
        assert score.macro_f1 > 0.8 > 1 / 4 and score.param in ("sqrt", 0.3) and score.val_f1 is not None
        assert len(score.y_pred) == data.counts["test"]


def test_probes_beat_chance_and_compare_pretrained_with_random(tiny_checkpoint):
    # random or barely trained encoders are sensitive to the generated subjects' offsets, so the probes are scored
    # over every LOSO fold (chance = 0.25); stats_rf above shows what the window statistics alone reach
    windows = generated_windows(subjects=5, classes=4, per_class=15, seed=0)
    pre, _, _ = load_pretrained(tiny_checkpoint)
    res = run_loso_probe(pre, windows, (1.0,), (0,))
    summ = res["summary"]["1.0"]
    assert len(res["runs"]) == 5 and summ["folds"] == 5
    assert summ["probe_pretrained"] > 0.45 and summ["probe_random"] > 0.45, summ
    assert all(r["diff"] == pytest.approx(r["probe_pretrained"] - r["probe_random"]) for r in res["runs"])
    fold = loso_folds(windows.subject, 0.25, 0, windows.y, windows.class_names)[0]
    score, data = sklearn_fold("probe_pretrained", windows, fold, 0.5, 0, pretrained=pre)
    assert score.param in (0.01, 0.1, 1.0, 10.0) and len(score.y_pred) == data.counts["test"]
    # same windows, different encoders -> different features
    f_pre = encoder_features(pre, windows.x[:10], data.normalizer)
    f_rnd = encoder_features(None, windows.x[:10], data.normalizer, seed=0, cfg=pre.cfg)
    assert f_pre.shape == f_rnd.shape == (10, pre.cfg.imu.embed_dim) and not np.allclose(f_pre, f_rnd)


def test_probe_f1_on_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    f = rng.normal(size=(90, 5)) + 4.0 * np.eye(3, 5)[y]
    idx = rng.permutation(90)
    s = probe_f1(f, y, idx[:50], idx[50:70], idx[70:])
    assert s.macro_f1 > 0.9 and s.val_f1 > 0.9


def _runs(table: dict[str, list[list[float]]]) -> list[dict]:
    """{method: [fold][seed] macro F1} -> run records."""
    return [{"method": m, "label_fraction": 0.1, "experts": 4, "seed": s, "fold": f"f{i}", "macro_f1": v}
            for m, folds in table.items() for i, seeds in enumerate(folds) for s, v in enumerate(seeds)]


def test_paired_differences_by_hand():
    runs = _runs({"a": [[0.8, 0.6], [0.5, 0.5], [0.9, 0.9], [0.4, 0.2]],
                  "base": [[0.6, 0.6], [0.6, 0.6], [0.7, 0.7], [0.3, 0.3]]})
    pd = paired_differences(runs, "a", "base", 0.1, experts=4)
    # per-fold means over seeds: +0.1, -0.1, +0.2, 0.0 -> mean 0.05; 2 wins, 1 loss, 1 tie
    assert pd["per_fold"] == pytest.approx({"f0": 0.1, "f1": -0.1, "f2": 0.2, "f3": 0.0})
    assert pd["mean"] == pytest.approx(0.05) and (pd["wins"], pd["losses"], pd["ties"]) == (2, 1, 1)
    assert pd["p_sign"] == pytest.approx(1.0)  # binomial(2 of 3): two-sided p = 1
    assert -0.1 <= pd["ci_low"] < pd["mean"] < pd["ci_high"] <= 0.2
    all_win = paired_differences(_runs({"a": [[0.9]] * 8, "base": [[0.5]] * 8}), "a", "base", 0.1)
    assert all_win["wins"] == 8 and all_win["p_sign"] == pytest.approx(2 / 2**8)
    assert paired_differences(runs, "a", "missing", 0.1) is None
