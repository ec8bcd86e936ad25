"""Fine-tuning a HAR classifier on (already split and normalised) real windows.

Models (:func:`build_classifier`):

* ``multi3net``: :class:`~toolkit.models.classifier.HarClassifier` whose encoder starts as a copy of the pretrained
  Multi3Net's wrist encoder (``encoder``: left by default; real right-wrist data is mirrored into the left-wrist
  frame by the loaders). Windows with both wrists (12 channels) use both encoders.
* ``base``: the same network with random initialisation, everything trained from the start.
* ``dcl``: :class:`~toolkit.models.baselines.DeepConvLSTM` trained from scratch.

Head (``head``, ``multi3net`` and ``base``): ``moe``, the paper's hybrid MoE head (section 5.2), or ``mlp``, a
per-token MLP (:data:`HEAD_OVERRIDES`); both start from random weights.

The protocol (:func:`train_classifier`) is a budget of optimiser steps, not epochs, so that 10 % labels still
train: ``steps = min(max_steps, max(min_steps, epochs * steps_per_epoch))`` (:func:`step_budget`; an epoch is
``ceil(N / batch_size)`` steps over a fresh permutation). The model is evaluated every ``eval_every`` steps and at
the last step; the evaluation with the best validation macro F1 (or loss; with no validation subject: the last)
is restored at the end. Every method gets the same budget.

Freeze modes for ``multi3net``: ``frozen``, the encoder stays frozen (eval mode, no gradient); ``not_frozen``,
warm-up with the encoder frozen, then unfrozen on a schedule, after ``round(unfreeze_at * steps)`` steps, or
earlier at a plateau (the validation loss, or the training loss without validation, has not improved for
``unfreeze_patience`` evaluations). The encoder's learning rate is ``encoder_lr_scale * lr``. Early stopping
(``early_stop_patience`` evaluations without improvement) only ends training after ``min_steps`` steps and never
while a ``not_frozen`` encoder is still frozen.

Loss: cross-entropy, class-balanced by default (weight ``N / (K n_k)`` of class k from the TRAINING windows,
0 for a class absent from them), because the datasets are imbalanced and the metric is macro F1. Validation
subjects come from the training subjects only (:mod:`toolkit.train.protocol`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import Tensor, nn
from tqdm import tqdm

from toolkit.errors import ConfigError
from toolkit.models.baselines import DeepConvLSTM
from toolkit.models.classifier import HarClassifier
from toolkit.models.config import ClassifierConfig, ImuEncoderConfig, Multi3NetConfig
from toolkit.models.multi3net import Multi3Net
from toolkit.train.channels import ACC_CHANNELS, acc_only_state
from toolkit.train.config import FinetuneConfig
from toolkit.train.pretrain import make_optimizer


@dataclass
class FinetuneResult:
    """What :func:`train_classifier` returns."""

    model: nn.Module  #: the selected (best) model, eval mode
    history: list[dict[str, Any]] = field(default_factory=list)  #: one record per evaluation
    best_step: int = 0  #: optimiser step of the restored model
    unfrozen_step: int | None = None  #: step after which the encoder was unfrozen (not_frozen mode)
    steps: int = 0  #: optimiser steps made
    budget: int = 0  #: step budget (:func:`step_budget`)
    steps_per_epoch: int = 1
    best_val_f1: float | None = None  #: validation macro F1 of the restored model

    @property
    def best_epoch(self) -> int:
        """Epoch (1-based, possibly fractional epochs rounded up) of the restored model."""
        return max(1, math.ceil(self.best_step / self.steps_per_epoch)) if self.best_step else 0

    @property
    def unfrozen_epoch(self) -> int | None:
        return None if self.unfrozen_step is None else max(1, math.ceil(self.unfrozen_step / self.steps_per_epoch))


#: classifier-config changes of each head (:data:`toolkit.train.config.HEADS`). ``mlp``: no attention stage, a
#: 1x1 conv + BatchNorm + ReLU per token, one expert that is one Linear layer, mean over tokens: a per-token MLP,
#: with fewer parameters for a few hundred labelled windows (the ``moe`` head's experts setting does not apply).
HEAD_OVERRIDES: dict[str, dict[str, int]] = {
    "moe": {},
    "mlp": {"num_stages": 0, "conv_kernel": 1, "num_experts": 1, "expert_hidden": 0},
}


def step_budget(n_train: int, cfg: FinetuneConfig) -> tuple[int, int]:
    """(optimiser steps, steps per epoch) for ``n_train`` training windows (module docstring)."""
    per_epoch = max(1, math.ceil(n_train / cfg.batch_size))
    steps = max(cfg.min_steps, cfg.epochs * per_epoch)
    if cfg.max_steps is not None:
        steps = min(steps, cfg.max_steps)
    return steps, per_epoch


def classifier_spec(
    cfg: FinetuneConfig, num_classes: int, wrists: int, mcfg: Multi3NetConfig, channels: int = 6
) -> dict[str, Any]:
    """Plain description of the classifier to build (stored in its checkpoint as ``model_config``).

    ``channels``: input channels per wrist (6: acc + gyro, 3: accelerometer only, :mod:`toolkit.train.channels`).
    """
    if cfg.method == "dcl":
        return {"arch": "dcl", "in_channels": channels * wrists, "num_classes": num_classes,
                "conv_filters": cfg.dcl_filters, "lstm_units": cfg.dcl_units}  # fmt: skip
    head = mcfg.classifier.to_dict() | {"num_classes": num_classes, "wrists": wrists}
    if cfg.num_experts is not None:
        head["num_experts"] = cfg.num_experts
    if cfg.head not in HEAD_OVERRIDES:
        raise ConfigError(f"classifier_spec needs one head ({', '.join(HEAD_OVERRIDES)}), got {cfg.head!r}")
    head |= HEAD_OVERRIDES[cfg.head]
    return {"arch": "har", "imu": mcfg.imu.to_dict() | {"in_channels": channels}, "classifier": head}


def classifier_from_spec(spec: dict[str, Any]) -> nn.Module:
    """A freshly initialised model from :func:`classifier_spec`'s dict."""
    if spec["arch"] == "dcl":
        return DeepConvLSTM(in_channels=spec["in_channels"], num_classes=spec["num_classes"],
                            conv_filters=spec["conv_filters"], lstm_units=spec["lstm_units"])  # fmt: skip
    return HarClassifier(ImuEncoderConfig.from_dict(spec["imu"]), ClassifierConfig.from_dict(spec["classifier"]))


