"""EdgeStudent: a small IMU encoder + mixture-of-experts head that lowers whole to XNNPACK.

Input ``x``: (B, L, C) float32, C = 6 * wrists channels in the order acc x, y, z [m/s^2], gyro x, y, z
[rad/s] of the simulator's watch frame (Android: +X 3 o'clock, +Y 12 o'clock, +Z out of the face), sampled at
the manifest's rate and ALREADY STANDARDISED per channel, ``(x - mean) / std`` with the manifest's
``normalization`` (done outside the graph on purpose: a full-integer int8 model has one per-tensor input scale,
and raw acc (about +-40 m/s^2) next to raw gyro (about +-10 rad/s) would waste most of its 256 levels on the
accelerometer; standardised channels share one range).

Outputs: ``logits`` (B, K) and ``embedding`` (B, embed_out): the latter is trained (:mod:`export.distill`) to
match the teacher's pooled IMU embedding, so cosine similarity with class-name text embeddings (zero-shot)
works on the device.

Graph, written only with operators that ExecuTorch 1.5.1's XNNPACK partitioner delegates (see
``shared/notes/export-facts.md``): no LayerNorm, no 3-D mean, no ``nn.MultiheadAttention``, no select/expand:

1. stem: Conv1d(C -> c1, k) + BatchNorm + ReLU, Conv1d(c1 -> d, k) + BatchNorm + ReLU, 'same' padding
   (BatchNorm folds into the convs at export) -> (B, d, L);
2. token pooling: depthwise Conv1d with kernel = stride = L / T (a learned average pool, initialised to the
   mean) -> (B, d, T), transposed to tokens (B, T, d) + learned positional embedding;
3. ``stages`` blocks of hand-written self-attention (separate q, k, v Linears, heads folded into the batch
   axis, ``bmm``, softmax, ``bmm``, output Linear, residual) and a ReLU FFN with residual;
4. reduction over tokens by reshaping to 2-D (B, T * d) and a Linear -> ReLU -> z (B, hidden);
5. dense MoE: gate g = softmax(Linear(z)) (B, N); experts Linear(z) (B, K); logits = g_0 e_0 + g_1 e_1 + ...
   (unrolled adds); embedding = Linear(z) (B, embed_out).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from toolkit.errors import ConfigError


@dataclass(frozen=True)
class StudentConfig:
    """Sizes of an :class:`EdgeStudent`; ``window`` must be a multiple of ``tokens``."""

    in_channels: int = 6
    window: int = 60  #: L samples (2 s at 30 Hz)
    num_classes: int = 5
    stem_channels: int = 24
    dim: int = 48  #: token width d
    tokens: int = 6  #: T
    heads: int = 2
    stages: int = 1
    ffn_ratio: int = 2
    hidden: int = 64  #: width of z after the token reduction
    experts: int = 4
    embed_out: int = 256  #: embedding size (the teacher's latent size for zero-shot); 0 = no embedding output

    def __post_init__(self) -> None:
        if self.window % self.tokens:
            raise ConfigError(f"student: window {self.window} is not a multiple of tokens {self.tokens}")
        if self.dim % self.heads:
            raise ConfigError(f"student: dim {self.dim} is not divisible by heads {self.heads}")
        if self.num_classes < 2 or self.experts < 1:
            raise ConfigError("student: num_classes >= 2 and experts >= 1")

    def to_dict(self) -> dict:
        return asdict(self)


#: Named sizes for ``--student-size``: (stem_channels, dim, heads, stages, hidden, experts).
SIZES = {
    "tiny": dict(stem_channels=8, dim=16, heads=2, stages=1, hidden=16, experts=2),
    "small": dict(stem_channels=24, dim=48, heads=2, stages=1, hidden=64, experts=4),
    "base": dict(stem_channels=32, dim=64, heads=4, stages=1, hidden=64, experts=4),
}


def student_config(size: str, *, in_channels: int, window: int, num_classes: int, embed_out: int) -> StudentConfig:
    """A :class:`StudentConfig` from a named size (``tiny``, ``small``, ``base``) and the data's shape."""
    if size not in SIZES:
        raise ConfigError(f"unknown student size {size!r} (choose from {', '.join(SIZES)})")
    tokens = 6 if window % 6 == 0 else next(t for t in (5, 4, 3, 2, 1) if window % t == 0)
    return StudentConfig(
        in_channels=in_channels, window=window, num_classes=num_classes, tokens=tokens, embed_out=embed_out,
        **SIZES[size],
    )


