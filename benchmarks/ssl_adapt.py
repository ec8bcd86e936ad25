"""Do the training subjects' unlabelled windows help? SimCLR adaptation of the IMU encoder, LOSO, 10 % labels.

Per LOSO fold (the folds of ``edge-eval``) and seed, two encoders of the checkpoint's architecture, the pretrained
one and a random one (seeded with the run seed), are each adapted with :func:`toolkit.train.protocol.adapt_fold`
(SimCLR on every window of the fold's training subjects, labels unused; validation and test subjects never seen),
then compared on the labelled 10 % exactly as the LOSO tables do:

* linear probes (:func:`toolkit.train.probe.probe_fold`: frozen mean-token features, class-balanced logistic
  regression, C chosen on the validation subjects) on the four encoders: ``pretrained``, ``pretrained+ssl``,
  ``random``, ``random+ssl``;
* with ``--finetune``, fine-tuning with the tables' protocol (``reports/configs/eval_loso.yaml``: 300 steps, head
  grid, encoder frozen for 30 % then at 0.1x the head's learning rate): ``base`` (random init, the table's Base),
  ``not_frozen`` (pretrained, the table's Multi3Net+ not frozen), ``not_frozen+ssl`` and ``random+ssl``.

As in the tables, the pretrained encoder (adapted or not) sees windows standardised with the checkpoint's statistics,
the random one (adapted or not) and Base the fold's (fitted on its labelled training windows). Prints the
means and the per-fold paired differences (mean over seeds per fold, then over folds, with a bootstrap 95 %
interval and a sign test: :func:`toolkit.train.metrics.paired_differences`, as the tables) and writes the runs as
JSON; ``--merge`` combines the files of one run split over processes with ``--folds``.

.venv/bin/python benchmarks/ssl_adapt.py --checkpoint runs/pre/pretrained.pt --dataset seglearn --finetune \\
    --out benchmarks/results/ssl_adapt_seglearn.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import columns  # noqa: E402
from toolkit.errors import Multi3EdgeError  # noqa: E402
from toolkit.train.adapt import AdaptConfig  # noqa: E402
from toolkit.train.config import EvalConfig  # noqa: E402
from toolkit.train.data import load_real_windows  # noqa: E402
from toolkit.train.features import random_like  # noqa: E402
from toolkit.train.metrics import fold_metrics  # noqa: E402
from toolkit.train.pretrain import load_pretrained  # noqa: E402
from toolkit.train.probe import probe_fold  # noqa: E402
from toolkit.train.protocol import adapt_fold, fit_and_test, prepare_fold  # noqa: E402

PAIRS = [("pretrained", "random"), ("pretrained+ssl", "random"), ("random+ssl", "random"),
         ("pretrained+ssl", "random+ssl"), ("pretrained+ssl", "pretrained"),
         ("not_frozen", "base"), ("not_frozen+ssl", "base"), ("random+ssl_ft", "base"),
         ("not_frozen+ssl", "random+ssl_ft"), ("not_frozen+ssl", "not_frozen"),
         ("pretrained+ssl", "not_frozen"), ("pretrained+ssl", "base"), ("random+ssl", "base")]  # probe vs fine-tuned


def print_summary(res: dict) -> None:
    columns.print_summary(f"{res['dataset']}, {res['label_fraction']:.0%} labels, seeds {res['seeds']}, "
                          f"{len(res['folds'])} folds (macro F1 %):", res["means"], res["paired"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    columns.add_run_arguments(ap)
    ap.add_argument("--label-fraction", type=float, default=0.1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=AdaptConfig.steps, help="adaptation steps per encoder and run")
    ap.add_argument("--lr", type=float, default=AdaptConfig.lr, help="adaptation learning rate")
    ap.add_argument("--finetune", action="store_true", help="also fine-tune (4 deep runs per fold and seed)")
    ap.add_argument("--max-folds", type=int, help="only the first N folds (quick look)")
    ap.add_argument("--folds", nargs="+", help="only these folds, by name (e.g. loso-01: one run split over processes)")
    ap.add_argument("--out", help="write the runs and summary as JSON here")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="no run: combine result files of one run split with --folds, print and write (--out)")
    args = ap.parse_args(argv)
    if args.merge:
        try:
            res = columns.merge_parts(args.merge, ("dataset", "label_fraction", "seeds", "adapt", "sha256"), PAIRS)
        except (Multi3EdgeError, OSError, KeyError, json.JSONDecodeError) as e:
            print(f"ssl_adapt: error: cannot merge: {e}", file=sys.stderr)
            return 2
        print_summary(res)
        return columns.write(res, args.out)
    if not args.checkpoint:
        ap.error("--checkpoint is required (unless --merge)")
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        acfg = AdaptConfig(steps=args.steps, lr=args.lr)
        ecfg = EvalConfig.load_yaml(args.config)
        ft = ecfg.finetune
        model, pre_norm, ck = load_pretrained(args.checkpoint)
        windows = load_real_windows(args.dataset, ft.grid, args.data_root)
        folds = columns.table_folds(windows, ft.val_fraction, args.folds)
        folds = folds[: args.max_folds] if args.max_folds else folds
        runs = []
        cpu = torch.device("cpu")
        for fold in folds:
            for seed in args.seeds:
                pre_data = prepare_fold(windows, fold, args.label_fraction, seed, normalizer=pre_norm)
                fold_data = prepare_fold(windows, fold, args.label_fraction, seed)  # the fold's own statistics
                rnd = random_like(model.cfg, seed)
                enc = {"pretrained": model, "random": rnd,
                       "pretrained+ssl": adapt_fold(windows, fold, model, pre_norm, acfg, seed)[0],
                       "random+ssl": adapt_fold(windows, fold, rnd, fold_data.normalizer, acfg, seed)[0]}  # fmt: skip
                rec: dict = {"fold": fold.name, "seed": seed}
                for name, m in enc.items():
                    data = pre_data if name.startswith("pretrained") else fold_data
                    score, _ = probe_fold(windows, fold, m, "pretrained", args.label_fraction, seed, data=data)
                    rec[name] = score.macro_f1
                if args.finetune:
                    run = ft.replace(label_fraction=args.label_fraction, seed=seed, head="auto", progress=False,
                                     freeze="not_frozen")  # fmt: skip
                    deep = [("base", "base", None, "fold"), ("not_frozen", "multi3net", model, "pretrained"),
                            ("not_frozen+ssl", "multi3net", enc["pretrained+ssl"], "pretrained"),
                            ("random+ssl_ft", "multi3net", enc["random+ssl"], "fold")]  # fmt: skip
                    for name, method, m, norm in deep:
                        out = fit_and_test(windows, fold, run.replace(method=method, normalizer=norm), model.cfg, m,
                                           cpu, pre_norm)  # fmt: skip
                        rec[name] = fold_metrics(out.y_true, out.y_pred)["macro_f1"]
                runs.append(rec)
                print(f"{fold.name} seed {seed}: " + "  ".join(f"{k} {100 * v:.1f}" for k, v in rec.items()
                                                                 if k not in ("fold", "seed")), flush=True)  # fmt: skip
    except Multi3EdgeError as e:
        print(f"ssl_adapt: error: {e}", file=sys.stderr)
        return 2
    means, diffs = columns.summarise(runs, args.label_fraction, PAIRS)
    res = {"dataset": args.dataset, "label_fraction": args.label_fraction, "seeds": args.seeds,
           "adapt": acfg.to_dict(), "checkpoint": str(ck.path), "sha256": ck.sidecar["sha256"],
           "folds": [f.name for f in folds], "means": means, "paired": diffs, "runs": runs,
           "seconds": round(time.perf_counter() - t0, 1), "command": " ".join(sys.argv)}  # fmt: skip
    print_summary(res)
    return columns.write(res, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
