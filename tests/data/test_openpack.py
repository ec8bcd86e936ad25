"""OpenPack: the device-to-wrist table and the ATR wrist-IMU loader, on files generated in OpenPack's layout.

Sources (openpack-toolkit, github.com/open-pack/openpack-toolkit):

* ``docs/openpack-dataset/data-stream/README.md``, table "Wearables": atr/atr01 = Right Wrist, atr/atr02 = Left
  Wrist, e4-01 = Right Wrist, e4-02 = Left Wrist.
* ``docs/openpack-dataset/data-stream/wearables.md`` (``atr-qags``): path ``<user>/atr/<device>/<session>.csv``,
  columns ``unixtime`` [ms], ``acc_x..z`` [G], ``gyro_x..z`` [dps], ``quat_w..z``; "Frame Rate: 30 Hz" while the
  sample rows step 30 ms.
* ``docs/openpack-dataset/data-collection/environment.md``: y to the fingertip, z inward toward the arm.

No OpenPack data is available here: every file below is generated; the expected watch-frame values come from
the physical pose (arm hanging, T-pose palms down) and the watch conventions of :mod:`toolkit.frames`, not from
the loader's matrices.
"""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data.openpack import (
    ATR_PROFILES,
    CLASS_NAMES,
    DEVICE_WRIST,
    load_openpack,
    load_openpack_atr,
    measured_rate_hz,
)
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2

T0_MS = 1648531521000  # the first row of the docs' sample data
HEADER = "unixtime,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,quat_w,quat_x,quat_y,quat_z"


def write_atr(root, device: str, acc_g: np.ndarray, gyro_dps: np.ndarray, user: str = "U0101",
              session: str = "S0100", step_ms: int = 30) -> np.ndarray:
    """One ATR CSV in OpenPack's layout and columns (quaternion columns filled with the docs' sample values)."""
    n = acc_g.shape[0]
    t = T0_MS + step_ms * np.arange(n)
    d = root / user / "atr" / device
    d.mkdir(parents=True, exist_ok=True)
    rows = [HEADER] + [f"{t[i]},{acc_g[i, 0]:.4f},{acc_g[i, 1]:.4f},{acc_g[i, 2]:.4f},{gyro_dps[i, 0]:.2f},"
                       f"{gyro_dps[i, 1]:.2f},{gyro_dps[i, 2]:.2f},0.5312,-0.6406,-0.2343,0.5" for i in range(n)]
    (d / f"{session}.csv").write_text("\n".join(rows) + "\n")
    return t


def test_device_table_from_openpacks_docs() -> None:
    assert DEVICE_WRIST == {"atr01": "right", "atr02": "left", "e401": "right", "e402": "left"}


def test_arm_hanging_forearm_axis_and_rate(tmp_path) -> None:
    # Both arms hang at the sides, still. The ATR's y points to the fingertip = down, so it reads -1 g
    # (specific force points up). In the watch frame: left wrist +X points to the hand (down) -> X = -g;
    # right wrist +X points to the elbow (up) -> X = +g.
    n = 100
    acc = np.tile([0.0, -1.0, 0.0], (n, 1))
    spin = np.tile([0.0, 90.0, 0.0], (n, 1))  # turning about the forearm axis (y), 90 deg/s
    for device in ("atr01", "atr02"):
        write_atr(tmp_path, device, acc, spin)
    recs = {r.meta["device_id"]: r for r in load_openpack_atr(tmp_path)}
    left, right = recs["atr02"], recs["atr01"]
    assert (left.wrist, right.wrist) == ("left", "right")
    np.testing.assert_allclose(left.acc, np.tile([-G_MS2, 0, 0], (n, 1)), atol=1e-9)
    np.testing.assert_allclose(right.acc, np.tile([G_MS2, 0, 0], (n, 1)), atol=1e-9)
    np.testing.assert_allclose(left.gyro, np.tile([np.pi / 2, 0, 0], (n, 1)), atol=1e-9)  # deg/s -> rad/s
    np.testing.assert_allclose(right.gyro, np.tile([-np.pi / 2, 0, 0], (n, 1)), atol=1e-9)
    # 30 ms steps: 33.3 Hz measured, not the documented 30 Hz
    assert left.rate_hz == pytest.approx(1000 / 30) and left.meta["measured_rate_hz"] == pytest.approx(33.333, abs=1e-3)
    assert np.diff(left.timestamps_s) == pytest.approx(0.030, abs=1e-6)
    assert left.labels.tolist() == [-1] * n and left.meta["labels_file"] is None


