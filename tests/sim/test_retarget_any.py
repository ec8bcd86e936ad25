"""Any humanoid BVH: one motion written in several skeleton conventions gives one wrist IMU.

The generator below writes the SAME physical motion (a left forearm turning at a known rate, a
root swaying at a known frequency) on the built-in body's skeleton in different conventions:
joint names, rest poses (T-pose, bones along local X, A-pose), units, world up axes and headings,
channel layouts (3 or 6 channels per joint, translation channels replacing or adding to offsets).
A convention with per-joint rest frames ``M_j`` writes source global rotations
``G_src = W G_true M_j W^T`` (``W``: our world -> the source's) and rest offsets
``W M_parent^T (p_child - p_parent)`` scaled to its units.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2
from toolkit.sim.body import BuiltinBody
from toolkit.sim.imu import simulate_imu
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.loaders.bvh import parse_bvh
from toolkit.sim.loaders.retarget import RetargetOptions
from toolkit.sim.loaders.schemes import split_name
from toolkit.sim.pipeline import SimulationConfig, simulate_files
from toolkit.sim.rotations import quat_rotate
from toolkit.sim.skeleton import JOINT_INDEX, PARENTS, SEGMENT_CHILD
from toolkit.sim.sources import load_motion

BODY = BuiltinBody()
WATCHES = [BODY.named_placement("left_wrist"), BODY.named_placement("right_wrist")]
RATE = 60.0
DURATION_S = 4.0
SWAY_M, SWAY_HZ = 0.1, 0.5  # root sway along x
TWIST_RAD_S = 1.5  # left forearm turning about its own axis
SWING_RAD, SWING_HZ = 0.5, 0.7  # and swinging about the vertical

N = 22  # SMPL joints 0..21 (the hands become End Sites)
CMU_NAMES = (
    "Hips LeftUpLeg RightUpLeg Spine LeftLeg RightLeg Spine1 LeftFoot RightFoot Spine2 LeftToeBase RightToeBase "
    "Neck LeftShoulder RightShoulder Head LeftArm RightArm LeftForeArm RightForeArm LeftHand RightHand"
).split()
BANDAI_NAMES = (
    "Hips UpperLeg_L UpperLeg_R Spine LowerLeg_L LowerLeg_R Chest Foot_L Foot_R UpperChest Toes_L Toes_R "
    "Neck Shoulder_L Shoulder_R Head UpperArm_L UpperArm_R LowerArm_L LowerArm_R Hand_L Hand_R"
).split()
MIXAMO_NAMES = ["mixamorig:" + n for n in CMU_NAMES]
ODD_NAMES = [f"Bone{k:02d}" for k in range(N)]


def _minimal(a: np.ndarray, b: np.ndarray) -> Rotation:
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis)
    return Rotation.from_rotvec(axis / s * np.arctan2(s, np.dot(a, b))) if s > 1e-12 else Rotation.identity()


def _bone_dir(j: int) -> np.ndarray:
    start, end = BODY.segment_ends(j)
    return end - start


@dataclass
class Convention:
    """How a BVH writer draws the skeleton (see the module docstring)."""

    names: list[str]
    rest: str = "tpose"  # "tpose", "along-x" (Bandai), "apose"
    world: Rotation = field(default_factory=Rotation.identity)  # W: our world -> the source world
    unit_m: float = 1.0
    order: str = "ZXY"
    six_channels: bool = False  # 6 channels on every joint
    translation: str = "replace"  # how non-root position channels are meant ("replace" or "add")
    extra_root: str | None = None  # a fixed root above the hips (Bandai's joint_Root)


def rest_frames(conv: Convention) -> list[Rotation]:
    if conv.rest == "along-x":
        return [_minimal(np.array([1.0, 0.0, 0.0]), _bone_dir(j)) for j in range(N)]
    if conv.rest == "apose":
        arms = {16: -45, 18: -45, 20: -45, 17: 45, 19: 45, 21: 45}  # arms 45 deg down at rest
        return [Rotation.from_euler("z", -arms.get(j, 0), degrees=True) for j in range(N)]
    return [Rotation.identity()] * N


def true_motion(frames: int) -> tuple[np.ndarray, list[Rotation]]:
    """Pelvis positions (T, 3) [m] and global rotations per joint relative to the T-pose."""
    t = np.arange(frames) / RATE
    pelvis = BODY.rest_joints[0] + np.stack([SWAY_M * np.sin(2 * np.pi * SWAY_HZ * t), 0 * t, 0 * t], axis=1)
    theta = SWING_RAD * np.sin(2 * np.pi * SWING_HZ * t)
    forearm = Rotation.from_rotvec(np.outer(theta, [0, 1, 0])) * Rotation.from_rotvec(
        np.outer(TWIST_RAD_S * t, [1, 0, 0])
    )
    right = Rotation.from_rotvec(np.outer(-0.3 * np.sin(2 * np.pi * 0.4 * t), [0, 0, 1]))
    glob = [Rotation.identity(frames)] * N
    for j in (18, 20):
        glob[j] = forearm
    for j in (19, 21):
        glob[j] = right
    return pelvis, glob


def write_bvh(path: Path, conv: Convention, frames: int = int(DURATION_S * RATE) + 1) -> Path:
    """The motion of :func:`true_motion` as a BVH file in convention ``conv``."""
    rest = BODY.rest_joints
    m = rest_frames(conv)
    w = conv.world
    pelvis, glob = true_motion(frames)
    src = [w * glob[j] * m[j] * w.inv() for j in range(N)]
    offsets = [np.zeros(3)] + [
        w.apply(m[PARENTS[j]].inv().apply(rest[j] - rest[PARENTS[j]])) / conv.unit_m for j in range(1, N)
    ]
    ends = {}
    for j in range(N):
        if not any(PARENTS[c] == j for c in range(1, N)):
            end = BODY.segment_ends(j)[1] if SEGMENT_CHILD[j] < 0 or SEGMENT_CHILD[j] >= N else rest[SEGMENT_CHILD[j]]
            ends[j] = w.apply(m[j].inv().apply(end - rest[j])) / conv.unit_m
    hips_pos = w.apply(pelvis) / conv.unit_m
    rot_ch = " ".join(f"{a}rotation" for a in conv.order)
    lines = ["HIERARCHY"]
    columns: list[np.ndarray] = []
    depth0 = 0
    if conv.extra_root:
        lines += [
            f"ROOT {conv.extra_root}",
            "{",
            "  OFFSET 0 0 0",
            f"  CHANNELS 6 Xposition Yposition Zposition {rot_ch}",
        ]
        columns.append(np.zeros((frames, 6)))
        depth0 = 1

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if j == 0 and not conv.extra_root else "JOINT"
        off = hips_pos[0] if (j == 0 and conv.extra_root) else offsets[j]
        lines.extend(
            [f"{pad}{kind} {conv.names[j]}", pad + "{", f"{pad}  OFFSET {off[0]:.9f} {off[1]:.9f} {off[2]:.9f}"]
        )
        parent_rot = src[PARENTS[j]] if j > 0 else Rotation.identity(frames)
        local = (parent_rot.inv() * src[j]).as_euler(conv.order, degrees=True)
        if j == 0:
            pos = hips_pos if (conv.translation == "replace" or not conv.extra_root) else hips_pos - hips_pos[0]
        elif conv.translation == "replace":
            pos = np.broadcast_to(offsets[j], (frames, 3))
        else:
            pos = np.zeros((frames, 3))
        if j == 0 or conv.six_channels:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_ch}")
            columns.append(np.concatenate([pos, local], axis=1))
        else:
            lines.append(f"{pad}  CHANNELS 3 {rot_ch}")
            columns.append(local)
        for c in range(1, N):
            if PARENTS[c] == j:
                emit(c, depth + 1)
        if j in ends:
            e = ends[j]
            lines.extend(
                [f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {e[0]:.9f} {e[1]:.9f} {e[2]:.9f}", pad + "  }"]
            )
        lines.append(pad + "}")

    emit(0, depth0)
    if conv.extra_root:
        lines.append("}")
    values = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1 / RATE:.7f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n")
    return path


CMU_LIKE = Convention(CMU_NAMES, unit_m=0.0254)
BANDAI_LIKE = Convention(BANDAI_NAMES, rest="along-x", unit_m=0.01, six_channels=True, extra_root="joint_Root")
MIXAMO_LIKE = Convention(MIXAMO_NAMES, rest="apose", world=Rotation.from_euler("y", 180, degrees=True), order="ZYX")


def imu(path: Path, **options) -> tuple[np.ndarray, np.ndarray]:
    m = load_motion(path, options=RetargetOptions(**options))
    sig = simulate_imu(m, BODY, WATCHES)
    return sig.acc, sig.gyro


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(a**2, axis=-1))))


def test_one_motion_three_conventions_one_imu(tmp_path: Path):
    """Done-when: CMU-like, Bandai-like and Mixamo-like files give the same wrist IMU end to end."""
    paths = [
        write_bvh(tmp_path / f"{n}.bvh", c)
        for n, c in (("cmu", CMU_LIKE), ("bandai", BANDAI_LIKE), ("mixamo", MIXAMO_LIKE))
    ]
    config = SimulationConfig(placements=("left_wrist", "right_wrist"))
    simulate_files([str(p) for p in paths], tmp_path / "out", config, workers=1, progress=False)
    out = {p.stem: np.load(tmp_path / "out" / f"{p.stem}_v0.npz", allow_pickle=False) for p in paths}
    ref = out["cmu"]
    for other in ("bandai", "mixamo"):
        assert out[other]["acc"].shape == ref["acc"].shape
        assert rms(out[other]["acc"] - ref["acc"]) < 0.05, other
        assert rms(out[other]["gyro"] - ref["gyro"]) < 0.01, other
    # And the physics is the generator's: |gyro| of the left forearm = sqrt(swing rate^2 + twist rate^2).
    t = np.arange(ref["gyro"].shape[0]) / RATE
    swing_rate = SWING_RAD * 2 * np.pi * SWING_HZ * np.cos(2 * np.pi * SWING_HZ * t)
    expected = np.sqrt(swing_rate**2 + TWIST_RAD_S**2)
    inner = slice(int(0.5 * RATE), -int(0.5 * RATE))
    got = np.linalg.norm(ref["gyro"][:, 0], axis=-1)
    assert np.sqrt(np.mean((got - expected)[inner] ** 2)) < 0.05
    # The right arm stands still but for a slow swing: its watch feels ~ gravity.
    assert abs(np.median(np.linalg.norm(ref["acc"][:, 1], axis=-1)) - G_MS2) < 0.3


def test_detected_units_up_axis_and_alignment(tmp_path: Path):
    metas = {}
    for name, conv in (("cmu", CMU_LIKE), ("bandai", BANDAI_LIKE), ("mixamo", MIXAMO_LIKE)):
        metas[name] = load_motion(write_bvh(tmp_path / f"{name}.bvh", conv)).meta
    assert [metas[n]["source_units"] for n in ("cmu", "bandai", "mixamo")] == ["inch", "cm", "m"]
    for meta in metas.values():
        assert meta["source_up_axis"] == "+y" and meta["skeleton_scheme"] == "generic"
        assert 1.3 < meta["source_height_m"] < 2.0
    assert metas["bandai"]["alignment_from"] == "frames" and metas["cmu"]["alignment_from"] == "rest pose"
    assert metas["bandai"]["translation_channels"] == "replace"
    np.testing.assert_allclose(metas["mixamo"]["world_alignment"], np.diag([-1.0, 1.0, -1.0]), atol=1e-9)


def test_units_override(tmp_path: Path):
    path = write_bvh(tmp_path / "bandai.bvh", BANDAI_LIKE)
    acc_auto, _ = imu(path)
    acc_cm, _ = imu(path, units="cm")
    np.testing.assert_allclose(acc_cm, acc_auto)  # motion is normalised to 1.7 m: units only name the actor
    with pytest.raises(InputFileError, match=r"with --units m the actor is 1\d\d m tall .*--units auto"):
        imu(path, units="m")
    with pytest.raises(ConfigError, match="unknown units 'furlong'"):
        RetargetOptions(units="furlong").validate()
    with pytest.raises(ConfigError, match="unknown up axis 'w'"):
        RetargetOptions(up_axis="w").validate()


def test_z_up_source_detected_and_overridable(tmp_path: Path):
    ref_acc, ref_gyro = imu(write_bvh(tmp_path / "y.bvh", CMU_LIKE))
    z_up = Convention(CMU_NAMES, unit_m=0.01, world=Rotation.from_euler("x", 90, degrees=True))
    path = write_bvh(tmp_path / "z.bvh", z_up)
    assert load_motion(path).meta["source_up_axis"] == "+z"
    for options in ({}, {"up_axis": "z"}):
        acc, gyro = imu(path, **options)
        assert rms(acc - ref_acc) < 0.05 and rms(gyro - ref_gyro) < 0.01
    wrong, _ = imu(path, up_axis="y")  # forced wrong: the body lies on its back, gravity is elsewhere
    assert rms(wrong - ref_acc) > 3.0


def test_translation_channels_honoured(tmp_path: Path):
    """The pelvis path lives in the Hips' channels under a fixed root; both channel readings work."""
    replace_path = write_bvh(tmp_path / "replace.bvh", BANDAI_LIKE)
    add = Convention(
        BANDAI_NAMES, rest="along-x", unit_m=0.01, six_channels=True, extra_root="joint_Root", translation="add"
    )
    add_path = write_bvh(tmp_path / "add.bvh", add)
    assert load_motion(add_path).meta["translation_channels"] == "add"
    for path in (replace_path, add_path):
        m = load_motion(path)
        t = np.arange(m.num_frames) / m.rate_hz
        x = m.root_pos[:, 0] - m.root_pos[0, 0]
        np.testing.assert_allclose(x, SWAY_M * np.sin(2 * np.pi * SWAY_HZ * t), atol=2e-3)  # 1.7 m body = source
        assert np.ptp(m.root_pos[:, 1]) < 1e-6
    a1, g1 = imu(replace_path)
    a2, g2 = imu(add_path)
    assert rms(a1 - a2) < 0.05 and rms(g1 - g2) < 0.01


