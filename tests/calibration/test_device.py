"""DeviceCalibration: the streaming interface (physics), JSON round trip and validation, the calibration file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from calibration.device import CalibrationFile, DeviceCalibration
from calibration.orientation import nominal_rotation
from calibration.rate import RateEstimate
from calibration.static import StaticCalibration
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2, GRAVITY_WORLD, WATCH_ROT_TPOSE
from toolkit.mount import Mount, rot_x

# world rotations of the arm from the T-pose (see test_orientation.py): hang for each wrist
HANG = {"left": Rotation.from_euler("z", -90, degrees=True), "right": Rotation.from_euler("z", 90, degrees=True)}


def _full_calibration() -> DeviceCalibration:
    static = StaticCalibration(acc_bias_ms2=(0.1, -0.2, 0.05), acc_scale=(1.01, 0.99, 1.0),
                               gyro_bias_rads=(0.01, 0.0, -0.02), fitted="bias+scale", gyro_fitted=True,
                               n_orientations=8, n_samples=1600, residual_ms2=0.004, residual_before_ms2=0.2,
                               sensitivity=1.3, note="test")
    rate = RateEstimate(rate_hz=98.7, nominal_hz=100.0, device_rate_hz=98.68, drift_ppm=150.0, n_samples=1000,
                        n_lost=3, duration_s=10.0, timestamp_residual_ms=0.29, delay_median_ms=20.0,
                        delay_p95_ms=60.0, method="test")
    r = Rotation.from_euler("xyz", [10, -20, 30], degrees=True).as_matrix()
    return DeviceCalibration(device_id="AA:BB:CC:DD:EE:FF", profile=get_real_profile("imu-stream"),
                             mount=Mount("right", "dorsal"), static=static, mount_rotation=r, rate=rate,
                             created_utc="2025-01-02T03:04:05Z", notes=("one", "two"),
                             diagnostics={"angle_between_deg": 88.5, "hang_s": (1.0, 5.0), "mode": "automatic"})


def test_json_round_trip_is_exact():
    cal = _full_calibration()
    back = DeviceCalibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back == cal
    assert back.mount_rotation == cal.mount_rotation  # bit-exact floats
    ident = DeviceCalibration.identity("x", get_real_profile("apple-watch"), Mount("left", "palmar"))
    assert DeviceCalibration.from_dict(json.loads(json.dumps(ident.to_dict()))) == ident
    assert ident.static is None and ident.mount_rotation is None and ident.created_utc.endswith("Z")


def test_bad_content_is_refused():
    d = _full_calibration().to_dict()
    with pytest.raises(ConfigError, match="schema"):
        DeviceCalibration.from_dict({**d, "schema": 2})
    with pytest.raises(ConfigError, match="unknown keys"):
        DeviceCalibration.from_dict({**d, "colour": "red"})
    with pytest.raises(ConfigError, match="missing key 'profile'"):
        DeviceCalibration.from_dict({k: v for k, v in d.items() if k != "profile"})
    bad_matrices = {
        "not orthonormal": [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]],
        "determinant": [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        "3x3": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        "3 rows of 3 numbers": [[1.0, 0.0, "a"], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    }
    for match, m in bad_matrices.items():
        with pytest.raises(ConfigError, match=match):
            DeviceCalibration.from_dict({**d, "mount_rotation": m})
    with pytest.raises(ConfigError, match="unknown keys"):
        DeviceCalibration.from_dict({**d, "static": {**d["static"], "extra": 1}})
    with pytest.raises(ConfigError, match="ISO 8601"):
        DeviceCalibration.from_dict({**d, "created_utc": "yesterday"})
    with pytest.raises(ConfigError, match="not a JSON value|non-finite"):
        DeviceCalibration.from_dict({**d, "diagnostics": {"x": float("nan")}})


def _apply_one(cal: DeviceCalibration, acc: np.ndarray, gyro: np.ndarray | None = None):
    a, w = cal.apply(np.atleast_2d(acc), None if gyro is None else np.atleast_2d(gyro))
    return a[0], None if w is None else w[0]


def test_apple_watch_ios_sign_comes_out_in_the_canonical_frame():
    # a left-wrist Apple Watch, arm hanging: the dorsal left watch reads (-g, 0, 0) (forearm down, +X to the hand);
    # CoreMotion reports the opposite sign; the BLE layer has already turned g into m/s^2.
    cal = DeviceCalibration.identity("watch", get_real_profile("apple-watch"), Mount("left"))
    rot_ws = HANG["left"].as_matrix() @ WATCH_ROT_TPOSE
    f_dorsal = rot_ws.T @ (-GRAVITY_WORLD)
    np.testing.assert_allclose(f_dorsal, [-G_MS2, 0.0, 0.0], atol=1e-12)
    a, _ = _apply_one(cal, -f_dorsal)  # iOS sign
    np.testing.assert_allclose(a, [-G_MS2, 0.0, 0.0], atol=1e-12)
    # face up on a table: CoreMotion reads -1 g on Z -> +9.81 on Z after apply
    a, _ = _apply_one(cal, np.array([0.0, 0.0, -G_MS2]))
    np.testing.assert_allclose(a, [0.0, 0.0, G_MS2], atol=1e-12)


def test_right_wrist_imu_stream_is_mirrored_into_the_left_frame():
    cal = DeviceCalibration.identity("band", get_real_profile("imu-stream"), Mount("right"))
    # right arm hanging: +X points to the elbow (up): reads (+g, 0, 0); canonical left hang reads (-g, 0, 0)
    rot_ws = HANG["right"].as_matrix() @ WATCH_ROT_TPOSE
    a, _ = _apply_one(cal, rot_ws.T @ (-GRAVITY_WORLD))
    np.testing.assert_allclose(a, [-G_MS2, 0.0, 0.0], atol=1e-12)
    # a reading along Y (12 o'clock, toward the little finger on both wrists) is the same for both wrists: kept
    a, w = _apply_one(cal, np.array([0.0, -G_MS2, 0.0]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(a, [0.0, -G_MS2, 0.0], atol=1e-12)
    np.testing.assert_allclose(w, [1.0, -2.0, -3.0], atol=1e-12)  # axial vector: (x, -y, -z)


def test_a_palmar_e4_reads_up_on_z_when_the_dorsal_side_is_up():
    # E4 worn palmar on the left wrist, arm forward palm down: the face (palmar) points down; the dorsal frame
    # reads (0, 0, +g). Device axes: v_device = A^T Rx(180)^T v_dorsal.
    e4 = get_real_profile("empatica-e4")
    cal = DeviceCalibration.identity("e4", e4, Mount("left", "palmar"))
    f_device = e4.axes_matrix.T @ rot_x(np.pi).T @ np.array([0.0, 0.0, G_MS2])
    a, w = _apply_one(cal, f_device)
    assert w is None
    np.testing.assert_allclose(a, [0.0, 0.0, G_MS2], atol=1e-12)
    with pytest.raises(ConfigError, match="no gyroscope"):
        cal.apply(np.zeros((2, 3)), np.zeros((2, 3)))


@pytest.mark.parametrize("profile,mount", [("empatica-e4", Mount("left", "palmar", 20.0)),
                                           ("apple-watch", Mount("right", "dorsal", -35.0)),
                                           ("wear-os-watch", Mount("right", "palmar"))])
def test_measured_rotation_equal_to_the_nominal_gives_the_nominal_path(profile, mount):
    prof = get_real_profile(profile)
    nominal = DeviceCalibration.identity("d", prof, mount)
    measured = nominal.with_updates(mount_rotation=nominal_rotation(prof, mount))
    rng = np.random.default_rng(0)
    acc, gyro = rng.normal(0, 5, (50, 3)), rng.normal(0, 1, (50, 3)) if prof.has_gyro else None
    a0, w0 = nominal.apply(acc, gyro)
    a1, w1 = measured.apply(acc, gyro)
    np.testing.assert_allclose(a1, a0, atol=1e-12)
    if gyro is not None:
        np.testing.assert_allclose(w1, w0, atol=1e-12)
    # and the nominal path is the profile + Mount.to_canonical chain
    # (apply's input is SI with the device's sign: back to native units for to_simulator, sign untouched)
    native = {"m/s^2": 1.0, "g": 1.0 / G_MS2, "counts": (prof.counts_per_g or 0.0) / G_MS2}[prof.acc_units]
    a_sim, w_sim = mount.to_canonical(*prof.to_simulator(acc * native, gyro))
    np.testing.assert_allclose(a0, a_sim, atol=1e-9)
    if gyro is not None:
        np.testing.assert_allclose(w0, w_sim, atol=1e-12)


def test_static_correction_happens_in_device_axes_before_the_rotation():
    cal = _full_calibration()  # right wrist, measured rotation, bias and scale
    r = np.array(cal.mount_rotation)
    true_dorsal = np.array([[0.0, 0.0, G_MS2], [-G_MS2, 0.0, 0.0]])
    device = true_dorsal @ r  # v_device = R^T v_dorsal, row-wise
    raw = device / np.array(cal.static.acc_scale) + np.array(cal.static.acc_bias_ms2)
    gyro_raw = np.tile(cal.static.gyro_bias_rads, (2, 1))
    a, w = cal.apply(raw, gyro_raw)
    np.testing.assert_allclose(a, true_dorsal * [-1.0, 1.0, 1.0], atol=1e-12)  # right -> left mirror
    np.testing.assert_allclose(w, 0.0, atol=1e-12)
    with pytest.raises(ConfigError, match="shape"):
        cal.apply(np.zeros((4, 2)))


def test_calibration_file_round_trip_and_refusals(tmp_path):
    path = tmp_path / "sub" / "calibration.json"
    f = CalibrationFile()
    cal = _full_calibration()
    f.set(cal)
    f.set(DeviceCalibration.identity("other", get_real_profile("wear-os-watch")))
    f.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["calibration.json"]  # no temporary file left
    back = CalibrationFile.load(path)
    assert back.ids() == ["AA:BB:CC:DD:EE:FF", "other"] and back.get(cal.device_id) == cal
    with pytest.raises(ConfigError, match="no calibration for device 'nope'"):
        back.get("nope")
    assert len(CalibrationFile.load(tmp_path / "missing.json", missing_ok=True)) == 0
    with pytest.raises(InputFileError, match="not found"):
        CalibrationFile.load(tmp_path / "missing.json")
    data = json.loads(path.read_text())
    cases = {
        "schema": {**data, "schema": 7},
        "unknown keys": {**data, "extra": 1},
        "device_id": {**data, "devices": {"wrong-key": data["devices"]["other"]}},
        "determinant": {**data, "devices": {cal.device_id: {**data["devices"][cal.device_id],
                                                            "mount_rotation": (-np.eye(3)).tolist()}}},
    }
    for match, content in cases.items():
        path.write_text(json.dumps(content))
        with pytest.raises(InputFileError, match=match):
            CalibrationFile.load(path)
    path.write_text("{not json")
    with pytest.raises(InputFileError, match="not valid JSON"):
        CalibrationFile.load(path)
