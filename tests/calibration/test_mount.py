"""Mount and mirror mapping, checked against the simulator's physics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.errors import ConfigError
from toolkit.mount import MIRROR, Mount, mirror_acc, mirror_gyro, rot_x, wear_keywords
from toolkit.sim.body import BuiltinBody
from toolkit.sim.imu import simulate_imu
from toolkit.sim.motion import Motion
from toolkit.sim.placements import Placement, frame_from_normal
from toolkit.sim.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

W = np.diag([-1.0, 1.0, 1.0])  # sagittal reflection of the world (the body's left is +x)


def _smooth_random_motion(seed: int = 0, seconds: float = 3.0, rate: float = 100.0) -> Motion:
    """Random smooth joint rotations (sums of slow sines of rotation vectors) and a wandering root."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    rotvec = np.zeros((t.size, NUM_JOINTS, 3))
    for k in range(3):
        amp = rng.normal(0, 0.35 / (k + 1), size=(NUM_JOINTS, 3))
        freq = rng.uniform(0.2, 1.5, size=(NUM_JOINTS, 3)) * (k + 1)
        phase = rng.uniform(0, 2 * np.pi, size=(NUM_JOINTS, 3))
        rotvec += amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase)
    quat = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat().reshape(t.size, NUM_JOINTS, 4)
    root = np.stack([0.3 * np.sin(0.7 * t), 0.9 + 0.05 * np.sin(2.1 * t), 0.4 * np.cos(0.5 * t)], axis=1)
    return Motion(rate_hz=rate, root_pos=root, local_quat=quat, name="random")


def _mirror_motion(motion: Motion) -> Motion:
    """Mirror image across the sagittal plane: root x negated, rotations conjugated by W, left/right swapped."""
    partner = []
    for name in JOINT_NAMES:
        if name.startswith("left_"):
            partner.append(JOINT_INDEX["right_" + name[5:]])
        elif name.startswith("right_"):
            partner.append(JOINT_INDEX["left_" + name[6:]])
        else:
            partner.append(JOINT_INDEX[name])
    mats = Rotation.from_quat(motion.local_quat.reshape(-1, 4)).as_matrix().reshape(motion.num_frames, NUM_JOINTS, 3, 3)
    mirrored = W @ mats[:, partner] @ W
    quat = Rotation.from_matrix(mirrored.reshape(-1, 3, 3)).as_quat().reshape(motion.num_frames, NUM_JOINTS, 4)
    return Motion(rate_hz=motion.rate_hz, root_pos=motion.root_pos @ W, local_quat=quat, name="mirrored")


def test_mirror_matrix_is_the_sagittal_reflection_in_watch_coordinates():
    from toolkit.frames import WATCH_ROT_TPOSE

    # W R_tpose M == R_tpose: the reflection of a (T-pose) right-wrist watch frame is the left one, up to M.
    assert np.allclose(W @ WATCH_ROT_TPOSE @ MIRROR, WATCH_ROT_TPOSE)
    assert np.allclose(mirror_acc([1.0, 2.0, 3.0]), [-1.0, 2.0, 3.0])
    assert np.allclose(mirror_gyro([1.0, 2.0, 3.0]), [1.0, -2.0, -3.0])


def test_mirrored_motion_right_wrist_equals_mirror_map_of_left_wrist():
    body = BuiltinBody()
    places = [body.named_placement("left_wrist"), body.named_placement("right_wrist")]
    motion = _smooth_random_motion()
    orig = simulate_imu(motion, body, places)
    mirr = simulate_imu(_mirror_motion(motion), body, places)
    assert np.abs(orig.acc).max() > 5 and np.abs(orig.gyro).max() > 1  # a real motion, not a still one
    # mirrored right wrist == M (original left wrist); and the other way round
    for src, dst in ((0, 1), (1, 0)):
        np.testing.assert_allclose(mirr.acc[:, dst], mirror_acc(orig.acc[:, src]), atol=1e-6)
        np.testing.assert_allclose(mirr.gyro[:, dst], mirror_gyro(orig.gyro[:, src]), atol=1e-6)
    # Mount.to_canonical does this mapping for a right-wrist watch
    a, w = Mount("right").to_canonical(mirr.acc[:, 1], mirr.gyro[:, 1])
    np.testing.assert_allclose(a, orig.acc[:, 0], atol=1e-6)
    np.testing.assert_allclose(w, orig.gyro[:, 0], atol=1e-6)


def test_palmar_frame_is_dorsal_rotated_180_about_x():
    dorsal = frame_from_normal(np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    palmar = frame_from_normal(np.array([0.0, -1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    assert np.allclose(palmar, dorsal @ rot_x(np.pi))
    assert np.allclose(Mount(face="palmar").rotation(), np.diag([1.0, -1.0, -1.0]), atol=1e-12)


@pytest.mark.parametrize("face,rotation_deg", [("palmar", 0.0), ("dorsal", 25.0), ("palmar", -40.0)])
def test_mount_undoes_face_and_forearm_rotation_in_simulation(face, rotation_deg):
    body = BuiltinBody()
    for wrist in ("left", "right"):
        p = body.named_placement(f"{wrist}_wrist")
        mount = Mount(wrist, face, rotation_deg)
        worn = Placement(p.name + "_worn", p.joint, p.offset, p.rot_js @ rot_x(mount.angle_rad))
        sig = simulate_imu(_smooth_random_motion(1, seconds=1.5), body, [p, worn])
        a, w = mount.to_wrist_frame(sig.acc[:, 1], sig.gyro[:, 1])
        np.testing.assert_allclose(a, sig.acc[:, 0], atol=1e-9)
        np.testing.assert_allclose(w, sig.gyro[:, 0], atol=1e-9)


def test_mount_validation_and_round_trip():
    m = Mount("right", "palmar", 12.5)
    assert Mount.from_dict(m.to_dict()) == m
    with pytest.raises(ConfigError, match="wrist"):
        Mount("middle")
    with pytest.raises(ConfigError, match="face"):
        Mount("left", "side")
    with pytest.raises(ConfigError, match="rotation_deg"):
        Mount("left", "dorsal", float("nan"))
    with pytest.raises(ConfigError, match="schema"):
        Mount.from_dict({"wrist": "left"})


def test_wear_keywords_reads_wrist_face_rotation_and_names_a_bad_part():
    assert wear_keywords(["right", "palmar", "rot30"]) == {"wrist": "right", "face": "palmar", "rotation_deg": 30.0}
    assert wear_keywords([]) == {}
    for bad in ("up", "rotX"):
        with pytest.raises(ValueError, match=bad):
            wear_keywords(["left", bad])
