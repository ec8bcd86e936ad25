"""Ideal IMU synthesis: placement trajectories -> specific force and body-frame angular velocity.

Physics (conventions of :mod:`toolkit.frames`):

* accelerometer ``f_s = R_ws^T (a_w - g_w)`` with ``g_w = (0, -9.81, 0)`` m/s^2;
* gyroscope ``w_s = Log(R_ws(t-dt)^T R_ws(t+dt)) / (2 dt)``, the central difference of the sensor's
  own orientation, which is exact for a constant rate.

Derivatives. ``a_w`` is the second derivative of the placement's world position from a
Savitzky-Golay filter (cubic polynomial, window ``window_s`` = 0.1 s by default, 7 samples at
60 Hz; polynomial fit at the edges). The same filter (derivative order 0) then smooths the
gyroscope so that both channels have the same bandwidth. A cubic fit reproduces positions up to
third order exactly, so free fall (quadratic) and constant rates come out exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter
from scipy.spatial.transform import Rotation

from toolkit.errors import ConfigError
from toolkit.frames import GRAVITY_WORLD
from toolkit.sim.body import BodyModel
from toolkit.sim.kinematics import Pose, forward_kinematics
from toolkit.sim.motion import Motion
from toolkit.sim.placements import Placement
from toolkit.sim.rotations import quat_conj, quat_log, quat_mul, quat_rotate

#: Default Savitzky-Golay window for the derivatives [s].
DEFAULT_WINDOW_S = 0.1
_POLYORDER = 3
_CHUNK = 8192  # frames per forward-kinematics chunk


@dataclass
class ImuSignals:
    """Ideal IMU signals of P placements over T frames.

    Attributes:
        acc: (T, P, 3) specific force in each sensor frame [m/s^2].
        gyro: (T, P, 3) angular velocity in each sensor frame [rad/s].
        quat: (T, P, 4) sensor-to-world orientation (x, y, z, w).
        pos: (T, P, 3) sensor position in the world [m].
        rate_hz: sample rate [Hz].
        placements: the P placements.
        pose: the forward-kinematics result the signals came from.
    """

    acc: np.ndarray
    gyro: np.ndarray
    quat: np.ndarray
    pos: np.ndarray
    rate_hz: float
    placements: list[Placement]
    pose: Pose


def savgol_window(rate_hz: float, window_s: float = DEFAULT_WINDOW_S, num_frames: int | None = None) -> int:
    """Odd window length in samples for ``window_s`` at ``rate_hz`` (at least 5)."""
    w = max(5, 2 * int(round(window_s * rate_hz / 2)) + 1)
    if num_frames is not None and num_frames < w:
        w = num_frames if num_frames % 2 else num_frames - 1
    if w < _POLYORDER + 2:
        raise ConfigError(f"motion too short for IMU synthesis: {num_frames} frames (need at least 5)")
    return w


def placement_trajectories(pose: Pose, placements: list[Placement]) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, P, 3) and sensor-to-world orientations (T, P, 4) of the placements."""
    cols = pose.columns([p.joint for p in placements])
    q_j = pose.quat[:, cols]  # (T, P, 4)
    offsets = np.stack([p.offset for p in placements])  # (P, 3)
    q_js = np.stack([Rotation.from_matrix(p.rot_js).as_quat() for p in placements])  # (P, 4)
    pos = pose.pos[:, cols] + quat_rotate(q_j, np.broadcast_to(offsets, q_j.shape[:-1] + (3,)))
    quat = quat_mul(q_j, np.broadcast_to(q_js, q_j.shape))
    return pos, quat


def angular_velocity_body(quat: np.ndarray, rate_hz: float) -> np.ndarray:
    """Body-frame angular velocity (T, P, 3) [rad/s] from orientations (T, P, 4).

    ``Log(q(t-1)^-1 q(t+1)) / (2 dt)`` inside, one-sided differences at the two ends.
    """
    t = quat.shape[0]
    if t < 2:
        raise ConfigError("need at least 2 frames for angular velocity")
    prev = np.concatenate([quat[:1], quat[:-2], quat[-2:-1]])
    nxt = np.concatenate([quat[1:2], quat[2:], quat[-1:]])
    steps = np.full(t, 2.0)
    steps[0] = steps[-1] = 1.0
    w = quat_log(quat_mul(quat_conj(prev), nxt))
    return w * (rate_hz / steps)[:, None, None]


def synthesize(
    pos: np.ndarray, quat: np.ndarray, rate_hz: float, window_s: float = DEFAULT_WINDOW_S
) -> tuple[np.ndarray, np.ndarray]:
    """Ideal accelerometer and gyroscope from placement trajectories.

    Args:
        pos: (T, P, 3) world positions [m].
        quat: (T, P, 4) sensor-to-world orientations (x, y, z, w).
        rate_hz: sample rate [Hz].
        window_s: Savitzky-Golay window [s].

    Returns:
        acc (T, P, 3) [m/s^2] and gyro (T, P, 3) [rad/s], float64, in each sensor frame.
    """
    w = savgol_window(rate_hz, window_s, pos.shape[0])
    acc_world = savgol_filter(pos, w, _POLYORDER, deriv=2, delta=1.0 / rate_hz, axis=0, mode="interp")
    acc = quat_rotate(quat_conj(quat), acc_world - GRAVITY_WORLD)  # f_s = R_ws^T (a_w - g_w)
    gyro = savgol_filter(angular_velocity_body(quat, rate_hz), w, _POLYORDER, axis=0, mode="interp")
    return acc, gyro


def scaled_root(motion: Motion, body: BodyModel) -> np.ndarray:
    """The motion's root trajectory scaled to ``body``'s pelvis height (longer legs, longer strides)."""
    if np.isfinite(motion.pelvis_height_m) and motion.pelvis_height_m > 0:
        return motion.root_pos * (body.pelvis_height_m / motion.pelvis_height_m)
    return motion.root_pos


def simulate_imu(
    motion: Motion,
    body: BodyModel,
    placements: list[Placement],
    window_s: float = DEFAULT_WINDOW_S,
    all_joints: bool = False,
) -> ImuSignals:
    """Play ``motion`` on ``body`` and synthesise ideal IMU signals at the motion's rate.

    Args:
        motion: the motion (resample it first to the rate you want).
        body: the body model.
        placements: placements resolved on ``body``.
        window_s: Savitzky-Golay window [s].
        all_joints: compute forward kinematics for all 24 joints (else only what the placements
            need).
    """
    if not placements:
        raise ConfigError("no placements given")
    if not motion.is_finite():
        raise ConfigError(f"motion {motion.name or motion.source!r} contains NaN or infinite values")
    joints = None if all_joints else [p.joint for p in placements]
    root = scaled_root(motion, body)
    # Kinematics frame by frame in cache-sized chunks (2-3x faster on hour-long clips); the
    # derivatives then run over the whole clip.
    chunks = [
        forward_kinematics(body.rest_joints, motion.local_quat[s : s + _CHUNK], root[s : s + _CHUNK], joints)
        for s in range(0, motion.num_frames, _CHUNK)
    ]
    pose = (
        chunks[0]
        if len(chunks) == 1
        else Pose(
            quat=np.concatenate([c.quat for c in chunks]),
            pos=np.concatenate([c.pos for c in chunks]),
            joints=chunks[0].joints,
        )
    )
    pos, quat = placement_trajectories(pose, placements)
    acc, gyro = synthesize(pos, quat, motion.rate_hz, window_s)
    return ImuSignals(acc, gyro, quat, pos, motion.rate_hz, list(placements), pose)
