"""Pretraining throughput (windows/s) with 1 or 2 torch threads and 0-2 DataLoader workers.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pretrain_throughput.py --config reports/configs/pretrain_corpus.yaml \
        --data out/cmu --epochs 2 --settings 1:0 2:0 1:1 2:1

Each setting ``THREADS:WORKERS`` runs ``--epochs`` epochs of the config into a temporary folder and reports the
mean windows/s of the epochs after the first (the first pays start-up). Prints one line per setting and a JSON list.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

from toolkit.train.config import PretrainConfig
from toolkit.train.pretrain import run_pretrain


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--data", nargs="+", help="override the config's data folders")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--settings", nargs="+", default=["1:0", "2:0", "1:1", "2:1"], help="THREADS:WORKERS")
    args = ap.parse_args(argv)
    cfg = PretrainConfig.load_yaml(args.config)
    cfg = cfg.replace(data=tuple(args.data) if args.data else None, epochs=args.epochs, progress=False,
                      max_windows=args.max_windows, device="cpu")  # fmt: skip
    rows = []
    for s in args.settings:
        threads, workers = (int(v) for v in s.split(":"))
        with tempfile.TemporaryDirectory() as out:
            res = run_pretrain(cfg.replace(out_dir=out, threads=threads, workers=workers), log=False)
        later = res.history[1:] or res.history
        wps = sum(h["windows_per_s"] for h in later) / len(later)
        rows.append({"threads": threads, "workers": workers, "windows_per_s": wps, "windows": res.windows})
        print(f"threads {threads} workers {workers}: {wps:.0f} windows/s", file=sys.stderr)
    print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
