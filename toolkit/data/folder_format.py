"""A dataset of many files: a folder with one CSV or whitespace text file per trial, described by ``dataset.yaml``.

Command line: ``--dataset folder:DIR`` (``DIR`` holds ``dataset.yaml``; ``folder:DIR/other.yaml`` names another
description file, the folder being its parent). ``--profile`` on the command line overrides the description's.

``dataset.yaml`` (every key optional except ``files``)::

    format: text                       # text (default) | ts (UEA/sktime .ts files, toolkit.data.ts_format)
    files: "{label}/{*}-{subject}.txt" # path template relative to the folder (format ts: a list of .ts files)
    delimiter: whitespace              # whitespace | "," | ";" | tab  (default "," for *.csv, else whitespace)
    header_rows: 0                     # lines skipped at the top of each file (the last one names the columns)
    columns:                           # 0-based column index, or a header name when header_rows >= 1
      t: null                          # time column; null: none (then rate_hz gives the times)
      acc: [0, 1, 2]                   # accelerometer x, y, z in the device's units and axes
      gyro: null                       # [3, 4, 5] if the device has a gyroscope (default: null for acc-only
                                       #   profiles, [3, 4, 5] when the profile has a gyroscope)
      label: null                      # per-sample label column (instead of {label} in the template)
      subject: null                    # per-sample subject column (instead of {subject})
    time_unit: s                       # s | ms | us | ns (of the t column)
    rate_hz: 32                        # declared rate [Hz]; default the profile's (checked against the t column)
    profile: ../profile.yaml           # built-in profile name, or a profile file relative to this file
    wrist: right                       # left | right (default left); face: dorsal | palmar; rotation_deg: 0
    classes: [rest, walk, wave]        # class order (default: the labels found, sorted)
    exclude: ["README*"]               # file-name globs to ignore
    subjects: subjects.txt             # format ts only: one subject id per case (toolkit.data.ts_format)

Path template: literal text plus fields ``{label}``, ``{subject}``, ``{trial}`` and ``{*}`` (any text). A field
matches one or more characters other than ``/``; a named field also stops at the literal character that follows
it in the template, ``{*}`` takes as much as it can. So ``{label}/{*}-{subject}.txt`` reads
``walk/Accelerometer-2011-03-24-walk-m1.txt`` as label ``walk``, subject ``m1``. ``{trial}`` is optional (default:
the file's path relative to the folder). The files considered are those at the template's folder depth whose
name ends like the template (e.g. ``.txt``), minus ``exclude``, ``dataset.yaml`` and hidden files; every one of
them must fit the template.

Each file is one trial: its own :class:`~toolkit.data.recording.Recording` (one per subject when a subject column
mixes several), so windows never span two trials. The values go through the device profile into the watch frame
and SI units (:meth:`toolkit.device_profiles.RealDeviceProfile.to_simulator`) and the mount (``wrist``), the
declared rate is checked against the time column (:func:`toolkit.data.recording.checked_rate_hz`).

Errors (one line, :class:`~toolkit.errors.InputFileError` naming the file): no file fits the template, a file
whose path does not fit, rows with different numbers of fields, a non-numeric value or NaN / inf (with its line
and column).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from toolkit.data.recording import Recording, encode_labels, make_recording
from toolkit.data.ts_format import load_ts
from toolkit.device_profiles import RealDeviceProfile, resolve_profile
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import Mount

DESCRIPTION = "dataset.yaml"
FIELDS = ("label", "subject", "trial", "*")
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
DELIMITERS = {"whitespace": None, ",": ",", ";": ";", "tab": "\t", "\t": "\t"}
_KEYS = {"format", "files", "delimiter", "header_rows", "columns", "time_unit", "rate_hz", "profile", "wrist",
         "face", "rotation_deg", "classes", "exclude", "subjects"}  # fmt: skip
_COLUMN_KEYS = {"t", "acc", "gyro", "label", "subject"}

Column = int | str


@dataclass
class DatasetDescription:
    """A validated ``dataset.yaml`` (module docstring); ``base`` is the folder the paths are relative to."""

    base: Path
    files: str | list[str]
    format: str = "text"
    delimiter: str | None = None
    header_rows: int = 0
    columns: dict[str, Any] = field(default_factory=dict)
    time_unit: str = "s"
    rate_hz: float | None = None
    profile: str | None = None
    wrist: str = "left"
    face: str = "dorsal"
    rotation_deg: float = 0.0
    classes: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    subjects: str | None = None


def _fail(where: Path, msg: str) -> None:
    raise ConfigError(f"{where}: {msg}")


def read_description(path: str | Path) -> DatasetDescription:
    """``path``: a folder holding ``dataset.yaml``, or a description file. Validates every key.

    Raises:
        ConfigError: missing file, bad YAML, unknown keys or bad values.
    """
    path = Path(path)
    file = path / DESCRIPTION if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(f"{path}: no {DESCRIPTION} here (a folder dataset needs one; see the README, "
                          "'Your own dataset')")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{file}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        _fail(file, "expected a mapping of keys (files:, columns:, profile:, ...)")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        _fail(file, f"unknown keys {unknown} (known: {', '.join(sorted(_KEYS))})")
    d = DatasetDescription(base=file.parent, files=data.get("files"))  # type: ignore[arg-type]
    d.format = str(data.get("format", "text"))
    if d.format not in ("text", "ts"):
        _fail(file, f"format must be text or ts, got {d.format!r}")
    if d.format == "text" and not (isinstance(d.files, str) and d.files.strip()):
        _fail(file, "files: must be a path template such as '{label}/{*}-{subject}.txt'")
    if d.format == "ts":
        files = [d.files] if isinstance(d.files, str) else d.files
        if not (isinstance(files, list) and files and all(isinstance(f, str) for f in files)):
            _fail(file, "files: must name the .ts file(s), e.g. [X_TRAIN.ts, X_TEST.ts]")
        d.files = files
    delim = data.get("delimiter")
    if delim is not None and delim not in DELIMITERS:
        _fail(file, f"delimiter must be one of {', '.join(repr(k) for k in DELIMITERS if k != chr(9))}, got {delim!r}")
    d.delimiter = delim
    hr = data.get("header_rows", 0)
    if isinstance(hr, bool) or not isinstance(hr, int) or hr < 0:
        _fail(file, f"header_rows must be an integer >= 0, got {hr!r}")
    d.header_rows = hr
    cols = data.get("columns") or {}
    if not isinstance(cols, dict) or set(cols) - _COLUMN_KEYS:
        _fail(file, f"columns: a mapping with keys among {', '.join(sorted(_COLUMN_KEYS))}")
    for key, value in cols.items():
        ok = value is None or _is_col(value) if key in ("t", "label", "subject") else (
            value is None or (isinstance(value, list) and len(value) == 3 and all(_is_col(v) for v in value)))
        if not ok:
            _fail(file, f"columns.{key}: expected {'a column' if key in ('t', 'label', 'subject') else '3 columns'}"
                  f" (0-based index or header name), got {value!r}")
        if any(isinstance(v, str) for v in (value if isinstance(value, list) else [value])) and d.header_rows < 1:
            _fail(file, f"columns.{key}: column names need header_rows >= 1 (the last header row names them)")
    d.columns = dict(cols)
    d.time_unit = str(data.get("time_unit", "s"))
    if d.time_unit not in TIME_UNITS:
        _fail(file, f"time_unit must be one of {', '.join(TIME_UNITS)}, got {d.time_unit!r}")
    rate = data.get("rate_hz")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0):
        _fail(file, f"rate_hz must be a positive number, got {rate!r}")
    d.rate_hz = None if rate is None else float(rate)
    prof = data.get("profile")
    if prof is not None and not isinstance(prof, str):
        _fail(file, f"profile must be a built-in name or a file path, got {prof!r}")
    d.profile = prof
    d.wrist, d.face = str(data.get("wrist", "left")), str(data.get("face", "dorsal"))
    rot = data.get("rotation_deg", 0.0)
    if isinstance(rot, bool) or not isinstance(rot, int | float):
        _fail(file, f"rotation_deg must be a number, got {rot!r}")
    d.rotation_deg = float(rot)
    classes = data.get("classes")
    if classes is not None and not (isinstance(classes, list) and classes
                                    and len(set(map(str, classes))) == len(classes)):
        _fail(file, "classes must be a list of distinct names")
    d.classes = None if classes is None else [str(c) for c in classes]
    exclude = data.get("exclude") or []
    if not (isinstance(exclude, list) and all(isinstance(e, str) for e in exclude)):
        _fail(file, "exclude must be a list of file-name globs")
    d.exclude = list(exclude)
    subjects = data.get("subjects")
    if subjects is not None and (d.format != "ts" or not isinstance(subjects, str)):
        _fail(file, "subjects: (a subject file) is only for format ts; text files take {subject} or a column")
    d.subjects = subjects
    return d


def _is_col(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool) and v >= 0) or (isinstance(v, str) and bool(v.strip()))


def _profile_of(value: RealDeviceProfile | str, base: Path) -> RealDeviceProfile:
    """A profile object: an object, a built-in name, or a file (relative to ``base`` unless absolute)."""
    if isinstance(value, RealDeviceProfile):
        return value
    looks_like_file = any(s in value for s in ("/", "\\")) or value.lower().endswith((".yaml", ".yml", ".json"))
    if looks_like_file:
        p = Path(os.path.normpath(value if Path(value).is_absolute() else base / value))
        if not p.is_file():
            raise ConfigError(f"profile file {p} not found")
        return resolve_profile(str(p))
    return resolve_profile(value)


# ---------------------------------------------------------------------------------------------- path template
def template_regex(template: str) -> re.Pattern[str]:
    """The regular expression of a path template (module docstring); groups ``label``, ``subject``, ``trial``.

    Raises:
        ConfigError: an unknown ``{field}``, or an unbalanced brace.
    """
    parts = re.split(r"(\{[^{}]*\})", template)
    out, seen = [], set()
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].strip()
            if name not in FIELDS:
                raise ConfigError(f"template {template!r}: unknown field {part} (known: "
                                  f"{', '.join('{' + f + '}' for f in FIELDS)})")
            if name == "*":
                out.append("[^/]+")
                continue
            if name in seen:
                out.append(f"(?P={name})")
                continue
            seen.add(name)
            nxt = parts[i + 1][:1] if i + 1 < len(parts) else ""
            stop = re.escape(nxt) if nxt and nxt != "/" else ""
            out.append(f"(?P<{name}>[^/{stop}]+)")
        else:
            if "{" in part or "}" in part:
                raise ConfigError(f"template {template!r}: unbalanced brace in {part!r}")
            out.append(re.escape(part))
    return re.compile("".join(out))


def match_files(folder: Path, template: str, exclude: list[str] = ()) -> list[tuple[Path, dict[str, str]]]:
    """``[(file, {field: value})]`` of the files of ``folder`` the template describes, sorted by path.

    Raises:
        InputFileError: no file fits the template, or a candidate file does not fit it (module docstring).
    """
    rx = template_regex(template)
    depth = template.count("/")
    last = template.rsplit("/", 1)[-1]
    suffix = re.split(r"\{[^{}]*\}", last)[-1]
    ignore = [DESCRIPTION, *exclude]
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if not p.is_file() or rel.count("/") != depth or any(s.startswith(".") for s in rel.split("/")):
            continue
        if any(fnmatch.fnmatch(p.name, g) or fnmatch.fnmatch(rel, g) for g in ignore):
            continue
        if suffix and not rel.endswith(suffix):
            continue
        m = rx.fullmatch(rel)
        if m is None:
            raise InputFileError(p, f"does not fit the path template {template!r} (add it to exclude: to skip it)")
        found.append((p, {k: v for k, v in m.groupdict().items() if v is not None}))
    if not found:
        raise InputFileError(folder, f"no file fits the path template {template!r}")
    return found


# ---------------------------------------------------------------------------------------------- one file
def _column_index(spec: Column, header: list[str] | None, n_fields: int, key: str, path: Path) -> int:
    if isinstance(spec, str):
        if header is None or spec not in header:
            raise InputFileError(path, f"no column named {spec!r} for {key} (header: {header})")
        return header.index(spec)
    if spec >= n_fields:
        raise InputFileError(path, f"column {spec} for {key} but the rows have {n_fields} fields")
    return spec


def read_table(
    path: Path, delimiter: str | None, header_rows: int
) -> tuple[list[list[str]], list[int], list[str] | None]:
    """Rows of fields of a text file: ``(rows, line_numbers, header)``; blank and ``#`` lines skipped.

    Raises:
        InputFileError: unreadable file, no data rows, rows with different numbers of fields.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(path, f"cannot read ({getattr(e, 'strerror', None) or e})") from None

    def split(line: str) -> list[str]:
        return [f.strip() for f in (line.split() if delimiter is None else line.split(delimiter))]

    header = split(lines[header_rows - 1]) if 0 < header_rows <= len(lines) else None
    rows, numbers = [], []
    for i, line in enumerate(lines[header_rows:], start=header_rows + 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rows.append(split(line))
        numbers.append(i)
    if not rows:
        raise InputFileError(path, "no data rows")
    n = len(rows[0])
    for fields_, i in zip(rows, numbers, strict=True):
        if len(fields_) != n:
            raise InputFileError(path, f"line {i}: {len(fields_)} fields, but line {numbers[0]} has {n} (ragged rows)")
    return rows, numbers, header


def _numbers(rows: list[list[str]], numbers: list[int], col: int, name: str, path: Path) -> np.ndarray:
    """(T,) float64 of one column; InputFileError naming line and column for text, NaN or inf."""
    cells = [r[col] for r in rows]
    try:
        v = np.asarray(cells, dtype=np.float64)
    except ValueError:
        for cell, i in zip(cells, numbers, strict=True):
            try:
                float(cell)
            except ValueError:
                raise InputFileError(path, f"line {i}, column {col} ({name}): not a number: {cell!r}") from None
        raise
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise InputFileError(path, f"line {numbers[bad[0]]}, column {col} ({name}): {cells[bad[0]]} (NaN or "
                             "infinite values are not accepted)")
    return v


@dataclass
class _Trial:
    path: Path
    fields: dict[str, str]
    t: np.ndarray | None
    acc: np.ndarray
    gyro: np.ndarray | None
    labels: np.ndarray  # (T,) str
    subjects: np.ndarray  # (T,) str


def _read_trial(path: Path, fields_: dict[str, str], d: DatasetDescription, has_gyro: bool) -> _Trial:
    delim = DELIMITERS[d.delimiter] if d.delimiter is not None else ("," if path.suffix.lower() == ".csv" else None)
    rows, numbers, header = read_table(path, delim, d.header_rows)
    n_fields = len(rows[0])
    cols = d.columns
    acc_spec = cols.get("acc", [0, 1, 2])
    gyro_spec = cols.get("gyro", [3, 4, 5] if has_gyro else None)
    if "gyro" not in cols and has_gyro and n_fields < 6:
        gyro_spec = None  # a gyro-capable profile, acc-only files
    idx = lambda spec, key: _column_index(spec, header, n_fields, key, path)  # noqa: E731
    acc = np.stack([_numbers(rows, numbers, idx(s, "acc"), f"acc_{a}", path)
                    for s, a in zip(acc_spec, "xyz", strict=True)], 1)  # fmt: skip
    gyro = None
    if gyro_spec is not None:
        gyro = np.stack([_numbers(rows, numbers, idx(s, "gyro"), f"gyro_{a}", path)
                         for s, a in zip(gyro_spec, "xyz", strict=True)], 1)  # fmt: skip
    t = None
    if cols.get("t") is not None:
        t = _numbers(rows, numbers, idx(cols["t"], "t"), "t", path) * TIME_UNITS[d.time_unit]
        steps = np.diff(t)
        if np.any(steps < 0):
            i = int(np.flatnonzero(steps < 0)[0]) + 1
            raise InputFileError(path, f"line {numbers[i]}: time goes backwards ({t[i - 1]:g} -> {t[i]:g} s)")

    def per_row(key: str) -> np.ndarray:
        """(n,) str: the ``key`` column, else the value the path template gave."""
        if cols.get(key) is not None:
            return np.asarray([r[idx(cols[key], key)] for r in rows], dtype=str)
        if key in fields_:
            return np.full(len(rows), fields_[key])
        raise ConfigError(f"{d.base}: no {key}: put {{{key}}} in the files template or give columns.{key}")

    return _Trial(path, fields_, t, acc, gyro, per_row("label"), per_row("subject"))


def load_folder(
    path: str | Path,
    profile: RealDeviceProfile | str | None = None,
    mirror_to_left: bool = False,
) -> list[Recording]:
    """Recordings of a folder dataset (module docstring): one per trial file (and subject within it).

    Args:
        path: the folder (with ``dataset.yaml``) or a description file.
        profile: overrides the description's ``profile`` (``--profile``); a name, a file path or an object.
        mirror_to_left: mirror right-wrist data into the left-wrist frame.

    Raises:
        ConfigError: bad description, no profile, no label or subject source.
        InputFileError: the file problems listed in the module docstring.
    """
    d = read_description(path)
    spec = profile if profile is not None else d.profile
    if spec is None:
        raise ConfigError(f"{d.base}: no device profile (add 'profile:' to {DESCRIPTION} or pass --profile)")
    prof = _profile_of(spec, d.base if profile is None or isinstance(profile, RealDeviceProfile) else Path.cwd())
    try:
        mount = Mount(d.wrist, d.face, d.rotation_deg) if prof.wrist_worn else None
    except (ConfigError, ValueError) as e:
        raise ConfigError(f"{d.base}: {e}") from None
    if d.format == "ts":
        cols = d.columns
        return load_ts([d.base / f for f in d.files], prof, rate_hz=d.rate_hz, acc=cols.get("acc"),
                       gyro=cols.get("gyro", None), subjects=None if d.subjects is None else d.base / d.subjects,
                       mount=mount, mirror_to_left=mirror_to_left)  # fmt: skip
    declared = d.rate_hz if d.rate_hz is not None else float(prof.rate_hz)
    trials = []
    for p, fields_ in match_files(d.base, str(d.files), d.exclude):
        rel = p.relative_to(d.base).as_posix()
        trials.append((rel, _read_trial(p, fields_, d, bool(prof.has_gyro))))
    names = d.classes or sorted({s for _, tr in trials for s in tr.labels.tolist() if s})
    out = []
    for rel, tr in trials:
        codes = encode_labels(tr.labels, names)
        unknown = sorted({s for s in tr.labels.tolist() if s} - set(names))
        if unknown and d.classes:
            raise ConfigError(f"{tr.path}: labels {unknown} are not in classes: {names}")
        trial_id = tr.fields.get("trial", rel)
        n = tr.acc.shape[0]
        t = tr.t if tr.t is not None else np.arange(n) / declared
        for subj in dict.fromkeys(tr.subjects.tolist()):
            sel = tr.subjects == subj
            rid = trial_id if len(set(tr.subjects.tolist())) == 1 else f"{trial_id}:{subj}"
            out.append(make_recording(
                subject=subj, recording=rid, timestamps_s=t[sel], acc_device=tr.acc[sel],
                gyro_device=None if tr.gyro is None else tr.gyro[sel], labels=codes[sel], class_names=names,
                profile=prof, mount=mount, rate_hz=declared, mirror_to_left=mirror_to_left,
                meta={"source": "folder", "path": str(tr.path), "trial": trial_id},
            ))  # fmt: skip
    return out


def load_ts_dataset(
    path: str | Path, profile: RealDeviceProfile | str | None = None, mirror_to_left: bool = False
) -> list[Recording]:
    """``--dataset ts:FILE[,FILE2]``: .ts files with the options of a ``dataset.yaml`` beside the first file when
    there is one (its ``files`` key is ignored), else the defaults of :mod:`toolkit.data.ts_format`;
    ``profile`` overrides the description's (one of them is required)."""
    files = [Path(p) for p in str(path).split(",") if p]
    if not files:
        raise ConfigError("ts: give the .ts file(s): --dataset ts:FILE.ts[,FILE2.ts]")
    base = files[0].parent
    d = read_description(base) if (base / DESCRIPTION).is_file() else None
    spec = profile if profile is not None else (d.profile if d is not None else None)
    if spec is None:
        raise ConfigError(f"ts:{path}: no device profile (pass --profile, or add 'profile:' to a {DESCRIPTION} "
                          "beside the file)")
    prof = _profile_of(spec, base if profile is None else Path.cwd())
    mount = Mount(d.wrist, d.face, d.rotation_deg) if d is not None and prof.wrist_worn else None
    cols = d.columns if d is not None else {}
    subjects = base / d.subjects if d is not None and d.subjects else None
    return load_ts(files, prof, rate_hz=d.rate_hz if d is not None else None, acc=cols.get("acc"),
                   gyro=cols.get("gyro", None), subjects=subjects, mount=mount, mirror_to_left=mirror_to_left)


__all__ = [
    "DESCRIPTION",
    "DatasetDescription",
    "load_folder",
    "load_ts_dataset",
    "match_files",
    "read_description",
    "read_table",
    "template_regex",
]
