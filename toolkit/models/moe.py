"""Dense mixture-of-experts classifier layer (every expert runs; softmax gate per token).

For tokens h (B, T, D): expert outputs y_j = f_j(h) (B, T, K), gate g = softmax(W_g h + b_g)
(B, T, N), per-token mixture y_tok = sum_j g_j y_j, written as unrolled adds
(g_0 y_0 + g_1 y_1 + ...) rather than ``torch.stack(...).sum``: that form quantised better for the
edge runtimes (``shared/notes/export-facts.md``). There is no top-k or other data-dependent routing,
so the layer exports with ``torch.export`` and every expert receives gradient on every step.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn


class MoEOutput(NamedTuple):
    """What :class:`MixtureOfExperts` returns."""

    token_logits: Tensor  #: per-token mixture, (B, T, K)
    gate: Tensor  #: softmax gate weights, (B, T, N); sums to 1 over N


def make_expert(dim: int, hidden: int, num_classes: int) -> nn.Module:
    """One expert: Linear(dim -> K) when ``hidden`` is 0, else Linear -> ReLU -> Linear."""
    if hidden <= 0:
        return nn.Linear(dim, num_classes)
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


class MixtureOfExperts(nn.Module):
    """(B, T, D) tokens -> :class:`MoEOutput` with ``num_experts`` experts and a dense softmax gate."""

    def __init__(self, dim: int, num_classes: int, num_experts: int, expert_hidden: int = 0):
        super().__init__()
        self.experts = nn.ModuleList(make_expert(dim, expert_hidden, num_classes) for _ in range(num_experts))
        self.gate = nn.Linear(dim, num_experts)

    def forward(self, h: Tensor) -> MoEOutput:
        gate = self.gate(h).softmax(dim=-1)  # (B, T, N)
        mixed = gate[..., 0:1] * self.experts[0](h)
        for j in range(1, len(self.experts)):
            mixed = mixed + gate[..., j : j + 1] * self.experts[j](h)
        return MoEOutput(token_logits=mixed, gate=gate)
