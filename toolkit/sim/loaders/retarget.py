"""Retargeting any humanoid motion-capture skeleton onto the 24-joint tree (BVH and ASF/AMC loaders).

Input is a :class:`SourceMotion`: the source skeleton's per-frame GLOBAL joint rotations ``G_s``
(joint frame -> source world) in a convention where the source's rest pose (all channels zero)
has every ``G_s = I``, plus the rest-pose positions of its joints and bone end points. This is what
both BVH (rest pose = the OFFSETs) and ASF/AMC (rest pose = the bone directions) give.

Method
------
0. A glitchy start is cut off (:func:`drop_leading_glitch`): frames up to the last impossible step
   (> 45 deg between two source frames) of a mapped joint within the first second.
1. World alignment ``C`` (3x3). Up = the source world axis (+-x, +-y, +-z) closest to the rest-pose
   ankles-to-head direction; then a yaw about up turning the rest-pose right-hip -> left-hip vector
   onto +x (the SMPL left); that vector is first snapped onto the nearest horizontal axis when within
   10 deg of it, so that sources drawn along their axes keep their exact heading. The body then
   faces +z, which is checked: a source whose rest-pose toes point backwards after ``C`` is mirrored
   (left-handed) and rejected. Source points map as ``p -> C p`` and rotations as ``G -> C G C^T``.
   For every CMU file (y up, left = +x, toes to +z) ``C`` is the identity. A rest pose that does not
   stand (head not above the pelvis opposite the legs: Bandai draws every bone along its parent's
   local X) is not used for this: up is then the axis nearest the mean over frames of the
   ankles-to-head direction, left comes from the hips of the first frame (``meta["alignment_from"]``).
   ``--up-axis`` forces the source up axis. The mirror check needs a standing rest pose and an
   automatic up axis; it is skipped otherwise.
2. Rest alignment ``A_j`` (the source rest pose is used as it is, never assumed a T-pose) for each
   mapped SMPL joint ``j`` (a zero-length source bone, e.g. Bandai's End Sites at the joint,
   continues the nearest non-zero bone above it): ``d_smpl`` = unit rest direction of the
   segment ``j -> SEGMENT_CHILD[j]`` on :class:`toolkit.sim.body.BuiltinBody` (the segment's far end
   for end segments: toe tips, top of the head, finger tips); ``d_src = C (P[to] - P[from])``
   normalised, the rest direction of the corresponding source bone. ``A_j`` is the minimal rotation
   (about ``d_smpl x d_src``) with ``A_j d_smpl = d_src``. A T-pose source has ``A ~ I``, so its twist
   passes through unchanged; an arms-down source (CMU 131_xx) gets ``A = Rz(-90 deg)`` for the left
   arm (``+x -> -y``), which turns the SMPL palm-down hand into the natural palm-toward-thigh one.
3. Target global rotation ``G_t(j) = C G_s(s) T_j C^T A_j``. At the source rest pose this gives
   ``G_t(j) d_smpl = A_j d_smpl = d_src``: the SMPL segment lies along the source bone; in motion
   ``G_t(j) d_smpl = C G_s(s) d_src_raw``, the source bone's current direction in our world.
   ``T_j`` is the identity except for the forearms. The watch sits on the forearm, and pronation /
   supination (turning the wrist to read it) must turn the forearm, but the sources put it on the
   next joint down: ASF ``lwrist`` (dof ``ry`` about the bone axis) and cgspeed ``LeftHand`` are
   pure twist, the 131-style ``LeftWrist`` mixes twist with wrist flexion. So ``T_j`` is the twist
   part (swing-twist decomposition) of ``G_s(elbow)^T G_s(hand)`` about the forearm's rest axis,
   where "hand" is the source joint mapped to the SMPL wrist: all axial twist between forearm and
   hand goes to the forearm, the SMPL wrist keeps the swing (flexion, deviation), and the forearm's
   direction still follows the source forearm exactly.
4. Unmapped SMPL joints copy their parent's global rotation (local = identity). Local rotations are
   ``G_t(parent)^T G_t(j)``; joint 0 holds ``G_t(pelvis)``.
5. Root position = ``C`` times the world position of the source joint mapped to the SMPL pelvis,
   with every translation channel above it (BVH; Bandai moves the Hips under a fixed
   ``joint_Root``), in source units. Scale =
   :func:`toolkit.sim.canonical.leg_scale` of the source's pelvis-to-ankle height *with the legs
   straightened*: the rest-pose vertical drop from the root to the hip joints plus the thigh and
   shank lengths (mean of both sides); the drop is measured along up (a standing rest pose) or
   against the pelvis-to-neck direction (one that does not stand). Units drop out here: the
   source's unit is detected (``meta["source_units"]``: the unit of :data:`UNITS_M` putting the
   actor nearest 1.7 m tall) or forced by ``--units`` (an actor outside 0.5-2.6 m is refused).
   CMU rest poses splay the legs ~20 deg outwards, so their plain
   vertical rest distance would under-state the leg by ~6 % and over-state strides. Finally
   :func:`toolkit.sim.canonical.canonicalize`.

Joint correspondence of the fixed CMU tables below; every other skeleton (Mixamo ``mixamorig:``,
Bandai ``UpperArm_L``, LAFAN1 / MotionBuilder ``LeftForeArm``, SMPL ``left_elbow``, Rokoko, 3ds Max
Biped) is matched by name words and hierarchy, and ``--joint-map`` maps anything else
(:mod:`toolkit.sim.loaders.schemes`): SMPL ``X`` takes the rotation of its source joint, its rest
direction runs to the source joint of the next mapped SMPL joint down the chain (or the End Site),
and the elbow takes the axial twist of the source wrist joint, as below.

Joint correspondence (SMPL joint: source rotation joint, rest direction from -> to, twist joint);
``X/End`` is the end of bone ``X`` (a BVH End Site or an ASF bone's far end). Right sides mirror the
left ones (``Left``/``L``/``l`` -> ``Right``/``R``/``r``).

============= ======================== ======================== =============================
SMPL          cgspeed BVH (01_01)      131-style BVH (131_xx)   CMU ASF/AMC
============= ======================== ======================== =============================
pelvis        Hips: Hips->Spine        Hips: Hips->Chest        root: root->lowerback/End
spine1        LowerBack->Spine         lowerback->Chest         lowerback
spine2        Spine->Spine1            Chest->Chest2            upperback
spine3        Spine1: Spine->Spine1    Chest2: Chest->Chest2    thorax
neck          Neck1->Head              Neck->Head               upperneck
head          Head->Head/End           Head->Head/End           head
left_hip      LeftUpLeg->LeftLeg       LeftHip->LeftKnee        lfemur
left_knee     LeftLeg->LeftFoot        LeftKnee->LeftAnkle      ltibia
left_ankle    LeftFoot->LeftToeBase    LeftAnkle->LeftToe       lfoot
left_foot     LeftToeBase->.../End     LeftToe->LeftToe/End     ltoes
left_collar   LeftShoulder->LeftArm    LeftCollar->LeftShoulder lclavicle
left_shoulder LeftArm->LeftForeArm     LeftShoulder->LeftElbow  lhumerus
left_elbow    LeftForeArm->LeftHand    LeftElbow->LeftWrist     lradius
              + twist to LeftFingerBase + twist to lhand        + twist to lhand (= lwrist ry)
left_wrist    LeftFingerBase->LFingers lhand->LFingers          lhand
left_hand     LFingers->LFingers/End   LFingers->LFingers/End   lfingers (optional everywhere)
============= ======================== ======================== =============================

ASF rows use the bone's own start -> end. ``X: a->b`` takes ``X``'s rotation with the rest direction
``a -> b``: the BVH thorax joints (Spine1, Chest2) have zero-length bones (their child Neck /
lowerneck sits on them), so the upper back's direction stands in, as in the ASF where thorax and
upper back are parallel at rest. Not mapped: the hip-joint bones (LHipJoint, lhipjoint), the lower
neck, the BVH LeftWrist/LeftHand and ASF lwrist (they reach the SMPL joints through ``G_s`` and the
twist), the thumbs. Checked on CMU 01_01, available both as cgspeed BVH and as ASF/AMC: the two
retargeted motions agree to < 1 cm in every joint position and 0.0 deg in every joint rotation but
spine3's (a constant 2.6 deg: the ASF thorax is not quite parallel to the upper back). A skeleton that
matches no table and whose required SMPL joints the generic matching cannot find raises
:class:`InputFileError` naming them, the source joints left over and the ``--joint-map`` to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from toolkit.errors import ConfigError, InputFileError
from toolkit.sim.body import BuiltinBody
from toolkit.sim.canonical import canonicalize, leg_scale, reference_body
from toolkit.sim.loaders.schemes import (
    OPTIONAL_JOINTS,
    SCHEMES,
    JointMap,
    Skeleton,
    _names,
    match_skeleton,
    read_joint_map,
)
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import quat_conj, quat_log, quat_mul
from toolkit.sim.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS

if TYPE_CHECKING:
    from scipy.spatial.transform import Rotation

__all__ = ["JointMap", "OPTIONAL_JOINTS", "RetargetOptions", "SCHEMES", "SourceMotion", "detect_scheme", "retarget"]

#: Length units a source may use: name -> metres per unit.
UNITS_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
#: (``cmu``: the CMU ASF length unit, 1/0.45 inch, also used by the CMU BVH conversions.)
#: Up-axis names accepted by ``--up-axis`` (besides ``auto``).
UP_AXES = ("x", "y", "z", "+x", "+y", "+z", "-x", "-y", "-z")
#: Plausible standing height of a source actor [m]; a forced unit giving another is refused.
PLAUSIBLE_HEIGHT_M = (0.5, 2.6)


@dataclass(frozen=True)
class RetargetOptions:
    """How to read a source skeleton (``edge-simulate --units/--up-axis/--joint-map``).

    Attributes:
        units: ``"auto"`` (from the body height) or one of :data:`UNITS_M`.
        up_axis: ``"auto"`` (from the skeleton) or the source's up axis, e.g. ``"z"``, ``"-y"``.
        joint_map: a YAML file ``source joint: SMPL joint`` overriding the name matching, or None.
    """

    units: str = "auto"
    up_axis: str = "auto"
    joint_map: str | None = None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for an unknown unit or axis, or an unreadable joint map."""
        if self.units != "auto" and self.units not in UNITS_M:
            raise ConfigError(f"unknown units {self.units!r}; use auto, {', '.join(UNITS_M)}")
        if self.up_axis != "auto" and self.up_axis.lower() not in UP_AXES:
            raise ConfigError(f"unknown up axis {self.up_axis!r}; use auto or one of {', '.join(UP_AXES)}")
        if self.joint_map is not None:
            read_joint_map(str(self.joint_map))


