"""Resampling and windowing of real recordings and of simulator datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit.data.recording import make_recording
from toolkit.data.windows import majority_label, real_windows, resample_recording, synthetic_windows
from toolkit.errors import ConfigError
from toolkit.mount import Mount
from toolkit.sim.dataset import ClipRecord, write_manifest


def _rec(n=1000, rate=100.0, gyro=True, jitter=0.002, labels=None, name="r1", subject="s1", seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate + rng.uniform(-jitter, jitter, n)
    t.sort()
    acc = np.column_stack([np.sin(2 * np.pi * 0.5 * t), np.zeros(n), np.full(n, 9.81)])
    lab = np.zeros(n, np.int64) if labels is None else labels
    return make_recording(subject=subject, recording=name, timestamps_s=t, acc_device=acc,
                          gyro_device=np.ones((n, 3)) if gyro else None, labels=lab, class_names=["a", "b", "c"],
                          profile="wear-os-watch" if gyro else "empatica-e4", mount=Mount("left"), rate_hz=rate)


def test_majority_label():
    assert majority_label(np.array([0, 1, 1, 2]), 3) == 1
    assert majority_label(np.array([2, 2, 0, 0]), 3) == 0  # tie -> smallest
    assert majority_label(np.array([-1, -1, 0]), 3) == -1


def test_shapes_labels_and_resampling():
    n = 1000  # 10 s at 100 Hz
    labels = np.zeros(n, np.int64)
    labels[450:] = 2  # class 2 from 4.5 s
    w = real_windows([_rec(labels=labels)], rate_hz=30.0, window_s=2.0, hop_s=1.0)
    assert w.x.shape == (9, 60, 6) and w.x.dtype == np.float32
    assert w.y.tolist() == [0, 0, 0, 0, 2, 2, 2, 2, 2]  # [3, 5) s: 1.5 s of 0; [4, 6) s: 1.5 s of 2
    np.testing.assert_allclose(w.x[..., 2], 9.81, atol=1e-4)  # constants survive the anti-aliasing filter
    np.testing.assert_allclose(w.x[..., 3:], 1.0, atol=1e-4)
    # resampled signal follows the slow sine
    (t, sig, _), = resample_recording(_rec(), 30.0)
    np.testing.assert_allclose(sig[30:-30, 0], np.sin(2 * np.pi * 0.5 * t[30:-30]), atol=5e-3)
    assert set(w.subject) == {"s1"} and set(w.recording) == {"r1"} and w.has_gyro.all()


def test_no_gyro_gives_nan_and_flag_and_gaps_split():
    r = _rec(gyro=False)
    r.timestamps_s[500:] += 5.0  # a 5 s hole
    w = real_windows([r], rate_hz=30.0, window_s=2.0, hop_s=1.0)
    assert np.isnan(w.x[..., 3:]).all() and not w.has_gyro.any() and np.isfinite(w.x[..., :3]).all()
    assert len(w) == 8  # two 5 s segments, 4 windows each; none spans the gap
    assert not np.any((w.start_s < 5.0) & (w.start_s + 2.0 > 5.0))


def test_unlabelled_windows_dropped_and_class_mismatch():
    w = real_windows([_rec(labels=np.full(1000, -1))])
    assert len(w) == 0
    assert len(real_windows([_rec(labels=np.full(1000, -1))], keep_unlabelled=True)) == 9
    other = _rec()
    other.class_names = ["x"]
    with pytest.raises(ConfigError, match="classes"):
        real_windows([_rec(), other])


def _fake_sim_dataset(folder, rate=60.0, seconds=5.0, placements=("left_wrist", "chest", "right_wrist")):
    folder.mkdir()
    t = int(rate * seconds)
    p = len(placements)
    clips = []
    for k, text in enumerate(["a person walks", "a person waves"]):
        acc = np.zeros((t, p, 3), np.float32)
        acc[..., 2] = 9.81
        acc[:, 0, 0] = np.sin(np.arange(t) / rate)  # left wrist marker
        gyro = np.zeros((t, p, 3), np.float32)
        gyro[:, p - 1 if p > 1 else 0, 1] = 2.0 if p > 1 else 0.0  # right wrist marker
        pose = np.zeros((t, 24, 3), np.float32)
        pose[:, 18, 2] = np.linspace(0, 1, t)  # left elbow bends linearly
        arrays = {"acc": acc, "gyro": gyro, "quat": np.zeros((t, p, 4), np.float32), "placements": np.array(placements),
                  "rate_hz": np.float64(rate), "joints": np.zeros((t, 24, 3), np.float32), "pose": pose,
                  "text": np.str_(text), "source": np.str_("gen"), "clip": np.str_(f"clip{k}"),
                  "variant": np.int64(0), "pose_rate_hz": np.float64(rate)}
        name = f"clip{k}_v0.npz"
        ClipRecord(arrays, name).save(folder)
        clips.append({"file": name})
    write_manifest(folder, {"clips": clips})
    return folder


def test_synthetic_windows(tmp_path):
    ds = _fake_sim_dataset(tmp_path / "sim")
    json.loads((ds / "manifest.json").read_text())
    w = synthetic_windows(ds, rate_hz=30.0, window_s=2.0, hop_s=1.0)
    assert w.imu_left.shape == (8, 60, 6) and w.imu_right.shape == (8, 60, 6) and w.pose.shape == (8, 60, 24, 3)
    assert w.has_left.all() and w.has_right.all()
    assert w.texts == ["a person walks", "a person waves"] and w.text.tolist() == [0] * 4 + [1] * 4
    np.testing.assert_allclose(w.imu_right[..., 4], 2.0, atol=1e-4)
    np.testing.assert_allclose(w.imu_left[0, 3:, 0], np.sin(np.arange(3, 60) / 30.0), atol=2e-3)  # edge transient
    np.testing.assert_allclose(w.pose[0, :, 18, 2], np.arange(60) / 30.0 / (299 / 60.0), atol=1e-5)
    only_left = synthetic_windows(_fake_sim_dataset(tmp_path / "sim2", placements=("left_wrist",)))
    assert only_left.has_left.all() and not only_left.has_right.any() and np.all(only_left.imu_right == 0)
