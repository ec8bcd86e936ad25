"""The evaluation protocol of ``edge-eval``: subject-wise folds x methods x label fractions x seeds.

Methods (the paper's table rows): ``dcl`` (DeepConvLSTM), ``base`` (Multi3Net+ classifier, random init),
``imu_recon`` / ``contrastive`` (encoder pretrained with the ``reconstruction_only`` / ``contrastive_only``
ablation, fine-tuned with ``finetune.freeze``), ``multi3net_frozen`` / ``multi3net_not_frozen`` (full
pretraining); and the scikit-learn rows that keep them honest (:mod:`toolkit.train.shallow`): ``stats_rf``
(random forest on window statistics), ``probe_random`` / ``probe_pretrained`` (logistic regression on a frozen
random-init / pretrained encoder). Every deep row gets the same step budget (:func:`toolkit.train.finetune.
step_budget`); every row sees the same windows (:func:`toolkit.train.protocol.prepare_fold`). Experts sweep:
``experts_method`` at 100 % labels. Zero-shot: the ``multi3net`` checkpoint, every window of every subject, no
labels (scored per subject).

Heads (``heads``): every deep row but DCL is trained once per classifier head of the grid (``moe``, ``mlp``:
:data:`toolkit.train.config.HEADS`); for each (method, label fraction, seed, fold) the head with the best
validation macro F1 is kept (ties: the first of the grid), the same selection on the validation subjects that
``stats_rf`` and the probes make for their one hyper-parameter. ``results["runs"]`` holds the kept runs (with their
``head``), ``results["head_summary"]`` every head's own mean.

Folds: :func:`~toolkit.data.splits.loso_folds` or :func:`~toolkit.data.splits.group_folds` with validation
subjects chosen from the training subjects for class coverage (classes missing from a fold's validation or test
subjects are printed as warnings); each deep run goes through :func:`toolkit.train.protocol.fit_and_test` and its
leak guard (the audit is kept in the results).

Runs: ``workers`` processes (spawned, one torch thread each; one worker runs in this process, also with one
thread, so the results do not depend on ``workers``). Every finished run is appended to ``<out_dir>/runs.jsonl``
with a key of the settings that determine it; a rerun with the same settings skips the runs already there
(resumable). One progress line per finished run.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
import time
import warnings
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toolkit.data.splits import CASE_SPLIT, CoverageWarning, Fold, group_folds, loso_folds, stratified_case_folds
from toolkit.data.windows import RealWindows
from toolkit.errors import ConfigError
from toolkit.models.config import Multi3NetConfig
from toolkit.models.multi3net import Multi3Net
from toolkit.resources import default_pretrained
from toolkit.train.config import (
    DEEP_METHODS,
    HEADS,
    METHOD_CHECKPOINT,
    SKLEARN_METHODS,
    EvalConfig,
    FinetuneConfig,
)
from toolkit.train.data import load_real_windows
from toolkit.train.features import window_statistics
from toolkit.train.metrics import fold_metrics, mean_std, pooled_metrics
from toolkit.train.modelcfg import resolve_model_config
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import better_on_validation, fit_and_test
from toolkit.train.runtime import resolve_device
from toolkit.train.shallow import sklearn_fold
from toolkit.train.zeroshot import class_prompts, zero_shot

JOURNAL = "runs.jsonl"
RunKey = tuple[str, float, int, int, str, str]  #: (method, label fraction, experts, seed, fold name, head)
NO_HEAD = ""  #: the head field of methods without a classifier head (dcl and the scikit-learn rows)


def method_settings(method: str, base: FinetuneConfig) -> dict[str, Any]:
    """FinetuneConfig changes for a table method."""
    return {
        "dcl": {"method": "dcl"},
        "base": {"method": "base"},
        "imu_recon": {"method": "multi3net"},
        "contrastive": {"method": "multi3net"},
        "multi3net_frozen": {"method": "multi3net", "freeze": "frozen"},
        "multi3net_not_frozen": {"method": "multi3net", "freeze": "not_frozen"},
    }.get(method, {})


def method_heads(method: str, cfg: EvalConfig) -> tuple[str, ...]:
    """The heads a method is trained with: the grid for the HarClassifier rows, none for dcl and scikit-learn."""
    return tuple(cfg.heads) if method in DEEP_METHODS and method != "dcl" else (NO_HEAD,)


def select_windows(cfg: EvalConfig) -> RealWindows:
    w = load_real_windows(cfg.finetune.dataset, cfg.finetune.grid, cfg.finetune.data_root,
                          cfg.finetune.profile)
    if cfg.subjects:
        missing = sorted(set(cfg.subjects) - set(w.subject.tolist()))
        if missing:
            raise ConfigError(f"subjects {missing} not in {cfg.finetune.dataset} (has {sorted(set(w.subject))})")
        w = w.subset(np.isin(w.subject, list(cfg.subjects)))
    if cfg.split == CASE_SPLIT:  # folds over cases: each case (recording) takes the role of a subject
        w.subject = w.recording.copy()
    return w


def make_folds(cfg: EvalConfig, windows: RealWindows, log: Any = None) -> list[Fold]:
    """The protocol's folds (validation subjects chosen for class coverage); coverage warnings go to ``log``."""
    ft = cfg.finetune
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CoverageWarning)
        if cfg.split == "loso":
            folds = loso_folds(windows.subject, ft.val_fraction, 0, windows.y, windows.class_names)
        elif cfg.split == CASE_SPLIT:
            folds = stratified_case_folds(windows.subject, windows.y, cfg.groups, ft.val_fraction, 0,
                                          windows.class_names)
        else:
            folds = group_folds(windows.subject, cfg.groups, ft.val_fraction, 0, windows.y, windows.class_names)
    folds = folds[: cfg.max_folds] if cfg.max_folds else folds
    names = {f.name for f in folds}
    for w in caught:
        if log and issubclass(w.category, CoverageWarning) and str(w.message).split(":")[0].split()[-1] in names:
            print(f"warning: {w.message}", file=log)
    return folds


