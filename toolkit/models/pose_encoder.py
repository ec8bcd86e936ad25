"""PoseFormer-style spatial-temporal transformer over axis-angle body poses.

For a pose window p of shape (B, F, J, 3) (F frames, J joints, local joint rotations as axis-angle
[rad]; SMPL order with J = 24 by default, or SMPL-H body 22 + two MANO hands 2 x 15 = 52):

1. spatial stage, per frame: each joint's 3-vector -> Linear -> spatial_dim, + learned joint
   (spatial) positional embedding, ``spatial_depth`` transformer blocks attending across the J
   joints of that frame, LayerNorm;
2. the J joint tokens of a frame are flattened (J * spatial_dim) and projected to temporal_dim,
   + learned frame (temporal) positional embedding, ``temporal_depth`` transformer blocks across
   the F frames, LayerNorm;
3. mean over frames, Linear -> e_p (B, out_dim).

Unlike PoseFormer (which flattens to J * spatial_dim and keeps that width), the flattened frame is
projected to ``temporal_dim`` so the width does not grow with J. F is fixed by the config because
the temporal positional embedding is learned per frame.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from toolkit.models.attention import transformer_stack
from toolkit.models.config import PoseEncoderConfig
from toolkit.models.ops import token_mean


class PoseEncoder(nn.Module):
    """(B, F, J, 3) axis-angle poses -> e_p (B, out_dim)."""

    def __init__(self, cfg: PoseEncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.joint_embed = nn.Linear(3, cfg.spatial_dim)
        self.spatial_pos = nn.Parameter(torch.zeros(1, cfg.num_joints, cfg.spatial_dim))
        self.spatial_blocks = transformer_stack(
            cfg.spatial_dim, cfg.spatial_depth, cfg.spatial_heads, cfg.mlp_ratio, cfg.dropout, cfg.activation
        )
        self.spatial_norm = nn.LayerNorm(cfg.spatial_dim)
        self.frame_embed = nn.Linear(cfg.num_joints * cfg.spatial_dim, cfg.temporal_dim)
        self.temporal_pos = nn.Parameter(torch.zeros(1, cfg.num_frames, cfg.temporal_dim))
        self.temporal_blocks = transformer_stack(
            cfg.temporal_dim, cfg.temporal_depth, cfg.temporal_heads, cfg.mlp_ratio, cfg.dropout, cfg.activation
        )
        self.temporal_norm = nn.LayerNorm(cfg.temporal_dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.temporal_dim, cfg.out_dim)
        nn.init.trunc_normal_(self.spatial_pos, std=0.02)
        nn.init.trunc_normal_(self.temporal_pos, std=0.02)

    def forward_frames(self, pose: Tensor) -> Tensor:
        """(B, F, J, 3) -> per-frame tokens after the temporal transformer, (B, F, temporal_dim)."""
        c = self.cfg
        if pose.dim() != 4 or tuple(pose.shape[1:]) != (c.num_frames, c.num_joints, 3):
            raise ValueError(f"expected (B, {c.num_frames}, {c.num_joints}, 3) poses, got {tuple(pose.shape)}")
        b = pose.shape[0]
        joints = self.joint_embed(pose.reshape(b * c.num_frames, c.num_joints, 3)) + self.spatial_pos
        joints = self.spatial_norm(self.spatial_blocks(self.drop(joints)))  # (B*F, J, spatial_dim)
        frames = self.frame_embed(joints.reshape(b, c.num_frames, c.num_joints * c.spatial_dim))
        return self.temporal_norm(self.temporal_blocks(self.drop(frames + self.temporal_pos)))

    def forward(self, pose: Tensor) -> Tensor:
        """(B, F, J, 3) axis-angle [rad] -> e_p (B, out_dim)."""
        return self.proj(token_mean(self.forward_frames(pose)))