@dataclass
class SourceMotion:
    """A source skeleton's motion in its own world and units.

    Attributes:
        names: the J joints (bones) carrying rotations.
        global_quat: (T, J, 4) global rotations (joint frame -> source world), (x, y, z, w); the
            source rest pose has every global rotation equal to the identity.
        root_pos: (T, 3) world position of the source root joint [source units].
        rest_points: rest-pose positions (3,) of the joints and of bone ends (``"X/End"``)
            [source units], source world.
        rate_hz: source frame rate [Hz].
        root: name of the root joint.
        parents: parent index of each joint (-1 = root); None when unknown (then only the fixed
            CMU tables can match).
        joint_pos: (T, J, 3) world position of every joint per frame [source units] (BVH: with
            every joint's translation channels); None = only ``root_pos`` is known.
        meta: loader facts carried into the motion's metadata.
    """

    names: tuple[str, ...]
    global_quat: np.ndarray
    root_pos: np.ndarray
    rest_points: dict[str, np.ndarray]
    rate_hz: float
    root: str
    parents: tuple[int, ...] | None = None
    joint_pos: np.ndarray | None = None
    meta: dict = field(default_factory=dict)


def _closest_fixed_scheme(src: SourceMotion, path: str | Path) -> tuple[str, dict[str, JointMap]]:
    have = set(src.names) | set(src.rest_points)
    best: tuple[int, str, list[str]] | None = None
    for scheme, table in SCHEMES.items():
        required = {n for j, m in table.items() if j not in OPTIONAL_JOINTS for n in _names(m) if n != m.twist}
        missing = sorted(required - have)
        if not missing:
            usable = {}
            for j, m in table.items():
                if not set(_names(m)) - have:
                    usable[j] = m
                elif j not in OPTIONAL_JOINTS and m.twist is not None:
                    usable[j] = m._replace(twist=None)
            return scheme, usable
        if best is None or len(missing) < best[0]:
            best = (len(missing), scheme, missing)
    assert best is not None
    shown = ", ".join(best[2][:12]) + (", ..." if len(best[2]) > 12 else "")
    raise InputFileError(
        path, f"unknown skeleton: no known joint naming scheme fits (closest {best[1]!r} lacks joints: {shown})"
    )


