"""Evaluation reports: ``results.json``, ``report.md`` (the paper's table rows) and PNG figures.

``report.md`` holds: the exact command line, the data and protocol, a table with one row per method and one
column per label fraction (macro F1 mean +- std over folds and seeds, in %), with a grid of classifier heads each
head's own mean and how often validation kept it, the experts sweep, the zero-shot
row, per-class F1 of every method at the largest label fraction, per-fold paired differences of every method
against ``base`` and ``stats_rf`` (:func:`toolkit.train.metrics.paired_differences`: mean over folds of the
per-fold mean over seeds, sign-test p-value, bootstrap 95 % interval; a method that loses is said to lose), and
where every number came from (device, checkpoint sha256). Figures: ``learning_curve.png`` (macro F1 vs label
fraction per method) and ``confusion_<method>.png`` (pooled confusion matrix of the best method at the largest
fraction).
"""

from __future__ import annotations

import json
import math
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.train.metrics import paired_differences

ROW_NAMES = {
    "dcl": "DCL (DeepConvLSTM)", "base": "Base (random init)", "imu_recon": "IMU reconstruction",
    "contrastive": "Contrastive", "multi3net_frozen": "Multi3Net+ frozen",
    "multi3net_not_frozen": "Multi3Net+ not frozen", "stats_rf": "Stats + random forest",
    "probe_random": "Linear probe, random encoder", "probe_pretrained": "Linear probe, pretrained encoder",
}  # fmt: skip
#: references of the paired comparisons (every other method is compared with each, per label fraction)
REFERENCES = ("base", "stats_rf")


def command_line(argv: list[str] | None = None) -> str:
    """The command as it was typed (shell-quoted)."""
    return shlex.join(sys.argv if argv is None else argv)


