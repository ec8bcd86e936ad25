"""Export benchmark: distil + export a student, then edge-bench it against the eager float teacher in ONE run.

    .venv/bin/python benchmarks/bench_export.py            # -> benchmarks/results/export.json (+ .md, .png)

Teacher: the toolkit's DEFAULT-size HarClassifier (Multi3NetConfig.default(): 256-d encoder, 2 blocks, 4-expert
MoE head) trained for a few epochs on generated windows (until issue 3's committed checkpoint exists; latency does
not depend on the weights). Students: phone = 'base', watch = 'small', int8 + fp32, pte + tflite + onnx.
All figures are measured on the machine that runs this script.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from export.bench import run_bench
from export.distill import DistillConfig
from export.pipeline import export_bundles
from export.teacher import Teacher, fit_spec, generated_windows, split_subjects, train_classifier
from toolkit.models import ClassifierConfig, HarClassifier, ImuEncoderConfig

RESULTS = Path(__file__).resolve().parent / "results"


def default_teacher(epochs: int) -> Teacher:
    data = generated_windows(n_per_class=240, num_classes=4, subjects=8, seed=0)
    train = np.isin(data.subject, split_subjects(data)[0])
    spec = fit_spec(data.x[train])
    model = HarClassifier(ImuEncoderConfig(), ClassifierConfig(num_classes=4))
    train_classifier(model, spec.normalise(data.x[train]), data.y[train], epochs=epochs, lr=1e-3)
    return Teacher(model.eval(), [f"activity_{k}" for k in range(4)], spec, data, None,
                   f"default-size HarClassifier trained {epochs} epochs on generated windows (benchmark)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher-epochs", type=int, default=3)
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--keep", help="keep the exported dist folder here")
    args = p.parse_args()
    t0 = time.perf_counter()
    dist = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-export-"))
    teacher = default_teacher(args.teacher_epochs)
    manifests = export_bundles(teacher, dist, precisions=("fp32", "int8"), distill_cfg=DistillConfig(epochs=30))
    bench = run_bench(dist, RESULTS / "export_bench", runs=args.runs)
    summary = {
        "note": "measured on this machine in one run; generated data, default-size teacher architecture",
        "bench": bench,
        "profiles": {
            k: {"student": m["student"], "teacher": m["teacher"], "metrics": m["metrics"],
                "artefacts": [{x: a[x] for x in ("file", "bytes", "parity_vs_float_student")}
                              | {"lowering": {k2: a["export"].get(k2) for k2 in ("partitions", "non_delegated_ops")}}
                              for a in m["artefacts"]]}
            for k, m in manifests.items()
        },
        "wall_s": time.perf_counter() - t0,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "export.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(bench["ratios"], indent=2))
    if not args.keep:
        shutil.rmtree(dist, ignore_errors=True)


if __name__ == "__main__":
    main()
