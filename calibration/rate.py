"""Rate calibration: the true sample rate of a device and the drift of its clock, from timestamps.

Inputs: per received sample, its **device timestamp** (the device's own clock; samples may be missing: lost BLE
packets) and/or its **host arrival time** (the host clock when the notification carrying it arrived; all samples
of one packet share it, and arrivals are late by a jittery transport delay).

Sample rate, from device timestamps (:func:`fit_sample_clock`)
    The timestamps of the received samples lie on ``t_k = t_0 + P k`` with an integer sample index ``k`` and the
    period ``P``, up to quantisation and jitter; lost samples only leave holes in ``k``, so the **timestamps**,
    not the sample count, carry the rate. Steps: (1) a first period from the mean of the single-step differences
    (those within 0.5..1.5 median differences: quantised timestamps telescope, so their mean is unbiased where the
    median is not) and their jitter (robust sd); (2) indices by cumulative steps: a difference up to
    ``max(1.5, 1 + 4 jitter / P)`` periods is one sample, a longer one is a gap of ``round(dt / P)`` samples
    (jittery timestamps are not mistaken for losses); (3) least squares of time against index, then again without
    the points more than 5 robust sd (MAD) off the line; (2)-(3) repeated with the new period until the indices
    no longer change. ``device_rate_hz = 1 / P``; lost samples = ``k_last + 1 - n``. The timestamps must be
    sample times of the device's clock (a sensor or firmware timestamp); times that are really arrival times
    (bursts after delays) belong in ``host_time_s``.

Clock drift, device against host (:func:`fit_lower_envelope`)
    ``host = c + (1 + s) * device + delay`` with ``delay >= 0`` (BLE connection intervals, retransmissions,
    delayed notifications). Jitter only ever adds delay, so the minimum-delay line, the **lower envelope** of the
    points (device, host), is insensitive to it: the line that lies under every point and minimises the summed
    distance to them, solved as a two-variable linear program (:func:`scipy.optimize.linprog`, HiGHS). Its slope
    is the host seconds per device second; ``drift_ppm = (1 / (1 + s) - 1) * 1e6`` = device seconds gained per host
    second, in ppm (positive: the device clock runs fast). This is the opposite sign of
    :class:`firmware_bridge.integrity.ClockMapper`'s ``skew_ppm`` (host seconds per device second minus one), to
    first order. The envelope's error is of the order of the smallest delays (a few ms) over the recording's
    length: ~10 ppm over 2 minutes.

Without device timestamps the rate comes from the lower envelope of host arrival time against the sample index
(``sample_index`` if known, e.g. from sequence numbers, else the count of received samples: then lost samples are
invisible and bias the rate down by the loss fraction; this is said in the result's ``method``).

:attr:`RateEstimate.rate_hz` is the best estimate of samples per second of the **reference** clock: the host's
when host times are given (the host clock is the one the streaming engine runs on), else the device's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

# the result type lives apart from the fitter (calibration.results: data only, no scipy.optimize)
from calibration.results import RATE_SCHEMA_VERSION as SCHEMA_VERSION  # noqa: F401
from calibration.results import RateEstimate
from toolkit.errors import ConfigError


@dataclass(frozen=True)
class SampleClock:
    """Result of :func:`fit_sample_clock`: ``t = t0_s + period_s * index``.

    Attributes:
        period_s: sample period in the timestamps' clock [s].
        t0_s: time of index 0 [s].
        index: (N,) int64 sample index of each timestamp (0 for the first).
        residual_s: rms residual of the inliers [s].
        n_inliers: samples used in the final least-squares fit.
    """

    period_s: float
    t0_s: float
    index: np.ndarray
    residual_s: float
    n_inliers: int


def _times(x: Any, what: str) -> np.ndarray:
    t = np.asarray(x, dtype=np.float64)
    if t.ndim != 1 or t.size < 3:
        raise ConfigError(f"rate estimate: {what} must have shape (N,) with N >= 3 (got {t.shape})")
    if not np.all(np.isfinite(t)):
        raise ConfigError(f"rate estimate: {what} contains NaN or infinite values")
    return t


def fit_sample_clock(t_s: np.ndarray) -> SampleClock:
    """Period and sample indices of (N,) sample timestamps with possible gaps (module docstring).

    Timestamps must be non-decreasing (sort them first); equal ones (quantised timestamps) count as separate
    samples.

    Raises:
        ConfigError: fewer than 3 samples, NaNs, decreasing timestamps, or no time span.
    """
    t = _times(t_s, "device_time_s")
    dt = np.diff(t)
    if np.any(dt < 0):
        raise ConfigError("rate estimate: device timestamps must be non-decreasing (sort them first)")
    if not t[-1] > t[0]:
        raise ConfigError("rate estimate: the device timestamps span no time")
    med = float(np.median(dt[dt > 0]))
    single = dt[(dt > 0.5 * med) & (dt < 1.5 * med)]
    period = float(single.mean()) if single.size else med
    # a single step never exceeds this: 1.5 periods, or more when the timestamps are jittery
    jitter = 1.4826 * float(np.median(np.abs(single - np.median(single)))) if single.size else 0.0
    tr = t - t[0]  # relative times: unix seconds in float64 have only ~0.2 us resolution
    keep = np.ones(t.size, dtype=bool)
    k = np.arange(t.size, dtype=np.int64)
    for _ in range(4):
        if not period > 0:
            raise ConfigError("rate estimate: could not fit a positive sample period to the device timestamps")
        threshold = max(1.5, 1.0 + 4.0 * jitter / period) * period
        steps = np.where(dt <= threshold, 1, np.rint(dt / period)).astype(np.int64)
        k_new = np.concatenate([[0], np.cumsum(steps)])
        for _ in range(2):  # least squares, then again without the outliers (> 5 robust sd)
            slope, intercept = np.polyfit(k_new[keep], tr[keep], 1)
            res = tr - (intercept + slope * k_new)
            spread = np.abs(res - np.median(res))
            keep = spread <= max(5.0 * 1.4826 * float(np.median(spread)), 1e-4 * period)
        done = np.array_equal(k_new, k) and abs(slope - period) < 1e-9 * period
        period, t0, k = float(slope), float(intercept), k_new
        if done:
            break
    resid = tr[keep] - (t0 + period * k[keep])
    return SampleClock(period_s=period, t0_s=t[0] + t0, index=k, residual_s=float(np.sqrt(np.mean(resid**2))),
                       n_inliers=int(keep.sum()))


def fit_lower_envelope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The lower envelope line of points (x, y): ``y >= a + b x`` for every point, minimising ``sum(y - a - b x)``.

    Args:
        x: (N,) abscissae (e.g. device time [s] or sample index).
        y: (N,) ordinates (e.g. host arrival time [s]).

    Returns:
        ``(a, b)``: intercept and slope.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x0, y0 = float(x.mean()), float(y.min())
    xs, ys = x - x0, y - y0
    scale_x = max(float(np.abs(xs).max()), 1e-12)
    u = xs / scale_x
    # maximise sum(a + b u) = n a + b sum(u)  subject to  a + b u_i <= y_i
    res = linprog(c=[-float(u.size), -float(u.sum())], A_ub=np.column_stack([np.ones_like(u), u]), b_ub=ys,
                  bounds=[(None, None), (None, None)], method="highs")
    if not res.success:
        raise ConfigError(f"rate estimate: lower-envelope fit failed ({res.message})")
    a_u, b_u = float(res.x[0]), float(res.x[1])
    b = b_u / scale_x
    return y0 + a_u - b * x0, b


def estimate_rate(
    device_time_s: np.ndarray | None,
    host_time_s: np.ndarray | None = None,
    *,
    nominal_hz: float | None = None,
    sample_index: np.ndarray | None = None,
) -> RateEstimate:
    """Sample rate and device clock drift from timestamps (module docstring).

    Args:
        device_time_s: (N,) device timestamps of the received samples [s], increasing, or None.
        host_time_s: (N,) host arrival time of each sample [s] (the arrival of the packet that carried it), or
            None. Needed for the drift; without device timestamps it is the only source of the rate.
        nominal_hz: the nominal rate [Hz] (the profile's), kept for comparison.
        sample_index: (N,) integer index of each sample when known (e.g. sequence number x samples per packet);
            used only without device timestamps.

    Returns:
        The :class:`RateEstimate`.

    Raises:
        ConfigError: neither time given, shapes differ, fewer than 3 samples, bad values.
    """
    if nominal_hz is not None and not (math.isfinite(nominal_hz) and nominal_hz > 0):
        raise ConfigError(f"rate estimate: nominal_hz must be a positive finite number (got {nominal_hz!r})")
    if device_time_s is None and host_time_s is None:
        raise ConfigError("rate estimate: give device timestamps, host arrival times, or both")
    host = None if host_time_s is None else _times(host_time_s, "host_time_s")
    if device_time_s is not None:
        dev = _times(device_time_s, "device_time_s")
        if host is not None and host.shape != dev.shape:
            raise ConfigError(f"rate estimate: host_time_s {host.shape} and device_time_s {dev.shape} differ in shape")
        order = np.argsort(dev, kind="stable")
        dev = dev[order]
        host = None if host is None else host[order]
        clock = fit_sample_clock(dev)
        device_rate = 1.0 / clock.period_s
        n_lost = max(0, int(clock.index[-1] + 1 - dev.size))
        common = dict(nominal_hz=nominal_hz, device_rate_hz=device_rate, n_samples=dev.size, n_lost=n_lost,
                      timestamp_residual_ms=clock.residual_s * 1e3)
        if host is None:
            return RateEstimate(rate_hz=device_rate, duration_s=float(dev[-1] - dev[0]),
                                method="device timestamps: least squares of time on the sample index",
                                **common)
        a, b = fit_lower_envelope(dev, host)
        if not b > 0:
            raise ConfigError("rate estimate: host arrival times do not increase with device time")
        delay = host - (a + b * dev)
        return RateEstimate(
            rate_hz=device_rate / b, drift_ppm=(1.0 / b - 1.0) * 1e6, duration_s=float(b * (dev[-1] - dev[0])),
            delay_median_ms=float(np.median(delay)) * 1e3, delay_p95_ms=float(np.percentile(delay, 95)) * 1e3,
            method="device timestamps (sample index fit) + lower envelope of host arrival vs device time", **common,
        )
    # host arrival times only
    assert host is not None
    if sample_index is None:
        k = np.arange(host.size, dtype=np.float64)
        how = "sample count (lost samples not detectable: rate biased low by the loss fraction)"
    else:
        k = np.asarray(sample_index, dtype=np.float64)
        if k.shape != host.shape or not np.all(np.isfinite(k)):
            raise ConfigError(f"rate estimate: sample_index must be {host.shape} finite numbers like host_time_s")
        how = "given sample index"
    order = np.argsort(k, kind="stable")
    k, host = k[order], host[order]
    if np.any(np.diff(k) <= 0):
        raise ConfigError("rate estimate: sample_index must not repeat")
    a, period = fit_lower_envelope(k, host)
    if not period > 0:
        raise ConfigError("rate estimate: host arrival times do not increase with the sample index")
    delay = host - (a + period * k)
    n_lost = int(k[-1] - k[0] + 1 - k.size) if sample_index is not None else None
    return RateEstimate(
        rate_hz=1.0 / period, nominal_hz=nominal_hz, n_samples=host.size, n_lost=n_lost,
        duration_s=float(period * (k[-1] - k[0])), delay_median_ms=float(np.median(delay)) * 1e3,
        delay_p95_ms=float(np.percentile(delay, 95)) * 1e3, method=f"lower envelope of host arrival vs {how}",
    )


__all__ = ["RateEstimate", "SampleClock", "estimate_rate", "fit_lower_envelope", "fit_sample_clock"]