def test_joint_map_yaml_and_unmatched_message(tmp_path: Path):
    odd = write_bvh(tmp_path / "odd.bvh", Convention(ODD_NAMES))
    with pytest.raises(
        InputFileError, match=r"cannot match SMPL joints left_hip, left_knee, .*Bone00.*--joint-map"
    ) as err:
        load_motion(odd)
    assert "\n" not in str(err.value) and str(odd) in str(err.value)
    smpl = [n for n, k in sorted(JOINT_INDEX.items(), key=lambda kv: kv[1])][:N]
    joint_map = tmp_path / "map.yaml"
    joint_map.write_text("".join(f"Bone{k:02d}: {smpl[k]}\n" for k in range(N)))
    acc, gyro = imu(odd, joint_map=str(joint_map))
    ref_acc, ref_gyro = imu(write_bvh(tmp_path / "cmu.bvh", CMU_LIKE))
    assert rms(acc - ref_acc) < 0.05 and rms(gyro - ref_gyro) < 0.01
    # A partial map fixes what the names miss; a bad target name is a clear config error.
    partial = write_bvh(tmp_path / "partial.bvh", Convention([*CMU_NAMES[:18], "Bone18", *CMU_NAMES[19:]]))
    assert load_motion(partial).meta["skeleton_scheme"] == "generic"  # forearm found as the hand's parent
    bad = tmp_path / "bad.yaml"
    bad.write_text("Bone00: pelvis\nBone01: left_thigh\n")
    with pytest.raises(ConfigError, match="'Bone01' maps to 'left_thigh', not an SMPL joint"):
        RetargetOptions(joint_map=str(bad)).validate()
    absent = tmp_path / "absent.yaml"
    absent.write_text("Nope: pelvis\n")
    with pytest.raises(InputFileError, match="joint map names joints this skeleton lacks: Nope"):
        load_motion(odd, options=RetargetOptions(joint_map=str(absent)))


