"""Joint-name schemes: which source joint drives which SMPL joint (used by the retargeter).

Two kinds of matching, tried in this order:

1. **Fixed CMU tables** (``cgspeed-bvh``, ``cmu131-bvh``, ``cmu-asf``): the exact correspondences of
   the CMU conversions, with their zero-length thorax bones and wrist twist joints (see the table in
   :mod:`toolkit.sim.loaders.retarget`). Chosen when every required joint of a table is present.
2. **Generic matching** (``generic``) for any other humanoid: each name is split into words
   (``mixamorig:LeftForeArm`` -> ``left`` + ``forearm``; ``UpperArm_L`` -> ``left`` + ``upperarm``;
   ``left_elbow``; ``Bip01 L Thigh``), a namespace before ``:`` is dropped, the side comes from a
   ``left/l/right/r`` word, and the rest is looked up in :data:`ALIASES`. The hierarchy fills gaps:
   a forearm not found by name is the wrist joint's parent, an upper arm the forearm's parent, a
   knee the ankle's parent, a hip the knee's parent, the neck the head's parent; the pelvis is the
   lowest common ancestor of the two hips and the spine joints are the path from it to the neck
   (spread over SMPL spine1-3). ``Shoulder`` is the upper arm where a ``collar``/``clavicle``
   exists (SMPL, CMU 131) and the collar where an ``arm``/``upperarm`` exists (Mixamo, Rokoko,
   LAFAN1 / MotionBuilder, Bandai Namco). Covered: Mixamo, Bandai Namco, LAFAN1 / MotionBuilder,
   Rokoko, SMPL names, 3ds Max Biped (``Bip01 L UpperArm``).

A user map (``--joint-map FILE``: YAML ``source joint: SMPL joint`` lines) overrides the generic
match joint by joint. A skeleton whose required SMPL joints stay unmatched raises an
:class:`InputFileError` naming them, the source joints left over and the map to write.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import yaml

from toolkit.errors import ConfigError, InputFileError
from toolkit.sim.skeleton import JOINT_INDEX, JOINT_NAMES, SEGMENT_CHILD


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


#: Fixed joint correspondences per naming scheme: SMPL joint name -> :class:`JointMap`.
SCHEMES: dict[str, dict[str, JointMap]] = {"cgspeed-bvh": _CGSPEED, "cmu131-bvh": _CMU131, "cmu-asf": _asf_table()}
#: SMPL joints whose source bones may be absent (they are then left unmapped).
OPTIONAL_JOINTS = ("left_hand", "right_hand")
#: SMPL joints every generic match must find (the others copy their parent's rotation when absent).
REQUIRED_JOINTS = tuple(
    f"{s}_{j}" for s in ("left", "right") for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")
) + ("pelvis", "neck", "head")

#: Generic matching: name (side words removed, lower case, no separators) -> limb role.
ALIASES: dict[str, tuple[str, ...]] = {
    "wrist": ("wrist", "hand"),
    "elbow": ("forearm", "lowerarm", "elbow", "radius", "ulna"),
    "shoulder": ("upperarm", "arm", "humerus"),
    "collar": ("clavicle", "collar"),
    "ankle": ("ankle", "foot"),
    "knee": ("leg", "lowerleg", "knee", "shin", "calf", "tibia"),
    "hip": ("upleg", "upperleg", "thigh", "hip", "femur"),
    "foot": ("toe", "toes", "toebase", "ball", "foot"),
}
_SIDE_WORDS = {"l": "left", "left": "left", "r": "right", "right": "right"}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_PREFIX = re.compile(r"^(.*:)?(bip\d*[ _]+)?", re.IGNORECASE)


def split_name(name: str) -> tuple[str | None, str]:
    """``(side, base)`` of a joint name: ``"mixamorig:LeftForeArm"`` -> ``("left", "forearm")``,
    ``"UpperArm_L"`` -> ``("left", "upperarm")``, ``"Bip01 L Thigh"`` -> ``("left", "thigh")``."""
    words = _WORD.findall(_PREFIX.sub("", name, count=1))
    side = None
    rest = []
    for i, w in enumerate(words):
        low = w.lower()
        edge = i in (0, len(words) - 1) or w.isupper()
        if side is None and len(words) > 1 and (low in ("left", "right") or (low in ("l", "r") and edge)):
            side = _SIDE_WORDS[low]
        else:
            rest.append(low)
    return side, "".join(rest)


class Skeleton(NamedTuple):
    """A source hierarchy for matching: joint names, parent indices (-1 = root), End-Site names."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    ends: frozenset[str]


