"""Two fine-tuning variants for every deep row alike: pseudo-labels (self-training) or augmented labelled windows.

Per LOSO fold (the folds of ``edge-eval``), seed and method (``base``: random init; ``not_frozen``: the pretrained
Multi3Net+, encoder frozen for 30 % of the steps), round 0 is exactly the table's run (``reports/configs/
eval_loso.yaml``: 300 steps of 32, head grid chosen on the validation subjects). Round 1 trains a fresh model from the
same start (same init seed, round 0's head, same 300-step budget, same validation windows) on a larger training set:

* ``--variant self_train``: the labelled windows plus pseudo-labels. Round 0's model labels the fold's UNLABELLED
  training-subject windows (the 90 % the label fraction leaves; never validation or test subjects); a window is kept
  when its softmax confidence is >= ``--tau``, at most ``--ratio`` x the labelled count of its class, most confident
  first (Lee 2013; class-balanced as in FixMatch-style self-training).
* ``--variant augment``: the labelled windows plus ``--copies`` perturbed copies of each
  (:func:`toolkit.train.adapt.perturbed_view`: watch orientation jitter +-30 deg twist / +-10 deg tilt, amplitude
  +-15 %, white noise 0.2 m/s^2 / 0.05 rad/s, circular shift +-8 samples; made once per run, raw SI windows).
* ``--variant sim_labels``: the labelled windows plus SIMULATED windows of the scripts written for the dataset's
  classes (``--sim`` folders, e.g. ``out/keyframes``; the class -> script map of ``benchmarks/sim_to_real.py``),
  labelled with their script's class: at most ``--ratio`` x the labelled count of each class, drawn at random
  (left wrist, 1 s hop). Sim-to-real transfer in the classifier itself rather than through pretraining.

Standardisation as in the tables (the pretrained rows: the checkpoint's statistics; Base: the fold's). Prints and
writes the means and per-fold paired differences (:func:`toolkit.train.metrics.paired_differences`, as the tables);
``--merge`` combines the files of one run split over processes with ``--folds``.

.venv/bin/python benchmarks/finetune_variants.py --checkpoint runs/pre/pretrained.pt --dataset seglearn \\
    --variant self_train --out benchmarks/results/finetune_self_train_seglearn.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import columns  # noqa: E402
from benchmarks.sim_to_real import DEFAULT_MAPS, scripted_windows  # noqa: E402
from toolkit.data.splits import Fold  # noqa: E402
from toolkit.data.windows import RealWindows  # noqa: E402
from toolkit.errors import Multi3EdgeError  # noqa: E402
from toolkit.models.multi3net import Multi3Net  # noqa: E402
from toolkit.train.adapt import AdaptConfig, perturbed_view  # noqa: E402
from toolkit.train.config import EvalConfig, FinetuneConfig  # noqa: E402
from toolkit.train.data import classifier_inputs, load_real_windows, load_synthetic  # noqa: E402
from toolkit.train.finetune import build_classifier, predict_logits, train_classifier  # noqa: E402
from toolkit.train.metrics import fold_metrics  # noqa: E402
from toolkit.train.pretrain import load_pretrained  # noqa: E402
from toolkit.train.protocol import FoldOutcome, fit_and_test, fold_indices  # noqa: E402

METHODS = {"base": ("base", "fold"), "not_frozen": ("multi3net", "pretrained")}  # column -> (method, normalizer)
PAIRS = [("not_frozen", "base"), ("not_frozen+v", "base+v"), ("base+v", "base"), ("not_frozen+v", "not_frozen"),
         ("not_frozen+v", "base")]  # fmt: skip
MERGE_KEYS = ("dataset", "variant", "settings", "label_fraction", "seeds", "sha256")
CPU = torch.device("cpu")


def class_cap(labelled_y: np.ndarray, k: int, ratio: float) -> int:
    """How many windows class ``k`` may add: ``floor(ratio * n_k)``, n_k its labelled windows."""
    return int(ratio * int((labelled_y == k).sum()))


def select_pseudo_labels(probs: np.ndarray, labelled_y: np.ndarray, tau: float, ratio: float) -> np.ndarray:
    """Indices (into ``probs``' rows) of the windows to pseudo-label, by class, most confident first.

    Args:
        probs: (N, K) softmax outputs on the unlabelled windows.
        labelled_y: (M,) labels of the labelled training windows (their class counts cap each class).
        tau: minimum confidence; ratio: at most ``floor(ratio * n_k)`` windows per class k.
    """
    conf, pred = probs.max(1), probs.argmax(1)
    keep = []
    for k in range(probs.shape[1]):
        idx = np.flatnonzero((pred == k) & (conf >= tau))
        keep.append(idx[np.argsort(-conf[idx], kind="stable")][: class_cap(labelled_y, k, ratio)])
    return np.concatenate(keep).astype(np.int64)


def augmented_copies(
    x: np.ndarray, y: np.ndarray, copies: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(N, L, 6) raw windows and (N,) labels -> the originals followed by ``copies`` perturbed copies of each."""
    cfg = AdaptConfig()
    xs = [x.astype(np.float32)] + [perturbed_view(x, rng, cfg) for _ in range(copies)]
    return np.concatenate(xs), np.tile(y, copies + 1)


def simulated_draw(sim_y: np.ndarray, labelled_y: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Indices into the simulated windows: per class k at most ``floor(ratio * n_k)`` of them, drawn without
    replacement (n_k: labelled windows of class k); classes without a labelled window get none."""
    keep = []
    for k in np.unique(sim_y):
        idx = np.flatnonzero(sim_y == k)
        n = min(idx.size, class_cap(labelled_y, k, ratio))
        keep.append(np.sort(rng.choice(idx, size=n, replace=False)))
    return np.concatenate(keep).astype(np.int64) if keep else np.zeros(0, np.int64)


def round_one(
    windows: RealWindows, fold: Fold, run: FinetuneConfig, out: FoldOutcome, pretrained: Multi3Net | None,
    args: argparse.Namespace, seed: int, simulated: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, dict]:
    """Train the variant's second model for round 0's outcome ``out``; (test macro F1, what was added).

    ``simulated``: (N, L, 6) raw simulated windows and their (N,) class indices (``sim_labels`` only)."""
    x_tr, y_tr = out.data.train
    lab = out.data.index["train"]
    if args.variant == "self_train":
        train_all, _, _ = fold_indices(windows, fold)
        unl = np.setdiff1d(train_all, lab)
        out.data.guard.check("adapt", windows.subject[unl])
        x_unl = classifier_inputs(windows.x[unl], out.data.normalizer)
        probs = torch.softmax(predict_logits(out.result.model, x_unl, CPU), 1).numpy()
        keep = select_pseudo_labels(probs, windows.y[lab], args.tau, args.ratio)
        pseudo = probs[keep].argmax(1)
        x_new = torch.cat([x_tr, x_unl[keep]])
        y_new = torch.cat([y_tr, torch.from_numpy(pseudo.astype(np.int64))])
        added = {"pseudo": int(keep.size), "unlabelled": int(unl.size),
                 "pseudo_accuracy": float((pseudo == windows.y[unl][keep]).mean()) if keep.size else None}  # fmt: skip
    elif args.variant == "sim_labels":
        if simulated is None:
            raise Multi3EdgeError("variant sim_labels needs the simulated windows")
        sim_x, sim_y = simulated
        pick = simulated_draw(sim_y, windows.y[lab], args.ratio, np.random.default_rng(2000 + seed))
        x_new = torch.cat([x_tr, classifier_inputs(sim_x[pick], out.data.normalizer)])
        y_new = torch.cat([y_tr, torch.from_numpy(sim_y[pick].astype(np.int64))])
        added = {"simulated": int(pick.size)}
    else:
        xa, ya = augmented_copies(windows.x[lab], windows.y[lab], args.copies, np.random.default_rng(1000 + seed))
        x_new, y_new = classifier_inputs(xa, out.data.normalizer), torch.from_numpy(ya.astype(np.int64))
        added = {"augmented": int(len(ya) - len(lab))}
    torch.manual_seed(seed)
    model = build_classifier(out.spec, pretrained)
    res = train_classifier(model, (x_new, y_new), out.data.val, run.replace(head=out.head), len(windows.class_names),
                           CPU, pretrained=pretrained is not None)  # fmt: skip
    x_te, y_te = out.data.test
    pred = predict_logits(res.model, x_te, CPU).argmax(1).numpy()
    return fold_metrics(y_te.numpy(), pred)["macro_f1"], added


def report(res: dict) -> None:
    columns.print_summary(f"{res['dataset']}, variant {res['variant']} (+v), {res['label_fraction']:.0%} labels, "
                          f"seeds {res['seeds']}, {len(res['folds'])} folds (macro F1 %):", res["means"],
                          res["paired"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    columns.add_run_arguments(ap)
    ap.add_argument("--variant", choices=("self_train", "augment", "sim_labels"), default="self_train")
    ap.add_argument("--tau", type=float, default=0.9, help="self_train: minimum softmax confidence of a pseudo-label")
    ap.add_argument("--ratio", type=float, default=5.0,
                    help="self_train / sim_labels: added windows per labelled window and class")
    ap.add_argument("--sim", nargs="+", metavar="DIR", help="sim_labels: simulator folders holding the scripts")
    ap.add_argument("--copies", type=int, default=4, help="augment: perturbed copies per labelled window")
    ap.add_argument("--label-fraction", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", nargs="+", help="only these folds, by name (one run split over processes)")
    ap.add_argument("--out", help="write the runs and summary as JSON here")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="no run: combine files of one run split with --folds")
    args = ap.parse_args(argv)
    if args.merge:
        try:
            res = columns.merge_parts(args.merge, MERGE_KEYS, PAIRS)
        except (Multi3EdgeError, OSError, KeyError, json.JSONDecodeError) as e:
            print(f"finetune_variants: error: cannot merge: {e}", file=sys.stderr)
            return 2
    else:
        if not args.checkpoint:
            ap.error("--checkpoint is required (unless --merge)")
        if not (0.0 <= args.tau <= 1.0 and args.ratio >= 0 and args.copies >= 1):
            ap.error("need 0 <= --tau <= 1, --ratio >= 0, --copies >= 1")
        if args.variant == "sim_labels" and not (args.sim and args.dataset in DEFAULT_MAPS):
            ap.error(f"sim_labels needs --sim and a class -> script map (datasets: {', '.join(DEFAULT_MAPS)})")
        try:
            res = run(args)
        except Multi3EdgeError as e:
            print(f"finetune_variants: error: {e}", file=sys.stderr)
            return 2
    report(res)
    return columns.write(res, args.out)


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ft = EvalConfig.load_yaml(args.config).finetune
    model, pre_norm, ck = load_pretrained(args.checkpoint)
    windows = load_real_windows(args.dataset, ft.grid, args.data_root)
    folds = columns.table_folds(windows, ft.val_fraction, args.folds)
    simulated = None
    if args.variant == "sim_labels":
        sim = load_synthetic(args.sim, ft.grid.replace(hop_s=1.0))
        simulated = scripted_windows(sim, DEFAULT_MAPS[args.dataset], windows.class_names)
    runs = []
    for fold in folds:
        for seed in args.seeds:
            rec: dict = {"fold": fold.name, "seed": seed, "added": {}}
            for col, (method, norm) in METHODS.items():
                pretrained = model if method == "multi3net" else None
                run_cfg = ft.replace(method=method, normalizer=norm, freeze="not_frozen", head="auto", seed=seed,
                                     label_fraction=args.label_fraction, progress=False)  # fmt: skip
                out = fit_and_test(windows, fold, run_cfg, model.cfg, pretrained, CPU, pre_norm)
                rec[col] = fold_metrics(out.y_true, out.y_pred)["macro_f1"]
                rec[f"{col}+v"], rec["added"][col] = round_one(windows, fold, run_cfg, out, pretrained, args, seed,
                                                               simulated)
            runs.append(rec)
            scores = "  ".join(f"{k} {100 * v:.1f}" for k, v in rec.items() if k not in ("fold", "seed", "added"))
            print(f"{fold.name} seed {seed}: {scores}", flush=True)
    means, diffs = columns.summarise(runs, args.label_fraction, PAIRS)
    settings = {"self_train": {"tau": args.tau, "ratio": args.ratio}, "augment": {"copies": args.copies},
                "sim_labels": {"ratio": args.ratio, "sim": args.sim}}[args.variant]
    return {"dataset": args.dataset, "variant": args.variant, "settings": settings,
            "label_fraction": args.label_fraction, "seeds": args.seeds, "checkpoint": str(ck.path),
            "sha256": ck.sidecar["sha256"], "folds": [f.name for f in folds], "means": means, "paired": diffs,
            "runs": runs, "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(sys.argv)}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
