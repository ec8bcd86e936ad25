"""seglearn Apple Watch data: the audited converter, and the data in the simulator's frame."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.data.seglearn_fixture import object_npy
from toolkit.data.paths import DatasetNotFoundError
from toolkit.data.seglearn import convert_wheel, ensure_seglearn, load_seglearn, read_npz
from toolkit.errors import InputFileError
from toolkit.frames import G_MS2


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_forbidden_global_is_refused_even_with_unknown_hash_accepted(tmp_path):
    src = tmp_path / "evil.npy"
    src.write_bytes(object_npy({"X": [_Evil()]}))
    with pytest.raises(InputFileError, match="refusing global"):
        convert_wheel(src, tmp_path / "out.npz", accept_unknown_hash=True)
    assert not (tmp_path / "out.npz").exists()


def test_unknown_hash_is_refused_before_unpickling(tmp_path):
    src = tmp_path / "other.npy"
    src.write_bytes(object_npy({"X": [np.zeros((3, 6))]}))
    with pytest.raises(InputFileError, match="refusing to unpickle"):
        convert_wheel(src, tmp_path / "out.npz")


def test_valid_structure_converts_with_accept_flag(tmp_path):
    obj = {"X": [np.ones((5, 6)), np.zeros((4, 6))], "y": np.array([0, 1]), "subject": np.array([1, 2]),
           "side": np.array([0.0, 1.0]), "X_labels": ["ax", "ay", "az", "wx", "wy", "wz"], "y_labels": ["A", "B"]}
    src = tmp_path / "small.npy"
    src.write_bytes(object_npy(obj))
    out = convert_wheel(src, tmp_path / "small.npz", accept_unknown_hash=True)
    z = read_npz(out)
    assert z["data"].shape == (9, 6) and z["offsets"].tolist() == [0, 5, 9]
    recs = load_seglearn(out)
    assert [r.wrist for r in recs] == ["left", "right"]
    np.testing.assert_allclose(recs[0].acc[0], [-G_MS2] * 3)  # +1 g iOS -> -9.81 Android


@pytest.fixture(scope="module")
def seglearn_recordings():
    try:
        path = ensure_seglearn()  # $MULTI3EDGE_CACHE or ~/.cache/multi3edge: downloaded and converted once
    except DatasetNotFoundError as e:
        pytest.skip(f"seglearn wheel not obtainable (offline?): {e}")
    return load_seglearn(path)


def _slow_mask(gyro: np.ndarray, max_rate: float = 0.2) -> np.ndarray:
    """Samples where the watch barely turns (the exercises never stop completely: the 1st percentile of |gyro| is
    0.15 rad/s), so the specific force is mostly gravity."""
    return np.linalg.norm(gyro, axis=1) < max_rate


def test_real_seglearn_contents(seglearn_recordings):
    recs = seglearn_recordings
    assert len(recs) == 140
    assert sorted({r.subject for r in recs}) == [f"{i:02d}" for i in range(1, 11)]
    assert recs[0].class_names == ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
    counts = np.bincount([int(r.labels[0]) for r in recs])
    assert counts.tolist() == [20] * 7
    assert sum(r.wrist == "left" for r in recs) == 70
    assert all(r.device == "apple-watch" and r.rate_hz == 50.0 for r in recs)


def test_real_seglearn_still_periods_read_one_g(seglearn_recordings):
    acc = np.concatenate([r.acc[_slow_mask(r.gyro)] for r in seglearn_recordings])
    assert acc.shape[0] > 1000
    assert abs(np.median(np.linalg.norm(acc, axis=1)) - G_MS2) < 0.3


def test_real_seglearn_arm_hanging_start_matches_left_right_watch_frames(seglearn_recordings):
    """At the start the arm hangs: +X toward the hand (left) points down, toward the elbow (right) up;
    after mirroring right -> left both sides agree (the Android sign: gravity reads + on the up axis)."""
    start = {w: np.array([r.acc[:25].mean(0) for r in seglearn_recordings if r.wrist == w]) for w in ("left", "right")}
    assert np.median(start["left"][:, 0]) < -5 and np.median(start["right"][:, 0]) > 5
    mirrored = load_seglearn(ensure_seglearn(), mirror_to_left=True)
    right_as_left = np.array([r.acc[:25].mean(0) for r in mirrored if r.mirrored])
    np.testing.assert_allclose(np.median(right_as_left, 0), np.median(start["left"], 0), atol=1.0)
