"""Small tensor helpers shared by the modules, written so that they export with static shapes."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pool_to_tokens(x: Tensor, num_tokens: int) -> Tensor:
    """Average-pool a (B, C, L) feature sequence to (B, C, num_tokens).

    When ``L`` is a multiple of ``num_tokens`` this is a plain ``avg_pool1d`` with kernel = stride =
    L / num_tokens: token i is the mean of samples [i L/T, (i+1) L/T) (e.g. L = 120 at 60 Hz gives
    six 1/3-s tokens). Otherwise it falls back to ``adaptive_avg_pool1d``, whose bins are
    [floor(i L/T), ceil((i+1) L/T)) and overlap by one sample where L/T is fractional. The branch
    depends on the static length only, so ``torch.export`` traces one path. Prefer L divisible by
    the token count for the edge model (a plain average pool lowers more simply).
    """
    length = x.shape[-1]
    if length < num_tokens:
        raise ValueError(f"window of {length} samples is shorter than num_tokens={num_tokens}")
    if length % num_tokens == 0:
        k = length // num_tokens
        return F.avg_pool1d(x, kernel_size=k, stride=k)
    return F.adaptive_avg_pool1d(x, num_tokens)


def token_mean(x: Tensor) -> Tensor:
    """Mean over the token axis of (B, T, D) -> (B, D), as T unrolled slice adds.

    Numerically ``x.mean(1)``; written out because a 3-D mean was not delegated to XNNPACK in
    ExecuTorch 1.5.1 (``shared/notes/export-facts.md``). T is static, so the loop unrolls at export.
    """
    n = x.shape[1]
    total = x[:, 0]
    for i in range(1, n):
        total = total + x[:, i]
    return total * (1.0 / n)
