"""Frame sanity check: gravity in still periods against a watch worn as declared (toolkit/data/frame_check.py).

Still data is built from the conventions of toolkit.frames: a watch's reading at rest is ``R^T (0, +g, 0)`` for its
watch-to-world rotation R. Arm hanging: the T-pose watch (``WATCH_ROT_TPOSE``) with the arm lowered about the forward
axis; forearm on a desk: the T-pose orientation itself (face up).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.data.frame_check import FrameWarning, check_frames, still_mask, warn_frames
from toolkit.frames import G_MS2, WATCH_ROT_TPOSE

RATE = 50.0
UP = np.array([0.0, G_MS2, 0.0])


def still_reading(r_watch: np.ndarray, seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * RATE)
    return np.tile(r_watch.T @ UP, (n, 1)) + rng.normal(0.0, 0.05, (n, 3))


def hanging(wrist: str) -> np.ndarray:
    return Rotation.from_euler("z", -90.0 if wrist == "left" else 90.0, degrees=True).as_matrix() @ WATCH_ROT_TPOSE


def day(wrist: str, fix=lambda a: a, seed: int = 0):
    """A recording: 40 s arm hanging, 15 s forearm on a desk (face up), 10 s walking (not still)."""
    rng = np.random.default_rng(seed)
    walk = rng.normal(0.0, 3.0, (int(10 * RATE), 3)) + hanging(wrist).T @ UP
    acc = np.concatenate([still_reading(hanging(wrist), 40, rng), walk, still_reading(WATCH_ROT_TPOSE, 15, rng)])
    return SimpleNamespace(acc=fix(acc), gyro=None, rate_hz=RATE, wrist=wrist)


def test_still_mask_finds_the_still_parts_only():
    rec = day("left")
    m = still_mask(rec.acc, RATE)
    assert m[: int(39 * RATE)].mean() > 0.95 and m[int(41 * RATE): int(49 * RATE)].mean() < 0.05
    gyro = np.zeros_like(rec.acc)
    gyro[:, 0] = 2.0  # turning: not still although the accelerometer is quiet
    assert not still_mask(rec.acc, RATE, gyro).any()


@pytest.mark.parametrize("wrist", ["left", "right"])
def test_correct_axes_give_no_warning(wrist):
    (check,) = check_frames([day(wrist)])
    good = "-X" if wrist == "left" else "+X"
    assert check.wrist == wrist and check.warnings == []
    assert check.fractions[good] > 0.6 and check.fractions["+Z"] > 0.2
    assert 50 < check.still_s < 60


@pytest.mark.parametrize("wrist", ["left", "right"])
def test_flipped_x_is_named(wrist):
    flip_xz = lambda a: a * [-1.0, 1.0, -1.0]  # noqa: E731 - a 180 deg turn about Y: x (and z) flipped
    (check,) = check_frames([day(wrist, flip_xz)])
    assert any(w.startswith("x looks flipped") for w in check.warnings), check.warnings
    bad = "+X" if wrist == "left" else "-X"
    assert f"along {bad} for" in check.warnings[0] and "axes:" in check.warnings[0]


def test_swapped_x_and_y_are_named():
    swap = lambda a: a[:, [1, 0, 2]] * [1.0, 1.0, -1.0]  # noqa: E731 - x<->y swapped (and z negated: a rotation)
    checks = check_frames([day("left", swap)])
    text = " ".join(checks[0].warnings)
    assert text.startswith("x and y look swapped") and "X for 0 %" in text


def test_face_down_is_named_and_warnings_are_issued():
    desk = still_reading(WATCH_ROT_TPOSE, 30, np.random.default_rng(2)) * [1.0, -1.0, -1.0]  # Y, Z flipped
    with pytest.warns(FrameWarning, match=r"dataset x, left wrist: z looks flipped: gravity points along -Z"):
        warn_frames([SimpleNamespace(acc=desk, gyro=None, rate_hz=RATE, wrist="left")], "dataset x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_frames([day("left"), day("right", seed=1)], "dataset x")


def test_too_little_still_time_and_non_wrist_devices_give_no_verdict():
    short = day("left", lambda a: (a * [-1.0, 1.0, -1.0])[: int(5 * RATE)])
    (check,) = check_frames([short])
    assert check.still_s < 10 and check.warnings == []
    assert check_frames([SimpleNamespace(acc=np.zeros((10, 3)), gyro=None, rate_hz=RATE, wrist=None)]) == []
