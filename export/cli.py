"""``edge-export`` (:func:`export_main`) and ``edge-bench`` (:func:`bench_main`).

Console scripts to add to pyproject.toml::

    edge-export = "export.cli:export_main"
    edge-bench = "export.cli:bench_main"
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from toolkit.cli.args import MAX_THREADS, int_list, non_negative_int, positive_float, positive_int
from toolkit.cli.common import EXIT_USAGE, output_folder, parse_args, run_cli
from toolkit.errors import ConfigError

EXPORT_EXAMPLES = """\
examples:
  # the committed default model (models/default/) -> ./dist/phone and ./dist/watch, int8, all targets
  edge-export --int8

  # DEMO: a tiny teacher trained for seconds on generated data (no checkpoint needed)
  edge-export --int8 --teacher random-tiny --out /tmp/dist

  # your checkpoint, only ExecuTorch and TFLite, fp32 and int8, a 'tiny' student, own calibration windows
  edge-export --checkpoint runs/best --targets pte,tflite --fp32 --int8 --student-size tiny \\
      --calibration calib.npz

Checkpoint folder: classifier.pt + classifier.json as written by edge-finetune (hash-checked), and optionally
windows.npz: labelled windows x (N, L, 6) in m/s^2 and rad/s, y (N,), subject (N,) to distil and calibrate on.
"""

BENCH_EXAMPLES = """\
examples:
  edge-bench                      # benchmark ./dist (after edge-export), results in ./dist/bench
  edge-bench /tmp/dist --runs 500 --threads 1,2,4
"""


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-export", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Distil, quantise and export the IMU encoder + MoE head for phones and "
                                            "watches (ExecuTorch .pte, TFLite .tflite, ONNX).", epilog=EXPORT_EXAMPLES)
    p.add_argument("--checkpoint", default="models/default",
                   help="teacher checkpoint folder (default: %(default)s, the committed default model)")
    p.add_argument("--teacher", choices=("checkpoint", "random-tiny"), default="checkpoint",
                   help="'random-tiny': DEMO teacher trained for seconds on generated data (default: %(default)s)")
    p.add_argument("--data", help="windows .npz (x, y, subject) to distil and evaluate on (default: the sidecar's)")
    p.add_argument("--calibration", help="calibration windows .npz (>= 256, no evaluation subject; default: "
                                         "training-subject windows of the data)")
    p.add_argument("--targets", default="pte,tflite,onnx", help="comma-separated (default: %(default)s)")
    p.add_argument("--profiles", default="phone,watch", help="comma-separated (default: %(default)s)")
    p.add_argument("--student-size", choices=("tiny", "small", "base"),
                   help="student size for every profile (default: phone=base, watch=small)")
    p.add_argument("--out", default="dist", help="output folder (default: %(default)s)")
    p.add_argument("--int8", action="store_true", help="export int8 artefacts (the default when neither is given)")
    p.add_argument("--fp32", action="store_true", help="export fp32 artefacts")
    p.add_argument("--epochs", type=positive_int(100_000), default=40,
                   help="distillation epochs (default: %(default)s)")
    p.add_argument("--temperature", type=positive_float(1000.0), default=4.0,
                   help="distillation temperature (default: %(default)s)")
    p.add_argument("--qat", choices=("auto", "on", "off"), default="auto",
                   help="quantisation-aware training for the int8 .pte: auto = when PTQ loses > 1 point macro F1")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def export_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``edge-export``."""
    args = parse_args(build_export_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        from export.distill import DistillConfig
        from export.exporters import check_target
        from export.pipeline import export_bundles
        from export.teacher import load_teacher, load_windows, random_tiny_teacher

        log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
        targets = _csv(args.targets)
        if not targets:
            raise ConfigError("--targets names no target")
        for t in targets:
            check_target(t)
        precisions = [p for p, on in (("fp32", args.fp32), ("int8", args.int8)) if on] or ["int8"]
        output_folder(args.out)
        t0 = time.perf_counter()
        if args.teacher == "random-tiny":
            log("teacher: random-tiny DEMO (toolkit tiny() HarClassifier trained on generated windows)")
            teacher = random_tiny_teacher()
        else:
            teacher = load_teacher(Path(args.checkpoint))
        if args.data:
            teacher.windows = load_windows(args.data)
        export_bundles(teacher, args.out, targets=targets, precisions=precisions, profiles=_csv(args.profiles),
                       student_size=args.student_size, calibration=args.calibration,
                       distill_cfg=DistillConfig(epochs=args.epochs, temperature=args.temperature), qat=args.qat,
                       log=log)
        log(f"done in {time.perf_counter() - t0:.0f} s: {args.out}/<profile>/manifest.json")
        return 0

    return run_cli("edge-export", body)


def build_bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Measure latency, throughput, size, peak RSS, parameters and MACs of "
                                            "edge-export artefacts on THIS machine.", epilog=BENCH_EXAMPLES)
    p.add_argument("dist", nargs="?", default="dist", help="edge-export output folder (default: %(default)s)")
    p.add_argument("--out", help="results folder (default: DIST/bench)")
    p.add_argument("--profiles", help="comma-separated (default: every profile found)")
    p.add_argument("--threads", type=int_list(MAX_THREADS), default=[1, 2],
                   help=f"comma-separated thread counts, each 1..{MAX_THREADS} (default: 1,2)")
    p.add_argument("--warmup", type=non_negative_int(1_000_000), default=20)
    p.add_argument("--runs", type=positive_int(10_000_000), default=200)
    p.add_argument("--no-op-profile", action="store_true", help="skip the ExecuTorch per-operator profile")
    p.add_argument("--quiet", action="store_true")
    return p


def bench_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``edge-bench``."""
    args = parse_args(build_bench_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        from export.bench import run_bench

        threads = list(args.threads)
        if args.out or Path(args.dist).is_dir():  # run_bench names a missing dist folder itself
            output_folder(args.out or Path(args.dist) / "bench")
        log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
        result = run_bench(args.dist, args.out, profiles=_csv(args.profiles) if args.profiles else None,
                           threads=threads, warmup=args.warmup, runs=args.runs, op_profile=not args.no_op_profile,
                           log=log)
        if not args.quiet:
            print((Path(args.out) if args.out else Path(args.dist) / "bench").joinpath("bench.md").read_text())
        return 0 if all("error" not in r for r in result["rows"]) else 1

    return run_cli("edge-bench", body)


if __name__ == "__main__":
    sys.exit(export_main())
