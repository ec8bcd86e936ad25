"""Edge export under the leave-one-subject-out protocol: teacher, student and int8 macro F1 per fold.

For each LOSO fold of a real dataset (the folds of ``edge-eval``: :func:`toolkit.data.splits.loso_folds`, seed 0):

1. fine-tune the fold's teacher as ``reports/<dataset>/`` does for ``multi3net_not_frozen`` at 100 % labels
   (:func:`toolkit.train.protocol.fit_and_test` with the settings of ``reports/configs/eval_loso.yaml``, the MoE
   head only: the reports' head grid is not repeated here), from the default model's ``pretrained.pt``
   (``toolkit/default_model/``); its leak guard refuses the test subject in every training stage);
2. wrap it as a :class:`~export.teacher.Teacher` whose evaluation subject is the fold's test subject and run
   :func:`export.pipeline.export_bundles` (distillation and int8 calibration on the other subjects only);
3. load every artefact back, predict the test subject's windows and keep the predictions (for pooled metrics);
4. when an int8 artefact loses more than 1 point of macro F1 against the float student, export the fold's
   ``.pte`` again with quantisation-aware training (``qat="on"``) and keep both results (a QAT failure is recorded
   in the fold's JSON, not raised);
5. write ``<out>/folds/<fold>.json`` and delete the fold's model files (manifests stay).

Folds whose JSON exists are skipped (the run is resumable), but only if they were computed with the same settings:
each fold JSON records the hash of what decides its figures (:func:`run_settings`: the checkpoint's SHA-256, the
fine-tuning config, profiles, targets, precisions, distillation epochs, QAT retry); a fold of other settings stops
the run with an error instead of being mixed in (``--fresh`` recomputes the selected folds).

The aggregate (:func:`summarise`) gives per model the macro F1 over folds (mean +- std), the pooled macro F1 over all
folds' predictions concatenated and, for the artefacts, the pooled top-1 agreement with the float student; it is
written to ``<out>/results.json`` and ``<out>/report.md``. Macro F1 and agreement are fractions in [0, 1] in the
JSON, percent in the markdown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.distill import DistillConfig, predict_logits
from export.exporters import check_target, run_all
from export.manifest import load_artefact
from export.pipeline import PROFILES, export_bundles
from export.student import EdgeStudent, StudentConfig
from export.teacher import InputSpec, Teacher, Windows
from toolkit.data.splits import loso_folds
from toolkit.errors import ConfigError
from toolkit.programs import run_cli
from toolkit.resources import default_pretrained
from toolkit.train.config import EvalConfig
from toolkit.train.data import load_real_windows
from toolkit.train.evaluate import method_settings
from toolkit.train.metrics import fold_metrics, mean_std, pooled_metrics
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import LeakError, fit_and_test
from toolkit.train.runtime import resolve_device

DATASETS = ("seglearn", "sp-sw-har")
METHOD = "multi3net_not_frozen"
DEFAULT_CONFIG = Path("reports/configs/eval_loso.yaml")
DEFAULT_PRETRAINED = default_pretrained(check=False)  # the installed package's default model
QAT_LOSS = 0.01  #: int8 macro F1 loss against the float student (fraction) that triggers the QAT retry

EXAMPLES = """\
examples:
  # all 10 seglearn folds, watch profile, int8 .pte/.tflite/.onnx -> reports/export-loso/seglearn/
  OMP_NUM_THREADS=1 python -m export.loso --dataset seglearn

  # sp-sw-har, the first 3 folds only (rerun without --max-folds later: finished folds are skipped)
  python -m export.loso --dataset sp-sw-har --max-folds 3

  # after a new default model: recompute every fold (folds of the old checkpoint are refused, not mixed in)
  OMP_NUM_THREADS=1 python -m export.loso --dataset seglearn --fresh

  # two given test subjects, both profiles, no QAT retry, own output folder
  python -m export.loso --dataset sp-sw-har --folds s01,s02 --profiles phone,watch --qat-retry off --out /tmp/loso

  # only rebuild results.json / report.md from the fold JSONs already there
  python -m export.loso --dataset seglearn --report-only
