"""A small generated "bring your own data" dataset: one whitespace text file per trial, like the UCI ADL wrist set.

Accelerometer only, 32 Hz, no time column, values stored as 6-bit codes (0..63 over -2 g .. +2 g), the device's own
axes (device x = watch -Y, device y = watch +X, device z = watch +Z), right wrist; 4 subjects x 3 activities x 2
trials. Files: ``<root>/<label>/Accelerometer-<trial>-<label>-<subject>.txt``. The signals are built in the
simulator's watch frame (toolkit.frames: +X toward 3 o'clock, which on the right wrist points up the forearm toward
the elbow, so a hanging right arm reads about +9.81 m/s^2 on +X) and then converted into the device's axes and codes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.frames import G_MS2

RATE_HZ = 32.0
LABELS = ("rest", "walk", "wave")
SUBJECTS = ("f1", "m1", "f2", "m2")
TRIALS_PER_CLASS = 2
TRIAL_S = 40.0
#: value_m/s^2 = SCALE * code + OFFSET (6-bit codes over +-2 g)
SCALE_MS2 = 4.0 * G_MS2 / 63.0
OFFSET_MS2 = -2.0 * G_MS2
#: v_watch = AXES @ v_device (columns: device x, y, z written in the watch frame)
AXES = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])

PROFILE_YAML = f"""\
# A 6-bit wrist accelerometer (generated test device)
schema: 2
name: byod-6bit-wrist
axes: {{x: -Y, y: +X, z: +Z}}
acc: {{units: counts, scale: {SCALE_MS2!r}, offset: {OFFSET_MS2!r}, range_g: 2}}
gyro: null
sign: android
rate_hz: 32
wrist_worn: true
description: generated 6-bit accelerometer, codes 0..63 over +-2 g
axes_source: the generator in tests/cli/byod_data.py
"""


#: the folder dataset's description (toolkit/data/folder_format.py)
DATASET_YAML = """\
files: "{label}/{*}-{subject}.txt"
rate_hz: 32
profile: ../profile.yaml
wrist: right
"""


def watch_frame_acc(label: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) specific force [m/s^2] in the right-wrist watch frame for one trial of ``label``."""
    t = np.arange(n) / RATE_HZ
    amp = rng.uniform(0.8, 1.2)
    f = rng.uniform(0.9, 1.1)
    phase = rng.uniform(0, 2 * np.pi)
    if label == "rest":  # arm hanging still: gravity up the forearm (+X on the right wrist)
        tilt = np.deg2rad(rng.uniform(-10, 10))
        acc = np.tile([G_MS2 * np.cos(tilt), G_MS2 * np.sin(tilt), 0.0], (n, 1))
    elif label == "walk":  # hanging arm swinging at ~1 Hz, 2 Hz vertical bounce
        swing = np.deg2rad(20 * amp) * np.sin(2 * np.pi * f * t + phase)
        bounce = 2.0 * amp * np.sin(4 * np.pi * f * t + phase)
        acc = np.stack([(G_MS2 + bounce) * np.cos(swing), (G_MS2 + bounce) * np.sin(swing), 1.5 * amp *
                        np.cos(2 * np.pi * f * t)], axis=1)
    elif label == "wave":  # forearm raised (hand up: +X points down, -9.81), side-to-side at ~2.5 Hz
        acc = np.stack([-G_MS2 + 1.0 * np.sin(5 * np.pi * f * t), 8.0 * amp * np.sin(2 * np.pi * 2.5 * f * t + phase),
                        2.0 * np.cos(2 * np.pi * 2.5 * f * t)], axis=1)
    else:
        raise ValueError(label)
    return acc + rng.normal(0.0, 0.15, acc.shape)


def to_codes(acc_watch: np.ndarray) -> np.ndarray:
    """Watch-frame m/s^2 -> the device's axes -> 6-bit codes (int, 0..63)."""
    acc_dev = acc_watch @ AXES  # v_dev = AXES^T v_watch, row-wise
    return np.clip(np.round((acc_dev - OFFSET_MS2) / SCALE_MS2), 0, 63).astype(int)


def write_dataset(root: Path, seed: int = 0) -> Path:
    """Write the dataset (and the device profile ``profile.yaml`` beside it); return ``root``."""
    rng = np.random.default_rng(seed)
    n = int(TRIAL_S * RATE_HZ)
    k = 0
    for subject in SUBJECTS:
        for label in LABELS:
            for _ in range(TRIALS_PER_CLASS):
                folder = root / label
                folder.mkdir(parents=True, exist_ok=True)
                codes = to_codes(watch_frame_acc(label, n, rng))
                name = f"Accelerometer-2026-12-07-{k:02d}-{label}-{subject}.txt"
                np.savetxt(folder / name, codes, fmt="%d", delimiter=" ")
                k += 1
    (root.parent / "profile.yaml").write_text(PROFILE_YAML)
    (root / "dataset.yaml").write_text(DATASET_YAML)
    return root
