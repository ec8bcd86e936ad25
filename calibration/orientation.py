"""Mount calibration: the device-to-wrist rotation from two guided still poses (gravity directions).

Protocol (one arm: the one wearing the device; hold each pose still for about 5 s)

``hang``
    Stand, let the arm hang relaxed at the side (palm toward the thigh).
``forward``
    Stretch the arm straight forward, horizontal, palm down.

Expected readings, in the **dorsal watch frame of the worn wrist** (:mod:`toolkit.frames`: +X 3 o'clock, +Y 12
o'clock, +Z out of the face; on the left wrist +X points to the hand, on the right wrist to the elbow), with the
accelerometer reading specific force, ``f = R_ws^T (-g) = G_MS2 * (up written in watch axes)``:

* ``hang``: the forearm points down. LEFT wrist: +X (toward the hand) points down, so up = -X and
  ``f = (-g, 0, 0)``; RIGHT wrist: +X (toward the elbow) points up, ``f = (+g, 0, 0)``. Derivation on the
  simulator's frames: in the T-pose both watches have ``R_ws = WATCH_ROT_TPOSE`` (X = +x, Y = -z, Z = +y);
  lowering the left arm turns it by -90 deg about the body's forward axis +z (the hand goes from +x to -y), so
  X goes to -y; the right arm turns by +90 deg (hand from -x to -y) and X (= +x, toward the elbow) goes to +y.
* ``forward``, palm down: the back of the hand and the dorsal face point up, up = +Z and ``f = (0, 0, +g)`` on
  both wrists (the T-pose's reading: turning the arm about the vertical from sideways to forward leaves Z up).

The two directions are 90 deg apart. :func:`estimate_mount_rotation` finds the rotation ``R`` (3x3, det +1) with
``v_dorsal_wrist = R @ v_device`` that best maps the measured unit directions onto the expected ones
(:meth:`scipy.spatial.transform.Rotation.align_vectors`, Wahba's problem), where ``v_device`` is in the device's
own axes after the profile's units and sign (SI, Android sign) and after any static correction.

Weights: ``forward`` 4, ``hang`` 1. The forward pose is the more reliable one: "horizontal" and "palm down" are
two things a person sees and controls, and they fix the tilt of the face (two of the three degrees of freedom).
A relaxed hanging arm often has the elbow bent by 5-15 deg and hangs a little away from the body, so its
direction is noisier; with two vectors, the rotation about the forward pose's vertical (the third degree of
freedom) comes from the hang pose whatever the weights, and the weights only decide where the disagreement
between the measured angle and 90 deg goes: mostly into the hang pose's residual. With an elbow bent by
``b`` deg, expect an error of about ``b`` deg in the rotation about the face normal.

Plausibility: the two measured directions must be between 45 and 135 deg apart (else :class:`ConfigError`: the
person did not follow the protocol, or did not move between the poses), and each magnitude within 25 % of
``G_MS2`` (else the data are not in m/s^2, or the arm was moving).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from toolkit.device_profiles import RealDeviceProfile
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2
from toolkit.mount import WRISTS, Mount

#: Pose names in protocol order.
POSES = ("hang", "forward")
#: Default weights of the two poses in the alignment.
HANG_WEIGHT = 1.0
FORWARD_WEIGHT = 4.0
#: Accepted range of the angle between the two measured gravity directions [deg].
MIN_ANGLE_DEG = 45.0
MAX_ANGLE_DEG = 135.0
#: Accepted relative deviation of each pose's |f| from G_MS2.
MAGNITUDE_TOLERANCE = 0.25


def expected_reading(pose: str, wrist: str) -> np.ndarray:
    """(3,) specific force [m/s^2] of a still ``pose`` in the dorsal watch frame of ``wrist`` (module docstring)."""
    if wrist not in WRISTS:
        raise ConfigError(f"mount calibration: unknown wrist {wrist!r} (known: {', '.join(WRISTS)})")
    if pose == "hang":
        return np.array([-G_MS2 if wrist == "left" else G_MS2, 0.0, 0.0])
    if pose == "forward":
        return np.array([0.0, 0.0, G_MS2])
    raise ConfigError(f"mount calibration: unknown pose {pose!r} (known: {', '.join(POSES)})")


def nominal_rotation(profile: RealDeviceProfile, mount: Mount) -> np.ndarray:
    """(3, 3) device axes -> dorsal watch frame of the worn wrist from the profile and mount alone:
    ``Mount.rotation() @ profile.axes_matrix``."""
    return mount.rotation() @ profile.axes_matrix


def angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between two (3,) vectors [deg]."""
    c = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


