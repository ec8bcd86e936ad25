"""BVH and ASF/AMC loaders and their retargeting onto the 24-joint tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.errors import InputFileError
from toolkit.frames import G_MS2
from toolkit.sim.body import BuiltinBody
from toolkit.sim.imu import simulate_imu
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.loaders.asfamc import load_asf_amc
from toolkit.sim.loaders.bvh import bvh_source_motion, load_bvh, parse_bvh
from toolkit.sim.loaders.descriptions import describe_clip
from toolkit.sim.motion import Motion
from toolkit.sim.rotations import quat_rotate, quat_to_matrix
from toolkit.sim.skeleton import JOINT_INDEX as J
from toolkit.sim.skeleton import JOINT_NAMES

BODY = BuiltinBody()
WATCHES = [BODY.named_placement("left_wrist"), BODY.named_placement("right_wrist")]
FOOT_JOINTS = [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]]


@pytest.fixture
def cmu_fixtures(fixtures_dir: Path) -> Path:
    return fixtures_dir / "cmu"


def load_fixture_bvh(cmu_fixtures: Path) -> Motion:
    return load_bvh(cmu_fixtures / "131_01_excerpt.bvh")


def load_fixture_amc(cmu_fixtures: Path) -> Motion:
    return load_asf_amc(cmu_fixtures / "02.asf", cmu_fixtures / "02_01_excerpt.amc")


def wrist_stats(m: Motion) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, median and max |acc| (2,) of both watches, and the mean specific force in the world (2, 3)."""
    sig = simulate_imu(m, BODY, WATCHES)
    mag = np.linalg.norm(sig.acc, axis=-1)
    world = quat_rotate(sig.quat, sig.acc).mean(axis=0)
    return mag.mean(axis=0), np.median(mag, axis=0), mag.max(axis=0), world


# ----------------------------------------------------------------------------------------------
# Committed fixtures (run on a fresh clone)


@pytest.mark.parametrize("which", ["bvh", "amc"])
def test_fixture_loads_normalised(cmu_fixtures: Path, which: str):
    m = load_fixture_bvh(cmu_fixtures) if which == "bvh" else load_fixture_amc(cmu_fixtures)
    # 131_01: 360 frames at 120 Hz -> 180 at 60 Hz; 02_01: 343 -> 172.
    t = 180 if which == "bvh" else 172
    assert m.rate_hz == 60.0 and m.num_frames == t
    assert m.root_pos.shape == (t, 3) and m.local_quat.shape == (t, 24, 4)
    assert m.is_finite()
    np.testing.assert_allclose(np.linalg.norm(m.local_quat, axis=-1), 1.0, atol=1e-9)
    assert m.height_m == 1.7 and m.pelvis_height_m == pytest.approx(BODY.pelvis_height_m)
    assert m.name == ("131_01_excerpt" if which == "bvh" else "02_01_excerpt")
    assert m.text == ("start walk stop (Michael Jackson styled motions)" if which == "bvh" else "walk")

    pose = forward_kinematics(BODY.rest_joints, m.local_quat[:1], m.root_pos[:1])
    pos, pelvis_rot = pose.pos[0], pose.rot[0, 0]
    feet = pos[FOOT_JOINTS]
    np.testing.assert_allclose(feet[:, [0, 2]].mean(axis=0), 0.0, atol=1e-9)
    assert np.min(feet[:, 1] - BODY.rest_joints[FOOT_JOINTS, 1]) == pytest.approx(0.0, abs=1e-9)
    assert pos[J["head"], 1] - pos[0, 1] > 0.4
    # In the pelvis frame (the person may face any direction at frame 0): left = +x, toes to +z.
    rel = (pos - pos[0]) @ pelvis_rot
    for left, right in [("left_hip", "right_hip"), ("left_shoulder", "right_shoulder"), ("left_wrist", "right_wrist")]:
        assert rel[J[left], 0] > rel[J[right], 0] + 0.1, (left, right)
    for side in ("left", "right"):
        assert rel[J[f"{side}_foot"], 2] > rel[J[f"{side}_ankle"], 2]


