"""Retargeting a motion-capture skeleton onto the 24-joint tree (shared by the BVH and ASF/AMC loaders).

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
   For every CMU file (y up, left = +x, toes to +z) ``C`` is the identity.
2. Rest alignment ``A_j`` for each mapped SMPL joint ``j``: ``d_smpl`` = unit rest direction of the
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
5. Root position = ``C`` times the source root joint's world position (source units). Scale =
   :func:`toolkit.sim.canonical.leg_scale` of the source's pelvis-to-ankle height *with the legs
   straightened*: the rest-pose vertical drop from the root to the hip joints plus the thigh and
   shank lengths (mean of both sides). CMU rest poses splay the legs ~20 deg outwards, so their plain
   vertical rest distance would under-state the leg by ~6 % and over-state strides. Finally
   :func:`toolkit.sim.canonical.canonicalize`.

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
spine3's (a constant 2.6 deg: the ASF thorax is not quite parallel to the upper back). The naming scheme is
detected from the joint names; a skeleton matching none raises :class:`InputFileError` naming the
missing joints of the closest scheme.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from toolkit.errors import ConfigError, InputFileError
from toolkit.sim.body import BuiltinBody
from toolkit.sim.canonical import canonicalize, leg_scale
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import quat_conj, quat_log, quat_mul
from toolkit.sim.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS


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
    """

    names: tuple[str, ...]
    global_quat: np.ndarray
    root_pos: np.ndarray
    rest_points: dict[str, np.ndarray]
    rate_hz: float
    root: str


class JointMap(NamedTuple):
    """Where an SMPL joint's rotation comes from: ``rot``'s global rotation, aligned so that the
    SMPL segment follows the source bone ``frm -> to``; ``twist`` adds a child's axial twist."""

    rot: str
    frm: str
    to: str
    twist: str | None = None


def _bvh_table(pelvis_to: str, center: dict[str, tuple], left: dict[str, tuple], right: dict[str, tuple]):
    table = {"pelvis": JointMap("Hips", "Hips", pelvis_to)}
    for smpl, entry in center.items():
        table[smpl] = JointMap(entry[0], *entry[-2:])
    for side, entries in (("left", left), ("right", right)):
        for smpl, entry in entries.items():
            table[f"{side}_{smpl}"] = JointMap(entry[0], entry[0], *entry[1:])
    return table


_CGSPEED = _bvh_table(
    "Spine",
    {"spine1": ("LowerBack", "Spine"), "spine2": ("Spine", "Spine1"), "spine3": ("Spine1", "Spine", "Spine1"),
     "neck": ("Neck1", "Head"), "head": ("Head", "Head/End")},
    {"hip": ("LeftUpLeg", "LeftLeg"), "knee": ("LeftLeg", "LeftFoot"), "ankle": ("LeftFoot", "LeftToeBase"),
     "foot": ("LeftToeBase", "LeftToeBase/End"), "collar": ("LeftShoulder", "LeftArm"),
     "shoulder": ("LeftArm", "LeftForeArm"), "elbow": ("LeftForeArm", "LeftHand", "LeftFingerBase"),
     "wrist": ("LeftFingerBase", "LFingers"), "hand": ("LFingers", "LFingers/End")},
    {"hip": ("RightUpLeg", "RightLeg"), "knee": ("RightLeg", "RightFoot"), "ankle": ("RightFoot", "RightToeBase"),
     "foot": ("RightToeBase", "RightToeBase/End"), "collar": ("RightShoulder", "RightArm"),
     "shoulder": ("RightArm", "RightForeArm"), "elbow": ("RightForeArm", "RightHand", "RightFingerBase"),
     "wrist": ("RightFingerBase", "RFingers"), "hand": ("RFingers", "RFingers/End")},
)  # fmt: skip

_CMU131 = _bvh_table(
    "Chest",
    {"spine1": ("lowerback", "Chest"), "spine2": ("Chest", "Chest2"), "spine3": ("Chest2", "Chest", "Chest2"),
     "neck": ("Neck", "Head"), "head": ("Head", "Head/End")},
    {"hip": ("LeftHip", "LeftKnee"), "knee": ("LeftKnee", "LeftAnkle"), "ankle": ("LeftAnkle", "LeftToe"),
     "foot": ("LeftToe", "LeftToe/End"), "collar": ("LeftCollar", "LeftShoulder"),
     "shoulder": ("LeftShoulder", "LeftElbow"), "elbow": ("LeftElbow", "LeftWrist", "lhand"),
     "wrist": ("lhand", "LFingers"), "hand": ("LFingers", "LFingers/End")},
    {"hip": ("RightHip", "RightKnee"), "knee": ("RightKnee", "RightAnkle"), "ankle": ("RightAnkle", "RightToe"),
     "foot": ("RightToe", "RightToe/End"), "collar": ("RightCollar", "RightShoulder"),
     "shoulder": ("RightShoulder", "RightElbow"), "elbow": ("RightElbow", "RightWrist", "rhand"),
     "wrist": ("rhand", "RFingers"), "hand": ("RFingers", "RFingers/End")},
)  # fmt: skip


