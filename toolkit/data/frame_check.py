"""Frame sanity check: does gravity, in still periods, sit where a watch worn as declared would see it?

Real recordings arrive converted into the watch frame (:class:`toolkit.data.recording.Recording`: ``acc`` (T, 3)
specific force [m/s^2], +9.81 on the upward axis at rest, in the watch frame of ``wrist``). A wrong ``axes:``
mapping in the device description is silent: the numbers stay plausible and the model trains on rotated signals.
Still periods tell: there the accelerometer reads gravity only, and a watch worn as declared (:mod:`toolkit.frames`:
+X 3 o'clock, +Y 12 o'clock, +Z out of the face; left wrist +X toward the hand, right wrist +X toward the elbow)

* with the arm hanging or the forearm sloping down reads gravity along the forearm axis X with the wrist's sign:
  specific force along **-X on the left wrist** (the hand, +X, is down) and **+X on the right wrist**;
* lying face up on a table, or with the forearm on a desk, reads **+Z**; a thumb-up hand reads -Y.

What a wrong mapping looks like, and the warning it gets (thresholds below; each a fraction of the still time):

* ``x looks flipped``: gravity along the *wrong* X sign for the wrist at least :data:`FLIP_FRACTION` of the still
  time and :data:`DOMINANCE` times as often as along the right sign;
* ``x and y look swapped``: gravity along +-Y at least :data:`SWAP_FRACTION` of the still time and almost never along
  X (below :data:`RARE_FRACTION`): a forearm never hangs nor slopes (possible for a task done thumb-up, so the
  message says so);
* ``z looks flipped``: gravity along -Z (face down) at least :data:`FLIP_FRACTION` and :data:`DOMINANCE` times as
  often as +Z (or the watch is worn palmar without saying so).

Still periods (:func:`still_mask`): windows of about 1 s where the accelerometer's standard deviation is below
:data:`ACC_STD_MS2`, its mean magnitude is within :data:`G_TOLERANCE` of g, and (when there is a gyroscope) the mean
angular speed is below :data:`GYRO_RAD_S`. (``calibration/stillness.py`` sits on a higher layer; this is the small
scipy version.) A direction "counts" for an axis when the unit gravity vector is within ~37 deg of it (component
above :data:`AXIS_COMPONENT`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter1d

from toolkit.frames import G_MS2

__all__ = [
    "AXIS_LABELS",
    "FrameCheck",
    "FrameWarning",
    "check_frames",
    "still_mask",
    "warn_frames",
]

#: Still-period detector thresholds.
WINDOW_S = 1.0
ACC_STD_MS2 = 1.0
G_TOLERANCE = 0.1
GYRO_RAD_S = 1.0
#: Unit-gravity component above which a still sample counts for an axis direction (cos 37 deg).
AXIS_COMPONENT = 0.8
#: Warning thresholds (fractions of the still time).
FLIP_FRACTION = 0.3
SWAP_FRACTION = 0.6
RARE_FRACTION = 0.05
DOMINANCE = 3.0
#: Less still time than this [s] gives no verdict.
MIN_STILL_S = 10.0
#: The six axis directions, in the order of :attr:`FrameCheck.fractions`.
AXIS_LABELS = ("+X", "-X", "+Y", "-Y", "+Z", "-Z")


class FrameWarning(UserWarning):
    """Gravity in still periods says the device's axes mapping (or the declared wrist) looks wrong."""


