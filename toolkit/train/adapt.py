"""Self-supervised adaptation of an IMU encoder on unlabelled real windows (SimCLR between two augmented views).

A research team usually holds many more unlabelled watch windows than labelled ones (in the LOSO tables, 90 % of
the training subjects' windows carry a label that the 10 % protocol does not use). :func:`adapt_encoder` trains one
wrist encoder of a :class:`~toolkit.models.multi3net.Multi3Net` (pretrained or random) on such windows, without
labels: each window gives two views (:func:`two_views`), both pass the encoder (mean token, as the probe and the
classifier read it) and a small projector (Linear-ReLU-Linear, dropped afterwards), and the symmetric InfoNCE of
:func:`toolkit.models.losses.info_nce` pulls a window's two views together and pushes the batch's other windows
away (Chen et al. 2020, SimCLR; Tang et al. 2020 for HAR).

Views are made from raw windows (N, L, 6) = [acc m/s^2, gyro rad/s] in the watch frame (:mod:`toolkit.frames`)
before standardisation, with physical perturbations only:

1. orientation jitter (:func:`toolkit.train.augment.random_rotations`: twist about the forearm +-``twist_deg``,
   tilt +-``tilt_deg``), so |acc| and |gyro| are unchanged;
2. amplitude scale, one factor per window uniform in [1 - ``scale``, 1 + ``scale``];
3. white noise of ``acc_noise_ms2`` [m/s^2] and ``gyro_noise_rads`` [rad/s] (sd per sample);
4. a circular time shift of up to +-``shift_samples`` samples.

Only the chosen wrist encoder changes; the function returns a copy (eval mode) and the loss per step. Which
windows it may see is the caller's business: :func:`toolkit.train.protocol.adapt_fold` passes the training
subjects' windows through the fold's leak guard. ``benchmarks/ssl_adapt.py`` measures what it does (reports/README.md,
"Unlabelled real windows").
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from toolkit.data.splits import Normalizer
from toolkit.errors import ConfigError
from toolkit.models.losses import info_nce
from toolkit.models.multi3net import Multi3Net
from toolkit.train.augment import random_rotations, rotate_windows
from toolkit.train.data import classifier_inputs


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of :func:`adapt_encoder` (module docstring); the defaults are the measured ones."""

    steps: int = 200  #: optimiser steps
    batch_size: int = 128  #: windows per step (each gives two views)
    lr: float = 3e-4  #: AdamW learning rate of encoder and projector
    weight_decay: float = 1e-4
    temperature: float = 0.1  #: InfoNCE temperature
    projector_dim: int = 64  #: output size of the projector (its hidden layer: 2x)
    twist_deg: float = 30.0  #: max rotation about the forearm axis (watch +X) [deg]
    tilt_deg: float = 10.0  #: max rotation about watch +Y and +Z [deg]
    scale: float = 0.15  #: max relative amplitude change per window
    acc_noise_ms2: float = 0.2  #: accelerometer white-noise sd [m/s^2]
    gyro_noise_rads: float = 0.05  #: gyroscope white-noise sd [rad/s]
    shift_samples: int = 8  #: max circular time shift [samples]

    def __post_init__(self) -> None:
        for k in ("steps", "batch_size", "projector_dim"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"adapt.{k} must be a positive integer, got {v!r}")
        if not isinstance(self.shift_samples, int) or self.shift_samples < 0:
            raise ConfigError(f"adapt.shift_samples must be an integer >= 0, got {self.shift_samples!r}")
        for k in ("lr", "temperature"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"adapt.{k} must be > 0, got {getattr(self, k)!r}")
        for k in ("weight_decay", "acc_noise_ms2", "gyro_noise_rads"):
            if not getattr(self, k) >= 0:
                raise ConfigError(f"adapt.{k} must be >= 0, got {getattr(self, k)!r}")
        if not 0 <= self.scale < 1:
            raise ConfigError(f"adapt.scale must be in [0, 1), got {self.scale!r}")
        for k in ("twist_deg", "tilt_deg"):
            if not 0 <= getattr(self, k) <= 180:
                raise ConfigError(f"adapt.{k} must be in [0, 180] degrees, got {getattr(self, k)!r}")

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def two_views(x: np.ndarray, rng: np.random.Generator, cfg: AdaptConfig) -> tuple[np.ndarray, np.ndarray]:
    """(N, L, 6) raw windows -> two independently perturbed (N, L, 6) float32 copies (module docstring)."""
    return perturbed_view(x, rng, cfg), perturbed_view(x, rng, cfg)


