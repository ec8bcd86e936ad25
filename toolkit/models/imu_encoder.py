"""IMU encoder of one wrist: conv stem, pooling to 6 tokens, transformer, pooled embedding.

Pipeline for a window x of shape (B, L, C) (C = 6: acc x,y,z [m/s^2] and gyro x,y,z [rad/s] in the
simulator's watch frame, :mod:`toolkit.frames`; normalised per channel by the trainer):

1. stem: two 'same'-padded Conv1d + BatchNorm1d + activation, C -> stem_channels -> embed_dim,
   keeping L samples (B, embed_dim, L);
2. temporal pooling to ``num_tokens`` tokens (:func:`~toolkit.models.ops.pool_to_tokens`:
   average pooling with kernel L/T when L is a multiple of T, adaptive pooling otherwise), so the
   encoder accepts any window length L >= T;
3. + learned positional embedding (T, embed_dim), ``depth`` pre-norm transformer blocks, final
   LayerNorm -> H (B, T, embed_dim), the paper's intermediate feature map that the downstream
   classifier reads;
4. e = Linear(mean over tokens of H) (B, out_dim): the embedding that enters the shared latent
   space (contrastive loss, IMU reconstructor). The projection is the only place where the token
   width (embed_dim) meets the latent size (out_dim).

The same class serves both wrists with separate weights (two instances).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from toolkit.models.attention import make_activation, transformer_stack
from toolkit.models.config import ImuEncoderConfig
from toolkit.models.ops import pool_to_tokens, token_mean


class ImuEncoderOutput(NamedTuple):
    """What :class:`ImuEncoder` returns."""

    tokens: Tensor  #: H, (B, num_tokens, embed_dim)
    embedding: Tensor  #: e, (B, out_dim)


class ImuEncoder(nn.Module):
    """(B, L, C) IMU window -> tokens H (B, T, embed_dim) and embedding e (B, out_dim)."""

    def __init__(self, cfg: ImuEncoderConfig):
        super().__init__()
        self.cfg = cfg
        pad = cfg.stem_kernel // 2
        self.stem = nn.Sequential(
            nn.Conv1d(cfg.in_channels, cfg.stem_channels, cfg.stem_kernel, padding=pad, bias=False),
            nn.BatchNorm1d(cfg.stem_channels),
            make_activation(cfg.activation),
            nn.Conv1d(cfg.stem_channels, cfg.embed_dim, cfg.stem_kernel, padding=pad, bias=False),
            nn.BatchNorm1d(cfg.embed_dim),
            make_activation(cfg.activation),
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.num_tokens, cfg.embed_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = transformer_stack(
            cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio, cfg.dropout, cfg.activation
        )
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.proj = nn.Linear(cfg.embed_dim, cfg.out_dim)

    def forward_tokens(self, x: Tensor) -> Tensor:
        """x: (B, L, C) float32 window -> H (B, num_tokens, embed_dim), without the pooled embedding."""
        if x.dim() != 3 or x.shape[-1] != self.cfg.in_channels:
            raise ValueError(f"expected (B, L, {self.cfg.in_channels}) IMU windows, got {tuple(x.shape)}")
        feats = self.stem(x.transpose(1, 2))  # (B, embed_dim, L)
        tokens = pool_to_tokens(feats, self.cfg.num_tokens).transpose(1, 2)  # (B, T, embed_dim)
        return self.norm(self.blocks(self.drop(tokens + self.pos_embed)))

    def forward(self, x: Tensor) -> ImuEncoderOutput:
        """x: (B, L, C) float32 window -> :class:`ImuEncoderOutput` (H and e)."""
        tokens = self.forward_tokens(x)
        return ImuEncoderOutput(tokens=tokens, embedding=self.proj(token_mean(tokens)))