"""


@dataclass
class LosoOptions:
    """What :func:`run_loso` runs (defaults: the ones used for ``reports/export-loso/``)."""

    dataset: str
    out: Path
    config: Path = DEFAULT_CONFIG  #: EvalConfig YAML whose ``finetune`` section trains the teachers
    pretrained: Path = DEFAULT_PRETRAINED
    profiles: tuple[str, ...] = ("watch",)
    targets: tuple[str, ...] = ("pte", "tflite", "onnx")
    precisions: tuple[str, ...] = ("int8",)
    distill_epochs: int = 40  #: DistillConfig default, as for the committed default model
    qat_retry: bool = True  #: step 4 of the module docstring
    folds: tuple[str, ...] = ()  #: test subjects to run (empty: all)
    max_folds: int | None = None
    keep_models: bool = False
    fresh: bool = False  #: recompute the selected folds even when their JSON exists
    #: FinetuneConfig changes on top of the YAML's (tests only: e.g. {"epochs": 1})
    finetune_overrides: dict[str, Any] = field(default_factory=dict)


def shown_path(path: Path | str) -> str:
    """A path as reports record it: the default model by its package path, others relative to the working folder
    when inside it (committed reports carry no machine's absolute paths)."""
    path = Path(path)
    if path.resolve() == Path(DEFAULT_PRETRAINED).resolve():
        return "toolkit/default_model/pretrained.pt"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _fold_path(out: Path, fold: str) -> Path:
    return out / "folds" / f"{fold}.json"


#: LosoOptions fields that choose where results go or which folds run, not what a fold computes
NOT_SETTINGS = ("out", "config", "pretrained", "folds", "max_folds", "keep_models", "fresh")
#: FinetuneConfig fields that do not change a fold's figures (paths, logging)
NOT_FINETUNE_SETTINGS = ("checkpoint", "data_root", "out_dir", "progress", "workers")


def run_settings(opts: LosoOptions, ft: Any, checkpoint_sha256: str) -> tuple[dict[str, Any], str]:
    """What decides a fold's figures, and its hash (16 hex digits) that each fold JSON records."""
    settings = {k: v for k, v in asdict(opts).items() if k not in NOT_SETTINGS}
    settings["finetune"] = {k: v for k, v in ft.to_dict().items() if k not in NOT_FINETUNE_SETTINGS}
    settings["pretrained_sha256"] = checkpoint_sha256
    text = json.dumps(settings, sort_keys=True, default=str)
    return settings, hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_resumable(out: Path, fold_names: list[str], settings_id: str, fresh: bool) -> None:
    """Delete the selected folds' JSON (``fresh``) or refuse any that other settings computed."""
    for name in fold_names:
        path = _fold_path(out, name)
        if not path.is_file():
            continue
        if fresh:
            path.unlink()
            continue
        done = json.loads(path.read_text()).get("settings_sha256")
        if done != settings_id:
            why = f"settings {done}" if done else "settings not recorded (an older run)"
            raise ConfigError(f"{path}: computed with other settings than this run's {settings_id} ({why}: another "
                              f"checkpoint, config or option); pass --fresh to recompute, or --out another folder")


# --------------------------------------------------------------------------------------------- one fold


def fold_teacher(windows: Any, fold: Any, outcome: Any, source: str) -> Any:
    """The fine-tuned fold model as an export :class:`~export.teacher.Teacher`.

    ``windows``: the dataset's :class:`~toolkit.data.windows.RealWindows`, x (N, L, 6) in m/s^2 and rad/s;
    ``outcome``: :class:`~toolkit.train.protocol.FoldOutcome`. Missing gyroscope samples (NaN) are set to the
    fold normaliser's mean, i.e. 0 after standardisation, exactly what fine-tuning fed the model.
    """

    norm = outcome.data.normalizer
    x = np.where(np.isfinite(windows.x), windows.x, norm.mean.astype(np.float32)).astype(np.float32)
    spec = InputSpec(rate_hz=float(windows.rate_hz), window_s=float(windows.window_s), hop_s=float(windows.hop_s),
                     mean=norm.mean.tolist(), std=norm.std.tolist())
    data = Windows(x, windows.y.astype(np.int64), windows.subject.astype(str))
    return Teacher(outcome.result.model.eval(), list(windows.class_names), spec, data, None, source,
                   eval_subjects=list(fold.test_subjects))


def _predict_bundle(folder: Path, manifest: dict[str, Any], x: np.ndarray) -> dict[str, np.ndarray]:
    """{"student fp32" | "<target> <precision>": (N,) predicted class} of one bundle on standardised x."""

    student = EdgeStudent(StudentConfig(**manifest["student"]["config"]))
    student.load_state_dict(torch.load(folder / "student.pt", weights_only=True))
    out = {"student fp32": predict_logits(student, x).argmax(1)}
    for a in manifest["artefacts"]:
        art = load_artefact(folder, a["target"], a["precision"], threads=1)
        out[f"{a['target']} {a['precision']}"] = run_all(art.run, x).argmax(1)
    return out


def _artefact_record(a: dict[str, Any], pred: np.ndarray, ref: np.ndarray, y: np.ndarray) -> dict[str, Any]:

    fig = a["parity_vs_float_student"]
    rec = {**fold_metrics(y, pred), "top1_agreement": float((pred == ref).mean()),
           "max_abs_delta_logit": fig["max_abs_delta_logit"], "bytes": a["bytes"], "file": a["file"],
           "qat": bool(a["export"].get("qat", False))}
    if a["target"] == "pte":
        rec["partitions"] = a["export"].get("partitions")
        rec["ops_outside"] = int(sum(a["export"].get("non_delegated_ops", {}).values()))
    return rec


def _delete_models(folder: Path) -> None:
    """Remove every file but ``*.json`` under ``folder`` (model weights and artefacts)."""
    for p in sorted(folder.rglob("*"), reverse=True):
        if p.is_file() and p.suffix != ".json":
            p.unlink()


def run_fold(windows: Any, fold: Any, opts: LosoOptions, ft: Any, pretrained: Any, device: torch.device,
             log: Callable[[str], None]) -> dict[str, Any]:
    """Steps 1-5 of the module docstring for one fold; returns the fold record (also written as JSON)."""

    test = set(fold.test_subjects)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    outcome = fit_and_test(windows, fold, ft, pretrained.cfg, pretrained, device)
    times["finetune"] = time.perf_counter() - t0
    source = f"LOSO fold {fold.name} of {opts.dataset}: {METHOD} at 100 % labels from {shown_path(opts.pretrained)}"
    teacher = fold_teacher(windows, fold, outcome, source)
    folder = opts.out / "folds" / fold.name
    dcfg = DistillConfig(epochs=opts.distill_epochs)

    t0 = time.perf_counter()
    # export_bundles initialises the student from the global RNG before distill() seeds it: seed here, so that a
    # fold gives the same student whether or not other folds ran before it in this process (resume, QAT retry)
    torch.manual_seed(dcfg.seed)
    manifests = export_bundles(teacher, folder, targets=opts.targets, precisions=opts.precisions,
                               profiles=opts.profiles, distill_cfg=dcfg, qat="off", log=log)
    times["export"] = time.perf_counter() - t0

    ev = np.isin(teacher.windows.subject, list(test))
    x_ev, y_ev = teacher.spec.normalise(teacher.windows.x[ev]), teacher.windows.y[ev]

    preds: dict[str, np.ndarray] = {"y_true": y_ev, "teacher fp32": predict_logits(teacher.model, x_ev).argmax(1)}
    models: dict[str, dict[str, Any]] = {"teacher fp32": {**fold_metrics(y_ev, preds["teacher fp32"])}}
    seen: dict[str, list[str]] = {}
    qat: dict[str, Any] = {}
    for profile, man in manifests.items():
        got = _predict_bundle(folder / profile, man, x_ev)
        ref = got["student fp32"]
        preds[f"{profile} student fp32"] = ref
        models[f"{profile} student fp32"] = {
            **fold_metrics(y_ev, ref), "parameters": man["student"]["parameters"], "macs": man["student"]["macs"],
            "embedding_cosine": man["metrics"]["student_teacher_embedding_cosine"]}
        for a in man["artefacts"]:
            key = f"{profile} {a['target']} {a['precision']}"
            preds[key] = got[f"{a['target']} {a['precision']}"]
            models[key] = _artefact_record(a, preds[key], ref, y_ev)
        seen[f"{profile} distillation"] = man["metrics"]["train_subjects"]
        seen[f"{profile} calibration"] = man["quantization"]["calibration_subjects"]
        losing = [k for k, m in models.items() if k.startswith(f"{profile} ") and "int8" in k
                  and models[f"{profile} student fp32"]["macro_f1"] - m["macro_f1"] > QAT_LOSS]
        if opts.qat_retry and losing and "pte" in opts.targets and "int8" in opts.precisions:
            log(f"[{profile}] int8 loses > 1 point ({', '.join(losing)}): QAT .pte")
            t0 = time.perf_counter()
            qat[profile] = {"triggered_by": losing}
            try:
                torch.manual_seed(dcfg.seed)  # the same student as above (checked below)
                qman = export_bundles(teacher, folder / "qat", targets=("pte",), precisions=("int8",),
                                      profiles=(profile,), distill_cfg=dcfg, qat="on", log=log)[profile]
            except Exception as exc:  # noqa: BLE001 - an optional step of a long run: record it, go on
                qat[profile]["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                log(f"[{profile}] QAT failed: {qat[profile]['error']}")
            else:
                qgot = _predict_bundle(folder / "qat" / profile, qman, x_ev)
                key = f"{profile} pte int8 qat"
                preds[key] = qgot["pte int8"]
                models[key] = _artefact_record(qman["artefacts"][0], preds[key], qgot["student fp32"], y_ev)
                qat[profile]["student_reproduced"] = bool(np.array_equal(qgot["student fp32"], ref))
            qat[profile]["seconds"] = time.perf_counter() - t0
            times["qat"] = times.get("qat", 0.0) + qat[profile]["seconds"]
    audit = {k: list(v) for k, v in outcome.data.guard.audit.items()}
    for stage, subjects in {**seen, **{f"finetune {k}": v for k, v in audit.items() if k != "test"}}.items():
        if test & set(subjects):
            raise LeakError(f"fold {fold.name}: test subject(s) {sorted(test & set(subjects))} reached {stage}")
    if not opts.keep_models:
        _delete_models(folder)
    return {
        "dataset": opts.dataset, "fold": fold.name, "method": METHOD, "subjects": fold.to_dict(),
        "n_test_windows": int(ev.sum()), "class_names": list(windows.class_names),
        "finetune": {"best_epoch": outcome.result.best_epoch, "epochs_run": len(outcome.result.history),
                     "unfrozen_epoch": outcome.result.unfrozen_epoch, "counts": outcome.data.counts,
                     "audit": audit, "protocol_macro_f1": fold_metrics(outcome.y_true, outcome.y_pred)["macro_f1"]},
        "subjects_seen": seen, "models": models, "qat": qat,
        "predictions": {k: np.asarray(v).astype(int).tolist() for k, v in preds.items()},
        "seconds": {**times, "total": sum(times.values())},
    }


# --------------------------------------------------------------------------------------------- aggregate


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per model: per-fold macro F1 mean/std, pooled macro F1 (all folds' predictions concatenated); artefacts:
    pooled and worst-fold top-1 agreement with their float student, max |dlogit|, sizes, partitions."""

    if not records:
        return {"folds": 0, "models": {}}
    names = records[0]["class_names"]
    keys = list(dict.fromkeys(k for r in records for k in r["models"]))
    models: dict[str, Any] = {}
    for key in keys:
        recs = [r for r in records if key in r["models"]]
        y = np.concatenate([r["predictions"]["y_true"] for r in recs]).astype(int)
        p = np.concatenate([r["predictions"][key] for r in recs]).astype(int)
        pooled = pooled_metrics(y, p, names)
        ms = [r["models"][key] for r in recs]
        row: dict[str, Any] = {"folds": len(recs), "macro_f1": mean_std([m["macro_f1"] for m in ms]),
                               "macro_f1_pooled": pooled["macro_f1_pooled"], "per_class_f1": pooled["per_class_f1"],
                               "accuracy_pooled": float((y == p).mean())}
        profile = key.split(" ")[0]
        if "top1_agreement" in ms[0] and key != "teacher fp32":
            ref = np.concatenate([r["predictions"][f"{profile} student fp32"] for r in recs]).astype(int)
            s_pooled = pooled_metrics(y, ref, names)["macro_f1_pooled"]
            row |= {"top1_agreement_pooled": float((p == ref).mean()),
                    "top1_agreement_min": float(min(m["top1_agreement"] for m in ms)),
                    "max_abs_delta_logit": float(max(m["max_abs_delta_logit"] for m in ms)),
                    "bytes": {"min": int(min(m["bytes"] for m in ms)), "max": int(max(m["bytes"] for m in ms))},
                    "student_macro_f1_pooled_same_folds": s_pooled,
                    "folds_agreement_below_99": sorted(r["fold"] for r in recs
                                                       if r["models"][key]["top1_agreement"] < 0.99),
                    "folds_losing_over_1_point": sorted(
                        r["fold"] for r in recs
                        if r["models"][f"{profile} student fp32"]["macro_f1"] - r["models"][key]["macro_f1"]
                        > QAT_LOSS)}
            if "partitions" in ms[0]:
                row |= {"partitions": sorted({m["partitions"] for m in ms}),
                        "ops_outside": sorted({m["ops_outside"] for m in ms})}
        models[key] = row
    return {"folds": len(records), "fold_names": [r["fold"] for r in records], "class_names": names,
            "windows": int(sum(r["n_test_windows"] for r in records)), "models": models,
            "seconds": mean_std([r["seconds"]["total"] for r in records]),
            "seconds_total": float(sum(r["seconds"]["total"] for r in records))}


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _points(delta: float) -> str:
    """A difference of fractions as signed percentage points ("+0.0", never "-0.0")."""
    text = f"{100 * delta:+.1f}"
    return "+0.0" if text == "-0.0" else text


def report_markdown(summary: dict[str, Any], records: list[dict[str, Any]], dataset: str, command: str) -> str:
    """The markdown table of :func:`summarise` plus a per-fold table (macro F1 %, agreement %)."""
    lines = [f"# Edge export under LOSO: {dataset}", "", "```bash", command, "```", "",
             f"{summary['folds']} folds, {summary['windows']} test windows in all; method {METHOD} at 100 % "
             "labels (the protocol of reports/README.md); macro F1 %: mean +- std over folds, and pooled over all "
             "folds' predictions concatenated. Agreement: top-1 agreement with the float student.", "",
             "| model | macro F1 (folds) | pooled macro F1 | pooled delta | pooled agreement | folds < 99 % "
             "agreement (worst %) | folds losing > 1 pt | max abs dlogit | size KB | partitions / ops outside |",
             "|---|---:|---:|---:|---:|---|---|---:|---:|---|",
             ]
    teacher = summary["models"].get("teacher fp32", {}).get("macro_f1_pooled")
    for key, m in summary["models"].items():
        f1 = f"{_pct(m['macro_f1']['mean'])} +- {_pct(m['macro_f1']['std'])}"
        if "top1_agreement_pooled" in m:
            b = m["bytes"]
            lo, hi = f"{b['min'] / 1024:.1f}", f"{b['max'] / 1024:.1f}"
            part = (f"{'/'.join(map(str, m['partitions']))} / {'/'.join(map(str, m['ops_outside']))}"
                    if "partitions" in m else "")
            below = len(m["folds_agreement_below_99"])
            lines.append(
                f"| {key} | {f1} | {_pct(m['macro_f1_pooled'])} | "
                f"{_points(m['macro_f1_pooled'] - m['student_macro_f1_pooled_same_folds'])} vs student | "
                f"{_pct(m['top1_agreement_pooled'])} | {below} of {m['folds']} ({_pct(m['top1_agreement_min'])}) | "
                f"{', '.join(m['folds_losing_over_1_point']) or 'none'} | {m['max_abs_delta_logit']:.2f} | "
                f"{lo if lo == hi else f'{lo}-{hi}'} | {part} |")
        else:
            delta = (f"{_points(m['macro_f1_pooled'] - teacher)} vs teacher"
                     if teacher is not None and key != "teacher fp32" else "")
            lines.append(f"| {key} | {f1} | {_pct(m['macro_f1_pooled'])} | {delta} | | | | | | |")
    keys = list(summary["models"])
    lines += ["", "Per fold (macro F1 %; agreement % in brackets):", "",
              "| fold | windows | " + " | ".join(keys) + " | seconds |", "|---|---:|" + "---:|" * (len(keys) + 1)]
    for r in records:
        cells = []
        for k in keys:
            m = r["models"].get(k)
            cells.append("" if m is None else _pct(m["macro_f1"]) + (
                f" ({_pct(m['top1_agreement'])})" if "top1_agreement" in m else ""))
        lines.append(f"| {r['fold']} | {r['n_test_windows']} | " + " | ".join(cells)
                     + f" | {r['seconds']['total']:.0f} |")
    return "\n".join(lines) + "\n"


def write_summary(out: Path, dataset: str, command: str | None = None) -> dict[str, Any]:
    """Read ``out/folds/*.json``, write ``out/results.json`` and ``out/report.md``; returns the summary.

    ``command``: the command line shown in the report (None: the one recorded in ``out/options.json``).
    """
    if command is None:
        opts = out / "options.json"
        command = json.loads(opts.read_text()).get("command", "") if opts.is_file() else ""
    records = [json.loads(p.read_text()) for p in sorted((out / "folds").glob("*.json"))]
    ids = {r.get("settings_sha256") for r in records}
    if len(ids) > 1:
        raise ConfigError(f"{out}/folds: fold results of different settings ({', '.join(sorted(map(str, ids)))}); "
                          "rerun the odd folds with --fresh, or keep each run in its own --out folder")
    summary = summarise(records)
    summary = {"dataset": dataset, "command": command, **summary,
               "per_fold": [{k: r[k] for k in ("fold", "n_test_windows", "models", "qat", "subjects_seen",
                                               "seconds")} for r in records]}
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "report.md").write_text(report_markdown(summary, records, dataset, command))
    return summary


# --------------------------------------------------------------------------------------------- driver


def _load_windows(opts: LosoOptions, ft: Any) -> Any:

    return load_real_windows(opts.dataset, ft.grid, ft.data_root, ft.profile)


def run_loso(opts: LosoOptions, windows: Any = None, log: Callable[[str], None] = print,
             command: str = "") -> dict[str, Any]:
    """Run every (missing) fold, then write the summary (module docstring). ``windows``: RealWindows to use instead
    of loading ``opts.dataset`` (tests)."""

    for t in opts.targets:
        check_target(t)
    for p in opts.profiles:
        if p not in PROFILES:
            raise ConfigError(f"unknown profile {p!r} (choose from {', '.join(PROFILES)})")
    if not Path(opts.config).is_file():
        raise ConfigError(f"{opts.config}: no such config (the LOSO protocol's YAML, e.g. {DEFAULT_CONFIG})")
    cfg = EvalConfig.load_yaml(opts.config)
    pretrained, _, checkpoint = load_pretrained(opts.pretrained)
    experts = cfg.finetune.num_experts or pretrained.cfg.classifier.num_experts
    ft = cfg.finetune.replace(dataset=opts.dataset, checkpoint=shown_path(opts.pretrained),
                              **method_settings(METHOD, cfg.finetune), label_fraction=1.0, seed=0,
                              num_experts=experts, head="moe", progress=False,
                              **opts.finetune_overrides)
    windows = windows if windows is not None else _load_windows(opts, ft)
    folds = loso_folds(windows.subject, ft.val_fraction, 0, windows.y, windows.class_names)  # edge-eval's folds
    if opts.folds:
        missing = sorted(set(opts.folds) - {f.test_subjects[0] for f in folds})
        if missing:
            raise ConfigError(f"--folds: subjects {missing} not in {opts.dataset} "
                              f"(has {', '.join(f.test_subjects[0] for f in folds)})")
        folds = [f for f in folds if f.test_subjects[0] in opts.folds]
    folds = folds[: opts.max_folds] if opts.max_folds else folds
    device = resolve_device(ft.device)
    settings, settings_id = run_settings(opts, ft, checkpoint.sidecar["sha256"])
    _check_resumable(opts.out, [f.name for f in folds], settings_id, opts.fresh)
    opts.out.mkdir(parents=True, exist_ok=True)
    record = {**asdict(opts), "out": shown_path(opts.out), "config": shown_path(opts.config),
              "pretrained": shown_path(opts.pretrained), "finetune": ft.to_dict(),
              "pretrained_sha256": settings["pretrained_sha256"], "settings_sha256": settings_id, "command": command}
    (opts.out / "options.json").write_text(json.dumps(record, indent=1) + "\n")
    t_start = time.perf_counter()
    for i, fold in enumerate(folds, 1):
        path = _fold_path(opts.out, fold.name)
        if path.is_file():
            log(f"fold {i}/{len(folds)} {fold.name}: done before ({path}), skipped")
            continue
        rec = run_fold(windows, fold, opts, ft, pretrained, device, log=lambda m, f=fold.name: log(f"  {f} {m}"))
        rec["settings_sha256"] = settings_id
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec) + "\n")
        tmp.replace(path)
        m = rec["models"]
        arts = ", ".join(f"{k.split(' ', 1)[1]} {_pct(v['macro_f1'])} ({_pct(v['top1_agreement'])})"
                         for k, v in m.items() if "top1_agreement" in v)
        log(f"fold {i}/{len(folds)} {fold.name}: teacher {_pct(m['teacher fp32']['macro_f1'])}, "
            + ", ".join(f"{p} student {_pct(m[f'{p} student fp32']['macro_f1'])}" for p in opts.profiles)
            + f"; {arts} [{rec['seconds']['total']:.0f} s; {time.perf_counter() - t_start:.0f} s so far]")
    return write_summary(opts.out, opts.dataset, command)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.loso", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Per LOSO fold: fine-tune the fold's teacher (multi3net_not_frozen, 100 % "
                                            "labels), distil, quantise to int8, export, and score teacher, student "
                                            "and every artefact on the held-out subject.", epilog=EXAMPLES)
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--out", help="output folder (default: reports/export-loso/DATASET)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="LOSO protocol YAML (default: %(default)s)")
    p.add_argument("--pretrained", default=str(DEFAULT_PRETRAINED), help="pretrained checkpoint (default: %(default)s)")
    p.add_argument("--profiles", default="watch", help="comma-separated (default: %(default)s)")
    p.add_argument("--targets", default="pte,tflite,onnx", help="comma-separated (default: %(default)s)")
    p.add_argument("--fp32", action="store_true", help="also export fp32 artefacts")
    p.add_argument("--epochs", type=int, default=40, help="distillation epochs (default: %(default)s)")
    p.add_argument("--qat-retry", choices=("auto", "off"), default="auto",
                   help="auto: re-export the .pte with QAT on folds where an int8 artefact loses > 1 point (a QAT "
                        "failure is recorded in the fold's JSON; reports/export.md compares QAT with PTQ)")
    p.add_argument("--folds", help="comma-separated test subjects to run (default: all)")
    p.add_argument("--max-folds", type=int, help="run only the first N folds")
    p.add_argument("--keep-models", action="store_true", help="keep the per-fold model files")
    p.add_argument("--fresh", action="store_true",
                   help="recompute the selected folds even if their JSON exists (needed after changing the "
                        "checkpoint, config or options: a fold of other settings is otherwise refused)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    p.add_argument("--report-only", action="store_true", help="only rebuild results.json and report.md")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m export.loso``."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        csv = lambda s: tuple(t.strip() for t in s.split(",") if t.strip())  # noqa: E731
        if args.epochs < 1 or args.threads < 1 or (args.max_folds is not None and args.max_folds < 1):
            raise ConfigError("--epochs, --threads and --max-folds must be >= 1")
        out = Path(args.out or f"reports/export-loso/{args.dataset}")
        command = "python -m export.loso " + " ".join(argv if argv is not None else sys.argv[1:])
        if args.report_only:
            if not (out / "folds").is_dir():
                raise ConfigError(f"{out}/folds: no fold results to summarise")
            write_summary(out, args.dataset)
            print(f"wrote {out}/results.json and {out}/report.md")
            return 0
        torch.set_num_threads(args.threads)
        opts = LosoOptions(dataset=args.dataset, out=out, config=Path(args.config), pretrained=Path(args.pretrained),
                           profiles=csv(args.profiles), targets=csv(args.targets),
                           precisions=("fp32", "int8") if args.fp32 else ("int8",), distill_epochs=args.epochs,
                           qat_retry=args.qat_retry == "auto", folds=csv(args.folds or ""), max_folds=args.max_folds,
                           keep_models=args.keep_models, fresh=args.fresh)
        if not opts.profiles or not opts.targets:
            raise ConfigError("--profiles and --targets must name at least one")
        run_loso(opts, log=lambda m: print(m, flush=True), command=command)
        print(f"wrote {out}/results.json and {out}/report.md", flush=True)
        return 0

    return run_cli("export.loso", body)


if __name__ == "__main__":
    sys.exit(main())
