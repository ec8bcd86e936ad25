"""OpenPack (Yoshimura et al. 2022/2024, open-pack.github.io): packaging work, Empatica E4 on both wrists.

Layout under the OpenPack root (``<data root>/openpack[/v1.0.0]``), as documented in
``open-pack/openpack-dataset`` ``docs/data-stream/wearables.md`` and used by ``openpack-toolkit``::

    <user>/e4/<device>/acc/<session>.csv                 device e401 | e402; columns time,acc_x,acc_y,acc_z
    <user>/annotation/openpack-operations/<session>.csv   operation labels

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

Wrist of each E4: **assumed** e401 = left, e402 = right (not verified against OpenPack's device table; pass
``device_wrist`` to change). E4 axes and counts: the ``empatica-e4`` profile (its axis mapping is an assumption
too). No gyroscope: ``gyro`` is None.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from toolkit.data.paths import find_dataset
from toolkit.data.recording import Recording, make_recording
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
DEFAULT_DEVICE_WRIST = {"e401": "left", "e402": "right"}
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
    path = Path(path)
    rows = _read_table(path)
    if not rows or any(c not in rows[0] for c in ACC_COLUMNS):
        raise InputFileError(path, f"expected columns {','.join(ACC_COLUMNS)}")
    try:
        a = np.array([[float(r[c]) for c in ACC_COLUMNS] for r in rows], dtype=np.float64)
    except ValueError as e:
        raise InputFileError(path, f"bad number ({e})") from None
    if a.shape[0] < 2:
        raise InputFileError(path, "fewer than 2 samples")
    return a[:, 0], a[:, 1:4]


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
        device_wrist: device -> "left"/"right" (default :data:`DEFAULT_DEVICE_WRIST`, an assumption).
        acc_scale: "auto", "counts", "g" or "g/9.80665" (module docstring).
        mirror_to_left: mirror right-wrist data into the left-wrist frame.
    """
    if root is None:
        root = find_dataset("openpack", data_root)
        if (root / "v1.0.0").is_dir():
            root = root / "v1.0.0"
    root = Path(root)
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
                    profile="empatica-e4", mount=Mount(wrist_of[device]), mirror_to_left=mirror_to_left,
                    meta={"source": "openpack", "path": str(f), "acc_scale": scale, "device_id": device,
                          "labels_file": str(label_file) if label_file.is_file() else None,
                          "wrist_source": "assumed (e401 left, e402 right)" if device_wrist is None else "given"},
                ))  # fmt: skip
    if not out:
        raise InputFileError(root, "no <user>/e4/<device>/acc/<session>.csv files found")
    return out


__all__ = ["CLASS_NAMES", "OPERATIONS", "detect_acc_scale", "load_openpack", "operation_labels", "read_e4_acc"]