def _asf_table() -> dict[str, JointMap]:
    bones = {"spine1": "lowerback", "spine2": "upperback", "spine3": "thorax", "neck": "upperneck", "head": "head"}
    limbs = {"hip": "femur", "knee": "tibia", "ankle": "foot", "foot": "toes", "collar": "clavicle",
             "shoulder": "humerus", "elbow": "radius", "wrist": "hand", "hand": "fingers"}  # fmt: skip
    for side in ("left", "right"):
        bones.update({f"{side}_{k}": side[0] + v for k, v in limbs.items()})
    table = {"pelvis": JointMap("root", "root", "lowerback/End")}
    for smpl, bone in bones.items():
        twist = bone[0] + "hand" if bone.endswith("radius") else None
        table[smpl] = JointMap(bone, bone, bone + "/End", twist)
    return table


#: Joint correspondence per naming scheme: SMPL joint name -> :class:`JointMap`.
SCHEMES: dict[str, dict[str, JointMap]] = {"cgspeed-bvh": _CGSPEED, "cmu131-bvh": _CMU131, "cmu-asf": _asf_table()}
#: SMPL joints whose source bones may be absent (they are then left unmapped).
OPTIONAL_JOINTS = ("left_hand", "right_hand")


def _names(m: JointMap) -> list[str]:
    return [n for n in (m.rot, m.frm, m.to, m.twist) if n is not None]


def detect_scheme(src: SourceMotion, path: str | Path) -> tuple[str, dict[str, JointMap]]:
    """The naming scheme of ``src`` and its correspondence table, with absent optional bones dropped.

    Raises:
        InputFileError: no scheme's required joints are all present (names the missing ones).
    """
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


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> Rotation:
    """The smallest rotation taking direction ``a`` (3,) onto direction ``b`` (3,)."""
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


def _world_alignment(src: SourceMotion, table: dict[str, JointMap], path: str | Path) -> np.ndarray:
    """The rotation ``C`` (3, 3) from the source world into ours (module docstring, step 1)."""
    p = src.rest_points
    ankles = 0.5 * (p[table["left_ankle"].frm] + p[table["right_ankle"].frm])
    up_src = p[table["head"].frm] - ankles
    k = int(np.argmax(np.abs(up_src)))
    up = np.zeros(3)
    up[k] = np.sign(up_src[k])
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
    toes = c @ (p[table["left_foot"].frm] + p[table["right_foot"].frm] - 2 * ankles)
    if toes[2] < 0:
        raise InputFileError(path, "mirrored skeleton: with left = +x and up = +y its toes point backwards")
    return c


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
    return replace(src, global_quat=src.global_quat[first:], root_pos=src.root_pos[first:]), first


def retarget(
    src: SourceMotion,
    path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str = "",
    meta: dict | None = None,
) -> Motion:
    """Retarget ``src`` onto the 24-joint tree and canonicalise it (see the module docstring).

    Args:
        src: the source motion.
        path: the file it came from (for messages and :attr:`Motion.source`).
        height_m: reference body height [m].
        rate_hz: output rate [Hz].
        text: description carried by the motion.
        name: short identifier.
        meta: extra metadata (the scheme and world alignment are added).

    Returns:
        The canonical :class:`Motion` at ``rate_hz``.
    """
    scheme, table = detect_scheme(src, path)
    c = _world_alignment(src, table, path)
    src, dropped = drop_leading_glitch(src, [n for m in table.values() for n in (m.rot, m.twist) if n is not None])
    qc = Rotation.from_matrix(c).as_quat()
    body = BuiltinBody()
    col = {n: k for k, n in enumerate(src.names)}
    t = src.global_quat.shape[0]
    glob = np.empty((t, NUM_JOINTS, 4))
    for j, jname in enumerate(JOINT_NAMES):
        m = table.get(jname)
        if m is None:
            glob[:, j] = glob[:, PARENTS[j]] if j > 0 else [0.0, 0.0, 0.0, 1.0]
            continue
        start, end = body.segment_ends(j)
        d_raw = src.rest_points[m.to] - src.rest_points[m.frm]
        if np.linalg.norm(d_raw) < 1e-9:
            raise InputFileError(path, f"source bone {m.frm} -> {m.to} has zero length in the rest pose")
        a = minimal_rotation(end - start, c @ d_raw).as_quat()
        g = src.global_quat[:, col[m.rot]]
        if m.twist is not None:
            rel = quat_mul(quat_conj(g), src.global_quat[:, col[m.twist]])
            g = quat_mul(g, twist_about(rel, d_raw / np.linalg.norm(d_raw)))
        glob[:, j] = quat_mul(quat_mul(quat_mul(qc, g), quat_conj(qc)), a)
    local = glob.copy()
    local[:, 1:] = quat_mul(quat_conj(glob[:, PARENTS[1:]]), glob[:, 1:])
    root = src.root_pos @ c.T

    p = {k: c @ v for k, v in src.rest_points.items()}
    legs = []
    for side in ("left", "right"):
        hip, knee, ankle = (p[table[f"{side}_{s}"].frm] for s in ("hip", "knee", "ankle"))
        legs.append(p[src.root][1] - hip[1] + np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))
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
            "dropped_leading_frames": dropped,
        },
    )
    try:
        return canonicalize(raw, leg_scale(float(np.mean(legs)), height_m), height_m, rate_hz)
    except ConfigError as e:  # e.g. too few frames to resample
        raise InputFileError(path, str(e)) from None
