"""BVH (Biovision Hierarchy) motion files of any humanoid: parser and loader onto the 24-joint tree.

Format: ``HIERARCHY`` with one ``ROOT`` and nested ``JOINT``/``End Site`` blocks, each with an
``OFFSET`` (rest position relative to the parent, file units) and, for joints, ``CHANNELS n ...``;
then ``MOTION``, ``Frames: T``, ``Frame Time: dt`` and T lines of channel values (degrees for
rotations). The rest pose (all channels zero) is given by the offsets alone; it need not be a
T-pose (Bandai Namco draws every bone along its parent's local X): the retargeter works relative
to it (:mod:`toolkit.sim.loaders.retarget`).

Each joint's rotation channels are combined **in the order its own CHANNELS line lists them**:
``Zrotation Xrotation Yrotation`` means ``R = Rz Rx Ry`` (intrinsic ``"ZXY"`` in scipy). CMU
conversions mix ZYX and ZXY joints; forcing one order for all (IMUSim's bug) produces wrist
accelerations of thousands of m/s^2. Global joint rotations are ``G_j = G_parent R_j``; every
global rotation is the identity at rest, which is what the retargeter expects.

Position channels may sit on any joint (Bandai, MotionBuilder exports: 6 channels on every joint).
A joint's translation from its parent is then its position channels, which **replace** the OFFSET
(the usual exporter convention: Bandai writes the offsets again in them, and the pelvis's path in
the Hips' channels under a fixed ``joint_Root``), or are **added** to it when the file's
non-root channels sit near zero rather than near the offsets (``meta["translation_channels"]``
says which). A file whose only position channels are the root's keeps the CMU reading: root =
OFFSET + channels. Every joint's world position per frame (forward kinematics with these
translations) goes to the retargeter, which takes the pelvis trajectory from the joint it maps to
the SMPL pelvis and aligns the world from posed frames when the rest pose is not upright.

Speed: parsing one skeleton (hierarchy text) is cached by its text, so a corpus of files with one
skeleton parses it once per process; frame values are read in one numpy call; Euler angles of all
joints sharing an order are converted in one scipy call, and forward kinematics loops over joints,
never frames. Hierarchies nested deeper than :data:`MAX_DEPTH` are refused (no recursion is used).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NoReturn

import numpy as np

from toolkit.errors import InputFileError
from toolkit.sim.loaders.descriptions import describe_clip
from toolkit.sim.loaders.retarget import RetargetOptions, SourceMotion, retarget
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import quat_mul, quat_rotate

_ROT_CHANNELS = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POS_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}
#: Deepest joint nesting accepted (a human skeleton with fingers is ~10-15 levels deep).
MAX_DEPTH = 256


@dataclass
class BvhJoint:
    """One joint of a BVH hierarchy.

    Attributes:
        name: joint name.
        parent: index of the parent joint (-1 for the root).
        offset: (3,) rest position relative to the parent [file units].
        channels: channel names as written (e.g. ``"Zrotation"``).
        first: column of the joint's first channel in a frame row.
        end: (3,) offset of its End Site, if it has one [file units].
    """

    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    first: int
    end: np.ndarray | None = None


@dataclass
class BvhData:
    """A parsed BVH file: the joints (parents before children), frame time [s] and values (T, C)."""

    joints: list[BvhJoint]
    frame_time: float
    values: np.ndarray

    @property
    def rate_hz(self) -> float:
        """Frame rate [Hz], snapped to an integer when within 0.1 % of one (``.0083333`` -> 120)."""
        rate = 1.0 / self.frame_time
        return float(round(rate)) if abs(rate - round(rate)) < 1e-3 * rate else rate


class _Problem(Exception):
    """A hierarchy problem at a line (raised inside the cached parser, which knows no path)."""

    def __init__(self, line: int, problem: str):
        super().__init__(problem)
        self.line, self.problem = line, problem


class _Tokens:
    """Whitespace tokens of the hierarchy section with their line numbers, for error messages."""

    def __init__(self, lines: list[str]):
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise _Problem(self.items[-1][1] if self.items else 1, f"BVH hierarchy ends early: expected {what}")
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok.lower() != word.lower():
            self.fail(f"expected {word!r}, found {tok!r}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            self.fail(f"expected a number for {what}, found {tok!r}")
        if not np.isfinite(value):
            self.fail(f"{what} is not finite ({tok!r})")
        return value

    def fail(self, problem: str) -> NoReturn:
        raise _Problem(self.items[self.pos - 1][1] if self.pos else 1, problem)


def _parse_hierarchy(tok: _Tokens) -> tuple[list[BvhJoint], int]:
    """Joints (parents first) and the channel count; iterative, so no nesting depth can overflow."""
    tok.expect("HIERARCHY")
    tok.expect("ROOT")
    joints: list[BvhJoint] = []
    names: set[str] = set()
    n_channels = 0
    stack: list[int] = []

    def open_joint(name: str, parent: int) -> None:
        if name in names:
            tok.fail(f"joint name {name!r} is used twice")
        if len(stack) >= MAX_DEPTH:
            tok.fail(f"hierarchy nested deeper than {MAX_DEPTH} joints (not a body skeleton)")
        names.add(name)
        joints.append(BvhJoint(name, parent, np.zeros(3), [], n_channels))
        tok.expect("{")
        stack.append(len(joints) - 1)

    open_joint(tok.next("the root's name"), -1)
    while stack:
        joint = joints[stack[-1]]
        word = tok.next("'}'")
        key = word.upper()
        if key == "OFFSET":
            joint.offset = np.array([tok.number(f"{joint.name} OFFSET") for _ in range(3)])
        elif key == "CHANNELS":
            count = tok.number(f"{joint.name} CHANNELS count")
            if count != int(count) or not 0 <= count <= 64:
                tok.fail(f"bad channel count {count} for joint {joint.name}")
            joint.channels = [tok.next("a channel name") for _ in range(int(count))]
            bad = [c for c in joint.channels if c.lower() not in _ROT_CHANNELS and c.lower() not in _POS_CHANNELS]
            if bad:
                tok.fail(f"unknown channel {bad[0]!r} for joint {joint.name}")
            joint.first = n_channels
            n_channels += int(count)
        elif key == "JOINT":
            open_joint(tok.next("a joint name"), stack[-1])
        elif key == "END":
            tok.expect("Site")
            tok.expect("{")
            tok.expect("OFFSET")
            joint.end = np.array([tok.number(f"{joint.name} End Site OFFSET") for _ in range(3)])
            tok.expect("}")
        elif word == "}":
            stack.pop()
        else:
            tok.fail(f"unexpected {word!r} in joint {joint.name}")
    if tok.pos < len(tok.items):
        tok.pos += 1
        tok.fail(f"unexpected {tok.items[tok.pos - 1][0]!r} after the root joint (one ROOT supported)")
    return joints, n_channels


@lru_cache(maxsize=64)
def _cached_hierarchy(text: str) -> tuple[tuple[BvhJoint, ...], int]:
    """The parsed hierarchy of one skeleton text (shared by every file of a corpus; do not mutate)."""
    joints, n = _parse_hierarchy(_Tokens(text.splitlines()))
    return tuple(joints), n


def read_text(path: Path) -> str:
    if not path.exists():
        raise InputFileError(path, "file not found")
    if not path.is_file():
        raise InputFileError(path, "not a regular file")
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as e:
        raise InputFileError(path, f"cannot read: {e.strerror or e}") from None


def _header_value(line: str, key: str, path: Path) -> str:
    parts = line.split(":", 1)
    if len(parts) != 2 or parts[0].strip().lower() != key.lower() or not parts[1].strip():
        raise InputFileError(path, f"expected '{key}: <value>' after MOTION, found {line.strip()[:40]!r}")
    return parts[1].strip()


def _split_motion(text: str, path: Path) -> tuple[str, int, list[str], str]:
    """(hierarchy text, line number of MOTION, the two header lines, the frame block)."""
    upper = text.upper()
    at = -1
    pos = 0
    while True:
        at = upper.find("MOTION", pos)
        if at < 0:
            raise InputFileError(path, "not a complete BVH file: no MOTION section")
        line_start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", at)
        line_end = len(text) if line_end < 0 else line_end
        if text[line_start:line_end].strip().upper() == "MOTION":
            break
        pos = at + 6
    head = []
    cursor = line_end + 1
    while len(head) < 2 and cursor < len(text):
        nl = text.find("\n", cursor)
        nl = len(text) if nl < 0 else nl
        if text[cursor:nl].strip():
            head.append(text[cursor:nl])
        cursor = nl + 1
    return text[:line_start], text.count("\n", 0, line_start), head, text[cursor:]


def parse_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file.

    Raises:
        InputFileError: missing file, malformed or absurdly deep hierarchy, missing ``MOTION``,
            truncated or non-numeric or non-finite frame values (the message says which frame and
            channel).
    """
    path = Path(path)
    hierarchy, _, head, block = _split_motion(read_text(path), path)
    try:
        joints_t, n_channels = _cached_hierarchy(hierarchy)
    except _Problem as e:
        raise InputFileError(path, f"line {e.line}: {e.problem}") from None
    joints = list(joints_t)
    if len(head) < 2:
        raise InputFileError(path, "truncated BVH: MOTION lacks 'Frames:' and 'Frame Time:'")
    try:
        n_frames = int(_header_value(head[0], "Frames", path))
        frame_time = float(_header_value(head[1], "Frame Time", path))
    except ValueError:
        raise InputFileError(path, f"bad frame count or frame time: {head[0].strip()!r}, {head[1].strip()!r}") from None
    if n_frames < 1 or not (frame_time > 0 and np.isfinite(frame_time)):
        raise InputFileError(path, f"need Frames >= 1 and Frame Time > 0, got {n_frames} and {frame_time}")
    values = _fast_frames(block, n_frames, n_channels)
    if values is None:
        data = [ln for ln in block.splitlines() if ln.strip()]
        values = _parse_frames(data, n_frames, n_channels, joints, path)
    return BvhData(joints=joints, frame_time=frame_time, values=values)


