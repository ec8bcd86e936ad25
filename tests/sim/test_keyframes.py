"""Keyframe motion scripts (toolkit.sim.loaders.keyframes): geometry, physics of the simulated watch, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from toolkit.errors import InputFileError
from toolkit.sim.canonical import reference_body
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.loaders.keyframes import load_keyframes, play_script, read_script
from toolkit.sim.pipeline import SimulationConfig, simulate_files
from toolkit.sim.skeleton import JOINT_INDEX
from toolkit.sim.sources import load_motion

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples" / "keyframes").glob("*.yaml"))
STILL = {"tempo": 0.0, "amplitude": 0.0, "jitter_deg": 0.0}


def write(tmp_path: Path, doc: dict, name: str = "m.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc))
    return p


def abduction(**over) -> dict:
    doc = {
        "schema": 1, "name": "abd", "texts": ["raising the arm sideways"], "cycle_s": 4.0, "duration_s": 12.0,
        "joints": {"left_shoulder": "z"},
        "keyframes": [{"phase": 0.0, "left_shoulder": [-78]}, {"phase": 0.5, "left_shoulder": [10]}],
    }  # fmt: skip
    doc.update(over)
    return doc


def world_joints(script: dict) -> np.ndarray:
    m = play_script(script)
    body = reference_body()
    return forward_kinematics(body.rest_joints, m.local_quat, m.root_pos).pos


def test_abduction_lifts_the_wrist_above_the_shoulder_and_back(tmp_path):
    s = read_script(write(tmp_path, abduction(vary=STILL)))
    pos = world_joints(s)
    lw, ls = JOINT_INDEX["left_wrist"], JOINT_INDEX["left_shoulder"]
    rate = 60.0
    top, bottom = int(2.0 * rate), int(4.0 * rate)
    assert pos[top, lw, 1] > pos[top, ls, 1] + 0.05  # half a cycle: above the shoulder (10 deg)
    assert pos[bottom, lw, 1] < pos[bottom, ls, 1] - 0.4  # full cycle: hanging again
    assert pos[top, lw, 0] > pos[bottom, lw, 0] + 0.3  # out to the (left = +x) side


def test_feet_stay_planted_while_sitting_down():
    s = read_script(REPO / "examples" / "keyframes" / "sit-to-stand.yaml")
    s["vary"] = STILL
    pos = world_joints(s)
    ankles = pos[:, [JOINT_INDEX["left_ankle"], JOINT_INDEX["right_ankle"]]]
    assert np.ptp(ankles[..., 0], axis=0).max() < 1e-6 and np.ptp(ankles[..., 2], axis=0).max() < 1e-6
    assert np.ptp(ankles[..., 1].min(axis=1)) < 1e-6  # the lower ankle never leaves the floor
    pelvis_y = pos[:, 0, 1]
    assert pelvis_y.max() - pelvis_y.min() > 0.3  # and the pelvis goes down to the seat and up


def test_symmetric_mirrors_the_right_arm(tmp_path):
    s = read_script(write(tmp_path, abduction(vary=STILL, symmetric=True)))
    pos = world_joints(s)
    lw, rw = pos[:, JOINT_INDEX["left_wrist"]], pos[:, JOINT_INDEX["right_wrist"]]
    np.testing.assert_allclose(rw * [-1, 1, 1], lw, atol=1e-6)


def test_tempo_and_amplitude_vary_per_repetition(tmp_path):
    fixed = world_joints(read_script(write(tmp_path, abduction(vary=STILL, duration_s=40.0))))
    varied = world_joints(read_script(write(tmp_path, abduction(duration_s=40.0), "v.yaml")))
    lw = JOINT_INDEX["left_wrist"]

    def peaks(y):  # local maxima of the wrist height: one per repetition
        return np.flatnonzero((y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]) & (y[1:-1] > np.median(y))) + 1

    p_fixed, p_var = peaks(fixed[:, lw, 1]), peaks(varied[:, lw, 1])
    assert np.ptp(np.diff(p_fixed)) <= 1  # every repetition 4 s
    assert np.ptp(np.diff(p_var)) > 0.2 * 240  # tempo differs between repetitions
    assert np.ptp(varied[p_var, lw, 1]) > 0.02  # and so does the height reached


@pytest.mark.parametrize("elbow_deg", [0.0, -12.0])
def test_standing_still_watch_reads_gravity_along_the_forearm(tmp_path, elbow_deg):
    """Physics end to end: the left arm hanging straight down at rest, the watch's +X points to the hand, i.e.
    down, so its specific force is -g on X (toolkit.frames: +9.81 on the upward axis) and the gyroscope reads 0.
    With the elbow bent forward by a, X tips forward and +Y (12 o'clock: the little-finger side, backward when the
    palm faces the thigh) tips down: (-g cos a, -g sin a, 0)."""
    doc = abduction(vary=STILL, duration_s=4.0, joints={"left_shoulder": "z", "left_elbow": "y"},
                    keyframes=[{"phase": 0.0, "left_shoulder": [-90], "left_elbow": [elbow_deg]}])  # fmt: skip
    path = write(tmp_path, doc)
    simulate_files([str(path)], tmp_path / "out", SimulationConfig(placements=("left_wrist",)), workers=1,
                   progress=False)  # fmt: skip
    z = np.load(tmp_path / "out" / "m_v0.npz", allow_pickle=False)
    acc, gyro = z["acc"][:, 0].astype(float), z["gyro"][:, 0].astype(float)
    a = np.radians(abs(elbow_deg))
    np.testing.assert_allclose(acc.mean(axis=0), [-9.81 * np.cos(a), -9.81 * np.sin(a), 0], atol=0.05)
    assert np.abs(gyro).max() < 1e-3
    assert str(z["texts"][0]) == "raising the arm sideways"


def test_load_motion_dispatches_yaml(tmp_path):
    m = load_motion(write(tmp_path, abduction()), rate_hz=30.0)
    assert m.rate_hz == 30.0 and m.text == "raising the arm sideways" and m.num_frames == pytest.approx(360, abs=1)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_scripts_load(path):
    m = load_keyframes(path)
    assert m.num_frames > 60 * 60 and m.is_finite()


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"schema": 2}, "schema"),
        ({"texts": []}, "texts"),
        ({"cycle_s": 0}, "cycle_s"),
        ({"joints": {"left_shouldr": "z"}}, "unknown joint"),
        ({"joints": {"left_shoulder": "zq"}}, "axes"),
        ({"keyframes": [{"phase": 0.0, "left_shoulder": [1, 2]}]}, "angle"),
        ({"keyframes": [{"phase": 1.5, "left_shoulder": [1]}]}, "phase"),
        ({"keyframes": [{"phase": 0.0, "left_elbow": [1]}]}, "not listed"),
        ({"vary": {"speed": 1}}, "vary"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_bad_scripts_fail_with_one_line(tmp_path, over, needle):
    with pytest.raises(InputFileError, match=needle) as e:
        read_script(write(tmp_path, abduction(**over)))
    assert "\n" not in str(e.value)


def test_oversized_script_is_refused_before_parsing(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("# " + "x" * 1_100_000 + "\n")
    with pytest.raises(InputFileError, match="larger than"):
        read_script(p)
