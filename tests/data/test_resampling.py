"""One resampling for training and streaming: anti-aliasing, pass band, identical filter, chunked = offline;
the declared rate checked against timestamps; the stratified case split."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from toolkit.data.recording import RateWarning, checked_rate_hz, make_recording
from toolkit.data.resampling import polyphase_plan, resample_segment
from toolkit.data.splits import loso_folds, stratified_case_folds
from toolkit.data.windows import resample_recording
from toolkit.errors import ConfigError
from toolkit.mount import Mount
from toolkit.stream.resample import StreamResampler


def _amplitude(y: np.ndarray, t: np.ndarray, f_hz: float) -> float:
    """Least-squares amplitude of a sinusoid of ``f_hz`` in ``y``."""
    basis = np.stack([np.sin(2 * np.pi * f_hz * t), np.cos(2 * np.pi * f_hz * t), np.ones_like(t)], axis=1)
    coef = np.linalg.lstsq(basis, y, rcond=None)[0]
    return float(np.hypot(coef[0], coef[1]))


def test_downsampling_is_anti_aliased_and_keeps_the_pass_band():
    t = np.arange(2000) / 100.0  # 20 s at 100 Hz
    # a 40 Hz tone lies above the 25 Hz Nyquist frequency of 50 Hz: without a filter it would alias to 10 Hz
    for f_hz, check in ((40.0, "stop"), (2.0, "pass")):
        x = np.sin(2 * np.pi * f_hz * t)[:, None]
        t_out, y, rate = resample_segment(t, x, 100.0, 50.0)
        assert rate == 50.0 and np.allclose(np.diff(t_out), 0.02)
        inner = slice(50, -50)  # away from the edges
        if check == "stop":
            alias = _amplitude(y[inner, 0], t_out[inner], 10.0)
            residual = np.sqrt(np.mean(y[inner, 0] ** 2)) * np.sqrt(2)
            assert 20 * np.log10(max(alias, residual)) <= -20.0
        else:
            assert _amplitude(y[inner, 0], t_out[inner], 2.0) == pytest.approx(1.0, rel=0.01)
    # linear interpolation alone (no anti-aliasing) would leave the 40 Hz tone at full strength as a 10 Hz alias
    naive = np.interp(t_out, t, np.sin(2 * np.pi * 40.0 * t))
    assert _amplitude(naive[inner], t_out[inner], 10.0) > 0.9


def test_streaming_uses_the_training_filter_and_gives_the_same_samples():
    plan = polyphase_plan(100.0, 50.0)
    res = StreamResampler(6, 50.0, 100.0)
    assert (res.up, res.down, res.half) == (plan.up, plan.down, plan.half) and np.array_equal(res.h, plan.h)
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.normal(0.01, 0.0008, 1500))  # jittery 100 Hz
    sig = np.stack([np.sin(2 * np.pi * f * t) for f in (1.0, 2.0, 7.0, 20.0, 40.0, 45.0)], axis=1)
    sig[:, 2] += 9.81
    rec = make_recording(subject="s", recording="r", timestamps_s=t, acc_device=sig[:, :3], gyro_device=sig[:, 3:],
                         labels=np.zeros(t.size, np.int64), class_names=["A"], profile="wear-os-watch",
                         mount=Mount("left"), rate_hz=100.0)  # fmt: skip
    [(t_off, x_off, _)] = resample_recording(rec, 50.0)
    blocks = []
    for a in range(0, t.size, 37):  # chunks of 37 samples, as a BLE stream would deliver them
        blocks += res.push(t[a : a + 37], np.concatenate([rec.acc, rec.gyro], axis=1)[a : a + 37])
    blocks += res.finish()
    t_on = np.concatenate([b.t_s for b in blocks])
    x_on = np.concatenate([b.x for b in blocks])
    assert np.array_equal(t_on, t_off)
    edge = -(-plan.half // plan.down)  # the documented start transient of the causal path
    np.testing.assert_allclose(x_on[edge:], x_off[edge:], atol=1e-9 + 5e-4)


def test_rate_check_warns_above_two_percent_and_uses_the_measured_rate():
    t = np.arange(500) / 104.0
    with pytest.warns(RateWarning, match="declared rate 100 Hz but the timestamps say 104 Hz"):
        assert checked_rate_hz(100.0, t, "rec") == pytest.approx(104.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RateWarning)
        assert checked_rate_hz(103.0, t, "rec") == 103.0  # 1 %: declared kept, no warning
        t_ms = np.floor(np.arange(500) * 31.25) / 1000.0  # 32 Hz with 1 ms timestamps: steps of 31 and 32 ms
        assert checked_rate_hz(32.0, t_ms, "rec") == 32.0
    with pytest.raises(ConfigError, match="positive number"):
        checked_rate_hz(0.0, t)


def test_loso_without_subjects_names_the_case_split():
    with pytest.raises(ConfigError, match="need subject ids.*--split stratified-cases"):
        loso_folds(np.array(["unknown"] * 10))


def test_stratified_case_folds_are_balanced_disjoint_and_seeded():
    cases = np.repeat([f"c{i:02d}" for i in range(40)], 3)  # 40 cases of 3 windows
    y = np.repeat(np.arange(40) % 4, 3)
    folds = stratified_case_folds(cases, y, k=5, val_fraction=0.25, seed=0, class_names=list("ABCD"))
    assert len(folds) == 5
    tests = [set(f.test_subjects) for f in folds]
    assert set().union(*tests) == set(cases.tolist()) and sum(len(s) for s in tests) == 40
    for f in folds:
        tr, va, te = f.indices(cases)
        for idx in (tr, va, te):
            assert sorted(np.bincount(y[idx], minlength=4).tolist()) == [len(idx) // 4] * 4  # stratified
        assert len(f.val_subjects) == 8 and not f.val_missing and not f.test_missing
    again = stratified_case_folds(cases, y, k=5, val_fraction=0.25, seed=0)
    assert [f.test_subjects for f in again] == [f.test_subjects for f in folds]
    with pytest.raises(ConfigError, match="need at least 11 cases of every class"):
        stratified_case_folds(cases, y, k=11)
