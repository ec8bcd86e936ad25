"""Simulator fidelity: the orientation-invariant magnitude MSE of Multi3Net+ (section 4.3, Table 1).

What the paper says
    Section 4.3 compares simulated and real wrist IMU signals through the magnitudes
    ``||a|| = sqrt(ax^2 + ay^2 + az^2)`` and ``||w|| = sqrt(wx^2 + wy^2 + wz^2)`` at every time
    step, which removes any dependence on the sensor's orientation, and scores them with
    ``MSE = 1/N sum_i (||x_sim,i|| - ||x_real,i||)^2`` over the N time steps, one value for the
    accelerometer and one for the gyroscope. Table 1's caption says the comparison is done "on
    normalized IMU" (values 0.149-0.488).

What it leaves open (and what we choose)
    * **The normalisation.** Not described. We default to a **z-score per series**: each magnitude
      series (simulated and real, acc and gyro separately) minus its own mean, divided by its own
      standard deviation (ddof 0), over the compared samples. The MSE is then scale- and
      offset-free and equals ``2 (1 - r)``, with r the Pearson correlation of the two magnitude
      series, so it lies in [0, 4]; Table 1's values fit that range. ``"minmax"`` (each series to
      [0, 1]) and ``"none"`` (raw SI magnitudes; the MSE is then in (m/s^2)^2 or (rad/s)^2) are
      available. A constant series (zero spread) is only centred (all zeros after "zscore" or
      "minmax"), so an unmoving simulated gyroscope against any real one scores 1 under "zscore".
      Whether the normalisation comes before or after the magnitude is not said either; we take
      magnitudes of the raw vectors first (normalising components first would break the
      orientation invariance).
    * **Alignment.** The paper does not say how real and simulated recordings are put on the same
      time grid. :func:`align_and_resample` resamples the real series onto the simulated rate
      (anti-aliased polyphase filter, :func:`toolkit.sim.devices.resample_to_rate`) and truncates
      both to the common duration from their first samples; no time-lag search is done, so the
      two recordings must start together.
    * **Which data.** The text names OpenPack, Table 1's caption MM-Fit; neither is available here.

Orientation invariance holds exactly for any rotation, fixed or time-varying, because only
per-sample vector norms enter the metric.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.sim.devices import resample_to_rate

#: Normalisations understood by :func:`normalize_series`; the first is the default.
NORMALIZATIONS = ("zscore", "minmax", "none")
DEFAULT_NORMALIZATION = "zscore"


def magnitude(x: np.ndarray, what: str = "signal") -> np.ndarray:
    """Per-sample Euclidean norm.

    Args:
        x: (T, 3) vectors (any units), or (T,) values taken as magnitudes already.
        what: name used in error messages.

    Returns:
        (T,) float64 magnitudes.

    Raises:
        ConfigError: another shape, no samples, or NaN/infinite values.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 3:
        m = np.linalg.norm(a, axis=1)
    elif a.ndim == 1:
        m = a.copy()
    else:
        raise ConfigError(f"{what}: expected shape (T, 3) or (T,), got {a.shape}")
    if m.size == 0:
        raise ConfigError(f"{what}: no samples")
    if not np.all(np.isfinite(m)):
        raise ConfigError(f"{what}: contains NaN or infinite values")
    return m


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"unknown normalization {normalize!r} (known: {', '.join(NORMALIZATIONS)})")


def _is_constant(spread: float, level: float) -> bool:
    return spread <= 64 * np.finfo(np.float64).eps * max(abs(level), 1.0)


def normalize_series(m: np.ndarray, normalize: str = DEFAULT_NORMALIZATION) -> np.ndarray:
    """Normalise one (T,) series: "zscore" ``(m - mean) / std``, "minmax" ``(m - min) / (max - min)``,
    or "none". A constant series is only centred (zeros) under "zscore" and "minmax"."""
    _check_normalize(normalize)
    m = np.asarray(m, dtype=np.float64)
    if normalize == "none":
        return m.copy()
    if normalize == "zscore":
        mean = float(m.mean())
        sd = float(m.std())
        return m - mean if _is_constant(sd, mean) else (m - mean) / sd
    lo, hi = float(m.min()), float(m.max())
    return m - lo if _is_constant(hi - lo, hi) else (m - lo) / (hi - lo)


