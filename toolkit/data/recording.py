"""One continuous real recording, already in the simulator's watch frame and SI units.

Every loader builds its :class:`Recording` with :func:`make_recording`, which takes the device-native samples, an
explicit :class:`toolkit.device_profiles.RealDeviceProfile` (units, sign, device axes -> watch frame) and a
:class:`toolkit.mount.Mount` (wrist, face, rotation about the forearm). The conversion is therefore never
silent: the profile's and mount's dictionaries are stored in the recording (``profile``, ``mount``) and the steps
in ``meta["conversion"]``.

Frame of the result: the **dorsal watch frame of the wrist it was worn on** (what the simulator's
``left_wrist`` / ``right_wrist`` placement reads), unless ``mirror_to_left=True``, in which case right-wrist
signals are mirrored into the canonical left-wrist frame (``acc (-x, y, z)``, ``gyro (x, -y, -z)``, see
:mod:`toolkit.mount`) and ``mirrored`` is True. Non-wrist devices (phones) keep their device frame and
``wrist=None``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.device_profiles import RealDeviceProfile, resolve_profile
from toolkit.errors import ConfigError
from toolkit.mount import Mount


@dataclass
class Recording:
    """A real recording in the simulator's conventions.

    Attributes:
        subject: subject id (str; datasets without subjects use a placeholder, see the loader).
        recording: recording id, unique within the dataset (e.g. ``"s05_03"``).
        device: real-device profile name.
        rate_hz: nominal sample rate [Hz].
        timestamps_s: (T,) float64 sample times [s] (any epoch, non-decreasing; may be jittery).
        acc: (T, 3) float64 specific force [m/s^2], Android sign (+9.81 up at rest), watch frame.
        gyro: (T, 3) float64 angular velocity [rad/s], watch frame; None without a gyroscope.
        labels: (T,) int64 class index per sample; -1 = unlabelled.
        class_names: names of the class indices.
        wrist: "left" / "right" (the wrist whose watch frame ``acc`` is in), or None for non-wrist devices.
        mirrored: True when right-wrist signals were mirrored into the left-wrist frame.
        profile: the profile's ``to_dict()``.
        mount: the mount's ``to_dict()`` (None for non-wrist devices).
        meta: loader-specific extras (source path, conversion steps, ...).
    """

    subject: str
    recording: str
    device: str
    rate_hz: float
    timestamps_s: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray | None
    labels: np.ndarray
    class_names: list[str]
    wrist: str | None
    mirrored: bool = False
    profile: dict[str, Any] = field(default_factory=dict)
    mount: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.timestamps_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        return self.gyro is not None

    @property
    def duration_s(self) -> float:
        return float(self.timestamps_s[-1] - self.timestamps_s[0]) if len(self) else 0.0


def make_recording(
    *,
    subject: str,
    recording: str,
    timestamps_s: np.ndarray,
    acc_device: np.ndarray,
    gyro_device: np.ndarray | None,
    labels: np.ndarray,
    class_names: list[str],
    profile: RealDeviceProfile | str,
    mount: Mount | None,
    rate_hz: float | None = None,
    mirror_to_left: bool = False,
    meta: dict[str, Any] | None = None,
) -> Recording:
    """Convert device-native samples with ``profile`` and ``mount`` into a :class:`Recording`.

    Args:
        subject, recording: ids (converted to str).
        timestamps_s: (T,) sample times [s].
        acc_device: (T, 3) accelerometer in the device's units, sign and axes.
        gyro_device: (T, 3) gyroscope in the device's units and axes, or None.
        labels: (T,) integer class indices (-1 = unlabelled).
        class_names: names of the indices.
        profile: the device profile (object or built-in name).
        mount: how it was worn; None only for non-wrist devices (``profile.wrist_worn`` False).
        rate_hz: declared rate [Hz]; default the profile's. Checked against the timestamps by
            :func:`checked_rate_hz` (warns and uses the measured rate above a 2 % disagreement).
        mirror_to_left: mirror right-wrist signals into the canonical left-wrist frame.
        meta: extras to store.

    Raises:
        ConfigError: inconsistent shapes, non-finite or unsorted timestamps, a missing mount for a wrist device.
    """
    prof = resolve_profile(profile)
    t = np.asarray(timestamps_s, dtype=np.float64)
    n = t.shape[0]
    where = f"recording {recording!r}"
    if t.ndim != 1 or n < 2:
        raise ConfigError(f"{where}: need at least 2 samples with (T,) timestamps, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
        raise ConfigError(f"{where}: timestamps must be finite and non-decreasing")
    acc_device = np.asarray(acc_device, dtype=np.float64)
    if acc_device.shape != (n, 3):
        raise ConfigError(f"{where}: acc must be ({n}, 3), got {acc_device.shape}")
    if gyro_device is not None:
        gyro_device = np.asarray(gyro_device, dtype=np.float64)
        if gyro_device.shape != (n, 3):
            raise ConfigError(f"{where}: gyro must be ({n}, 3), got {gyro_device.shape}")
        if not prof.has_gyro:
            raise ConfigError(f"{where}: profile {prof.name!r} has no gyroscope but gyro samples were given")
    lab = np.asarray(labels)
    if lab.shape != (n,) or (lab.size and not np.issubdtype(lab.dtype, np.integer)):
        raise ConfigError(f"{where}: labels must be ({n},) integers, got {lab.shape} {lab.dtype}")
    if lab.size and (lab.max() >= len(class_names) or lab.min() < -1):
        raise ConfigError(f"{where}: labels outside -1..{len(class_names) - 1}")
    steps = [f"profile {prof.name}: {prof.acc_units} ({prof.acc_sign} sign) -> m/s^2 Android sign; "
             f"gyro {prof.gyro_units} -> rad/s; device axes -> watch frame {[list(r) for r in prof.axes_to_watch]}"]
    acc, gyro = prof.to_simulator(acc_device, gyro_device)
    wrist = None
    mirrored = False
    if prof.wrist_worn:
        if mount is None:
            raise ConfigError(f"{where}: a wrist device ({prof.name}) needs a Mount (which wrist, face)")
        if mirror_to_left:
            acc, gyro = mount.to_canonical(acc, gyro)
            mirrored = mount.wrist != "left"
            wrist = "left"
        else:
            acc, gyro = mount.to_wrist_frame(acc, gyro)
            wrist = mount.wrist
        steps.append(f"mount {mount.wrist} wrist, {mount.face}, {mount.rotation_deg:+.1f} deg -> dorsal watch frame"
                     + ("; mirrored right -> left" if mirrored else ""))
    elif mount is not None:
        raise ConfigError(f"{where}: profile {prof.name} is not a wrist device; pass mount=None")
    m = dict(meta or {})
    m["conversion"] = steps
    declared = float(rate_hz if rate_hz is not None else prof.rate_hz)
    m["declared_rate_hz"] = declared
    rate = checked_rate_hz(declared, t, where)
    return Recording(
        subject=str(subject),
        recording=str(recording),
        device=prof.name,
        rate_hz=rate,
        timestamps_s=t,
        acc=np.ascontiguousarray(acc),
        gyro=None if gyro is None else np.ascontiguousarray(gyro),
        labels=lab.astype(np.int64),
        class_names=list(class_names),
        wrist=wrist,
        mirrored=mirrored,
        profile=prof.to_dict(),
        mount=None if mount is None else mount.to_dict(),
        meta=m,
    )


def encode_labels(names: np.ndarray | list[str], class_names: list[str], unknown: int = -1) -> np.ndarray:
    """(T,) string labels -> (T,) int64 indices into ``class_names`` (``unknown`` for names not listed)."""
    index = {c: i for i, c in enumerate(class_names)}
    arr = np.asarray(names)
    uniq, inv = np.unique(arr, return_inverse=True)
    codes = np.array([index.get(str(u), unknown) for u in uniq], dtype=np.int64)
    return codes[inv].reshape(arr.shape)


def estimate_rate_hz(timestamps_s: np.ndarray) -> float:
    """Median-interval rate [Hz] of (T,) timestamps (repeated timestamps ignored); NaN when undefined.

    The median ignores gaps and lost samples; with timestamps quantised to 1 ms it is the more frequent of the
    two step lengths (32 Hz: 31 ms, 32.3 Hz), well within the 2 % of :func:`checked_rate_hz`.
    """
    dt = np.diff(np.asarray(timestamps_s, dtype=np.float64))
    dt = dt[dt > 0]
    return float(1.0 / np.median(dt)) if dt.size else float("nan")


#: Relative disagreement between the declared and the measured rate above which the measured one is used.
RATE_TOLERANCE = 0.02


class RateWarning(UserWarning):
    """The declared sample rate disagrees with the timestamps; the measured rate is used."""


def checked_rate_hz(declared_hz: float, timestamps_s: np.ndarray, where: str = "recording") -> float:
    """The rate [Hz] a recording is resampled from: ``declared_hz`` (device profile or dataset description)
    checked against the (T,) timestamps [s].

    Every loader goes through it (:func:`make_recording` calls it). When the median-interval rate
    (:func:`estimate_rate_hz`) differs from ``declared_hz`` by more than :data:`RATE_TOLERANCE` (2 %), a
    :class:`RateWarning` naming ``where`` is issued and the measured rate is returned; else ``declared_hz``.
    Timestamps made from the declared rate (files without a time column) always agree.

    Raises:
        ConfigError: ``declared_hz`` is not a positive finite number.
    """
    if isinstance(declared_hz, bool) or not (isinstance(declared_hz, int | float | np.integer | np.floating)
                                             and np.isfinite(declared_hz) and declared_hz > 0):
        raise ConfigError(f"{where}: the declared rate must be a positive number of Hz (got {declared_hz!r})")
    measured = estimate_rate_hz(timestamps_s)
    if not np.isfinite(measured) or abs(measured / float(declared_hz) - 1.0) <= RATE_TOLERANCE:
        return float(declared_hz)
    warnings.warn(f"{where}: declared rate {float(declared_hz):g} Hz but the timestamps say {measured:.4g} Hz "
                  f"(median step); using {measured:.4g} Hz", RateWarning, stacklevel=3)
    return float(measured)


__all__ = ["RATE_TOLERANCE", "RateWarning", "Recording", "checked_rate_hz", "encode_labels", "estimate_rate_hz",
           "make_recording"]
