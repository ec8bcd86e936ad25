"""OpenPack (Yoshimura et al. 2022/2024, open-pack.github.io): packaging work; ATR IMUs and Empatica E4s on both wrists.

Layout under the OpenPack root (``<data root>/openpack[/v1.0.0]``), as documented in openpack-toolkit
``docs/openpack-dataset/data-stream/wearables.md`` (and ``configs/dataset/stream/atr01.yaml``, ``e4-acc.yaml``)::

    <user>/atr/<device>/<session>.csv                    device atr01 | atr02 (wrists); columns unixtime,
                                                         acc_x..z [G], gyro_x..z [dps], quat_w..z
    <user>/e4/<device>/acc/<session>.csv                 device e401 | e402; columns time,acc_x,acc_y,acc_z
    <user>/annotation/openpack-operations/<session>.csv   operation labels

Wrists (openpack-toolkit ``docs/openpack-dataset/data-stream/README.md``, table "Wearables"): D0101 atr/atr01
= Right Wrist, D0201 atr/atr02 = Left Wrist, D0501 e4-01 (folder ``e401``) = Right Wrist, D0601 e4-02 (``e402``)
= Left Wrist (:data:`DEVICE_WRIST`). atr03 / atr04 are on the upper arms and are not wrist devices.

ATR (TSND151) loader (:func:`load_openpack_atr`): acc in g and gyro in deg/s are converted by the device profile
(:data:`ATR_PROFILES`, one per wrist); the quaternions are ignored. The docs say "Frame Rate: 30 Hz" but their own
sample rows step 30 ms (33.3 Hz): the rate is measured from the timestamps (:func:`measured_rate_hz`) and stored in
``meta["measured_rate_hz"]``. Axes: openpack-toolkit ``docs/openpack-dataset/data-collection/environment.md``:
"The IMU was mounted so that the y-axis pointed to the fingertip and the z-axis was oriented vertically and inward
toward the arm" (figure ``assets/imu_coordinate.png``). With the sensor on the back of the wrist (an ASSUMPTION:
the figure does not show which side) that is y = distal, z = into the arm = -watch Z, and x = y cross z for a
right-handed sensor (an ASSUMPTION: the figure's drawn triads are not right-handed, so the sign of x is
unverified). Left wrist: watch (X, Y, Z) = (y, x, -z); right wrist (+X to the elbow): (-y, -x, -z). The sign of
acc (specific force, +1 g up at rest, like Android) is assumed too; the sample rows' |a| of about 1 g confirm
only the unit.

e4-acc CSV: ``time`` = unix time [ms], ``acc_x, acc_y, acc_z`` documented as "G", 32 Hz. **Scale check**: the
documentation's own sample rows step in multiples of 0.0015933 = 1 / (64 * 9.80665) and a resting wrist reads
|a| ~ 0.10 there, i.e. those values are counts / 64 / 9.80665 (g divided by g once more), not g. The loader
therefore detects the scale from the median |a| (``acc_scale="auto"``): ~0.1 -> "g/9.80665", ~1 -> "g",
~64 -> "counts"; the choice is stored in ``meta["acc_scale"]``. Pass the scale explicitly to override.

Operation labels: ``openpack-operations/<session>.csv`` has one row per operation segment with ``id`` and ISO
timestamps ``start`` / ``end`` (openpack-toolkit converts them with ``datetime.fromisoformat``); samples in
``[start, end)`` get that operation, others Null (8100). The preprocessed 1 Hz form (``unixtime`` [ms] + ``id``
per second) is read too: a sample takes the label of its second. Classes (``OPENPACK_OPERATIONS``): 100 Picking,
200 Relocate Item Label, 300 Assemble Box, 400 Insert Items, 500 Close Box, 600 Attach Box Label, 700 Scan Label,
800 Attach Shipping Label, 900 Put on Back Table, 1000 Fill out Order, 8100 Null (8200 -> 8100).

E4 loader (:func:`load_openpack`): wrists from the table above (e401 right, e402 left; ``device_wrist`` overrides).
E4 axes and counts: the ``empatica-e4`` profile (axes for a dorsally worn E4). OpenPack's photos show the E4 case on
the palm side of the wrist, and on OpenPack's sample U0209/S0500 the gravity of the right-wrist E4 matches the ATR
IMU only as a palmar mount (toolkit/profiles/empatica-e4.yaml), so the E4s are mounted ``face="palmar"``
(:data:`E4_FACE`). No gyroscope: ``gyro`` is None.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from toolkit.data.paths import find_dataset
from toolkit.data.recording import Recording, make_recording
from toolkit.device_profiles import RealDeviceProfile
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import Mount

OPERATIONS: dict[int, str] = {
    100: "Picking", 200: "Relocate Item Label", 300: "Assemble Box", 400: "Insert Items", 500: "Close Box",
    600: "Attach Box Label", 700: "Scan Label", 800: "Attach Shipping Label", 900: "Put on Back Table",
    1000: "Fill out Order", 8100: "Null",
}  # fmt: skip
OPERATION_IDS = list(OPERATIONS)
CLASS_NAMES = [OPERATIONS[i] for i in OPERATION_IDS]
NULL_ID = 8100
#: Device folder -> wrist, from OpenPack's device table (module docstring).
DEVICE_WRIST = {"atr01": "right", "atr02": "left", "e401": "right", "e402": "left"}
#: Face side of the OpenPack E4s (palm side: module docstring).
E4_FACE = "palmar"
DEFAULT_DEVICE_WRIST = {d: w for d, w in DEVICE_WRIST.items() if d.startswith("e4")}
ATR_COLUMNS = ["unixtime", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
_ATR_AXES_SOURCE = ("openpack-toolkit docs data-collection/environment.md: y to the fingertip, z into the arm; "
                    "ASSUMED: sensor on the back of the wrist, right-handed (x = y cross z; the figure's triads are "
                    "not right-handed), acc sign = specific force")
#: ATR TSND151 on each wrist: g, deg/s, 1000/30 Hz (timestamps step 30 ms), axes into the watch frame.
ATR_PROFILES: dict[str, RealDeviceProfile] = {
    "left": RealDeviceProfile(
        name="openpack-atr-left", acc_units="g", gyro_units="deg/s", rate_hz=1000.0 / 30.0,
        axes_to_watch=((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
        description="OpenPack ATR TSND151, left wrist (atr02): g, deg/s, 33.3 Hz (docs: 30 Hz)",
        axes_source=_ATR_AXES_SOURCE),
    "right": RealDeviceProfile(
        name="openpack-atr-right", acc_units="g", gyro_units="deg/s", rate_hz=1000.0 / 30.0,
        axes_to_watch=((0.0, -1.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
        description="OpenPack ATR TSND151, right wrist (atr01): g, deg/s, 33.3 Hz (docs: 30 Hz)",
        axes_source=_ATR_AXES_SOURCE),
}
ACC_SCALES = {"counts": 1.0, "g": 64.0, "g/9.80665": 64.0 * 9.80665}  # factor to raw counts
ACC_COLUMNS = ["time", "acc_x", "acc_y", "acc_z"]


def _read_table(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except OSError as e:
        raise InputFileError(path, f"cannot read ({e.strerror})") from None


def detect_acc_scale(acc: np.ndarray) -> str:
    """"counts", "g" or "g/9.80665" from the median norm of (T, 3) values (module docstring)."""
    m = float(np.median(np.linalg.norm(acc, axis=1)))
    for name, lo, hi in (("g/9.80665", 0.05, 0.2), ("g", 0.5, 2.0), ("counts", 32.0, 128.0)):
        if lo <= m <= hi:
            return name
    raise ConfigError(f"openpack e4-acc: cannot tell the unit from median |a| = {m:.4g}; pass acc_scale")


def read_e4_acc(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(time_ms (T,) float64, acc (T, 3) as stored)`` of one e4 acc CSV."""
    a = _numeric_columns(Path(path), ACC_COLUMNS, "")
    return a[:, 0], a[:, 1:4]


