"""How a watch is worn, and the mapping of its signals into the canonical watch frame.

Frames (see :mod:`toolkit.frames`): a watch worn the usual way sits on the **dorsal** wrist and its watch frame is
+X 3 o'clock, +Y 12 o'clock, +Z out of the face. On the left wrist +X points to the hand; on the right wrist +X
points to the elbow. The simulator's named placements ``left_wrist`` / ``right_wrist`` are exactly these.

A :class:`Mount` says how a real watch differs from that:

* ``face``: "dorsal" (usual) or "palmar" (face on the inner wrist). Turning the strap half way round the wrist
  rotates the watch by 180 deg about the forearm axis, which is the watch's X axis:
  ``R_worn = R_dorsal Rx(180)`` (in the T-pose the dorsal frame is ``frame_from_normal(+y, +x)``, the palmar one
  ``frame_from_normal(-y, +x)``, and the two differ by exactly Rx(180): X kept, Y and Z flipped).
* ``rotation_deg``: an extra rotation about the forearm axis (watch +X, right-handed), e.g. a loose strap that
  slid round the wrist: ``R_worn = R_dorsal Rx(face_angle + rotation_deg)``.

A sensor reading transforms as ``f_worn = R_worn^T (...) = Rx(theta)^T f_dorsal``, so the reading of the dorsal
watch is ``f_dorsal = Rx(theta) f_worn``, for acc and gyro alike (a proper rotation). :meth:`Mount.rotation` returns
that ``Rx(theta)``: worn device's watch frame -> the dorsal watch frame of the same wrist.

Mirroring (right wrist -> left wrist)
    The **canonical** wrist is the **left** one. Mirroring the body across its sagittal plane (world reflection
    ``W = diag(-1, 1, 1)``: the body's left is +x) turns a right-wrist watch into a left-wrist watch. In the
    T-pose both wrist frames equal ``WATCH_ROT_TPOSE`` and ``W WATCH_ROT_TPOSE M = WATCH_ROT_TPOSE`` with
    ``M = diag(-1, 1, 1)`` in watch coordinates; for any pose the mirrored left-wrist orientation is
    ``R_L' = W R_R M``. Hence, because ``W g = g``:

    * specific force (a polar vector):  ``f_L' = M f_R = (-f_x, f_y, f_z)``;
    * angular velocity (an axial vector): ``w_L' = det(M) M w_R = (w_x, -w_y, -w_z)``.

    ``tests/calibration/test_mount.py`` checks this on the simulator: the mirror image of a random motion,
    simulated on the right wrist, equals the mirror map of the original's left-wrist signals to 1e-6.
    The same map takes left to right (it is its own inverse).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.versioned import versioned_fields

__all__ = [
    "CANONICAL_WRIST",
    "FACES",
    "MIRROR",
    "Mount",
    "SCHEMA_VERSION",
    "WRISTS",
    "mirror_acc",
    "mirror_gyro",
    "rot_x",
    "wear_keywords",
]

WRISTS = ("left", "right")
FACES = ("dorsal", "palmar")
#: The wrist whose watch frame models are trained in when signals are mirrored.
CANONICAL_WRIST = "left"
#: Mirror map in watch coordinates (sagittal reflection): polar vectors ``M v``, axial vectors ``det(M) M w``.
MIRROR = np.diag([-1.0, 1.0, 1.0])
SCHEMA_VERSION = 1


def rot_x(angle_rad: float) -> np.ndarray:
    """(3, 3) right-handed rotation about +X by ``angle_rad``."""
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def mirror_acc(acc: np.ndarray) -> np.ndarray:
    """(..., 3) specific force of one wrist -> that of the mirrored wrist: ``(-x, y, z)``."""
    a = np.array(acc, dtype=np.float64, copy=True)
    a[..., 0] *= -1.0
    return a


def mirror_gyro(gyro: np.ndarray) -> np.ndarray:
    """(..., 3) angular velocity of one wrist -> that of the mirrored wrist: ``(x, -y, -z)`` (axial vector)."""
    w = np.array(gyro, dtype=np.float64, copy=True)
    w[..., 1:] *= -1.0
    return w


@dataclass(frozen=True)
class Mount:
    """How a watch is worn.

    Attributes:
        wrist: "left" or "right".
        face: "dorsal" (face on the back of the wrist, the usual way) or "palmar".
        rotation_deg: extra rotation of the watch about the forearm axis (watch +X, right-handed) [deg].
    """

    wrist: str = "left"
    face: str = "dorsal"
    rotation_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.wrist not in WRISTS:
            raise ConfigError(f"mount: unknown wrist {self.wrist!r} (known: {', '.join(WRISTS)})")
        if self.face not in FACES:
            raise ConfigError(f"mount: unknown face {self.face!r} (known: {', '.join(FACES)})")
        r = self.rotation_deg
        if isinstance(r, bool) or not isinstance(r, int | float | np.integer | np.floating) or not math.isfinite(r):
            raise ConfigError(f"mount: rotation_deg must be a finite number (got {r!r})")
        object.__setattr__(self, "rotation_deg", float(r))

    @property
    def angle_rad(self) -> float:
        """Total rotation of the worn watch about its X axis relative to the dorsal watch [rad]."""
        return math.radians(self.rotation_deg + (180.0 if self.face == "palmar" else 0.0))

    def rotation(self) -> np.ndarray:
        """(3, 3) ``Rx(theta)``: worn watch frame -> dorsal watch frame of the same wrist (``v_d = R v_worn``)."""
        return rot_x(self.angle_rad)

    def to_wrist_frame(self, acc: np.ndarray, gyro: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(T, 3) worn-watch signals -> the dorsal watch frame of the same wrist (what the simulator's
        ``left_wrist`` / ``right_wrist`` placement would read). Returns float64 arrays."""
        r = self.rotation()
        a = np.asarray(acc, dtype=np.float64) @ r.T
        w = None if gyro is None else np.asarray(gyro, dtype=np.float64) @ r.T
        return a, w

    def to_canonical(self, acc: np.ndarray, gyro: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(T, 3) worn-watch signals -> the canonical (left, dorsal) watch frame: :meth:`to_wrist_frame`, then for
        the right wrist the mirror map (acc ``(-x, y, z)``, gyro ``(x, -y, -z)``)."""
        a, w = self.to_wrist_frame(acc, gyro)
        if self.wrist != CANONICAL_WRIST:
            a = mirror_acc(a)
            w = None if w is None else mirror_gyro(w)
        return a, w

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "wrist": self.wrist, "face": self.face, "rotation_deg": self.rotation_deg}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mount:
        return cls(**versioned_fields(data, "mount", SCHEMA_VERSION, ("wrist", "face", "rotation_deg")))


def wear_keywords(parts: Iterable[str]) -> dict[str, Any]:
    """``["right", "palmar", "rot30"]`` -> :class:`Mount` keyword arguments (``wrist``, ``face``, ``rotation_deg``).

    Raises:
        ValueError: with the first part it cannot read as its argument (``rotXX`` with a bad number, or unknown).
    """
    out: dict[str, Any] = {}
    for part in parts:
        if part in WRISTS:
            out["wrist"] = part
        elif part in FACES:
            out["face"] = part
        elif part.startswith("rot"):
            try:
                out["rotation_deg"] = float(part[3:])
            except ValueError:
                raise ValueError(part) from None
        else:
            raise ValueError(part)
    return out