def _fmt(ms: dict[str, float]) -> str:
    if not ms or ms.get("n", 0) == 0 or math.isnan(ms["mean"]):
        return "n/a"
    return f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def markdown(results: dict[str, Any], command: str) -> str:
    """The report text (module docstring)."""
    summ = results["summary"]
    default_e = results["default_experts"]
    main = [s for s in summ if s["experts"] == default_e]
    fracs = sorted({s["label_fraction"] for s in main})
    methods = [m for m in ROW_NAMES if any(s["method"] == m for s in main)]
    cfg = results["config"]
    lines = [
        f"# {results['dataset']}: {cfg['split'].upper()} evaluation", "",
        "Command:", "", "```", command, "```", "",
        f"{results['windows']} windows, {len(results['subjects'])} subjects, classes {results['class_counts']}; "
        f"{len(results['folds'])} folds ({cfg['split']}), seeds {cfg['seeds']}, device {results['device']}, "
        f"{results['seconds']:.0f} s" + (f" ({results['runs_resumed']} of {results['runs_total']} runs resumed from "
                                         "runs.jsonl)" if results.get("runs_resumed") else "") + ".", "",
        "Macro F1 [%], mean ± std over folds and seeds (label fraction = share of the training subjects' labelled "
        "windows, sampled per class):", "",
        "| Method | " + " | ".join(f"{f:.0%}" for f in fracs) + " |",
        "|---|" + "---:|" * len(fracs),
    ]  # fmt: skip
    for m in methods:
        cells = [_fmt(next((s["macro_f1"] for s in main if s["method"] == m and s["label_fraction"] == f), {}))
                 for f in fracs]  # fmt: skip
        lines.append(f"| {ROW_NAMES[m]} | " + " | ".join(cells) + " |")
    zs = results.get("zero_shot")
    if zs:
        cells = [_fmt(zs["macro_f1"]) + " (no labels)"] + ["—"] * (len(fracs) - 1)
        lines.append(f"| Zero-shot ({zs['text_embeddings']} text, per subject) | " + " | ".join(cells) + " |")
    lines += paired_lines(results, methods, fracs)
    lines += head_lines(results, methods, fracs)
    sweep = sorted((s for s in summ if s["label_fraction"] == 1.0 and s["method"] == cfg["experts_method"]),
                   key=lambda s: s["experts"])  # fmt: skip
    if len(sweep) > 1:
        lines += ["", f"Experts sweep ({ROW_NAMES[cfg['experts_method']]}, 100 % labels):", "",
                  "| Experts | Macro F1 [%] |", "|---:|---:|"]  # fmt: skip
        lines += [f"| {s['experts']} | {_fmt(s['macro_f1'])} |" for s in sweep]
    if main:
        top = max(fracs)
        names = results["class_names"]
        lines += ["", f"Per-class F1 [%] at {top:.0%} labels (predictions pooled over folds and seeds):", "",
                  "| Method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]  # fmt: skip
        for m in methods:
            s = next((s for s in main if s["method"] == m and s["label_fraction"] == top), None)
            if s:
                lines.append(
                    f"| {ROW_NAMES[m]} | " + " | ".join(f"{100 * s['per_class_f1'][c]:.1f}" for c in names) + " |"
                )
    ck = results.get("checkpoints") or {}
    cks = ", ".join(f"{k} `{v['path']}` sha256 {v['sha256'][:16]}…" for k, v in ck.items()) or "none"
    machine = f"Machine: {platform.machine()} {platform.system()}, Python {platform.python_version()}."
    lines += ["", f"Checkpoints: {cks}", machine, ""]
    return "\n".join(lines)


def head_lines(results: dict[str, Any], methods: list[str], fracs: list[float]) -> list[str]:
    """With a grid of classifier heads: each head's own mean and how often validation chose it (empty otherwise)."""
    heads = results.get("heads") or []
    if len(heads) < 2:
        return []
    own = {(h["method"], h["label_fraction"], h["head"]): h["macro_f1"] for h in results.get("head_summary", [])
           if h["experts"] == results["default_experts"]}  # fmt: skip
    lines = ["", f"Classifier heads ({', '.join(heads)}): every row above that has a head kept, per fold and seed, "
             "the head with the better validation macro F1. Each head on its own, and how often it was kept:", "",
             "| Method | " + " | ".join(f"{h} {f:.0%}" for f in fracs for h in heads) + " |",
             "|---|" + "---:|" * (len(fracs) * len(heads))]  # fmt: skip
    for m in methods:
        if not any((m, fracs[0], h) in own for h in heads):
            continue
        cells = []
        for f in fracs:
            kept = [r["head"] for r in results["runs"] if r["method"] == m and r["label_fraction"] == f
                    and r["experts"] == results["default_experts"]]  # fmt: skip
            for h in heads:
                cells.append(f"{_fmt(own.get((m, f, h), {}))} ({kept.count(h)}/{len(kept)})")
        lines.append(f"| {ROW_NAMES[m]} | " + " | ".join(cells) + " |")
    return lines


def paired_lines(results: dict[str, Any], methods: list[str], fracs: list[float]) -> list[str]:
    """Markdown of the paired comparisons against each reference present (module docstring)."""
    out: list[str] = []
    runs, experts = results["runs"], results["default_experts"]
    for ref in REFERENCES:
        if ref not in methods:
            continue
        rows, verdicts = [], []
        for f in fracs:
            for m in methods:
                if m == ref:
                    continue
                pd = paired_differences(runs, m, ref, f, experts)
                if pd is None:
                    continue
                ci = "n/a" if math.isnan(pd["ci_low"]) else f"[{100 * pd['ci_low']:+.1f}, {100 * pd['ci_high']:+.1f}]"
                rows.append(f"| {ROW_NAMES[m]} | {f:.0%} | {100 * pd['mean']:+.1f} | {ci} | "
                            f"{pd['wins']}/{pd['losses']}/{pd['ties']} | {pd['p_sign']:.3g} |")  # fmt: skip
                if pd["mean"] < 0:
                    verdicts.append(f"- At {f:.0%} labels **{ROW_NAMES[m]} loses to {ROW_NAMES[ref]}** by "
                                    f"{-100 * pd['mean']:.1f} points (wins on {pd['wins']} of {pd['folds']} folds).")
        if rows:
            out += ["", f"Paired differences vs {ROW_NAMES[ref]} [macro-F1 points]: per fold the mean over seeds of "
                    f"(method - {ref}) on the same windows; mean over folds, bootstrap 95 % interval over folds, "
                    "folds won/lost/tied, two-sided sign-test p-value:", "",
                    "| Method | Labels | Mean diff | 95 % CI | W/L/T | p (sign) |", "|---|---:|---:|---:|---:|---:|",
                    *rows]  # fmt: skip
            out += ([""] + verdicts) if verdicts else ["", f"No method loses to {ROW_NAMES[ref]} on average."]
    return out


def _plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    main = [s for s in results["summary"] if s["experts"] == results["default_experts"]]
    if main:
        fig, ax = plt.subplots(figsize=(6, 4))
        for m in ROW_NAMES:
            pts = sorted(
                (s["label_fraction"], s["macro_f1"]["mean"], s["macro_f1"]["std"]) for s in main if s["method"] == m
            )
            if pts:
                f, mu, sd = map(np.asarray, zip(*pts, strict=True))
                ax.errorbar(100 * f, 100 * mu, yerr=100 * sd, marker="o", capsize=3, label=ROW_NAMES[m])
        ax.set(
            xlabel="labelled training windows [%]", ylabel="macro F1 [%]", title=f"{results['dataset']}: learning curve"
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / "learning_curve.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
        top = max(s["label_fraction"] for s in main)
        best = max((s for s in main if s["label_fraction"] == top), key=lambda s: s["macro_f1"]["mean"])
        paths.append(out / f"confusion_{best['method']}.png")
        _confusion_png(np.asarray(best["confusion"]), results["class_names"],
                       f"{ROW_NAMES[best['method']]}, {top:.0%} labels", paths[-1])  # fmt: skip
    return paths


def _confusion_png(cm: np.ndarray, names: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(names), 0.8 + 0.6 * len(names)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")  # fmt: skip
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(results: dict[str, Any], out_dir: str | Path, command: str | None = None) -> dict[str, Path]:
    """Write results.json, report.md and the PNGs into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    command = command or command_line()
    results = {**results, "command": command}
    paths = {"json": out / "results.json", "markdown": out / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=1, default=_json_default))
    paths["markdown"].write_text(markdown(results, command))
    for p in _plots(results, out):
        paths[p.stem] = p
    return paths
