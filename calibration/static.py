"""Static calibration: accelerometer bias and diagonal scale against |g|, gyroscope bias, from still periods.

Model (in the device's own axes, SI units, Android sign, before any axis rotation)::

    a_corr = scale * (a - acc_bias)        (element-wise: a diagonal gain per axis)
    w_corr = w - gyro_bias

At rest the corrected specific force must have the magnitude of gravity, ``|a_corr| = G_MS2``
(:data:`toolkit.frames.G_MS2`), whatever the orientation. Each still orientation ``k`` with mean reading ``a_k``
gives one equation ``r_k = |scale * (a_k - acc_bias)| - G_MS2 = 0``; :func:`fit_static` solves the six unknowns
by nonlinear least squares (:func:`scipy.optimize.least_squares`), parametrised as ``acc_bias`` [m/s^2] and
``G_MS2 * (scale - 1)`` [m/s^2], so that both columns of the Jacobian are of order one:
``dr_k/d bias_i ~ -u_ki`` and ``dr_k/d(G (scale_i - 1)) ~ u_ki^2`` with ``u_k`` the unit gravity direction.

Identifiability
    The six parameters are determined only when the still orientations are spread over the sphere: each axis
    must see gravity with both signs (for its bias) and with different magnitudes (for its scale). The fit
    measures this with the Jacobian: the **sensitivity** ``max_i sqrt(((J^T J)^-1)_ii)`` is the factor by which a
    magnitude error of one orientation (noise, tremor, nonlinearity) turns into a parameter error. Six
    orientations along +-x, +-y, +-z give 0.71; a cap of directions on one side of the sphere gives hundreds.
    The full fit is accepted when at least 6 distinct orientations (more than 15 deg apart) are present, the
    sensitivity is at most ``max_sensitivity`` (default 5) and the result is plausible (``|bias| <= 2 m/s^2``,
    scale within 0.8..1.2). Otherwise, when ``allow_scale_only``, a **common scale** ``s`` (one gain for all
    axes, bias 0) is fitted if at least 3 distinct orientations agree on the magnitude (rms spread of ``|a_k|``
    at most ``scale_consistency_ms2``, so that a bias is not mistaken for a scale); else **nothing** is fitted for
    the accelerometer (bias 0, scale 1). :attr:`StaticCalibration.fitted` says which: "bias+scale", "scale",
    "none"; :attr:`StaticCalibration.note` says why.

Units are validated before use: when the still periods average to a magnitude outside ``G_MS2 * (1 +-
unit_tolerance)`` (default 25 %), the data are not in m/s^2 (g, counts, mG...) and :func:`fit_static` raises
:class:`ConfigError` instead of fitting.

The gyroscope bias is the sample-weighted mean angular velocity over the still periods (tremor is zero-mean).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import least_squares

# the result type lives apart from the fitter (calibration.results: data only, no scipy.optimize)
from calibration.results import (  # noqa: F401
    DISTINCT_ORIENTATION_DEG,
    FITTED,
    MAX_BIAS_MS2,
    MAX_SCALE_DEVIATION,
    ZERO3,
    StaticCalibration,
    Vec3,
    vec3,
)
from calibration.results import STATIC_SCHEMA_VERSION as SCHEMA_VERSION  # noqa: F401
from calibration.stillness import StillSegment
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2


def _stack(segments: Sequence[StillSegment] | np.ndarray, gyro_means_rads: np.ndarray | None,
           counts: Sequence[int] | np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(K, 3) acc means, (K, 3) gyro means or None, (K,) sample counts (ones when unknown)."""
    if len(segments) and isinstance(segments[0], StillSegment):
        segs = list(segments)
        acc = np.array([s.acc_mean_ms2 for s in segs], dtype=np.float64)
        n = np.array([s.n_samples for s in segs], dtype=np.float64)
        gyro = None
        if all(s.gyro_mean_rads is not None for s in segs):
            gyro = np.array([s.gyro_mean_rads for s in segs], dtype=np.float64)
        return acc, gyro, n
    acc = np.asarray(segments, dtype=np.float64).reshape(-1, 3) if len(segments) else np.zeros((0, 3))
    gyro = None if gyro_means_rads is None else np.asarray(gyro_means_rads, dtype=np.float64).reshape(-1, 3)
    if gyro is not None and gyro.shape != acc.shape:
        raise ConfigError(f"static calibration: gyro means shape {gyro.shape} differs from acc means {acc.shape}")
    n = np.ones(len(acc)) if counts is None else np.asarray(counts, dtype=np.float64).reshape(-1)
    if n.shape != (len(acc),) or np.any(n <= 0):
        raise ConfigError("static calibration: counts must be one positive number per mean vector")
    return acc, gyro, n