@dataclass(frozen=True, eq=False)
class MountEstimate:
    """Result of :func:`estimate_mount_rotation`.

    Attributes:
        rotation: (3, 3) ``R``, det +1: ``v_dorsal_wrist = R @ v_device``.
        wrist: the worn wrist ("left" / "right").
        angle_between_deg: angle between the two measured gravity directions [deg] (ideally 90).
        residual_hang_deg: angle between ``R f_hang`` and the expected hang reading [deg].
        residual_forward_deg: the same for the forward pose [deg].
        norm_hang_ms2: |f_hang| [m/s^2].
        norm_forward_ms2: |f_forward| [m/s^2].
        weights: (hang, forward) weights used.
    """

    rotation: np.ndarray
    wrist: str
    angle_between_deg: float
    residual_hang_deg: float
    residual_forward_deg: float
    norm_hang_ms2: float
    norm_forward_ms2: float
    weights: tuple[float, float]

    def offset_from(self, profile: RealDeviceProfile, mount: Mount) -> tuple[np.ndarray, float]:
        """How far the measured mount is from the nominal one (profile axes + ``mount``).

        Returns:
            ``(rotvec_deg (3,), angle_deg)``: the extra rotation ``E = R @ nominal^T`` (so ``R = E @ nominal``,
            expressed in the dorsal watch frame) as a rotation vector [deg], and its angle [deg].
        """
        extra = Rotation.from_matrix(self.rotation @ nominal_rotation(profile, mount).T)
        return np.degrees(extra.as_rotvec()), float(np.degrees(extra.magnitude()))

    def closest_mount(self, profile: RealDeviceProfile) -> tuple[Mount, float]:
        """The :class:`Mount` (face, rotation about the forearm) that best explains the measured rotation with
        ``profile``'s axes, and the angle left unexplained [deg] (large: the profile's axes are wrong)."""
        worn = self.rotation @ profile.axes_matrix.T  # watch frame of the worn device -> dorsal frame: ~ Rx(theta)
        theta = math.degrees(math.atan2(worn[2, 1] - worn[1, 2], worn[1, 1] + worn[2, 2]))
        if abs(theta) > 90.0:
            face, rot = "palmar", (theta % 360.0) - 180.0
        else:
            face, rot = "dorsal", theta
        mount = Mount(self.wrist, face, rot)
        rest = Rotation.from_matrix(mount.rotation().T @ worn)
        return mount, float(np.degrees(rest.magnitude()))


def estimate_mount_rotation(
    f_hang: np.ndarray,
    f_forward: np.ndarray,
    wrist: str,
    *,
    hang_weight: float = HANG_WEIGHT,
    forward_weight: float = FORWARD_WEIGHT,
) -> MountEstimate:
    """The device -> dorsal-wrist rotation from the mean specific force of the two protocol poses.

    Args:
        f_hang: (3,) mean specific force of the ``hang`` pose in the device's axes [m/s^2, Android sign].
        f_forward: (3,) the same for the ``forward`` pose.
        wrist: the wrist wearing the device, "left" or "right".
        hang_weight: weight of the hang direction in the alignment.
        forward_weight: weight of the forward direction.

    Returns:
        The :class:`MountEstimate`.

    Raises:
        ConfigError: bad shapes, a magnitude far from ``G_MS2``, or directions not 45..135 deg apart.
    """
    expected = np.stack([expected_reading("hang", wrist), expected_reading("forward", wrist)])
    measured = []
    for name, f in (("hang", f_hang), ("forward", f_forward)):
        v = np.asarray(f, dtype=np.float64)
        if v.shape != (3,) or not np.all(np.isfinite(v)):
            raise ConfigError(f"mount calibration: the {name} reading must be 3 finite numbers (got {f!r})")
        norm = float(np.linalg.norm(v))
        if abs(norm / G_MS2 - 1.0) > MAGNITUDE_TOLERANCE:
            raise ConfigError(
                f"mount calibration: the {name} pose reads |acc| = {norm:.3g}, expected ~{G_MS2} m/s^2 (data not in "
                "m/s^2, or the arm was moving)"
            )
        measured.append(v)
    for key, w in (("hang_weight", hang_weight), ("forward_weight", forward_weight)):
        if not (w > 0 and math.isfinite(w)):
            raise ConfigError(f"mount calibration: {key} must be a positive finite number (got {w!r})")
    between = angle_deg(measured[0], measured[1])
    if not MIN_ANGLE_DEG <= between <= MAX_ANGLE_DEG:
        raise ConfigError(
            f"mount calibration: the hang and forward poses are {between:.0f} deg apart (expected ~90, accepted "
            f"{MIN_ANGLE_DEG:.0f}..{MAX_ANGLE_DEG:.0f}): let the arm hang at the side, then stretch it forward, "
            "palm down"
        )
    b = np.stack([m / np.linalg.norm(m) for m in measured])
    a = expected / G_MS2
    rot, _ = Rotation.align_vectors(a, b, weights=[hang_weight, forward_weight])
    r = rot.as_matrix()
    return MountEstimate(
        rotation=r,
        wrist=wrist,
        angle_between_deg=between,
        residual_hang_deg=angle_deg(r @ b[0], a[0]),
        residual_forward_deg=angle_deg(r @ b[1], a[1]),
        norm_hang_ms2=float(np.linalg.norm(measured[0])),
        norm_forward_ms2=float(np.linalg.norm(measured[1])),
        weights=(float(hang_weight), float(forward_weight)),
    )


__all__ = ["FORWARD_WEIGHT", "HANG_WEIGHT", "MountEstimate", "POSES", "angle_deg", "estimate_mount_rotation",
           "expected_reading", "nominal_rotation"]
