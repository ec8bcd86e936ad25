"""``--virtual file:PATH``: one trial file replayed by a virtual BLE device as the device itself sent it.

The device sends the file's **raw device values** (the device's units, sign and axes, e.g. 0..63 accelerometer codes);
the receiving command converts them with the ``--profile`` device description, exactly as for a real device of that
kind (:meth:`toolkit.device_profiles.RealDeviceProfile.to_simulator`). Samples keep the file's timestamps (real rate).

Layouts read (the file's own columns):

* the generic CSV of :mod:`toolkit.data.csv_format` (header ``timestamp_s,acc_x,acc_y,acc_z[,gyro_x,...][,label]``);
* a trial of a folder dataset (:mod:`toolkit.data.folder_format`): the nearest ``dataset.yaml`` in the file's folder
  or a parent folder gives the delimiter, header rows, columns (``t``, ``acc``, ``gyro``, ``label``), time unit and
  rate;
* a plain numeric table (comma or whitespace): ``t acc_x acc_y acc_z [gyro_x gyro_y gyro_z]`` (t in s), or the
  values alone (3 or 6 columns) at ``rate_hz`` (the profile's nominal rate).

BLE protocol: imu-stream (:mod:`firmware_bridge.protocols.imu_stream`). Its int16 samples carry any unit: each
packet states a float32 LSB size per channel, and :func:`lossless_scale` picks one that represents the values
exactly when they are integers (ADC codes) or have at most 4 decimals and fit in int16 (the decoded value is then the
file's value to float32 precision); otherwise the range is fitted to int16 and the largest rounding error is stored
in ``meta["max_quantisation_error"]`` (units of the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from firmware_bridge.virtual.sources import SampleSeries
from toolkit.data.folder_format import DELIMITERS, TIME_UNITS, read_description, read_table
from toolkit.errors import ConfigError, InputFileError

INT16_MAX = 32767
#: Decimal LSBs tried before fitting the range (1, 0.1, ..., 1e-4).
DECIMAL_LSBS = tuple(10.0 ** -k for k in range(5))


def lossless_scale(values: np.ndarray) -> tuple[float, float]:
    """``(lsb, max_error)``: an imu-stream LSB size for ``values`` (any shape, device units) and the largest
    difference between a value and its decoded int16 * float32(lsb) (0 up to float32 rounding when exact)."""
    v = np.asarray(values, np.float64)
    peak = float(np.max(np.abs(v))) if v.size else 0.0
    for lsb in DECIMAL_LSBS:
        q = v / lsb
        if peak / lsb <= INT16_MAX and np.allclose(q, np.round(q), rtol=0, atol=1e-6):
            decoded = np.round(q) * float(np.float32(lsb))
            return lsb, float(np.max(np.abs(decoded - v))) if v.size else 0.0
    lsb = 2.0 ** np.ceil(np.log2(max(peak, 1e-30) / INT16_MAX))  # a power of two: exact in float32
    decoded = np.clip(np.round(v / lsb), -INT16_MAX, INT16_MAX) * lsb
    return float(lsb), float(np.max(np.abs(decoded - v)))


def _description_for(path: Path):  # noqa: ANN202 - toolkit.data.folder_format.DatasetDescription or None
    for folder in [path.parent, *path.parent.parents]:
        if (folder / "dataset.yaml").is_file():
            return read_description(folder)
    return None


def _column(rows: list[list[str]], numbers: list[int], col: int, path: Path, what: str) -> np.ndarray:
    try:
        v = np.asarray([r[col] for r in rows], np.float64)
    except (ValueError, IndexError):
        raise InputFileError(path, f"column {col} ({what}) is not numeric in every row") from None
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise InputFileError(path, f"line {numbers[bad[0]]}: {what} is NaN or infinite")
    return v


def _index(spec: int | str, header: list[str] | None, path: Path, what: str) -> int:
    if isinstance(spec, str):
        if header is None or spec not in header:
            raise InputFileError(path, f"no column named {spec!r} for {what} (header: {header})")
        return header.index(spec)
    return int(spec)


def load_trial_file(path: str | Path, rate_hz: float | None = None) -> SampleSeries:
    """Read one trial file (module docstring) into a :class:`SampleSeries` of raw device values.

    Args:
        path: the file.
        rate_hz: sample rate [Hz] for files without a time column (default: the dataset description's).

    Returns:
        ``t_s`` (N,) [s] from the file (or ``i / rate_hz``), ``acc`` (N, 3) and ``gyro`` (N, 3) or None in the
        device's units and axes; ``meta["raw_device_values"] = True``, ``meta["acc_scale"]`` / ``["gyro_scale"]`` the
        imu-stream LSB sizes (:func:`lossless_scale`).

    Raises:
        InputFileError: unreadable file, non-numeric values, time going backwards, too few rows.
        ConfigError: no time column and no rate.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    head = path.read_text(encoding="utf-8", errors="replace").lstrip().splitlines()[:50]
    header_line = next((ln for ln in head if ln.strip() and not ln.startswith("#")), "")
    desc = None
    labels = None
    if "timestamp_s" in header_line and "acc_x" in header_line:  # toolkit.data.csv_format
        n_comments = sum(1 for ln in head[: head.index(header_line)])
        rows, numbers, header = read_table(path, ",", n_comments + 1)
        cols: dict[str, object] = {"t": "timestamp_s", "acc": ["acc_x", "acc_y", "acc_z"]}
        if header is not None and "gyro_x" in header:
            cols["gyro"] = ["gyro_x", "gyro_y", "gyro_z"]
        if header is not None and "label" in header:
            cols["label"] = "label"
        unit = 1.0
    elif (desc := _description_for(path)) is not None:  # a folder dataset's trial
        delim = DELIMITERS[desc.delimiter] if desc.delimiter is not None else (
            "," if path.suffix.lower() == ".csv" else None)
        rows, numbers, header = read_table(path, delim, desc.header_rows)
        cols = {"acc": [0, 1, 2], **{k: v for k, v in desc.columns.items() if v is not None}}
        unit = TIME_UNITS[desc.time_unit]
        rate_hz = rate_hz or desc.rate_hz
    else:  # a plain numeric table
        rows, numbers, header = read_table(path, "," if "," in header_line else None, 0)
        n = len(rows[0])
        layouts = {3: {"acc": [0, 1, 2]}, 4: {"t": 0, "acc": [1, 2, 3]}, 6: {"acc": [0, 1, 2], "gyro": [3, 4, 5]},
                   7: {"t": 0, "acc": [1, 2, 3], "gyro": [4, 5, 6]}}
        if n not in layouts:
            raise InputFileError(path, f"{n} columns: expected t + 3 acc [+ 3 gyro] columns, or 3 / 6 value columns "
                                       "(or a dataset.yaml beside it naming the columns)")
        cols, unit = dict(layouts[n]), 1.0
    if len(rows) < 2:
        raise InputFileError(path, "fewer than 2 samples")
    acc = np.stack([_column(rows, numbers, _index(c, header, path, "acc"), path, f"acc_{a}")
                    for c, a in zip(cols["acc"], "xyz", strict=True)], 1)  # type: ignore[arg-type]
    gyro = None
    if cols.get("gyro") is not None:
        gyro = np.stack([_column(rows, numbers, _index(c, header, path, "gyro"), path, f"gyro_{a}")
                         for c, a in zip(cols["gyro"], "xyz", strict=True)], 1)  # type: ignore[arg-type]
    if cols.get("t") is not None:
        t = _column(rows, numbers, _index(cols["t"], header, path, "t"), path, "time") * unit  # type: ignore[arg-type]
        if np.any(np.diff(t) <= 0):
            i = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
            raise InputFileError(path, f"line {numbers[i]}: time does not increase ({t[i - 1]:g} -> {t[i]:g} s)")
        t = t - t[0]
        measured = (len(t) - 1) / float(t[-1])
    else:
        if not rate_hz:
            raise ConfigError(f"{path}: no time column; give the device's rate (rate_hz in the --profile file)")
        t = np.arange(len(rows), dtype=np.float64) / float(rate_hz)
        measured = float(rate_hz)
    if cols.get("label") is not None:
        labels = np.asarray([r[_index(cols["label"], header, path, "label")] for r in rows], dtype=str)  # type: ignore[arg-type]
    acc_lsb, acc_err = lossless_scale(acc)
    meta: dict[str, object] = {"source": "file", "path": str(path), "raw_device_values": True,
                               "nominal_rate_hz": float(rate_hz or measured), "acc_scale": acc_lsb,
                               "max_quantisation_error": acc_err}
    if gyro is not None:
        gyro_lsb, gyro_err = lossless_scale(gyro)
        meta.update(gyro_scale=gyro_lsb, max_quantisation_error=max(acc_err, gyro_err))
    return SampleSeries(t_s=t, acc=acc, gyro=gyro, rate_hz=measured, name=f"file:{path.name}", labels=labels,
                        meta=meta)


__all__ = ["DECIMAL_LSBS", "lossless_scale", "load_trial_file"]
