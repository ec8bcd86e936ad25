"""One-time, audited converter: seglearn's pickled Apple Watch dataset -> a safe ``.npz``.

The seglearn "watch" dataset (BSD-3, subset of SPAR, Burns et al. 2018) ships inside the PyPI wheel
``seglearn==1.2.5`` as ``seglearn/data/watch_dataset.npy``: a 0-d object array holding a **pickled**
dict ``{"X": list of (n_i, 6) float64, "y", "subject", "side": (140,) arrays, "X_labels",
"y_labels": lists of str}``. Unpickling runs code chosen by the file's author, so library code never
does it. This script is the one place in the project that reads that pickle; it downloads nothing
(get the wheel yourself: ``pip download --no-deps seglearn==1.2.5 -d DIR``) and writes an ``.npz``
that is read with ``allow_pickle=False`` by :func:`firmware_bridge.virtual.sources.load_seglearn`.

Why this is acceptable, and how it is contained:

1. the input's SHA-256 is checked against the known digest of the file in seglearn 1.2.5 (or of the
   wheel); a different file is refused unless ``--accept-unknown-hash`` is given;
2. instead of ``np.load(..., allow_pickle=True)`` (which would call ``pickle.load`` with every
   global importable), the .npy header is parsed with ``numpy.lib.format`` and the pickle stream is
   read by :class:`_RestrictedUnpickler`, which resolves **only** the four globals this file needs
   (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``, ``_codecs.encode``)
   and refuses anything else;
3. the result is validated (shapes, dtypes, finite values) before anything is written.

Output ``.npz`` (all arrays plain, no objects): ``data`` (M, 6) float64 rows of every recording
concatenated (ax, ay, az in g with the iOS sign, wx, wy, wz in rad/s, as in the source: the sign/unit
conversion happens in ``load_seglearn``, documented there); ``offsets`` (K+1,) int64; ``y``,
``subject``, ``side`` (K,) int64; ``X_labels``, ``y_labels`` unicode arrays; ``rate_hz`` (50.0);
``source_sha256`` (str).

Usage::

    python -m firmware_bridge.virtual.convert_seglearn seglearn-1.2.5-py3-none-any.whl \\
        --out ../shared/data/seglearn/watch_dataset.npz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import InputFileError

#: SHA-256 of seglearn/data/watch_dataset.npy inside seglearn 1.2.5 (computed here from the PyPI wheel).
KNOWN_NPY_SHA256 = "eb122f23cdf06ef6bd6c6c5312958ec5cf9d038e2e6d457b8081662c75a42537"
#: SHA-256 of seglearn-1.2.5-py3-none-any.whl as served by PyPI (computed here after pip download).
KNOWN_WHEEL_SHA256 = "ec6b952c85c9627050102854b372d85951563d3b990df677d7c55547e87413dd"
NPY_MEMBER = "seglearn/data/watch_dataset.npy"
RATE_HZ = 50.0

_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,  # type: ignore[attr-defined]
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,  # type: ignore[attr-defined]
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals a pickled dict of numpy arrays needs."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name} in the seglearn pickle") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(path: str | Path, accept_unknown_hash: bool = False) -> tuple[bytes, str]:
    """The .npy bytes from a wheel or a .npy file, after the SHA-256 check. Returns (bytes, sha256 of npy)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file (get it with: pip download --no-deps seglearn==1.2.5 -d DIR)")
    raw = path.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(raw)):
        wheel_ok = _sha256(raw) == KNOWN_WHEEL_SHA256
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            try:
                npy = z.read(NPY_MEMBER)
            except KeyError:
                raise InputFileError(path, f"wheel has no {NPY_MEMBER}") from None
    else:
        wheel_ok = False
        npy = raw
    digest = _sha256(npy)
    if not (wheel_ok or digest == KNOWN_NPY_SHA256 or accept_unknown_hash):
        raise InputFileError(path, f"SHA-256 {digest} is not seglearn 1.2.5's watch_dataset.npy "
                                   f"({KNOWN_NPY_SHA256}); refusing to unpickle (--accept-unknown-hash overrides)")
    return npy, digest


def unpickle_npy(npy: bytes) -> Any:
    """The object stored in an object-dtype .npy, via the restricted unpickler (never ``allow_pickle=True``)."""
    f = io.BytesIO(npy)
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype != np.dtype(object):
        raise ValueError(f"expected an object array, got dtype {dtype}")
    obj = _RestrictedUnpickler(f).load()
    if isinstance(obj, np.ndarray) and obj.shape == () and shape == ():
        obj = obj.item()
    return obj


def to_arrays(obj: Any) -> dict[str, np.ndarray]:
    """Validate the unpickled dict and flatten it into plain arrays (see module docstring)."""
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
    out = {
        "data": np.concatenate([np.asarray(x, dtype=np.float64) for x in xs]),
        "offsets": np.concatenate([[0], np.cumsum([x.shape[0] for x in xs])]).astype(np.int64),
        "X_labels": np.asarray([str(s) for s in obj["X_labels"]], dtype=np.str_),
        "y_labels": np.asarray([str(s) for s in obj["y_labels"]], dtype=np.str_),
        "rate_hz": np.float64(RATE_HZ),
    }
    for key in ("y", "subject", "side"):
        v = np.asarray(obj[key])
        if v.shape != (k,) or v.dtype.kind not in "iuf":
            raise ValueError(f"{key} must be ({k},) numbers")
        out[key] = v.astype(np.int64)
    if out["X_labels"].shape != (6,):
        raise ValueError("X_labels must have 6 entries")
    if out["y"].min() < 0 or out["y"].max() >= len(out["y_labels"]):
        raise ValueError("y indexes outside y_labels")
    return out


def convert(source: str | Path, out: str | Path, accept_unknown_hash: bool = False) -> dict[str, np.ndarray]:
    """Convert ``source`` (wheel or .npy) into the safe ``out`` .npz; returns the arrays written."""
    npy, digest = read_source(source, accept_unknown_hash)
    try:
        arrays = to_arrays(unpickle_npy(npy))
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError) as e:
        raise InputFileError(source, f"not the seglearn watch dataset: {e}") from None
    arrays["source_sha256"] = np.str_(digest)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    with np.load(out, allow_pickle=False) as z:  # proves the result needs no pickle
        assert z["data"].shape == arrays["data"].shape
    return arrays


def main(argv: Sequence[str] | None = None) -> int:
    from toolkit.cli.common import run_cli

    p = argparse.ArgumentParser(
        prog="convert_seglearn", description="Convert seglearn 1.2.5's pickled watch dataset to a safe .npz (once).",
        epilog="example: pip download --no-deps seglearn==1.2.5 -d /tmp/sl && python -m "
               "firmware_bridge.virtual.convert_seglearn /tmp/sl/seglearn-1.2.5-py3-none-any.whl "
               "--out ../shared/data/seglearn/watch_dataset.npz")
    p.add_argument("source", help="seglearn-1.2.5-py3-none-any.whl or the extracted watch_dataset.npy")
    p.add_argument("--out", required=True, help="output .npz (e.g. DATA_ROOT/seglearn/watch_dataset.npz)")
    p.add_argument("--accept-unknown-hash", action="store_true", help="convert a file whose SHA-256 is not known")
    args = p.parse_args(argv)

    def body() -> int:
        arrays = convert(args.source, args.out, args.accept_unknown_hash)
        print(f"wrote {args.out}: {len(arrays['offsets']) - 1} recordings, {arrays['data'].shape[0]} samples")
        return 0

    return run_cli("convert_seglearn", body)


if __name__ == "__main__":
    sys.exit(main())
