"""Simulation benchmarks (issues 2 and 11). Writes benchmarks/results/simulation.json.

    BANDAI=/path/to/unpacked/dataset .venv/bin/python benchmarks/bench_simulation.py [--quick] [--skip-dataset]

0. End to end (what a user waits for): ``edge-simulate`` run as a subprocess, process start-up,
   imports, loading, simulation and writing included. (a) a generated one-hour AMASS ``.npz`` with
   the real array shapes (poses (T, 156), trans (T, 3), betas (16,), mocap_framerate 60, gender),
   both wrists, 60 Hz; target >= 2,000x real time. (b) the whole Bandai Namco corpus (3,076 BVH
   files, from the unpacked ``dataset/`` folder given by ``--bandai`` or ``$BANDAI``), both wrists,
   1 variant, ``--workers 2``; target <= 90 s wall. Wall and CPU (user + sys of the children) are both
   recorded: on a shared machine the wall time also measures the other tenants. The hour runs 5 times
   (9 without ``--quick``): best and median are recorded, with every run's wall / user / sys.

1. Compute only: seconds of motion simulated per wall second, both wrist watches at 60 Hz, one process,
   built-in body, on a real CMU clip (the committed excerpt, or 02_01 from ../shared) tiled to one
   hour. Measured two ways: one hour-long array, and 60 one-minute clips. Load time is reported
   apart. Target: >= 10,000x real time.
2. The smplx mesh path: full-mesh forward passes per second on a generated SMPL-shaped model
   (no licensed file exists here), and IMU synthesis on an SMPL body.
3. The synthetic dataset from all of ../shared/data/cmu-mocap with 8 attribute variants: clips,
   variants, seconds of signal, wall time (skipped without ../shared).

Numbers are measured on the machine that runs this script; the JSON records which.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # one core

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.sim.body import BuiltinBody  # noqa: E402
from toolkit.sim.imu import simulate_imu  # noqa: E402
from toolkit.sim.motion import Motion  # noqa: E402
from toolkit.sim.sources import load_motion  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "cmu-mocap"
#: the unpacked Bandai Namco ``dataset/`` folder (../shared/data/bandai-namco/README.md says how to unpack it)
BANDAI_ENV = "BANDAI"
EDGE_SIMULATE = Path(sys.executable).with_name("edge-simulate")
EXCERPT = REPO / "tests" / "fixtures" / "cmu" / "131_01_excerpt.bvh"


def tile(motion: Motion, frames: int) -> Motion:
    """Repeat a clip (forward, then backward, so it stays continuous) up to ``frames`` frames."""
    idx = np.arange(frames) % (2 * motion.num_frames - 2)
    idx = np.where(idx < motion.num_frames, idx, 2 * motion.num_frames - 2 - idx)
    return replace(motion, root_pos=motion.root_pos[idx], local_quat=motion.local_quat[idx])


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_speed(repeats: int) -> dict:
    clip = SHARED / "asfamc" / "02" / "02_01.amc" if SHARED.is_dir() else EXCERPT
    t0 = time.perf_counter()
    motion = load_motion(clip)
    load_s = time.perf_counter() - t0
    body = BuiltinBody()
    wrists = [body.named_placement("left_wrist"), body.named_placement("right_wrist")]
    hour = tile(motion, int(3600 * motion.rate_hz))
    minute = tile(motion, int(60 * motion.rate_hz))
    t_hour = best_of(lambda: simulate_imu(hour, body, wrists), repeats)
    t_minutes = best_of(lambda: [simulate_imu(minute, body, wrists) for _ in range(60)], repeats)
    return {
        "clip": str(clip.relative_to(REPO.parent) if clip.is_relative_to(REPO.parent) else clip),
        "clip_seconds": motion.duration_s,
        "load_and_normalise_s": load_s,
        "load_realtime_factor": motion.duration_s / load_s,
        "placements": ["left_wrist", "right_wrist"],
        "rate_hz": motion.rate_hz,
        "one_hour_array_s": t_hour,
        "one_hour_array_realtime_factor": 3600 / t_hour,
        "sixty_one_minute_clips_s": t_minutes,
        "sixty_one_minute_clips_realtime_factor": 3600 / t_minutes,
        "target_realtime_factor": 10_000,
        "repeats_best_of": repeats,
    }


def write_hour_amass(path: Path, rate_hz: float = 60.0, seconds: float = 3600.0) -> Path:
    """A smooth AMASS-shaped SMPL-H motion file: poses (T, 156), trans (T, 3), betas (16,), rate, gender."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    rng = np.random.default_rng(0)
    freq, phase, amp = rng.uniform(0.2, 2.0, 156), rng.uniform(0, 2 * np.pi, 156), rng.uniform(0.05, 0.4, 156)
    poses = amp * np.sin(np.outer(t, 2 * np.pi * freq) + phase)
    poses[:, 0] += np.pi / 2  # standing in AMASS's z-up world
    trans = np.stack([0.3 * np.sin(0.1 * t), 0.2 * np.cos(0.13 * t), 0.9 + 0.02 * np.sin(3 * t)], axis=1)
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(16), mocap_framerate=np.float64(rate_hz),
             gender=np.array("male"))  # fmt: skip
    return path


