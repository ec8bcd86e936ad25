"""Vectorised quaternion helpers for the simulator's hot loop.

:mod:`scipy.spatial.transform` is used everywhere else; these few element-wise functions exist
because the simulator composes millions of rotations per run and scipy's per-call validation and
object construction cost more than the arithmetic. Quaternions are (x, y, z, w), scalar last, as
in scipy; every function here is checked against scipy in ``tests/sim/test_rotations.py``.
"""

from __future__ import annotations

import numpy as np


def quat_mul_cf(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Hamilton product of component-first quaternions (4, ...): the rotation ``b`` followed by ``a``.

    Component-first arrays keep each component contiguous, which is what makes the forward
    kinematics over long clips fast; :func:`quat_mul` is the usual (..., 4) form. ``out``
    (4, ...) receives the product (it must not overlap ``a`` or ``b``).
    """
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    comps = (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )
    if out is None:
        return np.array(comps)
    for k, c in enumerate(comps):
        out[k] = c
    return out


def quat_rotate_cf(q: np.ndarray, v: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Rotate component-first vectors ``v`` (3, ...) by component-first unit quaternions ``q`` (4, ...).

    ``t = 2 u x v``, then ``v + w t + u x t`` with ``u`` the vector part (written out: np.cross is
    slow on tiny axes). ``out`` (3, ...) receives the result (it must not overlap ``q`` or ``v``).
    """
    x, y, z, w = q
    vx, vy, vz = v
    tx = 2.0 * (y * vz - z * vy)
    ty = 2.0 * (z * vx - x * vz)
    tz = 2.0 * (x * vy - y * vx)
    comps = (vx + w * tx + (y * tz - z * ty), vy + w * ty + (z * tx - x * tz), vz + w * tz + (x * ty - y * tx))
    if out is None:
        return np.array(comps)
    for k, c in enumerate(comps):
        out[k] = c
    return out


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of quaternions (..., 4): the rotation ``b`` followed by ``a``."""
    a, b = np.broadcast_arrays(a, b)
    return np.moveaxis(quat_mul_cf(np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)), 0, -1)


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (the inverse of a unit quaternion)."""
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4): ``R(q) v``."""
    shape = np.broadcast_shapes(q.shape[:-1], v.shape[:-1])
    q = np.broadcast_to(q, shape + (4,))
    v = np.broadcast_to(v, shape + (3,))
    return np.moveaxis(quat_rotate_cf(np.moveaxis(q, -1, 0), np.moveaxis(v, -1, 0)), 0, -1)


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
    one = q.dtype.type(1) if q.dtype.kind == "f" else 1.0  # float32 in, float32 out
    v = q[..., :3] * np.where(q[..., 3:4] < 0, -one, one)
    s = np.sqrt(np.einsum("...i,...i->...", v, v))  # |v| (einsum: 3x faster than np.linalg.norm here)
    theta = 2.0 * np.arctan2(s, np.abs(q[..., 3]))
    small = s < 1e-12
    factor = np.where(small, 2.0, theta / np.where(small, 1.0, s))
    return v * factor[..., None]


def quat_log_cf(q: np.ndarray) -> np.ndarray:
    """:func:`quat_log` of component-first quaternions (4, ...) -> component-first rotation vectors (3, ...)."""
    x, y, z, w = q
    sign = np.where(w < 0, -1.0, 1.0)
    vx, vy, vz = x * sign, y * sign, z * sign
    s = np.sqrt(vx * vx + vy * vy + vz * vz)
    theta = 2.0 * np.arctan2(s, np.abs(w))
    small = s < 1e-12
    factor = np.where(small, 2.0, theta / np.where(small, 1.0, s))
    return np.array([vx * factor, vy * factor, vz * factor])


def normalize_quat(q: np.ndarray) -> np.ndarray:
    """Quaternions scaled to unit norm, with a non-negative scalar part."""
    scale = np.copysign(1.0 / np.sqrt(np.einsum("...i,...i->...", q, q)), q[..., 3])
    return q * scale[..., None]
