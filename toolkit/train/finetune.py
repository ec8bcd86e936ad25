"""Fine-tuning a HAR classifier on (already split and normalised) real windows.

Models (:func:`build_classifier`):

* ``multi3net``: :class:`~toolkit.models.classifier.HarClassifier` whose encoder starts as a copy of the pretrained
  Multi3Net's wrist encoder (``encoder``: left by default; real right-wrist data is mirrored into the left-wrist
  frame by the loaders). Windows with both wrists (12 channels) use both encoders.
* ``base``: the same network with random initialisation, everything trained from the start.
* ``dcl``: :class:`~toolkit.models.baselines.DeepConvLSTM` trained from scratch.

Freeze modes for ``multi3net`` (:func:`train_classifier`): ``frozen``, the encoder stays frozen (eval mode, no
gradient); ``not_frozen``, frozen until the monitored loss (validation loss; training loss when there is no
validation subject) has not improved for ``unfreeze_patience`` epochs, then unfrozen for the rest of training
(the early-stopping counter restarts then, and early stopping never ends training while still frozen).

Loss: cross-entropy, class-balanced by default (weight ``N / (K n_k)`` of class k from the TRAINING windows,
0 for a class absent from them), because the datasets are imbalanced and the metric is macro F1. Model
selection: the epoch with the best validation macro F1 (or loss) is restored at the end; validation subjects
come from the training subjects only (:mod:`toolkit.train.protocol`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import Tensor, nn
from tqdm import tqdm

from toolkit.models.baselines import DeepConvLSTM
from toolkit.models.classifier import HarClassifier
from toolkit.models.config import ClassifierConfig, ImuEncoderConfig, Multi3NetConfig
from toolkit.models.multi3net import Multi3Net
from toolkit.train.config import FinetuneConfig
from toolkit.train.pretrain import make_optimizer


@dataclass
class FinetuneResult:
    """What :func:`train_classifier` returns."""

    model: nn.Module  #: the selected (best) model, eval mode
    history: list[dict[str, Any]] = field(default_factory=list)  #: one record per epoch
    best_epoch: int = 0  #: 1-based epoch restored
    unfrozen_epoch: int | None = None  #: epoch after which the encoder was unfrozen (not_frozen mode)


def classifier_spec(cfg: FinetuneConfig, num_classes: int, wrists: int, mcfg: Multi3NetConfig) -> dict[str, Any]:
    """Plain description of the classifier to build (stored in its checkpoint as ``model_config``)."""
    if cfg.method == "dcl":
        return {"arch": "dcl", "in_channels": 6 * wrists, "num_classes": num_classes,
                "conv_filters": cfg.dcl_filters, "lstm_units": cfg.dcl_units}  # fmt: skip
    head = mcfg.classifier.to_dict() | {"num_classes": num_classes, "wrists": wrists}
    if cfg.num_experts is not None:
        head["num_experts"] = cfg.num_experts
    return {"arch": "har", "imu": mcfg.imu.to_dict(), "classifier": head}


def classifier_from_spec(spec: dict[str, Any]) -> nn.Module:
    """A freshly initialised model from :func:`classifier_spec`'s dict."""
    if spec["arch"] == "dcl":
        return DeepConvLSTM(in_channels=spec["in_channels"], num_classes=spec["num_classes"],
                            conv_filters=spec["conv_filters"], lstm_units=spec["lstm_units"])  # fmt: skip
    return HarClassifier(ImuEncoderConfig.from_dict(spec["imu"]), ClassifierConfig.from_dict(spec["classifier"]))


def build_classifier(spec: dict[str, Any], pretrained: Multi3Net | None = None, encoder: str = "left") -> nn.Module:
    """The model of ``spec``; with ``pretrained``, its encoder(s) start from the Multi3Net's wrist encoder(s)."""
    model = classifier_from_spec(spec)
    if pretrained is not None and isinstance(model, HarClassifier):
        wrists = model.cfg.wrists
        sources = (
            [pretrained.imu_left, pretrained.imu_right] if wrists == 2 else [getattr(pretrained, f"imu_{encoder}")]
        )
        model = HarClassifier.from_pretrained(sources, model.cfg)
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
        groups = [{"params": list(model.head.parameters()), "lr": cfg.lr},
                  {"params": list(model.encoders.parameters()), "lr": cfg.lr * cfg.encoder_lr_scale}]  # fmt: skip
    else:
        groups = [{"params": list(model.parameters()), "lr": cfg.lr}]
    opt = make_optimizer(groups, cfg.optimizer, cfg.lr, cfg.weight_decay)
    x_tr, y_tr = train
    weight = class_weights(y_tr.numpy(), num_classes, cfg.class_weights)
    w_dev = weight.to(device) if weight is not None else None
    has_val = val is not None and len(val[1]) > 0
    gen = torch.Generator().manual_seed(cfg.seed)
    higher_better = cfg.select_on == "val_f1" and has_val

    best_score, best_state, best_epoch = -np.inf, copy.deepcopy(model.state_dict()), 0
    since_best, monitor_best, since_monitor = 0, np.inf, 0
    unfrozen_epoch: int | None = None
    history: list[dict[str, Any]] = []
    bar = tqdm(range(cfg.epochs), desc="fine-tune", unit="epoch", leave=False, disable=None if cfg.progress else True)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(y_tr), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            if len(idx) < 2 and len(perm) > 1:
                continue  # BatchNorm cannot train on a single window
            xb, yb = x_tr[idx].to(device), y_tr[idx].to(device)
            loss = F.cross_entropy(model(xb), yb, weight=w_dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        rec: dict[str, Any] = {"epoch": epoch + 1, "train_loss": total / max(seen, 1),
                               "encoder_frozen": bool(har and model.encoder_frozen)}  # fmt: skip
        if has_val:
            rec["val_loss"], rec["val_f1"] = _evaluate(model, val[0], val[1], weight, device)  # type: ignore[index]
        monitor = rec["val_loss"] if has_val else rec["train_loss"]
        score = (rec["val_f1"] if higher_better else -monitor) if has_val else epoch  # no validation: keep the last
        history.append(rec)
        if score > best_score:
            best_score, best_state, best_epoch, since_best = score, copy.deepcopy(model.state_dict()), epoch + 1, 0
        else:
            since_best += 1
        if monitor < monitor_best - 1e-6:
            monitor_best, since_monitor = monitor, 0
        else:
            since_monitor += 1
        still_frozen = freezing and model.encoder_frozen
        if still_frozen and cfg.freeze == "not_frozen" and since_monitor >= cfg.unfreeze_patience:
            model.unfreeze_encoder()
            unfrozen_epoch, since_best, since_monitor = epoch + 1, 0, 0
            rec["unfrozen"] = True
        elif has_val and since_best >= cfg.early_stop_patience and not (still_frozen and cfg.freeze == "not_frozen"):
            break
    model.load_state_dict(best_state)
    if freezing and cfg.freeze == "frozen":
        model.freeze_encoder()
    model.eval()
    return FinetuneResult(model=model, history=history, best_epoch=best_epoch, unfrozen_epoch=unfrozen_epoch)
