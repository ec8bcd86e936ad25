"""One fine-tuning job (``edge-finetune``): checkpoint + real dataset -> classifier checkpoint.

Subjects: ``test_subjects`` are held out entirely (their macro F1 is reported); of the others, ``val_fraction``
(at least one when there are two or more, seeded, chosen so that the validation subjects cover every class they
can: :func:`toolkit.data.splits.choose_validation`; missing classes are warned about) are validation subjects for
model selection (all their windows) and the rest train. Normaliser from the training windows only. Training is
the step-budget protocol of :mod:`toolkit.train.finetune`; ``head: auto`` (the default) trains the model once per
classifier head and keeps the one with the better validation macro F1 (:func:`toolkit.train.protocol.fit_and_test`,
the choice ``edge-eval`` makes per fold). Outputs in ``out_dir``: ``config.yaml``, ``classifier.pt``
(+ ``.json``: model spec, normaliser, class names, channel set, dataset reference, history, metrics),
``metrics.json`` and ``windows.npz`` (the windows used, every subject, the model's channels only; its sha256 in the
checkpoint), so ``edge-export --checkpoint OUT_DIR`` distils on exactly these windows and holds out the test
subjects. Channels (:mod:`toolkit.train.channels`): ``cfg.channels`` (``auto``: accelerometer only as soon as a
window lacks the gyroscope, said in the log); NaN / inf in a used channel is refused naming the channel.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.data.splits import Fold, choose_validation, subject_classes, with_coverage
from toolkit.data.windows import RealWindows
from toolkit.errors import ConfigError
from toolkit.hashing import sha256_file
from toolkit.resources import default_pretrained
from toolkit.train.channels import check_finite, resolve_channels, select_channels
from toolkit.train.checkpoint import save_checkpoint
from toolkit.train.config import FinetuneConfig
from toolkit.train.data import load_real_windows
from toolkit.train.metrics import fold_metrics, pooled_metrics
from toolkit.train.modelcfg import resolve_model_config
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import fit_and_test
from toolkit.train.runtime import resolve_device

WINDOWS_FILE = "windows.npz"


def make_fold(
    subjects: list[str],
    test: tuple[str, ...],
    val_fraction: float,
    seed: int,
    windows: RealWindows | None = None,
) -> Fold:
    """Fold with ``test`` held out and validation subjects chosen (seeded; stratified when ``windows`` give the
    labels) from the remaining ones."""
    missing = sorted(set(test) - set(subjects))
    if missing:
        raise ConfigError(f"test subjects {missing} are not in the data (subjects: {subjects})")
    rest = [s for s in subjects if s not in test]
    if not rest:
        raise ConfigError("no training subject left after removing the test subjects")
    n_val = 0 if val_fraction == 0 or len(rest) < 2 else min(len(rest) - 1, max(1, round(val_fraction * len(rest))))
    rng = np.random.default_rng(seed)
    if windows is None:
        val = set(rng.choice(rest, size=n_val, replace=False).tolist()) if n_val else set()
        return Fold("finetune", tuple(s for s in rest if s not in val), tuple(sorted(val)), tuple(test))
    classes_of = subject_classes(windows.subject, windows.y)
    val = set(choose_validation(rest, classes_of, n_val, rng))
    fold = Fold("finetune", tuple(s for s in rest if s not in val), tuple(sorted(val)), tuple(test))
    return with_coverage(fold, classes_of, windows.class_names)


def save_windows(path: Path, windows: RealWindows, channels: tuple[str, ...]) -> dict[str, Any]:
    """Write the windows a run used (every subject, ``channels`` only) as the ``windows.npz`` that ``edge-export
    --checkpoint`` distils on; returns ``{"file", "sha256", "n", "channels"}`` for the checkpoint and metrics.

    Arrays: ``x`` (N, L, C) float32 raw units (acc m/s^2, gyro rad/s, watch frame), ``y`` (N,) int64, ``subject``
    and ``recording`` (N,) str, ``class_names`` (K,) str, ``channels`` (C,) str, ``rate_hz``, ``window_s``,
    ``hop_s`` () float64.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, x=windows.x.astype(np.float32), y=windows.y.astype(np.int64),
                        subject=windows.subject.astype(str), recording=windows.recording.astype(str),
                        class_names=np.asarray(windows.class_names, str), channels=np.asarray(channels, str),
                        rate_hz=np.float64(windows.rate_hz), window_s=np.float64(windows.window_s),
                        hop_s=np.float64(windows.hop_s))  # fmt: skip
    tmp.replace(path)
    return {"file": path.name, "sha256": sha256_file(path), "n": len(windows), "channels": list(channels)}


