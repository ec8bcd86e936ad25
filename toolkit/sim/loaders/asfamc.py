"""Acclaim ASF (skeleton) + AMC (motion) files, as in the CMU motion-capture database.

ASF: ``:units`` (``length``, ``angle deg|rad``), ``:root`` (``order`` of the AMC root values,
``axis`` rotation order, ``position``, ``orientation``), ``:bonedata`` blocks (``name``,
``direction`` in the rest-pose world, ``length``, ``axis a b c ORDER``, ``dof``, ``limits``) and
``:hierarchy`` lines ``parent child ...``. AMC: header lines (``#``, ``:FULLY-SPECIFIED``,
``:DEGREES``), then per frame its number and one line per bone with the values of its ``dof``.

Rotations (the CMU viewer's convention). Angle lists are applied in the order written, each about a
fixed axis (scipy's lowercase, extrinsic sequences): ``axis 0 0 -90 XYZ`` gives
``C = Rz Ry Rx`` and ``dof rx ry rz`` gives ``M = Rz(rz) Ry(ry) Rx(rx)``. A bone's local rotation
is ``L = C M C^T`` (``M`` acts in the bone's own axis frame ``C``), its global rotation
``G_b = G_parent L_b``, and the root's ``G = C_root M_root C_root^T`` with ``C_root`` from
``orientation`` (``axis`` order) and ``M_root`` from the AMC rotation values (order of ``order``).
The rest pose (all zeros) has identity global rotations and the bones along their ``direction``;
the root position is ``position`` plus the AMC translation. Translation dofs of non-root bones
(``tx ty tz l``) are read but not used. AMC files carry no rate: ``source_rate_hz`` (CMU: 120 Hz).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolkit.errors import InputFileError
from toolkit.sim.loaders.bvh import read_text
from toolkit.sim.loaders.descriptions import describe_clip
from toolkit.sim.loaders.retarget import SourceMotion, retarget
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import quat_conj, quat_mul

_ROT_DOFS = ("rx", "ry", "rz")
_TRANS_DOFS = ("tx", "ty", "tz", "l")


@dataclass
class AsfBone:
    """One ASF bone: unit rest ``direction`` (3,), ``length`` [file units], axis frame ``axis`` (3, 3)
    (local -> world at rest), ``dof`` names in AMC value order, and ``parent`` name."""

    name: str
    direction: np.ndarray = field(default_factory=lambda: np.zeros(3))
    length: float = 0.0
    axis: np.ndarray = field(default_factory=lambda: np.eye(3))
    dof: list[str] = field(default_factory=list)
    parent: str = ""


@dataclass
class AsfSkeleton:
    """A parsed ASF: root channel ``order``, root rest ``position`` (3,) and axis frame
    ``orientation`` (3, 3), and the bones in hierarchy order (parents first)."""

    order: list[str]
    position: np.ndarray
    orientation: np.ndarray
    bones: dict[str, AsfBone]
    degrees: bool = True


def _floats(parts: list[str], n: int, what: str, path: Path) -> np.ndarray:
    try:
        vals = np.array([float(v) for v in parts[:n]])
    except ValueError:
        raise InputFileError(path, f"{what}: expected {n} numbers, found {' '.join(parts)!r}") from None
    if len(vals) != n or not np.isfinite(vals).all():
        raise InputFileError(path, f"{what}: expected {n} finite numbers, found {' '.join(parts)!r}")
    return vals


def _axis_frame(parts: list[str], degrees: bool, what: str, path: Path) -> np.ndarray:
    angles = _floats(parts, 3, what, path)
    order = parts[3].lower() if len(parts) > 3 else "xyz"
    if sorted(order) != ["x", "y", "z"]:
        raise InputFileError(path, f"{what}: bad rotation order {parts[3]!r}")
    from scipy.spatial.transform import Rotation  # on use: scipy.spatial costs ~0.25 s of start-up

    return Rotation.from_euler(order, angles, degrees=degrees).as_matrix()


def parse_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton file.

    Raises:
        InputFileError: missing file or sections, malformed values, bones missing from the hierarchy.
    """
    path = Path(path)
    lines = [ln.split("#", 1)[0].strip() for ln in read_text(path).splitlines()]
    section, degrees = "", True
    root: dict[str, list[str]] = {}
    bones: dict[str, AsfBone] = {}
    bone_lines: list[list[str]] = []
    children: dict[str, list[str]] = {}
    for ln in lines:
        if not ln:
            continue
        if ln.startswith(":"):
            section = ln.split()[0].lower()
            continue
        parts = ln.split()
        key = parts[0].lower()
        if section == ":units" and key == "angle":
            degrees = len(parts) < 2 or not parts[1].lower().startswith("rad")
        elif section == ":root":
            root[key] = parts[1:]
        elif section == ":bonedata":
            if key == "begin":
                bone_lines = []
            elif key == "end":
                bone = _parse_bone(bone_lines, degrees, path)
                bones[bone.name] = bone
            else:
                bone_lines.append(parts)
        elif section == ":hierarchy" and key not in ("begin", "end"):
            children.setdefault(parts[0], []).extend(parts[1:])
    if not bones or not children:
        raise InputFileError(path, "not an ASF skeleton: no :bonedata or :hierarchy section")
    order = [v.lower() for v in root.get("order", ["tx", "ty", "tz", "rx", "ry", "rz"])]
    position = _floats(root.get("position", ["0", "0", "0"]), 3, "root position", path)
    orientation = _axis_frame(root.get("orientation", ["0", "0", "0"]) + root.get("axis", ["XYZ"])[:1],
                              degrees, "root orientation", path)  # fmt: skip
    ordered: dict[str, AsfBone] = {}
    stack = [("root", c) for c in reversed(children.get("root", []))]
    while stack:
        parent, name = stack.pop()
        if name not in bones:
            raise InputFileError(path, f":hierarchy names bone {name!r}, which :bonedata does not define")
        if name in ordered:
            raise InputFileError(path, f":hierarchy lists bone {name!r} twice")
        bones[name].parent = parent
        ordered[name] = bones[name]
        stack.extend((name, c) for c in reversed(children.get(name, [])))
    lost = [b for b in bones if b not in ordered]
    if lost:
        raise InputFileError(path, f"bones not connected to the root in :hierarchy: {', '.join(lost)}")
    return AsfSkeleton(order, position, orientation, ordered, degrees)


