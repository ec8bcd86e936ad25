"""Downstream HAR model: pretrained IMU encoder(s) + the paper's hybrid MoE head (section 5.2).

:class:`ClassifierHead` on tokens H (B, T, D_in), T = 6:

1. ``H = ReLU(BN(Conv1d(H)))``: a Conv1d sliding along the token (time) axis, D_in -> hidden,
   kernel ``conv_kernel``, 'same' padding;
2. ``num_stages`` (the paper: 2) stages of ``H = MHA(LN(H)) + H`` then ``H = ReLU(LN(W H + b))``
   (the FFN has no residual, as in the paper's equations), then dropout;
3. dense mixture of experts per token (:class:`~toolkit.models.moe.MixtureOfExperts`) -> (B, T, K);
4. mean over the T tokens (the paper's "average across a specific dimension") -> logits (B, K).

Two wrists (``ClassifierConfig.wrists == 2``): each wrist has its own encoder; their token maps
are concatenated along the FEATURE axis, (B, 6, 2 D). Tokens i of both wrists cover the same time
span (both windows are pooled to 6 tokens the same way), so this keeps the time alignment and lets
the head's first Conv1d learn the fusion, where concatenating along tokens would put unrelated
tokens side by side in the convolution and averaging would discard which wrist moved.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from toolkit.models.attention import MultiHeadSelfAttention
from toolkit.models.config import ClassifierConfig, ImuEncoderConfig
from toolkit.models.imu_encoder import ImuEncoder
from toolkit.models.moe import MixtureOfExperts
from toolkit.models.ops import token_mean


class HarOutput(NamedTuple):
    """Everything :meth:`HarClassifier.forward_details` computes."""

    logits: Tensor  #: (B, K)
    token_logits: Tensor  #: (B, T, K), before the mean over tokens
    gate: Tensor  #: (B, T, N) MoE gate weights
    tokens: Tensor  #: (B, T, wrists * embed_dim), the encoders' H


class _AttentionStage(nn.Module):
    """``H = MHA(LN(H)) + H; H = Dropout(ReLU(LN(W H + b)))`` on (B, T, D)."""

    def __init__(self, dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, num_heads, dropout)
        self.linear = nn.Linear(dim, dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        h = self.attn(self.norm_attn(h)) + h
        return self.drop(self.act(self.norm_ffn(self.linear(h))))


class ClassifierHead(nn.Module):
    """(B, T, in_dim) tokens -> :class:`HarOutput` fields (logits, token_logits, gate)."""

    def __init__(self, cfg: ClassifierConfig, in_dim: int):
        super().__init__()
        self.cfg = cfg
        self.conv = nn.Sequential(
            nn.Conv1d(in_dim, cfg.hidden_dim, cfg.conv_kernel, padding=cfg.conv_kernel // 2, bias=False),
            nn.BatchNorm1d(cfg.hidden_dim),
            nn.ReLU(),
        )
        self.stages = nn.Sequential(
            *(_AttentionStage(cfg.hidden_dim, cfg.num_heads, cfg.dropout) for _ in range(cfg.num_stages))
        )
        self.moe = MixtureOfExperts(cfg.hidden_dim, cfg.num_classes, cfg.num_experts, cfg.expert_hidden)

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """tokens (B, T, in_dim) -> (logits (B, K), token_logits (B, T, K), gate (B, T, N))."""
        h = self.conv(tokens.transpose(1, 2)).transpose(1, 2)  # (B, T, hidden)
        moe = self.moe(self.stages(h))
        return token_mean(moe.token_logits), moe.token_logits, moe.gate


class HarClassifier(nn.Module):
    """IMU encoder(s) + :class:`ClassifierHead`.

    Input x: (B, L, wrists * C) float32, normalised like the pretraining data; with two wrists the
    left wrist's C channels come first. Output: logits (B, num_classes).

    Only the encoders' token maps H are used: each encoder's pooled-embedding projection
    (``proj``) gets no gradient here (pass ``find_unused_parameters=True`` under DDP, or ignore).
    """

    def __init__(self, imu_cfg: ImuEncoderConfig, cfg: ClassifierConfig):
        super().__init__()
        self.imu_cfg = imu_cfg
        self.cfg = cfg
        self.encoders = nn.ModuleList(ImuEncoder(imu_cfg) for _ in range(cfg.wrists))
        self.head = ClassifierHead(cfg, cfg.wrists * imu_cfg.embed_dim)
        self._encoder_frozen = False

    @classmethod
    def from_pretrained(cls, encoders: list[ImuEncoder], cfg: ClassifierConfig) -> HarClassifier:
        """A classifier whose encoders start as copies of pretrained ones (e.g. ``[multi3net.imu_left]``).

        One encoder per wrist, left first; the head is freshly initialised.
        """
        if len(encoders) != cfg.wrists:
            raise ValueError(f"cfg.wrists is {cfg.wrists} but {len(encoders)} encoders were given")
        model = cls(encoders[0].cfg, cfg)
        for mine, theirs in zip(model.encoders, encoders, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return model

    @property
    def encoder_frozen(self) -> bool:
        return self._encoder_frozen

    def freeze_encoder(self) -> None:
        """Stop gradients into the encoders and keep them in eval mode (BatchNorm statistics, dropout)."""
        self._encoder_frozen = True
        for p in self.encoders.parameters():
            p.requires_grad_(False)
        self.encoders.eval()

    def unfreeze_encoder(self) -> None:
        """Let the encoders train again (full fine-tuning); restores this module's train/eval mode."""
        self._encoder_frozen = False
        for p in self.encoders.parameters():
            p.requires_grad_(True)
        self.encoders.train(self.training)

    def train(self, mode: bool = True) -> HarClassifier:
        super().train(mode)
        if self._encoder_frozen:
            self.encoders.eval()
        return self

    def tokens(self, x: Tensor) -> Tensor:
        """x (B, L, wrists * C) -> fused tokens (B, T, wrists * embed_dim)."""
        c = self.imu_cfg.in_channels
        if x.dim() != 3 or x.shape[-1] != c * self.cfg.wrists:
            raise ValueError(f"expected (B, L, {c * self.cfg.wrists}) windows, got {tuple(x.shape)}")
        if self.cfg.wrists == 1:
            return self.encoders[0].forward_tokens(x)
        left = self.encoders[0].forward_tokens(x[..., :c])
        right = self.encoders[1].forward_tokens(x[..., c:])
        return torch.cat([left, right], dim=-1)  # (B, T, 2 embed_dim): time-aligned tokens

    def forward_details(self, x: Tensor) -> HarOutput:
        tokens = self.tokens(x)
        logits, token_logits, gate = self.head(tokens)
        return HarOutput(logits=logits, token_logits=token_logits, gate=gate, tokens=tokens)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, wrists * C) -> logits (B, num_classes)."""
        return self.head(self.tokens(x))[0]