def count_orientations(directions: np.ndarray, min_angle_deg: float = DISTINCT_ORIENTATION_DEG) -> int:
    """Number of distinct directions among (K, 3) unit vectors: greedy clusters ``min_angle_deg`` wide."""
    centres: list[np.ndarray] = []
    cos_min = math.cos(math.radians(min_angle_deg))
    for u in directions:
        if all(float(u @ c) < cos_min for c in centres):
            centres.append(u)
    return len(centres)


def _residuals(x: np.ndarray, acc: np.ndarray, g: float) -> np.ndarray:
    scale = 1.0 + x[3:] / g
    return np.linalg.norm((acc - x[:3]) * scale, axis=1) - g


def _jacobian(x: np.ndarray, acc: np.ndarray, g: float) -> np.ndarray:
    scale = 1.0 + x[3:] / g
    d = acc - x[:3]
    c = d * scale
    norm = np.linalg.norm(c, axis=1, keepdims=True)
    return np.hstack([-(c * scale) / norm, (c * d / g) / norm])


def sensitivity_of(jac: np.ndarray) -> float:
    """``max_i sqrt(((J^T J)^-1)_ii)`` of a (K, P) Jacobian; inf when rank deficient (K < P or degenerate)."""
    if jac.shape[0] < jac.shape[1]:
        return math.inf
    _, s, vt = np.linalg.svd(jac, full_matrices=False)
    if s[-1] <= 1e-9 * max(s[0], 1e-300):
        return math.inf
    cov = (vt.T / s**2) @ vt
    return float(np.sqrt(np.max(np.diag(cov))))


