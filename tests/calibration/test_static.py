"""Static calibration: known bias, scale and gyro bias recovered from simulated still periods; identifiability."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from calibration.static import StaticCalibration, count_orientations, fit_static
from calibration.stillness import find_still_segments
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2

BIAS = np.array([0.2, -0.15, 0.3])  # m/s^2
SCALE = np.array([1.02, 0.98, 1.01])
GYRO_BIAS = np.array([0.01, -0.02, 0.015])  # rad/s
ACC_NOISE, GYRO_NOISE = 0.02, 0.005  # per sample: a real MEMS watch IMU at 100 Hz
N_PER_POSE = 200  # 2 s at 100 Hz

# Tolerances. Each pose's mean magnitude has noise 0.02 / sqrt(200) = 1.4e-3 m/s^2; the fit accepts only a
# sensitivity <= 5 (parameter error per unit magnitude error), so the parameter errors stay below ~7e-3 m/s^2 and
# ~7e-4 in scale (1 sigma, worst axis). The tolerances are ~3x that; a wrong model (e.g. swapped sign of the
# bias, or the scale applied before the bias) misses them by 10-100x. Gyro bias: sd 0.005 / sqrt(12 * 200) = 1e-4.
BIAS_TOL_MS2 = 0.02
SCALE_TOL = 0.002
GYRO_TOL_RADS = 0.001


def _raw_means(ups: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means of N_PER_POSE noisy samples of a device with BIAS / SCALE / GYRO_BIAS whose true specific force is
    each row of ``ups`` (K, 3): the raw reading is ``true / SCALE + BIAS`` (the inverse of the correction)."""
    rng = np.random.default_rng(seed)
    acc, gyro = [], []
    for u in ups:
        acc.append((u / SCALE + BIAS + rng.normal(0, ACC_NOISE, (N_PER_POSE, 3))).mean(axis=0))
        gyro.append((GYRO_BIAS + rng.normal(0, GYRO_NOISE, (N_PER_POSE, 3))).mean(axis=0))
    return np.array(acc), np.array(gyro), np.full(len(ups), N_PER_POSE)


@pytest.mark.parametrize("seed", range(5))
def test_recovers_bias_scale_and_gyro_bias_from_random_orientations(seed):
    ups = Rotation.random(12, random_state=seed).apply([0.0, 0.0, G_MS2])  # gravity in 12 random device poses
    acc, gyro, counts = _raw_means(ups, seed)
    cal = fit_static(acc, gyro, counts=counts)
    assert cal.fitted == "bias+scale", cal.note
    assert cal.n_orientations >= 8 and cal.sensitivity <= 5.0  # random poses may fall within 15 deg
    np.testing.assert_allclose(cal.acc_bias_ms2, BIAS, atol=BIAS_TOL_MS2)
    np.testing.assert_allclose(cal.acc_scale, SCALE, atol=SCALE_TOL)
    np.testing.assert_allclose(cal.gyro_bias_rads, GYRO_BIAS, atol=GYRO_TOL_RADS)
    assert cal.residual_ms2 < 0.01 < cal.residual_before_ms2  # |g| restored; it was off by ~0.1-0.3 before
    # the correction makes any new still orientation read |g|
    new = Rotation.random(20, random_state=seed + 100).apply([0.0, 0.0, G_MS2])
    corrected, w = cal.apply(new / SCALE + BIAS, np.tile(GYRO_BIAS, (20, 1)))
    np.testing.assert_allclose(np.linalg.norm(corrected, axis=1), G_MS2, atol=0.02)
    np.testing.assert_allclose(corrected, new, atol=0.03)
    np.testing.assert_allclose(w, 0.0, atol=GYRO_TOL_RADS)


def test_six_well_spread_orientations_suffice():
    # the six faces of a cube (+-x, +-y, +-z), each tilted by a random rotation of up to 20 deg
    rng = np.random.default_rng(7)
    faces = np.vstack([np.eye(3), -np.eye(3)]) * G_MS2
    tilt = Rotation.from_rotvec(rng.normal(size=(6, 3)) * np.radians(8.0))
    acc, gyro, counts = _raw_means(tilt.apply(faces), 7)
    cal = fit_static(acc, gyro, counts=counts)
    assert cal.fitted == "bias+scale" and cal.n_orientations == 6
    assert cal.sensitivity < 1.5  # ~0.71 for the exact cube
    np.testing.assert_allclose(cal.acc_bias_ms2, BIAS, atol=BIAS_TOL_MS2)
    np.testing.assert_allclose(cal.acc_scale, SCALE, atol=SCALE_TOL)


