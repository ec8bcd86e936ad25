"""Window arrays -> model-ready tensors, a batch dataset, and the real-dataset registry.

* :func:`pretrain_tensors`: :class:`~toolkit.data.windows.SyntheticWindows` -> the batch dict of
  :mod:`toolkit.models.multi3net` (normalised IMU, pose subsampled to the encoder's frames, text embeddings and
  masks).
* :func:`classifier_inputs`: real windows (N, L, 6) -> normalised float32 tensor; NaN (missing gyroscope) -> 0,
  the training mean after standardisation.
* :class:`BatchDataset`: a dict of tensors indexed by a list of row indices (used with a BatchSampler, so a
  batch is one gather, not B calls).
* :func:`load_real_windows`: dataset name -> :class:`~toolkit.data.windows.RealWindows` on the run's grid.
* :func:`generated_windows`: a small synthetic "real" dataset with subjects and learnable classes (tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from toolkit.data.splits import Normalizer, fit_normalizer
from toolkit.data.windows import CHANNELS, RealWindows, SyntheticWindows, real_windows, synthetic_windows
from toolkit.errors import ConfigError
from toolkit.train.config import GridConfig
from toolkit.train.modelcfg import pose_frame_index

REAL_DATASETS = ("seglearn", "sp-sw-har", "basicmotions", "openpack", "mmfit", "generated", "csv:FILE")


def load_synthetic(folders: tuple[str, ...] | list[str], grid: GridConfig) -> SyntheticWindows:
    """Windows of every simulator dataset folder, concatenated (text indices remapped to one list)."""
    if not folders:
        raise ConfigError("no synthetic dataset folder given (--data DIR ...)")
    parts = []
    for f in folders:
        if not (Path(f) / "manifest.json").is_file():
            raise ConfigError(f"{f}: not a simulator dataset folder (no manifest.json); make one with edge-simulate")
        parts.append(synthetic_windows(f, grid.rate_hz, grid.window_s, grid.hop_s))
    if len(parts) == 1:
        return parts[0]
    texts: list[str] = []
    remapped = []
    for p in parts:
        idx = []
        for t in p.texts:
            if t not in texts:
                texts.append(t)
            idx.append(texts.index(t))
        remapped.append(np.asarray(idx, np.int64)[p.text])
    cat = lambda k: np.concatenate([getattr(p, k) for p in parts])  # noqa: E731
    return SyntheticWindows(
        imu_left=cat("imu_left"), imu_right=cat("imu_right"), has_left=cat("has_left"), has_right=cat("has_right"),
        pose=cat("pose"), text=np.concatenate(remapped), texts=texts, clip=cat("clip"), variant=cat("variant"),
        start_s=cat("start_s"), rate_hz=parts[0].rate_hz, window_s=parts[0].window_s, hop_s=parts[0].hop_s,
        meta={"datasets": [str(f) for f in folders]},
    )  # fmt: skip


def fit_synthetic_normalizer(sw: SyntheticWindows) -> Normalizer:
    """Per-channel statistics over every present wrist window of the pretraining data."""
    x = np.concatenate([sw.imu_left[sw.has_left], sw.imu_right[sw.has_right]])
    return fit_normalizer(x)


def _norm(x: np.ndarray, normalizer: Normalizer) -> Tensor:
    z = normalizer.transform(x)
    return torch.from_numpy(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0))


def pretrain_tensors(
    sw: SyntheticWindows, normalizer: Normalizer, num_frames: int, text_emb: np.ndarray | None
) -> dict[str, Tensor]:
    """The whole pretraining set as a batch dict (shapes in :mod:`toolkit.models.multi3net`).

    Args:
        sw: N windows of L samples.
        normalizer: IMU statistics (6 channels).
        num_frames: pose frames F of the pose encoder (subsampled from the L frames of a window).
        text_emb: (len(sw.texts), 384) embeddings of the distinct texts, or None (text masked out: zeros and
            ``has_text`` False).
    """
    n, length = sw.imu_left.shape[:2]
    pose = sw.pose[:, pose_frame_index(length, num_frames)]
    if text_emb is None:
        text = torch.zeros(n, 384)
        has_text = torch.zeros(n, dtype=torch.bool)
    else:
        text = torch.from_numpy(np.asarray(text_emb, np.float32)[sw.text])
        has_text = torch.ones(n, dtype=torch.bool)
    return {
        "imu_left": _norm(sw.imu_left, normalizer), "imu_right": _norm(sw.imu_right, normalizer),
        "pose": torch.from_numpy(np.ascontiguousarray(pose, np.float32)), "text_emb": text,
        "has_left": torch.from_numpy(sw.has_left.astype(bool)),
        "has_right": torch.from_numpy(sw.has_right.astype(bool)),
        "has_pose": torch.ones(n, dtype=torch.bool), "has_text": has_text,
    }  # fmt: skip


def classifier_inputs(x: np.ndarray, normalizer: Normalizer) -> Tensor:
    """(N, L, 6) real windows -> standardised float32 (N, L, 6); missing channels (NaN) -> 0."""
    return _norm(x, normalizer)


class BatchDataset(Dataset):
    """Rows of a dict of equal-length tensors; ``ds[list_of_indices]`` returns one batch dict."""

    def __init__(self, tensors: dict[str, Tensor]):
        lengths = {int(t.shape[0]) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(f"tensors of different lengths: {lengths}")
        self.tensors = tensors
        self.n = lengths.pop()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: list[int]) -> dict[str, Tensor]:
        idx = torch.as_tensor(index, dtype=torch.long)
        return {k: v[idx] for k, v in self.tensors.items()}


def generated_windows(
    subjects: int = 6, classes: int = 4, per_class: int = 12, length: int = 60, rate_hz: float = 30.0, seed: int = 0
) -> RealWindows:
    """A learnable toy dataset in the RealWindows layout: class k is a (k+1) Hz oscillation on channel k % 6 over
    gravity on z, with per-subject gain/offset and noise. Not real data: for tests and offline demos."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / rate_hz
    xs, ys, subj = [], [], []
    for s in range(subjects):
        gain, off = rng.uniform(0.7, 1.3), rng.normal(0, 0.3, 6)
        for k in range(classes):
            for _ in range(per_class):
                x = rng.normal(0, 0.3, (length, 6)) + off
                x[:, 2] += 9.81
                x[:, k % 6] += 3.0 * gain * np.sin(2 * np.pi * (k + 1) * t + rng.uniform(0, 2 * np.pi))
                xs.append(x)
                ys.append(k)
                subj.append(f"g{s:02d}")
    n = len(xs)
    return RealWindows(
        x=np.stack(xs).astype(np.float32), y=np.asarray(ys, np.int64), subject=np.asarray(subj),
        recording=np.asarray(subj), has_gyro=np.ones(n, bool), wrist=np.full(n, "left"),
        start_s=np.zeros(n), class_names=[f"class{k}" for k in range(classes)], rate_hz=rate_hz,
        window_s=length / rate_hz, hop_s=length / rate_hz, meta={"channels": list(CHANNELS), "generated": True},
    )  # fmt: skip