def fidelity_mse(sim: np.ndarray, real: np.ndarray, normalize: str = DEFAULT_NORMALIZATION) -> float:
    """Orientation-invariant MSE between the magnitudes of a simulated and a real signal.

    Args:
        sim: (T, 3) simulated acc [m/s^2] or gyro [rad/s], or (T,) magnitudes.
        real: (T, 3) or (T,) real counterpart on the same time grid (see
            :func:`align_and_resample`).
        normalize: "zscore" (default), "minmax" or "none", applied to each magnitude series.

    Returns:
        ``mean((n(||sim||) - n(||real||))^2)``, n the normalisation.

    Raises:
        ConfigError: length mismatch, fewer than 2 samples, bad shapes, non-finite values, an unknown
            normalisation.
    """
    _check_normalize(normalize)
    ms = magnitude(sim, "sim")
    mr = magnitude(real, "real")
    if ms.shape[0] < 2 or mr.shape[0] < 2:
        raise ConfigError(f"need at least 2 samples per series (sim has {ms.shape[0]}, real {mr.shape[0]})")
    if ms.shape[0] != mr.shape[0]:
        raise ConfigError(
            f"length mismatch: sim has {ms.shape[0]} samples, real {mr.shape[0]}; "
            "put them on one time grid first (align_and_resample)"
        )
    d = normalize_series(ms, normalize) - normalize_series(mr, normalize)
    return float(np.mean(d * d))


def align_and_resample(
    sim: np.ndarray, sim_rate_hz: float, real: np.ndarray, real_rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """Put a real recording on the simulated one's time grid.

    The real series is resampled to ``sim_rate_hz`` (anti-aliased polyphase filter; unchanged when
    the rates are equal), then both are truncated to the common length. Both are assumed to start
    at the same instant.

    Args:
        sim: (T_s, 3) or (T_s,) simulated series at ``sim_rate_hz`` [Hz].
        real: (T_r, 3) or (T_r,) real series at ``real_rate_hz`` [Hz].

    Returns:
        ``(sim, real)``, float64, both of length ``min(T_s, len(resampled real))``.
    """
    s = np.asarray(sim, dtype=np.float64)
    r = np.asarray(real, dtype=np.float64)
    for name, a in (("sim", s), ("real", r)):
        if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[1] != 3) or a.shape[0] == 0:
            raise ConfigError(f"{name}: expected shape (T, 3) or (T,) with T > 0, got {a.shape}")
    for name, v in (("sim_rate_hz", sim_rate_hz), ("real_rate_hz", real_rate_hz)):
        if not (isinstance(v, int | float | np.integer | np.floating) and math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} must be a positive finite number (got {v!r})")
    if not np.all(np.isfinite(r)):
        raise ConfigError("real: contains NaN or infinite values")
    r, _ = resample_to_rate(r, float(real_rate_hz), float(sim_rate_hz), axis=0)
    n = min(s.shape[0], r.shape[0])
    return s[:n].copy(), r[:n].copy()


def fidelity_report(
    sim_acc: np.ndarray,
    sim_gyro: np.ndarray | None,
    real_acc: np.ndarray,
    real_gyro: np.ndarray | None,
    normalize: str = DEFAULT_NORMALIZATION,
    sim_rate_hz: float | None = None,
    real_rate_hz: float | None = None,
) -> dict[str, Any]:
    """Both Table-1 numbers for one placement.

    Args:
        sim_acc, real_acc: (T, 3) specific force [m/s^2] (or (T,) magnitudes).
        sim_gyro, real_gyro: (T, 3) angular velocity [rad/s], or None (then ``mse_gyro`` is None).
        normalize: see :func:`fidelity_mse`.
        sim_rate_hz, real_rate_hz: when both are given, the real series are first aligned with
            :func:`align_and_resample`; otherwise the series must already share one time grid.

    Returns:
        ``{"mse_acc", "mse_gyro", "n", "normalize", "rate_hz", "duration_s"}``; ``rate_hz`` and
        ``duration_s`` are None when no rates were given.
    """
    _check_normalize(normalize)
    if (sim_rate_hz is None) != (real_rate_hz is None):
        raise ConfigError("give both sim_rate_hz and real_rate_hz, or neither")
    aligned = sim_rate_hz is not None
    if aligned:
        sim_acc, real_acc = align_and_resample(sim_acc, sim_rate_hz, real_acc, real_rate_hz)
    mse_acc = fidelity_mse(sim_acc, real_acc, normalize)
    n = int(np.asarray(sim_acc).shape[0])
    mse_gyro = None
    if sim_gyro is not None and real_gyro is not None:
        if aligned:
            sim_gyro, real_gyro = align_and_resample(sim_gyro, sim_rate_hz, real_gyro, real_rate_hz)
        mse_gyro = fidelity_mse(sim_gyro, real_gyro, normalize)
        n = min(n, int(np.asarray(sim_gyro).shape[0]))
    return {
        "mse_acc": mse_acc,
        "mse_gyro": mse_gyro,
        "n": n,
        "normalize": normalize,
        "rate_hz": float(sim_rate_hz) if aligned else None,
        "duration_s": n / float(sim_rate_hz) if aligned else None,
    }
