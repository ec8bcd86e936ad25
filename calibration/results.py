"""Result types of the calibration procedures, data only: no fitting, no optimiser.

:class:`StaticCalibration` (accelerometer bias and scale, gyroscope bias; :func:`calibration.static.fit_static`
computes it) and :class:`RateEstimate` (true rate, lost samples, clock drift; :func:`calibration.rate.estimate_rate`
computes it). Loading and applying a calibration file (:mod:`calibration.device`) needs only these, so streaming does
not import ``scipy.optimize`` (as imucal keeps ``*_calibration_info.py`` apart from the procedures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.versioned import versioned_fields

#: Version of :meth:`StaticCalibration.to_dict`'s layout (inside a calibration file).
STATIC_SCHEMA_VERSION = 1
#: Values of :attr:`StaticCalibration.fitted`.
FITTED = ("bias+scale", "scale", "none")
#: Two still orientations closer than this count as one [deg].
DISTINCT_ORIENTATION_DEG = 15.0
#: Largest plausible accelerometer bias norm [m/s^2] and scale deviation of a fitted calibration.
MAX_BIAS_MS2 = 2.0
MAX_SCALE_DEVIATION = 0.2

Vec3 = tuple[float, float, float]
ZERO3: Vec3 = (0.0, 0.0, 0.0)
ONE3: Vec3 = (1.0, 1.0, 1.0)


def vec3(value: Any, what: str) -> Vec3:
    """3 finite numbers as a tuple; ConfigError naming ``what`` otherwise."""
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

    acc_bias_ms2: Vec3 = ZERO3
    acc_scale: Vec3 = ONE3
    gyro_bias_rads: Vec3 = ZERO3
    fitted: str = "none"
    gyro_fitted: bool = False
    n_orientations: int = 0
    n_samples: int = 0
    residual_ms2: float = 0.0
    residual_before_ms2: float = 0.0
    sensitivity: float = math.inf
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "acc_bias_ms2", vec3(self.acc_bias_ms2, "acc_bias_ms2"))
        object.__setattr__(self, "acc_scale", vec3(self.acc_scale, "acc_scale"))
        object.__setattr__(self, "gyro_bias_rads", vec3(self.gyro_bias_rads, "gyro_bias_rads"))
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
            "schema": STATIC_SCHEMA_VERSION,
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
        d = versioned_fields(data, "static calibration", STATIC_SCHEMA_VERSION, cls.__dataclass_fields__)
        if "sensitivity" in d and d["sensitivity"] is None:
            d["sensitivity"] = math.inf
        return cls(**d)


# ------------------------------------------------------------------------------------------ rate
#: Version of :meth:`RateEstimate.to_dict`'s layout (inside a calibration file).
RATE_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RateEstimate:
    """Sample rate and clock drift of one device.

    Attributes:
        rate_hz: samples per second of the reference clock (host when host times were given, else device) [Hz].
        nominal_hz: the profile's nominal rate [Hz], or None.
        device_rate_hz: samples per second of the device's clock [Hz], or None without device timestamps.
        drift_ppm: device clock against the host clock, ``(device s per host s - 1) * 1e6`` [ppm], or None.
        n_samples: samples received.
        n_lost: samples missing between the first and the last (from device timestamps), or None.
        duration_s: first to last sample, reference clock [s].
        timestamp_residual_ms: rms deviation of device timestamps from the fitted line [ms] (quantisation and
            timestamp jitter), or None.
        delay_median_ms: median host arrival delay above the lower envelope [ms], or None.
        delay_p95_ms: 95th percentile of that delay [ms], or None.
        method: how the numbers were obtained (one line).
    """

    rate_hz: float
    nominal_hz: float | None = None
    device_rate_hz: float | None = None
    drift_ppm: float | None = None
    n_samples: int = 0
    n_lost: int | None = None
    duration_s: float = 0.0
    timestamp_residual_ms: float | None = None
    delay_median_ms: float | None = None
    delay_p95_ms: float | None = None
    method: str = ""

    def __post_init__(self) -> None:
        for key in ("rate_hz", "nominal_hz", "device_rate_hz"):
            v = getattr(self, key)
            if v is None and key != "rate_hz":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) or not (
                math.isfinite(v) and v > 0
            ):
                raise ConfigError(f"rate estimate: {key} must be a positive finite number (got {v!r})")
            object.__setattr__(self, key, float(v))
        for key in ("drift_ppm", "duration_s", "timestamp_residual_ms", "delay_median_ms", "delay_p95_ms"):
            v = getattr(self, key)
            if v is None and key != "duration_s":
                continue
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) or not math.isfinite(v):
                raise ConfigError(f"rate estimate: {key} must be a finite number (got {v!r})")
            object.__setattr__(self, key, float(v))
        for key in ("n_samples", "n_lost"):
            v = getattr(self, key)
            if v is None and key == "n_lost":
                continue
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
                raise ConfigError(f"rate estimate: {key} must be a non-negative integer (got {v!r})")
            object.__setattr__(self, key, int(v))
        if not isinstance(self.method, str):
            raise ConfigError("rate estimate: method must be a string")

    @property
    def rate_error_ppm(self) -> float | None:
        """``(rate_hz / nominal_hz - 1) * 1e6``, or None without a nominal rate."""
        return None if self.nominal_hz is None else (self.rate_hz / self.nominal_hz - 1.0) * 1e6

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"schema": 1``."""
        return {"schema": RATE_SCHEMA_VERSION, **{k: getattr(self, k) for k in self.__dataclass_fields__}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateEstimate:
        """Inverse of :meth:`to_dict`; :class:`ConfigError` on a wrong schema, unknown keys or bad values."""
        return cls(**versioned_fields(data, "rate estimate", RATE_SCHEMA_VERSION, cls.__dataclass_fields__,
                                      required=("rate_hz",)))


__all__ = [
    "DISTINCT_ORIENTATION_DEG",
    "FITTED",
    "MAX_BIAS_MS2",
    "MAX_SCALE_DEVIATION",
    "RATE_SCHEMA_VERSION",
    "STATIC_SCHEMA_VERSION",
    "RateEstimate",
    "StaticCalibration",
    "vec3",
]