def fit_static(
    segments: Sequence[StillSegment] | np.ndarray,
    gyro_means_rads: np.ndarray | None = None,
    *,
    counts: Sequence[int] | np.ndarray | None = None,
    g_ms2: float = G_MS2,
    max_sensitivity: float = 5.0,
    allow_scale_only: bool = True,
    scale_consistency_ms2: float = 0.05,
    unit_tolerance: float = 0.25,
) -> StaticCalibration:
    """Fit a :class:`StaticCalibration` from still periods.

    Args:
        segments: :class:`~calibration.stillness.StillSegment` list, or (K, 3) mean specific forces [m/s^2] of K
            still periods, in the device's axes (SI, Android sign).
        gyro_means_rads: (K, 3) mean angular velocities [rad/s] when ``segments`` are mean vectors; ignored for
            segments (their own gyro means are used).
        counts: (K,) samples per mean vector (weights of the gyro bias); ones when None.
        g_ms2: the magnitude the corrected readings must have [m/s^2].
        max_sensitivity: largest accepted sensitivity of the 6-parameter fit (module docstring).
        allow_scale_only: fall back to one common gain when the full fit is not identifiable.
        scale_consistency_ms2: largest rms spread of the orientations' magnitudes for the common-gain fallback.
        unit_tolerance: relative tolerance of the mean magnitude against ``g_ms2`` (units check).

    Returns:
        The calibration; ``fitted`` and ``note`` say what could be determined.

    Raises:
        ConfigError: no still period, or magnitudes far from ``g_ms2`` (data not in m/s^2).
    """
    acc, gyro, n = _stack(segments, gyro_means_rads, counts)
    if len(acc) == 0:
        raise ConfigError("static calibration: no still period to fit (hold the device still for a few seconds)")
    if not np.all(np.isfinite(acc)) or (gyro is not None and not np.all(np.isfinite(gyro))):
        raise ConfigError("static calibration: still-period means contain NaN or infinite values")
    mags = np.linalg.norm(acc, axis=1)
    mean_mag = float(np.average(mags, weights=n))
    if abs(mean_mag / g_ms2 - 1.0) > unit_tolerance:
        raise ConfigError(
            f"static calibration: still periods read |acc| = {mean_mag:.4g} on average, expected ~{g_ms2} m/s^2; "
            "the data are not in m/s^2 (g, counts or mG?): convert them with the device profile first"
        )
    n_samples = int(n.sum()) if (counts is not None or isinstance(segments[0], StillSegment)) else 0
    gyro_bias = ZERO3 if gyro is None else vec3(np.average(gyro, axis=0, weights=n), "gyro bias")
    dirs = acc / mags[:, None]
    n_orient = count_orientations(dirs)
    before = float(np.sqrt(np.mean((mags - g_ms2) ** 2)))
    common = dict(gyro_bias_rads=gyro_bias, gyro_fitted=gyro is not None, n_orientations=n_orient,
                  n_samples=n_samples, residual_before_ms2=before)

    x0 = np.zeros(6)
    sens0 = sensitivity_of(_jacobian(x0, acc, g_ms2))
    why = ""
    if n_orient < 6:
        why = f"{n_orient} distinct orientation(s), 6 needed for bias+scale"
    elif sens0 > max_sensitivity:
        why = f"orientations too similar (sensitivity {sens0:.3g} > {max_sensitivity})"
    else:
        res = least_squares(_residuals, x0, jac=_jacobian, args=(acc, g_ms2), method="trf", x_scale=1.0)
        bias, scale = res.x[:3], 1.0 + res.x[3:] / g_ms2
        sens = sensitivity_of(res.jac)
        if not res.success or sens > max_sensitivity:
            why = f"fit not identifiable (sensitivity {sens:.3g})"
        elif np.linalg.norm(bias) > MAX_BIAS_MS2 or np.max(np.abs(scale - 1.0)) > MAX_SCALE_DEVIATION:
            why = f"implausible fit (bias {np.round(bias, 3).tolist()} m/s^2, scale {np.round(scale, 4).tolist()})"
        else:
            resid = float(np.sqrt(np.mean(res.fun**2)))
            return StaticCalibration(
                acc_bias_ms2=vec3(bias, "bias"), acc_scale=vec3(scale, "scale"), fitted="bias+scale",
                residual_ms2=resid, sensitivity=sens,
                note=f"bias+scale from {n_orient} orientations, sensitivity {sens:.3g}", **common,
            )
    # fallbacks: one common gain, or nothing
    spread = float(np.sqrt(np.average((mags - mean_mag) ** 2, weights=n)))
    s = float(g_ms2 * np.sum(n * mags) / np.sum(n * mags**2))  # argmin sum n (s |a| - g)^2
    if allow_scale_only and n_orient >= 3 and spread <= scale_consistency_ms2 and abs(s - 1) <= MAX_SCALE_DEVIATION:
        resid = float(np.sqrt(np.mean((s * mags - g_ms2) ** 2)))
        return StaticCalibration(
            acc_scale=(s, s, s), fitted="scale", residual_ms2=resid, sensitivity=sens0,
            note=f"common scale only: {why}; magnitudes agree to {spread:.3f} m/s^2 rms", **common,
        )
    reason = why if not allow_scale_only else (
        f"{why}; no common scale either ("
        + (f"magnitudes differ by {spread:.3f} m/s^2 rms" if n_orient >= 3 else "3 orientations needed") + ")"
    )
    return StaticCalibration(fitted="none", residual_ms2=before, sensitivity=sens0,
                             note=f"accelerometer not calibrated: {reason}", **common)


__all__ = ["DISTINCT_ORIENTATION_DEG", "FITTED", "StaticCalibration", "count_orientations", "fit_static",
           "sensitivity_of"]
