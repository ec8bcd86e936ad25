"""Vectorised quaternion helpers for the simulator's hot loop.

:mod:`scipy.spatial.transform` is used everywhere else; these few element-wise functions exist
because the simulator composes millions of rotations per run and scipy's per-call validation and
object construction cost more than the arithmetic. Quaternions are (x, y, z, w), scalar last, as
in scipy; every function here is checked against scipy in ``tests/sim/test_rotations.py``.
"""

from __future__ import annotations

import numpy as np


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions (..., 4): the rotation ``b`` followed by ``a``."""
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion)."""
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4): ``R(q) v``."""
    u = q[..., :3]
    w = q[..., 3:4]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4)."""
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    m = np.stack(
        [
            1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
            2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
            2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
        ],
        axis=-1,
    )  # fmt: skip
    return m.reshape(q.shape[:-1] + (3, 3))


def quat_log(q: np.ndarray) -> np.ndarray:
    """Rotation vectors (..., 3) [rad] of unit quaternions (..., 4), angle in [0, pi].

    ``theta = 2 atan2(|v|, |w|)`` along ``sign(w) v``, accurate for small angles.
    """
    v = q[..., :3] * np.where(q[..., 3:4] < 0, -1.0, 1.0)
    s = np.linalg.norm(v, axis=-1)
    theta = 2.0 * np.arctan2(s, np.abs(q[..., 3]))
    small = s < 1e-12
    factor = np.where(small, 2.0, theta / np.where(small, 1.0, s))
    return v * factor[..., None]


def normalize_quat(q: np.ndarray) -> np.ndarray:
    """Quaternions scaled to unit norm, with a non-negative scalar part."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return q * np.where(q[..., 3:4] < 0, -1.0, 1.0)