@lru_cache(maxsize=64)
def _cached_match(sk: Skeleton, joint_map: tuple[tuple[str, str], ...]) -> tuple[str, dict[str, JointMap]]:
    return match_skeleton(sk, "", joint_map)


def detect_scheme(src: SourceMotion, path: str | Path, joint_map: str | None = None) -> tuple[str, dict[str, JointMap]]:
    """The naming scheme of ``src`` and its correspondence table (:mod:`toolkit.sim.loaders.schemes`).

    Matches are cached per skeleton (names, parents, End Sites) and joint map, so the files of one
    corpus are matched once.

    Raises:
        InputFileError: required SMPL joints stay unmatched (names them and the map to write).
    """
    if src.parents is None:
        return _closest_fixed_scheme(src, path)
    ends = frozenset(k for k in src.rest_points if k.endswith("/End"))
    pairs = read_joint_map(str(joint_map)) if joint_map is not None else ()
    try:
        return _cached_match(Skeleton(src.names, src.parents, ends), pairs)
    except InputFileError as e:
        raise InputFileError(path, e.problem) from None


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking direction ``a`` (3,) onto direction ``b`` (3,)."""
    from scipy.spatial.transform import Rotation  # on use: scipy.spatial costs ~0.25 s of start-up

    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(np.dot(a, b))
    if s < 1e-12:
        if c > 0:
            return Rotation.identity()
        perp = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return Rotation.from_rotvec(np.pi * perp / np.linalg.norm(perp))
    return Rotation.from_rotvec(axis / s * np.arctan2(s, c))


def twist_about(quat: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Twist part (..., 4) of rotations ``quat`` (..., 4) about the unit ``axis`` (3,) (swing-twist)."""
    proj = (quat[..., :3] @ axis)[..., None] * axis
    tw = np.concatenate([proj, quat[..., 3:]], axis=-1)
    n = np.linalg.norm(tw, axis=-1, keepdims=True)
    ident = np.array([0.0, 0.0, 0.0, 1.0])
    return np.where(n > 1e-9, tw / np.where(n > 1e-9, n, 1.0), ident)


