"""Body models: rest skeleton + body surface, behind one interface.

:class:`BuiltinBody` (the default) needs no licensed file: an SMPL-compatible 24-joint skeleton
whose proportions come from published anthropometry, scaled by :class:`HumanAttributes`, with
each segment's surface approximated by a tapered elliptic cylinder. ``toolkit.sim.smpl_body``
provides the same interface over real SMPL / SMPL-H / SMPL-X files through ``smplx``.

Anthropometry (fractions of standing height H). Vertical landmarks and segment lengths follow
Drillis & Contini as reproduced in Winter, *Biomechanics and Motor Control of Human Movement*
(4th ed., 2009, Fig. 4.1): shoulder 0.818 H, hip (greater trochanter) 0.530 H, knee 0.285 H,
ankle 0.039 H, upper arm 0.186 H, forearm 0.146 H, hand 0.108 H, foot length 0.152 H. The
spine, neck and head joints, joint-centre widths (hips +-0.052 H, shoulders +-0.106 H) and the
surface radii are our estimates of SMPL's mean shape and of typical adult girths; they are
documented in ``_REF_JOINTS_H`` and ``_SEGMENT_RADII_M`` below.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import UP_AXIS
from toolkit.sim.motion import DEFAULT_HEIGHT_M
from toolkit.sim.placements import Placement, frame_from_normal, rot_about_z, site_spec
from toolkit.sim.skeleton import NUM_JOINTS, PARENTS, SEGMENT_CHILD, SEGMENT_INDEX, SEGMENT_NAMES

#: Length groups a :class:`HumanAttributes` can scale.
SEGMENT_GROUPS: tuple[str, ...] = ("torso", "neck_head", "upper_arm", "forearm", "hand", "thigh", "shank", "foot")


@dataclass(frozen=True)
class HumanAttributes:
    """Human attributes of a body.

    Attributes:
        height_m: standing height [m]; the skeleton is rescaled so that it is met exactly after
            the proportions below are applied.
        segment_scales: length factor per group of :data:`SEGMENT_GROUPS` (missing = 1.0).
        shoulder_width: factor on the lateral distance of the shoulder joints.
        hip_width: factor on the lateral distance of the hip joints.
        girth: factor on segment radii (the body surface), head excluded.
    """

    height_m: float = DEFAULT_HEIGHT_M
    segment_scales: dict[str, float] = field(default_factory=dict)
    shoulder_width: float = 1.0
    hip_width: float = 1.0
    girth: float = 1.0

    def __post_init__(self) -> None:
        if not (0.5 <= self.height_m <= 2.6):
            raise ConfigError(f"height_m must be within 0.5-2.6 m, got {self.height_m}")
        for name, v in self.segment_scales.items():
            if name not in SEGMENT_GROUPS:
                raise ConfigError(f"unknown segment group {name!r}; known: {', '.join(SEGMENT_GROUPS)}")
            if not (0.5 <= v <= 1.5):
                raise ConfigError(f"segment scale {name}={v} outside 0.5-1.5")
        for name in ("shoulder_width", "hip_width", "girth"):
            v = getattr(self, name)
            if not (0.5 <= v <= 2.0):
                raise ConfigError(f"{name}={v} outside 0.5-2.0")

    def scale(self, group: str) -> float:
        return float(self.segment_scales.get(group, 1.0))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["segment_scales"] = {g: self.scale(g) for g in SEGMENT_GROUPS}
        return d


class BodyModel(ABC):
    """What the simulator needs from a body: a rest skeleton and sensor sites on its surface."""

    kind: str = "abstract"

    @property
    @abstractmethod
    def rest_joints(self) -> np.ndarray:
        """(24, 3) joint positions in the rest pose (T-pose, facing +z, soles at y = 0) [m]."""

    @property
    @abstractmethod
    def height_m(self) -> float:
        """Standing height [m]."""

    @property
    def pelvis_height_m(self) -> float:
        """Height of the pelvis joint above the floor in the rest pose [m]."""
        return float(self.rest_joints[0, UP_AXIS])

    @abstractmethod
    def named_placement(self, name: str) -> Placement:
        """Resolve a named site of :data:`toolkit.sim.placements.NAMED_SITES` on this body."""

    @abstractmethod
    def sample_placements(
        self,
        n: int,
        rng: np.random.Generator,
        segments: list[str] | None = None,
        jitter_deg: float = 30.0,
    ) -> list[Placement]:
        """Draw ``n`` plausible body-surface placements (AnyMo style).

        Each sits on a segment's surface with +Z along the outward normal, +X along the segment
        axis, then turned about +Z by a uniform angle in ``[-jitter_deg, +jitter_deg]``.
        """

    @abstractmethod
    def describe(self) -> dict:
        """JSON-serialisable description (kind and parameters) for dataset manifests."""


# Rest-pose joint positions of the reference body in units of H (x left, y up, z forward).
_REF_JOINTS_H = np.array(
    [
        [0.000, 0.575, 0.000],  # pelvis
        [0.052, 0.530, 0.000],  # left_hip
        [-0.052, 0.530, 0.000],  # right_hip
        [0.000, 0.640, -0.005],  # spine1
        [0.052, 0.285, 0.005],  # left_knee
        [-0.052, 0.285, 0.005],  # right_knee
        [0.000, 0.715, 0.000],  # spine2
        [0.052, 0.039, -0.010],  # left_ankle
        [-0.052, 0.039, -0.010],  # right_ankle
        [0.000, 0.750, 0.005],  # spine3
        [0.056, 0.012, 0.065],  # left_foot (ball of the foot)
        [-0.056, 0.012, 0.065],  # right_foot
        [0.000, 0.855, -0.010],  # neck
        [0.045, 0.815, 0.000],  # left_collar
        [-0.045, 0.815, 0.000],  # right_collar
        [0.000, 0.905, 0.010],  # head
        [0.106, 0.818, -0.005],  # left_shoulder
        [-0.106, 0.818, -0.005],  # right_shoulder
        [0.292, 0.818, -0.005],  # left_elbow   (upper arm 0.186 H)
        [-0.292, 0.818, -0.005],  # right_elbow
        [0.438, 0.818, -0.005],  # left_wrist   (forearm 0.146 H)
        [-0.438, 0.818, -0.005],  # right_wrist
        [0.488, 0.818, -0.005],  # left_hand    (SMPL's hand joint, mid-palm)
        [-0.488, 0.818, -0.005],  # right_hand
    ]
)
# Far ends of the end segments, relative to their joint, in units of H.
_END_OFFSETS_H = {
    10: np.array([0.0, 0.0, 0.045]),  # toe tips
    11: np.array([0.0, 0.0, 0.045]),
    15: np.array([0.0, 0.095, 0.0]),  # top of the head (1.0 H)
    22: np.array([0.058, 0.0, 0.0]),  # finger tips (hand length 0.108 H)
    23: np.array([-0.058, 0.0, 0.0]),
}
# Sole points below the ankle and the ball of the foot, in units of H (they define the floor).
_SOLE_DROP_H = {7: 0.039, 8: 0.039, 10: 0.012, 11: 0.012}
# Which length group scales the offset from each joint's parent to the joint.
_OFFSET_GROUP = {
    1: "torso", 2: "torso", 3: "torso", 6: "torso", 9: "torso", 12: "torso", 13: "torso", 14: "torso",
    4: "thigh", 5: "thigh", 7: "shank", 8: "shank", 10: "foot", 11: "foot", 15: "neck_head",
    16: "torso", 17: "torso", 18: "upper_arm", 19: "upper_arm", 20: "forearm", 21: "forearm",
    22: "hand", 23: "hand",
}  # fmt: skip
_END_GROUP = {10: "foot", 11: "foot", 15: "neck_head", 22: "hand", 23: "hand"}

# Surface radii of each segment for a 1.70 m reference body [m]: (a_start, b_start, a_end, b_end),
# a along the segment's reference direction, b across it; plus that reference direction (rest).
_Y, _Z = (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
_SEGMENT_RADII_M: dict[int, tuple[tuple[float, float, float, float], tuple[float, float, float]]] = {
    0: ((0.110, 0.160, 0.100, 0.145), _Z),  # pelvis: a = front-back, b = lateral
    1: ((0.085, 0.085, 0.055, 0.055), _Z),  # thighs
    2: ((0.085, 0.085, 0.055, 0.055), _Z),
    3: ((0.100, 0.145, 0.105, 0.150), _Z),  # lower back / abdomen
    4: ((0.055, 0.055, 0.035, 0.035), _Z),  # shanks
    5: ((0.055, 0.055, 0.035, 0.035), _Z),
    6: ((0.105, 0.150, 0.110, 0.165), _Z),  # upper back
    7: ((0.035, 0.035, 0.025, 0.045), _Y),  # feet: a = height, b = width
    8: ((0.035, 0.035, 0.025, 0.045), _Y),
    9: ((0.110, 0.165, 0.080, 0.110), _Z),  # chest
    10: ((0.020, 0.045, 0.012, 0.040), _Y),  # toes
    11: ((0.020, 0.045, 0.012, 0.040), _Y),
    12: ((0.055, 0.055, 0.055, 0.055), _Z),  # neck
    13: ((0.060, 0.060, 0.060, 0.060), _Y),  # shoulder girdle
    14: ((0.060, 0.060, 0.060, 0.060), _Y),
    15: ((0.095, 0.080, 0.095, 0.080), _Z),  # head
    16: ((0.050, 0.050, 0.040, 0.040), _Y),  # upper arms
    17: ((0.050, 0.050, 0.040, 0.040), _Y),
    18: ((0.040, 0.045, 0.022, 0.030), _Y),  # forearms: a = dorsal-palmar, b = width
    19: ((0.040, 0.045, 0.022, 0.030), _Y),
    20: ((0.015, 0.042, 0.015, 0.042), _Y),  # hands
    21: ((0.015, 0.042, 0.015, 0.042), _Y),
    22: ((0.010, 0.040, 0.008, 0.035), _Y),  # fingers
    23: ((0.010, 0.040, 0.008, 0.035), _Y),
}
_REF_HEIGHT_M = 1.70
#: Segments that receive no sampled placement by default (no device is worn there).
UNSAMPLED_SEGMENTS = ("left_fingers", "right_fingers", "left_toes", "right_toes")


class BuiltinBody(BodyModel):
    """The default body: anthropometric skeleton and elliptic-cylinder segment surfaces."""

    kind = "builtin"

    def __init__(self, attributes: HumanAttributes | None = None):
        self.attributes = attributes or HumanAttributes()
        self._joints, self._ends, scale = self._build(self.attributes)
        g = self.attributes.girth
        self._radii = {}
        for j, ((a0, b0, a1, b1), ref) in _SEGMENT_RADII_M.items():
            k = scale / _REF_HEIGHT_M * (1.0 if j == 15 else g)
            self._radii[j] = (np.array([a0, b0, a1, b1]) * k, np.array(ref, dtype=float))

    @staticmethod
    def _build(attr: HumanAttributes) -> tuple[np.ndarray, dict[int, np.ndarray], float]:
        offsets = np.zeros((NUM_JOINTS, 3))
        for j in range(1, NUM_JOINTS):
            o = _REF_JOINTS_H[j] - _REF_JOINTS_H[PARENTS[j]]
            o = o * attr.scale(_OFFSET_GROUP[j])
            if j in (1, 2):
                o[0] *= attr.hip_width
            if j in (13, 14, 16, 17):
                o[0] *= attr.shoulder_width
            offsets[j] = o
        joints = np.zeros((NUM_JOINTS, 3))
        joints[0] = _REF_JOINTS_H[0]
        for j in range(1, NUM_JOINTS):
            joints[j] = joints[PARENTS[j]] + offsets[j]
        ends = {j: off * attr.scale(_END_GROUP[j]) for j, off in _END_OFFSETS_H.items()}
        sole_scale = attr.scale("foot")
        floor = min(joints[j, 1] - d * sole_scale for j, d in _SOLE_DROP_H.items())
        top = joints[15, 1] + ends[15][1]
        scale = attr.height_m / (top - floor)  # metres per unit, so the standing height is exact
        joints = (joints - np.array([0.0, floor, 0.0])) * scale
        joints[:, [0, 2]] -= joints[0, [0, 2]]
        return joints, {j: e * scale for j, e in ends.items()}, scale

    @property
    def rest_joints(self) -> np.ndarray:
        return self._joints

    @property
    def height_m(self) -> float:
        return float(self.attributes.height_m)

    def segment_ends(self, joint: int) -> tuple[np.ndarray, np.ndarray]:
        """Rest-pose start and end points (3,) of the segment driven by ``joint`` [m]."""
        start = self._joints[joint]
        child = SEGMENT_CHILD[joint]
        end = self._joints[child] if child >= 0 else start + self._ends[joint]
        return start, end

    def _cross_section(self, joint: int, u: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
        start, end = self.segment_ends(joint)
        axis = end - start
        d = axis / np.linalg.norm(axis)
        radii, ref = self._radii[joint]
        e0 = ref - np.dot(ref, d) * d
        e0 /= np.linalg.norm(e0)
        e1 = np.cross(d, e0)
        a = radii[0] + u * (radii[2] - radii[0])
        b = radii[1] + u * (radii[3] - radii[1])
        return start + u * axis, d, np.stack([e0, e1]), a, b

    def surface_point(self, joint: int, u: float, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rest-pose surface point of a segment.

        Args:
            joint: segment (by driving joint).
            u: 0..1 along the segment.
            theta: angle around the axis [rad], 0 along the segment's reference direction.

        Returns:
            position (3,) [m], outward unit normal (3,), unit axis direction (3,).
        """
        centre, d, (e0, e1), a, b = self._cross_section(joint, u)
        pos = centre + a * math.cos(theta) * e0 + b * math.sin(theta) * e1
        n = (math.cos(theta) / a) * e0 + (math.sin(theta) / b) * e1
        return pos, n / np.linalg.norm(n), d

    def named_placement(self, name: str) -> Placement:
        spec = site_spec(name)
        _, _, (e0, e1), a, b = self._cross_section(spec.joint, spec.u)
        n = np.asarray(spec.normal, dtype=float)
        theta = math.atan2(np.dot(n, e1) * b, np.dot(n, e0) * a)
        pos, normal, _ = self.surface_point(spec.joint, spec.u, theta)
        rot = frame_from_normal(normal, np.asarray(spec.x_hint, dtype=float))
        return Placement(name=name, joint=spec.joint, offset=pos - self._joints[spec.joint], rot_js=rot)

    def segment_area_m2(self, joint: int) -> float:
        """Approximate lateral surface area of a segment [m^2]."""
        start, end = self.segment_ends(joint)
        radii, _ = self._radii[joint]
        a, b = (radii[0] + radii[2]) / 2, (radii[1] + radii[3]) / 2
        perimeter = math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))  # Ramanujan
        return perimeter * float(np.linalg.norm(end - start))

    def sample_placements(
        self,
        n: int,
        rng: np.random.Generator,
        segments: list[str] | None = None,
        jitter_deg: float = 30.0,
    ) -> list[Placement]:
        if segments is None:
            segments = [s for s in SEGMENT_NAMES if s not in UNSAMPLED_SEGMENTS]
        unknown = [s for s in segments if s not in SEGMENT_INDEX]
        if unknown:
            raise ConfigError(f"unknown segment(s) {unknown}; known: {', '.join(SEGMENT_NAMES)}")
        joints = [SEGMENT_INDEX[s] for s in segments]
        area = np.array([self.segment_area_m2(j) for j in joints])
        picks = rng.choice(len(joints), size=n, p=area / area.sum())
        out = []
        for k, pick in enumerate(picks):
            j = joints[pick]
            u = rng.uniform(0.1, 0.9)
            theta = rng.uniform(-math.pi, math.pi)
            pos, normal, d = self.surface_point(j, u, theta)
            rot = frame_from_normal(normal, d) @ rot_about_z(math.radians(rng.uniform(-jitter_deg, jitter_deg)))
            out.append(Placement(f"{SEGMENT_NAMES[j]}#{k}", j, pos - self._joints[j], rot))
        return out

    def describe(self) -> dict:
        return {"kind": self.kind, "attributes": self.attributes.to_dict()}
