"""Simulate both wrist watches of one CMU clip and print what the sensors read.

.venv/bin/python examples/simulate_cmu_clip.py                 # 02_01 "walk" from ../shared, else the excerpt
.venv/bin/python examples/simulate_cmu_clip.py --clip path/to/clip.bvh
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from toolkit.sim import BuiltinBody, load_motion, simulate_imu

REPO = Path(__file__).resolve().parents[1]
SHARED_CLIP = REPO.parent / "shared" / "data" / "cmu-mocap" / "asfamc" / "02" / "02_01.amc"
EXCERPT = REPO / "tests" / "fixtures" / "cmu" / "131_01_excerpt.bvh"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", help="a .bvh, .amc or AMASS .npz file")
    args = ap.parse_args(argv)
    clip = Path(args.clip) if args.clip else (SHARED_CLIP if SHARED_CLIP.is_file() else EXCERPT)

    motion = load_motion(clip)  # y-up, 1.7 m body, feet at the origin, 60 Hz
    body = BuiltinBody()  # the reference body, no licensed file needed
    placements = [body.named_placement("left_wrist"), body.named_placement("right_wrist")]
    imu = simulate_imu(motion, body, placements)

    print(f"{clip.name}: {motion.text!r}, {motion.duration_s:.1f} s at {motion.rate_hz:g} Hz")
    for p, placement in enumerate(placements):
        acc = np.linalg.norm(imu.acc[:, p], axis=-1)
        gyro = np.linalg.norm(imu.gyro[:, p], axis=-1)
        print(
            f"  {placement.name:12s} |acc| mean {acc.mean():5.2f} max {acc.max():5.1f} m/s^2   "
            f"|gyro| mean {gyro.mean():4.2f} max {gyro.max():4.1f} rad/s   "
            f"first sample acc (watch X,Y,Z) = {np.round(imu.acc[0, p], 2)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