@pytest.mark.parametrize(
    "name, side, base",
    [
        ("mixamorig:LeftForeArm", "left", "forearm"),
        ("UpperArm_L", "left", "upperarm"),
        ("left_elbow", "left", "elbow"),
        ("Bip01 R Thigh", "right", "thigh"),
        ("RightUpLeg", "right", "upleg"),
        ("Toes_R", "right", "toes"),
        ("Spine1", None, "spine1"),
        ("LeftShin", "left", "shin"),
    ],
)
def test_name_splitting(name: str, side: str | None, base: str):
    assert split_name(name) == (side, base)


def test_deep_hierarchy_is_a_clear_error(tmp_path: Path):
    depth = 5000
    lines = ["HIERARCHY", "ROOT j0", "{", "OFFSET 0 0 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    for k in range(1, depth):
        lines += [f"JOINT j{k}", "{", "OFFSET 0 1 0", "CHANNELS 3 Zrotation Xrotation Yrotation"]
    lines += ["}"] * depth + ["MOTION", "Frames: 1", "Frame Time: 0.01", " ".join(["0"] * 3 * depth)]
    path = tmp_path / "deep.bvh"
    path.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match="hierarchy nested deeper than 256 joints") as err:
        parse_bvh(path)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------------------------
# Bandai Namco clips from ../shared (extracted from the archive; skipped when absent)

