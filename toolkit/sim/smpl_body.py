"""SMPL / SMPL-H / SMPL-X bodies through ``smplx``, behind the :class:`BodyModel` interface.

Construction (once per body):

1. the model file is found and read without chumpy or pickle (:mod:`toolkit.sim.smpl_files`);
2. ``smplx`` builds the model from those arrays: SMPL and SMPL-H through ``data_struct`` (no file
   is re-read), SMPL-X from a private copy of the validated arrays (``smplx.SMPLX`` insists on a
   path). Hands are full-pose (``use_pca=False``) and flat in the zero pose
   (``flat_hand_mean=True``), so the zero pose is the T-pose with open hands;
3. one forward pass in the zero pose with the body's ``betas`` gives the rest mesh and joints.

Frames. SMPL's model frame is already the toolkit's world frame (y up, facing +z, left +x); this
is checked on every model (head above pelvis, left shoulder at +x, toes in front of the ankles).
Vertices and joints are only translated: soles (lowest vertex) to y = 0, pelvis to x = z = 0.

The 24 joints. SMPL's own 24 are used as they are. SMPL-H and SMPL-X have no SMPL hand joints
(22 / 23); the toolkit's hand joints are set to the **middle-finger base joints** (MCP knuckles,
``left_middle1`` / ``right_middle1``), which is where SMPL's hand joint sits (the start of the
fingers). Skinning weights are folded onto the 24 joints: finger joints to 22 / 23, SMPL-X's jaw
and eyes to the head (15).

Segment ends. Segments that end at a child joint end there; the five end segments (toes, head,
fingers) end at the farthest rest vertex skinned to them along their rest direction (toes +z,
head +y, left fingers +x, right fingers -x).

Normals are area-weighted face normals (numpy); faces are flipped once if the mesh's signed
volume is negative, so normals always point outward.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import smplx
import torch
from scipy.spatial.transform import Rotation
from smplx.joint_names import JOINT_NAMES as SMPLX_JOINT_NAMES
from smplx.joint_names import SMPLH_JOINT_NAMES
from smplx.utils import Struct

from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import FORWARD_WORLD, LEFT_WORLD, UP_AXIS, UP_WORLD
from toolkit.sim.body import UNSAMPLED_SEGMENTS, BodyModel
from toolkit.sim.imu import scaled_root
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.motion import Motion
from toolkit.sim.placements import Placement, frame_from_normal, rot_about_z, site_spec
from toolkit.sim.rotations import quat_to_matrix
from toolkit.sim.skeleton import NUM_JOINTS, PARENTS, SEGMENT_CHILD, SEGMENT_INDEX, SEGMENT_NAMES
from toolkit.sim.smpl_files import MODEL_JOINTS, file_sha256, find_model_file, load_model_file, model_type_of

#: Rest-pose direction of each end segment (the segment's far end lies along it).
_END_DIRECTIONS: dict[int, np.ndarray] = {
    10: FORWARD_WORLD,
    11: FORWARD_WORLD,
    15: UP_WORLD,
    22: LEFT_WORLD,
    23: -LEFT_WORLD,
}
#: A vertex counts as "mostly skinned" to a joint from this weight on.
_MOSTLY = 0.5
#: Default number of frames per smplx forward call in :meth:`SMPLBody.mesh_sequence`.
MESH_BATCH = 64


def _joint_names(model_type: str) -> list[str]:
    if model_type == "smplh":
        return list(SMPLH_JOINT_NAMES[: MODEL_JOINTS["smplh"]])
    if model_type == "smplx":
        return list(SMPLX_JOINT_NAMES[: MODEL_JOINTS["smplx"]])
    return [str(j) for j in range(NUM_JOINTS)]


def joint_fold(model_type: str) -> np.ndarray:
    """For each joint of the model type, the toolkit joint (0..23) that carries its skinning weight."""
    names = _joint_names(model_type)
    out = np.empty(len(names), dtype=np.int64)
    for c, name in enumerate(names):
        if model_type == "smpl" or c < 22:
            out[c] = c
        elif name in ("jaw", "left_eye_smplhf", "right_eye_smplhf"):
            out[c] = 15
        elif name.startswith("left_"):
            out[c] = 22
        elif name.startswith("right_"):
            out[c] = 23
        else:  # pragma: no cover - smplx's name lists hold nothing else in range
            raise ConfigError(f"cannot place joint {name!r} of {model_type}")
    return out


def hand_joint_columns(model_type: str) -> tuple[int, int]:
    """Model joints used as the toolkit's hand joints 22 / 23 (SMPL: its own; else the middle-finger bases)."""
    if model_type == "smpl":
        return 22, 23
    names = _joint_names(model_type)
    return names.index("left_middle1"), names.index("right_middle1")


