"""Does simulated motion look like the real recordings? Intensity and sim-to-real transfer of scripted activities.

Two checks of a simulator corpus against a real dataset, on the evaluation grid (30 Hz, 2 s windows, 1 s hop; left
wrist: real right-wrist data is mirrored, as for training):

* **Intensity** per window: mean angular speed ``|w|`` [rad/s] and the standard deviation of the specific-force
  magnitude ``|a|`` [m/s^2] (how vigorous a movement is, independent of how the watch is oriented). Percentiles
  (25/50/75/90) for each simulator folder and for the real data, and per class against the script written for it.
* **Sim -> real**: a random forest on window statistics (:func:`toolkit.train.features.window_statistics`) trained
  only on simulated windows of the scripts written for the dataset's classes (``--map CLASS=SCRIPT``; the seglearn
  defaults follow the table in examples/keyframes/README.md), tested on every real window of those classes. Chance
  is ``1 / classes``. If the scripts resemble the real activities, the forest recognises them without a single real
  label; at chance, the scripts teach the encoder nothing about the target activities.

Per class it also prints how the watch sits and turns (:func:`per_axis`: the watch-frame "up" direction, per-axis
acceleration spread and angular-rate RMS) for the real windows and the script's: the comparison the exercise scripts
were revised with (examples/keyframes/README.md). Only real-data *summaries* enter this report; nothing here changes
a script. A script revised after reading it is
fitted to that data: say so wherever its results are reported. To revise scripts without touching the subjects a
model will be tested on, compare them with the training subjects only (``--subjects``).

.venv/bin/python benchmarks/sim_to_real.py --dataset seglearn --sim out/keyframes out/cmu out/bandai \
    --out benchmarks/results/sim_to_real.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import confusion_matrix, f1_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.errors import Multi3EdgeError  # noqa: E402
from toolkit.train.config import GridConfig  # noqa: E402
from toolkit.train.data import load_real_windows, load_synthetic  # noqa: E402
from toolkit.train.features import window_statistics  # noqa: E402

#: Scripts of examples/keyframes written for each seglearn class (examples/keyframes/README.md).
DEFAULT_MAPS = {
    "seglearn": {"PEN": "pendulum", "ABD": "shoulder-abduction", "FEL": "shoulder-flexion",
                 "IR": "internal-rotation", "ER": "external-rotation", "TRAP": "shoulder-extension",
                 "ROW": "upright-row"},
}  # fmt: skip
PERCENTILES = (25, 50, 75, 90)


def intensity(x: np.ndarray) -> dict[str, np.ndarray]:
    """(N, L, 6) windows [m/s^2, rad/s] -> per-window ``gyro_speed_rad_s`` (mean |w|) and ``acc_mag_std_ms2``."""
    return {"gyro_speed_rad_s": np.linalg.norm(x[..., 3:6], axis=-1).mean(axis=1),
            "acc_mag_std_ms2": np.linalg.norm(x[..., :3], axis=-1).std(axis=1)}  # fmt: skip


def percentiles(x: np.ndarray) -> dict[str, list[float]]:
    """Intensity percentiles of windows ``x`` (NaN gyroscopes ignored)."""
    return {k: [round(float(p), 3) for p in np.nanpercentile(v, PERCENTILES)] for k, v in intensity(x).items()}


def per_axis(x: np.ndarray) -> dict[str, list[float]]:
    """How (N, L, 6) windows sit and turn in the watch frame, medians over windows, per axis (x, y, z):
    ``up_dir`` the unit mean specific force (the watch-frame direction of "up" while the motion is slow),
    ``acc_std_ms2`` the spread of each acceleration axis, ``gyro_rms_rad_s`` the RMS rate about each axis. What a
    script must match for a class: the axis it turns about and the pose it turns through (intensity alone cannot
    tell a forward raise from a sideways one)."""
    mean = x[..., :3].mean(axis=1)
    up = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-9)
    rms = np.sqrt((x[..., 3:6] ** 2).mean(axis=1))
    stats = {"up_dir": up, "acc_std_ms2": x[..., :3].std(axis=1), "gyro_rms_rad_s": rms}
    return {k: [round(float(m), 2) for m in np.nanmedian(v, axis=0)] for k, v in stats.items()}


def scripted_windows(sim, mapping: dict[str, str], class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Left-wrist simulated windows (N, L, 6) of the mapped scripts and their real class index (N,)."""
    clip = np.asarray([str(c) for c in sim.clip])
    script = np.asarray([c.rsplit("_v", 1)[0] for c in clip])
    xs, ys = [], []
    for name, target in mapping.items():
        if name not in class_names:
            raise Multi3EdgeError(f"--map names class {name!r}, not in the dataset ({', '.join(class_names)})")
        keep = (script == target) & sim.has_left
        if not keep.any():
            raise Multi3EdgeError(f"no simulated clip of script {target!r} (class {name}) in the --sim folders")
        xs.append(sim.imu_left[keep])
        ys.append(np.full(int(keep.sum()), class_names.index(name)))
    return np.concatenate(xs), np.concatenate(ys)