def test_fixture_walk_wrists_feel_gravity(cmu_fixtures: Path):
    """Over a steady walk the mean specific force is gravity's reaction: (0, +9.81, 0) in the world."""
    mean, median, peak, world = wrist_stats(load_fixture_amc(cmu_fixtures))
    np.testing.assert_allclose(world, np.broadcast_to([0.0, G_MS2, 0.0], (2, 3)), atol=0.6)
    assert np.all(np.abs(mean - G_MS2) < 3.0) and np.all(np.abs(median - G_MS2) < 3.0)
    assert np.all(peak < 50.0)


def test_fixture_bvh_wrists_plausible(cmu_fixtures: Path):
    mean, median, peak, world = wrist_stats(load_fixture_bvh(cmu_fixtures))
    # The first 3 s hold a vigorous right-arm move (mean |acc| 16.8 there): bound the median.
    # 3.5: the flat 15 Hz IMU band (issue 11) keeps the 8-15 Hz content the old 0.1 s Savitzky-Golay removed
    assert np.all(np.abs(median - G_MS2) < 3.5) and np.all(mean > G_MS2 - 1)
    assert np.all(peak < 100.0)
    assert np.all(np.abs(world[:, 1] - G_MS2) < 0.6)


def test_describe_clip(cmu_fixtures: Path, tmp_path: Path):
    assert describe_clip(cmu_fixtures / "02_01_excerpt.amc") == "walk"
    assert describe_clip(cmu_fixtures / "unknown_clip.bvh") == ""
    deep = tmp_path / "a" / "b" / "c" / "d" / "x.bvh"
    deep.parent.mkdir(parents=True)
    (tmp_path / "index.tsv").write_text("clip\tdescription\nx\tfar away\n")
    assert describe_clip(deep) == ""  # 4 levels up: beyond the search
    (tmp_path / "a" / "index.tsv").write_text("clip\tformat\tpath\tdescription\nx\tbvh\tx.bvh\tnear enough\n")
    assert describe_clip(deep) == "near enough"


# ----------------------------------------------------------------------------------------------
# Hand-made BVH files


def rz(a: float) -> np.ndarray:
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def ry(a: float) -> np.ndarray:
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rx(a: float) -> np.ndarray:
    c, s = np.cos(np.radians(a)), np.sin(np.radians(a))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