def run_cli(args: list[str]) -> dict:
    """Run ``edge-simulate`` in a fresh process; wall time and the child's CPU time (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([str(EDGE_SIMULATE), *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {"command": "edge-simulate " + " ".join(args), "exit": proc.returncode, "wall_s": wall,
            "cpu_s": user + system, "user_s": user, "sys_s": system,
            "stderr_tail": proc.stderr.strip().splitlines()[-3:]}  # fmt: skip


def bench_end_to_end_amass(repeats: int) -> dict:
    """The 1-hour AMASS file through ``edge-simulate``, ``repeats`` fresh processes (each ~2 s).

    The best run is the machine's capacity; the median is what a user sees on the shared machine
    (the system time varies most: first-touch page faults of a VM whose host backs memory lazily).
    """
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_hour_amass(Path(tmp) / "hour_poses.npz")
        runs, load = [], os.getloadavg()
        for _ in range(repeats):
            out = Path(tmp) / "out"
            runs.append(run_cli([str(clip), "--out", str(out), "--no-progress"]))
            shutil.rmtree(out)  # each run writes a fresh folder (and the page cache holds one output)
    best = min(runs, key=lambda r: r["wall_s"])
    median = {k: float(np.median([r[k] for r in runs])) for k in ("wall_s", "cpu_s", "user_s", "sys_s")}
    return {
        "input": "generated AMASS .npz, 1 h at 60 Hz, poses (216000, 156) f64, both wrists, ideal device",
        "command": best["command"].replace(str(clip), "hour_poses.npz").replace(tmp, "TMP"),
        "exit": max(r["exit"] for r in runs),
        "wall_s": best["wall_s"],
        "cpu_s": best["cpu_s"],
        "user_s": best["user_s"],
        "sys_s": best["sys_s"],
        "realtime_factor_wall": 3600 / best["wall_s"],
        "realtime_factor_cpu": 3600 / best["cpu_s"],
        "median": {**median, "realtime_factor_wall": 3600 / median["wall_s"],
                   "realtime_factor_cpu": 3600 / median["cpu_s"]},  # fmt: skip
        "runs": [{k: round(r[k], 3) for k in ("wall_s", "user_s", "sys_s")} for r in runs],
        "target_realtime_factor": 2000,
        "repeats": repeats,
        "load_average_before": load,
    }


def bench_end_to_end_bandai(bandai: str | None, workers: int, limit: int | None) -> dict:
    if not bandai:
        return {"skipped": f"no Bandai Namco folder (--bandai DIR or ${BANDAI_ENV})"}
    files = sorted(str(p) for p in Path(bandai).glob("*/data/*.bvh"))
    if not files:
        return {"skipped": f"{bandai}: no */data/*.bvh files (the unpacked dataset/ folder is expected)"}
    files = files[:limit] if limit else files
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bandai"
        r = run_cli([*files, "--out", str(out), "--workers", str(workers), "--no-progress"])
        manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    seconds = sum(c["duration_s"] for c in manifest.get("clips", []))
    return {
        "input": f"{len(files)} Bandai Namco BVH files, both wrists, 1 variant",
        "command": f"edge-simulate ${BANDAI_ENV}/*/data/*.bvh --out OUT --workers {workers} --no-progress",
        "exit": r["exit"],
        "wall_s": r["wall_s"],
        "cpu_s": r["cpu_s"],
        "clips": len(manifest.get("clips", [])),
        "skipped": len(manifest.get("skipped", [])),
        "seconds_of_motion": seconds,
        "realtime_factor_wall": seconds / r["wall_s"] if r["wall_s"] else None,
        "target_wall_s": 90,
        "stderr_tail": r["stderr_tail"],
    }


def bench_smpl(repeats: int) -> dict:
    try:
        sys.path.insert(0, str(REPO / "tests" / "sim"))
        from smpl_fixture import write_model_npz  # noqa: PLC0415

        from toolkit.sim.smpl_body import SMPLBody  # noqa: PLC0415
    except ImportError as e:  # the smplx path is optional
        return {"skipped": f"smplx path unavailable: {e}"}
    with tempfile.TemporaryDirectory() as tmp:
        model = write_model_npz(Path(tmp) / "SMPL_NEUTRAL.npz")
        body = SMPLBody(model)
        clip = SHARED / "asfamc" / "02" / "02_01.amc" if SHARED.is_dir() else EXCERPT
        motion = load_motion(clip)
        minute = tile(motion, int(60 * motion.rate_hz))
        wrists = [body.named_placement("left_wrist"), body.named_placement("right_wrist")]
        t_imu = best_of(lambda: simulate_imu(minute, body, wrists), repeats)
        frames = min(motion.num_frames, 600)
        t_mesh = best_of(lambda: body.mesh_sequence(motion, np.arange(frames)), repeats)
    return {
        "model": "generated SMPL-shaped model (6890 vertices, real array shapes; no licensed file)",
        "imu_two_wrists_one_minute_realtime_factor": 60.0 / t_imu,
        "mesh_forward_frames": frames,
        "mesh_forward_frames_per_s": frames / t_mesh,
        "mesh_forward_realtime_factor": (frames / motion.rate_hz) / t_mesh,
    }


def bench_dataset(variants: int, workers: int) -> dict:
    if not SHARED.is_dir():
        return {"skipped": "../shared/data/cmu-mocap not present"}
    from toolkit.sim.pipeline import SimulationConfig, simulate_files  # noqa: PLC0415

    files = sorted(str(p) for p in SHARED.glob("asfamc/*/*.amc")) + sorted(str(p) for p in SHARED.glob("bvh/*.bvh"))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest = simulate_files(files, tmp, SimulationConfig(variants=variants), workers=workers, progress=True)
        wall = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(tmp).iterdir())
    clips = manifest["clips"]
    return {
        "source_files": len(files),
        "variants_per_clip": variants,
        "clip_variants": len(clips),
        "placements": manifest["placements"],
        "seconds_of_signal": sum(c["duration_s"] for c in clips),
        "seconds_of_motion": sum(c["duration_s"] for c in clips if c["variant"] == 0),
        "wall_time_s": wall,
        "workers": workers,
        "dataset_bytes": size,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one repeat each (noisier)")
    ap.add_argument("--skip-dataset", action="store_true")
    ap.add_argument("--skip-bandai", action="store_true", help="skip the whole-corpus Bandai run")
    ap.add_argument("--bandai", default=os.environ.get(BANDAI_ENV),
                    help=f"unpacked Bandai Namco dataset/ folder (default ${BANDAI_ENV}; skipped when unset)")
    ap.add_argument("--bandai-limit", type=int, default=None, help="only the first N Bandai files")
    ap.add_argument("--workers", type=int, default=2, help="processes for the dataset build (default 2)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "simulation.json"))
    args = ap.parse_args()
    repeats = 1 if args.quick else 5
    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },  # fmt: skip
        "measured_unix_s": time.time(),
        "end_to_end_amass_hour": bench_end_to_end_amass(5 if args.quick else 9),
        "speed": bench_speed(repeats),
        "smpl": bench_smpl(repeats),
    }
    print(json.dumps(result["end_to_end_amass_hour"], indent=2))
    if not args.skip_bandai:
        result["end_to_end_bandai"] = bench_end_to_end_bandai(args.bandai, args.workers, args.bandai_limit)
        print(json.dumps(result["end_to_end_bandai"], indent=2))
    print(json.dumps(result["speed"], indent=2))
    print(json.dumps(result["smpl"], indent=2))
    if not args.skip_dataset:
        result["dataset"] = bench_dataset(8, args.workers)
        print(json.dumps(result["dataset"], indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