#: A rest-pose left direction within this angle of a world axis is snapped onto it [deg].
AXIS_SNAP_DEG = 10.0


def _axis_vector(name: str) -> np.ndarray:
    v = np.zeros(3)
    v["xyz".index(name[-1].lower())] = -1.0 if name.startswith("-") else 1.0
    return v


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def _mid(p: dict[str, np.ndarray], table: dict[str, JointMap], joint: str) -> np.ndarray:
    return 0.5 * (p[table[f"left_{joint}"].frm] + p[table[f"right_{joint}"].frm])


def rest_is_upright(p: dict[str, np.ndarray], table: dict[str, JointMap]) -> bool:
    """Whether a rest pose stands: head above the pelvis opposite the legs, ankles-to-head along an axis."""
    spine = _unit(p[table["head"].frm] - p[table["pelvis"].frm])
    legs = _unit(_mid(p, table, "ankle") - _mid(p, table, "hip"))
    body = _unit(p[table["head"].frm] - _mid(p, table, "ankle"))
    return bool(np.dot(spine, legs) < -0.7 and np.abs(body).max() > np.cos(np.radians(30.0)))


def _world_alignment(
    src: SourceMotion, table: dict[str, JointMap], path: str | Path, up_axis: str = "auto"
) -> tuple[np.ndarray, dict]:
    """The rotation ``C`` (3, 3) from the source world into ours (module docstring, step 1), and facts."""
    rest = src.rest_points
    upright = rest_is_upright(rest, table)
    if upright or src.joint_pos is None:
        p, basis = rest, "rest pose"
    else:  # bones drawn along local axes (Bandai): the standing body of the frames tells up and left
        col = {n: k for k, n in enumerate(src.names)}
        pos = src.joint_pos
        p = {n: pos[0, k] for n, k in col.items()}
        basis = "frames"
    if up_axis == "auto":
        if basis == "rest pose":
            up_src = p[table["head"].frm] - _mid(p, table, "ankle")
        else:
            ankles = 0.5 * (pos[:, col[table["left_ankle"].frm]] + pos[:, col[table["right_ankle"].frm]])
            up_src = _unit(pos[:, col[table["head"].frm]] - ankles).mean(axis=0)
        k = int(np.argmax(np.abs(up_src)))
        up = np.zeros(3)
        up[k] = np.sign(up_src[k])
    else:
        up = _axis_vector(up_axis)
    left = p[table["left_hip"].frm] - p[table["right_hip"].frm]
    left = left - np.dot(left, up) * up
    if np.linalg.norm(left) < 1e-9:
        raise InputFileError(path, "rest pose has coincident left and right hips; cannot tell left from right")
    left /= np.linalg.norm(left)
    axis = np.zeros(3)
    axis[int(np.argmax(np.abs(left)))] = 1.0
    axis *= np.sign(np.dot(axis, left))
    if np.dot(axis, left) > np.cos(np.radians(AXIS_SNAP_DEG)):
        left = axis  # keep the source's heading exactly (CMU: C = I)
    fwd = np.cross(left, up)
    c = np.stack([left, up, fwd])  # rows: source directions that become +x, +y, +z
    feet = [table.get(f"{s}_foot") for s in ("left", "right")]
    if up_axis == "auto" and basis == "rest pose" and all(f is not None and f.frm in p for f in feet):
        # (only a standing rest pose tells: in motion, sprinting feet can point back past the ankles)
        ankles = _mid(p, table, "ankle")
        toes = c @ (p[feet[0].frm] + p[feet[1].frm] - 2 * ankles)
        if toes[2] < -0.5 * np.linalg.norm(toes[[0, 2]]):
            raise InputFileError(path, "mirrored skeleton: with left = +x and up = +y its toes point backwards")
    names = {tuple(r): n for n, r in (("+x", (1, 0, 0)), ("+y", (0, 1, 0)), ("+z", (0, 0, 1)))}
    names.update({tuple(-np.array(k)): "-" + v[1] for k, v in list(names.items())})
    up_name = names.get(tuple(up.astype(int)), "other")
    return c, {"source_up_axis": up_name, "alignment_from": basis, "rest_upright": upright}


