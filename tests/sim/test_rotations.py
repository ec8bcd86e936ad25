"""The vectorised quaternion helpers agree with scipy."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from toolkit.sim.rotations import normalize_quat, quat_conj, quat_log, quat_mul, quat_rotate, quat_to_matrix


def test_helpers_match_scipy():
    a, b = Rotation.random(500, random_state=1), Rotation.random(500, random_state=2)
    qa, qb = a.as_quat(), b.as_quat()
    v = np.random.default_rng(3).normal(size=(500, 3))
    np.testing.assert_allclose(quat_to_matrix(qa), a.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(quat_mul(qa, qb)), (a * b).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(quat_rotate(qa, v), a.apply(v), atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(quat_conj(qa)), a.inv().as_matrix(), atol=1e-12)
    np.testing.assert_allclose(quat_log(qa), a.as_rotvec(), atol=1e-9)
    np.testing.assert_allclose(quat_log(-qa), a.as_rotvec(), atol=1e-9)  # q and -q are one rotation


def test_log_of_small_rotations_is_accurate():
    rv = np.array([[1e-9, 0, 0], [0, 3e-7, 1e-7], [0, 0, 0]])
    np.testing.assert_allclose(quat_log(Rotation.from_rotvec(rv).as_quat()), rv, atol=1e-15)


def test_normalize_quat():
    q = normalize_quat(np.array([[0.0, 0.0, 0.0, -2.0], [1.0, 1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(q, [[0, 0, 0, 1], [0.5, 0.5, 0.5, 0.5]])
