"""Still periods in an IMU sample stream: where the device (or the arm wearing it) is held motionless.

A sample is **still** when the centred moving window of ``window_s`` around it (at least 3 samples) has

* a total accelerometer standard deviation ``sqrt(var_x + var_y + var_z) <= acc_std_ms2``, and
* (with a gyroscope) a mean angular-speed ``mean(|w|) <= gyro_norm_rads``.

A still **segment** is a run of still samples without a time gap (a step longer than ``max_gap_factor`` median
sample periods splits a run) lasting at least ``min_duration_s`` (first to last sample). The centred window makes
the test conservative at the edges: a sample within half a window of a movement is not still, so the segment means
are not pulled by the movement's onset.

Default thresholds, for a watch worn on the wrist (SI units):

``acc_std_ms2 = 0.25`` m/s^2
    A MEMS accelerometer's white noise is ~0.01-0.02 m/s^2 per sample at 50-100 Hz (LSM6DS* class, 90-130
    ug/sqrt(Hz)); a person holding an arm still adds physiological tremor and slow sway, ~0.05-0.15 m/s^2 (the
    SEATED periods of sp-sw-har's TicWatch read 0.1-0.2 m/s^2 per axis). A slow rotation of 2 deg within the
    window already changes the gravity components by ~0.34 m/s^2, so the gravity direction of a still segment is
    stable to about a degree.
``gyro_norm_rads = 0.2`` rad/s (11 deg/s)
    The mean angular speed includes the gyroscope's bias (uncalibrated: up to ~1-3 deg/s, 0.05 rad/s) and the
    rectified tremor and noise (~0.03-0.1 rad/s on a held arm); a deliberate movement of the forearm is well
    above 0.5 rad/s.
``window_s = 0.5`` s, ``min_duration_s = 1.0`` s
    Half a second is long enough to average noise and short enough to follow a pose change.

Without a gyroscope only the accelerometer criterion is applied (a rotation about the vertical then goes unseen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from toolkit.errors import ConfigError

#: Default total accelerometer standard deviation of a still window [m/s^2] (module docstring).
ACC_STD_MS2 = 0.25
#: Default mean angular speed of a still window [rad/s].
GYRO_NORM_RADS = 0.2
#: Default length of the moving window [s].
WINDOW_S = 0.5


@dataclass(frozen=True, eq=False)
class StillSegment:
    """One still period.

    Attributes:
        start: index of the first sample.
        stop: one past the index of the last sample (``acc[start:stop]`` is the segment).
        t_start_s: time of the first sample [s].
        t_end_s: time of the last sample [s].
        acc_mean_ms2: (3,) mean specific force [m/s^2] (the gravity reading of this orientation).
        acc_std_ms2: (3,) per-axis standard deviation of the specific force [m/s^2].
        gyro_mean_rads: (3,) mean angular velocity [rad/s] (~ the gyroscope bias), or None without a gyroscope.
    """

    start: int
    stop: int
    t_start_s: float
    t_end_s: float
    acc_mean_ms2: np.ndarray
    acc_std_ms2: np.ndarray
    gyro_mean_rads: np.ndarray | None

    @property
    def n_samples(self) -> int:
        """Number of samples in the segment."""
        return self.stop - self.start

    @property
    def duration_s(self) -> float:
        """First to last sample [s]."""
        return self.t_end_s - self.t_start_s

    @property
    def acc_norm_ms2(self) -> float:
        """Magnitude of the mean specific force [m/s^2] (~9.81 when the data are in m/s^2)."""
        return float(np.linalg.norm(self.acc_mean_ms2))

    @property
    def direction(self) -> np.ndarray:
        """(3,) unit vector of the mean specific force (the "up" direction in the device's axes)."""
        return self.acc_mean_ms2 / max(self.acc_norm_ms2, 1e-12)


def check_stream(
    t_s: np.ndarray, acc_ms2: np.ndarray, gyro_rads: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate a stream: ``t_s`` (N,) finite and non-decreasing, ``acc_ms2`` (N, 3), ``gyro_rads`` (N, 3) or None.

    Returns float64 copies. Raises :class:`ConfigError` with what is wrong.
    """
    t = np.asarray(t_s, dtype=np.float64)
    a = np.asarray(acc_ms2, dtype=np.float64)
    if t.ndim != 1:
        raise ConfigError(f"stream: t_s must have shape (N,), got {t.shape}")
    if a.shape != (t.size, 3):
        raise ConfigError(f"stream: acc must have shape ({t.size}, 3) like t_s, got {a.shape}")
    w = None
    if gyro_rads is not None:
        w = np.asarray(gyro_rads, dtype=np.float64)
        if w.shape != a.shape:
            raise ConfigError(f"stream: gyro must have shape {a.shape} like acc, got {w.shape}")
    for name, x in (("t_s", t), ("acc", a), ("gyro", w)):
        if x is not None and not np.all(np.isfinite(x)):
            raise ConfigError(f"stream: {name} contains NaN or infinite values")
    if t.size >= 2 and np.any(np.diff(t) < 0):
        raise ConfigError("stream: t_s must be non-decreasing (sort the samples by time first)")
    return t, a, w


def still_mask(
    t_s: np.ndarray,
    acc_ms2: np.ndarray,
    gyro_rads: np.ndarray | None = None,
    *,
    acc_std_ms2: float = ACC_STD_MS2,
    gyro_norm_rads: float = GYRO_NORM_RADS,
    window_s: float = WINDOW_S,
) -> np.ndarray:
    """(N,) bool: whether the centred window around each sample is still (module docstring)."""
    t, a, w = check_stream(t_s, acc_ms2, gyro_rads)
    n = t.size
    if n < 3:
        return np.zeros(n, dtype=bool)
    dt = np.diff(t)
    dt = dt[dt > 0]
    period_s = float(np.median(dt)) if dt.size else 1.0
    width = max(3, int(round(window_s / period_s)) | 1)  # odd, so the window is centred
    width = min(width, n if n % 2 else n - 1)
    a0 = a - a.mean(axis=0)  # centring keeps E[x^2] - E[x]^2 free of cancellation
    mean = uniform_filter1d(a0, width, axis=0, mode="nearest")
    mean_sq = uniform_filter1d(a0 * a0, width, axis=0, mode="nearest")
    total_std = np.sqrt(np.clip(mean_sq - mean * mean, 0.0, None).sum(axis=1))
    still = total_std <= acc_std_ms2
    if w is not None:
        speed = uniform_filter1d(np.linalg.norm(w, axis=1), width, mode="nearest")
        still &= speed <= gyro_norm_rads
    return still


def find_still_segments(
    t_s: np.ndarray,
    acc_ms2: np.ndarray,
    gyro_rads: np.ndarray | None = None,
    *,
    min_duration_s: float = 1.0,
    acc_std_ms2: float = ACC_STD_MS2,
    gyro_norm_rads: float = GYRO_NORM_RADS,
    window_s: float = WINDOW_S,
    max_gap_factor: float = 5.0,
) -> list[StillSegment]:
    """Still segments of a stream, in time order.

    Args:
        t_s: (N,) sample times [s], non-decreasing.
        acc_ms2: (N, 3) specific force [m/s^2] in any fixed (device) axes.
        gyro_rads: (N, 3) angular velocity [rad/s] in the same axes, or None.
        min_duration_s: shortest segment kept (first to last sample) [s].
        acc_std_ms2: largest total acc standard deviation of a still window [m/s^2].
        gyro_norm_rads: largest mean angular speed of a still window [rad/s].
        window_s: moving-window length [s].
        max_gap_factor: a time step longer than this many median periods ends a segment.

    Returns:
        The :class:`StillSegment` list (possibly empty).

    Raises:
        ConfigError: bad shapes, NaNs, decreasing times or non-positive thresholds.
    """
    for key, v in (("min_duration_s", min_duration_s), ("acc_std_ms2", acc_std_ms2),
                   ("gyro_norm_rads", gyro_norm_rads), ("window_s", window_s), ("max_gap_factor", max_gap_factor)):
        if not (np.isfinite(v) and v > 0):
            raise ConfigError(f"still segments: {key} must be a positive number (got {v!r})")
    t, a, w = check_stream(t_s, acc_ms2, gyro_rads)
    still = still_mask(t, a, w, acc_std_ms2=acc_std_ms2, gyro_norm_rads=gyro_norm_rads, window_s=window_s)
    if not still.any():
        return []
    dt = np.diff(t)
    positive = dt[dt > 0]
    max_step_s = max_gap_factor * float(np.median(positive)) if positive.size else np.inf
    # run boundaries: a change of the still flag or a time gap
    breaks = np.flatnonzero((np.diff(still.astype(np.int8)) != 0) | (dt > max_step_s)) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [t.size]])
    out: list[StillSegment] = []
    for s, e in zip(starts, stops, strict=True):
        if not still[s] or t[e - 1] - t[s] < min_duration_s:
            continue
        out.append(
            StillSegment(
                start=int(s),
                stop=int(e),
                t_start_s=float(t[s]),
                t_end_s=float(t[e - 1]),
                acc_mean_ms2=a[s:e].mean(axis=0),
                acc_std_ms2=a[s:e].std(axis=0),
                gyro_mean_rads=None if w is None else w[s:e].mean(axis=0),
            )
        )
    return out


__all__ = ["ACC_STD_MS2", "GYRO_NORM_RADS", "WINDOW_S", "StillSegment", "check_stream", "find_still_segments",
           "still_mask"]
