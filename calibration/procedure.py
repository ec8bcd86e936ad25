"""The whole calibration procedure on one continuous recording: still periods -> static, mount, rate.

:data:`PROTOCOL` is what a person is asked to do (``edge-calibrate`` shows the instructions in order):

1. ``table`` (optional, guided mode only): the device lies face up on a table, untouched.
2. ``hang``: the arm wearing the device hangs straight and relaxed at the side.
3. ``forward``: the arm is stretched forward, horizontal, palm down.

:func:`calibrate_stream` takes the recording (SI units in the device's axes with the profile's sign, like
:meth:`calibration.device.DeviceCalibration.apply`) and returns a :class:`~calibration.device.DeviceCalibration`:

* **poses**: with ``phases`` (guided mode: the times of each step are known) the longest still part of each
  step's interval; without, found automatically: the still segments (:func:`calibration.stillness.
  find_still_segments`, at least ``min_still_s`` long), then ``hang`` = the first one and ``forward`` = the first
  later one whose gravity direction differs by more than 45 deg. The automatic mode therefore expects the
  recording to start with the hang pose; when it starts with the table step, say so with ``table_first=True``
  (its first still segment is then skipped for the poses), or give ``phases``. Without either, a table step at
  the start would be taken for the hang pose: the table (face up) and the hang are 90 deg apart like hang and
  forward, so nothing in the data tells them apart.
* **static**: gyroscope bias from all still segments; accelerometer bias and scale only when the still segments
  cover enough orientations for the 6-parameter fit (never with the two poses alone: then the accelerometer is
  left uncorrected, and ``notes`` say so).
* **mount**: :func:`calibration.orientation.estimate_mount_rotation` on the statically corrected mean readings of
  the two poses; its diagnostics and the offset from the nominal profile axes + mount go into ``diagnostics``.
* **rate**: :func:`calibration.rate.estimate_rate` when device and/or host timestamps are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.device import DeviceCalibration, utc_now
from calibration.orientation import angle_deg, estimate_mount_rotation
from calibration.rate import estimate_rate
from calibration.static import fit_static
from calibration.stillness import StillSegment, check_stream, find_still_segments
from toolkit.device_profiles import RealDeviceProfile, resolve_profile
from toolkit.errors import ConfigError
from toolkit.mount import Mount
from toolkit.sim.devices import DeviceProfile, from_device_units

#: Two still segments whose gravity directions differ by more than this are different poses [deg].
POSE_CHANGE_DEG = 45.0
#: Shortest still period accepted as a pose in the automatic mode [s].
MIN_STILL_S = 2.0
#: Shortest still part inside a given phase (guided mode) [s].
MIN_STILL_IN_PHASE_S = 1.0
#: Larger apparent device-vs-host clock drift is no clock error (quartz: tens of ppm) but a replay at another speed.
MAX_PLAUSIBLE_DRIFT_PPM = 10_000.0


@dataclass(frozen=True)
class ProtocolStep:
    """One step of the calibration protocol.

    Attributes:
        name: "table", "hang" or "forward".
        instruction: what to tell the person.
        duration_s: how long to hold it [s].
        optional: whether the procedure works without it.
    """

    name: str
    instruction: str
    duration_s: float
    optional: bool = False


#: The calibration protocol, in order.
PROTOCOL: tuple[ProtocolStep, ...] = (
    ProtocolStep("table", "Take the watch off and lay it face up on a table. Do not touch it.", 5.0, optional=True),
    ProtocolStep("hang", "Put the watch on. Stand and let that arm hang straight down at your side, relaxed, palm "
                 "toward the thigh. Hold still.", 5.0),
    ProtocolStep("forward", "Stretch the same arm straight forward, horizontal, palm down. Hold still.", 5.0),
)


def _segment_in(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, name: str, span: Any) -> StillSegment:
    """The longest still segment inside the phase ``span = (t_start, t_end)``, with indices of the full stream."""
    try:
        t0, t1 = (float(v) for v in span)
    except (TypeError, ValueError):
        raise ConfigError(f"calibration: phase {name!r} must be (t_start, t_end) in seconds (got {span!r})") from None
    if not t1 > t0:
        raise ConfigError(f"calibration: phase {name!r} ends before it starts ({t0} .. {t1})")
    sel = np.flatnonzero((t >= t0) & (t <= t1))
    if sel.size < 3:
        raise ConfigError(f"calibration: phase {name!r} ({t0:.1f} .. {t1:.1f} s) holds no samples of the stream")
    lo, hi = int(sel[0]), int(sel[-1]) + 1
    segs = find_still_segments(t[lo:hi], acc[lo:hi], None if gyro is None else gyro[lo:hi],
                               min_duration_s=MIN_STILL_IN_PHASE_S)
    if not segs:
        raise ConfigError(
            f"calibration: no still period of >= {MIN_STILL_IN_PHASE_S:g} s during {name!r} "
            f"({t0:.1f} .. {t1:.1f} s): hold the pose still and repeat"
        )
    s = max(segs, key=lambda seg: seg.n_samples)
    return StillSegment(start=s.start + lo, stop=s.stop + lo, t_start_s=s.t_start_s, t_end_s=s.t_end_s,
                        acc_mean_ms2=s.acc_mean_ms2, acc_std_ms2=s.acc_std_ms2, gyro_mean_rads=s.gyro_mean_rads)


def find_poses(segments: list[StillSegment]) -> tuple[StillSegment, StillSegment]:
    """(hang, forward) among time-ordered still segments: the first, and the first later one more than
    :data:`POSE_CHANGE_DEG` away from it (module docstring)."""
    if not segments:
        raise ConfigError(
            f"calibration: no still period of >= {MIN_STILL_S:g} s found: hold the arm still for about 5 s in each "
            "pose (hang at the side, then straight forward palm down)"
        )
    hang = segments[0]
    for seg in segments[1:]:
        if angle_deg(hang.acc_mean_ms2, seg.acc_mean_ms2) > POSE_CHANGE_DEG:
            return hang, seg
    raise ConfigError(
        f"calibration: found {len(segments)} still period(s) but no two poses more than {POSE_CHANGE_DEG:g} deg "
        "apart: after the hang pose, stretch the arm forward (palm down) and hold it still"
    )


def calibrate_stream(
    t_s: np.ndarray,
    acc_ms2: np.ndarray,
    gyro_rads: np.ndarray | None,
    *,
    device_id: str,
    profile: RealDeviceProfile | str,
    wrist: str,
    face: str = "dorsal",
    device_time_s: np.ndarray | None = None,
    host_time_s: np.ndarray | None = None,
    phases: Mapping[str, tuple[float, float]] | None = None,
    table_first: bool = False,
) -> DeviceCalibration:
    """Run the calibration procedure on one recording of :data:`PROTOCOL`.

    Args:
        t_s: (N,) sample times [s] (any clock), non-decreasing.
        acc_ms2: (N, 3) specific force [m/s^2] in the device's axes with the profile's sign.
        gyro_rads: (N, 3) angular velocity [rad/s] in the device's axes, or None.
        device_id: the device's id (key of the calibration file).
        profile: the device's profile, or a built-in profile name.
        wrist: the wrist wearing the device during the procedure, "left" or "right".
        face: "dorsal" or "palmar", as the person says it is worn (only used to report how far the measured mount
            is from the nominal one; the measured rotation replaces it).
        device_time_s: (N,) device timestamps [s] for the rate, or None.
        host_time_s: (N,) host arrival times [s] for the rate and clock drift, or None.
        phases: ``{"hang": (t0, t1), "forward": (t0, t1)[, "table": (t0, t1)]}`` in the clock of ``t_s`` (guided
            mode), or None (automatic).
        table_first: automatic mode only: the recording starts with the optional ``table`` step, so its first
            still segment is the table (used for the gyro bias and the static fit only), not the hang pose.

    Returns:
        The :class:`DeviceCalibration` (``mount_rotation`` measured, ``static`` with at least the gyro bias).

    Raises:
        ConfigError: the stream does not contain the protocol (the message says what to do), bad inputs.
    """
    prof = resolve_profile(profile)
    if not prof.wrist_worn:
        raise ConfigError(f"calibration: profile {prof.name!r} is not a wrist-worn device")
    mount = Mount(wrist=wrist, face=face)
    t, acc, gyro = check_stream(t_s, acc_ms2, gyro_rads)
    if gyro is not None and not prof.has_gyro:
        raise ConfigError(f"calibration: profile {prof.name!r} has no gyroscope, but gyro data were given")
    sign = DeviceProfile(name=f"{prof.name}:sign", acc_units="m/s^2", acc_sign=prof.acc_sign, gyro_units="rad/s",
                         has_gyro=prof.has_gyro)
    acc = from_device_units(acc, sign, "acc")  # Android sign: the static and mount models are in it

    notes: list[str] = []
    if phases is None:
        still = find_still_segments(t, acc, gyro, min_duration_s=MIN_STILL_S)
        if table_first and not still:
            raise ConfigError(f"calibration: no still period of >= {MIN_STILL_S:g} s found for the table step")
        hang, fwd = find_poses(still[1:] if table_first else still)
        mode = "automatic" + (" (table first)" if table_first else "")
    else:
        if not isinstance(phases, Mapping):
            raise ConfigError("calibration: phases must map step names to (t_start, t_end)")
        names = {s.name for s in PROTOCOL}
        unknown = sorted(set(phases) - names)
        if unknown:
            raise ConfigError(f"calibration: unknown phases {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        missing = [s.name for s in PROTOCOL if not s.optional and s.name not in phases]
        if missing:
            raise ConfigError(f"calibration: phases lack the step(s) {', '.join(missing)}")
        picked = {name: _segment_in(t, acc, gyro, name, span) for name, span in phases.items()}
        hang, fwd = picked["hang"], picked["forward"]
        # every still period of the stream helps the gyro bias and the static fit
        others = [s for s in find_still_segments(t, acc, gyro, min_duration_s=MIN_STILL_S)
                  if all(s.stop <= p.start or s.start >= p.stop for p in picked.values())]
        still = sorted([*picked.values(), *others], key=lambda s: s.start)
        mode = "guided"

    static = fit_static(still, allow_scale_only=False)
    if static.fitted == "none":
        notes.append(f"accelerometer bias/scale not calibrated ({static.note.split(': ', 1)[-1]})")
    if static.gyro_fitted:
        bias_dps = np.degrees(np.linalg.norm(static.gyro_bias_rads))
        notes.append(f"gyro bias {bias_dps:.2f} deg/s from {static.n_samples} still samples")
    f_hang, _ = static.apply(hang.acc_mean_ms2)
    f_fwd, _ = static.apply(fwd.acc_mean_ms2)
    est = estimate_mount_rotation(f_hang, f_fwd, wrist)
    _, offset_deg = est.offset_from(prof, mount)
    closest, unexplained_deg = est.closest_mount(prof)
    if offset_deg > 30.0:
        notes.append(
            f"measured mount differs from the nominal ({prof.name}, {face}) by {offset_deg:.0f} deg; closest: face "
            f"{closest.face}, {closest.rotation_deg:+.0f} deg about the forearm (+{unexplained_deg:.0f} deg left over)"
        )

    rate = None
    if device_time_s is not None or host_time_s is not None:
        rate = estimate_rate(device_time_s, host_time_s, nominal_hz=prof.rate_hz)
        if rate.drift_ppm is not None and abs(rate.drift_ppm) > MAX_PLAUSIBLE_DRIFT_PPM and device_time_s is not None:
            # host arrivals running at another speed than the device clock: a sped-up replay, not a clock
            notes.append(f"host arrival times run {1 + rate.drift_ppm * 1e-6:.3g}x the device clock "
                         f"(drift {rate.drift_ppm:+.0f} ppm is not a crystal's): a replay at another speed? "
                         "rate from the device timestamps only")
            rate = estimate_rate(device_time_s, None, nominal_hz=prof.rate_hz)
        notes.append(f"rate {rate.rate_hz:.3f} Hz (nominal {prof.rate_hz:g} Hz)"
                     + ("" if rate.drift_ppm is None else f", device clock drift {rate.drift_ppm:+.0f} ppm"))

    diagnostics: dict[str, Any] = {
        "mode": mode,
        "hang_s": [hang.t_start_s, hang.t_end_s],
        "forward_s": [fwd.t_start_s, fwd.t_end_s],
        "n_still_segments": len(still),
        "angle_between_deg": est.angle_between_deg,
        "residual_hang_deg": est.residual_hang_deg,
        "residual_forward_deg": est.residual_forward_deg,
        "offset_from_nominal_deg": offset_deg,
        "closest_mount": closest.to_dict(),
        "closest_mount_unexplained_deg": unexplained_deg,
        "static_fitted": static.fitted,
    }
    return DeviceCalibration(
        device_id=device_id, profile=prof, mount=mount, static=static,
        mount_rotation=tuple(tuple(row) for row in est.rotation), rate=rate, created_utc=utc_now(),
        notes=tuple(notes), diagnostics=diagnostics,
    )


__all__ = ["MIN_STILL_S", "POSE_CHANGE_DEG", "PROTOCOL", "ProtocolStep", "calibrate_stream", "find_poses"]
