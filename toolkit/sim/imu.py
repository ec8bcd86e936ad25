"""Ideal IMU synthesis: placement trajectories -> specific force and body-frame angular velocity.

Physics (conventions of :mod:`toolkit.frames`):

* accelerometer ``f_s = R_ws^T (a_w - g_w)`` with ``g_w = (0, -9.81, 0)`` m/s^2;
* gyroscope: the body-frame angular velocity ``w_s``, the derivative at ``s = 0`` of
  ``phi_t(s) = Log(R_ws(t)^T R_ws(t + s))`` (exact for a constant rate).

Derivatives and bandwidth. Both channels are differentiated with exact-order central stencils and
then low-passed by one and the same zero-phase filter, so they share one band whose -3 dB point is
``bandwidth_hz`` (:data:`DEFAULT_BANDWIDTH_HZ` = 15 Hz, ``--acc-bandwidth-hz``):

1. ``a_w``: the 7-point, 6th-order central second difference of the world position; ``w_s``: the
   7-point, 6th-order central first difference of ``phi_t(k)``, ``k = -3..3`` (body-frame rotation
   vectors relative to the current orientation). Both stencils are exact for polynomials of degree
   <= 6 (free fall, constant rates) and lose < 0.3 % of gain at a quarter of the sample rate.
2. A linear-phase FIR low-pass applied centred (zero phase): a Kaiser-windowed sinc (60 dB stop
   band, transition band 0.4 ``bandwidth_hz`` wide, cut-off placed so that the -3 dB point is at
   ``bandwidth_hz``), normalised to unit DC gain. A symmetric kernel with unit DC gain leaves
   constants and ramps unchanged, so constant accelerations and rates stay exact. It is built with
   numpy alone (``np.kaiser``, ``np.sinc``): importing :mod:`scipy.signal` costs ~0.3 s of start-up
   per process, more than simulating ten minutes of motion. When the band reaches the Nyquist
   frequency (``bandwidth_hz > 0.45 rate_hz``) no low-pass is applied.
3. Edges: a position is extended past each end by its point reflection plus the curvature of a
   least-squares parabola over the end (``x(-k) = 2 x(0) - x(k) + A k^2``), exact for parabolas
   (free fall); an orientation by its reflection in the tangent space (``phi(-k) = -phi(k)``), which
   keeps the end rate exact; the derivatives are extended by odd reflection for the low-pass.

Why 15 Hz. The accelerations of daily human activity lie below ~20 Hz (Bouten et al. 1997, IEEE
Trans. Biomed. Eng. 44(3):136-147, the commonly cited bandwidth an activity accelerometer needs)
and ~99 % of the acceleration power of walking lies below 15 Hz (Antonsson & Mann 1985, J. Biomech.
18(1):39-47, as reviewed by Mathie et al. 2004, Physiol. Meas. 25:R1-R20); wrist movements of daily
life, tremor included (4-12 Hz), sit below ~10-12 Hz. At the default 60 Hz a 15 Hz band keeps that
range flat and stays clear of the Nyquist frequency (30 Hz), where motion-capture jitter dominates.

Measured response (``python -m tests.sim.test_imu_bandwidth``; amplitude gain of a root translating
(acc) or turning (gyro) sinusoidally, default 15 Hz band):

============  =====  =====  =====  =====  =====  =====  =====
channel rate  1 Hz   2 Hz   4 Hz   6 Hz   8 Hz  10 Hz  12 Hz
============  =====  =====  =====  =====  =====  =====  =====
acc   60 Hz   1.000  1.000  1.000  1.000  0.999  0.998  0.995
gyro  60 Hz   1.000  1.000  1.000  1.000  0.998  0.993  0.980
acc  120 Hz   1.000  1.000  1.000  1.000  1.000  1.000  1.000
gyro 120 Hz   1.000  1.000  1.000  1.000  0.999  1.000  1.000
============  =====  =====  =====  =====  =====  =====  =====

-3 dB points: acc 14.95 Hz / gyro 14.82 Hz at 60 Hz, 15.00 / 15.00 Hz at 120 Hz (the former 0.1 s
cubic Savitzky-Golay acceleration: 0.96 at 2 Hz, 0.86 at 4 Hz, 0.54 at 8 Hz). Jitter: white
position noise of 1 mm RMS per axis gives 2.8 m/s^2 RMS per axis of acceleration noise at 60 Hz
with the 15 Hz band, 0.6 m/s^2 with an 8 Hz band (noise power grows as the band to the fifth
power, ``s^2 (2/fs) (2 pi)^4 B^5 / 5``); lower ``bandwidth_hz`` for jittery sources.

Speed and memory (issue 11: an hour of motion in well under 2 s). Forward kinematics runs in
chunks of :data:`_CHUNK` frames, all joints of one tree level at a time, and keeps only the
placements' (T, P) trajectories (plus, on request, every joint's position in a caller's array);
the derivatives and the filter run in blocks of :data:`_BLOCK` frames. Every sample is computed
with the same arithmetic as on the whole clip at once (``tests/sim/test_fast_paths.py``: chunked
== unchunked), everything in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import GRAVITY_WORLD
from toolkit.sim.body import BodyModel
from toolkit.sim.kinematics import Pose, forward_kinematics
from toolkit.sim.motion import Motion
from toolkit.sim.placements import Placement
from toolkit.sim.rotations import quat_conj, quat_log_cf, quat_mul, quat_mul_cf, quat_rotate

#: Default -3 dB bandwidth of both channels [Hz] (see the module docstring).
DEFAULT_BANDWIDTH_HZ = 15.0
#: Fewest frames IMU synthesis accepts (the stencils reach 3 frames to each side).
MIN_FRAMES = 4
_HALF = 3  # stencil half-width
_D1 = np.array([-1.0, 9.0, -45.0, 0.0, 45.0, -9.0, 1.0]) / 60.0  # 1st derivative, 6th order
_D2 = np.array([2.0, -27.0, 270.0, -490.0, 270.0, -27.0, 2.0]) / 180.0  # 2nd derivative, 6th order
_STOP_DB = 60.0  # Kaiser design: stop-band attenuation [dB]
_TRANSITION = 0.4  # transition width as a fraction of the bandwidth
_CHUNK = 4096  # frames per forward-kinematics chunk
_BLOCK = 4096  # frames per block of the derivative and filter loops (cache-sized)


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
        pose: the forward kinematics of all 24 joints (only with ``simulate_imu(all_joints=True)``,
            else None).
    """

    acc: np.ndarray
    gyro: np.ndarray
    quat: np.ndarray
    pos: np.ndarray
    rate_hz: float
    placements: list[Placement]
    pose: Pose | None = None


