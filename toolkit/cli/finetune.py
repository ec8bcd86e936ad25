"""edge-finetune: fine-tune a HAR classifier (pretrained Multi3Net+ encoder, Base or DeepConvLSTM) on a real
dataset -> classifier checkpoint (+ test macro F1 on held-out subjects)."""

from __future__ import annotations

import argparse

from toolkit.cli.args import finite_float
from toolkit.cli.train_args import COMMON, FINETUNE, add_common, add_finetune, grid_from, overrides
from toolkit.programs import EXIT_USAGE, parse_args, run_cli
from toolkit.train.config import HEADS, FinetuneConfig
from toolkit.train.finetune_job import run_finetune

EPILOG = """examples:
  edge-finetune --dataset seglearn --checkpoint runs/pretrain/pretrained.pt --test-subjects 01 --out runs/ft
  edge-finetune --dataset seglearn --method base --model tiny --epochs 5 --out runs/base
  edge-finetune --dataset sp-sw-har --method dcl --label-fraction 0.1 --test-subjects s01 s02
  edge-finetune --config runs/ft/config.yaml --freeze frozen --out runs/ft-frozen
  edge-finetune --dataset openpack --channels acc --method base --out runs/ft-acc   # accelerometer only
  edge-finetune --dataset sp-sw-har --head mlp --label-fraction 0.1 --out runs/ft-mlp  # small head, few labels
  edge-finetune ... --out runs/ft && edge-export --checkpoint runs/ft --int8         # OUT_DIR has windows.npz

Writes OUT_DIR/classifier.pt + classifier.json (channel set, dataset reference, grid), metrics.json, config.yaml and
windows.npz (the windows used, every subject; edge-export distils on them and holds the test subjects out).
NaN / inf in a channel the model uses is refused naming the channel.
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="edge-finetune", description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_common(ap)
    add_finetune(ap)
    ap.add_argument("--checkpoint", help="pretrained Multi3Net checkpoint (.pt with its .json sidecar)")
    ap.add_argument("--method", choices=["multi3net", "base", "dcl"])
    ap.add_argument("--head", choices=[*HEADS, "auto"],
                    help="classifier head: moe (the paper's MoE head), mlp (a per-token MLP, 5k parameters) or auto "
                         "(default: both trained, the better validation macro F1 kept)")
    ap.add_argument("--test-subjects", nargs="+", help="subjects held out for the final test")
    ap.add_argument("--channels", choices=["acc", "acc+gyro"],
                    help="input channels of the classifier (default: acc+gyro when every window has gyroscope "
                         "data, else acc, said in the log); recorded in the checkpoint and every exported manifest")
    ap.add_argument("--label-fraction", type=finite_float(0.0, 1.0, min_inclusive=False),
                   help="share of labelled windows kept per class (0-1]")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:

        cfg = FinetuneConfig.load_yaml(args.config) if args.config else FinetuneConfig()
        flags = overrides(args, COMMON + FINETUNE + ["checkpoint", "method", "label_fraction", "channels", "head"])
        if args.test_subjects:
            flags["test_subjects"] = tuple(args.test_subjects)
        if args.checkpoint is None and args.method in ("base", "dcl"):
            flags["checkpoint"] = None
        cfg = cfg.replace(grid=grid_from(args, cfg.grid), **flags)
        m = run_finetune(cfg)
        test = m.get("test")
        score = f"test macro F1 {test['macro_f1']:.3f} on {m['fold']['test']}" if test else "no test subjects"
        print(f"{cfg.method} ({cfg.freeze}) on {cfg.dataset} [{', '.join(m['channels'])}]: best epoch "
              f"{m['best_epoch']}, {score}: {m['checkpoint']}")
        print(f"export it: edge-export --checkpoint {cfg.out_dir} --int8")
        return 0

    return run_cli("edge-finetune", body)


if __name__ == "__main__":
    raise SystemExit(main())