def perturbed_view(x: np.ndarray, rng: np.random.Generator, cfg: AdaptConfig) -> np.ndarray:
    """(N, L, 6) raw windows -> one perturbed (N, L, 6) float32 copy: steps 1-4 of the module docstring."""
    n = len(x)
    v = rotate_windows(x.astype(np.float64), random_rotations(n, rng, cfg.twist_deg, cfg.tilt_deg))
    v = v * rng.uniform(1.0 - cfg.scale, 1.0 + cfg.scale, (n, 1, 1))
    sd = np.array([cfg.acc_noise_ms2] * 3 + [cfg.gyro_noise_rads] * 3)
    v = v + rng.normal(0.0, 1.0, v.shape) * sd
    if cfg.shift_samples:
        shifts = rng.integers(-cfg.shift_samples, cfg.shift_samples + 1, n)
        v = np.stack([np.roll(w, int(s), axis=0) for w, s in zip(v, shifts, strict=True)])
    return v.astype(np.float32)


def adapt_encoder(
    model: Multi3Net,
    windows_x: np.ndarray,
    normalizer: Normalizer,
    cfg: AdaptConfig | None = None,
    seed: int = 0,
    encoder: str = "left",
    progress: bool = False,
) -> tuple[Multi3Net, list[float]]:
    """A copy of ``model`` whose ``imu_<encoder>`` was trained with SimCLR on unlabelled windows (module docstring).

    Args:
        model: pretrained or random :class:`Multi3Net` (left unchanged).
        windows_x: (N, L, 6) raw windows of one wrist, SI units in the watch frame (missing gyroscope: NaN), N >= 2.
        normalizer: the per-channel standardisation the encoder will be used with afterwards.
        seed: seeds the projector, the batches and the views (same seed, same result on one thread).

    Returns:
        (the adapted copy in eval mode, the InfoNCE loss of each step [nats]).
    """
    cfg = cfg or AdaptConfig()
    x = np.asarray(windows_x, dtype=np.float32)
    c = model.cfg.imu.in_channels
    if x.ndim != 3 or x.shape[-1] != c or c != 6:
        raise ConfigError(f"adaptation needs (N, L, 6) windows of one wrist for a 6-channel encoder, got {x.shape}")
    if len(x) < 2:
        raise ConfigError(f"adaptation needs at least 2 unlabelled windows (contrastive pairs), got {len(x)}")
    if encoder not in ("left", "right"):
        raise ConfigError(f"encoder must be left or right, got {encoder!r}")
    adapted = copy.deepcopy(model)
    enc = getattr(adapted, f"imu_{encoder}")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    width = enc.cfg.embed_dim
    projector = nn.Sequential(nn.Linear(width, 2 * cfg.projector_dim), nn.ReLU(),
                              nn.Linear(2 * cfg.projector_dim, cfg.projector_dim))  # fmt: skip
    params = list(enc.parameters()) + list(projector.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(seed)
    batch = min(cfg.batch_size, len(x))
    enc.train()

    def project(view: np.ndarray) -> torch.Tensor:  # raw (B, L, 6) -> (B, projector_dim), mean token as the probe
        return projector(enc.forward_tokens(classifier_inputs(view, normalizer)).mean(1))

    losses: list[float] = []
    for _ in tqdm(range(cfg.steps), desc="adapt", unit="step", disable=not progress):
        v1, v2 = two_views(x[rng.choice(len(x), batch, replace=False)], rng, cfg)
        loss = info_nce(project(v1), project(v2), cfg.temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    torch.random.set_rng_state(gen_state)
    adapted.eval()
    return adapted, losses


__all__ = ["AdaptConfig", "adapt_encoder", "perturbed_view", "two_views"]
