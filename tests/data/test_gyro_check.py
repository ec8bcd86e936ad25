"""Gyroscope convention check (toolkit/data/gyro_check.py): physics, on the simulator's own signals.

A simulated watch obeys the conventions by construction (specific force and body-frame angular velocity in one
frame, rad/s), so the data as simulated must rank first; the same data with a gyroscope axis flipped or in deg/s
must be caught and the convention that undoes the damage named.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from toolkit.data.csv_format import write_csv
from toolkit.data.gyro_check import (
    IDENTITY,
    NO_GYRO,
    GyroWarning,
    candidate_conventions,
    check_gyro,
    describe,
    warn_gyro,
)
from toolkit.mount import Mount
from toolkit.sim.pipeline import SimulationConfig, simulate_file
from toolkit.train.config import GridConfig
from toolkit.train.data import load_real_windows

REPO = Path(__file__).resolve().parents[2]


#: Keyframe scripts whose rotations together span all three watch axes (one script alone may turn about one axis,
#: and a flipped axis the watch never turns about changes nothing): three of examples/keyframes and TWIST.
SCRIPTS = ("shoulder-abduction", "external-rotation", "upright-row")
#: The hanging straight arm turned about its own long axis (the watch's x axis), written here so that the tests do not
#: depend on how much the example scripts happen to turn the forearm.
TWIST = """schema: 1
name: forearm-twist
texts: ["a person turns the hanging arm in and out"]
cycle_s: 2.0
duration_s: 40
joints: {left_shoulder: xz, left_elbow: y}
keyframes:
  - {phase: 0.0, left_shoulder: [-60, -70], left_elbow: [-12]}
  - {phase: 0.5, left_shoulder: [60, -70], left_elbow: [-12]}
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> list[SimpleNamespace]:
    """30 s of the left-wrist watch of four keyframe scripts, ideal device, 60 Hz: one recording each."""
    out = tmp_path_factory.mktemp("gyro")
    (out / "forearm-twist.yaml").write_text(TWIST)
    paths = [REPO / f"examples/keyframes/{name}.yaml" for name in SCRIPTS] + [out / "forearm-twist.yaml"]
    recs = []
    for path in paths:
        entry = simulate_file(str(path), SimulationConfig(placements=("left_wrist",)), str(out), path.stem)
        with np.load(out / entry["clips"][0]["file"], allow_pickle=False) as d:
            n = int(30 * float(d["rate_hz"]))
            recs.append(SimpleNamespace(acc=d["acc"][:n, 0].astype(float), gyro=d["gyro"][:n, 0].astype(float),
                                        rate_hz=float(d["rate_hz"])))  # fmt: skip
    return recs


def recordings(sim: list[SimpleNamespace], damage=lambda g: g) -> list[SimpleNamespace]:
    return [SimpleNamespace(acc=r.acc, gyro=None if r.gyro is None else damage(r.gyro), rate_hz=r.rate_hz)
            for r in sim]  # fmt: skip


def test_candidates_are_the_signed_permutations_at_three_scales_and_none():
    names, mats = candidate_conventions()
    assert len(names) == len(mats) == 145 and len(set(names)) == 145
    assert np.array_equal(mats[names.index(IDENTITY)], np.eye(3)) and not mats[names.index(NO_GYRO)].any()
    scales = [1.0, np.pi / 180, 180 / np.pi] * 48
    assert all(np.isclose(abs(np.linalg.det(m)), s**3, rtol=1e-9) for m, s in zip(mats[:-1], scales, strict=True))


def test_simulated_watch_ranks_first_and_beats_no_gyroscope(simulated):
    check = check_gyro(recordings(simulated))
    r = check.ranking
    assert check.warnings == [] and r["identity_rank"] == 1 and r["margin_deg"] > 0.5
    assert r["identity_deg"] < r["no_gyro_deg"] - 3.0


