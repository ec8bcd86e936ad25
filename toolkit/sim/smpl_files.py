"""Read SMPL / SMPL-H / SMPL-X model files safely, without chumpy.

The official model files are licensed and come from users, so they are treated as untrusted input:

* ``.npz`` files are read with ``np.load(allow_pickle=False)``. Members stored as pickled object
  arrays (SMPL-X's ``joint2num`` / ``part2num`` dictionaries, for instance) are skipped; a file
  whose *required* arrays need pickle is refused.
* ``.pkl`` files (the official SMPL / SMPL-H releases, pickled under Python 2 with chumpy objects
  inside) are read with a restricted :class:`pickle.Unpickler`. Its ``find_class`` resolves only

  - numpy's array, dtype and scalar reconstruction functions,
  - ``scipy.sparse`` matrix classes, which are replaced by a stand-in that keeps the pickled
    state and is rebuilt afterwards through scipy's public constructors,
  - any ``chumpy`` class (``chumpy.ch.Ch``, ``chumpy.reordering.*``, ...), replaced by a stand-in
    that keeps its constructor arguments and pickled ``__dict__``; the wrapped array is the
    state's ``'x'`` entry (how ``Ch`` stores its value). A chumpy *expression* without an ``'x'``
    cannot be evaluated without chumpy; it is refused only if the model needs that key,
  - ``set`` / ``frozenset`` / ``object``, ``copyreg._reconstructor`` and ``_codecs.encode``,
    which Python 2 and protocol-2 pickles use for plain containers and byte strings.

  Every other global (``os.system``, ``builtins.eval``, ...) stops the load with
  :class:`~toolkit.errors.InputFileError` before it is called.

:func:`load_model_file` returns plain numpy arrays, validated; :func:`convert_pkl_to_npz` writes
them to an ``.npz`` that ``smplx`` (and :mod:`toolkit.sim.smpl_body`) can read without chumpy.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from toolkit.errors import ConfigError, InputFileError
from toolkit.hashing import sha256_file

#: Arrays every SMPL-family model must hold.
REQUIRED_KEYS: tuple[str, ...] = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
#: Number of joints of each model type (SMPL: 24; SMPL-H: 22 body + 2 x 15 hand; SMPL-X: + jaw, 2 eyes).
MODEL_JOINTS: dict[str, int] = {"smpl": 24, "smplh": 52, "smplx": 55}
MODEL_TYPES: tuple[str, ...] = tuple(MODEL_JOINTS)
GENDERS: tuple[str, ...] = ("neutral", "male", "female")

_MAX_NESTING = 32


# ----------------------------------------------------------------------------------------------
# Restricted unpickling


class _Refused(Exception):
    """A pickle asked for a global outside the allow-list."""


class _PickledStandIn:
    """Base of the stand-ins: records constructor arguments and the pickled state, runs nothing."""

    qualname: str = ""
    args: tuple = ()
    kwargs: dict = {}
    state: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> _PickledStandIn:
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # REDUCE calls cls(*args)
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def state_dict(self) -> dict:
        """The pickled ``__dict__`` (a ``(dict, slots)`` pair is merged)."""
        st = self.state
        if isinstance(st, tuple) and len(st) == 2 and all(s is None or isinstance(s, dict) for s in st):
            merged: dict = {}
            for part in st:
                merged.update(part or {})
            return merged
        return st if isinstance(st, dict) else {}


class _ChumpyStandIn(_PickledStandIn):
    """Stands in for any chumpy class."""


class _SparseStandIn(_PickledStandIn):
    """Stands in for a scipy.sparse matrix class; rebuilt by :func:`_rebuild_sparse`."""


_STANDIN_CACHE: dict[tuple[str, str], type] = {}


def _standin(base: type, module: str, name: str) -> type:
    key = (module, name)
    if key not in _STANDIN_CACHE:
        _STANDIN_CACHE[key] = type(f"{base.__name__}[{module}.{name}]", (base,), {"qualname": f"{module}.{name}"})
    return _STANDIN_CACHE[key]


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
        from numpy._core.numeric import _frombuffer
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
        from numpy.core.numeric import _frombuffer  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for mod in ("numpy.core", "numpy._core"):
        allowed[(f"{mod}.multiarray", "_reconstruct")] = _reconstruct
        allowed[(f"{mod}.multiarray", "scalar")] = scalar
        allowed[(f"{mod}.numeric", "_frombuffer")] = _frombuffer
    return allowed


def _safe_builtins() -> dict[tuple[str, str], Any]:
    import _codecs
    import copyreg

    allowed: dict[tuple[str, str], Any] = {("_codecs", "encode"): _codecs.encode}
    for mod in ("builtins", "__builtin__"):
        allowed[(mod, "set")] = set
        allowed[(mod, "frozenset")] = frozenset
        allowed[(mod, "object")] = object
    for mod in ("copyreg", "copy_reg"):
        allowed[(mod, "_reconstructor")] = copyreg._reconstructor
    return allowed


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {**_numpy_globals(), **_safe_builtins()}
_SPARSE_FORMATS = ("csc", "csr", "coo", "bsr", "dia", "dok", "lil")


class _ModelUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals listed in the module docstring."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _standin(_ChumpyStandIn, module, name)
        if (module == "scipy.sparse" or module.startswith("scipy.sparse.")) and name.endswith(("_matrix", "_array")):
            if name.split("_")[0] in _SPARSE_FORMATS:
                return _standin(_SparseStandIn, module, name)
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused(f"persistent id {pid!r}")


def _rebuild_sparse(obj: _SparseStandIn) -> np.ndarray:
    """Dense (rows, cols) array of a pickled scipy.sparse matrix, via public constructors only."""
    st = obj.state_dict()
    fmt = obj.qualname.rsplit(".", 1)[-1].split("_")[0]
    shape = st.get("_shape", st.get("shape"))
    if shape is None or len(shape) != 2:
        raise ValueError(f"pickled {obj.qualname} has no 2-d shape")
    shape = (int(shape[0]), int(shape[1]))
    if fmt in ("csc", "csr", "bsr"):
        parts = (np.asarray(st["data"]), np.asarray(st["indices"]), np.asarray(st["indptr"]))
        cls = {"csc": scipy.sparse.csc_matrix, "csr": scipy.sparse.csr_matrix, "bsr": scipy.sparse.bsr_matrix}[fmt]
        return np.asarray(cls(parts, shape=shape).toarray())
    if fmt == "coo":
        rows = st.get("row", st.get("_row"))
        cols = st.get("col", st.get("_col"))
        if rows is None and "coords" in st:
            rows, cols = st["coords"]
        mat = scipy.sparse.coo_matrix((np.asarray(st["data"]), (np.asarray(rows), np.asarray(cols))), shape=shape)
        return np.asarray(mat.toarray())
    raise ValueError(f"pickled {obj.qualname} is not supported (store the matrix as csc, csr or coo)")


class _Unresolvable(Exception):
    pass


def _resolve(value: Any, depth: int = 0) -> Any:
    """Replace chumpy / sparse stand-ins by numpy arrays (recursively through ``'x'``)."""
    if depth > _MAX_NESTING:
        raise _Unresolvable("nesting too deep")
    if isinstance(value, _SparseStandIn):
        return _rebuild_sparse(value)
    if isinstance(value, _ChumpyStandIn):
        st = value.state_dict()
        if "x" in st:
            return _resolve(st["x"], depth + 1)
        if value.qualname.endswith(".Ch") and value.args:  # Ch(x) pickled by constructor arguments
            return _resolve(value.args[0], depth + 1)
        raise _Unresolvable(f"{value.qualname} is a chumpy expression that needs chumpy to evaluate")
    return value


def _as_plain_array(value: Any) -> np.ndarray | None:
    """A non-object numpy array for ``value``, or None if it is not array data."""
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if isinstance(value, str):
        return np.array(value)
    if isinstance(value, (bool, int, float, np.generic, list, tuple, np.ndarray)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):
            return None
        return None if arr.dtype.hasobject else arr
    return None


def _load_pkl(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            raw = _ModelUnpickler(fh, encoding="latin1").load()
    except _Refused as e:
        raise InputFileError(
            path,
            f"refused to unpickle {e.args[0]}: a model pickle may only hold numpy arrays, scipy.sparse "
            "matrices and chumpy arrays",
        ) from None
    except (OSError, EOFError, MemoryError, RecursionError, pickle.UnpicklingError, ValueError, TypeError,
            AttributeError, KeyError, IndexError) as e:  # fmt: skip
        raise InputFileError(path, f"not a readable SMPL-family model pickle ({type(e).__name__}: {e})") from None
    if not isinstance(raw, dict):
        raise InputFileError(path, f"a model pickle must hold a dict of arrays, found {type(raw).__name__}")
    out: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        try:
            arr = _as_plain_array(_resolve(value))
        except _Unresolvable as e:
            if key in REQUIRED_KEYS:
                raise InputFileError(path, f"key {key!r}: {e}") from None
            continue
        except (ValueError, TypeError, KeyError, IndexError, MemoryError) as e:
            if key in REQUIRED_KEYS:
                raise InputFileError(path, f"key {key!r} could not be rebuilt ({type(e).__name__}: {e})") from None
            continue
        if arr is not None:
            out[key] = arr
    return out


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise InputFileError(path, f"not a plain .npz archive (pickled data is refused): {e}") from None
    except OSError as e:
        raise InputFileError(path, f"cannot read: {e}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputFileError(path, "expected an .npz archive of named arrays, found a single .npy array")
    out: dict[str, np.ndarray] = {}
    with data:
        for key in data.files:
            try:
                out[key] = np.asarray(data[key])
            except ValueError:  # an object array: needs pickle
                if key in REQUIRED_KEYS:
                    raise InputFileError(
                        path, f"array {key!r} is stored as a pickled object array; re-save it as a plain array"
                    ) from None
            except (OSError, EOFError) as e:
                raise InputFileError(path, f"damaged archive member {key!r}: {e}") from None
    return out


# ----------------------------------------------------------------------------------------------
# Validation


def model_type_of(arrays: dict[str, np.ndarray]) -> str:
    """``"smpl"``, ``"smplh"`` or ``"smplx"`` from the joint count of validated model arrays."""
    j = int(arrays["J_regressor"].shape[0])
    for name, n in MODEL_JOINTS.items():
        if n == j:
            return name
    raise ConfigError(f"{j} joints matches no SMPL-family model")


def validate_model_arrays(arrays: dict[str, Any], path: str | Path) -> dict[str, np.ndarray]:
    """Check keys, shapes and values of SMPL-family arrays; return them normalised.

    Output arrays: ``v_template`` (V, 3), ``shapedirs`` (V, 3, S), ``posedirs`` (V, 3, 9 (J - 1)),
    ``J_regressor`` (J, V) dense, ``weights`` (V, J), ``kintree_table`` (2, J) int64,
    ``f`` (F, 3) int64, plus any other plain arrays the file holds (hand PCA, landmarks, ...).
    Float arrays keep their stored precision.

    Raises:
        InputFileError: one line naming the first problem found.
    """
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise InputFileError(path, f"not an SMPL-family model: missing {', '.join(repr(k) for k in missing)}")
    out = dict(arrays)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        a = np.asarray(out[key])
        if a.dtype.kind not in "fiu":
            raise InputFileError(path, f"{key!r} must be numeric, found dtype {a.dtype}")
        if a.dtype.kind != "f":
            a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise InputFileError(path, f"{key!r} contains NaN or infinite values")
        out[key] = a
    v = out["v_template"]
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 4:
        raise InputFileError(path, f"'v_template' must be (V, 3), found {v.shape}")
    nv = v.shape[0]
    jr = out["J_regressor"]
    if jr.ndim != 2 or jr.shape[1] != nv:
        raise InputFileError(path, f"'J_regressor' must be (J, {nv}), found {jr.shape}")
    nj = jr.shape[0]
    if nj not in MODEL_JOINTS.values():
        raise InputFileError(path, f"'J_regressor' has {nj} joints; SMPL has 24, SMPL-H 52, SMPL-X 55")
    expected = {
        "shapedirs": (nv, 3, None),
        "posedirs": (nv, 3, 9 * (nj - 1)),
        "weights": (nv, nj),
    }
    for key, shape in expected.items():
        a = out[key]
        if key == "shapedirs" and a.ndim == 2 and a.shape == (nv, 3):
            a = out[key] = a[:, :, None]
        if a.ndim != len(shape) or any(s is not None and s != t for s, t in zip(shape, a.shape, strict=True)):
            want = "(" + ", ".join("S" if s is None else str(s) for s in shape) + ")"
            raise InputFileError(path, f"{key!r} must be {want}, found {a.shape}")
    kt = np.asarray(out["kintree_table"])
    if kt.dtype.kind not in "iuf" or kt.shape != (2, nj):
        raise InputFileError(path, f"'kintree_table' must be an integer (2, {nj}) array, found {kt.dtype} {kt.shape}")
    kt = kt.astype(np.int64)
    parents = kt[0, 1:]
    if np.any(parents < 0) or np.any(parents >= np.arange(1, nj)):
        raise InputFileError(path, "'kintree_table' parents must precede their children")
    out["kintree_table"] = kt
    f = np.asarray(out["f"])
    if f.dtype.kind == "f" and np.all(np.isfinite(f)) and np.all(f == np.round(f)):
        f = f.astype(np.int64)
    if f.dtype.kind not in "iu" or f.ndim != 2 or f.shape[1] != 3 or f.shape[0] < 1:
        raise InputFileError(path, f"'f' must be an integer (F, 3) array, found {f.dtype} {f.shape}")
    f = f.astype(np.int64)
    if f.min() < 0 or f.max() >= nv:
        raise InputFileError(path, f"'f' indexes vertices outside 0..{nv - 1}")
    out["f"] = f
    return out


# ----------------------------------------------------------------------------------------------
# Public entry points


def load_model_file(path: str | Path) -> dict[str, np.ndarray]:
    """Load and validate an SMPL / SMPL-H / SMPL-X model file (``.npz`` or ``.pkl``), no chumpy.

    Returns:
        A dict of plain numpy arrays (see :func:`validate_model_arrays`).

    Raises:
        InputFileError: missing or unreadable file, refused pickle content, bad keys or shapes.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "model file not found")
    suffix = p.suffix.lower()
    if suffix == ".npz":
        arrays = _load_npz(p)
    elif suffix == ".pkl":
        arrays = _load_pkl(p)
    else:
        raise InputFileError(p, f"unsupported model file type {p.suffix!r} (expected .npz or .pkl)")
    return validate_model_arrays(arrays, p)