def _depth(parents: tuple[int, ...], i: int) -> int:
    d = 0
    while parents[i] >= 0:
        i, d = parents[i], d + 1
    return d


def _ancestors(parents: tuple[int, ...], i: int) -> list[int]:
    out = []
    while parents[i] >= 0:
        i = parents[i]
        out.append(i)
    return out


def _auto_assign(sk: Skeleton) -> dict[str, int]:
    """SMPL joint -> source joint index by names and hierarchy (module docstring, generic matching)."""
    parsed = [split_name(n) for n in sk.names]
    depth = [_depth(sk.parents, i) for i in range(len(sk.names))]
    children: dict[int, list[int]] = {}
    for i, p in enumerate(sk.parents):
        children.setdefault(p, []).append(i)

    def by_name(side: str | None, bases: tuple[str, ...], used: set[int], within: int | None = None) -> int | None:
        hits = [
            i
            for i, (s, b) in enumerate(parsed)
            if s == side and b in bases and i not in used and (within is None or within in _ancestors(sk.parents, i))
        ]
        return min(hits, key=lambda i: (depth[i], i)) if hits else None

    def parent(i: int | None) -> int | None:
        return sk.parents[i] if i is not None and sk.parents[i] >= 0 else None

    out: dict[str, int] = {}
    for side in ("left", "right"):
        used: set[int] = set()

        def put(role: str, idx: int | None, side: str = side, used: set[int] = used) -> int | None:
            if idx is not None:
                out[f"{side}_{role}"] = idx
                used.add(idx)
            return idx

        wrist = put("wrist", by_name(side, ALIASES["wrist"], used))
        elbow = put("elbow", by_name(side, ALIASES["elbow"], used) or parent(wrist))
        shoulder = by_name(side, ALIASES["shoulder"], used)
        collar = by_name(side, ALIASES["collar"], used)
        if shoulder is None and collar is not None:
            shoulder = by_name(side, ("shoulder",), used)
        put("shoulder", shoulder or parent(elbow))
        if collar is None:
            collar = by_name(side, ("shoulder",), used)
        if collar is None and out.get(f"{side}_shoulder") is not None:
            up = parent(out[f"{side}_shoulder"])
            collar = up if up is not None and parsed[up][0] == side else None
        put("collar", collar)
        ankle = put("ankle", by_name(side, ALIASES["ankle"], used))
        knee = put("knee", by_name(side, ALIASES["knee"], used) or parent(ankle))
        put("hip", by_name(side, ALIASES["hip"], used) or parent(knee))
        if ankle is not None:
            toe = by_name(side, ALIASES["foot"], used, within=ankle)
            if toe is None and children.get(ankle):
                toe = children[ankle][0]
            put("foot", toe)
    head = by_name(None, ("head",), set())
    if head is not None:
        out["head"] = head
        necks = [a for a in _ancestors(sk.parents, head) if parsed[a][1].startswith("neck")]
        neck = necks[0] if necks else parent(head)
        if neck is not None:
            out["neck"] = neck
    return out


def _lowest_common_ancestor(parents: tuple[int, ...], a: int, b: int) -> int | None:
    line = [a, *_ancestors(parents, a)]
    for x in [b, *_ancestors(parents, b)]:
        if x in line:
            return x
    return None


