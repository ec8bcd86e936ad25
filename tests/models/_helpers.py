"""Shared builders for the model tests."""

from __future__ import annotations

import torch
from torch import Tensor

from toolkit.models.config import Multi3NetConfig


def make_batch(cfg: Multi3NetConfig, batch: int = 4, seed: int = 0) -> dict[str, Tensor]:
    """A random pretraining batch with every modality present for every sample."""
    g = torch.Generator().manual_seed(seed)
    length, channels = cfg.decoder.window_length, cfg.imu.in_channels
    return {
        "imu_left": torch.randn(batch, length, channels, generator=g),
        "imu_right": torch.randn(batch, length, channels, generator=g),
        "pose": 0.3 * torch.randn(batch, cfg.pose.num_frames, cfg.pose.num_joints, 3, generator=g),
        "text_emb": torch.nn.functional.normalize(torch.randn(batch, cfg.text.in_dim, generator=g), dim=-1),
        "has_left": torch.ones(batch, dtype=torch.bool),
        "has_right": torch.ones(batch, dtype=torch.bool),
        "has_pose": torch.ones(batch, dtype=torch.bool),
        "has_text": torch.ones(batch, dtype=torch.bool),
    }


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
