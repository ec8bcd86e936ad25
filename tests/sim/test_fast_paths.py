"""The simulator's fast paths give the numbers of the plain ones (issue 11, the 1-hour AMASS target).

Forward kinematics level by level, kinematics and derivatives in cache-sized chunks, memory-mapped
AMASS members and block-wise conversion are checked against independent references computed on the
whole clip at once (scipy rotations, joint by joint): chunked == unchunked.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.errors import InputFileError
from toolkit.frames import Z_UP_TO_Y_UP
from toolkit.sim import dataset, imu, pipeline
from toolkit.sim.body import BuiltinBody, HumanAttributes
from toolkit.sim.canonical import canonicalize, reference_body
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.loaders import amass
from toolkit.sim.motion import Motion
from toolkit.sim.skeleton import NUM_JOINTS, PARENTS

BODY = BuiltinBody(HumanAttributes(height_m=1.8, segment_scales={"forearm": 1.1}))


def smooth_motion(frames: int = 301, rate: float = 60.0, seed: int = 0) -> Motion:
    """Every joint turning smoothly (random axes, rates and phases), the root wandering."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / rate
    freq, phase, amp = rng.uniform(0.2, 3.0, (3, NUM_JOINTS * 3)) * [[1.0], [2.0], [0.3]]
    rotvec = (amp * np.sin(np.outer(t, 2 * np.pi * freq) + phase)).reshape(frames, NUM_JOINTS, 3)
    root = np.stack([0.4 * np.sin(0.5 * t), 0.95 + 0.03 * np.sin(5 * t), 1.2 * t], axis=1)
    quat = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat().reshape(frames, NUM_JOINTS, 4)
    return Motion(rate_hz=rate, root_pos=root, local_quat=quat, pelvis_height_m=0.95, name="smooth")


