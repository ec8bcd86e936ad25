"""A generic CSV format for bringing your own recordings, and its reader and writer.

Format (UTF-8, comma separated, one header line; lines starting with ``#`` before the header are comments)::

    # multi3edge-csv 1
    # profile=wear-os-watch          (optional: the device profile; the command line's --profile must agree)
    # wrist=left                     (optional: left | right; face=dorsal|palmar, rotation_deg=<deg> likewise)
    timestamp_s,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z,label,subject
    0.000,0.12,-0.03,9.79,0.001,0.002,-0.001,walking,p01

==============================  ===========================================================================
column                          meaning
==============================  ===========================================================================
timestamp_s (required)          sample time [s], non-decreasing, any epoch
acc_x, acc_y, acc_z (required)  accelerometer in the **profile's** units, sign and device axes
                                (m/s^2 Android sign for ``wear-os-watch`` / ``imu-stream``, g iOS sign for
                                ``apple-watch``, counts for ``empatica-e4``)
gyro_x, gyro_y, gyro_z          gyroscope in the profile's units (rad/s or deg/s); omit all three if none
label                           class name per sample (empty = unlabelled)
subject                         subject id per sample (default: the file name's stem)
==============================  ===========================================================================

The profile is required (argument or ``# profile=`` comment): the reader never guesses units. One
:class:`~toolkit.data.recording.Recording` is returned per subject found in the file, each converted to the
simulator's watch frame and SI units through the profile and the mount.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from toolkit.data.recording import Recording, encode_labels, make_recording
from toolkit.device_profiles import RealDeviceProfile, resolve_profile
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import Mount

FORMAT_LINE = "# multi3edge-csv 1"
REQUIRED = ["timestamp_s", "acc_x", "acc_y", "acc_z"]
GYRO = ["gyro_x", "gyro_y", "gyro_z"]


def _read_comments(lines: list[str]) -> tuple[dict[str, str], int]:
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        body = lines[i].lstrip("#").strip()
        if "=" in body:
            k, _, v = body.partition("=")
            meta[k.strip()] = v.strip()
        i += 1
    return meta, i


def read_csv_recordings(
    path: str | Path,
    profile: RealDeviceProfile | str | None = None,
    mount: Mount | None = None,
    class_names: list[str] | None = None,
    mirror_to_left: bool = False,
) -> list[Recording]:
    """Read a generic CSV (module docstring) into one :class:`Recording` per subject.

    Args:
        path: the file.
        profile: device profile (object or name); required unless the file names one in ``# profile=``.
        mount: how it was worn; default from the ``# wrist=/face=/rotation_deg=`` comments, else left dorsal.
            Ignored (None) for non-wrist profiles.
        class_names: fixed class list (labels not in it become -1); default the sorted labels found.
        mirror_to_left: mirror right-wrist data into the left-wrist frame.

    Raises:
        InputFileError: missing columns, bad numbers, too few rows.
        ConfigError: no profile, or a profile different from the file's.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputFileError(path, f"cannot read ({e.strerror})") from None
    meta, start = _read_comments(lines)
    if profile is None and "profile" not in meta:
        raise ConfigError(f"{path}: no device profile given (pass --profile NAME or add '# profile=NAME')")
    prof = resolve_profile(profile if profile is not None else meta["profile"])
    if "profile" in meta and meta["profile"] != prof.name:
        raise ConfigError(f"{path}: file says profile={meta['profile']} but {prof.name!r} was given")
    if mount is None and prof.wrist_worn:
        try:
            mount = Mount(meta.get("wrist", "left"), meta.get("face", "dorsal"), float(meta.get("rotation_deg", 0)))
        except ValueError:
            raise InputFileError(path, f"bad rotation_deg comment {meta.get('rotation_deg')!r}") from None
    if not prof.wrist_worn:
        mount = None
    reader = csv.DictReader(io.StringIO("\n".join(lines[start:])))
    cols = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise InputFileError(path, f"missing columns {missing}; header must start with {','.join(REQUIRED)}")
    gyro_cols = [c for c in GYRO if c in cols]
    if gyro_cols and len(gyro_cols) != 3:
        raise InputFileError(path, "give all of gyro_x, gyro_y, gyro_z or none")
    rows = [r for r in reader if any((v or "").strip() for v in r.values())]
    if len(rows) < 2:
        raise InputFileError(path, "fewer than 2 samples")
    try:
        num = np.array([[float(r[c]) for c in REQUIRED + gyro_cols] for r in rows], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputFileError(path, f"bad number ({e})") from None
    labels_raw = np.array([(r.get("label") or "").strip() for r in rows])
    subjects = np.array([(r.get("subject") or "").strip() or path.stem for r in rows])
    names = class_names if class_names is not None else sorted({s for s in labels_raw.tolist() if s})
    codes = encode_labels(labels_raw, names)
    out = []
    for subj in dict.fromkeys(subjects.tolist()):
        sel = subjects == subj
        part = num[sel]
        out.append(make_recording(
            subject=subj, recording=f"{path.stem}:{subj}", timestamps_s=part[:, 0], acc_device=part[:, 1:4],
            gyro_device=part[:, 4:7] if gyro_cols else None, labels=codes[sel], class_names=names, profile=prof,
            mount=mount, mirror_to_left=mirror_to_left, meta={"source": "csv", "path": str(path), "comments": meta},
        ))  # fmt: skip
    return out


def write_csv(
    path: str | Path,
    timestamps_s: np.ndarray,
    acc: np.ndarray,
    gyro: np.ndarray | None = None,
    labels: list[str] | np.ndarray | None = None,
    subject: str | list[str] | np.ndarray | None = None,
    profile: str | None = None,
    mount: Mount | None = None,
) -> Path:
    """Write arrays (already in the profile's units/axes) in the generic CSV format.

    Args:
        timestamps_s: (T,) [s]; acc: (T, 3); gyro: (T, 3) or None; labels: (T,) names or None;
        subject: one id or (T,) ids; profile: written as ``# profile=``; mount: written as comments.
    """
    t = np.asarray(timestamps_s, dtype=np.float64)
    acc = np.asarray(acc, dtype=np.float64)
    n = t.shape[0]
    if acc.shape != (n, 3) or (gyro is not None and np.asarray(gyro).shape != (n, 3)):
        raise ConfigError(f"write_csv: acc/gyro must be ({n}, 3)")
    header = REQUIRED + (GYRO if gyro is not None else []) + (["label"] if labels is not None else [])
    subj = None
    if subject is not None:
        subj = np.full(n, subject) if isinstance(subject, str) else np.asarray(subject)
        header.append("subject")
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        f.write(FORMAT_LINE + "\n")
        if profile is not None:
            f.write(f"# profile={profile}\n")
        if mount is not None:
            f.write(f"# wrist={mount.wrist}\n# face={mount.face}\n# rotation_deg={mount.rotation_deg!r}\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(n):
            row = [repr(float(t[i]))] + [repr(float(v)) for v in acc[i]]
            if gyro is not None:
                row += [repr(float(v)) for v in np.asarray(gyro)[i]]
            if labels is not None:
                row.append(str(labels[i]))
            if subj is not None:
                row.append(str(subj[i]))
            w.writerow(row)
    return path


__all__ = ["FORMAT_LINE", "read_csv_recordings", "write_csv"]
