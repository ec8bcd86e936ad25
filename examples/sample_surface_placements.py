"""Draw AnyMo-style sensor placements on the body surface and plot them.

Each placement sits on a segment's surface (segments drawn in proportion to their area), with its +Z
along the outward normal and +X along the segment, turned about +Z by a random jitter.

    .venv/bin/python examples/sample_surface_placements.py --n 60 --png placements.png
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from toolkit.sim import BuiltinBody, HumanAttributes, plot_placements


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=60, help="number of placements (default 60)")
    ap.add_argument("--height", type=float, default=1.7, help="body height in m (default 1.7)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default="placements.png")
    args = ap.parse_args(argv)

    body = BuiltinBody(HumanAttributes(height_m=args.height))
    sampled = body.sample_placements(args.n, np.random.default_rng(args.seed), jitter_deg=30)
    named = [body.named_placement(n) for n in ("left_wrist", "right_wrist", "chest", "left_thigh", "head")]
    counts = Counter(p.name.split("#")[0] for p in sampled)
    print(f"{args.n} placements on a {body.height_m:.2f} m body, by segment:")
    for seg, n in counts.most_common():
        print(f"  {seg:22s} {n}")
    p = sampled[0]
    print(f"e.g. {p.name}: offset from its joint {np.round(p.offset, 3)} m, outward +Z {np.round(p.rot_js[:, 2], 2)}")
    print(f"wrote {plot_placements(body, named + sampled, args.png)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
