"""The simulator's physics and frame conventions, pinned down by situations with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit import frames
from toolkit.sim.body import BuiltinBody, HumanAttributes
from toolkit.sim.canonical import canonicalize
from toolkit.sim.imu import simulate_imu
from toolkit.sim.motion import Motion, still_motion
from toolkit.sim.placements import NAMED_SITES
from toolkit.sim.skeleton import JOINT_INDEX

G = frames.G_MS2


def standing(body: BuiltinBody, frames_: int = 120, rate: float = 60.0) -> Motion:
    m = still_motion(frames_, rate, pelvis_height_m=body.pelvis_height_m)
    m.root_pos[:, 1] = body.pelvis_height_m
    return m


def spinning(rate_rads: float, seconds: float = 4.0, rate_hz: float = 60.0, pelvis_height: float = 1.0) -> Motion:
    """T-pose body turning about the vertical axis through the pelvis at a constant rate."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    m = still_motion(len(t), rate_hz, pelvis_height_m=pelvis_height)
    m.local_quat[:, 0] = Rotation.from_rotvec(np.outer(rate_rads * t, frames.UP_WORLD)).as_quat()
    m.root_pos[:, 1] = pelvis_height
    return m


def wavy(rate_hz: float, seconds: float = 3.0) -> Motion:
    """A smooth, non-trivial analytic motion: walking root, swinging arms, bending elbows."""
    t = np.arange(int(round(seconds * rate_hz)) + 1) / rate_hz
    m = still_motion(len(t), rate_hz, pelvis_height_m=0.98)
    m.root_pos = np.stack([0.2 * np.sin(0.7 * t), 0.98 + 0.03 * np.sin(4 * t), 1.1 * t], axis=1)
    m.local_quat[:, 0] = Rotation.from_euler("y", 0.4 * np.sin(0.9 * t)[:, None]).as_quat()
    for j, phase in ((JOINT_INDEX["left_shoulder"], 0.0), (JOINT_INDEX["right_shoulder"], np.pi)):
        m.local_quat[:, j] = Rotation.from_euler(
            "zx", np.stack([-1.2 + 0.5 * np.sin(3 * t + phase), 0.3 * t], 1)
        ).as_quat()
    for j in (JOINT_INDEX["left_elbow"], JOINT_INDEX["right_elbow"]):
        m.local_quat[:, j] = Rotation.from_euler(
            "yx", np.stack([0.8 + 0.6 * np.sin(2.5 * t), 0.5 * np.cos(t)], 1)
        ).as_quat()
    return m


def all_named(body: BuiltinBody):
    return [body.named_placement(n) for n in NAMED_SITES]


def test_still_tpose_reads_plus_g_on_watch_z():
    body = BuiltinBody()
    sig = simulate_imu(standing(body), body, [body.named_placement("left_wrist"), body.named_placement("right_wrist")])
    np.testing.assert_allclose(sig.acc, np.broadcast_to([0.0, 0.0, G], sig.acc.shape), atol=1e-9)
    np.testing.assert_allclose(sig.gyro, 0.0, atol=1e-12)


def test_every_still_placement_reads_g_magnitude_upward():
    body = BuiltinBody()
    placements = all_named(body) + body.sample_placements(50, np.random.default_rng(1))
    sig = simulate_imu(standing(body), body, placements)
    np.testing.assert_allclose(np.linalg.norm(sig.acc, axis=-1), G, atol=1e-9)
    # the reading points along the sensor's "up" direction: R_ws f = +g up in the world
    rot = Rotation.from_quat(sig.quat.reshape(-1, 4)).as_matrix().reshape(sig.acc.shape + (3,))
    f_world = np.einsum("tpij,tpj->tpi", rot, sig.acc)
    np.testing.assert_allclose(f_world, np.broadcast_to([0.0, G, 0.0], f_world.shape), atol=1e-9)


def test_upside_down_watch_reads_minus_g():
    body = BuiltinBody()
    m = standing(body)
    m.local_quat[:, 0] = Rotation.from_rotvec([0.0, 0.0, np.pi]).as_quat()  # body turned upside down
    sig = simulate_imu(m, body, [body.named_placement("left_wrist")])
    np.testing.assert_allclose(sig.acc[:, 0], np.broadcast_to([0.0, 0.0, -G], (m.num_frames, 3)), atol=1e-9)


