"""``edge-export``: distil, quantise and export the classifier into phone and watch bundles (:mod:`export.pipeline`).

Console script ``edge-export = toolkit.cli.export:main``; without it: ``python -m toolkit.cli.export``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from export.distill import DistillConfig
from export.exporters import check_target
from export.pipeline import export_bundles
from export.teacher import dataset_windows, load_teacher, load_windows, random_tiny_teacher
from toolkit.cli.args import positive_float, positive_int
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, output_folder, parse_args, run_cli
from toolkit.resources import default_model_dir

EXPORT_EXAMPLES = """\
examples:
  # the default model shipped in the package (toolkit/default_model/) -> ./dist/phone, ./dist/watch and
  # ./dist/watch-acc (accelerometer only), int8,
  # all targets; works from any folder
  edge-export --int8

  # a run of edge-finetune (it writes classifier.pt/.json + windows.npz; the test subjects stay held out)
  edge-finetune --dataset generated --method base --model tiny --out runs/ft && edge-export --checkpoint runs/ft --int8

  # the same model distilled on your own files read through their device description
  edge-export --checkpoint runs/ft --dataset folder:my_data --profile my_watch.yaml --int8

  # DEMO: a tiny teacher trained for seconds on generated data (no checkpoint needed)
  edge-export --int8 --teacher random-tiny --out /tmp/dist

  # your checkpoint, only ExecuTorch and TFLite, fp32 and int8, a 'tiny' student, own calibration windows
  edge-export --checkpoint runs/best --targets pte,tflite --fp32 --int8 --student-size tiny \\
      --calibration calib.npz

Checkpoint folder: classifier.pt + classifier.json as written by edge-finetune (hash-checked), and optionally
windows.npz: labelled windows x (N, L, C) in m/s^2 and rad/s, y (N,), subject (N,), optionally channels (C,) to
distil and calibrate on (NaN / inf in a channel the model uses is refused). Bundles: <out>/phone, <out>/watch and,
for a teacher with gyroscope input, <out>/watch-acc (accelerometer-only devices such as the Empatica E4). The log
gives each artefact's top-1 agreement with the float student and with the float teacher.
"""

def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-export", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Distil, quantise and export the IMU encoder + MoE head for phones and "
                                            "watches (ExecuTorch .pte, TFLite .tflite, ONNX).", epilog=EXPORT_EXAMPLES)
    p.add_argument("--checkpoint",
                   help="teacher checkpoint folder (default: the default model shipped in the package, "
                        "toolkit/default_model/)")
    p.add_argument("--teacher", choices=("checkpoint", "random-tiny"), default="checkpoint",
                   help="'random-tiny': DEMO teacher trained for seconds on generated data (default: %(default)s)")
    p.add_argument("--data", help="windows .npz (x, y, subject) to distil and evaluate on (default: the sidecar's)")
    p.add_argument("--dataset", help="distil and evaluate on this dataset instead (an edge-finetune --dataset: "
                                     "folder:DIR, csv:FILE, ts:FILE, seglearn, ...) read on the model's grid")
    p.add_argument("--profile", help="with --dataset: device description of its files (built-in name or .yaml)")
    p.add_argument("--data-root", help="with --dataset: folder holding the named datasets")
    p.add_argument("--calibration", help="calibration windows .npz (>= 256, no evaluation subject; default: "
                                         "training-subject windows of the data)")
    p.add_argument("--targets", default="pte,tflite,onnx", help="comma-separated (default: %(default)s)")
    p.add_argument("--profiles", help="comma-separated: phone, watch, watch-acc (default: phone,watch and, for a "
                                      "teacher that uses the gyroscope, watch-acc: an accelerometer-only student)")
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``edge-export``."""
    args = parse_args(build_export_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
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
            teacher = load_teacher(Path(args.checkpoint) if args.checkpoint else default_model_dir())
        if args.data and args.dataset:
            raise ConfigError("give --data (a windows .npz) or --dataset, not both")
        if (args.profile or args.data_root) and not args.dataset:
            raise ConfigError("--profile / --data-root describe --dataset: give --dataset too")
        if args.data:
            teacher.windows = load_windows(args.data)
        elif args.dataset:
            teacher.windows = dataset_windows(teacher, args.dataset, args.data_root, args.profile)
            teacher.windows_sha256 = None
        profiles = _csv(args.profiles) if args.profiles else None  # None: phone, watch (+ watch-acc with gyro)
        export_bundles(teacher, args.out, targets=targets, precisions=precisions, profiles=profiles,
                       student_size=args.student_size, calibration=args.calibration,
                       distill_cfg=DistillConfig(epochs=args.epochs, temperature=args.temperature), qat=args.qat,
                       log=log)
        log(f"done in {time.perf_counter() - t0:.0f} s: {args.out}/<profile>/manifest.json")
        return 0

    return run_cli("edge-export", body)


#: The name this entry point had in ``export.cli``.
export_main = main


if __name__ == "__main__":
    sys.exit(main())
