"""Skeleton normalisation shared by every motion loader (the paper's "Blender" step, section 3.2).

A loader retargets its source onto the 24-joint tree (joint rotations relative to the SMPL
T-pose, y-up world) and hands the result to :func:`canonicalize`, which

1. scales the root trajectory from source units to the reference body of ``height_m``
   (1.7 m by default) by the ratio of pelvis-to-ankle heights in the two rest poses,
2. resamples to ``rate_hz`` (60 Hz by default; splines for the root, rotation splines for joints),
3. centres the feet at the origin at the first frame: the mean horizontal position of the ankle
   and foot joints goes to x = z = 0, and the lowest sole to y = 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import UP_AXIS
from toolkit.sim.body import BuiltinBody, HumanAttributes
from toolkit.sim.kinematics import forward_kinematics
from toolkit.sim.motion import DEFAULT_HEIGHT_M, DEFAULT_RATE_HZ, Motion
from toolkit.sim.rotations import normalize_quat
from toolkit.sim.skeleton import JOINT_INDEX

FOOT_JOINTS = (
    JOINT_INDEX["left_ankle"],
    JOINT_INDEX["right_ankle"],
    JOINT_INDEX["left_foot"],
    JOINT_INDEX["right_foot"],
)


def reference_body(height_m: float = DEFAULT_HEIGHT_M) -> BuiltinBody:
    """The body every motion is normalised to: the built-in body of ``height_m``, default proportions."""
    return BuiltinBody(HumanAttributes(height_m=height_m))


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
) -> Motion:
    """Normalise a retargeted motion (see the module docstring).

    Args:
        raw: motion on the 24-joint tree, y up, root positions in source units, any rate.
        scale: source units to reference metres (see :func:`leg_scale`).
        height_m: reference body height [m].
        rate_hz: output rate [Hz].

    Returns:
        The canonical :class:`Motion` (``height_m`` and ``pelvis_height_m`` set).
    """
    if not raw.is_finite():
        raise ConfigError(f"motion {raw.name or raw.source!r} contains NaN or infinite values")
    body = reference_body(height_m)
    motion = replace(raw, root_pos=raw.root_pos * scale, local_quat=normalize_quat(raw.local_quat))
    motion = motion.resample(rate_hz)
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
