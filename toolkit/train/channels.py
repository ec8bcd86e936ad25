"""Input channel sets of a classifier: accelerometer only, or accelerometer + gyroscope.

A wrist's window is (L, 6) = [acc_x, acc_y, acc_z] m/s^2 + [gyro_x, gyro_y, gyro_z] rad/s in the watch frame
(:data:`toolkit.data.windows.CHANNELS`); a two-wrist window is (L, 12), left then right. A model of channel set
``acc`` sees (L, 3) (two wrists: (L, 6)), one of ``acc+gyro`` sees everything.

The set is written into the classifier checkpoint (``extra.channels``: the per-wrist channel names) and from there
into every exported manifest (``input.channels``), so the streaming engine knows whether a device without a
gyroscope can feed the model.

An accelerometer-only classifier started from a 6-channel pretrained encoder keeps the encoder's first
convolution's accelerometer columns (:func:`acc_only_state`): the first layer is a bias-free linear convolution
with zero padding, so this is EXACTLY the 6-channel encoder fed gyroscope channels equal to 0, i.e. the
normalised mean that :func:`toolkit.train.data.classifier_inputs` puts where a device has no gyroscope, and what
pretraining's ``channel_dropout`` (:mod:`toolkit.train.augment`) teaches the encoder to expect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from torch import Tensor

from toolkit.errors import ConfigError

ALL_CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
ACC_CHANNELS = ALL_CHANNELS[:3]
#: ``--channels`` value -> per-wrist channel names.
CHANNEL_SETS: dict[str, tuple[str, ...]] = {"acc": ACC_CHANNELS, "acc+gyro": ALL_CHANNELS}
CHANNEL_CHOICES = ("auto", *CHANNEL_SETS)


def channel_set_name(channels: Sequence[str]) -> str:
    """Per-wrist channel names -> ``"acc"`` / ``"acc+gyro"`` (ConfigError for anything else)."""
    for name, chans in CHANNEL_SETS.items():
        if tuple(channels) == chans:
            return name
    raise ConfigError(f"channel set {list(channels)} is neither {list(ACC_CHANNELS)} nor {list(ALL_CHANNELS)}")


def uses_gyro(channels: Sequence[str]) -> bool:
    """True when any channel name is a gyroscope channel."""
    return any(str(c).startswith("gyro") for c in channels)


def channel_index(channels: Sequence[str], wrists: int = 1) -> np.ndarray:
    """Indices of ``channels`` (per-wrist names) in a (…, 6 * wrists) window."""
    per = [ALL_CHANNELS.index(c) for c in channels]
    return np.asarray([w * len(ALL_CHANNELS) + i for w in range(wrists) for i in per], np.int64)


def check_finite(x: np.ndarray, channels: Sequence[str], where: str, subject: np.ndarray | None = None) -> None:
    """ConfigError naming the first channel of (N, L, C) ``x`` with NaN or inf (C = k * len(channels)).

    Args:
        x: windows; channel c is ``channels[c % len(channels)]`` (of wrist ``c // len(channels)``).
        where: what the windows are (e.g. ``"dataset sp-sw-har"``), for the message.
        subject: (N,) subject ids, to name the first subject concerned.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] % len(channels):
        raise ConfigError(f"{where}: windows of shape {x.shape} do not hold channels {list(channels)}")
    bad = ~np.isfinite(x).all(axis=1)  # (N, C)
    if not bad.any():
        return
    c = int(np.flatnonzero(bad.any(axis=0))[0])
    rows = np.flatnonzero(bad[:, c])
    wrist = c // len(channels)
    name = channels[c % len(channels)] + (f" (wrist {wrist + 1})" if x.shape[2] > len(channels) else "")
    kind = "NaN" if np.isnan(x[rows[0], :, c]).any() else "inf"
    who = f", first in subject {subject[rows[0]]}" if subject is not None else ""
    hint = (
        "; a device without gyroscope: use an accelerometer-only model (--channels acc)"
        if name.startswith("gyro")
        else ""
    )
    raise ConfigError(f"{where}: channel {name} has {kind} values in {rows.size} of {len(x)} windows{who}{hint}")


def resolve_channels(requested: str, has_gyro: np.ndarray, where: str, log: Callable[[str], None]) -> tuple[str, ...]:
    """The per-wrist channel names to train on.

    ``auto``: ``acc+gyro`` when every window has gyroscope data, else ``acc`` (logged, with how many windows
    lack it). ``acc+gyro`` with windows lacking a gyroscope: ConfigError naming the channel.
    """
    if requested not in CHANNEL_CHOICES:
        raise ConfigError(f"channels must be one of {', '.join(CHANNEL_CHOICES)} (got {requested!r})")
    has_gyro = np.asarray(has_gyro, bool)
    missing = int((~has_gyro).sum())
    if requested == "auto":
        if missing == 0:
            return ALL_CHANNELS
        log(
            f"{where}: {missing} of {has_gyro.size} windows have no gyroscope: training an accelerometer-only "
            "model (channels acc_x, acc_y, acc_z; --channels acc)"
        )
        return ACC_CHANNELS
    if requested == "acc+gyro" and missing:
        raise ConfigError(
            f"{where}: channel gyro_x is missing (NaN) in {missing} of {has_gyro.size} windows: "
            "the device has no gyroscope; use --channels acc"
        )
    return CHANNEL_SETS[requested]


def select_channels(x: np.ndarray, channels: Sequence[str], wrists: int | None = None) -> np.ndarray:
    """(N, L, 6 * wrists) windows -> (N, L, len(channels) * wrists); a view-free copy only when selecting."""
    wrists = x.shape[-1] // len(ALL_CHANNELS) if wrists is None else wrists
    if tuple(channels) == ALL_CHANNELS:
        return x
    return x[..., channel_index(channels, wrists)]


def acc_only_state(state: Mapping[str, Tensor], stem_key: str = "stem.0.weight") -> dict[str, Tensor]:
    """A 6-channel encoder state dict -> the same encoder reading only acc (first conv's acc input columns).

    Exactly equivalent to the 6-channel encoder fed zero (standardised) gyroscope channels (module docstring).
    """
    out = dict(state)
    w = out[stem_key]
    if w.dim() != 3 or w.shape[1] != len(ALL_CHANNELS):
        raise ConfigError(f"encoder input layer {stem_key} has shape {tuple(w.shape)}, expected (out, 6, k)")
    out[stem_key] = w[:, : len(ACC_CHANNELS)].clone()
    return out


def slice_stats(values: Sequence[float], channels: Sequence[str], wrists: int = 1) -> list[float]:
    """Per-channel statistics of all 6 * wrists channels -> those of ``channels``."""
    arr = np.asarray(values, np.float64)
    if arr.size == len(channels) * wrists:
        return arr.tolist()
    return arr[channel_index(channels, wrists)].tolist()


__all__ = [
    "ACC_CHANNELS",
    "ALL_CHANNELS",
    "CHANNEL_CHOICES",
    "CHANNEL_SETS",
    "acc_only_state",
    "channel_index",
    "channel_set_name",
    "check_finite",
    "resolve_channels",
    "select_channels",
    "slice_stats",
    "uses_gyro",
]
