"""Pretraining throughput (windows per second) of the default and tiny configs, 1 and 2 CPU processes, and CUDA.

Data: the committed CMU excerpts simulated with several body variants (synthetic windows repeated up to
``--windows``); text embeddings "hash" (the frozen language model runs once per distinct text before training,
so it does not affect training throughput). One warm-up epoch is run and the second epoch is timed. Every
setting runs in fresh spawned processes with a fixed torch thread count; 2-process runs use DistributedDataParallel
(gloo). The 1-minute load average is recorded: on a shared machine other work distorts the numbers.

.venv/bin/python benchmarks/bench_pretrain.py            # writes benchmarks/results/pretrain.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.sim.pipeline import SimulationConfig, simulate_files  # noqa: E402
from toolkit.train.config import GridConfig, PretrainConfig  # noqa: E402
from toolkit.train.launch import spawn_pretrain  # noqa: E402

CLIPS = [REPO / "tests/fixtures/cmu/131_01_excerpt.bvh", REPO / "tests/fixtures/cmu/02_01_excerpt.amc"]


def bench(cfg: PretrainConfig, nproc: int, threads: int) -> dict:
    """Run in ``nproc`` fresh processes (spawn, also for one) with ``threads`` torch threads each."""
    hist = spawn_pretrain(cfg, nproc=nproc, threads=threads)[0]["history"]
    timed = hist[-1]
    return {"processes": nproc, "threads_per_process": threads, "windows_per_s": round(timed["windows_per_s"], 1),
            "epoch_s": round(timed["seconds"], 3), "windows": timed["windows"],
            "batch_size_per_process": cfg.batch_size, "load_avg_1min": round(os.getloadavg()[0], 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", type=int, default=24, help="bodies per clip (more windows)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "pretrain.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sim = Path(tmp) / "sim"
        simulate_files([str(c) for c in CLIPS], sim, SimulationConfig(variants=args.variants), progress=False)
        for preset in ("tiny", "default"):
            base = PretrainConfig(data=(str(sim),), out_dir=str(Path(tmp) / preset), model=preset, epochs=2,
                                  batch_size=args.batch_size, text_embeddings="hash", device="cpu", progress=False,
                                  scheduler="none", grid=GridConfig(hop_s=0.25))  # fmt: skip
            for nproc, threads in ((1, 1), (1, 2), (2, 1)):
                r = bench(base.replace(out_dir=str(Path(tmp) / f"{preset}{nproc}{threads}")), nproc, threads)
                results.append({"device": "cpu", "model": preset, **r})
                print(json.dumps(results[-1]), flush=True)
            if torch.cuda.is_available():
                r = bench(base.replace(device="cuda", out_dir=str(Path(tmp) / f"{preset}cuda")), 1, 0)
                results.append({"device": torch.cuda.get_device_name(0), "model": preset, **r})
                print(json.dumps(results[-1]), flush=True)
    out = {
        "benchmark": "pretraining throughput (second epoch, windows/s, all processes together)",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU",
        "window": "2 s at 30 Hz (60 samples), hop 0.25 s", "results": results,
        "load_avg_before": round(load0, 2),
        "wall_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
