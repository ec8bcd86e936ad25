"""BVH (Biovision Hierarchy) motion files: parser and loader onto the 24-joint tree.

Format: ``HIERARCHY`` with one ``ROOT`` and nested ``JOINT``/``End Site`` blocks, each with an
``OFFSET`` (rest position relative to the parent, file units) and, for joints, ``CHANNELS n ...``;
then ``MOTION``, ``Frames: T``, ``Frame Time: dt`` and T lines of channel values (degrees for
rotations). The rest pose (all channels zero) is given by the offsets alone.

Each joint's rotation channels are combined **in the order its own CHANNELS line lists them**:
``Zrotation Xrotation Yrotation`` means ``R = Rz Rx Ry`` (intrinsic ``"ZXY"`` in scipy). CMU
conversions mix ZYX and ZXY joints; forcing one order for all (IMUSim's bug) produces wrist
accelerations of thousands of m/s^2. Position channels may appear anywhere in a joint's list; the
root's world position is its ``OFFSET`` plus its position channels (position channels of other
joints are read but not used: the target skeleton has rigid bones). Global joint rotations are
``G_j = G_parent R_j`` and every global rotation is the identity at rest, which is what
:mod:`toolkit.sim.loaders.retarget` expects. Leading reference frames are dropped by the retargeting
(:func:`toolkit.sim.loaders.retarget.drop_leading_glitch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
from scipy.spatial.transform import Rotation

from toolkit.errors import InputFileError
from toolkit.sim.loaders.descriptions import describe_clip
from toolkit.sim.loaders.retarget import SourceMotion, retarget
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import quat_mul

_ROT_CHANNELS = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POS_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}


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


class _Tokens:
    """Whitespace tokens of the hierarchy section with their line numbers, for error messages."""

    def __init__(self, lines: list[str], path: str | Path):
        self.items = [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]
        self.pos = 0
        self.path = path

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise InputFileError(self.path, f"BVH hierarchy ends early: expected {what}")
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
        line = self.items[self.pos - 1][1] if self.pos else 1
        raise InputFileError(self.path, f"line {line}: {problem}")


def _parse_joint(tok: _Tokens, name: str, parent: int, joints: list[BvhJoint], n_channels: int) -> int:
    if any(j.name == name for j in joints):
        tok.fail(f"joint name {name!r} is used twice")
    joint = BvhJoint(name, parent, np.zeros(3), [], n_channels)
    index = len(joints)
    joints.append(joint)
    tok.expect("{")
    while True:
        word = tok.next("'}'")
        key = word.upper()
        if key == "OFFSET":
            joint.offset = np.array([tok.number(f"{name} OFFSET") for _ in range(3)])
        elif key == "CHANNELS":
            count = tok.number(f"{name} CHANNELS count")
            if count != int(count) or not 0 <= count <= 64:
                tok.fail(f"bad channel count {count} for joint {name}")
            joint.channels = [tok.next("a channel name") for _ in range(int(count))]
            bad = [c for c in joint.channels if c.lower() not in _ROT_CHANNELS and c.lower() not in _POS_CHANNELS]
            if bad:
                tok.fail(f"unknown channel {bad[0]!r} for joint {name}")
            joint.first = n_channels
            n_channels += int(count)
        elif key == "JOINT":
            n_channels = _parse_joint(tok, tok.next("a joint name"), index, joints, n_channels)
        elif key == "END":
            tok.expect("Site")
            tok.expect("{")
            tok.expect("OFFSET")
            joint.end = np.array([tok.number(f"{name} End Site OFFSET") for _ in range(3)])
            tok.expect("}")
        elif word == "}":
            return n_channels
        else:
            tok.fail(f"unexpected {word!r} in joint {name}")


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


def parse_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file.

    Raises:
        InputFileError: missing file, malformed hierarchy, missing ``MOTION``, truncated or
            non-numeric or non-finite frame values (the message says which frame and channel).
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise InputFileError(path, "not a complete BVH file: no MOTION section")
    tok = _Tokens(lines[:motion_at], path)
    tok.expect("HIERARCHY")
    tok.expect("ROOT")
    joints: list[BvhJoint] = []
    n_channels = _parse_joint(tok, tok.next("the root's name"), -1, joints, 0)
    if tok.pos < len(tok.items):
        tok.pos += 1
        tok.fail(f"unexpected {tok.items[tok.pos - 1][0]!r} after the root joint (one ROOT supported)")
    rest = [ln for ln in lines[motion_at + 1 :] if ln.strip()]
    if len(rest) < 2:
        raise InputFileError(path, "truncated BVH: MOTION lacks 'Frames:' and 'Frame Time:'")
    try:
        n_frames = int(_header_value(rest[0], "Frames", path))
        frame_time = float(_header_value(rest[1], "Frame Time", path))
    except ValueError:
        raise InputFileError(path, f"bad frame count or frame time: {rest[0].strip()!r}, {rest[1].strip()!r}") from None
    if n_frames < 1 or not (frame_time > 0 and np.isfinite(frame_time)):
        raise InputFileError(path, f"need Frames >= 1 and Frame Time > 0, got {n_frames} and {frame_time}")
    values = _parse_frames(rest[2:], n_frames, n_channels, joints, path)
    return BvhData(joints=joints, frame_time=frame_time, values=values)


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


def bvh_source_motion(bvh: BvhData) -> SourceMotion:
    """Global joint rotations, root trajectory and rest points of a parsed BVH (vectorised over frames)."""
    t = bvh.values.shape[0]
    rest: dict[str, np.ndarray] = {}
    glob = np.empty((t, len(bvh.joints), 4))
    root_pos = np.zeros((t, 3))
    for j, joint in enumerate(bvh.joints):
        base = rest[bvh.joints[joint.parent].name] if joint.parent >= 0 else np.zeros(3)
        rest[joint.name] = base + joint.offset
        if joint.end is not None:
            rest[f"{joint.name}/End"] = rest[joint.name] + joint.end
        order = "".join(_ROT_CHANNELS.get(c.lower(), "") for c in joint.channels)
        if order:
            cols = [joint.first + i for i, c in enumerate(joint.channels) if c.lower() in _ROT_CHANNELS]
            local = Rotation.from_euler(order, bvh.values[:, cols], degrees=True).as_quat()
        else:
            local = np.broadcast_to([0.0, 0.0, 0.0, 1.0], (t, 4))
        glob[:, j] = quat_mul(glob[:, joint.parent], local) if joint.parent >= 0 else local
        if joint.parent < 0:
            root_pos[:] = joint.offset
            for i, c in enumerate(joint.channels):
                if c.lower() in _POS_CHANNELS:
                    root_pos[:, _POS_CHANNELS[c.lower()]] += bvh.values[:, joint.first + i]
    return SourceMotion(
        names=tuple(j.name for j in bvh.joints),
        global_quat=glob,
        root_pos=root_pos,
        rest_points=rest,
        rate_hz=bvh.rate_hz,
        root=bvh.joints[0].name,
    )


def load_bvh(
    path: str | Path,
    *,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    text: str = "",
    name: str | None = None,
) -> Motion:
    """Load a BVH file as a canonical :class:`Motion` on the 24-joint tree.

    Args:
        path: the ``.bvh`` file (cgspeed or CMU-131-style joint names, see
            :mod:`toolkit.sim.loaders.retarget`).
        height_m: body height to normalise to [m].
        rate_hz: output rate [Hz] (resampled from the file's ``Frame Time``).
        text: description; empty = looked up in a nearby ``index.tsv`` (:func:`describe_clip`).
        name: identifier; default the file stem.

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
        meta={"format": "bvh"},
    )
