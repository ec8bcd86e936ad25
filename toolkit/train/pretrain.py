"""Tri-modal pretraining of :class:`~toolkit.models.multi3net.Multi3Net` on simulator dataset folders.

Data: :func:`toolkit.train.data.load_synthetic` windows (left/right wrist IMU, pose, text) on the run's grid; IMU
standardised with statistics of the (unaugmented) pretraining windows (stored in the checkpoint); text embedded
once per distinct text (:mod:`toolkit.train.text`; ``none`` masks text out). Batches are made by
:class:`~toolkit.train.data.PretrainBatches`: with ``text_templates`` one of the clip's template sentences per
window, with ``augment`` the domain randomisation of :mod:`toolkit.train.augment` (``mirror_right`` also makes
the model share its left-frame wrist encoder, :attr:`Multi3Net.shared_wrists`), both seeded per (epoch, batch);
``workers`` DataLoader processes make them in parallel with the training step; ``threads`` sets torch's
intra-op threads. Loss: :meth:`Multi3Net.loss` (symmetric InfoNCE over every modality pair with de-duplicated
targets + Pose2IMU MSE + reconstruction MSE, per the ablation), plus ``text_geometry`` x
:func:`~toolkit.models.losses.text_geometry_loss` (the text encoder keeps the sentence model's pairwise cosines,
so that unseen zero-shot prompts land near the training texts they resemble).

Determinism: the model is initialised after seeding with ``seed``; the data order of epoch e is the permutation
of :class:`~torch.utils.data.DistributedSampler` for ``(seed, e)`` (also with one process), so it does not depend
on earlier epochs, and the torch RNG state (dropout) is saved with every epoch: ``--resume`` continues
bit-identically in a single process.

Scale-out: under ``torchrun --nproc_per_node N`` the model is wrapped in DistributedDataParallel (gloo on CPU,
nccl on CUDA), each process reads its share of every epoch (``batch_size`` is per process), losses are averaged
over processes for the log, and only rank 0 writes files.

Outputs in ``out_dir``: ``config.yaml``, ``last.pt`` (+ ``.json``; resume state, rewritten every epoch),
``pretrained.pt`` (+ ``.json``; the final model, its model config and normaliser), ``history.json``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
from tqdm import tqdm

from toolkit.data.splits import Normalizer
from toolkit.data.windows import SyntheticWindows
from toolkit.errors import ConfigError
from toolkit.models.config import Multi3NetConfig
from toolkit.models.losses import text_geometry_loss
from toolkit.models.multi3net import Multi3Net
from toolkit.train.augment import AugmentConfig, Augmenter
from toolkit.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from toolkit.train.config import PretrainConfig
from toolkit.train.data import PretrainBatches, fit_synthetic_normalizer, load_synthetic
from toolkit.train.modelcfg import resolve_model_config
from toolkit.train.runtime import DistInfo, init_distributed, seed_everything, set_torch_rng_state, torch_rng_state
from toolkit.train.text import embed_texts

LOSS_KEYS = ("total", "contrastive", "pose2imu", "reconstruction", "text_geometry")


@dataclass
class PretrainResult:
    """What :func:`run_pretrain` returns (on every rank; ``checkpoint`` only on rank 0)."""

    model: Multi3Net
    model_config: Multi3NetConfig
    normalizer: Normalizer
    history: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: Path | None = None
    windows: int = 0


def make_optimizer(params: Any, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam or AdamW over ``params`` (parameters or param-group dicts)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def make_scheduler(opt: torch.optim.Optimizer, name: str, epochs: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if name == "cosine" else None


def load_pretrained(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[Multi3Net, Normalizer, Checkpoint]:
    """A verified ``pretrain`` checkpoint -> (Multi3Net in eval mode, its IMU normaliser, the checkpoint)."""
    ck = load_checkpoint(path, kind="pretrain", map_location=map_location)
    cfg = Multi3NetConfig.from_dict(ck.payload["model_config"])
    model = Multi3Net(cfg)
    model.load_state_dict(ck.payload["model"])
    model.shared_wrists = bool(ck.payload.get("extra", {}).get("shared_wrists", False))
    model.eval()
    return model, Normalizer.from_dict(ck.payload["normalizer"]), ck


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def head_windows(sw: SyntheticWindows, n: int) -> SyntheticWindows:
    """The first ``n`` windows of ``sw`` (every per-window array cut; texts kept)."""
    cut = {k: v[:n] for k, v in vars(sw).items() if isinstance(v, np.ndarray) and v.shape[:1] == (len(sw),)}
    return dataclasses.replace(sw, **cut)


def _prepare_data(cfg: PretrainConfig) -> tuple[PretrainBatches, Normalizer, Multi3NetConfig, list[str]]:
    sw = load_synthetic(cfg.data, cfg.grid)
    if cfg.max_windows is not None:
        sw = head_windows(sw, cfg.max_windows)
    mcfg = resolve_model_config(cfg.model, cfg.model_overrides, cfg.grid.window_length, cfg.ablation)
    normalizer = fit_synthetic_normalizer(sw)
    emb = embed_texts(sw.texts, cfg.text_embeddings, cfg.text_cache)
    aug_cfg = AugmentConfig.from_dict(cfg.augment)
    aug = Augmenter(aug_cfg, cfg.grid.rate_hz) if (aug_cfg.active or aug_cfg.mirror_right) else None
    ds = PretrainBatches(sw, normalizer, mcfg.pose.num_frames, emb, aug, cfg.text_templates, cfg.seed)
    return ds, normalizer, mcfg, list(sw.texts)


def _text_geometry(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`text_geometry_loss` of the batch's text embeddings (0 when the model encoded no text)."""
    e = outputs.embeddings.get("text")
    if e is None:
        return batch["imu_left"].new_zeros(())
    return text_geometry_loss(e, batch["text_emb"], outputs.masks["text"])