def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit area-weighted vertex normals (V, 3) of a triangle mesh (faces (F, 3), counter-clockwise)."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    vn = np.zeros_like(verts, dtype=np.float64)
    idx = faces.ravel()
    for k in range(3):
        vn[:, k] = np.bincount(idx, weights=np.repeat(fn[:, k], 3), minlength=len(verts))
    norm = np.linalg.norm(vn, axis=1, keepdims=True)
    return vn / np.where(norm > 0, norm, 1.0)


def vertex_areas(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Surface area attributed to each vertex (V,) [m^2]: a third of each incident face."""
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    area = 0.5 * np.linalg.norm(fn, axis=1)
    return np.bincount(faces.ravel(), weights=np.repeat(area / 3.0, 3), minlength=len(verts))


def signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume enclosed by the mesh [m^3]; positive when faces wind counter-clockwise outside."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _available_betas(arrays: dict[str, np.ndarray], model_type: str) -> int:
    s = int(arrays["shapedirs"].shape[-1])
    if model_type == "smplx":  # smplx splits shape and expression: 300 + 100, or 10 + 10
        return 300 if s >= 400 else min(s, 10)
    return s


def _build_smplx(arrays: dict[str, np.ndarray], model_type: str, gender: str, num_betas: int, path: Path):
    """The smplx module for the validated arrays (see the module docstring)."""
    common = {"gender": gender, "num_betas": num_betas, "batch_size": 1, "dtype": torch.float32}
    quiet = contextlib.redirect_stdout(io.StringIO())  # smplx prints a warning for 10-beta models
    if model_type in ("smpl", "smplh"):
        data = dict(arrays)
        sd = data["shapedirs"]
        if sd.shape[-1] < smplx.SMPL.SHAPE_SPACE_DIM and num_betas > 10:
            # smplx keeps only 10 components of files with fewer than 300; zero padding lifts that.
            pad = np.zeros(sd.shape[:2] + (smplx.SMPL.SHAPE_SPACE_DIM - sd.shape[-1],), dtype=sd.dtype)
            data["shapedirs"] = np.concatenate([sd, pad], axis=-1)
        if model_type == "smpl":
            with quiet:
                return smplx.SMPL(str(path), data_struct=Struct(**data), **common)
        for side in "lr":  # unused with use_pca=False and flat hands, but smplx reads them
            data.setdefault(f"hands_components{side}", np.eye(45))
            data.setdefault(f"hands_mean{side}", np.zeros(45))
        with quiet:
            return smplx.SMPLH(str(path), data_struct=Struct(**data), use_pca=False, flat_hand_mean=True, **common)
    with tempfile.TemporaryDirectory() as tmp, quiet:
        # smplx.SMPLX only reads from a path: give it our own copy of the validated plain arrays,
        # never the user's file (smplx would open that with allow_pickle=True).
        copy = Path(tmp) / "SMPLX_MODEL.npz"
        np.savez(copy, **arrays)
        return smplx.SMPLX(str(copy), ext="npz", use_pca=False, flat_hand_mean=True, **common)


class SMPLBody(BodyModel):
    """A body from an SMPL / SMPL-H / SMPL-X model file (see the module docstring).

    Args:
        model_path: a model file (``.npz`` or official ``.pkl``) or a folder holding one (see
            :func:`toolkit.sim.smpl_files.find_model_file`).
        gender: ``"neutral"``, ``"male"`` or ``"female"`` (used to find the file in a folder and
            recorded in :meth:`describe`).
        model_type: ``"smpl"``, ``"smplh"`` or ``"smplx"``; None = from the file's joint count.
        betas: shape coefficients (shape augmentation); missing ones are zero.
    """

    kind = "smpl"

    def __init__(
        self,
        model_path: str | Path,
        gender: str = "neutral",
        model_type: str | None = None,
        betas: Sequence[float] | np.ndarray | None = None,
    ):
        path = find_model_file(model_path, model_type, gender)
        arrays = load_model_file(path)
        found = model_type_of(arrays)
        if model_type is not None and found != model_type:
            raise InputFileError(path, f"holds an {found} model ({MODEL_JOINTS[found]} joints), not {model_type}")
        self.model_type = found
        self.gender = gender
        self.model_file = path
        self.model_sha256 = file_sha256(path)
        parents = arrays["kintree_table"][0]
        n_tree = NUM_JOINTS if found == "smpl" else 22
        if not np.array_equal(parents[1:n_tree], PARENTS[1:n_tree]):
            raise InputFileError(path, "kintree_table is not SMPL's joint tree")
        betas_arr = np.zeros(0) if betas is None else np.asarray(betas, dtype=np.float64).ravel()
        available = _available_betas(arrays, found)
        if len(betas_arr) > available:
            raise ConfigError(f"{len(betas_arr)} betas given; this {found} model has {available} shape components")
        if not np.isfinite(betas_arr).all():
            raise ConfigError("betas must be finite")
        self.betas = betas_arr
        num_betas = min(max(10, len(betas_arr)), available)
        self._model = _build_smplx(arrays, found, gender, num_betas, path)
        self._betas_t = torch.zeros((1, num_betas), dtype=torch.float32)
        self._betas_t[0, : len(betas_arr)] = torch.from_numpy(betas_arr.astype(np.float32))
        with torch.no_grad():
            out = self._model(betas=self._betas_t, return_verts=True)
        verts = out.vertices[0].double().numpy()
        model_joints = out.joints[0, : MODEL_JOINTS[found]].double().numpy()
        joints = np.empty((NUM_JOINTS, 3))
        joints[:22] = model_joints[:22]
        joints[[22, 23]] = model_joints[list(hand_joint_columns(found))]
        self._check_frame(joints, path)
        self._model_pelvis = joints[0].copy()
        self._offset = np.array([-joints[0, 0], -verts[:, UP_AXIS].min(), -joints[0, 2]])
        self._verts = verts + self._offset
        self._joints = joints + self._offset
        faces = np.asarray(arrays["f"], dtype=np.int64)
        if signed_volume(self._verts, faces) < 0:
            faces = faces[:, [0, 2, 1]]
        self._faces = faces
        self._normals = vertex_normals(self._verts, faces)
        self._areas = vertex_areas(self._verts, faces)
        w = np.asarray(arrays["weights"], dtype=np.float64)
        self._weights = np.zeros((len(verts), NUM_JOINTS))
        np.add.at(self._weights.T, joint_fold(found), w.T)
        self._segment = np.argmax(self._weights, axis=1)
        self._ends = {j: self._end_point(j) for j in _END_DIRECTIONS}

    # ------------------------------------------------------------------------------------------
    # Construction helpers

    @staticmethod
    def _check_frame(joints: np.ndarray, path: Path) -> None:
        up = joints[15, 1] > joints[0, 1]
        left = joints[16, 0] > joints[17, 0]
        forward = joints[[10, 11], 2].mean() > joints[[7, 8], 2].mean()
        if not (up and left and forward):
            raise InputFileError(path, "rest pose is not in SMPL's frame (y up, facing +z, left +x)")

    def _end_point(self, joint: int) -> np.ndarray:
        d = _END_DIRECTIONS[joint]
        mine = self._verts[self._segment == joint]
        start = self._joints[joint]
        reach = float(np.max((mine - start) @ d)) if len(mine) else 0.0
        if reach <= 0:  # no vertex of this segment: a short stub along its direction
            reach = 0.05 * self.height_m
        return start + reach * d

    # ------------------------------------------------------------------------------------------
    # Geometry

    @property
    def rest_joints(self) -> np.ndarray:
        return self._joints

    @property
    def height_m(self) -> float:
        return float(np.ptp(self._verts[:, UP_AXIS]))

    @property
    def vertices(self) -> np.ndarray:
        """(V, 3) rest-pose mesh vertices in the world (soles at y = 0, pelvis at x = z = 0) [m]."""
        return self._verts

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) triangle vertex indices, counter-clockwise seen from outside."""
        return self._faces

    @property
    def normals(self) -> np.ndarray:
        """(V, 3) unit outward vertex normals of the rest mesh."""
        return self._normals

    @property
    def skin_weights(self) -> np.ndarray:
        """(V, 24) skinning weights folded onto the toolkit's 24 joints (rows sum to 1)."""
        return self._weights

    @property
    def vertex_segments(self) -> np.ndarray:
        """(V,) the joint (segment) carrying most of each vertex's skinning weight."""
        return self._segment

    @property
    def model_pelvis(self) -> np.ndarray:
        """(3,) rest pelvis joint in the model's own frame (SMPL's ``J_0`` for these betas) [m]."""
        return self._model_pelvis

    @property
    def model_offset(self) -> np.ndarray:
        """(3,) translation from the model's frame to the toolkit's rest frame [m]."""
        return self._offset

    def segment_ends(self, joint: int) -> tuple[np.ndarray, np.ndarray]:
        """Rest-pose start and end points (3,) of the segment driven by ``joint`` [m]."""
        child = SEGMENT_CHILD[joint]
        end = self._joints[child] if child >= 0 else self._ends[joint]
        return self._joints[joint], end

    def _axis(self, joint: int) -> np.ndarray:
        start, end = self.segment_ends(joint)
        return (end - start) / np.linalg.norm(end - start)

    # ------------------------------------------------------------------------------------------
    # Placements

    def site_vertex(self, name: str) -> int:
        """The mesh vertex a named site resolves to.

        Among vertices mostly skinned to the site's joint (weight >= 0.5; relaxed if none), the
        one closest to the ray that leaves the segment axis at ``u`` along the site's normal
        (only vertices in front of the axis point count).
        """
        spec = site_spec(name)
        start, end = self.segment_ends(spec.joint)
        origin = start + spec.u * (end - start)
        n = np.asarray(spec.normal, dtype=float)
        n = n / np.linalg.norm(n)
        w = self._weights[:, spec.joint]
        for cand in (np.flatnonzero(w >= _MOSTLY), np.flatnonzero(w > 0.1), np.arange(len(w))):
            rel = self._verts[cand] - origin
            t = rel @ n
            ahead = t > 0
            if ahead.any():
                cand, rel, t = cand[ahead], rel[ahead], t[ahead]
                perp = np.linalg.norm(rel - np.outer(t, n), axis=1)
                return int(cand[np.argmin(perp)])
        raise ConfigError(f"no surface vertex found for placement {name!r}")  # pragma: no cover

    def named_placement(self, name: str) -> Placement:
        spec = site_spec(name)
        vid = self.site_vertex(name)
        rot = frame_from_normal(self._normals[vid], np.asarray(spec.x_hint, dtype=float))
        return Placement(name=name, joint=spec.joint, offset=self._verts[vid] - self._joints[spec.joint], rot_js=rot)

    def _frame_along_axis(self, normal: np.ndarray, joint: int) -> np.ndarray:
        """+Z along ``normal``, +X as close to the segment axis as possible (caps: any tangent)."""
        for hint in (self._axis(joint), UP_WORLD, FORWARD_WORLD, LEFT_WORLD):
            if np.linalg.norm(hint - np.dot(hint, normal) * normal) > 0.1:
                return frame_from_normal(normal, hint)
        raise ConfigError("degenerate vertex normal")  # pragma: no cover

    def sample_vertices(self, n: int, rng: np.random.Generator, segments: list[str] | None = None) -> np.ndarray:
        """(n,) vertex ids drawn with probability proportional to their surface area, on ``segments``."""
        if n < 0:
            raise ConfigError(f"number of placements must be >= 0, got {n}")
        if segments is None:
            segments = [s for s in SEGMENT_NAMES if s not in UNSAMPLED_SEGMENTS]
        unknown = [s for s in segments if s not in SEGMENT_INDEX]
        if unknown:
            raise ConfigError(f"unknown segment(s) {unknown}; known: {', '.join(SEGMENT_NAMES)}")
        cand = np.flatnonzero(np.isin(self._segment, [SEGMENT_INDEX[s] for s in segments]))
        area = self._areas[cand]
        if len(cand) == 0 or area.sum() <= 0:
            raise ConfigError(f"this body has no surface on segments {segments}")
        return rng.choice(cand, size=n, p=area / area.sum())

    def sample_placements(
        self,
        n: int,
        rng: np.random.Generator,
        segments: list[str] | None = None,
        jitter_deg: float = 30.0,
    ) -> list[Placement]:
        out = []
        for k, vid in enumerate(self.sample_vertices(n, rng, segments)):
            j = int(self._segment[vid])
            rot = self._frame_along_axis(self._normals[vid], j)
            rot = rot @ rot_about_z(math.radians(rng.uniform(-jitter_deg, jitter_deg)))
            out.append(Placement(f"{SEGMENT_NAMES[j]}#{k}", j, self._verts[vid] - self._joints[j], rot))
        return out

    # ------------------------------------------------------------------------------------------
    # Deforming surface

    def skinned_vertices(self, motion: Motion, vertex_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """World positions (T, K, 3) [m] of rest vertices under ``motion`` by linear blend skinning.

        Uses this body's rest joints and its 24-joint skinning weights, and the root trajectory
        scaled as in :func:`toolkit.sim.imu.simulate_imu`. No pose blend shapes (the model's
        pose-dependent corrections) are applied: the result is the skinned rest surface, within
        millimetres of :meth:`mesh_sequence` away from strongly bent joints.
        """
        ids = np.asarray(vertex_ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= len(self._verts)):
            raise ConfigError(f"vertex ids must be within 0..{len(self._verts) - 1}")
        w = self._weights[ids]  # (K, 24)
        used = [int(j) for j in np.flatnonzero(w.any(axis=0))]
        out = np.zeros((motion.num_frames, len(ids), 3))
        if not used:
            return out
        pose = forward_kinematics(self._joints, motion.local_quat, scaled_root(motion, self), joints=used)
        cols = pose.columns(used)
        rot = quat_to_matrix(pose.quat[:, cols])  # (T, U, 3, 3)
        for k, (c, j) in enumerate(zip(cols, used, strict=True)):
            rel = self._verts[ids] - self._joints[j]  # (K, 3)
            moved = np.einsum("tab,kb->tka", rot[:, k], rel) + pose.pos[:, c][:, None, :]
            out += w[:, j][None, :, None] * moved
        return out

    def _pose_inputs(self, rotvec: np.ndarray) -> dict[str, torch.Tensor]:
        """smplx pose arguments for (B, 24, 3) axis-angle joint rotations."""
        b = rotvec.shape[0]
        t = torch.from_numpy(rotvec.astype(np.float32))
        kwargs = {"global_orient": t[:, 0]}
        if self.model_type == "smpl":
            kwargs["body_pose"] = t[:, 1:24].reshape(b, -1)
            return kwargs
        zeros = lambda d: torch.zeros((b, d), dtype=torch.float32)  # noqa: E731
        kwargs.update(body_pose=t[:, 1:22].reshape(b, -1), left_hand_pose=zeros(45), right_hand_pose=zeros(45))
        if self.model_type == "smplx":
            kwargs.update(jaw_pose=zeros(3), leye_pose=zeros(3), reye_pose=zeros(3))
            kwargs["expression"] = zeros(self._model.num_expression_coeffs)
        return kwargs

    def mesh_sequence(
        self, motion: Motion, frames: Sequence[int] | np.ndarray | None = None, batch_size: int = MESH_BATCH
    ) -> np.ndarray:
        """Full posed meshes (F, V, 3) float32 [m] in the world, by batched smplx forward passes.

        Includes the model's pose blend shapes. Joints 0..23 drive SMPL; for SMPL-H / SMPL-X
        joints 0..21 drive the body and the hands stay flat (the toolkit's hand joints 22 / 23
        have no SMPL-H / SMPL-X counterpart). The root follows the motion's root trajectory
        scaled as in :func:`toolkit.sim.imu.simulate_imu`.

        Args:
            motion: the motion.
            frames: frame indices to compute (default: all).
            batch_size: frames per smplx call (memory ~ batch_size x V x 200 bytes).
        """
        idx = np.arange(motion.num_frames) if frames is None else np.asarray(frames, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= motion.num_frames):
            raise ConfigError(f"frame indices must be within 0..{motion.num_frames - 1}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        quat = motion.local_quat[idx]
        rotvec = Rotation.from_quat(quat.reshape(-1, 4)).as_rotvec().reshape(len(idx), NUM_JOINTS, 3)
        transl = scaled_root(motion, self)[idx] - self._model_pelvis  # smplx: pelvis = J_0 + transl
        out = np.empty((len(idx), len(self._verts), 3), dtype=np.float32)
        with torch.no_grad():
            for s in range(0, len(idx), batch_size):
                e = min(s + batch_size, len(idx))
                res = self._model(
                    betas=self._betas_t.expand(e - s, -1),
                    transl=torch.from_numpy(transl[s:e].astype(np.float32)),
                    return_verts=True,
                    **self._pose_inputs(rotvec[s:e]),
                )
                out[s:e] = res.vertices.numpy()
        return out

    # ------------------------------------------------------------------------------------------

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "model_type": self.model_type,
            "gender": self.gender,
            "betas": [float(b) for b in self.betas],
            "model_sha256": self.model_sha256,
        }
