"""edge-eval: the subject-wise evaluation protocol (LOSO or subject groups) over a real dataset -> report
(results.json, report.md with the paper's table rows, learning-curve and confusion-matrix PNGs)."""

from __future__ import annotations

import argparse

from toolkit.cli.args import bounded_int, finite_float, non_negative_int, positive_int
from toolkit.cli.train_args import COMMON, FINETUNE, add_common, add_finetune, grid_from, overrides
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, parse_args, run_cli
from toolkit.train.config import EVAL_METHODS, HEADS, EvalConfig
from toolkit.train.evaluate import run_evaluation
from toolkit.train.report import command_line, write_report

EPILOG = """examples:
  edge-eval --dataset seglearn --checkpoint multi3net=runs/pretrain/pretrained.pt \\
            --checkpoint imu_recon=runs/recon/pretrained.pt --checkpoint contrastive=runs/contr/pretrained.pt \\
            --out reports/seglearn
  edge-eval --dataset sp-sw-har --methods dcl base --fractions 0.1 1.0 --experts --no-zero-shot --max-folds 3
  edge-eval --config reports/seglearn/config.yaml --seeds 0 1 2      # rerun with more seeds
  edge-eval --config reports/seglearn/config.yaml --heads moe mlp     # head chosen per fold on validation
  edge-eval --config reports/configs/eval_loso.yaml --dataset seglearn --checkpoint multi3net=PRE.pt \\
            --workers 2 --out reports/seglearn    # 2 processes; rerunning it resumes (skips finished runs)

--workers N: N processes, one torch thread each (edge-eval only; 0 counts as 1). Finished runs are appended to
OUT/runs.jsonl and a rerun with the same settings skips them. stats_rf, probe_random, probe_pretrained are
scikit-learn rows on exactly the same windows as the deep rows.
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="edge-eval", description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_common(ap)
    add_finetune(ap)
    e = ap.add_argument_group("protocol")
    e.add_argument("--checkpoint", action="append", metavar="KEY=PATH",
                   help="pretrained checkpoints: multi3net=, imu_recon=, contrastive= (repeat)")  # fmt: skip
    e.add_argument("--methods", nargs="+", choices=EVAL_METHODS)
    e.add_argument("--fractions", nargs="+", type=finite_float(0.0, 1.0, min_inclusive=False),
                   help="label fractions (default 0.1 0.25 0.5 1.0)")
    e.add_argument("--seeds", nargs="+", type=non_negative_int(2**32 - 1))
    e.add_argument("--heads", nargs="+", choices=list(HEADS),
                   help="classifier heads of the deep rows (default moe); with two, each fold and seed keeps the "
                        "one with the better validation macro F1")
    e.add_argument("--experts", nargs="*", type=positive_int(1024), help="experts sweep (give no value to skip it)")
    e.add_argument("--split", choices=["loso", "groups", "stratified-cases"],
                   help="loso (default) | groups | stratified-cases (no subject ids, e.g. BasicMotions: case folds)")
    e.add_argument("--groups", type=bounded_int(2, 10_000),
                   help="subject groups for --split groups, case folds for --split stratified-cases (default 5)")
    e.add_argument("--subjects", nargs="+", help="restrict to these subjects")
    e.add_argument("--max-folds", type=positive_int(), help="evaluate only the first N folds")
    e.add_argument("--no-zero-shot", dest="zero_shot", action="store_const", const=False)
    e.add_argument("--text-embeddings", choices=["minilm", "hash"], help="zero-shot class descriptions")
    return ap


def parse_checkpoints(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, path = item.partition("=")
        if not sep or not path:
            raise ConfigError(f"--checkpoint expects KEY=PATH, got {item!r}")
        out[key] = path
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(build_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:

        cfg = EvalConfig.load_yaml(args.config) if args.config else EvalConfig()
        ft_flags = overrides(args, [n for n in COMMON + FINETUNE if n not in ("out_dir", "workers")])
        ft = cfg.finetune.replace(grid=grid_from(args, cfg.finetune.grid), **ft_flags)
        flags = overrides(args, ["out_dir", "split", "groups", "max_folds", "zero_shot", "text_embeddings", "workers"])
        if "workers" in flags:
            flags["workers"] = max(1, flags["workers"])
        for name, attr in (("methods", "methods"), ("fractions", "label_fractions"), ("seeds", "seeds"),
                           ("experts", "experts"), ("subjects", "subjects"), ("heads", "heads")):  # fmt: skip
            if getattr(args, name) is not None:
                flags[attr] = tuple(getattr(args, name))
        if args.checkpoint:
            flags["checkpoints"] = {**cfg.checkpoints, **parse_checkpoints(args.checkpoint)}
        cfg = EvalConfig.from_dict(cfg.replace(finetune=ft, **flags).to_dict())  # re-validate the merged config
        cfg.save_yaml(f"{cfg.out_dir}/config.yaml")
        results = run_evaluation(cfg)
        paths = write_report(
            results,
            cfg.out_dir,
            command_line(["edge-eval", *(argv if argv is not None else __import__("sys").argv[1:])]),
        )
        print(f"report: {paths['markdown']}")
        return 0

    return run_cli("edge-eval", body)


if __name__ == "__main__":
    raise SystemExit(main())
