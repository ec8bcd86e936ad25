"""``edge-simulate fidelity``: the Multi3Net+ fidelity metric of a simulated clip against a real recording.

Computes the orientation-invariant magnitude MSE of :mod:`toolkit.sim.fidelity` (paper section 4.3,
Table 1) for one placement of a simulator dataset clip and one real recording. Run with ``--help``
for the options and examples. ``main(argv)`` takes the arguments after ``fidelity``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ConfigError, InputFileError
from toolkit.programs import run_cli
from toolkit.sim.fidelity import DEFAULT_NORMALIZATION, NORMALIZATIONS, fidelity_report

PROG = "edge-simulate fidelity"
ACC_COLUMNS = ("acc_x", "acc_y", "acc_z")
GYRO_COLUMNS = ("gyro_x", "gyro_y", "gyro_z")
TIME_COLUMN = "timestamp_s"

DESCRIPTION = """\
Fidelity of simulated IMU signals (Multi3Net+ section 4.3, Table 1): the mean squared difference
between the per-sample magnitudes |a| and |w| of a simulated clip and a real recording, each
magnitude series normalised on its own (z-score by default). Magnitudes make it independent of
how either sensor was oriented. The real recording is resampled onto the simulated rate and both
are cut to the common duration; they must start at the same instant (no lag search).
"""

EPILOG = """\
examples:
  # left wrist of a simulated clip against a 100 Hz watch recording (CSV, m/s^2 and rad/s)
  edge-simulate fidelity --sim out/sim/walk_v0.npz --placement left_wrist --real watch.csv --real-rate 100

  # the real rate from the CSV's timestamp_s column (jittery timestamps are interpolated)
  edge-simulate fidelity --sim out/sim/walk_v0.npz --placement right_wrist --real watch.csv

  # a real .npz (acc, gyro (T, 3), rate_hz), min-max normalisation, JSON output
  edge-simulate fidelity --sim out/sim/walk_v0.npz --real real.npz --normalize minmax --json

real files:
  .csv  header with acc_x,acc_y,acc_z [m/s^2, gravity included, Android sign] and optionally
        gyro_x,gyro_y,gyro_z [rad/s] and timestamp_s [s]; other columns are ignored
  .npz  acc (T, 3) [m/s^2], optional gyro (T, 3) [rad/s], optional rate_hz
  --real-rate wins over rate_hz / timestamps. Without a gyroscope, MSE|w| is n/a.

