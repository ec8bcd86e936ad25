"""AMASS-style .npz motions -> canonical y-up motions (on generated files with AMASS's layout)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tests.sim.smpl_fixture import write_model_npz
from toolkit.errors import InputFileError
from toolkit.sim.canonical import leg_scale, reference_body
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.loaders.amass import load_amass, read_amass_npz
from toolkit.sim.skeleton import JOINT_INDEX, NUM_JOINTS
from toolkit.sim.smpl_body import SMPLBody

WALK_SPEED = 1.2  # m/s


def amass_arrays(t: int = 120, rate: float = 120.0, width: int = 156) -> dict[str, np.ndarray]:
    """A z-up AMASS-style walk: standing root Rx(+90 deg), facing -y in the file, walking along -y."""
    time = np.arange(t) / rate
    poses = np.zeros((t, width))
    poses[:, :3] = [np.pi / 2, 0.0, 0.0]  # Rx(+90 deg): SMPL's y-up body stands in the z-up world
    swing = 0.4 * np.sin(2 * np.pi * 1.0 * time)
    poses[:, 3 * JOINT_INDEX["left_hip"]] = swing  # hip flexion about the model's x axis
    poses[:, 3 * JOINT_INDEX["right_hip"]] = -swing
    poses[:, 3 * JOINT_INDEX["left_elbow"] + 1] = 0.3  # a bent left elbow
    trans = np.stack([np.zeros(t), -WALK_SPEED * time, 0.95 + 0.01 * np.sin(4 * np.pi * time)], axis=1)
    return {
        "poses": poses,
        "trans": trans,
        "betas": np.zeros(16),
        "mocap_framerate": np.array(rate),
        "gender": np.array("female"),
    }


def write_amass(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_smplh_walk_loads_upright_and_forward(tmp_path):
    m = load_amass(write_amass(tmp_path / "walk_poses.npz", **amass_arrays()), text="a person walks")
    assert m.rate_hz == 60.0 and m.num_frames == 60
    assert m.name == "walk_poses" and m.text == "a person walks"
    assert m.meta["model_type"] == "smplh" and m.meta["gender"] == "female" and m.meta["source_rate_hz"] == 120.0
    # Rx(+90) in z-up is the identity in y-up: the body's up axis is +y
    root = Rotation.from_quat(m.local_quat[:, 0])
    np.testing.assert_allclose(root.apply([0.0, 1.0, 0.0]), np.tile([0.0, 1.0, 0.0], (60, 1)), atol=1e-9)
    np.testing.assert_allclose(root.magnitude(), 0.0, atol=1e-9)
    # walking forward = +z in our world
    speed = (m.root_pos[-1, 2] - m.root_pos[0, 2]) / m.duration_s
    assert speed == pytest.approx(WALK_SPEED, rel=1e-3)
    np.testing.assert_allclose(m.root_pos[:, 0], 0.0, atol=1e-9)
    body = reference_body()
    pose = forward_kinematics(body.rest_joints, m.local_quat, m.root_pos)
    feet = pose.pos[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]], 1].max(axis=1)
    head = pose.pos[:, JOINT_INDEX["head"], 1]
    assert np.all(pose.pos[:, 0, 1] > feet + 0.5) and np.all(head > pose.pos[:, 0, 1] + 0.4)
    # hand joints do not exist in SMPL-H: identity
    np.testing.assert_allclose(m.local_quat[:, 22:24, 3], 1.0)
    # the hip swing is a rotation about x, kept as is
    lhip = Rotation.from_quat(m.local_quat[:, JOINT_INDEX["left_hip"]]).as_rotvec()
    np.testing.assert_allclose(lhip[:, 1:], 0.0, atol=1e-6)
    assert np.ptp(lhip[:, 0]) > 0.7
    # canonical: feet centred at the first frame, soles on the floor
    assert m.pelvis_height_m == pytest.approx(body.pelvis_height_m)


def test_smpl72_smplx165_and_frame_rate_key_variants(tmp_path):
    a72 = amass_arrays(width=72)
    a72["poses"][:, 66:69] = [0.0, 0.0, 0.5]  # SMPL's left hand joint
    m72 = load_amass(write_amass(tmp_path / "smpl.npz", **a72))
    assert m72.meta["model_type"] == "smpl"
    np.testing.assert_allclose(
        Rotation.from_quat(m72.local_quat[:, 22]).as_rotvec(), np.tile([0, 0, 0.5], (60, 1)), atol=1e-6
    )

    a165 = amass_arrays(width=165)
    a165["poses"][:, 66:] = 0.7  # jaw, eyes and fingers are ignored
    a165["mocap_frame_rate"] = a165.pop("mocap_framerate")
    a165["gender"] = np.array(b"male")
    m165 = load_amass(write_amass(tmp_path / "smplx.npz", **a165), rate_hz=30.0)
    assert m165.meta["model_type"] == "smplx" and m165.meta["gender"] == "male"
    assert m165.rate_hz == 30.0 and m165.num_frames == 30
    np.testing.assert_allclose(m165.local_quat[:, 22:24, 3], 1.0)

    m156 = load_amass(write_amass(tmp_path / "smplh.npz", **amass_arrays()), rate_hz=30.0)
    np.testing.assert_allclose(m165.local_quat, m156.local_quat, atol=1e-9)
    np.testing.assert_allclose(m165.root_pos, m156.root_pos, atol=1e-9)


def test_body_sets_pelvis_and_scale(tmp_path):
    model = write_model_npz(tmp_path / "SMPLH_FEMALE.npz", "smplh")
    tall = SMPLBody(model, gender="female", betas=[2.0])
    path = write_amass(tmp_path / "walk.npz", **amass_arrays())
    plain = load_amass(path)
    with_body = load_amass(path, body=tall)
    rest = tall.rest_joints
    expected = leg_scale(rest[0, 1] - 0.5 * (rest[7, 1] + rest[8, 1]))
    assert with_body.meta["scale"] == pytest.approx(expected) and expected < 0.95
    # J0 only shifts the raw trajectory (removed by canonicalize); the scale shortens the walk
    np.testing.assert_allclose(
        with_body.root_pos - with_body.root_pos[0], (plain.root_pos - plain.root_pos[0]) * expected, atol=1e-9
    )
    np.testing.assert_allclose(with_body.local_quat, plain.local_quat)


def _bad(change) -> dict:
    a = amass_arrays()
    change(a)
    return a


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_bad(lambda a: a.pop("poses")), "missing 'poses'"),
        (
            _bad(lambda a: a.__setitem__("poses", np.zeros((120, 100)))),
            r"'poses' must be \(T, 72\), \(T, 156\) or \(T, 165\)",
        ),
        (_bad(lambda a: a.pop("mocap_framerate")), "missing the frame rate"),
        (_bad(lambda a: a["poses"].__setitem__((5, 7), np.nan)), "contains NaN or infinite"),
        (_bad(lambda a: a["trans"].__setitem__((9, 2), np.inf)), "contains NaN or infinite"),
        (_bad(lambda a: a.update(poses=a["poses"][:3], trans=a["trans"][:3])), r"only 3 frames \(need at least 4\)"),
        (_bad(lambda a: a.__setitem__("trans", a["trans"][:100])), "'trans' has 100 frames but 'poses' has 120"),
        (_bad(lambda a: a.pop("trans")), "missing 'trans'"),
        (_bad(lambda a: a.__setitem__("mocap_framerate", np.array(0.0))), "must be a positive frame rate"),
        (
            _bad(lambda a: a.__setitem__("gender", np.array({"g": "male"}, dtype=object))),
            "'gender' is a pickled object array",
        ),
    ],
)
def test_bad_inputs(tmp_path, arrays, message):
    path = write_amass(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputFileError, match=message) as info:
        load_amass(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_pickle_file_is_refused(tmp_path):
    p = tmp_path / "pickled.npz"
    p.write_bytes(pickle.dumps(amass_arrays()))
    with pytest.raises(InputFileError, match="pickled data is refused"):
        read_amass_npz(p)
    with pytest.raises(InputFileError, match="file not found"):
        read_amass_npz(tmp_path / "missing.npz")


def test_raw_orientation_matches_smpl_convention(tmp_path):
    """A body standing in AMASS (root Rx(+90 deg)) with a pelvis at J0 + trans lands upright in y-up."""
    a = amass_arrays(t=8, rate=60.0)
    a["poses"][:, 3:] = 0.0
    m = load_amass(write_amass(tmp_path / "stand.npz", **a))
    pose = forward_kinematics(reference_body().rest_joints, m.local_quat[:1], m.root_pos[:1])
    left = pose.pos[0, JOINT_INDEX["left_shoulder"]] - pose.pos[0, JOINT_INDEX["right_shoulder"]]
    toes = pose.pos[0, JOINT_INDEX["left_foot"]] - pose.pos[0, JOINT_INDEX["left_ankle"]]
    assert left[0] > 0.2 and toes[2] > 0.05  # left = +x, facing +z
    assert m.local_quat.shape == (m.num_frames, NUM_JOINTS, 4)


def test_rotvec_to_quat_matches_scipy():
    rv = np.concatenate([np.random.default_rng(0).normal(size=(500, 3)) * 1.5, np.zeros((1, 3)), [[1e-9, 0, 0]]])
    from toolkit.sim.loaders.amass import rotvec_to_quat

    ours = rotvec_to_quat(rv)
    ref = Rotation.from_rotvec(rv).as_quat()
    np.testing.assert_allclose(ours * np.sign(ours[:, 3:]), ref * np.sign(ref[:, 3:]), atol=1e-12)


def _one_line(path, *needles):
    with pytest.raises(InputFileError) as info:
        load_amass(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    for n in needles:
        assert n in msg, msg


def test_absurd_frame_rate_is_refused(tmp_path):
    a = amass_arrays()
    a["mocap_framerate"] = np.array(1e-6)
    _one_line(write_amass(tmp_path / "slow.npz", **a), "within 1-2000 Hz", "1e-06")


def test_damaged_archive(tmp_path):
    good = write_amass(tmp_path / "good.npz", **amass_arrays())
    data = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])  # the central directory is gone: BadZipFile
    _one_line(cut, "damaged")
    flipped = bytearray(data)
    flipped[len(data) // 3 : len(data) // 3 + 64] = b"\x00" * 64  # member bytes damaged, directory intact
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(InputFileError):  # whichever check notices first; never a traceback
        load_amass(bad)


def test_header_claiming_a_huge_array_is_refused_before_allocating(tmp_path):
    path = write_amass(tmp_path / "huge.npz", **amass_arrays())
    import zipfile

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    poses = members["poses.npy"]
    # rewrite the header's shape: 10^9 frames, the same number of bytes on disk
    header = poses[: poses.index(b"\n") + 1].decode("latin1")
    forged = header.replace("(120, 156)", "(1000000000, 156)")
    forged = forged[:-1].rstrip().ljust(len(header) - 1) + "\n"  # same header length: the padding shrinks
    assert len(forged) == len(header) and forged != header
    members["poses.npy"] = forged.encode("latin1") + poses[len(header) :]
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    _one_line(path, "'poses'", "1000000000", "over the limit")
    # a smaller lie (fits the limit, not the archive)
    smaller = header.replace("(120, 156)", "(9000, 156)")
    smaller = smaller[:-1].rstrip().ljust(len(header) - 1) + "\n"
    members["poses.npy"] = smaller.encode("latin1") + poses[len(header) :]
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    _one_line(path, "'poses'", "damaged or forged header")


def test_folder_is_not_a_motion_file(tmp_path):
    folder = tmp_path / "clips.npz"
    folder.mkdir()
    _one_line(folder, "is a folder")
