"""Export a tiny teacher's distilled student to every target (ExecuTorch, TFLite, ONNX; fp32 and int8).

A DEMO teacher (the toolkit's tiny() HarClassifier trained for seconds on generated, separable windows) is
distilled into a 'tiny' EdgeStudent, quantised to int8 with 512 calibration windows from the training subjects,
exported, loaded back in each runtime and compared with PyTorch on the held-out subjects. The bundle folder
(<out>/watch/ by default) holds the files and manifest.json.

    python examples/export_model.py --out /tmp/edge-demo
    python examples/run_artefacts.py /tmp/edge-demo/watch

For the real model use the command line: ``edge-export --int8`` (see ``edge-export --help``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from export import DistillConfig, export_bundles, random_tiny_teacher


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", help="output folder (default: a new temporary folder)")
    p.add_argument("--profile", default="watch", choices=("watch", "phone"))
    p.add_argument("--student-size", default="tiny", choices=("tiny", "small", "base"))
    p.add_argument("--targets", default="pte,tflite,onnx")
    p.add_argument("--epochs", type=int, default=15, help="distillation epochs")
    args = p.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="edge-export-"))

    teacher = random_tiny_teacher(epochs=15)
    manifests = export_bundles(
        teacher, out, targets=args.targets.split(","), precisions=("fp32", "int8"), profiles=(args.profile,),
        student_size=args.student_size, distill_cfg=DistillConfig(epochs=args.epochs),
    )
    man = manifests[args.profile]
    print(f"\nbundle: {out / args.profile}")
    print(f"student: {man['student']['parameters']:,} parameters, {man['student']['macs']:,} MACs; macro F1 "
          f"teacher {man['metrics']['teacher_macro_f1']:.3f}, student {man['metrics']['student_macro_f1']:.3f}")
    for a in man["artefacts"]:
        f = a["parity_vs_float_student"]
        print(f"{a['file']:<22} {a['bytes'] / 1024:7.1f} KB  max|dlogit| {f['max_abs_delta_logit']:.2e}  "
              f"top-1 {f['top1_agreement']:.3f}  F1 {f['macro_f1']:.3f}  {json.dumps(a['export'].get('partitions'))}")


if __name__ == "__main__":
    main()
