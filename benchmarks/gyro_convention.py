"""Do a real dataset's gyroscope axes agree with its accelerometer? A physics check of the loaders' conventions.

A vector fixed in the world, seen from the sensor, turns with the opposite of the sensor's angular velocity:
``dv/dt = -w x v`` (:mod:`toolkit.frames`: body-frame angular velocity, right-handed). Gravity is such a vector.
So a complementary filter that carries gravity's direction from sample to sample with the gyroscope (exact
rotation by ``-w dt``) and pulls it lightly toward the low-passed accelerometer (time constant ``--tau-s``) stays
close to the accelerometer when the gyroscope's axes, signs and units are the accelerometer's, and drifts when
they are not. The check runs the filter for every signed permutation of the gyroscope axes (48) at three unit
scales (x1, deg->rad, rad->deg): 144 candidate conventions, and "no gyroscope" (the filter follows the accelerometer
alone). The loaders' convention is the identity at x1; it should give the smallest mean angle between the carried
and the measured gravity direction, and beat "no gyroscope".

Linear acceleration disturbs the measured direction, so the angles are never zero; what matters is the rank of the
identity and its margin. Controls, to show the check can fail: the same recordings with the gyroscope's Y sign
flipped, and with the gyroscope in deg/s; and a simulated keyframe clip (the simulator's own conventions).

.venv/bin/python benchmarks/gyro_convention.py --datasets seglearn sp-sw-har \
    --out benchmarks/results/gyro_convention.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.data.gyro_check import rank_conventions  # noqa: E402
from toolkit.errors import Multi3EdgeError  # noqa: E402
from toolkit.sim.pipeline import SimulationConfig, simulate_file  # noqa: E402
from toolkit.train.data import load_recordings  # noqa: E402


def simulated_pairs() -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The left-wrist watch of every keyframe example, simulated (ideal device, 60 Hz)."""
    pairs = []
    config = SimulationConfig(placements=("left_wrist",))
    with tempfile.TemporaryDirectory() as tmp:
        for script in sorted((REPO / "examples" / "keyframes").glob("*.yaml")):
            entry = simulate_file(str(script), config, tmp, script.stem)
            with np.load(Path(tmp) / entry["clips"][0]["file"], allow_pickle=False) as d:
                pairs.append((d["acc"][:, 0].astype(float), d["gyro"][:, 0].astype(float), float(d["rate_hz"])))
    return pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["seglearn", "sp-sw-har"], help="real datasets (edge-eval names)")
    ap.add_argument("--data-root", help="dataset root (default $MULTI3EDGE_DATA, else ../shared/data)")
    ap.add_argument("--every", type=int, default=4, help="use every N-th recording (default 4)")
    ap.add_argument("--max-s", type=float, default=60.0, help="at most this much of each recording [s]")
    ap.add_argument("--tau-s", type=float, default=1.0, help="filter time constant toward the accelerometer [s]")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results: dict = {"command": "python benchmarks/gyro_convention.py " + " ".join(argv or sys.argv[1:]),
                     "machine": platform.machine(), "tau_s": args.tau_s, "candidates": 145, "datasets": {}}
    try:
        print("simulated keyframe clips (control) ...", flush=True)
        results["simulated_keyframes"] = rank_conventions(simulated_pairs(), args.tau_s)
        for name in args.datasets:
            recs = [r for r in load_recordings(name, args.data_root) if r.gyro is not None][:: args.every]
            pairs = [(r.acc[: int(args.max_s * r.rate_hz)], r.gyro[: int(args.max_s * r.rate_hz)], r.rate_hz)
                     for r in recs]
            print(f"{name}: {len(pairs)} recordings ...", flush=True)
            results["datasets"][name] = {
                "recordings": len(pairs),
                "as_loaded": rank_conventions(pairs, args.tau_s),
                "control_gyro_y_flipped": rank_conventions([(a, g * [1, -1, 1], r) for a, g, r in pairs], args.tau_s),
                "control_gyro_in_deg_s": rank_conventions([(a, np.degrees(g), r) for a, g, r in pairs], args.tau_s),
            }
    except Multi3EdgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    results["seconds"] = round(time.perf_counter() - t0, 1)
    for label, r in [("simulated keyframes", results["simulated_keyframes"])] + [
        (f"{n} {k}", v) for n, d in results["datasets"].items() for k, v in d.items() if isinstance(v, dict)
    ]:
        print(f"{label:40s} identity {r['identity_deg']:6.2f} deg, rank {r['identity_rank']:3d}/145, "
              f"margin {r['margin_deg']:+6.2f} deg, no gyroscope {r['no_gyro_deg']:6.2f} deg")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
