"""Generic CSV, OpenPack, MM-Fit and BasicMotions loaders on small files generated in the real layouts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from toolkit.data.basicmotions import load_basicmotions, parse_ts
from toolkit.data.csv_format import read_csv_recordings, write_csv
from toolkit.data.mmfit import CLASS_NAMES as MMFIT_CLASSES
from toolkit.data.mmfit import load_mmfit
from toolkit.data.openpack import CLASS_NAMES as OP_CLASSES
from toolkit.data.openpack import load_openpack
from toolkit.data.paths import DatasetNotFoundError
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2
from toolkit.mount import Mount

# ---------------------------------------------------------------- generic CSV


def test_csv_round_trip_apple_watch_units(tmp_path):
    t = np.arange(20) / 50.0
    acc_g = np.tile([0.0, 0.0, -1.0], (20, 1))  # iOS: -1 g on the upward axis
    gyro = np.tile([0.1, 0.2, 0.3], (20, 1))
    labels = ["rest"] * 10 + ["move"] * 10
    subj = ["p1"] * 12 + ["p2"] * 8
    f = write_csv(tmp_path / "rec.csv", t, acc_g, gyro, labels, subj, profile="apple-watch", mount=Mount("right"))
    recs = read_csv_recordings(f)
    assert [r.subject for r in recs] == ["p1", "p2"] and [len(r) for r in recs] == [12, 8]
    assert recs[0].class_names == ["move", "rest"] and recs[0].labels[0] == 1
    assert recs[0].wrist == "right" and recs[0].device == "apple-watch"
    np.testing.assert_allclose(recs[0].acc[0], [0.0, 0.0, G_MS2])
    np.testing.assert_allclose(recs[1].gyro[0], [0.1, 0.2, 0.3])
    with pytest.raises(ConfigError, match="file says profile"):
        read_csv_recordings(f, profile="wear-os-watch")


def test_csv_requires_profile_and_columns(tmp_path):
    f = write_csv(tmp_path / "a.csv", np.arange(3.0), np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="no device profile"):
        read_csv_recordings(f)
    recs = read_csv_recordings(f, profile="empatica-e4")
    assert recs[0].gyro is None and recs[0].labels.tolist() == [-1, -1, -1]
    (tmp_path / "b.csv").write_text("time,acc_x\n0,1\n")
    with pytest.raises(InputFileError, match="missing columns"):
        read_csv_recordings(tmp_path / "b.csv", profile="imu-stream")


# ---------------------------------------------------------------- OpenPack

_TZ = dt.timezone(dt.timedelta(hours=9))


def _iso(ms: float) -> str:
    return dt.datetime.fromtimestamp(ms / 1e3, _TZ).isoformat(sep=" ")


def _openpack_tree(root, scale: float):
    t0 = 1648531510031
    t = t0 + np.round(np.arange(96) * 31.25).astype(np.int64)  # 3 s at 32 Hz
    counts = np.tile([0.0, 0.0, -64.0], (96, 1))  # E4 face up: +z (bottom) points down
    for dev in ("e401", "e402"):
        d = root / "U0101" / "e4" / dev / "acc"
        d.mkdir(parents=True)
        lines = ["time,acc_x,acc_y,acc_z"] + [f"{t[i]},{counts[i, 0] / scale},{counts[i, 1] / scale},"
                                               f"{counts[i, 2] / scale}" for i in range(96)]
        (d / "S0100.csv").write_text("\n".join(lines) + "\n")
    a = root / "U0101" / "annotation" / "openpack-operations"
    a.mkdir(parents=True)
    a.joinpath("S0100.csv").write_text(
        "user,session,box,id,operation,start,end\n"
        f"U0101,S0100,1,100,Picking,{_iso(t0)},{_iso(t0 + 1000)}\n"
        f"U0101,S0100,1,300,Assemble Box,{_iso(t0 + 1500)},{_iso(t0 + 2500)}\n"
    )
    return t


@pytest.mark.parametrize("scale,name", [(64.0 * 9.80665, "g/9.80665"), (64.0, "g"), (1.0, "counts")])
def test_openpack_layout_scales_and_labels(tmp_path, scale, name):
    t = _openpack_tree(tmp_path, scale)
    recs = load_openpack(tmp_path)
    assert [r.recording for r in recs] == ["U0101_S0100_e401", "U0101_S0100_e402"]
    r = recs[0]
    assert r.meta["acc_scale"] == name and r.gyro is None and r.wrist == "right" and recs[1].wrist == "left"
    # the E4 lies face up (bottom down); OpenPack's E4s are worn palmar, so that is the back of the hand facing down
    np.testing.assert_allclose(r.acc, np.tile([0.0, 0.0, -G_MS2], (96, 1)), atol=1e-9)
    lab = np.array(OP_CLASSES)[r.labels]
    rel = t - t[0]
    assert set(lab[rel < 1000]) == {"Picking"}
    assert set(lab[(rel >= 1000) & (rel < 1500)]) == {"Null"}
    assert set(lab[(rel >= 1500) & (rel < 2500)]) == {"Assemble Box"}


# ---------------------------------------------------------------- MM-Fit


def test_mmfit_layout(tmp_path):
    w = tmp_path / "w03"
    w.mkdir()
    n = 300  # 3 s at 100 Hz; video frames at 30 fps
    t_ms = 1_550_000_000_000 + np.arange(n) * 10.0
    frames = np.floor(np.arange(n) * 0.3)
    acc = np.column_stack([frames, t_ms, np.zeros(n), np.full(n, -G_MS2), np.zeros(n)])  # left arm hanging: Y down
    gyr = np.column_stack([frames[::2], t_ms[::2] + 3, np.ones(n // 2), np.zeros(n // 2), np.zeros(n // 2)])
    for side in ("l", "r"):
        np.save(w / f"w03_sw_{side}_acc.npy", acc)
        np.save(w / f"w03_sw_{side}_gyr.npy", gyr)
    (w / "w03_labels.csv").write_text("10,40,5,squats\n60,80,3,pushups\n")
    recs = load_mmfit(tmp_path, subject_of_workout={"w03": "subj7"})
    assert [r.recording for r in recs] == ["w03_sw_l", "w03_sw_r"] and recs[0].subject == "subj7"
    r = recs[0]
    assert r.meta["timestamp_unit"] == "ms" and r.gyro.shape == (n, 3)
    np.testing.assert_allclose(r.gyro[:, 0], 1.0)
    names = np.array(MMFIT_CLASSES)[r.labels]
    assert set(names[(frames >= 10) & (frames <= 40)]) == {"squats"}
    assert set(names[(frames >= 60) & (frames <= 80)]) == {"pushups"}
    assert set(names[frames < 10]) == {"non_activity"}
    np.save(w / "w03_sw_l_acc.npy", np.zeros((4, 4)))
    with pytest.raises(InputFileError, match="frame, timestamp"):
        load_mmfit(tmp_path)


# ---------------------------------------------------------------- BasicMotions

_TS = """# comment
@problemName Tiny
@timeStamps false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true Up Down
@data
1,2,3:4,5,6:Up
-1,-2,-3:-4,-5,-6:Down
"""


def test_parse_ts():
    ds = parse_ts(_TS)
    assert ds.x.shape == (2, 2, 3) and ds.labels.tolist() == ["Up", "Down"] and ds.class_names == ["Up", "Down"]
    np.testing.assert_allclose(ds.x[1, 1], [-4, -5, -6])
    with pytest.raises(InputFileError, match="not in"):
        parse_ts(_TS.replace(":Down\n", ":Sideways\n"))


def test_basicmotions_from_aeon_wheel():
    try:
        recs = load_basicmotions("TRAIN")
    except DatasetNotFoundError as e:
        pytest.skip(f"aeon wheel not obtainable (offline?): {e}")
    assert len(recs) == 40 and all(len(r) == 100 for r in recs)
    assert recs[0].class_names == ["Standing", "Running", "Walking", "Badminton"]
    assert np.bincount([r.labels[0] for r in recs]).tolist() == [10, 10, 10, 10]
    assert recs[0].meta["units_known"] is False