def _parse_bone(lines: list[list[str]], degrees: bool, path: Path) -> AsfBone:
    fields = {p[0].lower(): p[1:] for p in lines}
    if "name" not in fields or not fields["name"]:
        raise InputFileError(path, "a :bonedata block has no name")
    name = fields["name"][0]
    bone = AsfBone(name)
    direction = _floats(fields.get("direction", []), 3, f"bone {name} direction", path)
    norm = np.linalg.norm(direction)
    bone.direction = direction / norm if norm > 0 else direction
    bone.length = float(_floats(fields.get("length", []), 1, f"bone {name} length", path)[0])
    bone.axis = _axis_frame(fields.get("axis", ["0", "0", "0", "XYZ"]), degrees, f"bone {name} axis", path)
    bone.dof = [d.lower() for d in fields.get("dof", [])]
    bad = [d for d in bone.dof if d not in _ROT_DOFS + _TRANS_DOFS]
    if bad:
        raise InputFileError(path, f"bone {name}: unknown dof {bad[0]!r}")
    return bone


def parse_amc(path: str | Path, skeleton: AsfSkeleton) -> dict[str, np.ndarray]:
    """Per-bone values (T, n_dof) of an AMC file (``"root"``: (T, len(order))).

    Raises:
        InputFileError: missing file, no frames, non-numeric or non-finite values, wrong value
            counts, bones absent from the skeleton, or skeleton bones (with dofs) absent from the AMC.
    """
    path = Path(path)
    expect = {"root": len(skeleton.order)} | {n: len(b.dof) for n, b in skeleton.bones.items() if b.dof}
    rows: dict[str, list[list[str]]] = {}
    where: dict[str, list[int]] = {}
    frame = -1
    for ln_no, ln in enumerate(read_text(path).splitlines(), 1):
        parts = ln.split()
        if not parts or parts[0].startswith(("#", ":")):
            continue
        if len(parts) == 1 and parts[0].isdigit():
            frame += 1
            continue
        if frame < 0:
            raise InputFileError(path, f"line {ln_no}: bone values before the first frame number")
        name = parts[0]
        if name not in expect:
            why = "has no dof in the ASF skeleton" if name in skeleton.bones else "is not in the ASF skeleton"
            raise InputFileError(path, f"line {ln_no}: bone {name!r} {why}")
        if len(parts) - 1 != expect[name]:
            got = len(parts) - 1
            raise InputFileError(path, f"line {ln_no}: bone {name} has {got} values, expected {expect[name]}")
        rows.setdefault(name, []).append(parts[1:])
        where.setdefault(name, []).append(frame)
    n_frames = frame + 1
    if n_frames < 1 or not rows:
        raise InputFileError(path, "no frames in the AMC file")
    missing = [n for n in expect if n not in rows]
    if missing:
        raise InputFileError(path, f"AMC lacks bones of the ASF skeleton: {', '.join(missing)}")
    out: dict[str, np.ndarray] = {}
    for name, vals in rows.items():
        got = np.asarray(where[name])
        if len(got) != n_frames or (got != np.arange(n_frames)).any():
            bad = np.setdiff1d(np.arange(n_frames), got)
            which = f"frame {bad[0] + 1} lacks" if len(bad) else "a frame repeats"
            raise InputFileError(path, f"{which} bone {name} (every frame needs every bone)")
        try:
            arr = np.array(vals, dtype=np.float64).reshape(n_frames, expect[name])
        except ValueError:
            k = next(i for i, r in enumerate(vals) if not all(_is_float(v) for v in r))
            raise InputFileError(path, f"frame {k + 1}, bone {name}: {' '.join(vals[k])!r} is not numeric") from None
        if not np.isfinite(arr).all():
            k = int(np.argwhere(~np.isfinite(arr))[0, 0])
            raise InputFileError(path, f"frame {k + 1}, bone {name}: non-finite value")
        out[name] = arr
    return out


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _rotation(dofs: list[str], values: np.ndarray, degrees: bool) -> np.ndarray:
    """(T, 4) rotations from the rotation dofs in the order listed (extrinsic)."""
    cols = [i for i, d in enumerate(dofs) if d in _ROT_DOFS]
    if not cols:
        return np.broadcast_to([0.0, 0.0, 0.0, 1.0], (values.shape[0], 4))
    seq = "".join(dofs[i][1] for i in cols)
    from scipy.spatial.transform import Rotation  # on use: scipy.spatial costs ~0.25 s of start-up

    return Rotation.from_euler(seq, values[:, cols], degrees=degrees).as_quat()


