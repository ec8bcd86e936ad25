"""Command-line options shared by ``edge-pretrain``, ``edge-finetune`` and ``edge-eval``.

Every option defaults to None so that only the flags actually given override the ``--config`` file (or the
dataclass defaults when there is none).
"""

from __future__ import annotations

import argparse
from typing import Any

from toolkit.train.config import GridConfig


def add_common(ap: argparse.ArgumentParser) -> None:
    """--config, grid, optimisation, seed, device, workers, progress."""
    ap.add_argument("--config", metavar="FILE.yaml", help="a config file (written by an earlier run, or by hand)")
    ap.add_argument("--out", dest="out_dir", metavar="DIR", help="output folder (config.yaml is saved there)")
    ap.add_argument("--data-root", help="where datasets live (default $MULTI3EDGE_DATA, else ../shared/data)")
    g = ap.add_argument_group("window grid")
    g.add_argument("--rate-hz", type=float, help="model sample rate [Hz] (default 30)")
    g.add_argument("--window-s", type=float, help="window length [s] (default 2)")
    g.add_argument("--hop-s", type=float, help="hop between windows [s] (default 1)")
    t = ap.add_argument_group("training")
    t.add_argument("--model", choices=["default", "tiny"], help="model preset (default: default)")
    t.add_argument("--optimizer", choices=["adamw", "adam"])
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--epochs", type=int)
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N (default auto)")
    t.add_argument("--workers", type=int, help="DataLoader worker processes")
    t.add_argument("--no-progress", dest="progress", action="store_const", const=False, help="no progress bar")


def add_finetune(ap: argparse.ArgumentParser) -> None:
    """Dataset and fine-tuning options (edge-finetune, edge-eval)."""
    f = ap.add_argument_group("fine-tuning")
    f.add_argument("--dataset", help="seglearn | sp-sw-har | basicmotions | openpack | mmfit | csv:FILE | generated")
    f.add_argument("--freeze", choices=["frozen", "not_frozen"])
    f.add_argument("--patience", dest="unfreeze_patience", type=int, help="P: epochs without validation-loss "
                   "improvement before the encoder is unfrozen (not_frozen)")  # fmt: skip
    f.add_argument("--early-stop", dest="early_stop_patience", type=int, help="early-stopping patience [epochs]")
    f.add_argument("--select-on", choices=["val_f1", "val_loss"])
    f.add_argument("--class-weights", choices=["balanced", "none"])
    f.add_argument("--val-fraction", type=float, help="share of the training subjects used for validation")
    f.add_argument("--experts-n", dest="num_experts", type=int, help="experts of the MoE head")
    f.add_argument("--encoder", choices=["left", "right"], help="pretrained wrist encoder to start from")


def grid_from(args: argparse.Namespace, grid: GridConfig) -> GridConfig:
    return grid.replace(rate_hz=args.rate_hz, window_s=args.window_s, hop_s=args.hop_s)


def overrides(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """{name: value} of the given flags that were set."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


COMMON = ["out_dir", "model", "optimizer", "lr", "weight_decay", "batch_size", "epochs", "seed", "device", "workers",
          "progress"]  # fmt: skip
FINETUNE = ["dataset", "freeze", "unfreeze_patience", "early_stop_patience", "select_on", "class_weights",
            "val_fraction", "num_experts", "encoder", "data_root"]  # fmt: skip