exit status: 0 ok, 2 bad input or option (one line on stderr).
"""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sim", required=True, metavar="SIM.npz", help="simulator dataset clip (.npz)")
    p.add_argument("--placement", metavar="NAME", help="placement in the clip (default: its only one)")
    p.add_argument("--real", required=True, metavar="REAL", help="real recording (.csv or .npz)")
    p.add_argument("--real-rate", type=float, metavar="HZ", help="sample rate of the real recording [Hz]")
    p.add_argument(
        "--normalize",
        choices=NORMALIZATIONS,
        default=DEFAULT_NORMALIZATION,
        help="per-series normalisation of the magnitudes (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the text line")
    return p


# --------------------------------------------------------------------------------------------------
# Loading


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputFileError(path, "no such file")
    if not zipfile.is_zipfile(path):
        raise InputFileError(path, "not a readable .npz: not a zip archive")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise InputFileError(path, "holds Python objects (pickled data), which are not read") from None
        raise InputFileError(path, f"not a readable .npz: {_one_line(e)}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise InputFileError(path, f"not a readable .npz: {_one_line(e)}") from None


def _rate(value: Any, path: Path, what: str) -> float:
    try:
        rate = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise InputFileError(path, f"{what} must be one number (got {np.asarray(value).shape})") from None
    if not (math.isfinite(rate) and rate > 0):
        raise InputFileError(path, f"{what} must be a positive number (got {rate})")
    return rate


def _vectors(a: np.ndarray, path: Path, key: str) -> np.ndarray:
    if a.dtype.kind not in "fiu":
        raise InputFileError(path, f"{key} must be numeric (got dtype {a.dtype})")
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] < 2:
        raise InputFileError(path, f"{key} must have shape (T, 3) with T >= 2, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputFileError(path, f"{key} contains NaN or infinite values")
    return a


def load_sim(path: str | Path, placement: str | None) -> tuple[np.ndarray, np.ndarray | None, float, str]:
    """One placement of a simulator dataset clip.

    Returns:
        acc (T, 3) [m/s^2], gyro (T, 3) [rad/s] or None (no gyroscope), rate [Hz], placement name.
    """
    path = Path(path)
    z = _load_npz(path)
    for key in ("acc", "rate_hz"):
        if key not in z:
            raise InputFileError(path, f"missing key {key!r} (a simulator clip has acc, gyro, placements, rate_hz)")
    rate = _rate(z["rate_hz"], path, "rate_hz")
    acc = np.asarray(z["acc"])
    if acc.ndim == 2:
        acc = acc[:, None, :]
    if acc.ndim != 3 or acc.shape[2] != 3:
        raise InputFileError(path, f"acc must have shape (T, P, 3), got {acc.shape}")
    num_p = acc.shape[1]
    names = [str(n) for n in np.atleast_1d(z["placements"])] if "placements" in z else [f"#{i}" for i in range(num_p)]
    if len(names) != num_p:
        raise InputFileError(path, f"{len(names)} placement names for {num_p} placements in acc")
    if placement is None:
        if num_p != 1:
            raise ConfigError(f"{path}: holds {num_p} placements ({', '.join(names)}); choose one with --placement")
        idx = 0
    elif placement in names:
        idx = names.index(placement)
    else:
        raise ConfigError(f"{path}: no placement {placement!r} (it has: {', '.join(names)})")
    acc_p = _vectors(acc[:, idx, :], path, f"acc[:, {names[idx]}]")
    gyro_p = None
    has_gyro = bool(np.asarray(z.get("has_gyro", True)).reshape(()))
    if has_gyro and "gyro" in z:
        g = np.asarray(z["gyro"])
        if g.ndim == 2:
            g = g[:, None, :]
        if g.shape != acc.shape:
            raise InputFileError(path, f"gyro has shape {g.shape}, acc {acc.shape}")
        g = g[:, idx, :]
        if not np.all(np.isnan(g)):  # all NaN = a device without a gyroscope
            gyro_p = _vectors(g, path, f"gyro[:, {names[idx]}]")
    return acc_p, gyro_p, rate, names[idx]


def _read_csv(path: Path, rate_flag: float | None) -> tuple[np.ndarray, np.ndarray | None, float]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(path, f"not a readable CSV: {_one_line(e)}") from None
    if not header:
        raise InputFileError(path, "empty file (expected a header with acc_x,acc_y,acc_z[,gyro_x,...])")
    cols = [c.strip() for c in header]
    missing = [c for c in ACC_COLUMNS if c not in cols]
    if missing:
        raise InputFileError(
            path, f"header lacks {', '.join(missing)} (expected acc_x,acc_y,acc_z[,gyro_x,gyro_y,gyro_z][,timestamp_s])"
        )
    has_gyro = all(c in cols for c in GYRO_COLUMNS)
    wanted = (
        list(ACC_COLUMNS) + (list(GYRO_COLUMNS) if has_gyro else []) + ([TIME_COLUMN] if TIME_COLUMN in cols else [])
    )
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[cols.index(c) for c in wanted], ndmin=2)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputFileError(path, f"could not read the numbers: {_one_line(e)}") from None
    if data.shape[0] < 2:
        raise InputFileError(path, f"needs at least 2 data rows, has {data.shape[0]}")
    if not np.all(np.isfinite(data)):
        raise InputFileError(path, "contains NaN or infinite values")
    acc = data[:, 0:3]
    gyro = data[:, 3:6] if has_gyro else None
    if TIME_COLUMN not in cols:
        if rate_flag is None:
            raise InputFileError(path, "no sample rate: pass --real-rate HZ or add a timestamp_s column")
        return acc, gyro, rate_flag
    t = data[:, -1]
    dt = np.diff(t)
    if np.any(dt <= 0):
        raise InputFileError(path, f"timestamp_s must increase strictly (row {int(np.argmax(dt <= 0)) + 3})")
    rate = rate_flag if rate_flag is not None else 1.0 / float(np.median(dt))
    n = int(math.floor((t[-1] - t[0]) * rate + 1e-9)) + 1
    grid = t[0] + np.arange(n) / rate

    def interp(x: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(grid, t, x[:, k]) for k in range(3)], axis=1)

    return interp(acc), None if gyro is None else interp(gyro), rate


def load_real(path: str | Path, rate_flag: float | None) -> tuple[np.ndarray, np.ndarray | None, float]:
    """A real recording: acc (T, 3) [m/s^2], gyro (T, 3) [rad/s] or None, rate [Hz].

    A CSV with ``timestamp_s`` is linearly interpolated onto a uniform grid at the rate (the flag's,
    else 1 / median interval), which removes timestamp jitter.
    """
    path = Path(path)
    if rate_flag is not None and not (math.isfinite(rate_flag) and rate_flag > 0):
        raise ConfigError(f"--real-rate must be a positive number (got {rate_flag})")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        if not path.is_file():
            raise InputFileError(path, "no such file")
        return _read_csv(path, rate_flag)
    if suffix != ".npz":
        raise InputFileError(path, "unknown file type (expected .csv or .npz)")
    z = _load_npz(path)
    if "acc" not in z:
        raise InputFileError(path, "missing key 'acc' (expected acc (T, 3), optional gyro (T, 3) and rate_hz)")
    acc = _vectors(np.asarray(z["acc"]), path, "acc")
    gyro = None
    if "gyro" in z:
        gyro = _vectors(np.asarray(z["gyro"]), path, "gyro")
        if gyro.shape != acc.shape:
            raise InputFileError(path, f"gyro has shape {gyro.shape}, acc {acc.shape}")
    if rate_flag is not None:
        rate = rate_flag
    elif "rate_hz" in z:
        rate = _rate(z["rate_hz"], path, "rate_hz")
    else:
        raise InputFileError(path, "no sample rate: pass --real-rate HZ or store rate_hz in the file")
    return acc, gyro, rate


# --------------------------------------------------------------------------------------------------
# Command


def _warn(msg: str) -> None:
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


def run(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help or a usage error: argparse has printed it
        return e.code if isinstance(e.code, int) else 2
    sim_acc, sim_gyro, sim_rate, placement = load_sim(args.sim, args.placement)
    real_acc, real_gyro, real_rate = load_real(args.real, args.real_rate)
    if float(np.median(np.linalg.norm(real_acc, axis=1))) < 3.0:
        _warn(f"{args.real}: median |acc| is below 3 m/s^2; is it in g? The metric expects m/s^2")
    sim_s, real_s = sim_acc.shape[0] / sim_rate, real_acc.shape[0] / real_rate
    if abs(sim_s - real_s) > 0.01 * max(sim_s, real_s):
        _warn(f"sim lasts {sim_s:.2f} s, real {real_s:.2f} s: the first {min(sim_s, real_s):.2f} s are compared")
    report = fidelity_report(sim_acc, sim_gyro, real_acc, real_gyro, args.normalize, sim_rate, real_rate)
    if report["n"] < 2:
        raise ConfigError(f"{args.sim} and {args.real} overlap in fewer than 2 samples")
    if args.json:
        print(json.dumps({"sim": str(args.sim), "placement": placement, "real": str(args.real), **report}))
        return 0
    if report["mse_gyro"] is None:
        why = "no gyroscope in " + " or ".join(
            name for name, g in (("sim", sim_gyro), ("real", real_gyro)) if g is None
        )
        gyro_txt = f"n/a ({why})"
    else:
        gyro_txt = f"{report['mse_gyro']:.4f}"
    print(
        f"{placement}: MSE|a| = {report['mse_acc']:.4f}, MSE|w| = {gyro_txt} "
        f"({args.normalize}; {report['n']} samples at {report['rate_hz']:g} Hz = {report['duration_s']:.2f} s; "
        f"sim {args.sim}, real {args.real})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``argv`` are the arguments after ``fidelity`` (default ``sys.argv[1:]``)."""
    return run_cli(PROG, lambda: run(sys.argv[1:] if argv is None else list(argv)))


if __name__ == "__main__":
    sys.exit(main())