@pytest.mark.parametrize(("damage", "named"), [
    (lambda g: g * [1.0, -1.0, 1.0], "read as (x,-y,z) in rad/s"),
    (lambda g: g * [-1.0, 1.0, 1.0], "read as (-x,y,z) in rad/s"),
    (lambda g: g * [1.0, 1.0, -1.0], "read as (x,y,-z) in rad/s"),
    (lambda g: g[:, [1, 0, 2]], "read as (y,x,z) in rad/s"),
    (np.degrees, "read as (x,y,z) in deg/s"),
])  # fmt: skip
def test_a_wrong_axis_or_unit_is_caught_and_undone(simulated, damage, named):
    check = check_gyro(recordings(simulated, damage))
    assert check.ranking["identity_rank"] > 1 and check.ranking["margin_deg"] < -2.0
    (line,) = check.warnings
    assert named in line and "rank" in line and "`axes:`" in line


def test_no_gyroscope_gives_no_verdict(simulated):
    assert check_gyro(recordings(simulated, lambda g: None)).ranking is None
    r = simulated[0]
    short = SimpleNamespace(acc=r.acc[:10], gyro=r.gyro[:10], rate_hz=r.rate_hz)
    check = check_gyro([short])  # under 2 s of samples
    assert check.ranking is None and check.warnings == []


def test_vigorous_circling_gives_no_verdict_rather_than_a_false_alarm(tmp_path):
    """The pendulum script circles the arm every ~1.25 s: centripetal acceleration (~5 m/s^2) turns the accelerometer
    away from gravity, so a correct gyroscope loses to "no gyroscope"; the check must stay silent, not blame it."""
    entry = simulate_file(str(REPO / "examples/keyframes/pendulum.yaml"), SimulationConfig(placements=("left_wrist",)),
                          str(tmp_path), "pendulum")  # fmt: skip
    with np.load(tmp_path / entry["clips"][0]["file"], allow_pickle=False) as d:
        rec = SimpleNamespace(acc=d["acc"][:, 0].astype(float), gyro=d["gyro"][:, 0].astype(float),
                              rate_hz=float(d["rate_hz"]))  # fmt: skip
    check = check_gyro([rec])
    assert check.ranking["identity_rank"] > 1 and check.ranking["identity_deg"] > check.ranking["no_gyro_deg"]
    assert check.warnings == []


def test_describe_in_plain_words():
    assert describe("(+x,-z,+y) x1") == "read as (x,-z,y) in rad/s it fits best"
    assert describe(NO_GYRO) == "ignoring the gyroscope does better"


def _write_user_csv(path: Path, sim: list[SimpleNamespace], damage=lambda g: g) -> Path:
    """One CSV, one subject per simulated recording (imu-stream profile: watch frame, m/s^2, rad/s)."""
    acc = np.concatenate([r.acc for r in sim])
    gyro = damage(np.concatenate([r.gyro for r in sim]))
    t = np.arange(len(acc)) / sim[0].rate_hz
    subject = np.concatenate([[f"p{i}"] * len(r.acc) for i, r in enumerate(sim)])
    labels = np.where(np.arange(len(acc)) % (30 * 60) < 15 * 60, "a", "b")
    return write_csv(path, t, acc, gyro, labels, subject, profile="imu-stream", mount=Mount("left"))


@pytest.mark.filterwarnings("ignore::toolkit.data.recording.RateWarning")  # imu-stream declares 100 Hz; this is 60
def test_user_dataset_in_deg_s_gets_a_warning_on_load(simulated, tmp_path):
    grid = GridConfig()
    good = _write_user_csv(tmp_path / "good.csv", simulated)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GyroWarning)
        load_real_windows(f"csv:{good}", grid)
    bad = _write_user_csv(tmp_path / "bad.csv", simulated, np.degrees)
    with pytest.warns(GyroWarning, match=r"dataset csv:.*bad.csv: gravity carried by the gyroscope .* deg/s"):
        load_real_windows(f"csv:{bad}", grid)


def test_warn_gyro_prefixes_where(simulated):
    with pytest.warns(GyroWarning, match=r"^my data: "):
        warn_gyro(recordings(simulated, np.negative), "my data")