def run_finetune(cfg: FinetuneConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the job (module docstring); returns the metrics dict (also written to ``metrics.json``).

    Refuses windows with NaN / inf in a channel the model uses (ConfigError naming the channel); ``log`` gets
    the channel choice when ``cfg.channels`` is ``auto`` and some windows have no gyroscope.
    """
    if cfg.method == "multi3net" and not cfg.checkpoint:  # the packaged default model's pretrained encoder
        cfg = dataclasses.replace(cfg, checkpoint=str(default_pretrained()))
        log(f"method multi3net: pretrained encoder {cfg.checkpoint} (the default model's; --checkpoint to change)")
    device = resolve_device(cfg.device)
    pretrained, norm_info, pre_norm = None, None, None
    if cfg.checkpoint:
        pretrained, pre_norm, ck = load_pretrained(cfg.checkpoint)
        mcfg = pretrained.cfg
        norm_info = {"path": str(ck.path), "sha256": ck.sidecar["sha256"]}
    else:
        mcfg = resolve_model_config(cfg.model, cfg.model_overrides, cfg.grid.window_length)
    windows = load_real_windows(cfg.dataset, cfg.grid, cfg.data_root, cfg.profile)
    where = f"dataset {cfg.dataset}"
    channels = resolve_channels(cfg.channels, windows.has_gyro, where, log)
    windows.x = select_channels(windows.x, channels)
    check_finite(windows.x, channels, where, windows.subject)
    fold = make_fold(sorted(set(windows.subject.tolist())), cfg.test_subjects, cfg.val_fraction, cfg.seed, windows)
    out = Path(cfg.out_dir)
    cfg.save_yaml(out / "config.yaml")
    res = fit_and_test(windows, fold, cfg, mcfg, pretrained if cfg.method == "multi3net" else None, device, pre_norm,
                       channels=channels, log=log)  # fmt: skip
    used = save_windows(out / WINDOWS_FILE, windows, channels)
    metrics: dict[str, Any] = {"dataset": cfg.dataset, "method": cfg.method, "freeze": cfg.freeze,
                               "fold": fold.to_dict(), "counts": res.data.counts, "best_epoch": res.result.best_epoch,
                               "unfrozen_epoch": res.result.unfrozen_epoch, "steps": res.result.steps,
                               "best_step": res.result.best_step, "unfrozen_step": res.result.unfrozen_step,
                               "pretrained": norm_info, "channels": list(channels), "head": res.head,
                               "windows": used}  # fmt: skip
    if len(res.y_true):
        metrics["test"] = fold_metrics(res.y_true, res.y_pred) | pooled_metrics(
            res.y_true, res.y_pred, windows.class_names
        )
    if res.result.best_val_f1 is not None:
        metrics["val_f1"] = res.result.best_val_f1
    ckpt = save_checkpoint(out / "classifier.pt", {
        "model": res.result.model.state_dict(), "model_config": res.spec, "normalizer": res.data.normalizer.to_dict(),
        "extra": {"class_names": windows.class_names, "history": res.result.history,
                  "grid": cfg.grid.to_dict(), "fold": fold.to_dict(), "channels": list(channels),
                  "data": {"dataset": cfg.dataset, "data_root": cfg.data_root,
                           "profile": getattr(cfg, "profile", None), "windows": used}},
    }, kind="classifier", config=cfg.to_dict(), metrics=metrics)  # fmt: skip
    metrics["checkpoint"] = str(ckpt)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics
