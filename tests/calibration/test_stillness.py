"""Still-period detection on synthetic streams and (when present) on sp-sw-har watch recordings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from calibration.stillness import find_still_segments, still_mask
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2

RATE_HZ = 100.0
UP = np.array([0.0, G_MS2, 0.0])


def _stream(rots: list[Rotation], still_s: float, move_s: float, seed: int = 0, gyro_bias=(0.01, -0.02, 0.015)):
    """Still in each orientation (device -> world) for ``still_s``, a slerp of ``move_s`` between consecutive ones.

    Returns t (N,), acc (N, 3) [m/s^2], gyro (N, 3) [rad/s] and the list of (t_start, t_end) of the still parts.
    """
    rng = np.random.default_rng(seed)
    dt = 1.0 / RATE_HZ
    mats, still = [], []
    t_now = 0.0
    for i, r in enumerate(rots):
        n = int(round(still_s * RATE_HZ))
        still.append((t_now, t_now + (n - 1) * dt))
        mats.append(np.repeat(r.as_matrix()[None], n, axis=0))
        t_now += n * dt
        if i + 1 < len(rots):
            m = int(round(move_s * RATE_HZ))
            s = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, m + 1) / (m + 1))  # smooth 0 -> 1
            slerp = Slerp([0.0, 1.0], Rotation.concatenate([r, rots[i + 1]]))
            mats.append(slerp(s).as_matrix())
            t_now += m * dt
    rot = np.concatenate(mats)
    t = np.arange(len(rot)) * dt
    acc = np.einsum("nji,j->ni", rot, UP)  # f = R^T (0, g, 0) (no linear acceleration)
    rel = Rotation.from_matrix(np.transpose(rot[:-1], (0, 2, 1)) @ rot[1:])
    gyro = np.vstack([rel.as_rotvec() / dt, np.zeros((1, 3))])
    acc += rng.normal(0.0, 0.02, acc.shape)
    gyro += np.asarray(gyro_bias) + rng.normal(0.0, 0.005, gyro.shape)
    return t, acc, gyro, still


def test_two_still_poses_are_found_with_their_means():
    rots = [Rotation.from_euler("xyz", [10, 20, 30], degrees=True), Rotation.from_euler("xyz", [80, -10, 5],
                                                                                        degrees=True)]
    t, acc, gyro, still = _stream(rots, still_s=4.0, move_s=2.0)
    segs = find_still_segments(t, acc, gyro)
    assert len(segs) == 2
    for seg, (t0, t1), r in zip(segs, still, rots, strict=True):
        # the true still interval, give or take 0.1 s: the smooth movement starts and ends slowly (its first
        # 0.1 s turns the device by < 1 deg), and the centred window trims up to half its length
        assert seg.t_start_s >= t0 - 0.1 and seg.t_end_s <= t1 + 0.1
        assert seg.duration_s >= (t1 - t0) - 0.26
        np.testing.assert_allclose(seg.acc_mean_ms2, r.inv().apply(UP), atol=0.01)
        np.testing.assert_allclose(seg.gyro_mean_rads, [0.01, -0.02, 0.015], atol=0.002)
        assert seg.n_samples == seg.stop - seg.start
        assert abs(seg.acc_norm_ms2 - G_MS2) < 0.01


def test_motion_is_not_still_and_short_still_parts_are_dropped():
    rots = [Rotation.identity(), Rotation.from_euler("x", 90, degrees=True), Rotation.identity()]
    t, acc, gyro, _ = _stream(rots, still_s=0.8, move_s=1.5)
    assert find_still_segments(t, acc, gyro, min_duration_s=1.0) == []
    mask = still_mask(t, acc, gyro)
    moving = (t > 0.9) & (t < 2.2)  # inside the first movement
    assert not mask[moving].any()


def test_rotation_about_gravity_needs_the_gyroscope():
    # turning about the vertical leaves the accelerometer unchanged: only the gyro criterion sees it
    rots = [Rotation.identity(), Rotation.from_euler("y", 120, degrees=True)]
    t, acc, gyro, _ = _stream(rots, still_s=3.0, move_s=2.0)
    assert len(find_still_segments(t, acc, gyro)) == 2
    assert len(find_still_segments(t, acc, None)) == 1  # one long "still" run without a gyroscope


def test_a_time_gap_splits_a_segment():
    t, acc, gyro, _ = _stream([Rotation.identity()], still_s=6.0, move_s=0.0)
    t = t.copy()
    t[300:] += 1.0  # 1 s of lost samples after 3 s
    segs = find_still_segments(t, acc, gyro)
    assert [s.start for s in segs] == [0, 300]


def test_bad_inputs_are_refused():
    t = np.arange(10) / 100.0
    with pytest.raises(ConfigError, match="shape"):
        find_still_segments(t, np.zeros((9, 3)), None)
    with pytest.raises(ConfigError, match="non-decreasing"):
        find_still_segments(t[::-1], np.zeros((10, 3)), None)
    with pytest.raises(ConfigError, match="NaN"):
        find_still_segments(t, np.full((10, 3), np.nan), None)
    with pytest.raises(ConfigError, match="acc_std_ms2"):
        find_still_segments(t, np.zeros((10, 3)), None, acc_std_ms2=0.0)


@pytest.mark.shared
def test_seated_periods_of_sp_sw_har_read_one_g():
    from toolkit.data.paths import DatasetNotFoundError, find_dataset
    from toolkit.data.sp_sw_har import read_csv

    try:
        root = find_dataset("sp-sw-har")
    except DatasetNotFoundError:
        pytest.skip("sp-sw-har not present (a fresh clone has no shared datasets)")
    # recordings whose SEATED part at the start lasts ~1.7-2.4 s (the longest in the dataset)
    names = ["s17/s17_02_sw.csv", "s21/s21_01_sw.csv", "s04/s04_01_sw.csv", "s12/s12_02_sw.csv", "s11/s11_01_sw.csv"]
    found = 0
    for name in names:
        path = root / "DATA" / name
        if not path.is_file():
            continue
        t, acc, gyro, labels = read_csv(path)
        for seg in find_still_segments(t, acc, gyro):
            assert set(labels[seg.start:seg.stop]) == {"SEATED"}, name  # no false detection while moving
            assert abs(seg.acc_norm_ms2 - G_MS2) < 0.3, (name, seg.acc_norm_ms2)
            found += 1
    if found == 0:
        pytest.skip("the expected sp-sw-har recordings are not present")
    assert found >= 3
