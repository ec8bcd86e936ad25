"""edge-pretrain: tri-modal pretraining of Multi3Net+ on simulator dataset folders -> checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from toolkit.cli.args import positive_int
from toolkit.cli.train_args import COMMON, add_common, grid_from, overrides
from toolkit.data.paths import data_root_candidates
from toolkit.programs import EXIT_USAGE, parse_args, run_cli
from toolkit.train.config import PretrainConfig
from toolkit.train.pretrain import run_pretrain
from toolkit.train.runtime import cleanup_distributed

EPILOG = """examples:
  edge-simulate tests/fixtures/cmu/131_01_excerpt.bvh --out out/sim      # make a synthetic dataset folder
  edge-pretrain --data out/sim --out runs/pretrain --model tiny --epochs 2
  edge-pretrain --config runs/pretrain/config.yaml --resume              # continue an interrupted run
  edge-pretrain --data out/sim --ablation contrastive_only --out runs/contrastive
  torchrun --nproc_per_node 2 -m toolkit.cli.pretrain --data out/sim --out runs/ddp   # DistributedDataParallel
  edge-pretrain --data out/sim --text-embeddings none                    # no sentence model: text masked out
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="edge-pretrain", description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--data", nargs="+", metavar="DIR", help="simulator dataset folders (relative ones are also "
                    "looked for under the data root)")  # fmt: skip
    add_common(ap)
    ap.add_argument("--ablation", choices=["full", "contrastive_only", "reconstruction_only"])
    ap.add_argument(
        "--text-embeddings",
        choices=["minilm", "none", "hash"],
        help="minilm: frozen all-MiniLM-L6-v2 (cached); none: text masked out; hash: tests only",
    )
    ap.add_argument("--text-cache", metavar="DIR", help="sentence-embedding cache folder")
    ap.add_argument("--scheduler", choices=["none", "cosine"])
    ap.add_argument("--max-windows", type=positive_int(), help="use only the first N windows")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt when it exists")
    return ap


def resolve_data(folders: list[str], data_root: str | None) -> tuple[str, ...]:
    out = []
    for f in folders:
        p = Path(f)
        if not p.exists() and not p.is_absolute():
            p = next((r / f for r in data_root_candidates(data_root) if (r / f).exists()), p)
        out.append(str(p))
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:

        cfg = PretrainConfig.load_yaml(args.config) if args.config else PretrainConfig()
        flags = overrides(args, COMMON + ["ablation", "text_embeddings", "text_cache", "scheduler", "max_windows"])
        if args.data:
            flags["data"] = resolve_data(args.data, args.data_root)
        cfg = cfg.replace(grid=grid_from(args, cfg.grid), **flags)
        try:
            res = run_pretrain(cfg, resume=args.resume)
        finally:
            cleanup_distributed()
        if res.checkpoint is not None:
            last = res.history[-1] if res.history else {}
            print(f"pretrained on {res.windows} windows, final loss {last.get('total', float('nan')):.4f}: "
                  f"{res.checkpoint}")  # fmt: skip
        return 0

    return run_cli("edge-pretrain", body)


if __name__ == "__main__":
    raise SystemExit(main())