def test_constant_spin_reads_its_rate_everywhere():
    body = BuiltinBody()
    placements = all_named(body) + body.sample_placements(40, np.random.default_rng(2), jitter_deg=180)
    sig = simulate_imu(spinning(1.0, pelvis_height=body.pelvis_height_m), body, placements)
    np.testing.assert_allclose(np.linalg.norm(sig.gyro, axis=-1), 1.0, atol=1e-9)


def test_spin_gyro_axis_is_world_vertical_in_sensor_frame():
    body = BuiltinBody()
    p = body.named_placement("left_wrist")  # watch +Z is world +y in the T-pose
    sig = simulate_imu(spinning(0.5, pelvis_height=body.pelvis_height_m), body, [p])
    np.testing.assert_allclose(sig.gyro[:, 0], np.broadcast_to([0.0, 0.0, 0.5], sig.gyro[:, 0].shape), atol=1e-9)


def test_free_fall_reads_zero():
    body = BuiltinBody()
    m = spinning(0.0, seconds=1.0, pelvis_height=body.pelvis_height_m)
    t = np.arange(m.num_frames) / m.rate_hz
    m.root_pos[:, 1] = 50.0 - 0.5 * G * t**2
    m.root_pos[:, 2] = 3.0 * t  # thrown forward at constant horizontal speed
    sig = simulate_imu(m, body, all_named(body))
    np.testing.assert_allclose(sig.acc, 0.0, atol=1e-8)


def test_rotating_the_world_about_vertical_changes_nothing():
    body = BuiltinBody()
    m = wavy(60.0)
    turn = Rotation.from_euler("y", 1.234)
    turned = Motion(
        m.rate_hz,
        turn.apply(m.root_pos),
        m.local_quat.copy(),
        pelvis_height_m=m.pelvis_height_m,
    )
    turned.local_quat[:, 0] = (turn * Rotation.from_quat(m.local_quat[:, 0])).as_quat()
    placements = all_named(body)
    a = simulate_imu(m, body, placements)
    b = simulate_imu(turned, body, placements)
    assert np.abs(a.acc).max() > 1.0  # the motion is not trivial
    np.testing.assert_allclose(b.acc, a.acc, atol=1e-9)
    np.testing.assert_allclose(b.gyro, a.gyro, atol=1e-9)


@pytest.mark.parametrize("source_rate", [120.0, 100.0, 90.0, 30.0])
def test_same_motion_at_other_rates_gives_same_60hz_signals(source_rate):
    body = BuiltinBody()
    ref = simulate_imu(canonicalize(wavy(60.0), rate_hz=60.0), body, all_named(body))
    other = simulate_imu(canonicalize(wavy(source_rate), rate_hz=60.0), body, all_named(body))
    assert other.acc.shape == ref.acc.shape
    inner = slice(20, -20)  # the ends differ: the 15 Hz low-pass reaches 18 frames (0.3 s) at 60 Hz
    acc_err = np.abs(other.acc[inner] - ref.acc[inner]).max()
    gyro_err = np.abs(other.gyro[inner] - ref.gyro[inner]).max()
    # measured: < 1e-5 from 90-120 Hz, 3e-4 m/s^2 and 3e-5 rad/s from 30 Hz (rms signal 5.7 m/s^2)
    assert acc_err < 5e-3, acc_err  # m/s^2
    assert gyro_err < 5e-4, gyro_err  # rad/s


def test_acc_matches_analytic_centripetal_acceleration():
    body = BuiltinBody()
    p = body.named_placement("left_wrist")
    omega = 2.0
    sig = simulate_imu(spinning(omega, pelvis_height=body.pelvis_height_m), body, [p])
    # radius of the watch's circle about the vertical axis through the pelvis
    pos_rest = body.rest_joints[p.joint] + p.offset
    radius = np.hypot(pos_rest[0] - body.rest_joints[0, 0], pos_rest[2] - body.rest_joints[0, 2])
    horizontal = np.linalg.norm(sig.acc[20:-20, 0, :2], axis=-1)  # watch X, Y are horizontal
    # a 2 rad/s circle (0.32 Hz) lies deep in the flat band
    np.testing.assert_allclose(horizontal, omega**2 * radius, rtol=2e-3)
    np.testing.assert_allclose(sig.acc[20:-20, 0, 2], G, atol=1e-9)