def check_bandwidth(rate_hz: float, bandwidth_hz: float) -> None:
    """Raise :class:`ConfigError` unless ``bandwidth_hz`` is a usable band at ``rate_hz``."""
    if not (np.isfinite(bandwidth_hz) and 0.5 <= bandwidth_hz):
        raise ConfigError(f"acceleration bandwidth must be >= 0.5 Hz, got {bandwidth_hz}")
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise ConfigError(f"rate must be positive, got {rate_hz}")


def _windowed_sinc(cutoff: float, numtaps: int, beta: float) -> np.ndarray:
    n = np.arange(numtaps) - (numtaps - 1) / 2
    h = np.sinc(2.0 * cutoff * n) * np.kaiser(numtaps, beta)
    return h / h.sum()


def _gain(h: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Amplitude response of a centred symmetric kernel at normalised frequencies ``f`` (cycles/sample)."""
    n = np.arange(len(h)) - (len(h) - 1) / 2
    return np.cos(2.0 * np.pi * np.outer(f, n)) @ h


@lru_cache(maxsize=32)
def lowpass_kernel(rate_hz: float, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ) -> np.ndarray | None:
    """The zero-phase low-pass both channels share (see the module docstring).

    Args:
        rate_hz: sample rate [Hz].
        bandwidth_hz: the -3 dB frequency [Hz].

    Returns:
        (N,) symmetric FIR kernel (odd N, unit sum, read-only, cached per (rate, band)), or None
        when the band reaches the Nyquist frequency (no filtering needed).
    """
    check_bandwidth(rate_hz, bandwidth_hz)
    b = bandwidth_hz / rate_hz  # cycles per sample
    if b > 0.45:
        return None
    width = min(_TRANSITION * b, 2.0 * (0.5 - b))  # the stop band must fit below Nyquist
    beta = 0.1102 * (_STOP_DB - 8.7)
    numtaps = int(np.ceil((_STOP_DB - 7.95) / (2.285 * 2.0 * np.pi * width))) | 1
    cutoff = b + 0.1 * width
    for _ in range(3):  # place the -3 dB point on the bandwidth (the response is smooth there)
        h = _windowed_sinc(cutoff, numtaps, beta)
        f = np.linspace(b - width, b + width, 201)
        f3 = np.interp(-(2**-0.5), -_gain(h, f), f)
        cutoff = min(cutoff + (b - f3), 0.499)
    h = _windowed_sinc(cutoff, numtaps, beta)
    h.flags.writeable = False  # cached: shared by every call
    return h


def _apply_kernel(x: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    """Centred convolution along axis 0; ends extended by odd reflection (ramps pass unchanged).

    Evaluated in blocks of :data:`_BLOCK` frames (cache-sized, no array-sized temporaries); each
    output sample is the same sum as for the whole array at once.
    """
    if kernel is None:
        return x
    half = len(kernel) // 2
    pad = np.pad(x, [(half, half)] + [(0, 0)] * (x.ndim - 1), mode="reflect", reflect_type="odd")
    out = np.empty(x.shape, dtype=x.dtype)  # C order, whatever the layout of x
    for s in range(0, x.shape[0], _BLOCK):
        t = min(_BLOCK, x.shape[0] - s)
        acc = kernel[half] * pad[s + half : s + half + t]
        for k in range(half):  # symmetric: one multiply per pair of taps
            acc += kernel[k] * (pad[s + k : s + k + t] + pad[s + 2 * half - k : s + 2 * half - k + t])
        out[s : s + t] = acc
    return out


def _stencil(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Apply a 7-point stencil along axis 0 of an array padded by 3 frames each side (in blocks)."""
    n = x.shape[0] - 2 * _HALF
    out = np.empty((n,) + x.shape[1:], dtype=np.result_type(x, coeffs))
    for s in range(0, n, _BLOCK):
        t = min(_BLOCK, n - s)
        acc = coeffs[0] * x[s : s + t]
        for k in range(1, len(coeffs)):
            if coeffs[k] != 0.0:
                acc = acc + coeffs[k] * x[s + k : s + k + t]
        out[s : s + t] = acc
    return out


def _end_curvature(x: np.ndarray) -> np.ndarray:
    """Second derivative per frame^2 of the least-squares parabola through ``x`` (m, ...) at x[0]."""
    m = x.shape[0]
    k = np.arange(m, dtype=np.float64)
    fit = np.polynomial.polynomial.polyfit(k, x.reshape(m, -1), 2)  # (3, n)
    return (2.0 * fit[2]).reshape(x.shape[1:])


def pad_positions(pos: np.ndarray, rate_hz: float, bandwidth_hz: float) -> np.ndarray:
    """(T + 6, ...) positions extended by 3 frames each side: point reflection + end curvature."""
    t = pos.shape[0]
    m = int(min(t, max(3, round(2.0 * rate_hz / bandwidth_hz))))
    k2 = (np.arange(_HALF, 0, -1, dtype=np.float64) ** 2)[(slice(None),) + (None,) * (pos.ndim - 1)]
    head = 2.0 * pos[0] - pos[_HALF:0:-1] + _end_curvature(pos[:m]) * k2
    tail = 2.0 * pos[-1] - pos[-2 : -2 - _HALF : -1] + _end_curvature(pos[: -m - 1 : -1]) * k2[::-1]
    return np.concatenate([head, pos, tail])


def pad_orientations(quat: np.ndarray) -> np.ndarray:
    """(T + 6, ..., 4) orientations extended by 3 frames each side: ``q(-k) = q0 q(k)^-1 q0``."""
    head = quat_mul(quat_mul(quat[:1], quat_conj(quat[_HALF:0:-1])), quat[:1])
    tail = quat_mul(quat_mul(quat[-1:], quat_conj(quat[-2 : -2 - _HALF : -1])), quat[-1:])
    return np.concatenate([head, quat, tail])


def acceleration_world(pos: np.ndarray, rate_hz: float, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ) -> np.ndarray:
    """World acceleration (T, ..., 3) [m/s^2] of positions (T, ..., 3) [m], band-limited to ``bandwidth_hz``."""
    raw = _stencil(pad_positions(pos, rate_hz, bandwidth_hz), _D2) * (rate_hz * rate_hz)
    return _apply_kernel(raw, lowpass_kernel(rate_hz, bandwidth_hz))


def angular_velocity_body(quat: np.ndarray, rate_hz: float, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ) -> np.ndarray:
    """Body-frame angular velocity (T, ..., 3) [rad/s] of orientations (T, ..., 4), band-limited alike."""
    padded = np.ascontiguousarray(np.moveaxis(pad_orientations(quat), -1, 0))  # component-first (4, T + 6, ...)
    n = quat.shape[0]
    raw = np.empty((3,) + quat.shape[:-1])
    for s in range(0, n, _BLOCK):  # cache-sized blocks; every sample is the same sum as unblocked
        t = min(_BLOCK, n - s)
        here = padded[:, s + _HALF : s + _HALF + t]
        conj = np.array([-here[0], -here[1], -here[2], here[3]])
        acc = np.zeros((3, t) + quat.shape[1:-1])
        for k in (1, 2, 3):  # phi(k) and phi(-k), relative to the current orientation
            c = _D1[_HALF + k]
            fwd = padded[:, s + _HALF + k : s + _HALF + k + t]
            back = padded[:, s + _HALF - k : s + _HALF - k + t]
            acc += c * (quat_log_cf(quat_mul_cf(conj, fwd)) - quat_log_cf(quat_mul_cf(conj, back)))
        raw[:, s : s + t] = acc
    return _apply_kernel(np.moveaxis(raw, 0, -1) * rate_hz, lowpass_kernel(rate_hz, bandwidth_hz))


def placement_trajectories(pose: Pose, placements: list[Placement]) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, P, 3) and sensor-to-world orientations (T, P, 4) of the placements."""
    cols = pose.columns([p.joint for p in placements])
    q_j = pose.quat[:, cols]  # (T, P, 4)
    offsets = np.stack([p.offset for p in placements])  # (P, 3)
    q_js = np.stack([matrix_to_quat(p.rot_js) for p in placements])  # (P, 4)
    pos = pose.pos[:, cols] + quat_rotate(q_j, np.broadcast_to(offsets, q_j.shape[:-1] + (3,)))
    quat = quat_mul(q_j, np.broadcast_to(q_js, q_j.shape))
    return pos, quat


def matrix_to_quat(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of one rotation matrix (3, 3) (Shepperd's method, no scipy import)."""
    m = np.asarray(rot, dtype=np.float64)
    tr = np.trace(m)
    cands = np.array([tr, m[0, 0], m[1, 1], m[2, 2]])
    i = int(np.argmax(cands))
    if i == 0:
        w = 0.5 * np.sqrt(1.0 + tr)
        q = np.array([(m[2, 1] - m[1, 2]), (m[0, 2] - m[2, 0]), (m[1, 0] - m[0, 1]), 0.0]) / (4.0 * w)
        q[3] = w
    else:
        a = i - 1
        b, c = (a + 1) % 3, (a + 2) % 3
        v = 0.5 * np.sqrt(1.0 + m[a, a] - m[b, b] - m[c, c])
        q = np.empty(4)
        q[a] = v
        q[b] = (m[b, a] + m[a, b]) / (4.0 * v)
        q[c] = (m[c, a] + m[a, c]) / (4.0 * v)
        q[3] = (m[c, b] - m[b, c]) / (4.0 * v)
    return q / np.linalg.norm(q)


