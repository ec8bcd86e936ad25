"""SimCLR on SIMULATED windows only (no real data), then the tables' linear probe against a random encoder.

The same adaptation as ``benchmarks/ssl_adapt.py`` (:func:`toolkit.train.adapt.adapt_encoder`: two physically
perturbed views per window, InfoNCE through a throw-away projector), but on the left-wrist windows of simulator
dataset folders instead of a fold's unlabelled real windows, once, before any fold. The encoder that starts it is
the checkpoint's (``--start pretrained``: Multi3Net+ pretraining followed by SimCLR on the same corpus) or a random
one of the checkpoint's architecture (``--start random``: SimCLR as the only pretraining). Then
:func:`toolkit.train.probe.run_loso_probe` scores it exactly as ``benchmarks/probe.py`` scores a checkpoint (LOSO,
real windows standardised with the checkpoint's statistics, against a random encoder on the fold's own).

.venv/bin/python benchmarks/sim_ssl_probe.py --checkpoint runs/pre/pretrained.pt --start random \\
    --sim out/cmu out/bandai out/keyframes --datasets seglearn sp-sw-har --out benchmarks/results/sim_ssl_random.json
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
from toolkit.train.adapt import AdaptConfig, adapt_encoder  # noqa: E402
from toolkit.train.config import GridConfig  # noqa: E402
from toolkit.train.data import load_real_windows, load_synthetic  # noqa: E402
from toolkit.train.features import random_like  # noqa: E402
from toolkit.train.pretrain import load_pretrained  # noqa: E402
from toolkit.train.probe import run_loso_probe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="pretrained Multi3Net checkpoint: architecture, normaliser")
    ap.add_argument("--start", choices=("pretrained", "random"), default="pretrained")
    ap.add_argument("--sim", nargs="+", required=True, metavar="DIR", help="simulator dataset folders (edge-simulate)")
    ap.add_argument("--datasets", nargs="+", default=["seglearn", "sp-sw-har"])
    ap.add_argument("--data-root", help="real dataset root (default $MULTI3EDGE_DATA, else ../shared/data)")
    ap.add_argument("--steps", type=int, default=600, help="SimCLR steps of 128 windows")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="probe seeds (label sampling)")
    ap.add_argument("--out", help="write the runs and summaries as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        model, norm, ck = load_pretrained(args.checkpoint)
        sim_grid = GridConfig.from_dict(ck.sidecar["config"]["grid"])  # the checkpoint's own pretraining grid
        sw = load_synthetic(args.sim, sim_grid)
        x = sw.imu_left[sw.has_left]
        start = model if args.start == "pretrained" else random_like(model.cfg, 0)
        acfg = AdaptConfig(steps=args.steps)
        adapted, losses = adapt_encoder(start, x, norm, acfg, seed=0, progress=True)
        print(f"SimCLR on {len(x)} simulated windows: loss {np.mean(losses[:10]):.2f} -> {np.mean(losses[-10:]):.2f}")
        res = {"start": args.start, "sim": args.sim, "sim_windows": len(x), "adapt": acfg.to_dict(),
               "losses": losses, "checkpoint": str(ck.path), "sha256": ck.sidecar["sha256"], "probes": {}}  # fmt: skip
        for ds in args.datasets:
            windows = load_real_windows(ds, sim_grid.replace(hop_s=2.0), args.data_root)  # edge-eval's LOSO hop
            probe = run_loso_probe(adapted, windows, [0.1], args.seeds, pretrained_normalizer=norm)
            s = probe["summary"]["0.1"]
            print(f"{ds}: SimCLR-on-sim ({args.start} start) probe {100 * s['probe_pretrained']:.1f}, random "
                  f"{100 * s['probe_random']:.1f}, mean paired diff {100 * s['mean_paired_diff']:+.1f} "
                  f"({s['folds_won']}/{s['folds']} folds)", flush=True)  # fmt: skip
            res["probes"][ds] = probe
    except Multi3EdgeError as e:
        print(f"sim_ssl_probe: error: {e}", file=sys.stderr)
        return 2
    res |= {"seconds": round(time.perf_counter() - t0, 1), "command": " ".join(sys.argv)}
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1, default=float))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
