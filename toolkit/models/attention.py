"""Hand-written multi-head self-attention and a pre-norm transformer block.

Written out (one qkv Linear, a scaled matmul, softmax, a second matmul, an output Linear) instead
of ``nn.MultiheadAttention``: the latter leaves masking ops (any, eq, where, logical_not, ...)
outside the XNNPACK delegate when exported (see ``shared/notes/export-facts.md``). No masks, no
data-dependent control flow: every token attends to every token of its sequence.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over (B, N, D) tokens with ``num_heads`` heads of D / num_heads features.

    Args:
        dim: token width D.
        num_heads: heads; must divide ``dim``.
        dropout: dropout on the attention weights and on the output.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = nn.Dropout(dropout)
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, N, D)."""
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, heads, N, head_dim)
        attn = torch.matmul(q * self.scale, k.transpose(-2, -1))  # (B, heads, N, N)
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = torch.matmul(attn, v).transpose(1, 2).reshape(b, n, d)
        return self.proj_drop(self.proj(out))


def make_activation(name: str) -> nn.Module:
    """``"gelu"`` or ``"relu"`` as a module."""
    if name == "gelu":
        return nn.GELU()
    if name == "relu":
        return nn.ReLU()
    raise ValueError(f"unknown activation {name!r} (use 'gelu' or 'relu')")


class FeedForward(nn.Module):
    """Token-wise MLP: Linear(D -> hidden) -> activation -> dropout -> Linear(hidden -> D) -> dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, activation: str = "gelu"):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden),
            make_activation(activation),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(..., D) -> (..., D)."""
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x = x + MHA(LN(x)); x = x + FFN(LN(x))`` on (B, N, D) tokens."""

    def __init__(
        self, dim: int, num_heads: int, mlp_ratio: float = 2.0, dropout: float = 0.0, activation: str = "gelu"
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, max(1, int(round(dim * mlp_ratio))), dropout, activation)

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, N, D)."""
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def transformer_stack(
    dim: int, depth: int, num_heads: int, mlp_ratio: float, dropout: float, activation: str
) -> nn.Sequential:
    """``depth`` :class:`TransformerBlock` in sequence (identity when depth is 0)."""
    return nn.Sequential(*(TransformerBlock(dim, num_heads, mlp_ratio, dropout, activation) for _ in range(depth)))
