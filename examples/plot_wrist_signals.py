"""Plot the wrist signals of a simulated clip as a PNG.

.venv/bin/python examples/plot_wrist_signals.py out/sim/131_01_excerpt_v0.npz --png wrist.png
.venv/bin/python examples/plot_wrist_signals.py --png wrist.png     # simulates the committed excerpt first
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from toolkit.sim import SimulationConfig, plot_clip_signals, read_clip, simulate_files

EXCERPT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "cmu" / "131_01_excerpt.bvh"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", nargs="?", help="a clip .npz written by edge-simulate")
    ap.add_argument("--png", default="wrist_signals.png", help="output PNG (default: wrist_signals.png)")
    args = ap.parse_args(argv)

    if args.clip:
        clip = read_clip(args.clip)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = simulate_files([str(EXCERPT)], tmp, SimulationConfig(), progress=False)
            clip = read_clip(Path(tmp) / manifest["clips"][0]["file"])
    path = plot_clip_signals(clip, args.png, placements=["left_wrist", "right_wrist"])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