def synthesize(
    pos: np.ndarray, quat: np.ndarray, rate_hz: float, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Ideal accelerometer and gyroscope from placement trajectories.

    Args:
        pos: (T, P, 3) world positions [m].
        quat: (T, P, 4) sensor-to-world orientations (x, y, z, w).
        rate_hz: sample rate [Hz].
        bandwidth_hz: -3 dB bandwidth of both channels [Hz].

    Returns:
        acc (T, P, 3) [m/s^2] and gyro (T, P, 3) [rad/s], float64, in each sensor frame.
    """
    if pos.shape[0] < MIN_FRAMES:
        raise ConfigError(f"motion too short for IMU synthesis: {pos.shape[0]} frames (need at least {MIN_FRAMES})")
    acc = acceleration_world(pos, rate_hz, bandwidth_hz)
    for s in range(0, acc.shape[0], _BLOCK):  # f_s = R_ws^T (a_w - g_w), in place, block by block
        acc[s : s + _BLOCK] = quat_rotate(quat_conj(quat[s : s + _BLOCK]), acc[s : s + _BLOCK] - GRAVITY_WORLD)
    gyro = angular_velocity_body(quat, rate_hz, bandwidth_hz)
    return acc, gyro


def scaled_root(motion: Motion, body: BodyModel) -> np.ndarray:
    """The motion's root trajectory scaled to ``body``'s pelvis height (longer legs, longer strides)."""
    if np.isfinite(motion.pelvis_height_m) and motion.pelvis_height_m > 0:
        return motion.root_pos * (body.pelvis_height_m / motion.pelvis_height_m)
    return motion.root_pos


def placement_kinematics(
    rest_joints: np.ndarray,
    local_quat: np.ndarray,
    root_pos: np.ndarray,
    placements: list[Placement],
    joints_out: np.ndarray | None = None,
    chunk: int = _CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Placement trajectories by forward kinematics in cache-sized chunks of frames.

    Only the (T, P, ...) placement trajectories are kept: the kinematics of a chunk is used and
    dropped, so an hour-long clip needs no (T, 24, ...) arrays (forward kinematics works frame by
    frame: the chunking changes no number).

    Args:
        rest_joints: (24, 3) rest-pose joint positions of the body [m].
        local_quat: (T, 24, 4) local joint rotations (x, y, z, w).
        root_pos: (T, 3) pelvis positions [m].
        placements: the P placements.
        joints_out: optional (T, 24, 3) array (any float dtype) that receives every joint's world
            position [m]; without it only the placements' kinematic chains are computed.
        chunk: frames per chunk.

    Returns:
        World positions (T, P, 3) [m] and sensor-to-world orientations (T, P, 4), float64.
    """
    t = local_quat.shape[0]
    joints = None if joints_out is not None else [p.joint for p in placements]
    pos = np.empty((t, len(placements), 3))
    quat = np.empty((t, len(placements), 4))
    for s in range(0, t, chunk):
        pose = forward_kinematics(rest_joints, local_quat[s : s + chunk], root_pos[s : s + chunk], joints)
        pos[s : s + chunk], quat[s : s + chunk] = placement_trajectories(pose, placements)
        if joints_out is not None:
            joints_out[s : s + chunk] = pose.pos
    return pos, quat


def play(
    motion: Motion, body: BodyModel, placements: list[Placement], joints_out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Play ``motion`` on ``body``: the placements' trajectories (the first half of :func:`simulate_imu`).

    Args:
        motion: the motion.
        body: the body model.
        placements: placements resolved on ``body``.
        joints_out: optional (T, 24, 3) array that receives every joint's world position [m].

    Returns:
        World positions (T, P, 3) [m] and sensor-to-world orientations (T, P, 4) (:func:`placement_kinematics`).
    """
    if not placements:
        raise ConfigError("no placements given")
    if not motion.is_finite():
        raise ConfigError(f"motion {motion.name or motion.source!r} contains NaN or infinite values")
    return placement_kinematics(body.rest_joints, motion.local_quat, scaled_root(motion, body), placements, joints_out)


def simulate_imu(
    motion: Motion,
    body: BodyModel,
    placements: list[Placement],
    bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ,
    all_joints: bool = False,
    joints_out: np.ndarray | None = None,
) -> ImuSignals:
    """Play ``motion`` on ``body`` and synthesise ideal IMU signals at the motion's rate.

    Args:
        motion: the motion (resample it first to the rate you want).
        body: the body model.
        placements: placements resolved on ``body``.
        bandwidth_hz: -3 dB bandwidth of both channels [Hz].
        all_joints: keep the forward kinematics of all 24 joints in ``ImuSignals.pose`` (T x 24
            orientations and positions in memory); else ``pose`` is None and only the placements'
            kinematic chains are computed, chunk by chunk (:func:`placement_kinematics`).
        joints_out: optional (T, 24, 3) array that receives every joint's world position [m]
            (the dataset's ``joints``) without keeping the rest of the kinematics.
    """
    pose = None
    if all_joints:
        if not placements:
            raise ConfigError("no placements given")
        if not motion.is_finite():
            raise ConfigError(f"motion {motion.name or motion.source!r} contains NaN or infinite values")
        root = scaled_root(motion, body)
        chunks = [
            forward_kinematics(body.rest_joints, motion.local_quat[s : s + _CHUNK], root[s : s + _CHUNK])
            for s in range(0, motion.num_frames, _CHUNK)
        ]
        pose = Pose(
            quat=np.concatenate([c.quat for c in chunks]),
            pos=np.concatenate([c.pos for c in chunks]),
            joints=chunks[0].joints,
        )
        pos, quat = placement_trajectories(pose, placements)
        if joints_out is not None:
            joints_out[:] = pose.pos
    else:
        pos, quat = play(motion, body, placements, joints_out)
    acc, gyro = synthesize(pos, quat, motion.rate_hz, bandwidth_hz)
    return ImuSignals(acc, gyro, quat, pos, motion.rate_hz, list(placements), pose)
