"""Forward kinematics on the 24-joint tree, vectorised over frames."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from toolkit.sim.rotations import quat_mul_cf, quat_rotate_cf, quat_to_matrix
from toolkit.sim.skeleton import NUM_JOINTS, PARENTS, ancestors


@dataclass
class Pose:
    """World pose of the computed joints over time.

    Attributes:
        quat: (T, J, 4) global orientations (joint frame to world), (x, y, z, w).
        pos: (T, J, 3) world positions [m].
        joints: the J computed joint indices, in column order (all 24 unless a subset was asked).
    """

    quat: np.ndarray
    pos: np.ndarray
    joints: tuple[int, ...]

    def columns(self, joints: list[int]) -> list[int]:
        """Column indices of ``joints`` in :attr:`quat` and :attr:`pos`."""
        where = {j: k for k, j in enumerate(self.joints)}
        try:
            return [where[j] for j in joints]
        except KeyError as e:
            raise KeyError(f"joint {e.args[0]} was not computed") from None

    @property
    def rot(self) -> np.ndarray:
        """(T, J, 3, 3) global rotation matrices."""
        return quat_to_matrix(self.quat)


@lru_cache(maxsize=64)
def _levels(todo: tuple[int, ...]) -> tuple[tuple[slice | np.ndarray, np.ndarray], ...]:
    """Columns of ``todo`` grouped by depth in the tree: ``(child columns, their parents' columns)``
    per level below the root (a slice where the children's columns are consecutive)."""
    col = {j: k for k, j in enumerate(todo)}
    depth = {0: 0}
    for j in todo[1:]:
        depth[j] = depth[int(PARENTS[j])] + 1
    levels = []
    for d in range(1, max(depth.values()) + 1):
        kids = [col[j] for j in todo if depth[j] == d]
        parents = np.array([col[int(PARENTS[todo[k]])] for k in kids])
        cols = slice(kids[0], kids[-1] + 1) if kids == list(range(kids[0], kids[-1] + 1)) else np.array(kids)
        levels.append((cols, parents))
    return tuple(levels)


def forward_kinematics(
    rest_joints: np.ndarray,
    local_quat: np.ndarray,
    root_pos: np.ndarray,
    joints: list[int] | None = None,
) -> Pose:
    """Global joint orientations and positions.

    ``G_0 = R_0``, ``p_0 = root_pos``; for a child ``j`` of ``p``: ``G_j = G_p R_j`` and
    ``p_j = p_p + G_p (J_j - J_p)``, with ``J`` the rest-pose joint positions. All joints of one
    depth in the tree are computed together (8 levels instead of 23 joints: fewer, larger numpy
    operations); each joint's arithmetic is the same as joint by joint.

    Args:
        rest_joints: (24, 3) rest-pose (T-pose) joint positions of the body [m].
        local_quat: (T, 24, 4) unit local joint rotations (x, y, z, w).
        root_pos: (T, 3) pelvis positions [m].
        joints: if given, only these joints and their ancestors are computed (faster).

    Returns:
        The :class:`Pose`; its arrays are (T, J, ...) views of component-first arrays.
    """
    todo = tuple(range(NUM_JOINTS)) if joints is None else tuple(ancestors(joints))
    rest = np.asarray(rest_joints, dtype=np.float64)
    # component-first (4, J, T) / (3, J, T) layout: each component contiguous over time
    local_quat = np.asarray(local_quat)
    picked = local_quat if len(todo) == local_quat.shape[1] else local_quat[:, list(todo)]  # (no gather for all)
    local = np.ascontiguousarray(picked.transpose(2, 1, 0))
    offsets = (rest[list(todo)] - rest[PARENTS[list(todo)]]).T[..., None]  # (3, J, 1); column 0 unused
    quat = np.empty_like(local)
    pos = np.empty((3, len(todo), local.shape[2]))
    quat[:, 0] = local[:, 0]
    pos[:, 0] = np.asarray(root_pos).T
    for cols, parents in _levels(todo):
        qp = quat[:, parents]
        if isinstance(cols, slice):  # write in place (no stacked temporary)
            quat_mul_cf(qp, local[:, cols], out=quat[:, cols])
            quat_rotate_cf(qp, offsets[:, cols], out=pos[:, cols])
            pos[:, cols] += pos[:, parents]
        else:
            quat[:, cols] = quat_mul_cf(qp, local[:, cols])
            pos[:, cols] = quat_rotate_cf(qp, offsets[:, cols]) + pos[:, parents]
    return Pose(quat=quat.transpose(2, 1, 0), pos=pos.transpose(2, 1, 0), joints=todo)
