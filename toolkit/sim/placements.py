"""Sensor placements: where a sensor sits on the body and how its frame is oriented.

A :class:`Placement` is rigidly attached to one joint's frame (the segment that joint drives).
Named sites are defined here once, in rest-pose (T-pose) world directions, and every body model
resolves them onto its own surface. AnyMo-style random placements are drawn by the body models
(:meth:`toolkit.sim.body.BodyModel.sample_placements`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.errors import ConfigError
from toolkit.sim.skeleton import JOINT_INDEX


@dataclass(frozen=True)
class Placement:
    """A sensor rigidly attached to a body segment.

    Attributes:
        name: placement name (a named site, or ``"<segment>#<k>"`` for sampled ones).
        joint: index of the joint whose segment carries the sensor.
        offset: (3,) sensor position relative to that joint, in the joint frame [m].
        rot_js: (3, 3) sensor-to-joint rotation; in the rest pose it is the sensor-to-world
            rotation, because every joint frame is aligned with the world there.
    """

    name: str
    joint: int
    offset: np.ndarray
    rot_js: np.ndarray

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joint": int(self.joint),
            "offset_m": [float(v) for v in self.offset],
            "rot_js": [[float(v) for v in row] for row in self.rot_js],
        }


@dataclass(frozen=True)
class SiteSpec:
    """A named site in rest-pose terms.

    Attributes:
        joint: the joint whose segment carries the sensor.
        u: position along the segment, 0 at the joint, 1 at the segment's far end.
        normal: outward surface direction in the rest-pose world (sensor +Z).
        x_hint: rest-pose world direction of the sensor's +X (made orthogonal to ``normal``).
        description: what a person would call it.
    """

    joint: int
    u: float
    normal: tuple[float, float, float]
    x_hint: tuple[float, float, float]
    description: str


_L, _R = 1.0, -1.0
#: Named sites. The two wrists are watches on the dorsal wrist in the watch frame of
#: :mod:`toolkit.frames` (+X 3 o'clock, +Y 12 o'clock, +Z out of the face). Phones and other
#: devices use the Android device frame too: +Z out of the screen, +Y toward the top edge.
NAMED_SITES: dict[str, SiteSpec] = {
    "left_wrist": SiteSpec(
        JOINT_INDEX["left_elbow"], 0.88, (0, 1, 0), (_L, 0, 0), "watch on the dorsal left wrist, crown toward the hand"
    ),
    "right_wrist": SiteSpec(
        JOINT_INDEX["right_elbow"],
        0.88,
        (0, 1, 0),
        (_L, 0, 0),
        "watch on the dorsal right wrist, crown toward the elbow",
    ),
    "left_upper_arm": SiteSpec(
        JOINT_INDEX["left_shoulder"], 0.5, (0, 1, 0), (_L, 0, 0), "armband on the lateral left upper arm"
    ),
    "right_upper_arm": SiteSpec(
        JOINT_INDEX["right_shoulder"], 0.5, (0, 1, 0), (_R, 0, 0), "armband on the lateral right upper arm"
    ),
    "left_thigh": SiteSpec(
        JOINT_INDEX["left_hip"], 0.3, (0.35, 0, 1), (1, 0, 0), "phone in the left front trouser pocket, top up"
    ),
    "right_thigh": SiteSpec(
        JOINT_INDEX["right_hip"], 0.3, (-0.35, 0, 1), (1, 0, 0), "phone in the right front trouser pocket, top up"
    ),
    "chest": SiteSpec(JOINT_INDEX["spine3"], 0.35, (0, 0, 1), (1, 0, 0), "chest strap on the sternum, top up"),
    "head": SiteSpec(JOINT_INDEX["head"], 0.5, (0, 0, 1), (1, 0, 0), "sensor on the forehead, top up"),
    "waist": SiteSpec(JOINT_INDEX["pelvis"], 0.3, (0, 0, 1), (1, 0, 0), "belt clip at the front of the waist"),
}
DEFAULT_PLACEMENTS: tuple[str, ...] = ("left_wrist", "right_wrist")


def site_spec(name: str) -> SiteSpec:
    """The :class:`SiteSpec` of a named site, or a :class:`ConfigError` listing the known ones."""
    try:
        return NAMED_SITES[name]
    except KeyError:
        known = ", ".join(NAMED_SITES)
        raise ConfigError(f"unknown placement {name!r}; known placements: {known}") from None


def frame_from_normal(normal: np.ndarray, x_hint: np.ndarray) -> np.ndarray:
    """Right-handed frame with +Z along ``normal`` and +X as close to ``x_hint`` as possible.

    Returns the (3, 3) matrix whose columns are X, Y, Z.
    """
    z = np.asarray(normal, dtype=float)
    z = z / np.linalg.norm(z)
    x = np.asarray(x_hint, dtype=float) - np.dot(x_hint, z) * z
    nx = np.linalg.norm(x)
    if nx < 1e-9:
        raise ConfigError("x_hint is parallel to the surface normal")
    x = x / nx
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def rot_about_z(angle_rad: float) -> np.ndarray:
    """Rotation matrix about the local +Z axis."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