def _fast_frames(block: str, n_frames: int, n_channels: int) -> np.ndarray | None:
    """All frame values in one numpy call, or None when anything is off (the slow path says what)."""
    body = block.strip()
    if body.count("\n") + 1 != n_frames or "\n\n" in body.replace("\r", ""):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            flat = np.fromstring(body, dtype=np.float64, sep=" ")  # text mode: any whitespace separates
        except ValueError:
            return None
    if flat.size != n_frames * n_channels or not np.isfinite(flat).all():
        return None
    values = flat.reshape(n_frames, n_channels)
    if n_channels and not _rows_even(body, n_channels):
        return None
    return values


def _rows_even(body: str, n_channels: int) -> bool:
    """Whether the first and last lines hold ``n_channels`` values (cheap guard for the fast path)."""
    first = body[: body.find("\n")] if "\n" in body else body
    last = body[body.rfind("\n") + 1 :]
    return len(first.split()) == n_channels and len(last.split()) == n_channels


def _channel_label(joints: list[BvhJoint], col: int) -> str:
    for j in joints:
        if j.first <= col < j.first + len(j.channels):
            return f"{j.name} {j.channels[col - j.first]}"
    return f"column {col + 1}"


def _parse_frames(data: list[str], n_frames: int, n_channels: int, joints: list[BvhJoint], path: Path) -> np.ndarray:
    if len(data) < n_frames:
        raise InputFileError(path, f"truncated BVH: header declares {n_frames} frames, found {len(data)}")
    if len(data) > n_frames:
        raise InputFileError(path, f"header declares {n_frames} frames but the file has {len(data)} frame lines")
    rows = [ln.split() for ln in data]
    for k, row in enumerate(rows):
        if len(row) != n_channels:
            problem = "truncated BVH: " if k == len(rows) - 1 and len(row) < n_channels else ""
            raise InputFileError(path, f"{problem}frame {k + 1} has {len(row)} values, expected {n_channels}")
    try:
        values = np.array(rows, dtype=np.float64).reshape(n_frames, n_channels)
    except ValueError:
        for k, row in enumerate(rows):
            for c, v in enumerate(row):
                try:
                    float(v)
                except ValueError:
                    label = _channel_label(joints, c)
                    raise InputFileError(path, f"frame {k + 1}, {label}: {v[:20]!r} is not a number") from None
        raise InputFileError(path, "frame values are not numbers") from None
    bad = ~np.isfinite(values)
    if bad.any():
        k, c = np.argwhere(bad)[0]
        raise InputFileError(path, f"frame {k + 1}, {_channel_label(joints, c)}: value {values[k, c]} is not finite")
    return values


