"""CNN decoders from a latent embedding back to IMU windows (PSN-style, PresSim).

:class:`ConvDecoder` (B, in_dim) -> (B, L, out_channels):

1. Linear(in_dim -> c0 * L0), reshaped to (B, c0, L0) with L0 = ceil(L / 8);
2. three stages of [Upsample x2 (nearest: the "unpooling") -> ConvTranspose1d (stride 1, 'same'
   padding, so only the upsampling changes the length) -> BatchNorm1d -> ReLU -> Dropout], giving
   (B, c3, 8 L0);
3. Conv1d(c3 -> out_channels, kernel 1) -> (B, out_channels, 8 L0);
4. when L is not a multiple of 8, 8 L0 > L and the sequence is linearly interpolated to exactly
   L samples (``align_corners=False``); when it is, nothing is resampled.

The output is in the units of the training targets (the trainer's normalised IMU channels).

:class:`Pose2ImuDecoder` decodes e_p; :class:`ImuReconstructor` decodes concat[e_left, e_right]
after one Linear back to in_dim. In :class:`~toolkit.models.multi3net.Multi3Net` both emit
2 C channels (left wrist's C, then right wrist's C).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from toolkit.models.config import DecoderConfig

#: Total upsampling factor of the three stages.
UPSAMPLE = 8


class ConvDecoder(nn.Module):
    """(B, in_dim) latent -> (B, L, out_channels) window; see the module docstring."""

    def __init__(self, cfg: DecoderConfig, out_channels: int):
        super().__init__()
        self.cfg = cfg
        self.out_channels = out_channels
        self.seed_length = math.ceil(cfg.window_length / UPSAMPLE)
        c = cfg.channels
        self.seed = nn.Linear(cfg.in_dim, c[0] * self.seed_length)
        k = cfg.kernel_size
        self.stages = nn.Sequential(
            *(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.ConvTranspose1d(c[i], c[i + 1], k, stride=1, padding=k // 2),
                    nn.BatchNorm1d(c[i + 1]),
                    nn.ReLU(),
                    nn.Dropout(cfg.dropout),
                )
                for i in range(3)
            )
        )
        self.head = nn.Conv1d(c[3], out_channels, 1)

    def forward(self, z: Tensor) -> Tensor:
        """z: (B, in_dim) -> (B, window_length, out_channels)."""
        h = self.seed(z).reshape(z.shape[0], self.cfg.channels[0], self.seed_length)
        y = self.head(self.stages(h))  # (B, out_channels, 8 * seed_length)
        if y.shape[-1] != self.cfg.window_length:
            y = F.interpolate(y, size=self.cfg.window_length, mode="linear", align_corners=False)
        return y.transpose(1, 2)


class Pose2ImuDecoder(ConvDecoder):
    """e_p (B, in_dim) -> predicted IMU window (B, L, out_channels)."""


class ImuReconstructor(nn.Module):
    """concat[e_left, e_right] (B, 2 in_dim) -> Linear -> (B, in_dim) -> ConvDecoder -> (B, L, out_channels)."""

    def __init__(self, cfg: DecoderConfig, out_channels: int):
        super().__init__()
        self.fuse = nn.Linear(2 * cfg.in_dim, cfg.in_dim)
        self.decoder = ConvDecoder(cfg, out_channels)

    def forward(self, e_left: Tensor, e_right: Tensor) -> Tensor:
        """e_left, e_right: (B, in_dim) each -> (B, L, out_channels)."""
        return self.decoder(self.fuse(torch.cat([e_left, e_right], dim=-1)))
