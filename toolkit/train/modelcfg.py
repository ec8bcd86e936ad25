"""Model configuration of a run: preset + overrides, fitted to the window grid.

:func:`resolve_model_config` starts from :meth:`Multi3NetConfig.default` or :meth:`Multi3NetConfig.tiny`, merges
a partial dict of overrides (nested keys, e.g. ``{"imu": {"depth": 4}}``), then

* sets ``decoder.window_length`` to the grid's window length L (the decoders must emit L samples);
* sets ``pose.num_frames`` to ``min(preset frames, L)`` unless the overrides name it; pose windows (L frames
  at the model rate) are subsampled to that many frames by :func:`pose_frame_index`;
* sets the ablation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.models.config import Multi3NetConfig


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in recursively (new dict; ``over`` wins)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_model_config(
    preset: str, overrides: dict[str, Any], window_length: int, ablation: str = "full"
) -> Multi3NetConfig:
    """The :class:`Multi3NetConfig` of a run (module docstring)."""
    if preset not in ("default", "tiny"):
        raise ConfigError(f"model preset must be default or tiny, got {preset!r}")
    base = (Multi3NetConfig.tiny() if preset == "tiny" else Multi3NetConfig.default()).to_dict()
    merged = deep_merge(base, overrides or {})
    merged["decoder"]["window_length"] = int(window_length)
    if "num_frames" not in (overrides or {}).get("pose", {}):
        merged["pose"]["num_frames"] = int(min(merged["pose"]["num_frames"], window_length))
    merged["ablation"] = ablation
    cfg = Multi3NetConfig.from_dict(merged)
    if window_length < cfg.imu.num_tokens:
        raise ConfigError(f"window of {window_length} samples is shorter than imu.num_tokens={cfg.imu.num_tokens}")
    return cfg


def pose_frame_index(window_length: int, num_frames: int) -> np.ndarray:
    """(num_frames,) int indices into a window of ``window_length`` pose frames, evenly spread, first and last kept."""
    return np.round(np.linspace(0, window_length - 1, num_frames)).astype(np.int64)