#: A source frame-to-frame step of a mapped joint above this is not human motion [deg]: at 120 Hz,
#: 45 deg is 5,400 deg/s.
GLITCH_STEP_DEG = 45.0
#: Glitches within this time from the start are cut off with everything before them [s].
GLITCH_LEAD_S = 1.0


def drop_leading_glitch(src: SourceMotion, joints: list[str]) -> tuple[SourceMotion, int]:
    """Cut a glitchy start: the frames up to the last impossible step of ``joints`` in the first second.

    cgspeed's CMU BVH conversions begin with one T-pose reference frame; some AMC takes begin with
    the arms not yet captured (held at exactly 0, the arms-out rest pose) and then snap into place
    (CMU 03_02, ~0.4 s). Either jump would show up as a spike of hundreds of m/s^2 at the wrists.

    Returns:
        The trimmed source and the number of frames dropped (0 if none).
    """
    cols = sorted({src.names.index(n) for n in joints})
    lead = min(int(round(GLITCH_LEAD_S * src.rate_hz)), src.global_quat.shape[0] - 2)
    if lead < 1:
        return src, 0
    q = src.global_quat[: lead + 1, cols]
    step = np.degrees(np.linalg.norm(quat_log(quat_mul(quat_conj(q[:-1]), q[1:])), axis=-1)).max(axis=1)
    bad = np.flatnonzero(step > GLITCH_STEP_DEG)
    if bad.size == 0:
        return src, 0
    first = int(bad[-1]) + 1
    jp = None if src.joint_pos is None else src.joint_pos[first:]
    return replace(src, global_quat=src.global_quat[first:], root_pos=src.root_pos[first:], joint_pos=jp), first