def asf_amc_source_motion(skeleton: AsfSkeleton, values: dict[str, np.ndarray], rate_hz: float) -> SourceMotion:
    """Global bone rotations, root trajectory and rest points (vectorised over frames)."""
    root_vals = values["root"]
    t = root_vals.shape[0]
    from scipy.spatial.transform import Rotation  # on use: scipy.spatial costs ~0.25 s of start-up

    q_root_axis = Rotation.from_matrix(skeleton.orientation).as_quat()
    m_root = _rotation(skeleton.order, root_vals, skeleton.degrees)
    glob = {"root": quat_mul(quat_mul(q_root_axis, m_root), quat_conj(q_root_axis))}
    root_pos = np.broadcast_to(skeleton.position, (t, 3)).copy()
    for i, ch in enumerate(skeleton.order):
        if ch in ("tx", "ty", "tz"):
            root_pos[:, "xyz".index(ch[1])] += root_vals[:, i]
    rest = {"root": skeleton.position.copy()}
    for name, bone in skeleton.bones.items():
        start = rest[bone.parent] if bone.parent == "root" else rest[f"{bone.parent}/End"]
        rest[name] = start
        rest[f"{name}/End"] = start + bone.direction * bone.length
        q_axis = Rotation.from_matrix(bone.axis).as_quat()
        if bone.dof:
            m = _rotation(bone.dof, values[name], skeleton.degrees)
            local = quat_mul(quat_mul(q_axis, m), quat_conj(q_axis))
            glob[name] = quat_mul(glob[bone.parent], local)
        else:
            glob[name] = glob[bone.parent]
    names = tuple(glob)
    return SourceMotion(
        names=names,
        global_quat=np.stack([glob[n] for n in names], axis=1),
        root_pos=root_pos,
        rest_points=rest,
        rate_hz=float(rate_hz),
        root="root",
    )


def load_asf_amc(
    asf_path: str | Path,
    amc_path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str | None = None,
    source_rate_hz: float = 120.0,
) -> Motion:
    """Load an ASF/AMC pair as a canonical :class:`Motion` on the 24-joint tree.

    Args:
        asf_path: the skeleton (``.asf``).
        amc_path: the motion (``.amc``).
        height_m: body height to normalise to [m].
        rate_hz: output rate [Hz].
        text: description; empty = looked up in a nearby ``index.tsv`` by the AMC's stem.
        name: identifier; default the AMC file stem.
        source_rate_hz: the AMC's frame rate [Hz] (CMU: 120).

    Raises:
        InputFileError: unreadable or malformed files, ASF/AMC bone mismatch, unknown skeleton.
    """
    amc_path = Path(amc_path)
    if not (source_rate_hz > 0):
        raise InputFileError(amc_path, f"source rate must be positive, got {source_rate_hz}")
    skeleton = parse_asf(asf_path)
    src = asf_amc_source_motion(skeleton, parse_amc(amc_path, skeleton), source_rate_hz)
    return retarget(
        src,
        amc_path,
        height_m=height_m,
        rate_hz=rate_hz,
        text=text or describe_clip(amc_path),
        name=name or amc_path.stem,
        meta={"format": "asf/amc", "asf": str(asf_path)},
    )
