"""Zero-shot a few real windows: cosine similarity between IMU embeddings and class-description embeddings.

No real label is used to predict (labels are printed for comparison only). A tiny model pretrained for a few
seconds on two CMU excerpts knows almost nothing, so expect chance level; pass a real checkpoint for more.

.venv/bin/python examples/zero_shot.py                                       # MiniLM text, quick tiny model
.venv/bin/python examples/zero_shot.py --checkpoint runs/pretrain/pretrained.pt --dataset sp-sw-har
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from pretrain_simulated import pretrain_example

from toolkit.errors import Multi3EdgeError
from toolkit.train import GridConfig, class_descriptions, load_pretrained, load_real_windows, zero_shot


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="pretrained checkpoint (default: pretrain the tiny model first)")
    ap.add_argument("--dataset", default="seglearn", help="real dataset (falls back to generated data)")
    ap.add_argument("--text-embeddings", choices=["minilm", "hash"], default="minilm")
    ap.add_argument("--n", type=int, default=8, help="windows to classify")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or str(pretrain_example(Path(tmp), 1, args.text_embeddings))
        model, normalizer, _ = load_pretrained(ckpt)
        try:
            windows = load_real_windows(args.dataset, GridConfig())
        except Multi3EdgeError as e:
            print(f"{args.dataset} not available ({e}); using a GENERATED toy dataset instead")
            windows = load_real_windows("generated", GridConfig())
        pick = np.random.default_rng(0).choice(len(windows), size=min(args.n, len(windows)), replace=False)
        desc = class_descriptions(str(windows.meta.get("dataset", "generated")), windows.class_names)
        pred = zero_shot(model, normalizer, windows.x[pick], desc, args.text_embeddings)
        for i, p in zip(pick, pred, strict=True):
            print(f"window {i:5d} subject {windows.subject[i]}: predicted {windows.class_names[p]!r:14} "
                  f"({desc[p]!r}), true {windows.class_names[windows.y[i]]!r}")  # fmt: skip
        print(f"{np.mean(pred == windows.y[pick]):.0%} of {len(pick)} correct (chance {1 / len(desc):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
