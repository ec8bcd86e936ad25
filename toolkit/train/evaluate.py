"""The evaluation protocol of ``edge-eval``: subject-wise folds x methods x label fractions x seeds.

Methods (the paper's table rows): ``dcl`` (DeepConvLSTM), ``base`` (Multi3Net+ classifier, random init),
``imu_recon`` / ``contrastive`` (encoder pretrained with the ``reconstruction_only`` / ``contrastive_only``
ablation, fine-tuned with ``finetune.freeze``), ``multi3net_frozen`` / ``multi3net_not_frozen`` (full
pretraining). Experts sweep: ``experts_method`` at 100 % labels with 1, 2, 4, 8, 16 experts. Zero-shot: the
``multi3net`` checkpoint, every window of every subject, no labels (scored per subject).

Folds: :func:`~toolkit.data.splits.loso_folds` or :func:`~toolkit.data.splits.group_folds` with validation
subjects drawn from the training subjects; each run goes through :func:`toolkit.train.protocol.fit_and_test`
and its leak guard (the audit is kept in the results).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np

from toolkit.data.splits import group_folds, loso_folds
from toolkit.data.windows import RealWindows
from toolkit.errors import ConfigError
from toolkit.models.config import Multi3NetConfig
from toolkit.models.multi3net import Multi3Net
from toolkit.train.config import METHOD_CHECKPOINT, EvalConfig, FinetuneConfig
from toolkit.train.data import load_real_windows
from toolkit.train.metrics import fold_metrics, mean_std, pooled_metrics
from toolkit.train.modelcfg import resolve_model_config
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import fit_and_test
from toolkit.train.runtime import resolve_device
from toolkit.train.zeroshot import class_descriptions, zero_shot


def method_settings(method: str, base: FinetuneConfig) -> dict[str, Any]:
    """FinetuneConfig changes for a table method."""
    return {
        "dcl": {"method": "dcl"},
        "base": {"method": "base"},
        "imu_recon": {"method": "multi3net"},
        "contrastive": {"method": "multi3net"},
        "multi3net_frozen": {"method": "multi3net", "freeze": "frozen"},
        "multi3net_not_frozen": {"method": "multi3net", "freeze": "not_frozen"},
    }[method]


def select_windows(cfg: EvalConfig) -> RealWindows:
    w = load_real_windows(cfg.finetune.dataset, cfg.finetune.grid, cfg.finetune.data_root)
    if cfg.subjects:
        missing = sorted(set(cfg.subjects) - set(w.subject.tolist()))
        if missing:
            raise ConfigError(f"subjects {missing} not in {cfg.finetune.dataset} (has {sorted(set(w.subject))})")
        w = w.subset(np.isin(w.subject, list(cfg.subjects)))
    return w


def make_folds(cfg: EvalConfig, subject: np.ndarray) -> list:
    ft = cfg.finetune
    if cfg.split == "loso":
        folds = loso_folds(subject, ft.val_fraction, seed=0)
    else:
        folds = group_folds(subject, cfg.groups, ft.val_fraction, seed=0)
    return folds[: cfg.max_folds] if cfg.max_folds else folds


def load_checkpoints(cfg: EvalConfig, needed: set[str]) -> dict[str, tuple[Multi3Net, dict[str, Any]]]:
    """Pretrained models by checkpoint key; ConfigError for a missing key or a different model rate."""
    missing = sorted(k for k in needed if k not in cfg.checkpoints)
    if missing:
        raise ConfigError(
            f"methods need checkpoints {missing}: pass --checkpoint KEY=PATH (keys: {', '.join(missing)})"
        )
    out = {}
    for key in sorted(needed):
        model, norm, ck = load_pretrained(cfg.checkpoints[key])
        rate = ck.sidecar.get("config", {}).get("grid", {}).get("rate_hz")
        if rate is not None and abs(float(rate) - cfg.finetune.grid.rate_hz) > 1e-6:
            raise ConfigError(
                f"checkpoint {key} was pretrained at {rate} Hz but the grid is {cfg.finetune.grid.rate_hz} Hz"
            )
        out[key] = (model, {"normalizer": norm, "sha256": ck.sidecar["sha256"], "path": str(ck.path)})
    return out


def run_evaluation(cfg: EvalConfig, log: Any = None) -> dict[str, Any]:
    """Run every requested setting; returns the results dict that :mod:`toolkit.train.report` writes."""
    log = sys.stderr if log is None else log
    t_start = time.perf_counter()
    ft = cfg.finetune
    windows = select_windows(cfg)
    folds = make_folds(cfg, windows.subject)
    device = resolve_device(ft.device)
    needed = {METHOD_CHECKPOINT[m] for m in cfg.methods if m in METHOD_CHECKPOINT}
    if cfg.experts and cfg.experts_method in METHOD_CHECKPOINT:
        needed.add(METHOD_CHECKPOINT[cfg.experts_method])
    if cfg.zero_shot and "multi3net" in cfg.checkpoints:
        needed.add("multi3net")
    pre = load_checkpoints(cfg, needed)
    mcfg: Multi3NetConfig = (next(iter(pre.values()))[0].cfg if pre else
                             resolve_model_config(ft.model, ft.model_overrides, ft.grid.window_length))  # fmt: skip
    default_experts = ft.num_experts or mcfg.classifier.num_experts

    runs: list[dict[str, Any]] = []
    pooled: dict[tuple[str, float, int], list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    done: dict[tuple[str, float, int, int, str], dict[str, Any]] = {}
    settings = [(m, f, default_experts) for m in cfg.methods for f in cfg.label_fractions]
    settings += [(cfg.experts_method, 1.0, e) for e in cfg.experts]
    for method, frac, experts in settings:
        for seed in cfg.seeds:
            for fold in folds:
                key = (method, frac, experts, seed, fold.name)
                if key in done:
                    continue
                run_cfg = ft.replace(**method_settings(method, ft), label_fraction=frac, seed=seed, num_experts=experts,
                                     progress=False)  # fmt: skip
                ck = METHOD_CHECKPOINT.get(method)
                model = pre[ck][0] if ck else None
                t0 = time.perf_counter()
                out = fit_and_test(windows, fold, run_cfg, model.cfg if model else mcfg, model, device)
                rec = {"method": method, "label_fraction": frac, "experts": experts, "seed": seed, "fold": fold.name,
                       **fold_metrics(out.y_true, out.y_pred), "best_epoch": out.result.best_epoch,
                       "epochs_run": len(out.result.history), "unfrozen_epoch": out.result.unfrozen_epoch,
                       "counts": out.data.counts, "subjects": fold.to_dict(), "audit": out.data.guard.audit,
                       "seconds": time.perf_counter() - t0}  # fmt: skip
                done[key] = rec
                runs.append(rec)
                pooled[(method, frac, experts)].append((out.y_true, out.y_pred))
                if log:
                    print(f"eval {method} {frac:.0%} E={experts} seed {seed} {fold.name}: macro F1 "
                          f"{rec['macro_f1']:.3f} ({rec['seconds']:.1f} s)", file=log)  # fmt: skip

    summary = []
    for (method, frac, experts), preds in pooled.items():
        vals = [
            r["macro_f1"] for r in runs if (r["method"], r["label_fraction"], r["experts"]) == (method, frac, experts)
        ]
        y_t = np.concatenate([p[0] for p in preds])
        y_p = np.concatenate([p[1] for p in preds])
        summary.append({"method": method, "label_fraction": frac, "experts": experts, "macro_f1": mean_std(vals),
                        **pooled_metrics(y_t, y_p, windows.class_names)})  # fmt: skip

    zs = None
    if cfg.zero_shot and "multi3net" in pre:
        model, info = pre["multi3net"]
        desc = class_descriptions(ft.dataset, windows.class_names)
        pred = zero_shot(model, info["normalizer"], windows.x, desc, cfg.text_embeddings, cfg.text_cache, ft.encoder)
        per_subject = {s: fold_metrics(windows.y[windows.subject == s], pred[windows.subject == s])["macro_f1"]
                       for s in sorted(set(windows.subject.tolist()))}  # fmt: skip
        zs = {"descriptions": dict(zip(windows.class_names, desc, strict=True)), "per_subject_macro_f1": per_subject,
              "macro_f1": mean_std(list(per_subject.values())), "text_embeddings": cfg.text_embeddings,
              **pooled_metrics(windows.y, pred, windows.class_names)}  # fmt: skip
    return {
        "dataset": ft.dataset, "class_names": windows.class_names, "windows": len(windows),
        "subjects": sorted(set(windows.subject.tolist())), "class_counts": windows.class_counts(),
        "split": cfg.split, "folds": [f.to_dict() for f in folds], "config": cfg.to_dict(),
        "checkpoints": {k: {"path": v[1]["path"], "sha256": v[1]["sha256"]} for k, v in pre.items()},
        "default_experts": default_experts, "device": str(device), "runs": runs, "summary": summary,
        "zero_shot": zs, "seconds": time.perf_counter() - t_start,
    }  # fmt: skip