def test_taller_variant_has_longer_arms_and_larger_centripetal_acc():
    short, tall = BuiltinBody(HumanAttributes(height_m=1.55)), BuiltinBody(HumanAttributes(height_m=1.95))

    def arm_length(b):
        return np.linalg.norm(b.rest_joints[JOINT_INDEX["left_wrist"]] - b.rest_joints[JOINT_INDEX["left_shoulder"]])

    assert arm_length(tall) > arm_length(short) * 1.2
    acc = []
    for b in (short, tall):
        sig = simulate_imu(spinning(1.5, pelvis_height=b.pelvis_height_m), b, [b.named_placement("left_wrist")])
        acc.append(np.linalg.norm(sig.acc[30:-30, 0, :2], axis=-1).mean())
    assert acc[1] > acc[0] * 1.2


def test_longer_forearm_scale_moves_the_watch_outward():
    base = BuiltinBody(HumanAttributes(height_m=1.7))
    longer = BuiltinBody(HumanAttributes(height_m=1.7, segment_scales={"forearm": 1.1, "upper_arm": 1.1}))
    assert longer.rest_joints[JOINT_INDEX["left_wrist"], 0] > base.rest_joints[JOINT_INDEX["left_wrist"], 0]
    assert longer.height_m == pytest.approx(1.7)


def test_builtin_body_dimensions():
    body = BuiltinBody()
    j = body.rest_joints
    top = j[JOINT_INDEX["head"], 1] + (body.segment_ends(JOINT_INDEX["head"])[1] - j[JOINT_INDEX["head"]])[1]
    assert top == pytest.approx(1.7)
    assert j[JOINT_INDEX["left_wrist"], 0] > 0 > j[JOINT_INDEX["right_wrist"], 0]  # left is +x
    # Winter's proportions: upper arm 0.186 H, forearm 0.146 H
    upper = j[JOINT_INDEX["left_elbow"]] - j[JOINT_INDEX["left_shoulder"]]
    fore = j[JOINT_INDEX["left_wrist"]] - j[JOINT_INDEX["left_elbow"]]
    assert np.linalg.norm(upper) == pytest.approx(0.186 * 1.7, rel=1e-6)
    assert np.linalg.norm(fore) == pytest.approx(0.146 * 1.7, rel=1e-6)


def test_watch_frames_in_tpose_match_the_documented_convention():
    body = BuiltinBody()
    for name in ("left_wrist", "right_wrist"):
        np.testing.assert_allclose(body.named_placement(name).rot_js, frames.WATCH_ROT_TPOSE, atol=1e-12)
    left, right = body.named_placement("left_wrist"), body.named_placement("right_wrist")
    # left watch +X points to the hand (+x), right watch +X points to the elbow (+x as well)
    assert left.rot_js[:, 0] @ frames.LEFT_WORLD > 0.99 and right.rot_js[:, 0] @ frames.LEFT_WORLD > 0.99
    # the watch sits on the dorsal surface, above the forearm axis
    assert left.offset[1] > 0.015 and right.offset[1] > 0.015


def test_sampled_placements_are_on_the_surface_with_orthonormal_frames():
    body = BuiltinBody()
    rng = np.random.default_rng(3)
    ps = body.sample_placements(200, rng, jitter_deg=45)
    for p in ps:
        r = p.rot_js
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        start, end = body.segment_ends(p.joint)
        axis = (end - start) / np.linalg.norm(end - start)
        radial = p.offset - np.dot(p.offset, axis) * axis
        assert np.linalg.norm(radial) > 0.005  # off the bone, on the skin
        assert np.dot(r[:, 2], radial) > 0  # +Z points outward
    segments = {p.name.split("#")[0] for p in ps}
    assert len(segments) > 10  # spread over the body


def test_specific_force_helper_agrees_with_the_definition():
    rng = np.random.default_rng(4)
    rot = Rotation.random(10, random_state=5).as_matrix()
    a = rng.normal(size=(10, 3))
    expected = np.stack([rot[i].T @ (a[i] - frames.GRAVITY_WORLD) for i in range(10)])
    np.testing.assert_allclose(frames.specific_force(a, rot), expected, atol=1e-12)