def reference_fk(rest: np.ndarray, local_quat: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint by joint with scipy rotations: global (T, 24, 4) orientations and (T, 24, 3) positions."""
    g = [None] * NUM_JOINTS
    pos = np.empty(local_quat.shape[:2] + (3,))
    for j in range(NUM_JOINTS):
        r = Rotation.from_quat(local_quat[:, j])
        p = int(PARENTS[j])
        if p < 0:
            g[j], pos[:, j] = r, root
        else:
            g[j], pos[:, j] = g[p] * r, pos[:, p] + g[p].apply(rest[j] - rest[p])
    quat = np.stack([q.as_quat() for q in g], axis=1)
    return quat, pos


def same_rotation(a: np.ndarray, b: np.ndarray, atol: float) -> None:
    np.testing.assert_allclose(a * np.sign(a[..., 3:]), b * np.sign(b[..., 3:]), atol=atol)


@pytest.mark.parametrize("joints", [None, [20, 21], [15], [10, 21]])
def test_level_by_level_fk_matches_joint_by_joint_scipy(joints):
    m = smooth_motion(97)
    ref_quat, ref_pos = reference_fk(BODY.rest_joints, m.local_quat, m.root_pos)
    pose = forward_kinematics(BODY.rest_joints, m.local_quat, m.root_pos, joints)
    cols = pose.columns(list(pose.joints))
    same_rotation(pose.quat[:, cols], ref_quat[:, list(pose.joints)], atol=1e-12)
    np.testing.assert_allclose(pose.pos[:, cols], ref_pos[:, list(pose.joints)], atol=1e-12)


def test_chunked_wrist_chain_kinematics_equal_the_whole_clip():
    m = smooth_motion(301)
    wrists = [BODY.named_placement("left_wrist"), BODY.named_placement("right_wrist")]
    full = forward_kinematics(BODY.rest_joints, m.local_quat, m.root_pos)
    ref_pos, ref_quat = imu.placement_trajectories(full, wrists)
    for chunk in (7, 64, 10_000):  # chunk boundaries everywhere, and one chunk
        pos, quat = imu.placement_kinematics(BODY.rest_joints, m.local_quat, m.root_pos, wrists, chunk=chunk)
        np.testing.assert_allclose(pos, ref_pos, rtol=0, atol=1e-14)
        np.testing.assert_allclose(quat, ref_quat, rtol=0, atol=1e-14)
        joints = np.empty((m.num_frames, NUM_JOINTS, 3), np.float32)
        imu.placement_kinematics(BODY.rest_joints, m.local_quat, m.root_pos, wrists, joints_out=joints, chunk=chunk)
        np.testing.assert_array_equal(joints, full.pos.astype(np.float32))


def test_blocked_derivatives_equal_unblocked(monkeypatch):
    m = smooth_motion(301)
    wrists = [BODY.named_placement("left_wrist"), BODY.named_placement("right_wrist")]
    monkeypatch.setattr(imu, "_BLOCK", 10**9)
    whole = imu.simulate_imu(m, BODY, wrists)
    monkeypatch.setattr(imu, "_BLOCK", 13)
    monkeypatch.setattr(imu, "_CHUNK", 29)
    blocked = imu.simulate_imu(m, BODY, wrists)
    scale = np.abs(whole.acc).max(), np.abs(whole.gyro).max()
    np.testing.assert_allclose(blocked.acc, whole.acc, rtol=0, atol=1e-12 * scale[0])
    np.testing.assert_allclose(blocked.gyro, whole.gyro, rtol=0, atol=1e-12 * scale[1])
    np.testing.assert_array_equal(blocked.quat, whole.quat)


def test_pipeline_outputs_equal_the_full_kinematics_path(monkeypatch):
    """``simulate_motion`` (chunked, wrist chains + joint positions) against the all-joints path."""
    m = smooth_motion(301)
    config = pipeline.SimulationConfig()
    ref_body = pipeline.make_body_factory(config)(0, HumanAttributes(height_m=config.height_m), None)
    wrists = [ref_body.named_placement(n) for n in config.placements]
    full = imu.simulate_imu(m, ref_body, wrists, all_joints=True)  # (T, 24) kinematics kept whole
    ref_quat, ref_pos = reference_fk(ref_body.rest_joints, m.local_quat, imu.scaled_root(m, ref_body))
    for name, value in (("_CHUNK", 17), ("_BLOCK", 23)):
        monkeypatch.setattr(imu, name, value)
    monkeypatch.setattr(pipeline, "_CHUNK", 19)
    (rec,) = pipeline.simulate_motion(m, config, np.random.default_rng(0))
    a = rec.arrays
    np.testing.assert_allclose(a["joints"], ref_pos, rtol=0, atol=2e-6)  # float32 output
    np.testing.assert_allclose(a["joints"], full.pose.pos, rtol=0, atol=2e-6)
    rotvec = Rotation.from_quat(m.local_quat.reshape(-1, 4)).as_rotvec().reshape(m.num_frames, NUM_JOINTS, 3)
    np.testing.assert_allclose(a["pose"], rotvec, rtol=0, atol=2e-6)
    for key, ref in (("acc", full.acc), ("gyro", full.gyro)):
        np.testing.assert_allclose(a[key], ref.astype(np.float32), rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    same_rotation(a["quat"].astype(np.float64), full.quat, atol=1e-6)
    sensor = Rotation.from_quat(ref_quat[:, wrists[0].joint]) * Rotation.from_matrix(wrists[0].rot_js)
    same_rotation(full.quat[:, 0], sensor.as_quat(), atol=1e-12)


def amass_arrays(frames: int = 200, width: int = 156, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 60.0
    freq, phase, amp = rng.uniform(0.2, 2.0, width), rng.uniform(0, 2 * np.pi, width), rng.uniform(0.05, 1.5, width)
    poses = amp * np.sin(np.outer(t, 2 * np.pi * freq) + phase)
    poses[:, 0] += np.pi / 2
    poses[3, 6:9] = [0.0, 0.0, 0.0]  # an exact identity
    poses[4, 9:12] = [2.5, 2.0, 0.5]  # beyond pi: the quaternion's sign flips
    trans = np.stack([0.3 * np.sin(t), 0.2 * np.cos(t), 0.9 + 0.02 * np.sin(3 * t)], axis=1)
    return {"poses": poses, "trans": trans, "betas": np.zeros(16), "mocap_framerate": np.float64(60.0),
            "gender": np.array("male")}  # fmt: skip


@pytest.mark.parametrize("width", [72, 156])
def test_memory_mapped_blockwise_amass_loading_matches_scipy(tmp_path, monkeypatch, width):
    arrays = amass_arrays(width=width)
    stored = tmp_path / "stored.npz"
    np.savez(stored, **arrays)  # stored members: memory-mapped
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, **arrays)  # deflated members: read by np.load
    assert isinstance(amass.read_amass_npz(stored)["poses"], np.ndarray)
    assert amass._mapped_member(stored, "poses") is not None and amass._mapped_member(packed, "poses") is None
    monkeypatch.setattr(amass, "_BLOCK", 37)
    a, b = amass.load_amass(stored), amass.load_amass(packed)
    np.testing.assert_array_equal(a.local_quat, b.local_quat)
    np.testing.assert_array_equal(a.root_pos, b.root_pos)
    # independent reference: scipy per joint, root turned from z-up to y-up, then canonicalised
    t, n = arrays["poses"].shape[0], 24 if width == 72 else 22
    rotvec = np.zeros((t, NUM_JOINTS, 3))
    rotvec[:, :n] = arrays["poses"][:, : 3 * n].reshape(t, n, 3)
    quat = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat().reshape(t, NUM_JOINTS, 4)
    quat[:, 0] = (Rotation.from_matrix(Z_UP_TO_Y_UP) * Rotation.from_quat(quat[:, 0])).as_quat()
    root = (reference_body().rest_joints[0] + arrays["trans"]) @ Z_UP_TO_Y_UP.T
    ref = canonicalize(Motion(rate_hz=60.0, root_pos=root, local_quat=quat))
    same_rotation(a.local_quat, ref.local_quat, atol=1e-12)
    assert (a.local_quat[..., 3] >= 0).all()
    np.testing.assert_allclose(a.root_pos, ref.root_pos, atol=1e-12)


def test_damaged_bytes_of_a_mapped_member_are_refused(tmp_path):
    path = tmp_path / "clip.npz"
    np.savez(path, **amass_arrays())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("poses.npy")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + 128 + info.file_size // 2
    data[middle : middle + 8] = np.float64(0.25).tobytes()  # a plausible number: only the CRC notices
    path.write_bytes(bytes(data))
    with pytest.raises(InputFileError, match="damaged archive member 'poses'"):
        amass.load_amass(path)


def test_streamed_and_direct_npz_match_numpy_savez(tmp_path):
    arrays = {"acc": np.random.default_rng(0).normal(size=(50, 2, 3)).astype(np.float32),
              "text": np.array("waves"), "names": np.array(["left_wrist", "right_wrist"]),
              "rate_hz": np.float64(60.0), "flag": np.bool_(True), "strided": np.arange(24.0).reshape(4, 6)[:, ::2],
              "empty": np.zeros((0, 3))}  # fmt: skip
    np.savez(tmp_path / "numpy.npz", **arrays)
    dataset.write_npz(tmp_path / "direct.npz", arrays)
    writer = dataset.StreamingNpz(tmp_path / "streamed.npz")
    for key, value in arrays.items():
        writer.add(key, value)
    assert not (tmp_path / "streamed.npz").exists()  # only once closed
    writer.close()
    ref = np.load(tmp_path / "numpy.npz")
    for name in ("direct.npz", "streamed.npz"):
        with np.load(tmp_path / name, allow_pickle=False) as got:
            assert got.files == ref.files
            for key in ref.files:
                assert got[key].dtype == ref[key].dtype and np.array_equal(got[key], ref[key]), (name, key)
    with zipfile.ZipFile(tmp_path / "numpy.npz") as a, zipfile.ZipFile(tmp_path / "direct.npz") as b:
        assert [(i.filename, i.CRC) for i in a.infolist()] == [(i.filename, i.CRC) for i in b.infolist()]


def test_streaming_writer_failure_and_abort_leave_no_file(tmp_path):
    writer = dataset.StreamingNpz(tmp_path / "bad.npz")
    writer.add("obj", np.array([{"a": 1}], dtype=object))  # refused: would need pickle
    with pytest.raises(ValueError, match="object arrays"):
        writer.close()
    writer = dataset.StreamingNpz(tmp_path / "dropped.npz")
    writer.add("x", np.zeros(3))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_simulate_file_writes_what_it_returns(tmp_path):
    """The streamed file holds exactly the record's arrays (joints and pose written first)."""
    clip = tmp_path / "clip.npz"
    np.savez(clip, **amass_arrays(frames=150))
    config = pipeline.SimulationConfig(variants=2)
    out = tmp_path / "out"
    out.mkdir()
    entry = pipeline.simulate_file(str(clip), config, str(out), "clip")
    motion = amass.load_amass(clip)
    sha = dataset.sha256_file(clip)
    records = pipeline.simulate_motion(motion, config, pipeline.clip_rng(config.seed, sha))
    assert [c["file"] for c in entry["clips"]] == [r.file_name for r in records] == ["clip_v0.npz", "clip_v1.npz"]
    for rec in records:
        assert not rec.saved
        with np.load(out / rec.file_name, allow_pickle=False) as got:
            assert got.files[:2] == ["joints", "pose"] and set(got.files) == set(rec.arrays)
            for key, value in rec.arrays.items():
                np.testing.assert_array_equal(got[key], value, err_msg=key)
    assert sorted(p.name for p in out.iterdir()) == ["clip_v0.npz", "clip_v1.npz"]  # no temporary left