def sim_to_real(sim_x: np.ndarray, sim_y: np.ndarray, real_x: np.ndarray, real_y: np.ndarray, rate_hz: float,
                seed: int) -> dict:
    """Random forest on statistics of simulated windows, scored on real ones (macro F1 over the mapped classes)."""
    labels = np.unique(sim_y)
    keep = np.isin(real_y, labels)
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=-1)
    forest.fit(window_statistics(sim_x, rate_hz), sim_y)
    pred = forest.predict(window_statistics(real_x[keep], rate_hz))
    return {"macro_f1": round(float(f1_score(real_y[keep], pred, labels=labels, average="macro")), 4),
            "chance": round(1.0 / len(labels), 4), "real_windows": int(keep.sum()), "sim_windows": len(sim_y),
            "confusion_rows_real_cols_pred": confusion_matrix(real_y[keep], pred, labels=labels).tolist()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="seglearn", help="real dataset (edge-eval name; default seglearn)")
    ap.add_argument("--data-root", help="dataset root (default $MULTI3EDGE_DATA, else ../shared/data)")
    ap.add_argument("--sim", nargs="+", required=True, help="simulator dataset folders (edge-simulate --out)")
    ap.add_argument("--map", nargs="*", metavar="CLASS=SCRIPT",
                    help="script written for a class (default for seglearn: examples/keyframes/README.md)")
    ap.add_argument("--subjects", nargs="+", metavar="ID",
                    help="compare with these subjects' windows only (e.g. the training subjects; default: all)")
    ap.add_argument("--seed", type=int, default=0, help="random forest seed")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    mapping = dict(m.split("=", 1) for m in args.map) if args.map else DEFAULT_MAPS.get(args.dataset, {})
    grid = GridConfig()  # the evaluation grid (30 Hz, 2 s windows, 1 s hop)
    t0 = time.perf_counter()
    try:
        real = load_real_windows(args.dataset, grid, args.data_root)
        sims = {folder: load_synthetic([folder], grid) for folder in args.sim}
    except Multi3EdgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.subjects:
        unknown = sorted(set(args.subjects) - set(real.subject.tolist()))
        if unknown:
            print(f"error: no subject {', '.join(unknown)} in {args.dataset} "
                  f"(subjects: {', '.join(sorted(set(real.subject.tolist())))})", file=sys.stderr)
            return 2
        real = real.subset(np.isin(real.subject, args.subjects))
    results: dict = {"command": "python benchmarks/sim_to_real.py " + " ".join(argv or sys.argv[1:]),
                     "machine": platform.machine(), "dataset": args.dataset, "subjects": args.subjects or "all",
                     "grid": {"rate_hz": grid.rate_hz, "window_s": grid.window_s, "hop_s": grid.hop_s},
                     "percentiles": list(PERCENTILES), "real": percentiles(real.x),
                     "sim": {f: percentiles(s.imu_left[s.has_left]) for f, s in sims.items()}}  # fmt: skip
    print(f"{'intensity (median)':28s} {'|w| rad/s':>10s} {'std|a| m/s2':>12s}")
    for label, p in [(f"real {args.dataset}", results["real"])] + list(results["sim"].items()):
        print(f"{label[-28:]:28s} {p['gyro_speed_rad_s'][1]:10.2f} {p['acc_mag_std_ms2'][1]:12.2f}")
    if mapping:
        scripted = [s for s in sims.values() if any(str(c).rsplit("_v", 1)[0] in mapping.values() for c in s.clip)]
        if not scripted:
            print("error: no --sim folder holds the mapped scripts", file=sys.stderr)
            return 2
        try:
            sim_x, sim_y = scripted_windows(scripted[0], mapping, real.class_names)
        except Multi3EdgeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        per_class = {}
        for name, script in mapping.items():
            c = real.class_names.index(name)
            rx, sx = real.x[real.y == c], sim_x[sim_y == c]
            per_class[name] = {"script": script, "real": percentiles(rx) | per_axis(rx),
                               "sim": percentiles(sx) | per_axis(sx)}  # fmt: skip
            print(f"  {name:6s} real {per_class[name]['real']['gyro_speed_rad_s'][1]:5.2f} rad/s "
                  f"{per_class[name]['real']['acc_mag_std_ms2'][1]:5.2f} m/s2 | {script:20s} "
                  f"{per_class[name]['sim']['gyro_speed_rad_s'][1]:5.2f} rad/s "
                  f"{per_class[name]['sim']['acc_mag_std_ms2'][1]:5.2f} m/s2")
            for side in ("real", "sim"):
                q = per_class[name][side]
                print(f"         {side:4s} up (x,y,z) {q['up_dir']}  acc std {q['acc_std_ms2']} m/s2  "
                      f"gyro rms {q['gyro_rms_rad_s']} rad/s")
        results["per_class"] = per_class
        results["sim_to_real"] = sim_to_real(sim_x, sim_y, real.x, real.y, grid.rate_hz, args.seed)
        r = results["sim_to_real"]
        print(f"sim -> real random forest: macro F1 {100 * r['macro_f1']:.1f} % (chance {100 * r['chance']:.1f} %), "
              f"{r['sim_windows']} simulated -> {r['real_windows']} real windows")
    results["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