def convert_pkl_to_npz(pkl: str | Path, npz: str | Path) -> Path:
    """Convert an official model pickle to a plain ``.npz`` (no chumpy, no pickle needed to read).

    The sparse ``J_regressor`` is stored dense; chumpy arrays as their values; non-array content
    (strings become 0-d unicode arrays) is dropped. Returns the written path.

    ``smplx.SMPLH`` / ``smplx.SMPLX`` read the result with ``ext="npz"``; ``smplx.SMPL`` only
    unpickles files from a path, so SMPL arrays go in through ``data_struct`` (as
    :class:`toolkit.sim.smpl_body.SMPLBody` does for every type).
    """
    arrays = load_model_file(pkl)
    out = Path(npz)
    if out.suffix.lower() != ".npz":
        raise ConfigError(f"output must end in .npz, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    return out


def _model_filenames(model_type: str, gender: str) -> list[str]:
    """File names tried in a model folder, in order (smplx's names, AMASS's, official SMPL's)."""
    stem = f"{model_type.upper()}_{gender.upper()}"
    names = [f"{stem}.npz", f"{stem}.pkl", f"{model_type}/{stem}.npz", f"{model_type}/{stem}.pkl"]
    names += [f"{gender}/model.npz", f"{model_type}/{gender}/model.npz"]
    if model_type == "smpl":
        g = {"neutral": "neutral", "male": "m", "female": "f"}[gender]
        for sub in ("", "smpl/", "models/"):
            for ver in ("1.1.0", "1.0.0"):
                names += [
                    f"{sub}basicmodel_{g}_lbs_10_207_0_v{ver}.pkl",
                    f"{sub}basicModel_{g}_lbs_10_207_0_v{ver}.pkl",
                ]
    return names


def find_model_file(path: str | Path, model_type: str | None = None, gender: str = "neutral") -> Path:
    """The model file for ``path``: the file itself, or the matching file inside a model folder.

    Folders may follow smplx's layout (``SMPL_NEUTRAL.pkl``, ``smplh/SMPLH_MALE.npz``, ...),
    AMASS's (``male/model.npz``) or the official SMPL release (``basicmodel_m_lbs_10_207_0_v1.1.0.pkl``).
    With ``model_type=None`` a folder is searched for SMPL, then SMPL-H, then SMPL-X.
    """
    if gender not in GENDERS:
        raise ConfigError(f"gender must be one of {', '.join(GENDERS)}, got {gender!r}")
    if model_type is not None and model_type not in MODEL_TYPES:
        raise ConfigError(f"model_type must be one of {', '.join(MODEL_TYPES)}, got {model_type!r}")
    p = Path(path)
    if p.is_file():
        return p
    if not p.is_dir():
        raise InputFileError(p, "no such model file or folder")
    tried: list[str] = []
    for mt in [model_type] if model_type else list(MODEL_TYPES):
        for name in _model_filenames(mt, gender):
            tried.append(name)
            if (p / name).is_file():
                return p / name
    raise InputFileError(
        p, f"no {model_type or 'SMPL-family'} {gender} model file here (tried {', '.join(tried[:6])}, ...)"
    )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return sha256_file(path)