BANDAI_CLIPS = ("dataset-1_walk_normal_001.bvh", "dataset-1_bye_normal_001.bvh", "dataset-1_bow_normal_001.bvh")


@pytest.fixture(scope="module")
def bandai_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.conftest import shared_data_root

    root = shared_data_root()
    archive = root / "bandai-namco" / "bandai-namco-motion.tar.xz" if root else None
    if archive is None or not archive.is_file():
        pytest.skip("../shared/data/bandai-namco/bandai-namco-motion.tar.xz not present")
    out = tmp_path_factory.mktemp("bandai")
    found: dict[str, Path] = {}
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:  # streamed: the dataset-1 clips come early, stop when all are found
            name = Path(member.name).name
            if name in BANDAI_CLIPS and member.isfile():
                data = tar.extractfile(member)
                assert data is not None
                (out / name).write_bytes(data.read())
                found[name] = out / name
                if len(found) == len(BANDAI_CLIPS):
                    break
    if len(found) < len(BANDAI_CLIPS):
        pytest.skip("Bandai clips not found in the archive")
    return found


@pytest.mark.shared
def test_shared_bandai_clips_physically_sensible(bandai_clips: dict[str, Path]):
    for name, path in bandai_clips.items():
        m = load_motion(path)
        assert m.meta["source_units"] == "cm" and m.meta["source_up_axis"] == "+y", name
        assert m.meta["skeleton_scheme"] == "generic" and m.meta["translation_channels"] == "replace"
        sig = simulate_imu(m, BODY, WATCHES)
        mag = np.linalg.norm(sig.acc, axis=-1)
        world = quat_rotate(sig.quat, sig.acc).mean(axis=0)
        np.testing.assert_allclose(world[:, 1], G_MS2, atol=0.6)  # the mean specific force holds the body up
        assert np.all(mag.max(axis=0) < 100.0), (name, mag.max(axis=0))
        if "walk" in name:
            travel = m.root_pos[-1] - m.root_pos[0]
            assert travel[2] > 3.0 and abs(travel[0]) < 0.5  # walks forward (+z) several metres
            joints = forward_kinematics(BODY.rest_joints, m.local_quat[:1], m.root_pos[:1]).pos[0]
            for side in ("left", "right"):  # arms hang at the start: wrists well below the shoulders
                assert joints[JOINT_INDEX[f"{side}_wrist"], 1] < joints[JOINT_INDEX[f"{side}_shoulder"], 1] - 0.4
        if "bow" in name:  # the arms are held still through the bow (1-3 s): both watches read ~g
            still = mag[int(1.0 * m.rate_hz) : int(3.0 * m.rate_hz)]
            assert np.all(np.abs(np.median(still, axis=0) - G_MS2) < 0.4), np.median(still, axis=0)
