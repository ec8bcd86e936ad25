"""Mount calibration from the hang / forward poses: simulator frames, random mounts with pose errors, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from calibration.orientation import angle_deg, estimate_mount_rotation, expected_reading, nominal_rotation
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2, GRAVITY_WORLD, WATCH_ROT_TPOSE
from toolkit.mount import Mount, rot_x

# Arm rotations in the world (y up, body faces +z, left hand toward +x) taking the T-pose to each pose.
# Left arm: hang = hand from +x to -y, a -90 deg turn about the forward axis +z; forward = hand from +x to +z,
# -90 deg about the vertical +y. Right arm (hand at -x): hang +90 deg about +z, forward +90 deg about +y.
ARM = {
    ("left", "hang"): Rotation.from_euler("z", -90, degrees=True),
    ("left", "forward"): Rotation.from_euler("y", -90, degrees=True),
    ("right", "hang"): Rotation.from_euler("z", 90, degrees=True),
    ("right", "forward"): Rotation.from_euler("y", 90, degrees=True),
}


def _reading(rot_ws: np.ndarray) -> np.ndarray:
    """Specific force of a still sensor with sensor-to-world rotation ``rot_ws``: ``R_ws^T (0 - g)``."""
    return rot_ws.T @ (-GRAVITY_WORLD)


def _rot_error_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(Rotation.from_matrix(a @ b.T).magnitude()))


@pytest.mark.parametrize("wrist", ["left", "right"])
def test_simulator_frames_give_the_documented_readings_and_identity(wrist):
    # the hand really goes where the comment says
    hand = np.array([1.0, 0.0, 0.0]) if wrist == "left" else np.array([-1.0, 0.0, 0.0])
    np.testing.assert_allclose(ARM[(wrist, "hang")].apply(hand), [0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ARM[(wrist, "forward")].apply(hand), [0.0, 0.0, 1.0], atol=1e-12)
    dorsal = {pose: ARM[(wrist, pose)].as_matrix() @ WATCH_ROT_TPOSE for pose in ("hang", "forward")}
    f = {pose: _reading(r) for pose, r in dorsal.items()}
    np.testing.assert_allclose(f["hang"], expected_reading("hang", wrist), atol=1e-12)
    np.testing.assert_allclose(f["forward"], expected_reading("forward", wrist), atol=1e-12)
    np.testing.assert_allclose(f["forward"], _reading(WATCH_ROT_TPOSE), atol=1e-12)  # = the T-pose reading
    est = estimate_mount_rotation(f["hang"], f["forward"], wrist)
    np.testing.assert_allclose(est.rotation, np.eye(3), atol=1e-9)
    assert abs(est.angle_between_deg - 90.0) < 1e-9
    # a palmar watch: R_worn = R_dorsal Rx(180) (toolkit.mount); the estimate is Mount(palmar).rotation()
    palmar = Mount(wrist, "palmar")
    f_p = {pose: _reading(r @ rot_x(np.pi)) for pose, r in dorsal.items()}
    est_p = estimate_mount_rotation(f_p["hang"], f_p["forward"], wrist)
    np.testing.assert_allclose(est_p.rotation, palmar.rotation(), atol=1e-9)
    np.testing.assert_allclose(est_p.rotation, np.diag([1.0, -1.0, -1.0]), atol=1e-9)
    mount, rest_deg = est_p.closest_mount(get_real_profile("wear-os-watch"))
    assert mount.face == "palmar" and abs(mount.rotation_deg) < 1e-6 and rest_deg < 1e-6


def _noisy_mean(f: np.ndarray, rng: np.random.Generator, n: int = 300) -> np.ndarray:
    return (f + rng.normal(0.0, 0.02, (n, 3))).mean(axis=0)  # 3 s at 100 Hz of 0.02 m/s^2 white noise


@pytest.mark.parametrize("wrist", ["left", "right"])
@pytest.mark.parametrize("seed", range(4))
def test_recovers_a_random_mount_with_pose_errors(wrist, seed):
    rng = np.random.default_rng(seed)
    r_true = Rotation.random(random_state=seed).as_matrix()  # device -> dorsal watch frame
    # exact poses, noise only: essentially exact
    f_h = _noisy_mean(r_true.T @ expected_reading("hang", wrist), rng)
    f_f = _noisy_mean(r_true.T @ expected_reading("forward", wrist), rng)
    assert _rot_error_deg(estimate_mount_rotation(f_h, f_f, wrist).rotation, r_true) < 0.3
    # pose errors: elbow bent by 6 deg in the hang pose (the forearm tilts forward: in the dorsal frame the
    # reading turns by 6 deg about Z), arm 3 deg above horizontal and palm rolled 3 deg in the forward pose
    sign = 1.0 if wrist == "left" else -1.0
    hang = Rotation.from_euler("z", sign * 6.0, degrees=True).apply(expected_reading("hang", wrist))
    fwd = Rotation.from_euler("yx", [3.0, 3.0], degrees=True).apply(expected_reading("forward", wrist))
    est = estimate_mount_rotation(_noisy_mean(r_true.T @ hang, rng), _noisy_mean(r_true.T @ fwd, rng), wrist)
    err = _rot_error_deg(est.rotation, r_true)
    # the three pose errors add up to at most ~sqrt(6^2 + 3^2 + 3^2) = 7.3 deg; the forward pose is weighted 4:1
    assert err < 8.0, err  # measured 7.0-7.2 deg; noise alone gives 0.01-0.02 deg
    assert est.residual_forward_deg < est.residual_hang_deg  # the disagreement goes mostly to the hang pose
    assert abs(np.linalg.det(est.rotation) - 1.0) < 1e-9


def test_poses_only_20_deg_apart_are_refused():
    f_f = expected_reading("forward", "left")
    f_h = Rotation.from_euler("y", -20, degrees=True).apply(f_f)
    assert abs(angle_deg(f_h, f_f) - 20.0) < 1e-9
    with pytest.raises(ConfigError, match="20 deg apart"):
        estimate_mount_rotation(f_h, f_f, "left")
    with pytest.raises(ConfigError, match="180 deg apart"):
        estimate_mount_rotation(-f_f, f_f, "left")


def test_readings_not_in_m_s2_or_unknown_wrist_are_refused():
    f_h, f_f = expected_reading("hang", "left"), expected_reading("forward", "left")
    with pytest.raises(ConfigError, match="not in m/s\\^2"):
        estimate_mount_rotation(f_h / G_MS2, f_f / G_MS2, "left")  # in g
    with pytest.raises(ConfigError, match="wrist"):
        estimate_mount_rotation(f_h, f_f, "middle")
    with pytest.raises(ConfigError, match="3 finite numbers"):
        estimate_mount_rotation(f_h[:2], f_f, "left")


def test_offset_and_closest_mount_relative_to_the_profile():
    # an E4 (non-identity axes) worn dorsally but slid 25 deg about the forearm
    e4 = get_real_profile("empatica-e4")
    worn = Mount("left", "dorsal", 25.0)
    r_true = nominal_rotation(e4, worn)
    f_h = r_true.T @ expected_reading("hang", "left")
    f_f = r_true.T @ expected_reading("forward", "left")
    est = estimate_mount_rotation(f_h, f_f, "left")
    np.testing.assert_allclose(est.rotation, r_true, atol=1e-9)
    rotvec_deg, offset = est.offset_from(e4, Mount("left"))
    assert abs(offset - 25.0) < 1e-6
    np.testing.assert_allclose(rotvec_deg, [25.0, 0.0, 0.0], atol=1e-6)  # about the forearm (+X)
    mount, rest = est.closest_mount(e4)
    assert mount.face == "dorsal" and abs(mount.rotation_deg - 25.0) < 1e-6 and rest < 1e-6
    _, zero = est.offset_from(e4, worn)
    assert zero < 1e-6