def run_pretrain(
    cfg: PretrainConfig,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    dist_info: DistInfo | None = None,
    log: Any = None,
) -> PretrainResult:
    """Pretrain per ``cfg`` (module docstring); works alone or under torchrun.

    Args:
        resume: continue from ``out_dir/last.pt`` when it exists.
        stop_after: stop after this many epochs in total (simulates an interruption; tests).
        dist_info: an already initialised :class:`DistInfo` (default :func:`init_distributed`).
        log: where rank 0 prints one line per epoch (default stderr; None-like ``False`` for silence).
    """
    info = dist_info or init_distributed(cfg.device)
    log = sys.stderr if log is None else log
    out = Path(cfg.out_dir)
    seed_everything(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    ds, normalizer, mcfg, texts = _prepare_data(cfg)
    n = len(ds)
    shared = AugmentConfig.from_dict(cfg.augment).mirror_right
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save_yaml(out / "config.yaml")

    seed_everything(cfg.seed)  # the same initial weights on every rank and in every run
    raw = Multi3Net(mcfg).to(info.device)
    raw.shared_wrists = shared
    model: nn.Module = raw
    if info.distributed:
        ids = [info.device.index] if info.device.type == "cuda" else None
        model = DistributedDataParallel(raw, device_ids=ids, find_unused_parameters=True)
    opt = make_optimizer(raw.parameters(), cfg.optimizer, cfg.lr, cfg.weight_decay)
    sched = make_scheduler(opt, cfg.scheduler, cfg.epochs)

    start_epoch, history = 0, []
    last = out / "last.pt"
    if resume and last.is_file():
        ck = load_checkpoint(last, kind="pretrain", map_location=info.device)
        if ck.payload["model_config"] != mcfg.to_dict():
            raise ConfigError(f"{last}: was made with a different model config; use another --out or drop --resume")
        raw.load_state_dict(ck.payload["model"])
        opt.load_state_dict(ck.payload["optimizer"])
        if sched is not None and ck.payload.get("scheduler"):
            sched.load_state_dict(ck.payload["scheduler"])
        start_epoch = int(ck.payload["epoch"])
        history = list(ck.payload["extra"].get("history", []))
        set_torch_rng_state(ck.payload["rng"])
    elif resume and info.is_main and log:
        print(f"pretrain: no {last} to resume from; starting at epoch 1", file=log)

    sampler = DistributedSampler(ds, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(ds, sampler=BatchSampler(sampler, cfg.batch_size, drop_last=False), batch_size=None,
                        num_workers=cfg.workers, pin_memory=info.device.type == "cuda")  # fmt: skip
    end_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    for epoch in range(start_epoch, end_epoch):
        sampler.set_epoch(epoch)
        ds.set_epoch(epoch)
        model.train()
        sums = torch.zeros(len(LOSS_KEYS) + 1, dtype=torch.float64, device=info.device)
        t0 = time.perf_counter()
        bar = tqdm(loader, desc=f"pretrain {epoch + 1}/{cfg.epochs}", unit="batch", leave=False,
                   disable=None if (cfg.progress and info.is_main) else True)  # fmt: skip
        for batch in bar:
            batch = _to(batch, info.device)
            outputs = model(batch)
            loss = raw.loss(batch, outputs)
            geo = _text_geometry(outputs, batch) if cfg.text_geometry > 0 else loss.total.new_zeros(())
            total = loss.total + cfg.text_geometry * geo
            opt.zero_grad(set_to_none=True)
            total.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
            opt.step()
            b = batch["imu_left"].shape[0]
            vals = torch.stack([total, loss.contrastive, loss.pose2imu, loss.reconstruction, geo]).detach()
            sums[:-1] += vals.double() * b
            sums[-1] += b
        if info.distributed:
            dist.all_reduce(sums)
            for buf in raw.buffers():  # BatchNorm statistics: rank 0's, as DDP broadcasts before each forward
                dist.broadcast(buf, src=0)
        if sched is not None:
            sched.step()
        elapsed = time.perf_counter() - t0
        rec = {"epoch": epoch + 1, **{k: float(sums[i] / sums[-1]) for i, k in enumerate(LOSS_KEYS)},
               "windows": int(sums[-1]), "seconds": elapsed, "windows_per_s": float(sums[-1]) / max(elapsed, 1e-9),
               "lr": opt.param_groups[0]["lr"], "threads": torch.get_num_threads(), "workers": cfg.workers}  # fmt: skip
        history.append(rec)
        if info.is_main:
            if log:
                print(f"pretrain epoch {epoch + 1}/{cfg.epochs}: loss {rec['total']:.4f} (contrastive "
                      f"{rec['contrastive']:.4f}, pose2imu {rec['pose2imu']:.4f}, recon {rec['reconstruction']:.4f}) "
                      f"{rec['windows_per_s']:.0f} windows/s", file=log)  # fmt: skip
            save_checkpoint(last, {
                "model": raw.state_dict(), "model_config": mcfg.to_dict(), "normalizer": normalizer.to_dict(),
                "optimizer": opt.state_dict(), "scheduler": sched.state_dict() if sched is not None else {},
                "epoch": epoch + 1, "rng": torch_rng_state(),
                "extra": {"history": history, "texts": texts, "shared_wrists": shared},
            }, kind="pretrain", config=cfg.to_dict(), metrics=rec)  # fmt: skip

    ckpt = None
    if info.is_main and len(history) >= cfg.epochs:
        ckpt = save_checkpoint(out / "pretrained.pt", {
            "model": raw.state_dict(), "model_config": mcfg.to_dict(), "normalizer": normalizer.to_dict(),
            "extra": {"texts": texts, "epochs": cfg.epochs, "windows": n, "shared_wrists": shared},
        }, kind="pretrain", config=cfg.to_dict(), metrics=history[-1] if history else {})  # fmt: skip
        (out / "history.json").write_text(json.dumps(history, indent=1))
    raw.eval()
    return PretrainResult(model=raw, model_config=mcfg, normalizer=normalizer, history=history, checkpoint=ckpt,
                          windows=n)  # fmt: skip


def parameter_digest(model: nn.Module) -> str:
    """sha256 over every parameter and buffer (names and bytes), for comparing ranks or runs."""
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(np.ascontiguousarray(v.detach().cpu().numpy()).tobytes())
    return h.hexdigest()
