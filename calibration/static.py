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
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from calibration.stillness import StillSegment
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2

SCHEMA_VERSION = 1
#: Values of :attr:`StaticCalibration.fitted`.
FITTED = ("bias+scale", "scale", "none")
#: Two still orientations closer than this count as one [deg].
DISTINCT_ORIENTATION_DEG = 15.0
#: Largest plausible accelerometer bias norm [m/s^2] and scale deviation of a fitted calibration.
MAX_BIAS_MS2 = 2.0
MAX_SCALE_DEVIATION = 0.2

Vec3 = tuple[float, float, float]
_ZERO: Vec3 = (0.0, 0.0, 0.0)
_ONE: Vec3 = (1.0, 1.0, 1.0)


def _vec3(value: Any, what: str) -> Vec3:
    try:
        v = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"static calibration: {what} must be 3 numbers (got {value!r})") from None
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ConfigError(f"static calibration: {what} must be 3 finite numbers (got {value!r})")
    return (float(v[0]), float(v[1]), float(v[2]))


@dataclass(frozen=True)
class StaticCalibration:
    """Accelerometer bias and diagonal scale, gyroscope bias, in the device's axes (SI, Android sign).

    Attributes:
        acc_bias_ms2: (3,) accelerometer bias [m/s^2], subtracted before scaling.
        acc_scale: (3,) diagonal accelerometer gains (dimensionless).
        gyro_bias_rads: (3,) gyroscope bias [rad/s].
        fitted: what was fitted for the accelerometer: "bias+scale", "scale" (one common gain) or "none".
        gyro_fitted: whether ``gyro_bias_rads`` comes from data (False: zero, e.g. no gyroscope).
        n_orientations: distinct still orientations used (more than 15 deg apart).
        n_samples: still samples used (0 when fitted from mean vectors without counts).
        residual_ms2: rms over the orientations of ``|a_corr| - G_MS2`` after the correction [m/s^2].
        residual_before_ms2: the same before any correction [m/s^2].
        sensitivity: parameter error per unit magnitude error of the full 6-parameter fit (inf: not identifiable).
        note: why the fit is what it is (one line).
    """

    acc_bias_ms2: Vec3 = _ZERO
    acc_scale: Vec3 = _ONE
    gyro_bias_rads: Vec3 = _ZERO
    fitted: str = "none"
    gyro_fitted: bool = False
    n_orientations: int = 0
    n_samples: int = 0
    residual_ms2: float = 0.0
    residual_before_ms2: float = 0.0
    sensitivity: float = math.inf
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "acc_bias_ms2", _vec3(self.acc_bias_ms2, "acc_bias_ms2"))
        object.__setattr__(self, "acc_scale", _vec3(self.acc_scale, "acc_scale"))
        object.__setattr__(self, "gyro_bias_rads", _vec3(self.gyro_bias_rads, "gyro_bias_rads"))
        if min(self.acc_scale) <= 0:
            raise ConfigError(f"static calibration: acc_scale must be positive (got {self.acc_scale})")
        if self.fitted not in FITTED:
            raise ConfigError(f"static calibration: fitted must be one of {', '.join(FITTED)} (got {self.fitted!r})")
        if not isinstance(self.gyro_fitted, bool | np.bool_):
            raise ConfigError(f"static calibration: gyro_fitted must be true or false (got {self.gyro_fitted!r})")
        object.__setattr__(self, "gyro_fitted", bool(self.gyro_fitted))
        for key in ("n_orientations", "n_samples"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                raise ConfigError(f"static calibration: {key} must be a non-negative integer (got {v!r})")
            object.__setattr__(self, key, int(v))
        for key in ("residual_ms2", "residual_before_ms2", "sensitivity"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) or v < 0 or v != v:
                raise ConfigError(f"static calibration: {key} must be a non-negative number (got {v!r})")
            object.__setattr__(self, key, float(v))
        if not isinstance(self.note, str):
            raise ConfigError("static calibration: note must be a string")

    @classmethod
    def identity(cls) -> StaticCalibration:
        """No correction: bias 0, scale 1."""
        return cls(note="identity (no calibration)")

    def apply(self, acc_ms2: np.ndarray, gyro_rads: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Correct (..., 3) device-axis samples: ``scale * (acc - acc_bias)``, ``gyro - gyro_bias``. float64 out."""
        a = (np.asarray(acc_ms2, dtype=np.float64) - np.asarray(self.acc_bias_ms2)) * np.asarray(self.acc_scale)
        w = None if gyro_rads is None else np.asarray(gyro_rads, dtype=np.float64) - np.asarray(self.gyro_bias_rads)
        return a, w

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"schema": 1`` (``sensitivity`` inf is written as None)."""
        return {
            "schema": SCHEMA_VERSION,
            "acc_bias_ms2": list(self.acc_bias_ms2),
            "acc_scale": list(self.acc_scale),
            "gyro_bias_rads": list(self.gyro_bias_rads),
            "fitted": self.fitted,
            "gyro_fitted": self.gyro_fitted,
            "n_orientations": self.n_orientations,
            "n_samples": self.n_samples,
            "residual_ms2": self.residual_ms2,
            "residual_before_ms2": self.residual_before_ms2,
            "sensitivity": None if math.isinf(self.sensitivity) else self.sensitivity,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StaticCalibration:
        """Inverse of :meth:`to_dict`. Raises :class:`ConfigError` on a wrong schema, unknown keys or bad values."""
        if not isinstance(data, dict):
            raise ConfigError(f"static calibration: expected a mapping, got {type(data).__name__}")
        d = dict(data)
        schema = d.pop("schema", None)
        if schema != SCHEMA_VERSION:
            raise ConfigError(
                f"static calibration: unsupported schema {schema!r} (this version reads {SCHEMA_VERSION})"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            known_s = ", ".join(sorted(known))
            raise ConfigError(f"static calibration: unknown keys {', '.join(unknown)} (known: {known_s})")
        if "sensitivity" in d and d["sensitivity"] is None:
            d["sensitivity"] = math.inf
        return cls(**d)


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
    gyro_bias = _ZERO if gyro is None else _vec3(np.average(gyro, axis=0, weights=n), "gyro bias")
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
                acc_bias_ms2=_vec3(bias, "bias"), acc_scale=_vec3(scale, "scale"), fitted="bias+scale",
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
