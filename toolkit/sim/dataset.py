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

Clip files are written uncompressed, in ``np.savez``'s layout (:func:`write_npz`, or member by
member by a background thread while the rest is computed, :class:`StreamingNpz`): simulated float
signals deflate by only ~10 % while zlib takes longer than the whole simulation (4.4 s of 8.5 s
for an hour of motion). The order of the members is not part of the format.

World frame, units and sensor frames: :mod:`toolkit.frames`.
"""

from __future__ import annotations

import json
import queue
import threading
import zipfile
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
    saved: bool = False  # already written (by a :class:`StreamingNpz` while it was computed)

    def save(self, out_dir: Path) -> Path:
        path = Path(out_dir) / self.file_name
        tmp = path.with_name(path.name + ".tmp.npz")
        write_npz(tmp, self.arrays)  # stored, not deflated: float data shrinks ~10 %, at 30x the cost
        tmp.replace(path)
        return path


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as ``np.savez`` does (one stored ``KEY.npy`` member per array, zip64, ``.npy``
    format 1.0), streaming each array's own bytes into the archive.

    ``np.savez`` copies the data of every array through 16 MB ``tobytes`` chunks first; an hour of
    motion writes ~150 MB, so those copies (fresh memory each) cost more than the writing itself.
    Object arrays are refused (they would need pickle).
    """
    path = Path(path)
    with zipfile.ZipFile(path, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            _write_member(zf, key, value)
    return path


def _write_member(zf: zipfile.ZipFile, key: str, value: np.ndarray) -> None:
    """One stored ``KEY.npy`` member, as ``np.savez`` writes it (the array's bytes, no copy)."""
    arr = np.asanyarray(value)
    if arr.dtype.hasobject:
        raise ValueError(f"{key!r}: object arrays cannot be written without pickle")
    arr = np.require(arr, requirements="C")
    with zf.open(key + ".npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(arr))
        fh.write(arr.reshape(-1).view(np.uint8) if arr.size else b"")


class StreamingNpz:
    """An ``.npz`` (the layout of :func:`write_npz`) written member by member by a background thread.

    ``add`` hands an array over as soon as it is final, so the writing (~150 MB for an hour of
    motion, system time in the kernel) overlaps the computing of the rest; ``close`` waits for the
    thread and moves the finished file into place (atomically, as :meth:`ClipRecord.save`);
    ``abort`` drops it. Arrays must not change after ``add``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp.npz")
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"write {self.path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with zipfile.ZipFile(self._tmp, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                while (item := self._queue.get()) is not None:
                    _write_member(zf, *item)
        except BaseException as e:  # noqa: BLE001 - handed to the caller by close()
            self._error = e
            while self._queue.get() is not None:  # let add() / close() finish
                pass

    def add(self, key: str, value: np.ndarray) -> None:
        """Queue ``value`` as member ``key.npy``."""
        self._queue.put((key, value))

    def close(self) -> Path:
        """Finish the file and move it into place; re-raises the writer's error (nothing is left then)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            self._tmp.unlink(missing_ok=True)
            raise self._error
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the partial file."""
        self._queue.put(None)
        self._thread.join()
        self._tmp.unlink(missing_ok=True)


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
