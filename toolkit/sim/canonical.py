"""Skeleton normalisation shared by every motion loader (the paper's "Blender" step, section 3.2).

A loader retargets its source onto the 24-joint tree (joint rotations relative to the SMPL
T-pose, y-up world) and hands the result to :func:`canonicalize`, which

1. scales the root trajectory from source units to the reference body of ``height_m``
   (1.7 m by default) by the ratio of pelvis-to-ankle heights in the two rest poses,
2. resamples to ``rate_hz`` (60 Hz by default): cubic splines for the root and, for all joints at
   once, cubic splines of the hemisphere-continuous quaternions renormalised (:func:`resample`;
   exact at the source frames, so 120 -> 60 Hz keeps every other frame unchanged),
3. centres the feet at the origin at the first frame: the mean horizontal position of the ankle
   and foot joints goes to x = z = 0, and the lowest sole to y = 0.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import UP_AXIS
from toolkit.sim.body import BuiltinBody, HumanAttributes
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import normalize_quat
from toolkit.sim.skeleton import JOINT_INDEX

_BLOCK = 2048  # frames per block of the normalisation (temporaries < 1 MB)
FOOT_JOINTS = (
    JOINT_INDEX["left_ankle"],
    JOINT_INDEX["right_ankle"],
    JOINT_INDEX["left_foot"],
    JOINT_INDEX["right_foot"],
)


@lru_cache(maxsize=8)
def reference_body(height_m: float = DEFAULT_HEIGHT_M) -> BuiltinBody:
    """The body every motion is normalised to: the built-in body of ``height_m``, default proportions
    (cached: one per height and process; treat it as read-only)."""
    return BuiltinBody(HumanAttributes(height_m=height_m))


def resample(motion: Motion, rate_hz: float) -> Motion:
    """``motion`` at ``rate_hz`` over the same time span, vectorised over joints and frames.

    Root: cubic spline. Joints: the quaternions are made hemisphere-continuous in time (each
    one's sign chosen nearest to its predecessor), interpolated with one cubic spline for all
    joints and renormalised: C2 before normalisation, exact at the source frames.

    Raises:
        ConfigError: ``rate_hz`` not positive, or fewer than 4 frames to interpolate.
    """
    if rate_hz <= 0:
        raise ConfigError(f"rate must be positive, got {rate_hz} Hz")
    if np.isclose(rate_hz, motion.rate_hz, rtol=0, atol=1e-9):
        return replace(motion, root_pos=motion.root_pos.copy(), local_quat=motion.local_quat.copy())
    if motion.num_frames < 4:
        raise ConfigError(f"cannot resample a motion of {motion.num_frames} frames (need >= 4)")
    t_src = np.arange(motion.num_frames) / motion.rate_hz
    n_new = int(np.floor(motion.duration_s * rate_hz + 1e-9)) + 1
    t_new = np.minimum(np.arange(n_new) / rate_hz, t_src[-1])
    q = motion.local_quat.copy()
    flips = np.where(np.sum(q[1:] * q[:-1], axis=-1) < 0, -1.0, 1.0)
    q[1:] *= np.cumprod(flips, axis=0)[..., None]
    from scipy.interpolate import CubicSpline  # on use: ~0.4 s of start-up that 60 Hz sources never need
    quat = normalize_quat(CubicSpline(t_src, q, axis=0)(t_new))
    root = CubicSpline(t_src, motion.root_pos, axis=0)(t_new)
    return replace(motion, rate_hz=float(rate_hz), root_pos=root, local_quat=quat)


def leg_scale(source_pelvis_to_ankle: float, height_m: float = DEFAULT_HEIGHT_M) -> float:
    """Factor from source units to the reference body's metres.

    Args:
        source_pelvis_to_ankle: vertical distance from the pelvis (root) joint down to the ankle
            joints in the source's rest pose, in source units.
        height_m: reference body height [m].
    """
    if not (source_pelvis_to_ankle > 0):
        raise ConfigError(f"source pelvis-to-ankle distance must be positive, got {source_pelvis_to_ankle}")
    ref = reference_body(height_m).rest_joints
    ref_extent = ref[0, UP_AXIS] - 0.5 * (
        ref[JOINT_INDEX["left_ankle"], UP_AXIS] + ref[JOINT_INDEX["right_ankle"], UP_AXIS]
    )
    return float(ref_extent / source_pelvis_to_ankle)


def canonicalize(
    raw: Motion,
    scale: float = 1.0,
    height_m: float = DEFAULT_HEIGHT_M,
    rate_hz: float = DEFAULT_RATE_HZ,
    consume: bool = False,
    normalized: bool = False,
) -> Motion:
    """Normalise a retargeted motion (see the module docstring).

    Args:
        raw: motion on the 24-joint tree, y up, root positions in source units, any rate.
        scale: source units to reference metres (see :func:`leg_scale`).
        height_m: reference body height [m].
        rate_hz: output rate [Hz].
        consume: ``raw.local_quat`` may be normalised in place and shared by the result (a
            loader's own array: saves an array-sized copy on long clips).
        normalized: ``raw.local_quat`` is already unit with ``w >= 0`` (as built by the AMASS
            loader): the normalisation pass is skipped.

    Returns:
        The canonical :class:`Motion` (``height_m`` and ``pelvis_height_m`` set).
    """
    if not raw.is_finite():
        raise ConfigError(f"motion {raw.name or raw.source!r} contains NaN or infinite values")
    body = reference_body(height_m)
    quat = raw.local_quat if consume else np.empty_like(raw.local_quat)
    if normalized and not consume:
        quat[:] = raw.local_quat
    elif not normalized:
        for s in range(0, raw.num_frames, _BLOCK):  # cache-sized blocks: no array-sized temporaries
            quat[s : s + _BLOCK] = normalize_quat(raw.local_quat[s : s + _BLOCK])
    motion = replace(raw, root_pos=raw.root_pos * scale, local_quat=quat)
    if not np.isclose(rate_hz, motion.rate_hz, rtol=0, atol=1e-9):  # (at the same rate: no copy)
        motion = resample(motion, rate_hz)
    first = forward_kinematics(body.rest_joints, motion.local_quat[:1], motion.root_pos[:1], joints=list(FOOT_JOINTS))
    cols = first.columns(list(FOOT_JOINTS))
    feet = first.pos[0, cols]  # (4, 3)
    sole_drop = body.rest_joints[list(FOOT_JOINTS), UP_AXIS]  # joint heights above the soles at rest
    shift = np.array([feet[:, 0].mean(), np.min(feet[:, UP_AXIS] - sole_drop), feet[:, 2].mean()])
    return replace(
        motion,
        root_pos=motion.root_pos - shift,
        height_m=float(height_m),
        pelvis_height_m=body.pelvis_height_m,
    )
