"""Trainable text encoder: a small 1-D ResNet over a frozen sentence embedding.

The frozen language model (:class:`~toolkit.models.text_embedding.SentenceEmbedder`, all-MiniLM-L6-v2)
gives a (B, 384) L2-normalised vector per description. This encoder treats that vector as a
one-channel sequence of 384 samples, (B, 1, 384):

1. stem: Conv1d(1 -> stem_channels, stride) + BatchNorm1d + ReLU;
2. one residual block per entry of ``channels`` (the paper: three), each
   ``ReLU(BN(Conv1d_stride(x))) + shortcut(x)``, the shortcut being identity or, when the width or
   length changes, a 1x1 strided Conv1d + BatchNorm1d;
3. global average pooling over the sequence, Linear -> e_t (B, out_dim).

Unlike IMU2CLIP's frozen text tower, this encoder is trained during pretraining (paper, 5.1.1).
"""

from __future__ import annotations

from torch import Tensor, nn

from toolkit.models.config import TextEncoderConfig


class ResidualBlock1d(nn.Module):
    """``ReLU(BN(Conv1d(x))) + shortcut(x)`` on (B, C_in, N) -> (B, C_out, ceil(N / stride))."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(),
        )
        if c_in == c_out and stride == 1:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


class TextEncoder(nn.Module):
    """(B, in_dim) sentence embedding -> e_t (B, out_dim)."""

    def __init__(self, cfg: TextEncoderConfig):
        super().__init__()
        self.cfg = cfg
        k = cfg.kernel_size
        self.stem = nn.Sequential(
            nn.Conv1d(1, cfg.stem_channels, k, stride=cfg.stride, padding=k // 2, bias=False),
            nn.BatchNorm1d(cfg.stem_channels),
            nn.ReLU(),
        )
        blocks = []
        c_in = cfg.stem_channels
        for c_out in cfg.channels:
            blocks.append(ResidualBlock1d(c_in, c_out, k, cfg.stride))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.proj = nn.Linear(c_in, cfg.out_dim)

    def forward(self, text_emb: Tensor) -> Tensor:
        """text_emb: (B, in_dim) float32 -> e_t (B, out_dim)."""
        if text_emb.dim() != 2 or text_emb.shape[1] != self.cfg.in_dim:
            raise ValueError(f"expected (B, {self.cfg.in_dim}) sentence embeddings, got {tuple(text_emb.shape)}")
        h = self.blocks(self.stem(text_emb.unsqueeze(1)))  # (B, channels[-1], N)
        return self.proj(self.pool(h).squeeze(-1))