def load_recordings(name: str, data_root: str | None):  # noqa: ANN201 - list[Recording]
    """Recordings of a named real dataset in the left-wrist frame (right-wrist data mirrored, recorded in meta)."""
    if name == "seglearn":
        from toolkit.data.seglearn import load_seglearn

        return load_seglearn(mirror_to_left=True)
    if name == "sp-sw-har":
        from toolkit.data.sp_sw_har import load_sp_sw_har

        return load_sp_sw_har(data_root, mirror_to_left=True)
    if name == "basicmotions":
        from toolkit.data.basicmotions import load_basicmotions

        return load_basicmotions("TRAIN") + load_basicmotions("TEST")
    if name == "openpack":
        from toolkit.data.openpack import load_openpack

        return load_openpack(data_root=data_root, mirror_to_left=True)
    if name == "mmfit":
        from toolkit.data.mmfit import load_mmfit

        return load_mmfit(data_root=data_root, mirror_to_left=True)
    if name.startswith("csv:"):
        from toolkit.data.csv_format import read_csv_recordings

        return read_csv_recordings(name[4:], mirror_to_left=True)
    raise ConfigError(f"unknown dataset {name!r} (known: {', '.join(REAL_DATASETS)})")


def load_real_windows(name: str, grid: GridConfig, data_root: str | None = None) -> RealWindows:
    """Windows of a real dataset on ``grid`` (``generated``: :func:`generated_windows` at the grid's rate/length)."""
    if name == "generated":
        return generated_windows(length=grid.window_length, rate_hz=grid.rate_hz)
    w = real_windows(load_recordings(name, data_root), grid.rate_hz, grid.window_s, grid.hop_s)
    if len(w) == 0:
        raise ConfigError(f"dataset {name}: no labelled window of {grid.window_s} s")
    w.meta["dataset"] = name
    return w