def _complete(sk: Skeleton, assign: dict[str, int]) -> None:
    """Add the pelvis (common ancestor of the hips) and the spine (path pelvis -> neck) in place."""
    if "pelvis" not in assign and "left_hip" in assign and "right_hip" in assign:
        lca = _lowest_common_ancestor(sk.parents, assign["left_hip"], assign["right_hip"])
        if lca is not None:
            assign["pelvis"] = lca
    if "neck" in assign and "pelvis" in assign and not any(f"spine{k}" in assign for k in (1, 2, 3)):
        path = []
        for a in _ancestors(sk.parents, assign["neck"]):
            if a == assign["pelvis"]:
                break
            path.append(a)
        else:
            return
        path.reverse()
        if path:
            n = len(path)
            for k, pos in zip((1, 2, 3), (0, (n - 1) // 2 if n < 3 else round((n - 1) / 2), n - 1), strict=True):
                assign[f"spine{k}"] = path[pos]


def _table_from_assignment(sk: Skeleton, assign: dict[str, int]) -> dict[str, JointMap]:
    """JointMaps: each SMPL joint's bone runs to the next assigned descendant along the SMPL chain,
    else to the source joint's End Site or first child (a zero-length bone falls back later)."""
    first_child = {}
    for i, p in enumerate(sk.parents):
        first_child.setdefault(p, i)
    table = {}
    for smpl, idx in assign.items():
        name = sk.names[idx]
        to = None
        j = JOINT_INDEX[smpl]
        while SEGMENT_CHILD[j] >= 0 and to is None:
            j = int(SEGMENT_CHILD[j])
            c = assign.get(JOINT_NAMES[j])
            if c is not None and idx in _ancestors(sk.parents, c):
                to = sk.names[c]
        if to is None:
            to = (
                f"{name}/End"
                if f"{name}/End" in sk.ends
                else sk.names[first_child[idx]]
                if idx in first_child
                else name
            )
        twist = None
        if smpl.endswith("_elbow"):
            w = assign.get(smpl.replace("elbow", "wrist"))
            twist = sk.names[w] if w is not None and idx in _ancestors(sk.parents, w) else None
        table[smpl] = JointMap(name, name, to, twist)
    return table


@lru_cache(maxsize=32)
def read_joint_map(path: str) -> tuple[tuple[str, str], ...]:
    """A ``--joint-map`` YAML file as ``((source joint, SMPL joint), ...)``.

    Raises:
        ConfigError: unreadable file, not a mapping of names, or an unknown SMPL joint name.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read joint map: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: joint map is not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: joint map must be a YAML mapping 'source joint: SMPL joint'")
    pairs = []
    for src, smpl in data.items():
        if smpl not in JOINT_INDEX:
            raise ConfigError(f"{path}: {src!r} maps to {smpl!r}, not an SMPL joint; known: {', '.join(JOINT_NAMES)}")
        pairs.append((str(src), str(smpl)))
    return tuple(pairs)


def match_skeleton(
    sk: Skeleton, path: str | Path, joint_map: tuple[tuple[str, str], ...] = ()
) -> tuple[str, dict[str, JointMap]]:
    """The scheme name and correspondence table of a source skeleton (module docstring).

    Args:
        sk: the source hierarchy.
        path: the file (for messages).
        joint_map: user ``(source joint, SMPL joint)`` pairs overriding the generic match.

    Raises:
        InputFileError: the map names joints the skeleton lacks, or required SMPL joints stay unmatched.
    """
    have = set(sk.names) | set(sk.ends)
    if not joint_map:
        for scheme, table in SCHEMES.items():
            found = _fixed_table(table, have)
            if found is not None:
                return scheme, found
    assign = _auto_assign(sk)
    if joint_map:
        missing = [s for s, _ in joint_map if s not in sk.names]
        if missing:
            raise InputFileError(path, f"the joint map names joints this skeleton lacks: {', '.join(missing)}")
        index = {n: i for i, n in enumerate(sk.names)}
        mapped = {smpl for _, smpl in joint_map}
        assign = {k: v for k, v in assign.items() if k not in mapped and k not in ("pelvis",)}
        assign.update({smpl: index[s] for s, smpl in joint_map})
    _complete(sk, assign)
    lacking = [j for j in REQUIRED_JOINTS if j not in assign]
    if lacking:
        used = set(assign.values())
        left_over = [n for i, n in enumerate(sk.names) if i not in used]
        shown = ", ".join(left_over[:12]) + (", ..." if len(left_over) > 12 else "")
        example = f"{left_over[0]}: {lacking[0]}" if left_over else f"<source joint>: {lacking[0]}"
        raise InputFileError(
            path,
            f"unknown skeleton: no known joint naming scheme fits; cannot match SMPL joints {', '.join(lacking)} "
            f"(source joints not matched: {shown or 'none'}); write a YAML file of 'source joint: SMPL joint' "
            f"lines (e.g. '{example}') and pass it with --joint-map",
        )
    return ("generic+map" if joint_map else "generic"), _table_from_assignment(sk, assign)


def _fixed_table(table: dict[str, JointMap], have: set[str]) -> dict[str, JointMap] | None:
    required = {n for j, m in table.items() if j not in OPTIONAL_JOINTS for n in _names(m) if n != m.twist}
    if required - have:
        return None
    usable = {}
    for j, m in table.items():
        if not set(_names(m)) - have:
            usable[j] = m
        elif j not in OPTIONAL_JOINTS and m.twist is not None:
            usable[j] = m._replace(twist=None)
    return usable


def _names(m: JointMap) -> list[str]:
    return [n for n in (m.rot, m.frm, m.to, m.twist) if n is not None]
