"""Human-attribute augmentation: many plausible bodies per clip (Multi3Net+ section 3.3).

Each variant draws its attributes independently and uniformly from :data:`ATTRIBUTE_RANGES`:

===================  ===============  ====================================================
attribute            range            meaning
===================  ===============  ====================================================
height_m             1.50 - 1.95 m    standing height (adult range, roughly 1st-99th pct.)
segment scales       0.90 - 1.10      each length group of ``SEGMENT_GROUPS`` on its own
shoulder_width       0.90 - 1.10      lateral shoulder-joint distance factor
hip_width            0.90 - 1.10      lateral hip-joint distance factor
girth                0.85 - 1.20      segment radii (body surface)
===================  ===============  ====================================================

Variant 0 is the reference body (1.7 m, default proportions) unless ``include_reference`` is off,
so a dataset always contains the paper's normalised body.
"""

from __future__ import annotations

import numpy as np

from toolkit.errors import ConfigError
from toolkit.sim.body import SEGMENT_GROUPS, HumanAttributes
from toolkit.sim.motion import DEFAULT_HEIGHT_M

ATTRIBUTE_RANGES: dict[str, tuple[float, float]] = {
    "height_m": (1.50, 1.95),
    "segment_scale": (0.90, 1.10),
    "shoulder_width": (0.90, 1.10),
    "hip_width": (0.90, 1.10),
    "girth": (0.85, 1.20),
}


def sample_attributes(
    rng: np.random.Generator, ranges: dict[str, tuple[float, float]] | None = None
) -> HumanAttributes:
    """One random :class:`HumanAttributes` drawn uniformly from ``ranges`` (default :data:`ATTRIBUTE_RANGES`)."""
    r = dict(ATTRIBUTE_RANGES)
    r.update(ranges or {})
    for key, (lo, hi) in r.items():
        if key not in ATTRIBUTE_RANGES:
            raise ConfigError(f"unknown attribute range {key!r}; known: {', '.join(ATTRIBUTE_RANGES)}")
        if not lo <= hi:
            raise ConfigError(f"attribute range {key} has min {lo} > max {hi}")

    def draw(key: str) -> float:
        lo, hi = r[key]
        return float(rng.uniform(lo, hi))

    scales = {g: draw("segment_scale") for g in SEGMENT_GROUPS}
    return HumanAttributes(
        height_m=draw("height_m"),
        segment_scales=scales,
        shoulder_width=draw("shoulder_width"),
        hip_width=draw("hip_width"),
        girth=draw("girth"),
    )


def attribute_variants(
    k: int,
    rng: np.random.Generator,
    include_reference: bool = True,
    height_m: float = DEFAULT_HEIGHT_M,
    ranges: dict[str, tuple[float, float]] | None = None,
) -> list[HumanAttributes]:
    """``k`` attribute sets: the reference body of ``height_m`` first (if asked), then random ones."""
    if k < 1:
        raise ConfigError(f"number of variants must be at least 1, got {k}")
    out = [HumanAttributes(height_m=height_m)] if include_reference else []
    while len(out) < k:
        out.append(sample_attributes(rng, ranges))
    return out
