"""Gyroscope convention check: do the gyroscope's axes, signs and units agree with the accelerometer's?

:mod:`toolkit.data.frame_check` checks the accelerometer's axes with gravity; this module checks the gyroscope
against the accelerometer, with physics. A vector fixed in the world, seen from the sensor, turns with the opposite
of the sensor's angular velocity: ``dv/dt = -w x v`` (:mod:`toolkit.frames`: body-frame angular velocity [rad/s],
right-handed). Gravity is such a vector. A complementary filter that carries gravity's direction from sample to
sample with the gyroscope (exact rotation by ``-w dt``) and pulls it lightly toward the low-passed accelerometer
(time constant ``tau_s``) stays close to the accelerometer when the gyroscope is in the accelerometer's frame and
units, and drifts when it is not.

:func:`rank_conventions` runs the filter for every candidate convention: the 48 signed permutations of the
gyroscope axes at three unit scales (x1, deg->rad, rad->deg) = 144, and "no gyroscope" (the filter follows the
accelerometer alone), and reports the mean angle [deg] between the carried and the measured gravity direction.
Linear acceleration disturbs the measured direction, so the angles are never zero: what matters is whether the
identity (the data as loaded) comes first. Measured (``benchmarks/gyro_convention.py``): the identity ranks first on
seglearn (margin 0.7 deg) and sp-sw-har (2.8 deg); a flipped gyroscope axis costs 6-17 deg, deg/s instead of rad/s
60 deg or more.

:func:`warn_gyro` (used on user datasets: ``csv:``, ``folder:``, ``ts:``) warns when another convention beats the
identity by more than :data:`WARN_MARGIN_DEG` and explains the data better than ignoring the gyroscope
(:data:`INFORMATIVE_DEG`), naming it. Limits: a gyroscope axis the watch never turns about cannot be checked (a
single-plane movement leaves its sign free), and vigorous periodic motion gives no verdict.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

__all__ = [
    "GyroCheck",
    "GyroWarning",
    "IDENTITY",
    "NO_GYRO",
    "candidate_conventions",
    "check_gyro",
    "describe",
    "filter_residuals",
    "rank_conventions",
    "warn_gyro",
]

#: Unit scales tried for each signed axis permutation.
SCALES = {"x1": 1.0, "deg->rad": np.pi / 180.0, "rad->deg": 180.0 / np.pi}
IDENTITY = "(+x,+y,+z) x1"  #: the data as loaded
NO_GYRO = "no gyroscope"  #: the filter follows the low-passed accelerometer alone: the reference to beat
GRAVITY_LOWPASS_HZ = 2.0  #: low-pass of the accelerometer's gravity estimate [Hz]
TAU_S = 1.0  #: default time constant of the pull toward the accelerometer [s]
#: A convention that beats the identity by more than this [deg] gets a warning (measured margins of correct data:
#: +0.7 / +2.8 deg; of a flipped axis or wrong units: -6 deg and worse).
WARN_MARGIN_DEG = 2.0
#: ... and only when that convention beats "no gyroscope" by more than this [deg]: in vigorous periodic motion (an arm
#: circling at ~1 Hz) centripetal acceleration turns the accelerometer's reading away from gravity, every convention
#: does worse than ignoring the gyroscope, and the ranking says nothing (a simulated pendulum exercise: best candidate
#: 0.05 deg better than "no gyroscope"; seglearn read in deg/s: 0.9 deg).
INFORMATIVE_DEG = 0.5
#: The warning looks at most this many recordings (spread over the list) and this much of each [s].
MAX_RECORDINGS = 8
MAX_SECONDS = 60.0


class GyroWarning(UserWarning):
    """The gyroscope does not rotate gravity the way the accelerometer sees it turn: wrong axes, signs or units."""


def candidate_conventions() -> tuple[list[str], np.ndarray]:
    """Names and (145, 3, 3) matrices M: candidate gyroscope = M @ measured gyroscope (signed permutation x unit
    scale), and a zero matrix (:data:`NO_GYRO`)."""
    names, mats = [], []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, s) in enumerate(zip(perm, signs, strict=True)):
                m[row, col] = s
            axes = ",".join(("+" if s > 0 else "-") + "xyz"[c] for c, s in zip(perm, signs, strict=True))
            for label, scale in SCALES.items():
                names.append(f"({axes}) {label}")
                mats.append(m * scale)
    names.append(NO_GYRO)
    mats.append(np.zeros((3, 3)))
    return names, np.stack(mats)


def _rotate(v: np.ndarray, w: np.ndarray, dt: float) -> np.ndarray:
    """Rotate vectors v (C, 3) by the angle -|w| dt about w (C, 3) (Rodrigues): a world-fixed vector's new
    sensor-frame coordinates after the sensor turned by w dt."""
    speed = np.linalg.norm(w, axis=-1, keepdims=True)
    k = w / np.maximum(speed, 1e-12)
    c, s = np.cos(speed * dt), np.sin(-speed * dt)
    return v * c + np.cross(k, v) * s + k * np.sum(k * v, -1, keepdims=True) * (1.0 - c)


def filter_residuals(acc: np.ndarray, gyro: np.ndarray, rate_hz: float, mats: np.ndarray,
                     tau_s: float = TAU_S) -> tuple[np.ndarray, int]:
    """Sum over samples of the angle [deg] between carried and measured gravity, per candidate (C,), and the count.

    Args:
        acc: (T, 3) specific force [m/s^2]; gyro: (T, 3) angular velocity [rad/s], same frame and clock.
        rate_hz: sample rate [Hz]; mats: (C, 3, 3) candidate conventions; tau_s: filter time constant [s].
    """
    sos = butter(2, GRAVITY_LOWPASS_HZ, fs=rate_hz, output="sos")
    a = sosfiltfilt(sos, acc, axis=0)
    u = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    w = np.einsum("cij,tj->tci", mats, gyro)
    dt, alpha = 1.0 / rate_hz, min(1.0, 1.0 / (rate_hz * tau_s))
    v = np.repeat(u[:1], len(mats), axis=0)
    total = np.zeros(len(mats))
    for t in range(1, len(u)):
        v = _rotate(v, w[t - 1], dt)
        total += np.degrees(np.arccos(np.clip(v @ u[t], -1.0, 1.0)))
        v = (1.0 - alpha) * v + alpha * u[t]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return total, len(u) - 1


def rank_conventions(pairs: Iterable[tuple[np.ndarray, np.ndarray, float]], tau_s: float = TAU_S) -> dict:
    """Mean residual angle [deg] per candidate over all ``(acc, gyro, rate_hz)`` pairs; the identity's rank and
    margin (best other candidate minus identity: positive when the identity wins), "no gyroscope", the top 3."""
    names, mats = candidate_conventions()
    total, count = np.zeros(len(names)), 0
    for acc, gyro, rate in pairs:
        ok = np.isfinite(acc).all(1) & np.isfinite(gyro).all(1)
        if ok.sum() < 2 * rate:
            continue
        s, n = filter_residuals(acc[ok], gyro[ok], rate, mats, tau_s)
        total, count = total + s, count + n
    mean = total / max(count, 1)
    order = np.argsort(mean)
    ident = names.index(IDENTITY)
    best_other = min(float(mean[i]) for i in range(len(names)) if i != ident)
    return {
        "samples": int(count),
        "identity_deg": round(float(mean[ident]), 2),
        "identity_rank": int(np.where(order == ident)[0][0]) + 1,
        "best_other_deg": round(best_other, 2),
        "margin_deg": round(best_other - float(mean[ident]), 2),
        "no_gyro_deg": round(float(mean[names.index(NO_GYRO)]), 2),
        "median_deg": round(float(np.median(mean)), 2),
        "top3": [[names[i], round(float(mean[i]), 2)] for i in order[:3]],
    }


@dataclass
class GyroCheck:
    """Result of :func:`check_gyro`: the ranking (``rank_conventions``' dict; None: no recording with a gyroscope
    and at least 2 s of samples) and the warnings (one line each)."""

    recordings: int
    ranking: dict | None
    warnings: list[str]


def check_gyro(recordings: Sequence[Any], max_recordings: int = MAX_RECORDINGS,
               max_seconds: float = MAX_SECONDS) -> GyroCheck:
    """Rank the conventions on up to ``max_recordings`` recordings (evenly spread), ``max_seconds`` of each.

    Args:
        recordings: objects with ``acc`` (T, 3) [m/s^2], ``gyro`` (T, 3) [rad/s] or None, ``rate_hz``, e.g.
            :class:`toolkit.data.recording.Recording`.
    """
    with_gyro = [r for r in recordings if getattr(r, "gyro", None) is not None]
    if not with_gyro:
        return GyroCheck(0, None, [])
    picked = [with_gyro[i] for i in np.unique(np.linspace(0, len(with_gyro) - 1, max_recordings).round().astype(int))]
    pairs = [(np.asarray(r.acc[: int(max_seconds * r.rate_hz)], np.float64),
              np.asarray(r.gyro[: int(max_seconds * r.rate_hz)], np.float64), float(r.rate_hz)) for r in picked]
    ranking = rank_conventions(pairs)
    if ranking["samples"] == 0:
        return GyroCheck(len(picked), None, [])
    out = []
    best, best_deg = ranking["top3"][0]
    informative = ranking["no_gyro_deg"] - best_deg > INFORMATIVE_DEG  # the best one uses the gyroscope
    if best != IDENTITY and ranking["margin_deg"] < -WARN_MARGIN_DEG and informative:
        out.append(f"gravity carried by the gyroscope as loaded drifts {ranking['identity_deg']:.1f} deg from the "
                   f"accelerometer's on average (rank {ranking['identity_rank']} of 145 conventions); "
                   f"{describe(best)}: {best_deg:.1f} deg. Check the gyroscope's `axes:` and units (rad/s) in the "
                   "device profile")
    return GyroCheck(len(picked), ranking, out)


def describe(name: str) -> str:
    """Plain words for a candidate convention name of :func:`candidate_conventions`."""
    if name == NO_GYRO:
        return "ignoring the gyroscope does better"
    axes, scale = name[1:].split(") ")
    units = {"x1": "rad/s", "deg->rad": "deg/s", "rad->deg": "units of 57.3 rad/s"}[scale]
    return f"read as ({axes.replace('+', '')}) in {units} it fits best"


def warn_gyro(recordings: Sequence[Any], where: str = "real data") -> GyroCheck:
    """:func:`check_gyro`, then one :class:`GyroWarning` per problem found (``"WHERE: ..."``)."""
    check = check_gyro(recordings)
    for w in check.warnings:
        warnings.warn(f"{where}: {w}", GyroWarning, stacklevel=2)
    return check
