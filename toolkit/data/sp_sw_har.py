"""sp-sw-har (Matey-Sanz, Casteleyn, Granell 2023, CC BY 4.0): TicWatch Pro 3 + phone, timed-up-and-go sequences.

Layout (``<data root>/sp-sw-har/``)::

    DATA/sXX/sXX_YY_sw.csv     watch, one execution YY of subject XX
    DATA/sXX/sXX_YY_sp.csv     phone in the pocket (optional)
    DATA/subjects_info.csv     subject_id,age,gender,height,weight,dominant_hand,executions
    DATA/executions_info.csv   execution_id,orientation,first_turn,second_turn

CSV columns ``x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label``: acc m/s^2 with gravity (Android sign),
gyro rad/s, Android device frame, ``timestamp`` = unix time in ms (jittery, ~100 Hz), one label per sample from
SEATED, STANDING_UP, WALKING, TURNING, SITTING_DOWN.

Which wrist? The README and ``subjects_info.csv`` do not say; ``dominant_hand`` is recorded (22 R, 1 L: s16).
Decision: **left wrist for every subject**, from the data: a watch on the left wrist has +X toward the hand, so
with the forearm resting on the thigh (hand lower than the elbow) gravity has a negative X component; the SEATED
mean reads x < 0 for 21 of 23 subjects, including the left-handed s16 (-1.4 m/s^2), i.e. the watch was not moved
to the non-dominant wrist. SEATED samples read about (-3, -3, +8) m/s^2: face up (+Z), hand lower than elbow,
ulnar side slightly down. Override with ``wrist=`` (a str, or a dict subject -> wrist) if you know better.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from toolkit.data.paths import find_dataset
from toolkit.data.recording import Recording, encode_labels, make_recording
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import Mount

DATASET_DIR = "sp-sw-har"
COLUMNS = ["x_acc", "y_acc", "z_acc", "x_gyro", "y_gyro", "z_gyro", "timestamp", "label"]
CLASS_NAMES = ["SEATED", "STANDING_UP", "WALKING", "TURNING", "SITTING_DOWN"]
#: Wrist assumed for every subject (see module docstring).
DEFAULT_WRIST = "left"
DEVICES = {"sw": "wear-os-watch", "sp": "android-phone"}


def read_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """One sp-sw-har CSV -> ``(t_s (T,), acc (T, 3), gyro (T, 3), labels list)``, device units, file order.

    Raises:
        InputFileError: wrong header, bad number, fewer than 2 rows.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise InputFileError(path, f"cannot read ({e.strerror})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [h.strip() for h in rows[0]] != COLUMNS:
        raise InputFileError(path, f"expected header {','.join(COLUMNS)}, got {rows[0] if rows else 'nothing'}")
    body = [r for r in rows[1:] if r]
    if len(body) < 2:
        raise InputFileError(path, "fewer than 2 samples")
    try:
        values = np.array([r[:7] for r in body], dtype=np.float64)
    except ValueError as e:
        raise InputFileError(path, f"bad number ({e})") from None
    if values.shape[1] != 7 or any(len(r) != 8 for r in body):
        raise InputFileError(path, "every row must have 8 fields")
    return values[:, 6] * 1e-3, values[:, 0:3], values[:, 3:6], [r[7].strip() for r in body]


def read_subjects(root: Path) -> dict[str, dict[str, str]]:
    """``subjects_info.csv`` as ``{subject_id: row}`` (empty if absent)."""
    p = root / "DATA" / "subjects_info.csv"
    if not p.is_file():
        return {}
    with open(p, newline="") as f:
        return {row["subject_id"]: dict(row) for row in csv.DictReader(f)}


def read_executions(root: Path) -> dict[str, dict[str, str]]:
    """``executions_info.csv`` as ``{execution_id: row}`` (empty if absent)."""
    p = root / "DATA" / "executions_info.csv"
    if not p.is_file():
        return {}
    with open(p, newline="") as f:
        return {row["execution_id"]: dict(row) for row in csv.DictReader(f)}


def _wrist_for(subject: str, wrist: str | dict[str, str]) -> str:
    if isinstance(wrist, dict):
        return wrist.get(subject, DEFAULT_WRIST)
    return wrist


def load_recording(
    path: str | Path,
    *,
    device: str = "sw",
    wrist: str | dict[str, str] = DEFAULT_WRIST,
    mirror_to_left: bool = False,
    subjects: dict[str, dict[str, str]] | None = None,
    executions: dict[str, dict[str, str]] | None = None,
) -> Recording:
    """Read one ``sXX_YY_{sw,sp}.csv`` into a :class:`Recording` (watch: wear-os-watch profile + Mount(wrist);
    phone: android-phone profile, no mount)."""
    path = Path(path)
    if device not in DEVICES:
        raise ConfigError(f"sp-sw-har: unknown device {device!r} (known: {', '.join(DEVICES)})")
    stem = path.stem  # sXX_YY_sw
    parts = stem.split("_")
    if len(parts) != 3:
        raise InputFileError(path, "expected a file name sXX_YY_sw.csv or sXX_YY_sp.csv")
    subject, rec_id = parts[0], f"{parts[0]}_{parts[1]}"
    t, acc, gyro, names = read_csv(path)
    labels = encode_labels(names, CLASS_NAMES)
    if np.any(labels < 0):
        bad = sorted({n for n in names if n not in CLASS_NAMES})
        raise InputFileError(path, f"unknown labels {bad} (known: {', '.join(CLASS_NAMES)})")
    mount = Mount(_wrist_for(subject, wrist)) if device == "sw" else None
    meta = {"source": "sp-sw-har", "path": str(path), "device_kind": device,
            "subject_info": (subjects or {}).get(subject, {}), "execution_info": (executions or {}).get(rec_id, {}),
            "wrist_source": "assumed left for all subjects, inferred from SEATED gravity (see toolkit.data.sp_sw_har)"}
    return make_recording(
        subject=subject, recording=rec_id if device == "sw" else f"{rec_id}_sp", timestamps_s=t, acc_device=acc,
        gyro_device=gyro, labels=labels, class_names=CLASS_NAMES, profile=DEVICES[device], mount=mount,
        mirror_to_left=mirror_to_left, meta=meta,
    )  # fmt: skip


def list_files(root: Path, device: str = "sw") -> list[Path]:
    """All ``DATA/sXX/sXX_YY_<device>.csv`` under ``root``, sorted."""
    return sorted((root / "DATA").glob(f"s*/s*_*_{device}.csv"))


def load_sp_sw_har(
    data_root: str | Path | None = None,
    *,
    device: str = "sw",
    subjects: list[str] | None = None,
    wrist: str | dict[str, str] = DEFAULT_WRIST,
    mirror_to_left: bool = False,
) -> list[Recording]:
    """All recordings of the dataset (optionally only ``subjects``, e.g. ``["s01", "s02"]``).

    Raises:
        DatasetNotFoundError: the dataset folder is not under any data root.
        InputFileError: a malformed file.
    """
    root = find_dataset(DATASET_DIR, data_root)
    subj_info, exec_info = read_subjects(root), read_executions(root)
    files = list_files(root, device)
    if subjects is not None:
        wanted = set(subjects)
        files = [f for f in files if f.parent.name in wanted]
    if not files:
        raise InputFileError(root, f"no DATA/sXX/sXX_YY_{device}.csv files")
    return [load_recording(f, device=device, wrist=wrist, mirror_to_left=mirror_to_left, subjects=subj_info,
                           executions=exec_info) for f in files]  # fmt: skip


__all__ = ["CLASS_NAMES", "COLUMNS", "DEFAULT_WRIST", "load_recording", "load_sp_sw_har", "read_csv"]
