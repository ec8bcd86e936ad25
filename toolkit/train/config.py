"""Run configurations of pretraining, fine-tuning and evaluation: dataclasses with YAML load/save and validation.

Every run writes its config (``config.yaml``) next to its outputs. A config converts to a plain dict of numbers,
strings, lists and nested dicts (:meth:`to_dict`), and back (:meth:`from_dict`, unknown keys rejected). Invalid
values raise :class:`~toolkit.errors.ConfigError` with a one-line message.

Window grid defaults follow :mod:`toolkit.data.windows`: 30 Hz model rate, 2 s windows (60 samples), 1 s hop.
The model is a preset (``"default"`` paper-like, ``"tiny"`` for tests) plus optional ``model_overrides`` (a
partial :class:`~toolkit.models.config.Multi3NetConfig` dict merged over the preset); the window length and the
pose frames are then fitted to the grid by :func:`toolkit.train.modelcfg.resolve_model_config`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from toolkit.data.windows import DEFAULT_HOP_S, DEFAULT_RATE_HZ, DEFAULT_WINDOW_S
from toolkit.errors import ConfigError
from toolkit.models.config import ABLATIONS
from toolkit.train.augment import AugmentConfig

PRESETS = ("default", "tiny")
OPTIMIZERS = ("adamw", "adam")
SCHEDULERS = ("none", "cosine")
TEXT_MODES = ("minilm", "none", "hash")
FREEZE_MODES = ("frozen", "not_frozen")
FINETUNE_METHODS = ("multi3net", "base", "dcl")
#: classifier heads on the IMU tokens (:data:`toolkit.train.finetune.HEAD_OVERRIDES`): ``moe`` the paper's (conv,
#: two attention stages, mixture of experts), ``mlp`` a per-token MLP (1x1 conv + BatchNorm + ReLU, one linear layer)
HEADS = ("moe", "mlp")
SELECT_ON = ("val_f1", "val_loss")
CLASS_WEIGHTS = ("balanced", "none")
SPLITS = ("loso", "groups", "stratified-cases")
#: methods of the paper's table rows (``edge-eval``)
DEEP_METHODS = ("dcl", "base", "imu_recon", "contrastive", "multi3net_frozen", "multi3net_not_frozen")
#: scikit-learn rows: random forest on window statistics, linear probes on frozen encoders
SKLEARN_METHODS = ("stats_rf", "probe_random", "probe_pretrained")
EVAL_METHODS = DEEP_METHODS + SKLEARN_METHODS
#: checkpoint key each pretrained method needs in ``EvalConfig.checkpoints``
METHOD_CHECKPOINT = {
    "imu_recon": "imu_recon",
    "contrastive": "contrastive",
    "multi3net_frozen": "multi3net",
    "multi3net_not_frozen": "multi3net",
    "probe_random": "multi3net",  # the architecture (weights random)
    "probe_pretrained": "multi3net",
}


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ConfigError(msg)


def _positive(name: str, value: float) -> None:
    _check(isinstance(value, int | float) and not isinstance(value, bool) and value > 0,
           f"{name} must be a positive number, got {value!r}")  # fmt: skip


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    _check(value in allowed, f"{name} must be one of {', '.join(allowed)}, got {value!r}")


class _ConfigMixin:
    """``to_dict`` / ``from_dict`` / YAML for flat or nested config dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {str(k): plain(x) for k, x in v.items()}
            return v

        return plain(self)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(names))
        _check(not unknown, f"{cls.__name__}: unknown keys {unknown}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            hint = hints[name]
            if isinstance(hint, type) and issubclass(hint, _ConfigMixin):
                value = hint.from_dict(value)
            elif (typing.get_origin(hint) is tuple or isinstance(hint, types.UnionType)) and isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise ConfigError(f"{cls.__name__}: {e}") from None

    def save_yaml(self, path: str | Path) -> Path:
        """Write the config as YAML (creating the folder)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load_yaml(cls, path: str | Path) -> Self:
        """Read a YAML file written by :meth:`save_yaml` (or by hand; missing keys keep their defaults)."""
        try:
            data = yaml.safe_load(Path(path).read_text())
        except OSError as e:
            raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(data or {})

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (``None`` values are ignored, so unset CLI flags keep the config)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore


@dataclass
class GridConfig(_ConfigMixin):
    """Window grid shared by every stage."""

    rate_hz: float = DEFAULT_RATE_HZ  #: model sample rate [Hz]
    window_s: float = DEFAULT_WINDOW_S  #: window length [s]
    hop_s: float = DEFAULT_HOP_S  #: hop between window starts [s]

    def __post_init__(self) -> None:
        for k in ("rate_hz", "window_s", "hop_s"):
            _positive(k, getattr(self, k))
        _check(round(self.rate_hz * self.window_s) >= 8, "window_s * rate_hz must give at least 8 samples")

    @property
    def window_length(self) -> int:
        """Samples per window L."""
        return int(round(self.rate_hz * self.window_s))


def _check_optim(cfg: Any) -> None:
    _one_of("optimizer", cfg.optimizer, OPTIMIZERS)
    _positive("lr", cfg.lr)
    _check(cfg.weight_decay >= 0, f"weight_decay must be >= 0, got {cfg.weight_decay}")
    _check(isinstance(cfg.batch_size, int) and cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}")
    _check(isinstance(cfg.epochs, int) and cfg.epochs >= 1, f"epochs must be an integer >= 1, got {cfg.epochs}")
    _check(isinstance(cfg.seed, int), f"seed must be an integer, got {cfg.seed!r}")
    _check(cfg.workers >= 0, f"workers must be >= 0, got {cfg.workers}")
    _check(cfg.device == "auto" or cfg.device == "cpu" or str(cfg.device).startswith("cuda"),
           f"device must be auto, cpu or cuda[:N], got {cfg.device!r}")  # fmt: skip
    _one_of("model", cfg.model, PRESETS)
    _check(isinstance(cfg.model_overrides, dict), "model_overrides must be a mapping")


@dataclass
class PretrainConfig(_ConfigMixin):
    """Tri-modal pretraining on simulator dataset folders (``edge-pretrain``)."""

    data: tuple[str, ...] = ()  #: simulator dataset folders (manifest.json + clip .npz)
    out_dir: str = "runs/pretrain"
    grid: GridConfig = field(default_factory=GridConfig)
    model: str = "default"  #: preset: default | tiny
    model_overrides: dict[str, Any] = field(default_factory=dict)  #: partial Multi3NetConfig dict
    ablation: str = "full"  #: full | contrastive_only | reconstruction_only
    text_embeddings: str = "minilm"  #: minilm (frozen MiniLM, cached) | none (text masked out) | hash (tests)
    text_cache: str | None = None  #: sentence-embedding cache folder; default <cache>/text-embeddings
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-2
    scheduler: str = "cosine"  #: none | cosine (over epochs)
    grad_clip: float = 1.0  #: max gradient norm; 0 disables
    batch_size: int = 64
    epochs: int = 10
    seed: int = 0
    device: str = "auto"  #: auto | cpu | cuda | cuda:N (under torchrun: cuda:LOCAL_RANK)
    workers: int = 0  #: DataLoader worker processes
    max_windows: int | None = None  #: keep only the first N windows (tests, benchmarks)
    progress: bool = True  #: progress bar (shown only on a terminal, rank 0)
    augment: dict[str, Any] = field(default_factory=dict)  #: toolkit.train.augment.AugmentConfig keys
    text_templates: bool = False  #: draw one of the clip's template sentences per window (else its main text)
    threads: int = 0  #: torch intra-op threads per process; 0 = leave torch's default
    text_geometry: float = 0.0  #: weight of the text-geometry regulariser (toolkit.models.losses.text_geometry_loss)

    def __post_init__(self) -> None:
        if isinstance(self.data, str):
            self.data = (self.data,)
        _check_optim(self)
        AugmentConfig.from_dict(self.augment)  # ConfigError for unknown keys or bad values
        _check(isinstance(self.threads, int) and self.threads >= 0, f"threads must be >= 0, got {self.threads!r}")
        _check(self.text_geometry >= 0, f"text_geometry must be >= 0, got {self.text_geometry}")
        _one_of("ablation", self.ablation, ABLATIONS)
        _one_of("text_embeddings", self.text_embeddings, TEXT_MODES)
        _one_of("scheduler", self.scheduler, SCHEDULERS)
        _check(self.grad_clip >= 0, f"grad_clip must be >= 0, got {self.grad_clip}")
        _check(self.max_windows is None or self.max_windows >= 2, "max_windows must be >= 2")


@dataclass
class FinetuneConfig(_ConfigMixin):
    """Fine-tuning a classifier on real windows (``edge-finetune``, and every fold of ``edge-eval``).

    ``method``: ``multi3net`` (HarClassifier from a pretrained checkpoint's IMU encoder, ``freeze`` mode),
    ``base`` (the same network, random init), ``dcl`` (DeepConvLSTM). ``freeze``: ``frozen`` (encoder frozen
    throughout) or ``not_frozen`` (frozen until the validation loss has not improved for ``unfreeze_patience``
    epochs, then unfrozen). Loss: class-balanced cross-entropy by default (weights ``N / (K n_k)`` from the
    training windows), because the real datasets are imbalanced and the metric is macro F1.
    """

    #: seglearn | sp-sw-har | basicmotions | openpack | mmfit | csv:FILE | folder:DIR | ts:FILE[,FILE] | generated
    dataset: str = "seglearn"
    data_root: str | None = None
    profile: str | None = None  #: device of csv:/folder:/ts: data: a built-in name or a .yaml file
    out_dir: str = "runs/finetune"
    grid: GridConfig = field(default_factory=GridConfig)
    checkpoint: str | None = None  #: pretrained Multi3Net checkpoint (.pt with its .json sidecar)
    method: str = "multi3net"
    freeze: str = "not_frozen"
    unfreeze_at: float = 0.3  #: not_frozen: unfreeze after this fraction of the step budget (warm-up frozen)
    unfreeze_patience: int = 4  #: P: evaluations without validation-loss improvement that unfreeze earlier
    encoder: str = "left"  #: which pretrained wrist encoder (real right-wrist data is mirrored to the left)
    model: str = "default"  #: preset for base/dcl without a checkpoint
    model_overrides: dict[str, Any] = field(default_factory=dict)
    num_experts: int | None = None  #: override the classifier's experts (``moe`` head)
    #: classifier head: moe | mlp (:data:`HEADS`), or auto (edge-finetune: both, the better validation macro F1
    #: kept, as edge-eval's protocol; moe without validation subjects); not used by ``dcl``
    head: str = "auto"
    optimizer: str = "adamw"
    lr: float = 1e-3
    encoder_lr_scale: float = 0.1  #: encoder learning rate = lr * this (after unfreezing)
    #: standardisation of a pretrained (``multi3net``) run: ``pretrained`` = the checkpoint's own statistics (from
    #: its synthetic pretraining data), ``fold`` = fitted on the fold's training windows (always for other methods)
    normalizer: str = "pretrained"
    weight_decay: float = 1e-2
    batch_size: int = 32
    epochs: int = 10  #: the budget is max(min_steps, epochs * steps per epoch) optimiser steps (capped by max_steps)
    min_steps: int = 300  #: floor of the step budget (holds at 10 % labels)
    max_steps: int | None = None  #: cap of the step budget (None: no cap)
    eval_every: int = 50  #: steps between validation evaluations (model selection)
    early_stop_patience: int = 8  #: evaluations without improvement of ``select_on`` to stop (after min_steps)
    select_on: str = "val_f1"  #: model selection: val_f1 (macro F1) | val_loss
    class_weights: str = "balanced"
    val_fraction: float = 0.2  #: fraction of the TRAINING subjects used for validation (all their windows)
    test_subjects: tuple[str, ...] = ()  #: subjects held out entirely (edge-finetune reports on them)
    label_fraction: float = 1.0  #: fraction of labelled TRAINING windows kept per class (validation: all)
    #: input channels: auto (acc+gyro when every window has gyroscope data, else acc) | acc | acc+gyro
    channels: str = "auto"
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    dcl_filters: int = 64
    dcl_units: int = 128
    progress: bool = True

    def __post_init__(self) -> None:
        _check_optim(self)
        _one_of("method", self.method, FINETUNE_METHODS)
        _one_of("freeze", self.freeze, FREEZE_MODES)
        _one_of("select_on", self.select_on, SELECT_ON)
        _one_of("class_weights", self.class_weights, CLASS_WEIGHTS)
        _one_of("encoder", self.encoder, ("left", "right"))
        _one_of("normalizer", self.normalizer, ("pretrained", "fold"))
        _one_of("channels", self.channels, ("auto", "acc", "acc+gyro"))
        _one_of("head", self.head, (*HEADS, "auto"))
        _check(self.unfreeze_patience >= 1, f"unfreeze_patience must be >= 1, got {self.unfreeze_patience}")
        _check(0 <= self.unfreeze_at <= 1, f"unfreeze_at must be in [0, 1], got {self.unfreeze_at}")
        _check(isinstance(self.min_steps, int) and self.min_steps >= 1, f"min_steps must be >= 1, got {self.min_steps}")
        _check(self.max_steps is None or (isinstance(self.max_steps, int) and self.max_steps >= self.min_steps),
               f"max_steps must be >= min_steps ({self.min_steps}), got {self.max_steps}")  # fmt: skip
        _check(isinstance(self.eval_every, int) and self.eval_every >= 1,
               f"eval_every must be >= 1, got {self.eval_every}")  # fmt: skip
        _check(self.early_stop_patience >= 1, "early_stop_patience must be >= 1")
        _check(0 <= self.val_fraction < 1, f"val_fraction must be in [0, 1), got {self.val_fraction}")
        _check(0 < self.label_fraction <= 1, f"label_fraction must be in (0, 1], got {self.label_fraction}")
        _check(self.num_experts is None or self.num_experts >= 1, "num_experts must be >= 1")
        _positive("encoder_lr_scale", self.encoder_lr_scale)
        _check(bool(self.dataset), "dataset must be named")


@dataclass
class EvalConfig(_ConfigMixin):
    """The evaluation protocol (``edge-eval``): subject-wise folds x methods x label fractions x seeds.

    ``finetune`` holds the dataset, grid and training settings shared by every fold (its ``method``,
    ``freeze``, ``checkpoint``, ``label_fraction``, ``seed`` and ``test_subjects`` are set per run).
    """

    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    out_dir: str = "reports/eval"
    methods: tuple[str, ...] = EVAL_METHODS
    checkpoints: dict[str, str] = field(default_factory=dict)  #: multi3net / imu_recon / contrastive -> .pt
    label_fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    experts: tuple[int, ...] = (1, 2, 4, 8, 16)  #: experts sweep (empty: none), at label fraction 1.0
    experts_method: str = "multi3net_not_frozen"
    #: classifier heads tried by every deep row but DCL; with more than one, each (fold, seed) keeps the head with
    #: the best validation macro F1 (the same choice stats_rf and the probes make for their one hyper-parameter)
    heads: tuple[str, ...] = ("moe",)
    split: str = "loso"  #: loso | groups | stratified-cases (datasets without subject ids: folds over cases)
    groups: int = 5  #: subject groups for split=groups, case folds for split=stratified-cases
    subjects: tuple[str, ...] = ()  #: restrict to these subjects (empty: all)
    max_folds: int | None = None  #: evaluate only the first N folds (quick runs)
    zero_shot: bool = True  #: zero-shot row (needs checkpoints.multi3net and text embeddings)
    workers: int = 1  #: runs in parallel worker processes (one torch thread each)
    text_embeddings: str = "minilm"  #: minilm | hash (tests) for the zero-shot class descriptions
    text_cache: str | None = None

    def __post_init__(self) -> None:
        for m in self.methods:
            _one_of("method", m, EVAL_METHODS)
        _check(len(self.methods) > 0 or bool(self.experts) or self.zero_shot, "nothing to evaluate")
        _one_of("experts_method", self.experts_method, DEEP_METHODS)
        _check(len(self.heads) >= 1 and len(set(self.heads)) == len(self.heads), f"heads: give distinct heads, got "
               f"{list(self.heads)}")  # fmt: skip
        for h in self.heads:
            _one_of("heads", h, HEADS)
        _one_of("split", self.split, SPLITS)
        _one_of("text_embeddings", self.text_embeddings, ("minilm", "hash"))
        for f in self.label_fractions:
            _check(0 < f <= 1, f"label fractions must be in (0, 1], got {f}")
        for e in self.experts:
            _check(isinstance(e, int) and e >= 1, f"experts must be integers >= 1, got {e!r}")
        _check(len(self.seeds) >= 1, "give at least one seed")
        _check(self.max_folds is None or self.max_folds >= 1, "max_folds must be >= 1")
        _check(self.groups >= 2, f"groups must be >= 2, got {self.groups}")
        _check(isinstance(self.workers, int) and self.workers >= 1, f"workers must be >= 1, got {self.workers}")
        unknown = sorted(set(self.checkpoints) - set(METHOD_CHECKPOINT.values()))
        _check(not unknown, f"checkpoints: unknown keys {unknown} (known: multi3net, imu_recon, contrastive)")


__all__ = [
    "DEEP_METHODS",
    "EVAL_METHODS",
    "EvalConfig",
    "FinetuneConfig",
    "GridConfig",
    "HEADS",
    "METHOD_CHECKPOINT",
    "PretrainConfig",
    "SKLEARN_METHODS",
]