def build_classifier(spec: dict[str, Any], pretrained: Multi3Net | None = None, encoder: str = "left") -> nn.Module:
    """The model of ``spec``; with ``pretrained``, its encoder(s) start from the Multi3Net's wrist encoder(s).

    An accelerometer-only spec (3 input channels) keeps the pretrained input layer's acc columns
    (:func:`toolkit.train.channels.acc_only_state`: the same as feeding the 6-channel encoder zero gyroscope).
    """
    model = classifier_from_spec(spec)
    if pretrained is not None and isinstance(model, HarClassifier):
        wrists = model.cfg.wrists
        sources = (
            [pretrained.imu_left, pretrained.imu_right] if wrists == 2 else [getattr(pretrained, f"imu_{encoder}")]
        )
        if model.imu_cfg.in_channels == sources[0].cfg.in_channels:
            return HarClassifier.from_pretrained(sources, model.cfg)
        if model.imu_cfg.in_channels != len(ACC_CHANNELS):
            raise ConfigError(f"cannot start a {model.imu_cfg.in_channels}-channel encoder from a "
                              f"{sources[0].cfg.in_channels}-channel pretrained one")
        for mine, theirs in zip(model.encoders, sources, strict=True):
            mine.load_state_dict(acc_only_state(theirs.state_dict()))
    return model


def class_weights(y: np.ndarray, num_classes: int, mode: str) -> Tensor | None:
    """``N / (K n_k)`` per class (0 for absent classes), or None for ``mode == "none"``."""
    if mode == "none":
        return None
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(y) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


