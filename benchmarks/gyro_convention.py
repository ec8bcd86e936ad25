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
import itertools
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.errors import Multi3EdgeError  # noqa: E402
from toolkit.sim.pipeline import SimulationConfig, simulate_file  # noqa: E402
from toolkit.train.data import load_recordings  # noqa: E402

SCALES = {"x1": 1.0, "deg->rad": np.pi / 180.0, "rad->deg": 180.0 / np.pi}
GRAVITY_LOWPASS_HZ = 2.0


def candidate_conventions() -> tuple[list[str], np.ndarray]:
    """Names and (145, 3, 3) matrices M: candidate gyro = M @ measured gyro (signed permutation x unit scale),
    and a zero matrix (:data:`NO_GYRO`)."""
    names, mats = [], []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, s) in enumerate(zip(perm, signs, strict=True)):
                m[row, col] = s
            axes = ",".join(("+" if s > 0 else "-") + "xyz"[c] for c, s in zip(perm, signs, strict=True))
            for label, scale in SCALES.items():
                names.append(f"({axes}) {label}")
                mats.append(m * scale)
    names.append(NO_GYRO)
    mats.append(np.zeros((3, 3)))
    return names, np.stack(mats)


IDENTITY = "(+x,+y,+z) x1"
NO_GYRO = "no gyroscope"  #: the filter follows the low-passed accelerometer alone: the reference to beat


def _rotate(v: np.ndarray, w: np.ndarray, dt: float) -> np.ndarray:
    """Rotate vectors v (C, 3) by the angle -|w| dt about w (C, 3) (Rodrigues): a world-fixed vector's new
    sensor-frame coordinates after the sensor turned by w dt."""
    speed = np.linalg.norm(w, axis=-1, keepdims=True)
    k = w / np.maximum(speed, 1e-12)
    c, s = np.cos(speed * dt), np.sin(-speed * dt)
    return v * c + np.cross(k, v) * s + k * np.sum(k * v, -1, keepdims=True) * (1.0 - c)


def filter_residuals(acc: np.ndarray, gyro: np.ndarray, rate_hz: float, mats: np.ndarray,
                     tau_s: float) -> tuple[np.ndarray, int]:
    """Sum over samples of the angle [deg] between carried and measured gravity, per candidate (C,), and the count.

    Args:
        acc: (T, 3) specific force [m/s^2]; gyro: (T, 3) angular velocity [rad/s], same frame and clock.
    """
    sos = butter(2, GRAVITY_LOWPASS_HZ, fs=rate_hz, output="sos")
    a = sosfiltfilt(sos, acc, axis=0)
    u = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    w = np.einsum("cij,tj->tci", mats, gyro)
    dt, alpha = 1.0 / rate_hz, min(1.0, 1.0 / (rate_hz * tau_s))
    v = np.repeat(u[:1], len(mats), axis=0)
    total = np.zeros(len(mats))
    for t in range(1, len(u)):
        v = _rotate(v, w[t - 1], dt)
        total += np.degrees(np.arccos(np.clip(v @ u[t], -1.0, 1.0)))
        v = (1.0 - alpha) * v + alpha * u[t]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return total, len(u) - 1


def rank_conventions(pairs: list[tuple[np.ndarray, np.ndarray, float]], tau_s: float) -> dict:
    """Mean residual angle per candidate over all pairs (acc, gyro, rate); the identity's rank and margin."""
    names, mats = candidate_conventions()
    total, count = np.zeros(len(names)), 0
    for acc, gyro, rate in pairs:
        ok = np.isfinite(acc).all(1) & np.isfinite(gyro).all(1)
        if ok.sum() < 2 * rate:
            continue
        s, n = filter_residuals(acc[ok], gyro[ok], rate, mats, tau_s)
        total, count = total + s, count + n
    mean = total / max(count, 1)
    order = np.argsort(mean)
    ident = names.index(IDENTITY)
    best_other = min(float(mean[i]) for i in range(len(names)) if i != ident)
    return {
        "samples": int(count),
        "identity_deg": round(float(mean[ident]), 2),
        "identity_rank": int(np.where(order == ident)[0][0]) + 1,
        "best_other_deg": round(best_other, 2),
        "margin_deg": round(best_other - float(mean[ident]), 2),
        "no_gyro_deg": round(float(mean[names.index(NO_GYRO)]), 2),
        "median_deg": round(float(np.median(mean)), 2),
        "top3": [[names[i], round(float(mean[i]), 2)] for i in order[:3]],
    }


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
