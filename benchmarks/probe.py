"""Linear probe of a pretrained checkpoint vs the same architecture randomly initialised, LOSO on a real dataset.

Per LOSO fold (the folds of ``edge-eval``: seed 0, 20 % of the training subjects for validation, chosen for class
coverage), label fraction and seed: the frozen IMU encoder's mean token features -> standardised -> class-balanced
logistic regression with C chosen on the validation subjects; the same windows for both encoders. Prints one line
per fold and the mean paired difference (pretrained - random, macro F1 points; per fold the mean over seeds).

.venv/bin/python benchmarks/probe.py --checkpoint toolkit/default_model/pretrained.pt --dataset seglearn \\
    --label-fraction 0.1 --seeds 0 1 2 --out /tmp/probe.json
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

from toolkit.errors import Multi3EdgeError  # noqa: E402
from toolkit.train.config import GridConfig  # noqa: E402
from toolkit.train.data import load_real_windows  # noqa: E402
from toolkit.train.pretrain import load_pretrained  # noqa: E402
from toolkit.train.probe import run_loso_probe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="pretrained Multi3Net checkpoint (.pt with .json sidecar)")
    ap.add_argument("--dataset", default="seglearn", help="seglearn | sp-sw-har | ... | generated")
    ap.add_argument("--data-root", help="dataset root (default $MULTI3EDGE_DATA, else ../shared/data)")
    ap.add_argument("--label-fraction", type=float, nargs="+", default=[0.1])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hop-s", type=float, default=2.0, help="window hop [s] (edge-eval's LOSO grid: 2 s)")
    ap.add_argument("--max-folds", type=int, help="only the first N folds (quick look)")
    ap.add_argument("--out", help="write the runs and summary as JSON here")
    ap.add_argument("--quiet", action="store_true", help="no per-fold lines")
    ap.add_argument("--acc-only", action="store_true",
                    help="drop the gyroscope (as an accelerometer-only device: NaN -> 0 after standardisation)")
    ap.add_argument("--normalizer", choices=("pretrained", "fold"), default="pretrained",
                    help="standardisation of the pretrained probe: the checkpoint's own statistics (default, as "
                         "edge-eval) or the fold's training windows'")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        model, pre_norm, ck = load_pretrained(args.checkpoint)
        grid = GridConfig(rate_hz=30.0, window_s=2.0, hop_s=args.hop_s)
        windows = load_real_windows(args.dataset, grid, args.data_root)
        if args.acc_only:
            windows.x[..., 3:6] = np.nan
            windows.has_gyro[:] = False
        res = run_loso_probe(model, windows, args.label_fraction, args.seeds, max_folds=args.max_folds,
                             log=None if args.quiet else print,
                             pretrained_normalizer=pre_norm if args.normalizer == "pretrained" else None)  # fmt: skip
    except Multi3EdgeError as e:
        print(f"probe: error: {e}", file=sys.stderr)
        return 2
    for frac, s in res["summary"].items():
        print(f"{args.dataset} {float(frac):.0%} labels, seeds {args.seeds}, {s['folds']} folds: probe_pretrained "
              f"{100 * s['probe_pretrained']:.1f}  probe_random {100 * s['probe_random']:.1f}  mean paired diff "
              f"{100 * s['mean_paired_diff']:+.1f} points (pretrained better on {s['folds_won']}/{s['folds']} folds)")
    res |= {"normalizer": args.normalizer, "acc_only": args.acc_only, "checkpoint": str(ck.path),
            "sha256": ck.sidecar["sha256"], "dataset": args.dataset, "grid": grid.to_dict(),
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
