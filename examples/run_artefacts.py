"""Load every artefact of an edge-export bundle in its own runtime and classify one window.

    python examples/run_artefacts.py dist/watch

Each file's sha256 is checked against manifest.json first (a modified file is refused). The window is raw
sensor data as a watch app would hold it: (L, 6) acc x, y, z [m/s^2] and gyro x, y, z [rad/s] in the
simulator's watch frame at the manifest's rate; the loader standardises it with the manifest's mean/std.
Here it is a generated window of class 1 (the demo teacher's data), so the demo bundle should say activity_1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from export import generated_windows, load_artefact, read_manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", help="a profile folder of edge-export (holds manifest.json)")
    args = p.parse_args()
    folder = Path(args.bundle)
    manifest = read_manifest(folder)
    spec = manifest["input"]
    data = generated_windows(n_per_class=8, num_classes=len(manifest["classes"]), window=spec["window_samples"],
                             rate_hz=spec["rate_hz"], subjects=1, seed=123)
    window = data.x[data.y == 1][0]  # (L, 6) raw units
    for entry in manifest["artefacts"]:
        art = load_artefact(folder, entry["target"], entry["precision"])
        name, logits = art.classify(window)
        zs = art.zero_shot(window)
        zs_text = f", zero-shot: {zs[0]}" if zs else ""
        print(f"{entry['file']:<22} ({art.entry['runtime']}): {name}  logits {[round(float(v), 2) for v in logits]}"
              f"{zs_text}")


if __name__ == "__main__":
    main()