def _rest_direction(src: SourceMotion, m: JointMap, path: str | Path) -> np.ndarray:
    """Rest direction (3,) of the source bone ``m.frm -> m.to`` [source units, not unit length].

    A zero-length bone (Bandai's End Sites at the joint, a thorax sitting on the neck) continues
    its parent bone: the direction of the nearest non-zero bone up the chain from ``m.frm``.
    """
    p = src.rest_points
    d = p[m.to] - p[m.frm]
    if np.linalg.norm(d) > 1e-9:
        return d
    if src.parents is not None:
        k = src.names.index(m.frm)
        while src.parents[k] >= 0:
            d = p[src.names[k]] - p[src.names[src.parents[k]]]
            if np.linalg.norm(d) > 1e-9:
                return d
            k = src.parents[k]
    raise InputFileError(path, f"source bone {m.frm} -> {m.to} has zero length in the rest pose")


def _path_length(src: SourceMotion, frm: str, to: str) -> float:
    """Length of the rest-pose bone chain from joint ``to`` up to its ancestor ``frm`` (straight line if unknown)."""
    p = src.rest_points
    if src.parents is None:
        return float(np.linalg.norm(p[to] - p[frm]))
    k, total = src.names.index(to), 0.0
    stop = src.names.index(frm)
    while k != stop and src.parents[k] >= 0:
        total += float(np.linalg.norm(p[src.names[k]] - p[src.names[src.parents[k]]]))
        k = src.parents[k]
    return total if k == stop else float(np.linalg.norm(p[to] - p[frm]))


@lru_cache(maxsize=8)
def _reference_proportion(height_m: float) -> float:
    """(straightened leg + pelvis-to-head chain) / standing height of the reference body."""
    body = reference_body(height_m)
    r = body.rest_joints
    leg = float(r[0, 1] - r[JOINT_INDEX["left_ankle"], 1])
    chain = sum(float(np.linalg.norm(r[j] - r[PARENTS[j]])) for j in (3, 6, 9, 12, 15))
    return (leg + chain) / body.height_m


def source_units(height_units: float, units: str, path: str | Path) -> tuple[str, float]:
    """The source's length unit and the actor's height in metres from its height in file units.

    ``auto`` picks the unit of :data:`UNITS_M` that makes the actor closest to 1.7 m (a factor
    2.54 separates cm from inches: children under ~1.07 m in cm would read as inches; force it).

    Raises:
        InputFileError: a forced unit makes the actor implausibly small or tall.
    """
    if units == "auto":
        units = min(UNITS_M, key=lambda u: abs(np.log(max(height_units * UNITS_M[u], 1e-12) / DEFAULT_HEIGHT_M)))
        return units, height_units * UNITS_M[units]
    height = height_units * UNITS_M[units]
    lo, hi = PLAUSIBLE_HEIGHT_M
    if not lo <= height <= hi:
        raise InputFileError(
            path, f"with --units {units} the actor is {height:.3g} m tall (expected {lo}-{hi} m); try --units auto"
        )
    return units, height


