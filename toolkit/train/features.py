"""Fixed feature extractors for the scikit-learn rows of ``edge-eval``: window statistics and frozen encoders.

* :func:`window_statistics`: per window, for each of the 6 channels (acc x/y/z [m/s^2], gyro x/y/z [rad/s]) and
  the acc / gyro magnitudes: mean, std, min, max, 10/25/50/75/90th percentiles, energy (mean square), mean
  absolute first difference and dominant frequency [Hz] (largest rFFT bin after removing the mean) ->
  ``8 * 12 = 96`` features, plus a has-gyroscope flag; features of a missing gyroscope (NaN) are 0.
* :func:`encoder_features`: the frozen IMU encoder's token map H (B, T, D) averaged over its T tokens (the
  standard linear-probe feature), one D-block per wrist; the encoder is the pretrained Multi3Net's wrist encoder
  or, with ``model=None``, the same architecture randomly initialised with ``seed``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from toolkit.data.splits import Normalizer
from toolkit.models.config import Multi3NetConfig
from toolkit.models.imu_encoder import ImuEncoder
from toolkit.models.multi3net import Multi3Net
from toolkit.train.data import classifier_inputs

STAT_NAMES = ("mean", "std", "min", "max", "p10", "p25", "p50", "p75", "p90", "energy", "mad_diff", "dom_freq")
SIGNALS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z", "acc_mag", "gyro_mag")


def window_statistics(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """(N, L, 6) raw windows (SI units, gyro may be NaN) -> (N, 8 * 12 + 1) float64 features (module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 6:
        raise ValueError(f"expected (N, L, 6) windows, got {x.shape}")
    acc_mag = np.linalg.norm(x[..., :3], axis=-1, keepdims=True)
    gyro_mag = np.linalg.norm(x[..., 3:6], axis=-1, keepdims=True)
    s = np.concatenate([x, acc_mag, gyro_mag], axis=-1)  # (N, L, 8)
    has_gyro = np.isfinite(x[..., 3:6]).all(axis=(1, 2))
    s = np.nan_to_num(s, nan=0.0)
    pct = np.percentile(s, [10, 25, 50, 75, 90], axis=1)  # (5, N, 8)
    centred = s - s.mean(axis=1, keepdims=True)
    spec = np.abs(np.fft.rfft(centred, axis=1))  # (N, L//2+1, 8)
    freqs = np.fft.rfftfreq(s.shape[1], d=1.0 / rate_hz)
    dom = freqs[np.argmax(spec[:, 1:], axis=1) + 1] if spec.shape[1] > 1 else np.zeros(s.shape[::2])
    feats = [s.mean(1), s.std(1), s.min(1), s.max(1), *pct, (s**2).mean(1), np.abs(np.diff(s, axis=1)).mean(1), dom]
    out = np.stack(feats, axis=-1).reshape(len(s), -1)  # (N, 8 * 12), signal-major
    return np.concatenate([out, has_gyro[:, None].astype(np.float64)], axis=1)


def random_like(cfg: Multi3NetConfig, seed: int) -> Multi3Net:
    """A Multi3Net of architecture ``cfg`` with random weights (``torch`` seeded with ``seed``), eval mode."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = Multi3Net(cfg).eval()
    torch.random.set_rng_state(gen_state)
    return model


@torch.no_grad()
def encoder_features(
    model: Multi3Net | None,
    windows_x: np.ndarray | Tensor,
    normalizer: Normalizer | None = None,
    seed: int = 0,
    cfg: Multi3NetConfig | None = None,
    encoder: str = "left",
    batch_size: int = 512,
) -> np.ndarray:
    """Frozen-encoder features (module docstring).

    Args:
        model: a (pretrained) Multi3Net, or None for a random one of architecture ``cfg`` seeded with ``seed``.
        windows_x: (N, L, 6 * wrists) windows: raw (SI units) when ``normalizer`` is given, else already
            standardised (a tensor from :func:`toolkit.train.protocol.prepare_fold`).
        normalizer: per-channel standardisation applied first (missing gyroscope -> 0).
        encoder: wrist encoder for single-wrist windows (real right-wrist data is mirrored to the left).

    Returns:
        (N, wrists * embed_dim) float64.
    """
    if model is None:
        if cfg is None:
            raise ValueError("a random encoder needs cfg (the architecture)")
        model = random_like(cfg, seed)
    x = classifier_inputs(np.asarray(windows_x), normalizer) if normalizer is not None else torch.as_tensor(windows_x)
    x = torch.nan_to_num(x.float())
    c = model.cfg.imu.in_channels
    wrists = x.shape[-1] // c
    if x.ndim != 3 or wrists not in (1, 2) or x.shape[-1] != wrists * c:
        raise ValueError(f"expected (N, L, {c}) or (N, L, {2 * c}) windows, got {tuple(x.shape)}")
    encs: list[ImuEncoder] = [model.imu_left, model.imu_right] if wrists == 2 else [getattr(model, f"imu_{encoder}")]
    was_training = [e.training for e in encs]
    for e in encs:
        e.eval()
    blocks = []
    for w, enc in enumerate(encs):
        part = x[..., w * c : (w + 1) * c]
        outs = [enc.forward_tokens(part[i : i + batch_size]).mean(1) for i in range(0, len(part), batch_size)]
        blocks.append(torch.cat(outs) if outs else torch.zeros(0, model.cfg.imu.embed_dim))
    for e, t in zip(encs, was_training, strict=True):
        e.train(t)
    return torch.cat(blocks, dim=1).double().numpy()


__all__ = ["SIGNALS", "STAT_NAMES", "encoder_features", "random_like", "window_statistics"]