def load_checkpoints(cfg: EvalConfig, needed: set[str]) -> dict[str, tuple[Multi3Net, dict[str, Any]]]:
    """Pretrained models by checkpoint key (``multi3net`` defaults to the packaged default model's pretrained
    encoder); ConfigError for another missing key or a different model rate."""
    if "multi3net" in needed and "multi3net" not in cfg.checkpoints:
        cfg.checkpoints["multi3net"] = str(default_pretrained())
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


def settings_key(cfg: EvalConfig, checkpoints: dict[str, str], head: str = NO_HEAD) -> str:
    """Hash of everything that determines a run's result besides its RunKey (resume only matches equal keys)."""
    ft = cfg.finetune.replace(head=head or "moe").to_dict()
    for k in ("out_dir", "progress", "device", "workers"):
        ft.pop(k, None)
    # added later: at their defaults keys stay as before (head: the moe head, or a method without a head)
    for k, default in (("profile", None), ("channels", "auto"), ("head", "moe")):
        if ft.get(k) == default:
            ft.pop(k)
    blob = {"finetune": ft, "checkpoints": checkpoints, "split": cfg.split, "groups": cfg.groups,
            "subjects": list(cfg.subjects)}  # fmt: skip
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class _Context:
    """What a worker needs to run any RunKey."""

    cfg: EvalConfig
    windows: RealWindows
    folds: dict[str, Fold]
    pre: dict[str, tuple[Multi3Net, dict[str, Any]]]
    mcfg: Multi3NetConfig
    device: torch.device
    stats: np.ndarray | None = None
    cache: dict[str, Any] = field(default_factory=dict)


def _context(cfg: EvalConfig, windows: RealWindows, folds: list[Fold]) -> _Context:
    pre = load_checkpoints(cfg, _needed(cfg))
    ft = cfg.finetune
    mcfg = next(iter(pre.values()))[0].cfg if pre else resolve_model_config(ft.model, ft.model_overrides,
                                                                            ft.grid.window_length)  # fmt: skip
    stats = window_statistics(windows.x, windows.rate_hz) if "stats_rf" in cfg.methods else None
    return _Context(cfg, windows, {f.name: f for f in folds}, pre, mcfg, resolve_device(ft.device), stats)


def _needed(cfg: EvalConfig) -> set[str]:
    needed = {METHOD_CHECKPOINT[m] for m in cfg.methods if m in METHOD_CHECKPOINT}
    if cfg.experts and cfg.experts_method in METHOD_CHECKPOINT and cfg.experts_method in cfg.methods:
        needed.add(METHOD_CHECKPOINT[cfg.experts_method])
    if cfg.zero_shot and "multi3net" in cfg.checkpoints:
        needed.add("multi3net")
    return needed