def test_from_still_segments_of_a_stream():
    # the same device, 8 cube-like poses, each still 2 s with 1 s of (unseen) motion between: segments as input
    rng = np.random.default_rng(3)
    ups = Rotation.from_rotvec(rng.normal(size=(8, 3)) * 0.2).apply(
        np.vstack([np.eye(3), -np.eye(3), [[1, 1, 1]], [[-1, 1, -1]]]) / np.linalg.norm(
            np.vstack([np.eye(3), -np.eye(3), [[1, 1, 1]], [[-1, 1, -1]]]), axis=1, keepdims=True) * G_MS2)
    parts_acc, parts_gyro = [], []
    for u in ups:
        parts_acc += [u / SCALE + BIAS + rng.normal(0, ACC_NOISE, (N_PER_POSE, 3)), rng.normal(0, 5.0, (100, 3))]
        parts_gyro += [GYRO_BIAS + rng.normal(0, GYRO_NOISE, (N_PER_POSE, 3)), rng.normal(0, 2.0, (100, 3))]
    acc, gyro = np.vstack(parts_acc), np.vstack(parts_gyro)
    t = np.arange(len(acc)) / 100.0
    segs = find_still_segments(t, acc, gyro)
    assert len(segs) == 8
    cal = fit_static(segs)
    assert cal.fitted == "bias+scale" and cal.n_samples == sum(s.n_samples for s in segs)
    np.testing.assert_allclose(cal.acc_bias_ms2, BIAS, atol=BIAS_TOL_MS2)
    np.testing.assert_allclose(cal.acc_scale, SCALE, atol=SCALE_TOL)
    np.testing.assert_allclose(cal.gyro_bias_rads, GYRO_BIAS, atol=GYRO_TOL_RADS)


def test_two_orientations_do_not_claim_six_parameters():
    ups = np.array([[-G_MS2, 0.0, 0.0], [0.0, 0.0, G_MS2]])  # the mount protocol's hang and forward poses
    acc, gyro, counts = _raw_means(ups, 0)
    for allow in (True, False):
        cal = fit_static(acc, gyro, counts=counts, allow_scale_only=allow)
        assert cal.fitted == "none", cal.note
        assert cal.acc_bias_ms2 == (0.0, 0.0, 0.0) and cal.acc_scale == (1.0, 1.0, 1.0)
        assert cal.n_orientations == 2 and "not calibrated" in cal.note
        np.testing.assert_allclose(cal.gyro_bias_rads, GYRO_BIAS, atol=GYRO_TOL_RADS)  # still identifiable


def test_a_cap_of_similar_orientations_is_not_identifiable():
    # 10 orientations within 25 deg of face-up: the bias along z and the z scale cannot be told apart
    rng = np.random.default_rng(1)
    tilt = Rotation.from_rotvec(np.column_stack([rng.uniform(-0.4, 0.4, (10, 2)), np.zeros(10)]))
    acc, gyro, counts = _raw_means(tilt.apply([0.0, 0.0, G_MS2]), 1)
    cal = fit_static(acc, gyro, counts=counts, allow_scale_only=False)
    assert cal.fitted == "none" and cal.sensitivity > 5.0


def test_common_scale_when_the_magnitudes_agree():
    # no bias, one common gain of 1.03: three orientations agree on |a| = g / 1.03, so a common scale is fitted
    ups = Rotation.random(3, random_state=4).apply([0.0, 0.0, G_MS2])
    cal = fit_static(ups / 1.03)
    assert cal.fitted == "scale"
    np.testing.assert_allclose(cal.acc_scale, [1.03] * 3, rtol=1e-9)
    assert cal.acc_bias_ms2 == (0.0, 0.0, 0.0) and not cal.gyro_fitted


@pytest.mark.parametrize("factor", [1.0 / G_MS2, 1000.0 / G_MS2, 64.0 / G_MS2])
def test_data_not_in_si_units_are_refused(factor):
    ups = Rotation.random(8, random_state=0).apply([0.0, 0.0, G_MS2]) * factor  # g, mG, E4 counts
    with pytest.raises(ConfigError, match="not in m/s\\^2"):
        fit_static(ups)


def test_no_still_period_is_an_error():
    with pytest.raises(ConfigError, match="no still period"):
        fit_static(np.zeros((0, 3)))


def test_count_orientations_merges_close_directions():
    d = Rotation.from_euler("x", [[0], [5], [10], [40], [90]], degrees=True).apply([0.0, 0.0, 1.0])
    assert count_orientations(d) == 3  # 0/5/10 deg are one cluster (15 deg wide), then 40 and 90


def test_json_round_trip_and_validation():
    acc, gyro, counts = _raw_means(Rotation.random(12, random_state=2).apply([0.0, 0.0, G_MS2]), 2)
    cal = fit_static(acc, gyro, counts=counts)
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["schema"] == 1 and StaticCalibration.from_dict(d) == cal
    none = fit_static(acc[:2], gyro[:2], counts=counts[:2])
    assert StaticCalibration.from_dict(json.loads(json.dumps(none.to_dict()))) == none  # inf sensitivity
    with pytest.raises(ConfigError, match="schema"):
        StaticCalibration.from_dict({**d, "schema": 2})
    with pytest.raises(ConfigError, match="unknown keys"):
        StaticCalibration.from_dict({**d, "offset": 1})
    with pytest.raises(ConfigError, match="acc_scale"):
        StaticCalibration.from_dict({**d, "acc_scale": [1.0, 1.0]})
    with pytest.raises(ConfigError, match="fitted"):
        StaticCalibration(fitted="everything")


def test_apply_subtracts_the_bias_before_scaling():
    cal = StaticCalibration(acc_bias_ms2=(1.0, 2.0, 3.0), acc_scale=(2.0, 3.0, 4.0), gyro_bias_rads=(0.1, 0.2, 0.3))
    a, w = cal.apply(np.array([[3.0, 5.0, 7.0]]), np.array([[0.1, 0.0, 1.3]]))
    np.testing.assert_allclose(a, [[4.0, 9.0, 16.0]])  # scale * (a - bias)
    np.testing.assert_allclose(w, [[0.0, -0.2, 1.0]])
    assert cal.apply(np.zeros((2, 3)))[1] is None
