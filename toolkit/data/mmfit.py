"""MM-Fit (Strömbäck, Huang, Radu 2020, mmfit.github.io): full-body exercise workouts with two smartwatches.

Layout (``<data root>/mm-fit/``), as read by the dataset authors' ``load_modality`` / ``load_labels``::

    wXX/wXX_sw_l_acc.npy   left-wrist watch accelerometer   (N, 5): frame, timestamp, x, y, z
    wXX/wXX_sw_l_gyr.npy   left-wrist watch gyroscope       (N, 5)
    wXX/wXX_sw_r_acc.npy   right-wrist watch (same layout); other modalities (sp_*, eb_*, pose_*) are ignored
    wXX/wXX_labels.csv     no header; rows ``start_frame,end_frame,repetitions,exercise``

``frame`` is the video frame the sample belongs to (labels are in frames, inclusive); ``timestamp`` is the
sample time. Its unit is not stated in the files: the loader picks s / ms / us / ns so that the median interval
gives a rate between 5 and 500 Hz (stored in ``meta["timestamp_unit"]``). The watches are Android Wear watches:
acc m/s^2 with gravity, gyro rad/s, Android frame, i.e. the ``wear-os-watch`` profile (an assumption of the
paper's description: override ``profile``). ``.npy`` files are read with ``allow_pickle=False``. When the gyro
samples are not on the acc timestamps they are linearly interpolated onto them.

Subjects: the files do not name subjects (several workouts share one); pass ``subject_of_workout`` for
subject-wise splits, otherwise the workout id stands in for the subject (``meta["subject_is_workout"]``), which
would leak between workouts of the same person.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from toolkit.data.paths import find_dataset
from toolkit.data.recording import Recording, make_recording
from toolkit.device_profiles import RealDeviceProfile
from toolkit.errors import InputFileError
from toolkit.mount import Mount

EXERCISES = ["squats", "pushups", "dumbbell_shoulder_press", "lunges", "dumbbell_rows", "situps",
             "tricep_extensions", "bicep_curls", "lateral_shoulder_raises", "jumping_jacks"]  # fmt: skip
NULL_CLASS = "non_activity"
CLASS_NAMES = EXERCISES + [NULL_CLASS]
WRISTS = {"l": "left", "r": "right"}
_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def load_modality(path: str | Path) -> np.ndarray:
    """One MM-Fit modality ``.npy`` as (N, 5) float64 (frame, timestamp, x, y, z); no pickle."""
    path = Path(path)
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputFileError(path, f"not a plain numeric .npy ({e})") from None
    if a.ndim != 2 or a.shape[1] != 5 or a.shape[0] < 2:
        raise InputFileError(path, f"expected (N >= 2, 5) [frame, timestamp, x, y, z], got {a.shape}")
    return np.asarray(a, dtype=np.float64)


def load_labels(path: str | Path) -> list[tuple[int, int, int, str]]:
    """``wXX_labels.csv`` rows as ``(start_frame, end_frame, repetitions, exercise)``."""
    path = Path(path)
    out = []
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row:
                continue
            try:
                out.append((int(row[0]), int(row[1]), int(row[2]), row[3].strip()))
            except (ValueError, IndexError):
                msg = f"line {lineno}: expected start_frame,end_frame,repetitions,exercise"
                raise InputFileError(path, msg) from None
    return out


def timestamp_unit(ts: np.ndarray) -> str:
    """The unit ("s", "ms", "us", "ns") that makes the median sample interval a 5..500 Hz rate."""
    d = np.diff(ts)
    d = d[d > 0]
    if not d.size:
        raise InputFileError("timestamps", "not increasing")
    med = float(np.median(d))
    for unit, scale in _UNITS.items():
        if 1 / 500 <= med * scale <= 1 / 5:
            return unit
    raise InputFileError("timestamps", f"median interval {med:g} fits no unit (s, ms, us, ns)")


def frame_labels(frames: np.ndarray, segments: list[tuple[int, int, int, str]]) -> np.ndarray:
    """(N,) class indices from (N,) frame numbers and label segments (inclusive frame ranges)."""
    out = np.full(frames.shape, CLASS_NAMES.index(NULL_CLASS), dtype=np.int64)
    for start, end, _, name in segments:
        if name not in CLASS_NAMES:
            raise InputFileError("labels", f"unknown exercise {name!r} (known: {', '.join(EXERCISES)})")
        out[(frames >= start) & (frames <= end)] = CLASS_NAMES.index(name)
    return out


def load_mmfit(
    root: str | Path | None = None,
    *,
    workouts: list[str] | None = None,
    wrists: tuple[str, ...] = ("l", "r"),
    subject_of_workout: dict[str, str] | None = None,
    profile: RealDeviceProfile | str = "wear-os-watch",
    mirror_to_left: bool = False,
    data_root: str | Path | None = None,
) -> list[Recording]:
    """Watch recordings of every workout, one :class:`Recording` per (workout, wrist) with an acc file."""
    root = Path(root) if root is not None else find_dataset("mm-fit", data_root)
    out = []
    for wdir in sorted(p for p in root.glob("w*") if p.is_dir()):
        w = wdir.name
        if workouts is not None and w not in workouts:
            continue
        label_file = wdir / f"{w}_labels.csv"
        segments = load_labels(label_file) if label_file.is_file() else []
        for side in wrists:
            acc_file = wdir / f"{w}_sw_{side}_acc.npy"
            if not acc_file.is_file():
                continue
            acc = load_modality(acc_file)
            order = np.argsort(acc[:, 1], kind="stable")
            acc = acc[order]
            unit = timestamp_unit(acc[:, 1])
            t = acc[:, 1] * _UNITS[unit]
            gyro = None
            gyr_file = wdir / f"{w}_sw_{side}_gyr.npy"
            if gyr_file.is_file():
                g = load_modality(gyr_file)
                g = g[np.argsort(g[:, 1], kind="stable")]
                if g.shape == acc.shape and np.array_equal(g[:, 1], acc[:, 1]):
                    gyro = g[:, 2:5]
                else:
                    tg = g[:, 1] * _UNITS[unit]
                    gyro = np.stack([np.interp(t, tg, g[:, 2 + k]) for k in range(3)], axis=1)
            subject = (subject_of_workout or {}).get(w, w)
            out.append(make_recording(
                subject=subject, recording=f"{w}_sw_{side}", timestamps_s=t, acc_device=acc[:, 2:5],
                gyro_device=gyro, labels=frame_labels(acc[:, 0], segments), class_names=CLASS_NAMES,
                profile=profile, mount=Mount(WRISTS[side]), mirror_to_left=mirror_to_left,
                meta={"source": "mm-fit", "path": str(acc_file), "timestamp_unit": unit, "workout": w,
                      "subject_is_workout": subject_of_workout is None or w not in subject_of_workout},
            ))  # fmt: skip
    if not out:
        raise InputFileError(root, "no wXX/wXX_sw_{l,r}_acc.npy files found")
    return out


__all__ = ["CLASS_NAMES", "EXERCISES", "frame_labels", "load_labels", "load_mmfit", "load_modality", "timestamp_unit"]