def run_one(ctx: _Context, key: RunKey) -> dict[str, Any]:
    """Train/fit one (method, fraction, experts, seed, fold, head) and score it; the record keeps its predictions."""
    method, frac, experts, seed, fold_name, head = key
    fold = ctx.folds[fold_name]
    ft = ctx.cfg.finetune
    ck = METHOD_CHECKPOINT.get(method)
    model, pre_norm = (ctx.pre[ck][0], ctx.pre[ck][1]["normalizer"]) if ck else (None, None)
    t0 = time.perf_counter()
    if method in SKLEARN_METHODS:
        fixed = pre_norm if method == "probe_pretrained" and ft.normalizer == "pretrained" else None
        score, data = sklearn_fold(method, ctx.windows, fold, frac, seed, ctx.stats, model, ft.encoder, fixed)
        y_true, y_pred = ctx.windows.y[data.index["test"]], score.y_pred
        extra: dict[str, Any] = {"selected": score.param, "val_f1": score.val_f1}
    else:
        run_cfg = ft.replace(**method_settings(method, ft), label_fraction=frac, seed=seed, num_experts=experts,
                             head=head or "moe", progress=False)  # fmt: skip
        out = fit_and_test(ctx.windows, fold, run_cfg, model.cfg if model else ctx.mcfg, model, ctx.device, pre_norm)
        data, y_true, y_pred, r = out.data, out.y_true, out.y_pred, out.result
        extra = {"steps": r.steps, "budget": r.budget, "best_step": r.best_step, "unfrozen_step": r.unfrozen_step,
                 "best_epoch": r.best_epoch, "epochs_run": round(r.steps / r.steps_per_epoch, 2),
                 "unfrozen_epoch": r.unfrozen_epoch, "val_f1": r.best_val_f1}  # fmt: skip
    return {"method": method, "label_fraction": frac, "experts": experts, "seed": seed, "fold": fold_name,
            "head": head, **fold_metrics(y_true, y_pred), **extra, "counts": data.counts, "subjects": fold.to_dict(),
            "audit": data.guard.audit, "seconds": time.perf_counter() - t0,
            "y_true": np.asarray(y_true).tolist(), "y_pred": np.asarray(y_pred).tolist()}  # fmt: skip


_WORKER: _Context | None = None


def _worker_init(cfg_dict: dict[str, Any], windows: RealWindows, folds: list[Fold]) -> None:
    global _WORKER
    torch.set_num_threads(1)
    _WORKER = _context(EvalConfig.from_dict(cfg_dict), windows, folds)


def _worker_run(key: RunKey) -> dict[str, Any]:
    assert _WORKER is not None
    return run_one(_WORKER, key)


def _run_key(rec: dict[str, Any]) -> RunKey:
    """A journal record's key; records written before heads existed are the ``moe`` head's (or have no head)."""
    method = rec["method"]
    head = rec.get("head", "moe" if method in DEEP_METHODS and method != "dcl" else NO_HEAD)
    return (method, float(rec["label_fraction"]), int(rec["experts"]), int(rec["seed"]), rec["fold"], head)


def method_keys(cfg: EvalConfig, checkpoint_shas: dict[str, str]) -> dict[tuple[str, str], str]:
    """Settings key of each (method, head): the shared settings, the head, and the sha256 of the checkpoint THAT
    method uses (none for base, dcl, stats_rf), so runs resume whatever other methods a later command adds or
    drops."""
    out = {}
    for method in {*cfg.methods, cfg.experts_method}:
        ck = METHOD_CHECKPOINT.get(method)
        for head in HEADS if method_heads(method, cfg) != (NO_HEAD,) else (NO_HEAD,):  # every head: the sweep's moe
            out[(method, head)] = settings_key(cfg, {ck: checkpoint_shas[ck]} if ck in checkpoint_shas else {}, head)
    return out


def select_heads(runs: dict[RunKey, dict[str, Any]], heads: tuple[str, ...]) -> dict[RunKey, dict[str, Any]]:
    """One run per (method, fraction, experts, seed, fold): the head with the best validation macro F1 (ties and
    runs without validation: the first head of ``heads`` in that order); keys lose nothing (the head is kept)."""
    best: dict[tuple[Any, ...], tuple[RunKey, dict[str, Any]]] = {}
    rank = {h: i for i, h in enumerate(heads)}
    for key in sorted(runs, key=lambda k: rank.get(k[5], -1)):
        rec, group = runs[key], key[:5]
        if group not in best or better_on_validation(rec.get("val_f1"), best[group][1].get("val_f1")):
            best[group] = (key, rec)
    return dict(best.values())