@dataclass
class FrameCheck:
    """Gravity directions in the still periods of the recordings of one wrist.

    Attributes:
        wrist: "left", "right" or None (not a wrist device: no check).
        recordings: how many recordings went in.
        still_s: still time found [s].
        fractions: share of the still time with gravity (specific force) along each of :data:`AXIS_LABELS`.
        warnings: one line each; empty when the frame looks right (or there was too little still time).
    """

    wrist: str | None
    recordings: int = 0
    still_s: float = 0.0
    fractions: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AXIS_LABELS, 0.0))
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: wrist, still time and the fractions in percent."""
        parts = " ".join(f"{k} {100 * v:.0f}%" for k, v in self.fractions.items())
        return f"{self.wrist} wrist: {self.still_s:.0f} s still in {self.recordings} recordings; gravity along {parts}"


def still_mask(acc: np.ndarray, rate_hz: float, gyro: np.ndarray | None = None) -> np.ndarray:
    """(T,) bool: samples inside a still period.

    Args:
        acc: (T, 3) specific force [m/s^2].
        rate_hz: sample rate [Hz] (sets the ~1 s window).
        gyro: (T, 3) angular velocity [rad/s] or None.
    """
    a = np.asarray(acc, dtype=np.float64)
    n = len(a)
    if n == 0:
        return np.zeros(0, dtype=bool)
    win = max(3, int(round(WINDOW_S * float(rate_hz))))
    mean = uniform_filter1d(a, win, axis=0, mode="nearest")
    var = uniform_filter1d(a * a, win, axis=0, mode="nearest") - mean * mean
    std = np.sqrt(np.clip(var.sum(axis=1), 0.0, None))
    mag = np.linalg.norm(mean, axis=1)
    still = (std < ACC_STD_MS2) & (np.abs(mag / G_MS2 - 1.0) < G_TOLERANCE)
    if gyro is not None:
        speed = uniform_filter1d(np.linalg.norm(np.asarray(gyro, dtype=np.float64), axis=1), win, mode="nearest")
        still &= speed < GYRO_RAD_S
    return still & np.isfinite(a).all(axis=1)


def _directions(recordings: Sequence[Any]) -> tuple[np.ndarray, float]:
    """(N, 3) unit gravity directions of the still samples and the still time [s]."""
    dirs, still_s = [], 0.0
    for rec in recordings:
        acc = np.asarray(rec.acc, dtype=np.float64)
        if len(acc) == 0:
            continue
        gyro = getattr(rec, "gyro", None)
        m = still_mask(acc, rec.rate_hz, gyro)
        if m.any():
            a = acc[m]
            dirs.append(a / np.linalg.norm(a, axis=1, keepdims=True))
            still_s += float(m.sum()) / float(rec.rate_hz)
    return (np.concatenate(dirs) if dirs else np.zeros((0, 3))), still_s


def _verdict(wrist: str, f: dict[str, float]) -> list[str]:
    """The warnings for one wrist's fractions (module docstring)."""
    out = []
    good, bad = ("-X", "+X") if wrist == "left" else ("+X", "-X")
    hand = "the hand, +X, is down" if wrist == "left" else "the elbow, +X, is up"
    if f[bad] >= FLIP_FRACTION and f[bad] > DOMINANCE * f[good]:
        out.append(f"x looks flipped: gravity points along {bad} for {100 * f[bad]:.0f} % of still time "
                   f"({good}: {100 * f[good]:.0f} %); a {wrist}-wrist watch with the arm hanging reads {good} "
                   f"({hand}): check `axes:` in the device profile, or the declared wrist")
    along_y = f["+Y"] + f["-Y"]
    if along_y >= SWAP_FRACTION and f["+X"] + f["-X"] < RARE_FRACTION:
        out.append(f"x and y look swapped: gravity lies along Y for {100 * along_y:.0f} % of still time and along X "
                   f"for {100 * (f['+X'] + f['-X']):.0f} %; a hanging or sloping forearm puts it on X (unless every "
                   "still moment was thumb-up): check `axes:` in the device profile")
    if f["-Z"] >= FLIP_FRACTION and f["-Z"] > DOMINANCE * f["+Z"]:
        out.append(f"z looks flipped: gravity points along -Z (face down) for {100 * f['-Z']:.0f} % of still time "
                   f"(+Z: {100 * f['+Z']:.0f} %); a watch resting face up reads +Z: check `axes:` in the device "
                   "profile, or declare the mount palmar")
    return out


def check_frames(recordings: Iterable[Any]) -> list[FrameCheck]:
    """One :class:`FrameCheck` per wrist present among ``recordings`` (non-wrist recordings are skipped).

    Args:
        recordings: objects with ``acc`` (T, 3) [m/s^2, watch frame], ``gyro`` (T, 3) [rad/s] or None,
            ``rate_hz`` and ``wrist`` ("left" / "right": the wrist whose watch frame ``acc`` is in; None: skipped),
            e.g. :class:`toolkit.data.recording.Recording`.
    """
    by_wrist: dict[str, list[Any]] = {}
    for rec in recordings:
        if getattr(rec, "wrist", None) in ("left", "right"):
            by_wrist.setdefault(rec.wrist, []).append(rec)
    out = []
    for wrist in sorted(by_wrist):
        recs = by_wrist[wrist]
        u, still_s = _directions(recs)
        check = FrameCheck(wrist=wrist, recordings=len(recs), still_s=still_s)
        if len(u):
            for i, axis in enumerate("XYZ"):
                check.fractions[f"+{axis}"] = float(np.mean(u[:, i] > AXIS_COMPONENT))
                check.fractions[f"-{axis}"] = float(np.mean(u[:, i] < -AXIS_COMPONENT))
        if still_s >= MIN_STILL_S:
            check.warnings = _verdict(wrist, check.fractions)
        out.append(check)
    return out


def warn_frames(recordings: Iterable[Any], where: str = "real data") -> list[FrameCheck]:
    """:func:`check_frames`, then one :class:`FrameWarning` per problem found (``"WHERE, WRIST wrist: ..."``)."""
    checks = check_frames(recordings)
    for c in checks:
        for w in c.warnings:
            warnings.warn(f"{where}, {c.wrist} wrist: {w}", FrameWarning, stacklevel=2)
    return checks