def _rotation_columns(joint: BvhJoint) -> tuple[str, list[int]]:
    cols = [joint.first + i for i, c in enumerate(joint.channels) if c.lower() in _ROT_CHANNELS]
    return "".join(_ROT_CHANNELS.get(c.lower(), "") for c in joint.channels), cols


def _position_columns(joint: BvhJoint) -> tuple[list[int], list[int]]:
    """(axes, columns) of a joint's position channels."""
    pairs = [
        (_POS_CHANNELS[c.lower()], joint.first + i) for i, c in enumerate(joint.channels) if c.lower() in _POS_CHANNELS
    ]
    return [a for a, _ in pairs], [c for _, c in pairs]


def euler_to_quat(order: str, degrees: np.ndarray) -> np.ndarray:
    """Quaternions (..., 4) of intrinsic Euler angles ``degrees`` (..., len(order)) in ``order``
    (``"ZXY"``: ``R = Rz Rx Ry``, scipy's uppercase convention), as products of axis rotations."""
    half = np.radians(degrees) * 0.5
    q = None
    for i, axis in enumerate(order):
        qa = np.zeros(half.shape[:-1] + (4,))
        qa[..., "XYZ".index(axis)] = np.sin(half[..., i])
        qa[..., 3] = np.cos(half[..., i])
        q = qa if q is None else quat_mul(q, qa)
    return q