class _Attention(nn.Module):
    """Self-attention on (B, T, d): q, k, v Linears, heads folded into the batch axis, bmm + softmax."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, t: Tensor) -> Tensor:
        b, n, _ = t.shape  # (B, T, d) -> (B * heads, T, head_dim)
        return t.reshape(b, n, self.heads, self.head_dim).permute(0, 2, 1, 3).reshape(b * self.heads, n, -1)

    def forward(self, h: Tensor) -> Tensor:
        b, n, d = h.shape
        q = self._split(self.q(h) * self.head_dim**-0.5)
        k, v = self._split(self.k(h)), self._split(self.v(h))
        attn = torch.bmm(q, k.transpose(1, 2)).softmax(dim=-1)  # (B * heads, T, T)
        o = torch.bmm(attn, v).reshape(b, self.heads, n, self.head_dim).permute(0, 2, 1, 3).reshape(b, n, d)
        return self.out(o)


class _Stage(nn.Module):
    """``h = h + Attn(h); h = h + W2 ReLU(W1 h)`` on (B, T, d), no normalisation layers."""

    def __init__(self, dim: int, heads: int, ffn_ratio: int):
        super().__init__()
        self.attn = _Attention(dim, heads)
        self.ffn1, self.ffn2 = nn.Linear(dim, ffn_ratio * dim), nn.Linear(ffn_ratio * dim, dim)

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.attn(h)
        return h + self.ffn2(F.relu(self.ffn1(h)))


class EdgeStudent(nn.Module):
    """(B, L, C) standardised window -> (logits (B, K), embedding (B, embed_out)); see the module docstring."""

    def __init__(self, cfg: StudentConfig):
        super().__init__()
        self.cfg = cfg
        c1, d, k = cfg.stem_channels, cfg.dim, 5
        self.stem = nn.Sequential(
            nn.Conv1d(cfg.in_channels, c1, k, padding=k // 2, bias=False), nn.BatchNorm1d(c1), nn.ReLU(),
            nn.Conv1d(c1, d, k, padding=k // 2, bias=False), nn.BatchNorm1d(d), nn.ReLU(),
        )
        span = cfg.window // cfg.tokens
        self.pool = nn.Conv1d(d, d, span, stride=span, groups=d)
        nn.init.constant_(self.pool.weight, 1.0 / span)
        nn.init.zeros_(self.pool.bias)
        self.pos = nn.Parameter(torch.randn(1, cfg.tokens, d) * 0.02)
        self.stages = nn.Sequential(*(_Stage(d, cfg.heads, cfg.ffn_ratio) for _ in range(cfg.stages)))
        self.reduce = nn.Linear(cfg.tokens * d, cfg.hidden)
        self.gate = nn.Linear(cfg.hidden, cfg.experts)
        self.experts = nn.ModuleList(nn.Linear(cfg.hidden, cfg.num_classes) for _ in range(cfg.experts))
        self.embed = nn.Linear(cfg.hidden, cfg.embed_out) if cfg.embed_out > 0 else None

    def features(self, x: Tensor) -> Tensor:
        """x (B, L, C) -> z (B, hidden)."""
        if x.dim() != 3 or x.shape[1] != self.cfg.window or x.shape[2] != self.cfg.in_channels:
            raise ValueError(f"expected (B, {self.cfg.window}, {self.cfg.in_channels}) windows, got {tuple(x.shape)}")
        h = self.pool(self.stem(x.transpose(1, 2))).transpose(1, 2) + self.pos  # (B, T, d)
        h = self.stages(h)
        return F.relu(self.reduce(h.reshape(h.shape[0], -1)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor] | Tensor:
        """x (B, L, C) -> (logits (B, K), embedding (B, embed_out)), or logits alone when embed_out == 0."""
        z = self.features(x)
        g = self.gate(z).softmax(dim=-1)  # (B, N)
        logits = g[:, 0:1] * self.experts[0](z)
        for j in range(1, len(self.experts)):
            logits = logits + g[:, j : j + 1] * self.experts[j](z)
        if self.embed is None:
            return logits
        return logits, self.embed(z)


class LogitsOnly(nn.Module):
    """Wraps a model whose forward returns a tuple (or a tensor) so that it returns the logits only."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        return out[0] if isinstance(out, tuple | list) else out


def count_params(model: nn.Module) -> int:
    """Number of parameters (all, trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, example: Tensor) -> int:
    """Multiply-accumulates of one forward pass on ``example``, counted from the modules' shapes.

    Counted: Conv1d (out_channels * out_len * in_channels / groups * kernel), Linear (rows * in * out),
    and ``torch.bmm`` / ``torch.matmul`` calls (b * n * k * m, via a function-mode hook). Element-wise ops,
    softmax and normalisation are not MACs and are left out; BatchNorm folds into the convs at export.
    """
    total = 0

    def conv_hook(mod: nn.Conv1d, inp: tuple[Tensor], out: Tensor) -> None:
        nonlocal total
        total += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0]

    def linear_hook(mod: nn.Linear, inp: tuple[Tensor], out: Tensor) -> None:
        nonlocal total
        total += out.numel() * mod.in_features

    class _MatmulCounter(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            nonlocal total
            out = func(*args, **(kwargs or {}))
            if func in (torch.bmm, torch.matmul, Tensor.__matmul__):
                total += out.numel() * args[0].shape[-1]
            return out

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv1d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _MatmulCounter():
            model(example)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return int(total)
