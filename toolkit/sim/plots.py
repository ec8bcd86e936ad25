"""Figures of simulated data (PNG, matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from toolkit.sim.body import BuiltinBody  # noqa: E402
from toolkit.sim.placements import Placement  # noqa: E402
from toolkit.sim.skeleton import PARENTS  # noqa: E402


def plot_clip_signals(clip: dict[str, np.ndarray], path: str | Path, placements: list[str] | None = None) -> Path:
    """Accelerometer and gyroscope traces of a dataset clip, one row per placement.

    Args:
        clip: arrays of a clip ``.npz`` (see :mod:`toolkit.sim.dataset`).
        path: PNG to write.
        placements: names to show (default: all named, non-sampled placements).
    """
    names = [str(n) for n in clip["placements"]]
    show = placements or [n for n in names if "#" not in n] or names[:2]
    rate = float(clip["rate_hz"])
    t = np.arange(clip["acc"].shape[0]) / rate
    fig, axes = plt.subplots(len(show), 2, figsize=(12, 2.8 * len(show)), squeeze=False, sharex=True)
    for row, name in enumerate(show):
        p = names.index(name)
        for col, (key, unit) in enumerate((("acc", "m/s$^2$"), ("gyro", "rad/s"))):
            ax = axes[row, col]
            for axis, colour in zip("XYZ", ("tab:red", "tab:green", "tab:blue"), strict=True):
                ax.plot(t, clip[key][:, p, "XYZ".index(axis)], colour, lw=0.8, label=axis)
            ax.set_title(f"{name}: {key} [{unit}]", fontsize=9)
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(loc="upper right", fontsize=7, ncol=3)
    for ax in axes[-1]:
        ax.set_xlabel("time [s]")
    text = str(clip.get("text", ""))
    fig.suptitle(f"{clip.get('clip', '')}: {text}  ({rate:g} Hz, sensor frames, gravity included)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_placements(body: BuiltinBody, placements: list[Placement], path: str | Path) -> Path:
    """Front and side views of the rest skeleton with each placement and its +Z (outward) axis."""
    j = body.rest_joints
    fig, axes = plt.subplots(1, 2, figsize=(10, 6))
    for ax, (h, title) in zip(axes, ((0, "front (x left, y up)"), (2, "side (z forward, y up)")), strict=True):
        for c, p in enumerate(PARENTS):
            if p >= 0:
                ax.plot([j[p, h], j[c, h]], [j[p, 1], j[c, 1]], "k-", lw=2, alpha=0.6)
        for pl in placements:
            pos = j[pl.joint] + pl.offset
            z = pl.rot_js[:, 2] * 0.06
            named = "#" not in pl.name
            ax.plot(pos[h], pos[1], "o", color="tab:red" if named else "tab:blue", ms=5 if named else 3)
            ax.plot([pos[h], pos[h] + z[h]], [pos[1], pos[1] + z[1]], color="tab:orange", lw=1)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{len(placements)} placements on a {body.height_m:.2f} m body (red: named, blue: sampled)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
