"""Fine-tune a pretrained (tiny) Multi3Net+ encoder on the seglearn Apple Watch data, test on one subject.

The seglearn data comes from the PyPI wheel (seglearn==1.2.5, converted once into a safe .npz in the cache by
toolkit.data.seglearn). Without network access and without a cached copy, a generated toy dataset is used
instead, and the example says so.

.venv/bin/python examples/finetune_seglearn.py                                   # pretrain tiny, then fine-tune
.venv/bin/python examples/finetune_seglearn.py --checkpoint runs/pretrain/pretrained.pt --epochs 10
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pretrain_simulated import pretrain_example

from toolkit.errors import Multi3EdgeError
from toolkit.train import FinetuneConfig, run_finetune


def seglearn_available() -> bool:
    try:
        from toolkit.data.seglearn import ensure_seglearn

        ensure_seglearn()
        return True
    except Multi3EdgeError as e:
        print(f"seglearn data not available ({e}); using a GENERATED toy dataset instead")
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="pretrained checkpoint (default: pretrain the tiny model first)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--text-embeddings", choices=["minilm", "hash", "none"], default="hash",
                    help="text embeddings of the quick pretraining (default hash: no language model)")  # fmt: skip
    ap.add_argument("--out", help="output folder (default: temporary)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp)
        ckpt = args.checkpoint or str(pretrain_example(out, 1, args.text_embeddings))
        seglearn = seglearn_available()
        cfg = FinetuneConfig(dataset="seglearn" if seglearn else "generated", checkpoint=ckpt, method="multi3net",
                             freeze="not_frozen", unfreeze_patience=1, epochs=args.epochs, batch_size=64,
                             test_subjects=("01",) if seglearn else ("g00",), out_dir=str(out / "finetune"),
                             device="cpu", progress=False)  # fmt: skip
        m = run_finetune(cfg)
        print(f"dataset {cfg.dataset}: train/val/test windows {m['counts']}, best epoch {m['best_epoch']}, "
              f"encoder unfrozen after epoch {m['unfrozen_epoch']}")  # fmt: skip
        print(f"test subject {m['fold']['test']}: macro F1 {m['test']['macro_f1']:.3f}, "
              f"accuracy {m['test']['accuracy']:.3f}")  # fmt: skip
        print(f"classifier: {m['checkpoint']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