def _numeric_columns(path: Path, columns: list[str], more: str) -> np.ndarray:
    """(T, len(columns)) float64 of a CSV with a header naming ``columns`` (``more``: what else the error names);
    InputFileError for missing columns, non-numbers or fewer than 2 rows."""
    rows = _read_table(path)
    if not rows or any(c not in rows[0] for c in columns):
        raise InputFileError(path, f"expected columns {','.join(columns)}{more}")
    try:
        a = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float64)
    except ValueError as e:
        raise InputFileError(path, f"bad number ({e})") from None
    if a.shape[0] < 2:
        raise InputFileError(path, "fewer than 2 samples")
    return a


def read_atr(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(unixtime_ms (T,), acc (T, 3) [g], gyro (T, 3) [deg/s])`` of one ATR CSV (quaternion columns ignored)."""
    path = Path(path)
    a = _numeric_columns(path, ATR_COLUMNS, " (then quat_w..quat_z)")
    if not np.isfinite(a).all():
        raise InputFileError(path, "non-finite values")
    return a[:, 0], a[:, 1:4], a[:, 4:7]


def measured_rate_hz(time_ms: np.ndarray) -> float:
    """Sample rate [Hz] from (T,) increasing timestamps [ms]: 1000 / the median positive step."""
    steps = np.diff(np.asarray(time_ms, dtype=np.float64))
    steps = steps[steps > 0]
    if steps.size == 0:
        raise ConfigError("openpack: cannot measure the sample rate (no increasing timestamps)")
    return 1000.0 / float(np.median(steps))


def _labels_for(user_dir: Path, session: str, t_ms: np.ndarray) -> tuple[np.ndarray, Path | None]:
    label_file = user_dir / "annotation" / "openpack-operations" / f"{session}.csv"
    if label_file.is_file():
        return operation_labels(label_file, t_ms), label_file
    return np.full(t_ms.shape, -1, dtype=np.int64), None


def _resolve_root(root: str | Path | None, data_root: str | Path | None) -> Path:
    if root is None:
        root = find_dataset("openpack", data_root)
        if (root / "v1.0.0").is_dir():
            root = root / "v1.0.0"
    return Path(root)


def _iso_ms(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp() * 1e3


def operation_labels(path: str | Path, time_ms: np.ndarray) -> np.ndarray:
    """(T,) class indices into :data:`CLASS_NAMES` for sample times ``time_ms`` from an operations CSV."""
    path = Path(path)
    rows = _read_table(path)
    null_idx = OPERATION_IDS.index(NULL_ID)
    out = np.full(time_ms.shape, null_idx, dtype=np.int64)
    if not rows:
        return out

    def idx(op: str) -> int:
        try:
            i = int(float(op))
        except ValueError:
            raise InputFileError(path, f"bad operation id {op!r}") from None
        i = NULL_ID if i == 8200 else i
        if i not in OPERATIONS:
            raise InputFileError(path, f"unknown operation id {i} (known: {', '.join(map(str, OPERATION_IDS))})")
        return OPERATION_IDS.index(i)

    cols = rows[0].keys()
    if {"start", "end", "id"} <= cols:
        for r in rows:
            try:
                s, e = _iso_ms(r["start"]), _iso_ms(r["end"])
            except ValueError:
                raise InputFileError(path, f"bad ISO timestamps {r['start']!r} / {r['end']!r}") from None
            out[(time_ms >= s) & (time_ms < e)] = idx(r["id"])
    elif {"unixtime", "id"} <= cols:
        sec = {int(float(r["unixtime"])) // 1000: idx(r["id"]) for r in rows}
        keys = (time_ms // 1000).astype(np.int64)
        out = np.array([sec.get(int(k), null_idx) for k in keys], dtype=np.int64)
    else:
        raise InputFileError(path, "expected columns id,start,end (or unixtime,id)")
    return out


def load_openpack(
    root: str | Path | None = None,
    *,
    users: list[str] | None = None,
    sessions: list[str] | None = None,
    devices: tuple[str, ...] = ("e401", "e402"),
    device_wrist: dict[str, str] | None = None,
    acc_scale: str = "auto",
    mirror_to_left: bool = False,
    data_root: str | Path | None = None,
) -> list[Recording]:
    """E4 wrist recordings with operation labels, one :class:`Recording` per (user, device, session).

    Args:
        root: the OpenPack root holding ``U0101/...``; default ``find_dataset("openpack")`` (``v1.0.0`` inside
            it is used when present).
        users, sessions: restrict to these ids (e.g. ``["U0101"]``, ``["S0100"]``).
        devices: E4 device folders to read.
        device_wrist: device -> "left"/"right" (default :data:`DEFAULT_DEVICE_WRIST`, OpenPack's device table).
        acc_scale: "auto", "counts", "g" or "g/9.80665" (module docstring).
        mirror_to_left: mirror right-wrist data into the left-wrist frame.
    """
    root = _resolve_root(root, data_root)
    if acc_scale != "auto" and acc_scale not in ACC_SCALES:
        raise ConfigError(f"openpack: unknown acc_scale {acc_scale!r} (known: auto, {', '.join(ACC_SCALES)})")
    wrist_of = dict(DEFAULT_DEVICE_WRIST, **(device_wrist or {}))
    out = []
    for user_dir in sorted(p for p in root.glob("U*") if p.is_dir()):
        if users is not None and user_dir.name not in users:
            continue
        for device in devices:
            for f in sorted((user_dir / "e4" / device / "acc").glob("*.csv")):
                if sessions is not None and f.stem not in sessions:
                    continue
                t_ms, acc = read_e4_acc(f)
                order = np.argsort(t_ms, kind="stable")
                t_ms, acc = t_ms[order], acc[order]
                scale = detect_acc_scale(acc) if acc_scale == "auto" else acc_scale
                counts = acc * ACC_SCALES[scale]
                label_file = user_dir / "annotation" / "openpack-operations" / f"{f.stem}.csv"
                labels = (operation_labels(label_file, t_ms) if label_file.is_file()
                          else np.full(t_ms.shape, -1, dtype=np.int64))  # fmt: skip
                if device not in wrist_of:
                    raise ConfigError(f"openpack: no wrist known for device {device!r}; pass device_wrist")
                out.append(make_recording(
                    subject=user_dir.name, recording=f"{user_dir.name}_{f.stem}_{device}", timestamps_s=t_ms * 1e-3,
                    acc_device=counts, gyro_device=None, labels=labels, class_names=CLASS_NAMES,
                    profile="empatica-e4", mount=Mount(wrist_of[device], face=E4_FACE), mirror_to_left=mirror_to_left,
                    meta={"source": "openpack", "path": str(f), "acc_scale": scale, "device_id": device,
                          "labels_file": str(label_file) if label_file.is_file() else None,
                          "wrist_source": "OpenPack device table (e401 right, e402 left)" if device_wrist is None
                          else "given"},
                ))  # fmt: skip
    if not out:
        raise InputFileError(root, "no <user>/e4/<device>/acc/<session>.csv files found")
    return out


def load_openpack_atr(
    root: str | Path | None = None,
    *,
    users: list[str] | None = None,
    sessions: list[str] | None = None,
    devices: tuple[str, ...] = ("atr01", "atr02"),
    mirror_to_left: bool = False,
    data_root: str | Path | None = None,
) -> list[Recording]:
    """ATR wrist IMU recordings (acc + gyro) with operation labels, one :class:`Recording` per (user, device, session).

    Files ``<user>/atr/<device>/<session>.csv`` (module docstring); the wrist of each device from
    :data:`DEVICE_WRIST` (atr01 right, atr02 left), its profile from :data:`ATR_PROFILES`; the rate is measured
    from the timestamps. ``mirror_to_left`` mirrors the right wrist into the left-wrist frame, as the other loaders.
    """
    root = _resolve_root(root, data_root)
    for device in devices:
        if DEVICE_WRIST.get(device) not in ("left", "right"):
            raise ConfigError(f"openpack: {device!r} is not a wrist ATR (wrist ATRs: atr01 right, atr02 left)")
    out = []
    for user_dir in sorted(p for p in root.glob("U*") if p.is_dir()):
        if users is not None and user_dir.name not in users:
            continue
        for device in devices:
            wrist = DEVICE_WRIST[device]
            for f in sorted((user_dir / "atr" / device).glob("*.csv")):
                if sessions is not None and f.stem not in sessions:
                    continue
                t_ms, acc_g, gyro_dps = read_atr(f)
                order = np.argsort(t_ms, kind="stable")
                t_ms, acc_g, gyro_dps = t_ms[order], acc_g[order], gyro_dps[order]
                rate = measured_rate_hz(t_ms)
                labels, label_file = _labels_for(user_dir, f.stem, t_ms)
                out.append(make_recording(
                    subject=user_dir.name, recording=f"{user_dir.name}_{f.stem}_{device}", timestamps_s=t_ms * 1e-3,
                    acc_device=acc_g, gyro_device=gyro_dps, labels=labels, class_names=CLASS_NAMES,
                    profile=ATR_PROFILES[wrist], mount=Mount(wrist), rate_hz=rate, mirror_to_left=mirror_to_left,
                    meta={"source": "openpack", "path": str(f), "device_id": device, "wrist": wrist,
                          "measured_rate_hz": rate, "labels_file": str(label_file) if label_file else None,
                          "wrist_source": "OpenPack device table (atr01 right, atr02 left)"},
                ))  # fmt: skip
    if not out:
        raise InputFileError(root, f"no <user>/atr/<device>/<session>.csv files found for {', '.join(devices)}")
    return out


__all__ = ["ATR_PROFILES", "CLASS_NAMES", "DEVICE_WRIST", "OPERATIONS", "detect_acc_scale", "load_openpack",
           "load_openpack_atr", "measured_rate_hz", "operation_labels", "read_atr", "read_e4_acc"]