@torch.no_grad()
def predict_logits(model: nn.Module, x: Tensor, device: torch.device, batch_size: int = 256) -> Tensor:
    """(N, L, C) -> (N, K) logits on the CPU, model in eval mode."""
    model.eval()
    outs = [model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.zeros(0)


def _evaluate(
    model: nn.Module, x: Tensor, y: Tensor, weight: Tensor | None, device: torch.device
) -> tuple[float, float]:
    logits = predict_logits(model, x, device)
    loss = float(F.cross_entropy(logits, y, weight=weight))
    f1 = float(f1_score(y.numpy(), logits.argmax(1).numpy(), average="macro", zero_division=0))
    return loss, f1


def _batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[Tensor]:
    """Endless index batches: one permutation per epoch; a last batch of one window is skipped (BatchNorm)."""
    while True:
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            if len(idx) >= 2 or n == 1:
                yield idx


def train_classifier(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor] | None,
    cfg: FinetuneConfig,
    num_classes: int,
    device: torch.device,
    pretrained: bool = False,
) -> FinetuneResult:
    """Train ``model`` on ``train`` = (x (N, L, C) float32, y (N,) int64), select on ``val`` (module docstring).

    Args:
        pretrained: the model's encoder came from pretraining (then ``cfg.freeze`` applies).
    """
    torch.manual_seed(cfg.seed)
    model = model.to(device)
    har = isinstance(model, HarClassifier)
    freezing = pretrained and har
    if freezing:
        model.freeze_encoder()
    if har:
        groups = [{"params": list(model.head.parameters()), "lr": cfg.lr, "name": "head"},
                  {"params": list(model.encoders.parameters()), "lr": cfg.lr * cfg.encoder_lr_scale,
                   "name": "encoder"}]  # fmt: skip
    else:
        groups = [{"params": list(model.parameters()), "lr": cfg.lr, "name": "all"}]
    opt = make_optimizer(groups, cfg.optimizer, cfg.lr, cfg.weight_decay)
    x_tr, y_tr = train
    weight = class_weights(y_tr.numpy(), num_classes, cfg.class_weights)
    w_dev = weight.to(device) if weight is not None else None
    has_val = val is not None and len(val[1]) > 0
    higher_better = cfg.select_on == "val_f1" and has_val
    steps, per_epoch = step_budget(len(y_tr), cfg)
    unfreeze_step = max(1, round(cfg.unfreeze_at * steps)) if freezing and cfg.freeze == "not_frozen" else None
    batches = _batches(len(y_tr), cfg.batch_size, torch.Generator().manual_seed(cfg.seed))

    best_score, best_state, best_step, best_f1 = -np.inf, copy.deepcopy(model.state_dict()), 0, None
    since_best, monitor_best, since_monitor = 0, np.inf, 0
    unfrozen_step: int | None = None
    history: list[dict[str, Any]] = []
    total, seen, step = 0.0, 0, 0
    bar = tqdm(total=steps, desc="fine-tune", unit="step", leave=False, disable=None if cfg.progress else True)
    model.train()
    while step < steps:
        idx = next(batches)
        xb, yb = x_tr[idx].to(device), y_tr[idx].to(device)
        loss = F.cross_entropy(model(xb), yb, weight=w_dev)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
        if step % cfg.eval_every and step < steps and step != unfreeze_step:
            continue
        rec: dict[str, Any] = {"step": step, "epoch": step / per_epoch, "train_loss": total / max(seen, 1),
                               "encoder_frozen": bool(har and model.encoder_frozen)}  # fmt: skip
        total, seen = 0.0, 0
        if has_val:
            rec["val_loss"], rec["val_f1"] = _evaluate(model, val[0], val[1], weight, device)  # type: ignore[index]
        model.train()
        monitor = rec["val_loss"] if has_val else rec["train_loss"]
        score = (rec["val_f1"] if higher_better else -monitor) if has_val else step  # no validation: keep the last
        history.append(rec)
        if score > best_score:
            best_score, best_state, best_step, since_best = score, copy.deepcopy(model.state_dict()), step, 0
            best_f1 = rec.get("val_f1")
        else:
            since_best += 1
        if monitor < monitor_best - 1e-6:
            monitor_best, since_monitor = monitor, 0
        else:
            since_monitor += 1
        still_frozen = unfreeze_step is not None and model.encoder_frozen
        if still_frozen and (step >= unfreeze_step or since_monitor >= cfg.unfreeze_patience):
            model.unfreeze_encoder()
            unfrozen_step, since_best, since_monitor = step, 0, 0
            rec["unfrozen"] = True
        elif has_val and not still_frozen and step >= cfg.min_steps and since_best >= cfg.early_stop_patience:
            break
    bar.close()
    model.load_state_dict(best_state)
    if freezing and cfg.freeze == "frozen":
        model.freeze_encoder()
    model.eval()
    return FinetuneResult(model=model, history=history, best_step=best_step, unfrozen_step=unfrozen_step,
                          steps=step, budget=steps, steps_per_epoch=per_epoch, best_val_f1=best_f1)  # fmt: skip
