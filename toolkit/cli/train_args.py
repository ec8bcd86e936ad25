"""Command-line options shared by ``edge-pretrain``, ``edge-finetune`` and ``edge-eval``.

Every option defaults to None so that only the flags actually given override the ``--config`` file (or the
dataclass defaults when there is none).
"""

from __future__ import annotations

import argparse
from typing import Any

from toolkit.cli.args import (
    MAX_THREADS,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from toolkit.train.config import GridConfig


def add_common(ap: argparse.ArgumentParser) -> None:
    """--config, grid, optimisation, seed, device, workers, progress."""
    ap.add_argument("--config", metavar="FILE.yaml", help="a config file (written by an earlier run, or by hand)")
    ap.add_argument("--out", dest="out_dir", metavar="DIR", help="output folder (config.yaml is saved there)")
    ap.add_argument("--data-root", help="where datasets live (default $MULTI3EDGE_DATA, else ../shared/data)")
    g = ap.add_argument_group("window grid")
    g.add_argument("--rate-hz", type=positive_float(100_000.0), help="model sample rate [Hz] (default 30)")
    g.add_argument("--window-s", type=positive_float(3600.0), help="window length [s] (default 2)")
    g.add_argument("--hop-s", type=positive_float(3600.0), help="hop between windows [s] (default 1)")
    t = ap.add_argument_group("training")
    t.add_argument("--model", choices=["default", "tiny"], help="model preset (default: default)")
    t.add_argument("--optimizer", choices=["adamw", "adam"])
    t.add_argument("--lr", type=positive_float(10.0))
    t.add_argument("--weight-decay", type=non_negative_float(10.0))
    t.add_argument("--batch-size", type=positive_int(1_000_000))
    t.add_argument("--epochs", type=positive_int(1_000_000))
    t.add_argument("--seed", type=non_negative_int(2**32 - 1))
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N (default auto)")
    t.add_argument("--workers", type=non_negative_int(MAX_THREADS), help="DataLoader worker processes")
    t.add_argument("--no-progress", dest="progress", action="store_const", const=False, help="no progress bar")


def add_finetune(ap: argparse.ArgumentParser) -> None:
    """Dataset and fine-tuning options (edge-finetune, edge-eval)."""
    f = ap.add_argument_group("fine-tuning")
    f.add_argument("--dataset", help="seglearn | sp-sw-har | basicmotions | openpack | mmfit | generated | "
                                    "csv:FILE | folder:DIR (one file per trial + DIR/dataset.yaml) | ts:FILE.ts")
    f.add_argument("--profile", metavar="FILE.yaml|NAME",
                   help="the device of the real data in --dataset (csv:, folder:, ts:): a device description file "
                   "(axes, units, rate; toolkit/device_profiles.py) or a built-in name, e.g. empatica-e4")
    f.add_argument("--freeze", choices=["frozen", "not_frozen"])
    f.add_argument("--patience", dest="unfreeze_patience", type=positive_int(),
                   help="P: evaluations without validation-loss improvement that unfreeze the encoder before its "
                   "schedule (not_frozen)")  # fmt: skip
    f.add_argument("--early-stop", dest="early_stop_patience", type=positive_int(),
                   help="early-stopping patience [evaluations], only after --min-steps")
    f.add_argument("--min-steps", type=positive_int(), help="floor of the optimiser-step budget (default 300)")
    f.add_argument("--max-steps", type=positive_int(), help="cap of the optimiser-step budget (default: none)")
    f.add_argument("--eval-every", type=positive_int(), help="optimiser steps between validation evaluations (50)")
    f.add_argument("--unfreeze-at", type=probability(max_inclusive=True),
                   help="not_frozen: unfreeze after this share of the step budget (default 0.3)")
    f.add_argument("--encoder-lr-scale", type=positive_float(1000.0), help="encoder lr / head lr (default 0.1)")
    f.add_argument("--select-on", choices=["val_f1", "val_loss"])
    f.add_argument("--class-weights", choices=["balanced", "none"])
    f.add_argument("--val-fraction", type=probability(), help="share of the training subjects used for validation")
    f.add_argument("--experts-n", dest="num_experts", type=positive_int(1024), help="experts of the MoE head")
    f.add_argument("--encoder", choices=["left", "right"], help="pretrained wrist encoder to start from")


def grid_from(args: argparse.Namespace, grid: GridConfig) -> GridConfig:
    return grid.replace(rate_hz=args.rate_hz, window_s=args.window_s, hop_s=args.hop_s)


def overrides(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """{name: value} of the given flags that were set."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


COMMON = ["out_dir", "model", "optimizer", "lr", "weight_decay", "batch_size", "epochs", "seed", "device", "workers",
          "progress"]  # fmt: skip
FINETUNE = ["dataset", "freeze", "unfreeze_patience", "early_stop_patience", "select_on", "class_weights",
            "val_fraction", "num_experts", "encoder", "data_root", "min_steps", "max_steps", "eval_every",
            "unfreeze_at", "encoder_lr_scale", "profile"]  # fmt: skip