def _translation_mode(bvh: BvhData) -> str:
    """``"replace"`` or ``"add"``: how non-root position channels combine with OFFSETs (module docstring)."""
    offsets, cols = [], []
    for joint in bvh.joints[1:]:
        axes, c = _position_columns(joint)
        offsets.extend(joint.offset[axes])
        cols.extend(c)
    if not cols:
        return "add"
    med = np.median(bvh.values[:, cols], axis=0)
    return "add" if np.abs(med).sum() < np.abs(med - np.array(offsets)).sum() else "replace"


def bvh_source_motion(bvh: BvhData) -> SourceMotion:
    """Global joint rotations, joint positions and rest points of a parsed BVH (vectorised over frames)."""
    t, n = bvh.values.shape[0], len(bvh.joints)
    ident = np.array([0.0, 0.0, 0.0, 1.0])
    local = np.broadcast_to(ident, (t, n, 4)).copy()
    groups: dict[str, tuple[list[int], list[int]]] = {}
    for j, joint in enumerate(bvh.joints):
        order, cols = _rotation_columns(joint)
        if order:
            g = groups.setdefault(order, ([], []))
            g[0].append(j)
            g[1].extend(cols)
    for order, (idx, cols) in groups.items():
        local[:, idx] = euler_to_quat(order, bvh.values[:, cols].reshape(t, len(idx), len(order)))
    mode = _translation_mode(bvh)
    has_child_channels = any(_position_columns(j)[1] for j in bvh.joints[1:])
    glob = np.empty((t, n, 4))
    pos = np.empty((t, n, 3))
    rest: dict[str, np.ndarray] = {}
    for j, joint in enumerate(bvh.joints):
        axes, cols = _position_columns(joint)
        trans = np.broadcast_to(joint.offset, (t, 3)).copy()
        rest_offset = joint.offset
        if cols:
            if mode == "replace" and (j > 0 or has_child_channels):
                trans[:, axes] = bvh.values[:, cols]
                if j > 0 and np.linalg.norm(joint.offset) < 1e-9:
                    rest_offset = np.median(trans, axis=0)  # no rest offset written: the usual one
            else:
                trans[:, axes] += bvh.values[:, cols]
        p = joint.parent
        if p < 0:
            glob[:, j] = local[:, j]
            pos[:, j] = trans
            rest[joint.name] = rest_offset.copy()
        else:
            glob[:, j] = quat_mul(glob[:, p], local[:, j])
            pos[:, j] = pos[:, p] + quat_rotate(glob[:, p], trans)
            rest[joint.name] = rest[bvh.joints[p].name] + rest_offset
        if joint.end is not None:
            rest[f"{joint.name}/End"] = rest[joint.name] + joint.end
    return SourceMotion(
        names=tuple(j.name for j in bvh.joints),
        global_quat=glob,
        root_pos=pos[:, 0].copy(),
        rest_points=rest,
        rate_hz=bvh.rate_hz,
        root=bvh.joints[0].name,
        parents=tuple(j.parent for j in bvh.joints),
        joint_pos=pos,
        meta={"translation_channels": mode if has_child_channels else "root"},
    )


def load_bvh(
    path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str | None = None,
    options: RetargetOptions | None = None,
) -> Motion:
    """Load a BVH file as a canonical :class:`Motion` on the 24-joint tree.

    Args:
        path: the ``.bvh`` file (any humanoid naming scheme, see
            :mod:`toolkit.sim.loaders.schemes`).
        height_m: body height to normalise to [m].
        rate_hz: output rate [Hz] (resampled from the file's ``Frame Time``).
        text: description; empty = looked up in a nearby ``index.tsv`` (:func:`describe_clip`).
        name: identifier; default the file stem.
        options: units, up axis and joint map (:class:`RetargetOptions`); default all automatic.

    Raises:
        InputFileError: unreadable, malformed or truncated file, or an unknown skeleton.
    """
    path = Path(path)
    src = bvh_source_motion(parse_bvh(path))
    return retarget(
        src,
        path,
        height_m=height_m,
        rate_hz=rate_hz,
        text=text or describe_clip(path),
        name=name or path.stem,
        meta={"format": "bvh", **src.meta},
        options=options,
    )
