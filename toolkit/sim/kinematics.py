"""Forward kinematics on the 24-joint tree, vectorised over frames."""

from __future__ import annotations

from dataclasses import dataclass

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


def forward_kinematics(
    rest_joints: np.ndarray,
    local_quat: np.ndarray,
    root_pos: np.ndarray,
    joints: list[int] | None = None,
) -> Pose:
    """Global joint orientations and positions.

    ``G_0 = R_0``, ``p_0 = root_pos``; for a child ``j`` of ``p``: ``G_j = G_p R_j`` and
    ``p_j = p_p + G_p (J_j - J_p)``, with ``J`` the rest-pose joint positions.

    Args:
        rest_joints: (24, 3) rest-pose (T-pose) joint positions of the body [m].
        local_quat: (T, 24, 4) unit local joint rotations (x, y, z, w).
        root_pos: (T, 3) pelvis positions [m].
        joints: if given, only these joints and their ancestors are computed (faster).
    """
    todo = list(range(NUM_JOINTS)) if joints is None else ancestors(joints)
    col = {j: k for k, j in enumerate(todo)}
    # component-first (J, 4, T) / (J, 3, T) layout: each component contiguous over time
    local = np.ascontiguousarray(np.asarray(local_quat)[:, todo].transpose(1, 2, 0))
    quat = np.empty_like(local)
    pos = np.empty((len(todo), 3, local.shape[2]))
    for k, j in enumerate(todo):
        p = int(PARENTS[j])
        if p < 0:
            quat[k] = local[k]
            pos[k] = np.asarray(root_pos).T
        else:
            kp = col[p]
            quat[k] = quat_mul_cf(quat[kp], local[k])
            pos[k] = pos[kp] + quat_rotate_cf(quat[kp], rest_joints[j] - rest_joints[p])
    quat = quat.transpose(2, 0, 1)
    pos = pos.transpose(2, 0, 1)
    return Pose(quat=quat, pos=pos, joints=tuple(todo))
