"""The on-disk synthetic dataset: a folder that plain numpy can read.

Layout::

    DIR/
      manifest.json          generator, settings, device profile, sources (sha256), one entry per clip file
      <clip>_v<k>.npz        one file per clip variant

Each ``.npz`` (read with ``np.load(path, allow_pickle=False)``) holds:

==================  ===============  ==========================================================
key                 shape / dtype    meaning
==================  ===============  ==========================================================
acc                 (T, P, 3) f32    specific force in each sensor frame [m/s^2] (device effects
                                     applied; ideal device = exact physics)
gyro                (T, P, 3) f32    angular velocity in each sensor frame [rad/s]; NaN when the
                                     device has no gyroscope (``has_gyro`` False)
quat                (T, P, 4) f32    sensor-to-world orientation (x, y, z, w) at the IMU rate
placements          (P,) str         placement names
placement_joint     (P,) i64         joint carrying each sensor
placement_offset    (P, 3) f32       sensor position in that joint's frame [m]
placement_rot       (P, 3, 3) f32    sensor-to-joint rotation
rate_hz             () f64           IMU sample rate [Hz]
has_gyro            () bool
joints              (Tp, 24, 3) f32  world joint positions of the variant's body [m]
pose                (Tp, 24, 3) f32  local joint rotations, axis-angle [rad] (SMPL order)
root_pos            (Tp, 3) f32      pelvis position [m]
pose_rate_hz        () f64           rate of joints/pose/root_pos [Hz] (Tp = T unless the device
                                     profile changes the rate)
text                () str           the clip's description
texts               (K,) str         optional: every text of the clip, ``text`` first (Bandai
                                     label templates, :mod:`toolkit.sim.loaders.descriptions`);
                                     older datasets lack it (read as ``[text]``)
source              () str           source file (as given) and its sha256 in the manifest
clip                () str           clip name
variant             () i64           attribute variant index (0 = reference body)
attributes_json     () str           the variant's body description (JSON)
acc_device          (T, P, 3) f32    only for non-ideal profiles: acc in the device's units/sign
gyro_device         (T, P, 3) f32    likewise for the gyroscope
==================  ===============  ==========================================================

Clip files are written uncompressed (``np.savez``): simulated float signals deflate by only ~10 %
while zlib takes longer than the whole simulation (4.4 s of 8.5 s for an hour of motion).

World frame, units and sensor frames: :mod:`toolkit.frames`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.errors import InputFileError
from toolkit.hashing import sha256_file  # noqa: F401 - re-exported for the pipeline

#: Version of this layout; bump when keys change meaning.
DATASET_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
REQUIRED_KEYS = ("acc", "gyro", "quat", "placements", "rate_hz", "joints", "pose", "text", "source")


@dataclass
class ClipRecord:
    """Arrays of one clip variant, as written to its ``.npz`` (see the module docstring)."""

    arrays: dict[str, np.ndarray]
    file_name: str

    def save(self, out_dir: Path) -> Path:
        path = Path(out_dir) / self.file_name
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **self.arrays)  # stored, not deflated: float data shrinks ~10 %, at 30x the cost
        tmp.replace(path)
        return path


def write_manifest(out_dir: str | Path, manifest: dict) -> Path:
    """Write ``manifest.json`` (with the format version added)."""
    path = Path(out_dir) / MANIFEST_NAME
    data = {"format_version": DATASET_FORMAT_VERSION, **manifest}
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(dataset_dir: str | Path) -> dict:
    """Read and check a dataset folder's manifest."""
    path = Path(dataset_dir) / MANIFEST_NAME
    if not path.is_file():
        raise InputFileError(dataset_dir, f"not a simulated dataset: no {MANIFEST_NAME}")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputFileError(path, f"invalid JSON ({e.msg} at line {e.lineno})") from None
    version = manifest.get("format_version")
    if version != DATASET_FORMAT_VERSION:
        raise InputFileError(path, f"dataset format version {version!r}, this toolkit reads {DATASET_FORMAT_VERSION}")
    return manifest


def read_clip(path: str | Path) -> dict[str, np.ndarray]:
    """Load one clip variant file into a dict of arrays (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except ValueError as e:
        raise InputFileError(path, f"not a plain-numpy dataset clip ({e})") from None
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise InputFileError(path, f"missing keys {missing}; expected a clip written by edge-simulate")
    return arrays


def iter_clips(dataset_dir: str | Path):
    """Yield ``(manifest_entry, arrays)`` for every clip file listed in the manifest."""
    manifest = read_manifest(dataset_dir)
    for entry in manifest["clips"]:
        yield entry, read_clip(Path(dataset_dir) / entry["file"])


def summarize_clip(arrays: dict[str, np.ndarray]) -> dict:
    """Per-placement statistics of a clip: duration, mean and max |acc| [m/s^2] and |gyro| [rad/s]."""
    rate = float(arrays["rate_hz"])
    acc_mag = np.linalg.norm(arrays["acc"], axis=-1)
    gyro_mag = np.linalg.norm(arrays["gyro"], axis=-1)
    out = {"clip": str(arrays.get("clip", "")), "text": str(arrays["text"]), "rate_hz": rate,
           "duration_s": (arrays["acc"].shape[0] - 1) / rate, "placements": {}}  # fmt: skip
    for p, name in enumerate(arrays["placements"]):
        out["placements"][str(name)] = {
            "acc_mean_ms2": float(np.nanmean(acc_mag[:, p])),
            "acc_max_ms2": float(np.nanmax(acc_mag[:, p])),
            "gyro_mean_rads": float(np.nanmean(gyro_mag[:, p])) if np.isfinite(gyro_mag[:, p]).any() else None,
            "gyro_max_rads": float(np.nanmax(gyro_mag[:, p])) if np.isfinite(gyro_mag[:, p]).any() else None,
        }
    return out