def test_t_pose_palms_down_dorsal_axis(tmp_path) -> None:
    # T-pose, palms down, sensor on the back of the wrist: z points into the arm = down -> reads -1 g; the watch's
    # +Z (out of the face, dorsal) points up on both wrists -> Z = +g (frames.py: at rest (0, 0, +9.81)).
    n = 50
    for device in ("atr01", "atr02"):
        write_atr(tmp_path, device, np.tile([0.0, 0.0, -1.0], (n, 1)), np.zeros((n, 3)))
    for r in load_openpack_atr(tmp_path):
        np.testing.assert_allclose(r.acc, np.tile([0, 0, G_MS2], (n, 1)), atol=1e-9)


def test_right_wrist_mirrored_to_left_like_the_left_wrist(tmp_path) -> None:
    n = 40
    rng = np.random.default_rng(0)
    acc = np.tile([0.0, -1.0, 0.0], (n, 1)) + rng.normal(0, 0.01, (n, 3))
    write_atr(tmp_path, "atr01", acc, np.zeros((n, 3)))
    (r,) = load_openpack_atr(tmp_path, devices=("atr01",), mirror_to_left=True)
    assert r.mirrored and r.wrist == "left"
    np.testing.assert_allclose(r.acc.mean(axis=0), [-G_MS2, 0, 0], atol=0.05)  # the hanging left arm's reading


def test_labels_users_sessions_and_quaternions_ignored(tmp_path) -> None:
    n = 100  # 3 s
    t = write_atr(tmp_path, "atr02", np.tile([0.0, -1.0, 0.0], (n, 1)), np.zeros((n, 3)))
    write_atr(tmp_path, "atr02", np.tile([0.0, -1.0, 0.0], (n, 1)), np.zeros((n, 3)), session="S0200")
    write_atr(tmp_path, "atr02", np.tile([0.0, -1.0, 0.0], (n, 1)), np.zeros((n, 3)), user="U0102")
    a = tmp_path / "U0101" / "annotation" / "openpack-operations"
    a.mkdir(parents=True)
    # the preprocessed 1 Hz operations form: unixtime [ms], id
    a.joinpath("S0100.csv").write_text(f"unixtime,id\n{T0_MS},100\n{T0_MS + 1000},300\n{T0_MS + 2000},8100\n")
    recs = load_openpack_atr(tmp_path, users=["U0101"], sessions=["S0100"], devices=("atr02",))
    assert [r.recording for r in recs] == ["U0101_S0100_atr02"]
    lab = np.array(CLASS_NAMES)[recs[0].labels]
    rel = t - t[0]
    assert set(lab[rel < 1000]) == {"Picking"} and set(lab[(rel >= 1000) & (rel < 2000)]) == {"Assemble Box"}
    assert set(lab[rel >= 2000]) == {"Null"}


def test_one_line_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not a wrist ATR"):
        load_openpack_atr(tmp_path, devices=("atr03",))  # upper arm
    with pytest.raises(InputFileError, match="no <user>/atr"):
        load_openpack_atr(tmp_path)
    d = tmp_path / "U0101" / "atr" / "atr01"
    d.mkdir(parents=True)
    (d / "S0100.csv").write_text("unixtime,acc_x,acc_y,acc_z\n1,0,0,1\n2,0,0,1\n")
    with pytest.raises(InputFileError, match="expected columns") as ei:
        load_openpack_atr(tmp_path)
    assert "\n" not in str(ei.value)
    with pytest.raises(ConfigError):
        measured_rate_hz(np.array([5.0, 5.0]))


def test_atr_profiles_are_rotations_and_say_what_is_assumed() -> None:
    for p in ATR_PROFILES.values():
        a = np.array(p.axes_to_watch)
        assert np.allclose(a @ a.T, np.eye(3)) and np.linalg.det(a) == pytest.approx(1.0)
        assert (p.acc_units, p.gyro_units) == ("g", "deg/s") and "ASSUMED" in p.axes_source


def test_e4_loader_uses_the_table(tmp_path) -> None:
    n = 64
    t = T0_MS + np.round(np.arange(n) * 31.25).astype(np.int64)
    for dev in ("e401", "e402"):
        d = tmp_path / "U0101" / "e4" / dev / "acc"
        d.mkdir(parents=True)
        d.joinpath("S0100.csv").write_text("time,acc_x,acc_y,acc_z\n" + "".join(f"{t[i]},0,0,-64\n" for i in range(n)))
    recs = {r.meta["device_id"]: r for r in load_openpack(tmp_path)}
    assert (recs["e401"].wrist, recs["e402"].wrist) == ("right", "left")
    assert "device table" in recs["e401"].meta["wrist_source"]
