"""Generic UEA/sktime ``.ts`` classification files as real recordings (BasicMotions is one instance).

The parser handles what the UEA multivariate archive uses: ``#`` comments, ``@key value`` headers up to
``@data``, then one case per line: dimensions separated by ``:``, values by ``,``, the class label last; equal
length, no timestamps, no missing values. Any number of dimensions ``D``; a ``.ts`` file names none, so they are
mapped to the IMU **by index** (0-based):

* ``acc``: three dimension indices read as the accelerometer (default ``[0, 1, 2]``);
* ``gyro``: three indices read as the gyroscope (default ``[3, 4, 5]`` when the device profile has a gyroscope
  and ``D >= 6``, else none: an accelerometer-only recording); other dimensions are ignored.

The values go through the device profile (units, sign, axes -> watch frame) and a :class:`~toolkit.mount.Mount`
like every loader's. The archive stores no sample rate: ``rate_hz`` (or the profile's) sets the timestamps.

Subjects: a ``.ts`` file has none. A subject file gives one id per case, in the order of the cases (several
``.ts`` files: their cases in the order the files are listed); one id per line, blank lines and ``#`` comments
ignored. Without it every case gets subject ``"unknown"``: leave-one-subject-out is then impossible and the
evaluation needs the stratified case split (``edge-eval --split stratified-cases``, :mod:`toolkit.data.splits`).
By default a file ``<stem>.subjects.txt`` next to a ``.ts`` file is that file's subject file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.data.recording import Recording, make_recording
from toolkit.device_profiles import RealDeviceProfile, resolve_profile
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import Mount

#: Subject id of cases without a subject file.
UNKNOWN_SUBJECT = "unknown"


@dataclass
class TsDataset:
    """A parsed ``.ts`` file: ``x`` (N, D, L) float64, ``labels`` (N,) str, ``class_names``, ``headers``."""

    x: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    headers: dict[str, str]


def parse_ts(text: str, where: str = "<ts>") -> TsDataset:
    """Parse the sktime/aeon ``.ts`` text format (equal-length, labelled, no timestamps, no missing values).

    Raises:
        InputFileError: malformed headers or data lines, unequal lengths, unknown labels, non-finite values.
    """
    headers: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if not line.startswith("@"):
            raise InputFileError(where, f"line {i}: expected a @header before @data")
        key, _, value = line[1:].partition(" ")
        if key.lower() == "data":
            break
        headers[key.lower()] = value.strip()
    else:
        raise InputFileError(where, "no @data line")
    if headers.get("timestamps", "false").lower() != "false":
        raise InputFileError(where, "@timeStamps true is not supported")
    label_spec = headers.get("classlabel", "false").split()
    if not label_spec or label_spec[0].lower() != "true":
        raise InputFileError(where, "unlabelled .ts files are not supported")
    class_names = label_spec[1:]
    cases, labels = [], []
    for j, line in enumerate(lines[i:], start=i + 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 2:
            raise InputFileError(where, f"line {j}: expected dimensions separated by ':' and a label")
        try:
            dims = [np.array([float(v) for v in p.split(",")]) for p in parts[:-1]]
        except ValueError as e:
            raise InputFileError(where, f"line {j}: {e}") from None
        if len({d.size for d in dims}) != 1:
            raise InputFileError(where, f"line {j}: dimensions of unequal length")
        bad = [k for k, d in enumerate(dims) if not np.all(np.isfinite(d))]
        if bad:
            raise InputFileError(where, f"line {j}: dimension {bad[0]} has NaN or infinite values")
        label = parts[-1].strip()
        if class_names and label not in class_names:
            raise InputFileError(where, f"line {j}: label {label!r} not in {class_names}")
        cases.append(np.stack(dims))
        labels.append(label)
    if not cases:
        raise InputFileError(where, "no cases")
    if len({c.shape for c in cases}) != 1:
        raise InputFileError(where, "cases of unequal shape (only equal-length series are supported)")
    n_dims = headers.get("dimensions")
    if n_dims is not None and n_dims.isdigit() and int(n_dims) != cases[0].shape[0]:
        raise InputFileError(where, f"@dimensions {n_dims} but {cases[0].shape[0]} in the data")
    return TsDataset(np.stack(cases), np.asarray(labels), class_names or sorted(set(labels)), headers)


def read_ts(path: str | Path) -> TsDataset:
    """Parse a ``.ts`` file (:func:`parse_ts`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(path, f"cannot read ({getattr(e, 'strerror', None) or e})") from None
    return parse_ts(text, str(path))


def read_subject_file(path: str | Path) -> list[str]:
    """Subject ids, one per line (blank lines and ``#`` comments ignored)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(path, f"cannot read the subject file ({getattr(e, 'strerror', None) or e})") from None
    ids = [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]
    if not ids:
        raise InputFileError(path, "no subject id in the subject file")
    return ids


def _dims(value: Sequence[int] | None, n_dims: int, what: str, where: str) -> list[int] | None:
    if value is None:
        return None
    idx = list(value)
    if len(idx) != 3 or not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
        raise ConfigError(f"{where}: {what} must be 3 dimension indices (0-based integers), got {value!r}")
    if min(idx) < 0 or max(idx) >= n_dims:
        raise ConfigError(f"{where}: {what} dimensions {idx} outside 0..{n_dims - 1} (the file has {n_dims})")
    return idx


def ts_recordings(
    ds: TsDataset,
    *,
    profile: RealDeviceProfile | str,
    rate_hz: float | None = None,
    acc: Sequence[int] | None = None,
    gyro: Sequence[int] | None | bool = None,
    subjects: Sequence[str] | None = None,
    class_names: list[str] | None = None,
    mount: Mount | None = None,
    prefix: str = "case",
    mirror_to_left: bool = False,
    meta: dict | None = None,
    where: str = "<ts>",
) -> list[Recording]:
    """One :class:`Recording` per case of ``ds`` (module docstring).

    Args:
        profile: device profile of the values; rate_hz: sample rate [Hz] (default the profile's).
        acc, gyro: dimension indices (module docstring); ``gyro=False``: no gyroscope even with 6 dimensions.
        subjects: one id per case, or None (all ``"unknown"``).
        class_names: class order (default the file's ``@classLabel`` list).
        mount: how the device was worn (default left wrist, dorsal; None for non-wrist profiles).
        prefix: recording ids are ``<prefix>_<k>``.

    Raises:
        ConfigError: bad dimension indices, a subject list of the wrong length, labels missing from class_names.
    """
    prof = resolve_profile(profile)
    n_cases, n_dims, length = ds.x.shape
    acc_idx = _dims(acc, n_dims, "acc", where) or [0, 1, 2]
    if n_dims < 3:
        raise ConfigError(f"{where}: {n_dims} dimension(s); need at least 3 for an accelerometer")
    if gyro is False:
        gyro_idx = None
    elif gyro is None or gyro is True:
        gyro_idx = [3, 4, 5] if prof.has_gyro and n_dims >= 6 else None
        if gyro is True and gyro_idx is None:
            raise ConfigError(f"{where}: gyro requested but the file has {n_dims} dimensions / the profile no gyro")
    else:
        gyro_idx = _dims(gyro, n_dims, "gyro", where)
    if subjects is not None and len(subjects) != n_cases:
        raise ConfigError(f"{where}: {len(subjects)} subject ids for {n_cases} cases (one id per case, in order)")
    names = list(class_names) if class_names is not None else list(ds.class_names)
    missing = sorted(set(ds.labels.tolist()) - set(names))
    if missing:
        raise ConfigError(f"{where}: labels {missing} are not in the class list {names}")
    rate = float(rate_hz if rate_hz is not None else prof.rate_hz)
    if mount is None and prof.wrist_worn:
        mount = Mount("left")
    t = np.arange(length) / rate
    out = []
    for k in range(n_cases):
        sig = ds.x[k].T  # (L, D)
        out.append(make_recording(
            subject=UNKNOWN_SUBJECT if subjects is None else subjects[k], recording=f"{prefix}_{k:02d}",
            timestamps_s=t, acc_device=sig[:, acc_idx], gyro_device=None if gyro_idx is None else sig[:, gyro_idx],
            labels=np.full(length, names.index(str(ds.labels[k])), np.int64), class_names=names, profile=prof,
            mount=mount if prof.wrist_worn else None, rate_hz=rate, mirror_to_left=mirror_to_left,
            meta={"source": where, "case": k, "acc_dims": acc_idx, "gyro_dims": gyro_idx, **(meta or {})},
        ))  # fmt: skip
    return out


def sidecar_subjects(path: str | Path) -> Path:
    """``<stem>.subjects.txt`` next to the ``.ts`` file ``path`` (may not exist)."""
    path = Path(path)
    return path.with_name(path.stem + ".subjects.txt")


def load_ts(
    paths: str | Path | Sequence[str | Path],
    profile: RealDeviceProfile | str,
    *,
    rate_hz: float | None = None,
    acc: Sequence[int] | None = None,
    gyro: Sequence[int] | None | bool = None,
    subjects: str | Path | None = None,
    mount: Mount | None = None,
    mirror_to_left: bool = False,
) -> list[Recording]:
    """Recordings of one or more ``.ts`` files (their cases in order; recording ids ``<file stem>_<k>``).

    Args:
        paths: the ``.ts`` files (e.g. ``X_TRAIN.ts``, ``X_TEST.ts``); they must have the same dimensions.
        profile, rate_hz, acc, gyro, mount, mirror_to_left: as :func:`ts_recordings`.
        subjects: a subject file for all cases of all files in order; None: each file's ``<stem>.subjects.txt``
            when every file has one, else no subjects.
    """
    files = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    if not files:
        raise ConfigError("ts: no .ts file given")
    parsed = [read_ts(f) for f in files]
    if len({p.x.shape[1:] for p in parsed}) != 1:
        raise InputFileError(files[0], f"the .ts files differ in shape (dimensions, length): "
                             f"{[p.x.shape[1:] for p in parsed]}")
    names = sorted(set().union(*(p.class_names for p in parsed))) if len(parsed) > 1 else parsed[0].class_names
    counts = [p.x.shape[0] for p in parsed]
    per_file: list[list[str] | None] = [None] * len(files)
    if subjects is not None:
        ids = read_subject_file(subjects)
        if len(ids) != sum(counts):
            raise InputFileError(subjects, f"{len(ids)} subject ids for {sum(counts)} cases (one per case, in order)")
        bounds = np.cumsum([0, *counts])
        per_file = [ids[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    elif all(sidecar_subjects(f).is_file() for f in files):
        per_file = [read_subject_file(sidecar_subjects(f)) for f in files]
        for f, part, n in zip(files, per_file, counts, strict=True):
            if len(part) != n:
                raise InputFileError(sidecar_subjects(f), f"{len(part)} subject ids for {n} cases of {f.name}")
    out: list[Recording] = []
    for f, ds, part in zip(files, parsed, per_file, strict=True):
        out += ts_recordings(ds, profile=profile, rate_hz=rate_hz, acc=acc, gyro=gyro, subjects=part,
                             class_names=names, mount=mount, prefix=f.stem, mirror_to_left=mirror_to_left,
                             where=str(f))  # fmt: skip
    return out


__all__ = [
    "TsDataset",
    "UNKNOWN_SUBJECT",
    "load_ts",
    "parse_ts",
    "read_subject_file",
    "read_ts",
    "sidecar_subjects",
    "ts_recordings",
]
