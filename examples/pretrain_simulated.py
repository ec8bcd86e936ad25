"""Simulate the committed CMU excerpts and pretrain the tiny Multi3Net+ on them for a couple of epochs.

.venv/bin/python examples/pretrain_simulated.py                          # MiniLM text embeddings (cached)
.venv/bin/python examples/pretrain_simulated.py --text-embeddings hash   # no language model (fast, tests)
.venv/bin/python examples/pretrain_simulated.py --out runs/example-pretrain --epochs 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from toolkit.sim import SimulationConfig, simulate_files
from toolkit.train import PretrainConfig, run_pretrain

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "cmu"
CLIPS = [FIXTURES / "131_01_excerpt.bvh", FIXTURES / "02_01_excerpt.amc"]


def pretrain_example(out: Path, epochs: int = 2, text: str = "minilm", variants: int = 3) -> Path:
    """Simulate ``variants`` bodies of each excerpt into ``out/sim`` and pretrain into ``out/pretrain``."""
    simulate_files([str(c) for c in CLIPS], out / "sim", SimulationConfig(variants=variants, seed=0), progress=False)
    cfg = PretrainConfig(data=(str(out / "sim"),), out_dir=str(out / "pretrain"), model="tiny", epochs=epochs,
                         batch_size=8, text_embeddings=text, device="cpu")  # fmt: skip
    cfg = cfg.replace(grid=cfg.grid.replace(hop_s=0.5))  # more windows from the short excerpts
    res = run_pretrain(cfg, log=sys.stdout)
    assert res.checkpoint is not None
    return res.checkpoint


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="output folder (default: a temporary folder)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--text-embeddings", choices=["minilm", "hash", "none"], default="minilm")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        ckpt = pretrain_example(out, args.epochs, args.text_embeddings)
        print(f"checkpoint: {ckpt} (sidecar {ckpt.with_suffix('.json').name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
