"""Window arrays -> model-ready tensors, a batch dataset, and the real-dataset registry.

* :func:`pretrain_tensors`: :class:`~toolkit.data.windows.SyntheticWindows` -> the batch dict of
  :mod:`toolkit.models.multi3net` (normalised IMU, pose subsampled to the encoder's frames, text embeddings and
  masks).
* :func:`classifier_inputs`: real windows (N, L, 6) -> normalised float32 tensor; NaN (missing gyroscope) -> 0,
  the training mean after standardisation.
* :class:`BatchDataset`: a dict of tensors indexed by a list of row indices (used with a BatchSampler, so a
  batch is one gather, not B calls).
* :class:`PretrainBatches`: the pretraining set made batch by batch (in DataLoader workers when there are any):
  one of the clip's template sentences per window, training-time augmentation (:mod:`toolkit.train.augment`),
  normalisation, and the de-duplication ids ``group`` / ``text_id`` (:mod:`toolkit.models.losses`); seeded by
  ``(seed, epoch, batch indices)``, so it does not depend on the number of workers.
* :func:`load_real_windows`: dataset name -> :class:`~toolkit.data.windows.RealWindows` on the run's grid.
* :func:`generated_windows`: a small synthetic "real" dataset with subjects and learnable classes (tests).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from toolkit.data.basicmotions import load_basicmotions
from toolkit.data.csv_format import read_csv_recordings
from toolkit.data.folder_format import load_folder, load_ts_dataset
from toolkit.data.frame_check import warn_frames
from toolkit.data.gyro_check import warn_gyro
from toolkit.data.mmfit import load_mmfit
from toolkit.data.openpack import load_openpack
from toolkit.data.seglearn import load_seglearn
from toolkit.data.sp_sw_har import load_sp_sw_har
from toolkit.data.splits import Normalizer, fit_normalizer
from toolkit.data.windows import CHANNELS, RealWindows, SyntheticWindows, real_windows, synthetic_windows
from toolkit.errors import ConfigError
from toolkit.train.augment import Augmenter
from toolkit.train.config import GridConfig
from toolkit.train.modelcfg import pose_frame_index

REAL_DATASETS = ("seglearn", "sp-sw-har", "basicmotions", "openpack", "mmfit", "generated", "csv:FILE", "folder:DIR",
                 "ts:FILE[,FILE]")


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
    where: dict[str, int] = {}
    remapped, templates = [], []
    for p in parts:
        idx = np.asarray([where.setdefault(t, len(where)) for t in p.texts], np.int64)
        remapped.append(idx[p.text])
        tpl = np.where(p.templates >= 0, idx[np.clip(p.templates, 0, None)], -1)
        templates.append(tpl)
    texts = list(where)
    width = max(t.shape[1] for t in templates)
    templates = [np.pad(t, ((0, 0), (0, width - t.shape[1])), constant_values=-1) for t in templates]
    cat = lambda k: np.concatenate([getattr(p, k) for p in parts])  # noqa: E731
    return SyntheticWindows(
        imu_left=cat("imu_left"), imu_right=cat("imu_right"), has_left=cat("has_left"), has_right=cat("has_right"),
        pose=cat("pose"), text=np.concatenate(remapped), texts=texts, clip=cat("clip"), variant=cat("variant"),
        start_s=cat("start_s"), rate_hz=parts[0].rate_hz, window_s=parts[0].window_s, hop_s=parts[0].hop_s,
        meta={"datasets": [str(f) for f in folders]}, templates=np.concatenate(templates),
    )  # fmt: skip


def pose_groups(sw: SyntheticWindows) -> np.ndarray:
    """(N,) int64 id per window; equal ids = same clip and start time (body variants share the pose tensor)."""
    keys = np.char.add(np.char.add(sw.clip.astype(str), "@"), np.round(sw.start_s, 6).astype(str))
    return np.unique(keys, return_inverse=True)[1].astype(np.int64).reshape(-1)


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


class PretrainBatches(Dataset):
    """The pretraining set as batches made on the fly; ``ds[list_of_indices]`` -> one batch dict.

    Keys: those of :func:`pretrain_tensors` plus ``group`` and ``text_id`` (B,) int64 (pose identity and text
    label, for the de-duplicated contrastive targets). With ``templates`` each window's text is drawn from its
    clip's sentences (``SyntheticWindows.templates``), else it is the clip's main text; ``text_id`` is the main
    text's index either way (all sentences of one label are one text). Randomness: a generator seeded with
    ``(seed, epoch, crc32 of the indices)``; :meth:`set_epoch` before each epoch.

    Args:
        sw: the windows; normalizer: IMU statistics (fitted on unaugmented windows); num_frames: pose frames F.
        text_emb: (len(sw.texts), 384) embeddings of every text, or None (text masked out).
        augment: training-time augmentation or None; templates: draw a template sentence per window.
    """

    def __init__(
        self,
        sw: SyntheticWindows,
        normalizer: Normalizer,
        num_frames: int,
        text_emb: np.ndarray | None,
        augment: Augmenter | None = None,
        templates: bool = False,
        seed: int = 0,
    ):
        length = sw.imu_left.shape[1]
        self.imu_left, self.imu_right = sw.imu_left, sw.imu_right
        self.has_left = torch.from_numpy(sw.has_left.astype(bool))
        self.has_right = torch.from_numpy(sw.has_right.astype(bool))
        self.pose = torch.from_numpy(np.ascontiguousarray(sw.pose[:, pose_frame_index(length, num_frames)], np.float32))
        self.text_emb = None if text_emb is None else torch.from_numpy(np.asarray(text_emb, np.float32))
        self.text = sw.text.astype(np.int64)
        self.tpl = np.asarray(sw.templates, np.int64)
        self.n_tpl = np.maximum((self.tpl >= 0).sum(axis=1), 1)
        self.group = torch.from_numpy(pose_groups(sw))
        self.normalizer, self.augment, self.templates, self.seed = normalizer, augment, templates, int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.text)

    def rng(self, index: np.ndarray) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, zlib.crc32(index.astype(np.int64).tobytes())])

    def __getitem__(self, index: list[int]) -> dict[str, Tensor]:
        idx = np.asarray(index, np.int64)
        rng = self.rng(idx)
        left, right = self.imu_left[idx], self.imu_right[idx]
        if self.augment is not None:
            left, right = self.augment.wrist(left, rng), self.augment.wrist(right, rng, right=True)
        b = len(idx)
        if self.text_emb is None:
            text, has_text = torch.zeros(b, 384), torch.zeros(b, dtype=torch.bool)
        else:
            pick = rng.integers(0, self.n_tpl[idx]) if self.templates else np.zeros(b, np.int64)
            chosen = np.where(self.templates, self.tpl[idx, pick], self.text[idx]) if self.templates else self.text[idx]
            text, has_text = self.text_emb[torch.from_numpy(chosen)], torch.ones(b, dtype=torch.bool)
        t = torch.from_numpy(idx)
        return {
            "imu_left": _norm(left, self.normalizer), "imu_right": _norm(right, self.normalizer),
            "pose": self.pose[t], "text_emb": text, "has_left": self.has_left[t], "has_right": self.has_right[t],
            "has_pose": torch.ones(b, dtype=torch.bool), "has_text": has_text, "group": self.group[t],
            "text_id": torch.from_numpy(self.text[idx]),
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


def load_recordings(name: str, data_root: str | None, profile: str | None = None):  # noqa: ANN201 - list[Recording]
    """Recordings of a named real dataset in the left-wrist frame (right-wrist data mirrored, recorded in meta).

    ``profile`` (``--profile``: a built-in name or a profile file) is the device of ``csv:``, ``folder:`` and
    ``ts:`` datasets (overriding the one their files name); the built-in datasets have their own.
    """
    if name == "seglearn":
        return load_seglearn(mirror_to_left=True)
    if name == "sp-sw-har":
        return load_sp_sw_har(data_root, mirror_to_left=True)
    if name == "basicmotions":
        return load_basicmotions("TRAIN") + load_basicmotions("TEST")
    if name == "openpack":
        return load_openpack(data_root=data_root, mirror_to_left=True)
    if name == "mmfit":
        return load_mmfit(data_root=data_root, mirror_to_left=True)
    if name.startswith("csv:"):
        return read_csv_recordings(name[4:], profile, mirror_to_left=True)
    if name.startswith("folder:"):
        return load_folder(name[len("folder:"):], profile, mirror_to_left=True)
    if name.startswith("ts:"):
        return load_ts_dataset(name[3:], profile, mirror_to_left=True)
    raise ConfigError(f"unknown dataset {name!r} (known: {', '.join(REAL_DATASETS)})")


def load_real_windows(
    name: str, grid: GridConfig, data_root: str | None = None, profile: str | None = None
) -> RealWindows:
    """Windows of a real dataset on ``grid`` (``generated``: :func:`generated_windows` at the grid's rate/length);
    ``profile`` as in :func:`load_recordings`."""
    if name == "generated":
        return generated_windows(length=grid.window_length, rate_hz=grid.rate_hz)
    recordings = load_recordings(name, data_root, profile)
    warn_frames(recordings, f"dataset {name}")  # FrameWarning when gravity says the axes look wrong
    if ":" in name:  # the user's own files (the built-in loaders are pinned by benchmarks/gyro_convention.py)
        warn_gyro(recordings, f"dataset {name}")  # GyroWarning when the gyroscope does not turn gravity as it should
    w = real_windows(recordings, grid.rate_hz, grid.window_s, grid.hop_s)
    if len(w) == 0:
        raise ConfigError(f"dataset {name}: no labelled window of {grid.window_s} s")
    w.meta["dataset"] = name
    return w