def retarget(
    src: SourceMotion,
    path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str = "",
    meta: dict | None = None,
    options: RetargetOptions | None = None,
) -> Motion:
    """Retarget ``src`` onto the 24-joint tree and canonicalise it (see the module docstring).

    Args:
        src: the source motion.
        path: the file it came from (for messages and :attr:`Motion.source`).
        height_m: reference body height [m].
        rate_hz: output rate [Hz].
        text: description carried by the motion.
        name: short identifier.
        meta: extra metadata (the scheme, world alignment, units and source height are added).
        options: units, up axis and joint map (default: all automatic).

    Returns:
        The canonical :class:`Motion` at ``rate_hz``.
    """
    opts = options or RetargetOptions()
    scheme, table = detect_scheme(src, path, opts.joint_map)
    c, facts = _world_alignment(src, table, path, opts.up_axis)
    src, dropped = drop_leading_glitch(src, [n for m in table.values() for n in (m.rot, m.twist) if n is not None])
    from scipy.spatial.transform import Rotation  # on use: scipy.spatial costs ~0.25 s of start-up

    qc = Rotation.from_matrix(c).as_quat()
    body = _builtin_body()
    col = {n: k for k, n in enumerate(src.names)}
    t = src.global_quat.shape[0]
    glob = np.empty((t, NUM_JOINTS, 4))
    for j, jname in enumerate(JOINT_NAMES):
        m = table.get(jname)
        if m is None:
            glob[:, j] = glob[:, PARENTS[j]] if j > 0 else [0.0, 0.0, 0.0, 1.0]
            continue
        start, end = body.segment_ends(j)
        d_raw = _rest_direction(src, m, path)
        a = minimal_rotation(end - start, c @ d_raw).as_quat()
        g = src.global_quat[:, col[m.rot]]
        if m.twist is not None:
            rel = quat_mul(quat_conj(g), src.global_quat[:, col[m.twist]])
            g = quat_mul(g, twist_about(rel, d_raw / np.linalg.norm(d_raw)))
        glob[:, j] = quat_mul(quat_mul(quat_mul(qc, g), quat_conj(qc)), a)
    local = glob.copy()
    local[:, 1:] = quat_mul(quat_conj(glob[:, PARENTS[1:]]), glob[:, 1:])
    pelvis = table["pelvis"].frm
    root_src = src.root_pos if src.joint_pos is None else src.joint_pos[:, col[pelvis]]
    root = root_src @ c.T

    p = src.rest_points
    up_rest = c[1] if facts["rest_upright"] else _unit(p[table["neck"].frm] - p[pelvis])
    legs = []
    for side in ("left", "right"):
        hip, knee, ankle = (p[table[f"{side}_{s}"].frm] for s in ("hip", "knee", "ankle"))
        legs.append(float(np.dot(p[pelvis] - hip, up_rest) + np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)))
    leg = float(np.mean(legs))
    height_units = (leg + _path_length(src, pelvis, table["head"].frm)) / _reference_proportion(DEFAULT_HEIGHT_M)
    units, source_height = source_units(height_units, opts.units, path)
    raw = Motion(
        rate_hz=src.rate_hz,
        root_pos=root,
        local_quat=local,
        text=text,
        source=str(path),
        name=name,
        meta={
            **(meta or {}),
            "skeleton_scheme": scheme,
            "source_rate_hz": src.rate_hz,
            "world_alignment": c.tolist(),
            **{k: v for k, v in facts.items() if k != "rest_upright"},
            "source_units": units,
            "source_height_m": round(source_height, 4),
            "dropped_leading_frames": dropped,
        },
    )
    try:
        return canonicalize(raw, leg_scale(leg, height_m), height_m, rate_hz)
    except ConfigError as e:  # e.g. too few frames to resample
        raise InputFileError(path, str(e)) from None


@lru_cache(maxsize=1)
def _builtin_body() -> BuiltinBody:
    """The default built-in body whose rest segment directions the sources are aligned to."""
    return BuiltinBody()