def _load_journal(path: Path, keys: dict[tuple[str, str], str]) -> dict[RunKey, dict[str, Any]]:
    done: dict[RunKey, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted write
            try:
                key = _run_key(rec)
            except (KeyError, TypeError, ValueError):
                continue  # not a run record
            if rec.get("settings_key") == keys.get((key[0], key[5])):
                done[key] = rec | {"head": key[5]}
    return done


def run_evaluation(cfg: EvalConfig, log: Any = None) -> dict[str, Any]:
    """Run every requested setting (module docstring); returns the results dict that :mod:`report` writes."""
    log = sys.stderr if log is None else log
    t_start = time.perf_counter()
    ft = cfg.finetune
    windows = select_windows(cfg)
    folds = make_folds(cfg, windows, log)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ctx = _context(cfg, windows, folds)
    finally:
        torch.set_num_threads(threads)
    pre, device = ctx.pre, ctx.device
    default_experts = ft.num_experts or ctx.mcfg.classifier.num_experts
    keys = method_keys(cfg, {k: v[1]["sha256"] for k, v in pre.items()})

    settings = [(m, float(f), default_experts) for m in cfg.methods for f in cfg.label_fractions]
    if cfg.experts_method in cfg.methods:  # the experts ablation belongs to its method (not run for stats_rf alone)
        settings += [(cfg.experts_method, 1.0, e) for e in cfg.experts]
    order: list[RunKey] = []
    for method, frac, experts in settings:
        for seed in cfg.seeds:
            for fold in folds:  # the experts sweep is the moe head's
                for head in method_heads(method, cfg) if experts == default_experts else ("moe",):
                    key = (method, frac, experts, seed, fold.name, head)
                    if key not in order:
                        order.append(key)
    journal = Path(cfg.out_dir) / JOURNAL
    journal.parent.mkdir(parents=True, exist_ok=True)
    done = {k: v for k, v in _load_journal(journal, keys).items() if k in order}
    todo = [k for k in order if k not in done]
    if log and done:
        print(f"eval: {len(done)} of {len(order)} runs already in {journal}, {len(todo)} to go", file=log)

    def finished(rec: dict[str, Any]) -> None:
        rec["settings_key"] = keys[(rec["method"], rec["head"])]
        with journal.open("a") as fh:
            fh.write(json.dumps(rec, default=_plain) + "\n")
        done[_run_key(rec)] = rec
        if log:
            head = f" {rec['head']}" if len(cfg.heads) > 1 and rec["head"] else ""
            print(f"eval [{len(done)}/{len(order)}] {rec['method']}{head} {rec['label_fraction']:.0%} "
                  f"E={rec['experts']} seed {rec['seed']} {rec['fold']}: macro F1 {rec['macro_f1']:.3f} "
                  f"({rec['seconds']:.1f} s)",
                  file=log, flush=True)  # fmt: skip

    if cfg.workers <= 1 or len(todo) <= 1:
        torch.set_num_threads(1)
        try:
            for key in todo:
                finished(run_one(ctx, key))
        finally:
            torch.set_num_threads(threads)
    else:
        mp = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(cfg.workers, mp_context=mp, initializer=_worker_init,
                                 initargs=(cfg.to_dict(), windows, folds)) as pool:  # fmt: skip
            futures = [pool.submit(_worker_run, key) for key in todo]
            for fut in as_completed(futures):
                finished(fut.result())

    head_summary = _head_summary(done, order)
    kept = select_heads({k: done[k] for k in order}, tuple(cfg.heads))
    runs, pooled = [], defaultdict(list)
    for key in (k for k in order if k in kept):
        rec = dict(done[key])
        y_t, y_p = np.asarray(rec.pop("y_true"), np.int64), np.asarray(rec.pop("y_pred"), np.int64)
        rec.pop("settings_key", None)
        runs.append(rec)
        pooled[key[:3]].append((y_t, y_p))
    summary = []
    for (method, frac, experts), preds in pooled.items():
        vals = [r["macro_f1"] for r in runs
                if (r["method"], r["label_fraction"], r["experts"]) == (method, frac, experts)]  # fmt: skip
        y_t = np.concatenate([p[0] for p in preds])
        y_p = np.concatenate([p[1] for p in preds])
        summary.append({"method": method, "label_fraction": frac, "experts": experts, "macro_f1": mean_std(vals),
                        **pooled_metrics(y_t, y_p, windows.class_names)})  # fmt: skip

    zs = None
    if cfg.zero_shot and "multi3net" in pre:
        model, info = pre["multi3net"]
        desc = class_prompts(ft.dataset, windows.class_names)
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
        "heads": list(cfg.heads), "head_summary": head_summary,
        "zero_shot": zs, "seconds": time.perf_counter() - t_start, "workers": cfg.workers,
        "runs_resumed": len(order) - len(todo), "runs_total": len(order),
    }  # fmt: skip


def _head_summary(done: dict[RunKey, dict[str, Any]], order: list[RunKey]) -> list[dict[str, Any]]:
    """Every (method, fraction, experts, head)'s own mean macro F1 over folds and seeds, before the selection."""
    groups: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for key in order:
        if key[5]:
            groups[(key[0], key[1], key[2], key[5])].append(done[key]["macro_f1"])
    return [{"method": m, "label_fraction": f, "experts": e, "head": h, "macro_f1": mean_std(v)}
            for (m, f, e, h), v in groups.items()]  # fmt: skip


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)
