"""The canonical motion every loader produces (resampling: :func:`toolkit.sim.canonical.resample`).

A :class:`Motion` is a root trajectory plus per-joint rotations on the 24-joint tree of
:mod:`toolkit.sim.skeleton`, in the world of :mod:`toolkit.frames` (y up, metres). Rotations are
relative to the SMPL rest pose (T-pose), so any body model can play any motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from toolkit.errors import ConfigError
from toolkit.sim.skeleton import NUM_JOINTS

#: Body height every loader normalises motion to, as in the Multi3Net+ paper [m].
DEFAULT_HEIGHT_M = 1.7
#: Default model/simulation rate [Hz].
DEFAULT_RATE_HZ = 60.0


@dataclass
class Motion:
    """A clip of body motion on the 24-joint tree.

    Attributes:
        rate_hz: sample rate [Hz].
        root_pos: (T, 3) pelvis joint position in the world [m].
        local_quat: (T, 24, 4) joint rotations relative to the parent, quaternions (x, y, z, w);
            joint 0 holds the pelvis's global orientation. Identity everywhere = T-pose.
        text: the clip's natural-language description (may be empty).
        source: where the clip came from (file path or generator name).
        name: a short identifier (e.g. ``"02_01"``).
        height_m: body height ``root_pos`` is expressed for [m].
        pelvis_height_m: pelvis height of that body standing in the rest pose [m]; used to scale
            the root trajectory when the motion is played on a body with other proportions.
    """

    rate_hz: float
    root_pos: np.ndarray
    local_quat: np.ndarray
    text: str = ""
    source: str = ""
    name: str = ""
    height_m: float = DEFAULT_HEIGHT_M
    pelvis_height_m: float = float("nan")
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root_pos = np.asarray(self.root_pos, dtype=np.float64)
        self.local_quat = np.asarray(self.local_quat, dtype=np.float64)
        t = self.root_pos.shape[0]
        if self.root_pos.shape != (t, 3):
            raise ConfigError(f"root_pos must be (T, 3), got {self.root_pos.shape}")
        if self.local_quat.shape != (t, NUM_JOINTS, 4):
            raise ConfigError(f"local_quat must be ({t}, {NUM_JOINTS}, 4), got {self.local_quat.shape}")
        if not (self.rate_hz > 0):
            raise ConfigError(f"rate_hz must be positive, got {self.rate_hz}")

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def duration_s(self) -> float:
        """Time span from the first to the last frame [s]."""
        return (self.num_frames - 1) / self.rate_hz

    def is_finite(self) -> bool:
        """No NaN or infinity in the root trajectory or the rotations (checked in cache-sized blocks)."""
        n = 8192
        return bool(np.isfinite(self.root_pos).all()) and all(
            bool(np.isfinite(self.local_quat[s : s + n]).all()) for s in range(0, self.num_frames, n)
        )

    def slice_frames(self, start: int, stop: int) -> Motion:
        """Frames ``start:stop`` as a new motion."""
        return replace(self, root_pos=self.root_pos[start:stop].copy(), local_quat=self.local_quat[start:stop].copy())


def still_motion(num_frames: int, rate_hz: float = DEFAULT_RATE_HZ, **kwargs) -> Motion:
    """A body standing still in the T-pose with its pelvis at the origin's height 0 (test helper).

    ``kwargs`` are passed to :class:`Motion` (for example ``pelvis_height_m``).
    """
    quat = np.zeros((num_frames, NUM_JOINTS, 4))
    quat[..., 3] = 1.0
    return Motion(rate_hz=rate_hz, root_pos=np.zeros((num_frames, 3)), local_quat=quat, **kwargs)