TINY_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 1 2 3
  CHANNELS 6 Zrotation Xposition Yrotation Yposition Xrotation Zposition
  JOINT Arm
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 1 0 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0083333
0 0 0 0 0 0 0 0 0
30 10 -20 20 45 30 40 50 60
"""


def test_channel_order_respected(tmp_path: Path):
    path = tmp_path / "tiny.bvh"
    path.write_text(TINY_BVH)
    bvh = parse_bvh(path)
    assert bvh.rate_hz == 120.0 and bvh.values.shape == (2, 9)
    src = bvh_source_motion(bvh)
    # Root: channels Z, Y, X rotation (position channels interleaved) -> Rz(30) Ry(-20) Rx(45).
    root = rz(30) @ ry(-20) @ rx(45)
    # Arm: "Zrotation Xrotation Yrotation" -> Rz(40) Rx(50) Ry(60), composed after the root's.
    arm = root @ rz(40) @ rx(50) @ ry(60)
    got = quat_to_matrix(src.global_quat[1])
    np.testing.assert_allclose(got[0], root, atol=1e-12)
    np.testing.assert_allclose(got[1], arm, atol=1e-12)
    np.testing.assert_allclose(src.root_pos[1], [1 + 10, 2 + 20, 3 + 30], atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(src.global_quat[0]), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(src.rest_points["Arm/End"], [2, 3, 3])
    # The order matters: IMUSim's fixed ZXY-for-all (here: ZYX for the arm) would be far off.
    wrong = root @ rz(40) @ ry(60) @ rx(50)
    assert np.degrees(Rotation.from_matrix(wrong.T @ got[1]).magnitude()) > 20


def _joints_131(arms_down: bool) -> list[tuple[str, str | None, tuple, str, tuple | None]]:
    """A 131-style skeleton: (name, parent, offset, rotation order, end-site offset)."""

    def arm(sign: float, length: float) -> tuple:
        return (0.0, -length, 0.0) if arms_down else (sign * length, 0.0, 0.0)

    joints: list[tuple[str, str | None, tuple, str, tuple | None]] = [
        ("Hips", None, (0, 0, 0), "ZYX", None),
        ("lowerback", "Hips", (0, 0, 0), "ZYX", None),
        ("Chest", "lowerback", (0, 2, 0), "ZYX", None),
        ("Chest2", "Chest", (0, 2, 0), "ZYX", None),
        ("lowerneck", "Chest2", (0, 0, 0), "ZYX", None),
        ("Neck", "lowerneck", (0, 1.6, 0), "ZYX", None),
        ("Head", "Neck", (0, 1.6, 0), "ZYX", (0, 1.6, 0)),
    ]
    for side, s, short in (("Left", 1.0, "L"), ("Right", -1.0, "R")):
        lower = short.lower()
        joints += [
            (f"{short}HipJoint", "Hips", (0, 0, 0), "ZYX", None),
            (f"{side}Hip", f"{short}HipJoint", (s * 1.2, -1.6, 0.7), "ZYX", None),
            (f"{side}Knee", f"{side}Hip", (0, -7, 0), "ZYX", None),
            (f"{side}Ankle", f"{side}Knee", (0, -7, 0), "ZYX", None),
            (f"{side}Toe", f"{side}Ankle", (0, -0.4, 2.2), "ZYX", (0, 0, 1.1)),
            (f"{side}Collar", "Chest2", (0, 0, 0), "ZYX", None),
            (f"{side}Shoulder", f"{side}Collar", (s * 3, 1.5, 0), "ZXY", None),
            (f"{side}Elbow", f"{side}Shoulder", arm(s, 4.25), "ZXY", None),
            (f"{side}Wrist", f"{side}Elbow", arm(s, 3.3), "ZXY", None),
            (f"{lower}hand", f"{side}Wrist", (0, 0, 0), "ZXY", None),
            (f"{short}Fingers", f"{lower}hand", arm(s, 0.66), "ZXY", arm(s, 0.53)),
        ]
    return joints


def write_bvh(path: Path, joints: list, rotations: dict[str, Rotation], frames: int = 5) -> Path:
    """Write a BVH with the given joints, each joint holding a constant rotation (default none)."""
    names = [j[0] for j in joints]
    order = {j[0]: j[3] for j in joints}
    lines = ["HIERARCHY"]

    def emit(k: int, depth: int) -> None:
        name, parent, offset, rot_order, end = joints[k]
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}")
        chans = " ".join(f"{a}rotation" for a in rot_order)
        if parent is None:
            chans = "6 Xposition Yposition Zposition " + chans
        else:
            chans = "3 " + chans
        lines.append(f"{pad}  CHANNELS {chans}")
        for c, child in enumerate(joints):
            if child[1] == name:
                emit(c, depth + 1)
        if end is not None:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {end[0]} {end[1]} {end[2]}", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    row: list[float] = [0.0, 17.0, 0.0]
    for name in names:
        rot = rotations.get(name, Rotation.identity())
        row += list(rot.as_euler(order[name], degrees=True))
    # The file lists joints depth-first, which for these tables is not the list order: reorder.
    written = [ln.split()[1] for ln in lines if ln.strip().startswith(("ROOT", "JOINT"))]
    per_joint = {n: row[3 + 3 * i : 6 + 3 * i] for i, n in enumerate(names)}
    values = row[:3] + [v for n in written for v in per_joint[n]]
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0166667"]
    lines += [" ".join(f"{v:.10f}" for v in values)] * frames
    path.write_text("\n".join(lines) + "\n")
    return path


def global_rot(m: Motion, joint: str) -> np.ndarray:
    pose = forward_kinematics(BODY.rest_joints, m.local_quat[:1], m.root_pos[:1])
    return pose.rot[0, J[joint]]


def test_rest_poses_map_to_the_smpl_rest(tmp_path: Path):
    tpose = load_bvh(write_bvh(tmp_path / "t.bvh", _joints_131(False), {}))
    down = load_bvh(write_bvh(tmp_path / "d.bvh", _joints_131(True), {}))
    assert tpose.rate_hz == 60.0 and tpose.num_frames == 5
    # T-pose rest with the arms exactly along +-x: A = I, the SMPL arms stay in their rest pose.
    for j in ("left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist"):
        np.testing.assert_allclose(global_rot(tpose, j), np.eye(3), atol=1e-9)
    # Arms-down rest: the SMPL arm hangs down, palm toward the thigh: the left watch's face (+Z,
    # dorsal) looks outwards (+x), its +X (toward the hand) points down.
    for side, sign in (("left", 1.0), ("right", -1.0)):
        r = global_rot(down, f"{side}_elbow")
        np.testing.assert_allclose(r @ [sign, 0, 0], [0, -1, 0], atol=1e-9)  # forearm direction
        np.testing.assert_allclose(r @ [0, 1, 0], [sign, 0, 0], atol=1e-9)  # back of the hand
    watch = BODY.named_placement("left_wrist").rot_js
    np.testing.assert_allclose(global_rot(down, "left_elbow") @ watch, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-9)


@pytest.mark.filterwarnings("ignore:Gimbal lock")  # Rx(-90) written as ZXY angles: exact, not unique
def test_arms_down_and_tpose_sources_agree(tmp_path: Path):
    """The same physical pose from an arms-down and a T-pose rest gives the same SMPL arms."""
    a_left, a_right = Rotation.from_euler("z", -90, degrees=True), Rotation.from_euler("z", 90, degrees=True)
    euler = Rotation.from_euler
    shoulder = {"Left": euler("zxy", [20, -50, 35], degrees=True), "Right": euler("zxy", [-30, 40, 10], degrees=True)}
    elbow = {"Left": euler("y", 70, degrees=True), "Right": euler("xz", [30, -60], degrees=True)}
    rot_t, rot_d = {}, {}
    for side, a in (("Left", a_left), ("Right", a_right)):
        rot_t[f"{side}Shoulder"], rot_t[f"{side}Elbow"] = shoulder[side], elbow[side]
        # G_down A = G_tpose  =>  shoulder_down = shoulder A^-1, elbow_down = A elbow A^-1.
        rot_d[f"{side}Shoulder"] = shoulder[side] * a.inv()
        rot_d[f"{side}Elbow"] = a * elbow[side] * a.inv()
    tpose = load_bvh(write_bvh(tmp_path / "t.bvh", _joints_131(False), rot_t))
    down = load_bvh(write_bvh(tmp_path / "d.bvh", _joints_131(True), rot_d))
    pt = forward_kinematics(BODY.rest_joints, tpose.local_quat, tpose.root_pos)
    pd = forward_kinematics(BODY.rest_joints, down.local_quat, down.root_pos)
    np.testing.assert_allclose(pd.pos, pt.pos, atol=1e-9)
    np.testing.assert_allclose(pd.rot, pt.rot, atol=1e-9)

    # Directions only: arm straight forward, reached from either rest by the natural rotation.
    fwd_t = load_bvh(
        write_bvh(tmp_path / "ft.bvh", _joints_131(False), {"LeftShoulder": euler("y", -90, degrees=True)})
    )
    fwd_d = load_bvh(write_bvh(tmp_path / "fd.bvh", _joints_131(True), {"LeftShoulder": euler("x", -90, degrees=True)}))
    for m in (fwd_t, fwd_d):
        for j in ("left_shoulder", "left_elbow", "left_wrist"):
            np.testing.assert_allclose(global_rot(m, j) @ [1, 0, 0], [0, 0, 1], atol=1e-9)


# ----------------------------------------------------------------------------------------------
# Bad input: one clear line each


def assert_one_line(err: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg


def _fixture_text(cmu_fixtures: Path) -> str:
    return (cmu_fixtures / "131_01_excerpt.bvh").read_text()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s[:-100], r"truncated BVH: frame 360 has \d+ values, expected 96"),
        (lambda s: s[: len(s) // 2], r"truncated BVH: header declares 360 frames, found 179"),
        (lambda s: "\n".join(s.splitlines()[:300]), r"truncated BVH: header declares 360 frames, found 113"),
        (lambda s: s[: s.index("MOTION")], r"no MOTION section"),
        (lambda s: s.replace("MOTION", "MOTION\r\nFrames: 360"), r"expected 'Frame Time: <value>'"),
        (lambda s: _replace_value(s, 3, 10, "abc"), r"frame 3, LeftHip Yrotation: 'abc' is not a number"),
        (lambda s: _replace_value(s, 7, 0, "nan"), r"frame 7, Hips Xposition: value nan is not finite"),
        (lambda s: s.replace("OFFSET 1.24777", "OFFSET x1.2"), r"line \d+: expected a number for LeftHip OFFSET"),
        (
            lambda s: s.replace("JOINT LeftWrist", "JOINT LeftBone7"),
            r"unknown skeleton.*cannot match SMPL joints left_wrist \(source joints not matched: "
            r".*LeftBone7.*--joint-map",
        ),
    ],
)
def test_bad_bvh(cmu_fixtures: Path, tmp_path: Path, edit, message: str):
    path = tmp_path / "bad.bvh"
    path.write_text(edit(_fixture_text(cmu_fixtures)))
    with pytest.raises(InputFileError, match=message) as err:
        load_bvh(path)
    assert_one_line(err, path)


def _replace_value(text: str, frame: int, column: int, value: str) -> str:
    lines = text.splitlines()
    start = lines.index("Frame Time: .0083333") + 1
    parts = lines[start + frame - 1].split()
    parts[column] = value
    lines[start + frame - 1] = " ".join(parts)
    return "\n".join(lines)


def test_too_short_bvh(tmp_path: Path):
    """2 frames at 120 Hz cannot be resampled to 60 Hz: a one-line InputFileError, not a ConfigError."""
    path = write_bvh(tmp_path / "short.bvh", _joints_131(False), {}, frames=2)
    path.write_text(path.read_text().replace("Frame Time: 0.0166667", "Frame Time: 0.0083333"))
    with pytest.raises(InputFileError, match=r"cannot resample a motion of 2 frames") as err:
        load_bvh(path)
    assert_one_line(err, path)


def test_missing_files(tmp_path: Path, cmu_fixtures: Path):
    with pytest.raises(InputFileError, match="file not found") as err:
        load_bvh(tmp_path / "nope.bvh")
    assert_one_line(err, tmp_path / "nope.bvh")
    with pytest.raises(InputFileError, match="file not found"):
        load_asf_amc(tmp_path / "nope.asf", cmu_fixtures / "02_01_excerpt.amc")
    with pytest.raises(InputFileError, match="file not found"):
        load_asf_amc(cmu_fixtures / "02.asf", tmp_path / "nope.amc")


def _drop_lfingers(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.startswith("lfingers"))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.replace("lhumerus", "lhumerusX", 1), r"bone 'lhumerusX' is not in the ASF skeleton"),
        (_drop_lfingers, r"AMC lacks bones of the ASF skeleton: lfingers"),
        (lambda s: s.replace("lradius 20.3824", "lradius 20.3824 1"), r"bone lradius has 2 values, expected 1"),
        (lambda s: s.replace("lradius 20.3824", "lradius twenty"), r"frame 1, bone lradius: 'twenty' is not numeric"),
        (lambda s: s.replace("lradius 20.3824", "lradius inf"), r"frame 1, bone lradius: non-finite value"),
        (lambda s: s.replace("\n2\r\n", "\n"), r"a frame repeats bone|lacks bone"),
        (lambda s: s.split("\n1\r\n")[0], r"no frames in the AMC file"),
    ],
)
def test_bad_amc(cmu_fixtures: Path, tmp_path: Path, edit, message: str):
    text = (cmu_fixtures / "02_01_excerpt.amc").read_bytes().decode()
    path = tmp_path / "bad.amc"
    path.write_bytes(edit(text).encode())
    with pytest.raises(InputFileError, match=message) as err:
        load_asf_amc(cmu_fixtures / "02.asf", path)
    assert_one_line(err, path)


def test_bad_asf(cmu_fixtures: Path, tmp_path: Path):
    text = (cmu_fixtures / "02.asf").read_bytes().decode()
    path = tmp_path / "bad.asf"
    path.write_text(text.replace("lradius lwrist", "lradius lwristX"))
    with pytest.raises(InputFileError, match=r":hierarchy names bone 'lwristX'") as err:
        load_asf_amc(path, cmu_fixtures / "02_01_excerpt.amc")
    assert_one_line(err, path)
    path.write_text(text.replace("name lhumerus", "name lupperarm").replace("lhumerus", "lupperarm"))
    amc = tmp_path / "renamed.amc"
    amc.write_text((cmu_fixtures / "02_01_excerpt.amc").read_text().replace("lhumerus", "lupperarm"))
    with pytest.raises(InputFileError, match=r"unknown skeleton.*lacks joints: lhumerus"):
        load_asf_amc(path, amc)


# ----------------------------------------------------------------------------------------------
# The real CMU files in ../shared (skipped when absent)


def test_shared_bvh_files_physically_plausible(shared_data: Path):
    files = sorted((shared_data / "cmu-mocap" / "bvh").glob("*.bvh"))
    assert files
    for path in files:
        m = load_bvh(path)
        assert m.is_finite() and m.text, path.name
        mean, median, peak, world = wrist_stats(m)
        assert np.all(np.abs(median - G_MS2) < 4.0), (path.name, median)  # 131_03 (hops): 13.0
        # 15 Hz IMU band (issue 11): 131_01 right 15.8, 131_03 (hops) right 17.7 (0.1 s Savitzky-Golay: < 15.8)
        assert np.all((mean > G_MS2 - 1) & (mean < G_MS2 + 9)), (path.name, mean)
        assert np.all(peak < 100.0), (path.name, peak)
        assert np.all(np.abs(world[:, 1] - G_MS2) < 0.6), (path.name, world)
        if path.stem == "131_01":  # IMUSim with the right channel order: means 11.7 / 14.9 m/s^2
            np.testing.assert_allclose(mean, [11.7, 14.9], atol=1.5)


@pytest.mark.parametrize("clip", ["02_01", "02_05", "03_01", "03_02", "11_01"])
def test_shared_asf_amc_physically_plausible(shared_data: Path, clip: str):
    subject = clip.split("_")[0]
    folder = shared_data / "cmu-mocap" / "asfamc" / subject
    m = load_asf_amc(folder / f"{subject}.asf", folder / f"{clip}.amc")
    assert m.is_finite() and m.text
    mean, median, peak, world = wrist_stats(m)
    assert np.all(np.abs(median - G_MS2) < 3.0) and np.all((mean > G_MS2 - 1) & (mean < G_MS2 + 6))
    assert np.all(peak < 100.0)
    assert np.all(np.abs(world[:, 1] - G_MS2) < 0.6)
    if clip == "03_02":  # its arms are not captured for the first 0.4 s, then snap into place
        assert m.meta["dropped_leading_frames"] == 50


def test_shared_bvh_and_amc_of_one_clip_agree(shared_data: Path):
    """CMU 01_01 exists as cgspeed BVH (T-pose reference frame first) and as ASF/AMC."""
    root = shared_data / "cmu-mocap"
    b = load_bvh(root / "bvh" / "01_01.bvh")
    a = load_asf_amc(root / "asfamc" / "01" / "01.asf", root / "asfamc" / "01" / "01_01.amc")
    assert b.meta["dropped_leading_frames"] == 1 and a.meta["dropped_leading_frames"] == 0
    assert b.num_frames == a.num_frames
    pb = forward_kinematics(BODY.rest_joints, b.local_quat, b.root_pos)
    pa = forward_kinematics(BODY.rest_joints, a.local_quat, a.root_pos)
    assert np.max(np.linalg.norm(pb.pos - pa.pos, axis=-1)) < 0.02
    ang = np.degrees(np.arccos(np.clip((np.abs(np.sum(pb.quat * pa.quat, axis=-1))), 0, 1)) * 2)
    for j, name in enumerate(JOINT_NAMES):
        assert ang[:, j].max() < (3.0 if name == "spine3" else 0.1), name


def test_shared_standing_still_reads_g(shared_data: Path):
    """131_02 ("start walk stop") begins standing: there the watches read |f| ~ g, pointing up."""
    m = load_bvh(shared_data / "cmu-mocap" / "bvh" / "131_02.bvh")
    sig = simulate_imu(m, BODY, WATCHES)
    speed = np.linalg.norm(np.gradient(m.root_pos, axis=0), axis=1) * m.rate_hz
    gyro = np.linalg.norm(sig.gyro, axis=-1).max(axis=1)
    still = (speed < 0.05) & (gyro < 0.4)
    still[:4] = False  # the derivative filter's edge frames
    assert still[:30].sum() >= 10
    mag = np.linalg.norm(sig.acc[still], axis=-1)
    assert np.all(np.abs(mag.mean(axis=0) - G_MS2) < 0.5)
    world = quat_rotate(sig.quat[still], sig.acc[still]).mean(axis=0)
    np.testing.assert_allclose(world, np.broadcast_to([0.0, G_MS2, 0.0], (2, 3)), atol=0.8)


def test_shared_describe_clip(shared_data: Path):
    root = shared_data / "cmu-mocap"
    assert describe_clip(root / "asfamc" / "02" / "02_01.amc") == "walk"
    assert describe_clip(root / "bvh" / "131_03.bvh") == "start hop stop (Michael Jackson styled motions)"
