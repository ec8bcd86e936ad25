"""Teachers for distillation: a trained checkpoint folder, or the ``random-tiny`` demo teacher on generated data.

Checkpoint folder (default: the default model shipped in the package, ``toolkit/default_model/``, found by
:func:`toolkit.resources.default_model_dir` from any working folder):

- ``classifier.pt`` + ``classifier.json``: a fine-tuned :class:`~toolkit.models.HarClassifier` written by
  ``edge-finetune`` (:mod:`toolkit.train.checkpoint`: state dict, model config, normaliser, class names; the sidecar
  holds the run config, its window grid and the file's sha256);
- ``windows.npz`` (optional): labelled windows to distil, calibrate and evaluate on.

Windows file (``.npz``): ``x`` (N, L, C) float32 raw units (acc m/s^2, gyro rad/s, watch frame), ``y`` (N,) int,
``subject`` (N,) str.

``random-tiny`` (demos and tests only): generated, well separable 6-channel windows (:func:`generated_windows`)
and a :class:`HarClassifier` with the toolkit's ``tiny()`` config trained on them for a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from toolkit.errors import ConfigError, InputFileError
from toolkit.hashing import sha256_file
from toolkit.models import ClassifierConfig, HarClassifier, Multi3NetConfig
from toolkit.resources import default_model_dir
from toolkit.train.channels import check_finite
from toolkit.train.checkpoint import load_checkpoint
from toolkit.train.config import GridConfig
from toolkit.train.data import load_real_windows
from toolkit.train.finetune import classifier_from_spec

CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
DEFAULT_CHECKPOINT = default_model_dir(check=False)  # absolute: the installed package's default model
CHECKPOINT_NAME = "classifier.pt"
WINDOWS_NAME = "windows.npz"
HOW_TO_MAKE = (
    "fine-tune one with edge-finetune --out DIR (classifier.pt + classifier.json), "
    "or pass --checkpoint DIR, or use --teacher random-tiny for a demo"
)


@dataclass
class Windows:
    """Labelled windows: x (N, L, C) float32 raw units, y (N,) int64, subject (N,) str; ``channels`` names x's C
    channels (default: the 6 of acc + gyro)."""

    x: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    channels: tuple[str, ...] = CHANNELS

    def subset(self, index: np.ndarray) -> Windows:
        return Windows(self.x[index], self.y[index], self.subject[index], self.channels)

    def __len__(self) -> int:
        return len(self.y)

    def select(self, channels: Sequence[str], where: str) -> np.ndarray:
        """x restricted to ``channels`` (N, L, len(channels)), checked finite (ConfigError naming a channel with
        NaN / inf, or a channel these windows lack)."""
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise ConfigError(f"{where}: the model needs channels {missing} but the windows hold only "
                              f"{list(self.channels)}")
        if self.x.ndim != 3 or self.x.shape[2] != len(self.channels):
            raise ConfigError(f"{where}: windows are {tuple(self.x.shape)}, expected (N, L, {len(self.channels)})")
        x = self.x[..., [self.channels.index(c) for c in channels]]
        check_finite(x, list(channels), where, self.subject)
        return x


@dataclass
class InputSpec:
    """What the model expects; written into every manifest."""

    rate_hz: float = 30.0
    window_s: float = 2.0
    hop_s: float = 1.0
    channels: tuple[str, ...] = CHANNELS
    mean: list[float] = field(default_factory=lambda: [0.0] * 6)
    std: list[float] = field(default_factory=lambda: [1.0] * 6)

    @property
    def window(self) -> int:
        return int(round(self.rate_hz * self.window_s))

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """(..., C) raw -> standardised float32."""
        return ((np.asarray(x, np.float64) - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def check(self, x: np.ndarray) -> None:
        """ConfigError unless x is (N, window, channels)."""
        if x.ndim != 3 or x.shape[1:] != (self.window, len(self.channels)):
            raise ConfigError(
                f"wrong input spec: windows are {tuple(x.shape)}, the model expects (N, {self.window}, "
                f"{len(self.channels)}) = {self.window_s} s at {self.rate_hz} Hz of {', '.join(self.channels)}"
            )

    def restricted(self, channels: Sequence[str]) -> InputSpec:
        """The same spec for a subset of its channels (mean / std of those channels)."""
        idx = [self.channels.index(c) for c in channels]
        return InputSpec(rate_hz=self.rate_hz, window_s=self.window_s, hop_s=self.hop_s, channels=tuple(channels),
                         mean=[self.mean[i] for i in idx], std=[self.std[i] for i in idx])

    def to_dict(self) -> dict:
        return {
            "channels": list(self.channels),
            "units": {"acc": "m/s^2", "gyro": "rad/s"},
            "frame": "simulator watch frame (Android: +X 3 o'clock, +Y 12 o'clock, +Z out of the face)",
            "rate_hz": self.rate_hz,
            "window_s": self.window_s,
            "window_samples": self.window,
            "hop_s": self.hop_s,
            "normalization": {"applied": "outside the model: x_model = (x - mean) / std", "mean": self.mean,
                              "std": self.std},
            "layout": "(1, window_samples, channels) float32",
        }


@dataclass
class Teacher:
    """A float teacher and everything the export needs to know about it."""

    model: HarClassifier
    class_names: list[str]
    spec: InputSpec
    windows: Windows | None  #: data to distil / calibrate / evaluate on (None: must be given)
    checkpoint_sha256: str | None
    source: str
    class_text_embeddings: np.ndarray | None = None
    #: subjects held out from the teacher's training (evaluation only); empty: split the windows' subjects
    eval_subjects: list[str] = field(default_factory=list)
    #: sha256 of the windows file read with the checkpoint (None: none, or given separately)
    windows_sha256: str | None = None


def teacher_embedding(teacher: HarClassifier, x: torch.Tensor) -> torch.Tensor:
    """The teacher's pooled IMU embedding e (B, out_dim): mean over wrists of each encoder's ``proj(mean(H))``."""
    c = teacher.imu_cfg.in_channels
    embs = [enc(x[..., i * c : (i + 1) * c]).embedding for i, enc in enumerate(teacher.encoders)]
    return embs[0] if len(embs) == 1 else torch.stack(embs).mean(0)


def generated_windows(
    n_per_class: int = 120, num_classes: int = 4, window: int = 60, rate_hz: float = 30.0, subjects: int = 6,
    noise: float = 0.35, seed: int = 0,
) -> Windows:
    """Separable synthetic wrist windows (demo data, not a simulator output).

    Class k: gravity along a class-specific axis of the watch frame (9.81 m/s^2) plus sinusoids at a class
    frequency (0.8 + 0.7 k Hz) on acc and gyro, with per-subject amplitude/phase jitter and Gaussian noise.
    Returns ``x`` (N, window, 6) in m/s^2 and rad/s.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(window) / rate_hz
    xs, ys, ss = [], [], []
    grav_dirs = np.eye(3)[np.arange(num_classes) % 3] * np.where(np.arange(num_classes) % 2, -1, 1)[:, None]
    for s in range(subjects):
        amp_s = rng.uniform(0.7, 1.3)
        for k in range(num_classes):
            f = 0.8 + 0.7 * k
            for _ in range(n_per_class // subjects):
                ph = rng.uniform(0, 2 * np.pi, 6)
                acc = 9.81 * grav_dirs[k] + amp_s * 3.0 * np.sin(2 * np.pi * f * t[:, None] + ph[None, :3])
                gyro = amp_s * (0.5 + 0.3 * k) * np.sin(2 * np.pi * f * t[:, None] + ph[None, 3:])
                w = np.concatenate([acc, gyro], 1) + noise * rng.standard_normal((window, 6)) * [2, 2, 2, 0.5, 0.5, 0.5]
                xs.append(w)
                ys.append(k)
                ss.append(f"s{s}")
    return Windows(np.asarray(xs, np.float32), np.asarray(ys, np.int64), np.asarray(ss))


def split_subjects(windows: Windows, eval_fraction: float = 0.3) -> tuple[list[str], list[str]]:
    """(train subjects, evaluation subjects): the last ``eval_fraction`` of the sorted subject ids held out."""
    subjects = sorted(set(windows.subject.tolist()))
    if len(subjects) < 2:
        raise ConfigError("need windows from at least 2 subjects (evaluation subjects are held out)")
    n_eval = max(1, int(round(eval_fraction * len(subjects))))
    return subjects[:-n_eval], subjects[-n_eval:]


def fit_spec(x: np.ndarray, rate_hz: float = 30.0, hop_s: float = 1.0) -> InputSpec:
    """An :class:`InputSpec` whose mean/std are fitted on (N, L, C) training windows."""
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    std = flat.std(0)
    return InputSpec(rate_hz=rate_hz, window_s=x.shape[1] / rate_hz, hop_s=hop_s, mean=flat.mean(0).tolist(),
                     std=np.where(std < 1e-8, 1.0, std).tolist())


def train_classifier(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int = 30, lr: float = 3e-3,
                     batch: int = 64, seed: int = 0) -> nn.Module:
    """Plain cross-entropy training on standardised windows (used for the demo teacher and the baseline)."""
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(yt)).split(batch):
            out = model(xt[idx])
            logits = out[0] if isinstance(out, tuple) else out
            loss = nn.functional.cross_entropy(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def random_tiny_teacher(seed: int = 0, epochs: int = 25, num_classes: int = 4, noise: float = 0.35) -> Teacher:
    """DEMO teacher: toolkit ``tiny()`` HarClassifier trained a few seconds on :func:`generated_windows`.

    8 generated subjects of 120 windows; the teacher trains on the subjects that :func:`split_subjects` keeps for
    training (s0..s5), so the evaluation subjects (s6, s7) stay unseen downstream too.
    """
    torch.manual_seed(seed)
    data = generated_windows(n_per_class=240, num_classes=num_classes, subjects=8, noise=noise, seed=seed)
    train = np.isin(data.subject, split_subjects(data)[0])
    spec = fit_spec(data.x[train])
    cfg = Multi3NetConfig.tiny()
    clf_cfg = ClassifierConfig(**{**cfg.classifier.to_dict(), "num_classes": num_classes})
    model = HarClassifier(cfg.imu, clf_cfg)
    train_classifier(model, spec.normalise(data.x[train]), data.y[train], epochs=epochs, seed=seed)
    names = [f"activity_{k}" for k in range(num_classes)]
    return Teacher(model.eval(), names, spec, data, None, "random-tiny (demo: generated data, trained seconds)")


def load_windows(path: str | Path) -> Windows:
    """Read a windows ``.npz`` (x, y, subject, optional channels: names of x's channels, default the first C of
    acc_x .. gyro_z); InputFileError when a key is missing."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such windows file (.npz with x, y, subject)")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in ("x", "y", "subject") if k not in z]
        if missing:
            raise InputFileError(path, f"missing arrays {missing} (need x (N, L, C), y (N,), subject (N,))")
        x = z["x"].astype(np.float32)
        channels = tuple(z["channels"].astype(str).tolist()) if "channels" in z else CHANNELS[: x.shape[-1]]
        if x.ndim != 3 or len(channels) != x.shape[2]:
            raise InputFileError(path, f"x is {tuple(x.shape)} but channels name {len(channels)}: {list(channels)}")
        return Windows(x, z["y"].astype(np.int64), z["subject"].astype(str), channels)


def dataset_windows(teacher: Teacher, dataset: str, data_root: str | None = None,
                    profile: str | None = None) -> Windows:
    """Windows of a real dataset (``--dataset`` of edge-finetune, read through the device description ``profile``)
    on the teacher's grid, with the teacher's channels and class indices.

    Raises ConfigError when the dataset has a class the teacher does not know, or NaN / inf in a used channel.
    """
    spec = teacher.spec
    grid = GridConfig(rate_hz=spec.rate_hz, window_s=spec.window_s, hop_s=spec.hop_s)
    w = load_real_windows(dataset, grid, data_root, profile)
    unknown = sorted(set(w.class_names) - set(teacher.class_names))
    if unknown:
        raise ConfigError(f"dataset {dataset}: classes {unknown} are not among the model's {teacher.class_names}")
    to_teacher = np.asarray([teacher.class_names.index(c) for c in w.class_names], np.int64)
    x = w.x[:, :, [CHANNELS.index(c) for c in spec.channels]].astype(np.float32)
    check_finite(x, spec.channels, f"dataset {dataset}", w.subject)
    return Windows(x, to_teacher[w.y], np.asarray(w.subject).astype(str), tuple(spec.channels))


def load_teacher(folder: str | Path) -> Teacher:
    """A :class:`Teacher` from a ``toolkit/train`` checkpoint folder (see the module docstring).

    The checkpoint's sha256 is checked against its sidecar by :func:`toolkit.train.checkpoint.load_checkpoint`
    (a tampered file is refused); errors are one line.
    """

    folder = Path(folder)
    ckpt = folder / CHECKPOINT_NAME
    if not ckpt.is_file() or not ckpt.with_suffix(".json").is_file():
        raise InputFileError(folder, f"no {CHECKPOINT_NAME} + {ckpt.with_suffix('.json').name} here: {HOW_TO_MAKE}")
    loaded = load_checkpoint(ckpt, kind="classifier")
    payload, grid = loaded.payload, loaded.sidecar["config"]["grid"]
    try:
        model = classifier_from_spec(payload["model_config"])
        if not isinstance(model, HarClassifier):
            raise ConfigError(f"{ckpt}: a {type(model).__name__} baseline cannot be distilled into the edge student")
        model.load_state_dict(payload["model"])
        channels = tuple(payload["extra"].get("channels") or CHANNELS[: model.imu_cfg.in_channels])
        spec = InputSpec(rate_hz=float(grid["rate_hz"]), window_s=float(grid["window_s"]), hop_s=float(grid["hop_s"]),
                         channels=channels, mean=list(payload["normalizer"]["mean"]),
                         std=list(payload["normalizer"]["std"]))  # fmt: skip
        names = list(payload["extra"]["class_names"])
        recorded = (payload["extra"].get("data") or {}).get("windows") or {}
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise InputFileError(ckpt, f"not a classifier checkpoint of toolkit/train: {exc}") from exc
    if len(channels) != model.imu_cfg.in_channels * model.cfg.wrists or len(spec.mean) != len(channels):
        raise InputFileError(ckpt, f"channels {list(channels)} do not match the model's "
                                   f"{model.imu_cfg.in_channels * model.cfg.wrists} inputs / its normaliser")
    windows, digest = None, None
    if (folder / WINDOWS_NAME).is_file():
        digest = sha256_file(folder / WINDOWS_NAME)
        if recorded.get("sha256") and recorded["sha256"] != digest:
            raise InputFileError(folder / WINDOWS_NAME, f"sha256 {digest[:12]}... differs from the "
                                 f"{str(recorded['sha256'])[:12]}... the checkpoint was trained with; refusing")
        windows = load_windows(folder / WINDOWS_NAME)
    held_out = list(loaded.sidecar.get("metrics", {}).get("fold", {}).get("test", []))
    return Teacher(model.eval(), names, spec, windows, loaded.sidecar["sha256"], str(folder), eval_subjects=held_out,
                   windows_sha256=digest)
