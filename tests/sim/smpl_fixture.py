"""Generate small but real-shaped SMPL-family model files for the tests (nothing licensed).

The official SMPL / SMPL-H / SMPL-X files cannot be redistributed, so the tests build a stand-in
with the real array names and shapes from the built-in body (:class:`toolkit.sim.body.BuiltinBody`,
1.70 m):

* every one of the 24 segments is a closed tube: rings of points on the built-in elliptic
  cylinder surface (``surface_point``) plus a shallow conical cap (one pole vertex 2 mm beyond
  the segment end) at each end; each
  vertex is skinned (one-hot) to its segment's joint (SMPL-H / SMPL-X: finger-tube vertices to
  the nearest finger joint);
* the vertex count is met exactly (ring spacing chosen by bisection, the few missing vertices
  added by splitting torso triangles at their centroid); 24 closed tubes have ``2 V - 96``
  faces, so the face count is padded to the real one with duplicates of torso faces;
* ``J_regressor`` rows average the first ring of each segment, whose centre is that joint
  exactly; SMPL-H / SMPL-X finger, jaw and eye joints use affine weights of nearby vertices
  (rows sum to 1, so they stay exact under the shape blend shapes);
* ``shapedirs[..., 0]`` scales the body about the model origin by 5 % per unit (beta 0 up =
  taller), ``shapedirs[..., 1]`` widens every segment by 5 % per unit; ``posedirs`` are zero;
* vertices are written in an SMPL-like model frame: y up, facing +z, left +x, shifted by
  :data:`MODEL_SHIFT` so that the pelvis is near SMPL's (about 0.22 m below the origin).

An official-style ``.pkl`` (Python-2-era layout: chumpy ``Ch`` wrappers, a ``csc_matrix``
``J_regressor``, string entries) is written with a fake ``chumpy`` package that lives in
``sys.modules`` only while pickling.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse

from toolkit.sim.body import BuiltinBody
from toolkit.sim.skeleton import NUM_JOINTS, PARENTS

#: Offset from the built-in body's frame (soles at y = 0, pelvis at x = z = 0) to the model frame.
MODEL_SHIFT = np.array([0.002, -1.2, 0.025])
#: Real vertex and face counts.
COUNTS = {"smpl": (6890, 13776), "smplh": (6890, 13776), "smplx": (10475, 20908)}
#: Number of shape components written (SMPL 10; AMASS's SMPL-H 16; SMPL-X v1.0: 10 shape + 10 expression).
NUM_SHAPE = {"smpl": 10, "smplh": 16, "smplx": 20}
HEIGHT_PER_BETA0 = 0.05
_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
_TORSO = (0, 3, 6, 9)
_POLE_BULGE_M = 0.002
_LAST_RING_U = 0.99  # the last ring stops short of the child joint, whose own ring starts there


def _tube_counts(body: BuiltinBody, spacing: float) -> list[tuple[int, int]]:
    out = []
    for j in range(NUM_JOINTS):
        start, end = body.segment_ends(j)
        length = float(np.linalg.norm(end - start))
        perimeter = body.segment_area_m2(j) / length
        nt = max(8, 2 * round(perimeter / (2 * spacing)))
        nu = max(3, round(length / spacing) + 1)
        out.append((nu, nt))
    return out


def _choose_spacing(body: BuiltinBody, target: int) -> list[tuple[int, int]]:
    """Ring counts whose vertex total (with 2 poles per tube) is as large as possible <= target."""
    lo, hi = 0.005, 0.2  # count(lo) > target >= count(hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if sum(nu * nt for nu, nt in _tube_counts(body, mid)) + 2 * NUM_JOINTS > target:
            lo = mid
        else:
            hi = mid
    return _tube_counts(body, hi)


def _build_tubes(body: BuiltinBody, target_v: int) -> dict[str, np.ndarray]:
    """Closed tubes on the built-in surface: vertices, faces, segment of each vertex, ring info."""
    counts = _choose_spacing(body, target_v)
    verts, faces, seg, outward, ring0 = [], [], [], [], {}
    face_seg: list[int] = []
    base = 0
    for j, (nu, nt) in enumerate(counts):
        start, end = body.segment_ends(j)
        theta = 2 * math.pi * np.arange(nt) / nt
        rings = []
        us = _LAST_RING_U * np.arange(nu) / (nu - 1)
        for u in us:
            centre = start + u * (end - start)
            p0, _, _ = body.surface_point(j, u, 0.0)
            p90, _, _ = body.surface_point(j, u, 0.5 * math.pi)
            rings.append(centre + np.outer(np.cos(theta), p0 - centre) + np.outer(np.sin(theta), p90 - centre))
        ring_pts = np.concatenate(rings)
        d = (end - start) / np.linalg.norm(end - start)
        # poles 2 mm beyond the ends: shallow cones, so neighbouring tubes share no vertex position
        verts += [ring_pts, (start - _POLE_BULGE_M * d)[None], (end + _POLE_BULGE_M * d)[None]]
        outward.append(ring_pts - np.repeat([start + u * (end - start) for u in us], nt, axis=0))
        outward += [-d[None], d[None]]
        seg += [j] * (nu * nt + 2)
        ring0[j] = base + np.arange(nt)
        idx = base + np.arange(nu * nt).reshape(nu, nt)
        nxt = np.roll(idx, -1, axis=1)
        a, b, c, dd = idx[:-1], nxt[:-1], idx[1:], nxt[1:]
        tube = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, dd, c], -1).reshape(-1, 3)])
        p_start, p_end = base + nu * nt, base + nu * nt + 1
        cap0 = np.stack([np.full(nt, p_start), idx[0], nxt[0]], -1)
        cap1 = np.stack([np.full(nt, p_end), idx[-1], nxt[-1]], -1)
        faces += [tube, cap0, cap1]
        face_seg += [j] * (len(tube) + 2 * nt)
        base += nu * nt + 2
    return {
        "v": np.concatenate(verts),
        "f": np.concatenate(faces).astype(np.int64),
        "seg": np.array(seg),
        "out": np.concatenate(outward),
        "face_seg": np.array(face_seg),
        "ring0": ring0,
    }


def _face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])


def _orient_outward(t: dict) -> None:
    """Flip faces whose normal points into their tube (per-vertex outward directions averaged)."""
    v, f = t["v"], t["f"]
    ref = t["out"][f].sum(axis=1)
    flip = np.einsum("ij,ij->i", _face_normals(v, f), ref) < 0
    f[flip] = f[flip][:, [0, 2, 1]]


def _split_faces(t: dict, extra: int) -> None:
    """Add ``extra`` vertices by splitting torso triangles at their centroids (keeps orientation)."""
    if extra <= 0:
        return
    v, f, seg, face_seg = t["v"], t["f"], t["seg"], t["face_seg"]
    cand = np.flatnonzero(np.isin(face_seg, _TORSO) & np.isin(seg[f[:, 0]], _TORSO))
    picks = cand[np.linspace(0, len(cand) - 1, extra).round().astype(int)]
    new_v = v[f[picks]].mean(axis=1)
    new_ids = len(v) + np.arange(extra)
    a, b, c = f[picks, 0], f[picks, 1], f[picks, 2]
    f[picks] = np.stack([a, b, new_ids], -1)
    added = np.concatenate([np.stack([b, c, new_ids], -1), np.stack([c, a, new_ids], -1)])
    t["v"] = np.concatenate([v, new_v])
    t["f"] = np.concatenate([f, added])
    t["seg"] = np.concatenate([seg, seg[a]])
    t["face_seg"] = np.concatenate([face_seg, face_seg[picks], face_seg[picks]])


def _pad_faces(t: dict, target_f: int) -> None:
    missing = target_f - len(t["f"])
    if missing < 0:
        raise RuntimeError(f"fixture has {len(t['f'])} faces, more than {target_f}")
    cand = np.flatnonzero(np.isin(t["face_seg"], _TORSO))
    picks = cand[np.linspace(0, len(cand) - 1, missing).round().astype(int)] if missing else cand[:0]
    t["f"] = np.concatenate([t["f"], t["f"][picks]])


def _affine_row(v: np.ndarray, point: np.ndarray, pool: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids and affine weights (sum 1) of the ``k`` pool vertices nearest ``point`` reproducing it."""
    ids = pool[np.argsort(np.linalg.norm(v[pool] - point, axis=1))[:k]]
    a = np.vstack([v[ids].T, np.ones(k)])
    w = np.linalg.lstsq(a, np.append(point, 1.0), rcond=None)[0]
    return ids, w


def _hand_joints(body: BuiltinBody, side: int) -> dict[str, np.ndarray]:
    """Rest positions of the 15 MANO joints of one hand (side 0 left, 1 right), built-in frame."""
    wrist, knuckle = body.rest_joints[20 + side], body.rest_joints[22 + side]
    _, tip = body.segment_ends(22 + side)
    along = tip - knuckle
    width = 0.04 * body.height_m / 1.7
    z = np.array([0.0, 0.0, 1.0])
    out = {}
    for name, dz in (("index", 0.5), ("middle", 0.0), ("pinky", -0.9), ("ring", -0.45)):
        base = knuckle + dz * width * z
        out[f"{name}1"], out[f"{name}2"], out[f"{name}3"] = base, base + 0.4 * along, base + 0.7 * along
    t1 = wrist + 0.3 * (knuckle - wrist) + 0.8 * width * z
    out["thumb1"], out["thumb2"], out["thumb3"] = t1, t1 + 0.4 * (knuckle - wrist), t1 + 0.8 * (knuckle - wrist)
    return out


def _joint_layout(kind: str) -> list[tuple[str, int]]:
    """(name, parent) of every joint of the model type, in the official order."""
    body = [(str(j), int(PARENTS[j])) for j in range(22)]
    if kind == "smpl":
        return body + [("22", 20), ("23", 21)]
    layout = list(body)
    first = 22
    if kind == "smplx":
        layout += [("jaw", 15), ("leye", 15), ("reye", 15)]
        first = 25
    for side, wrist in ((0, 20), (1, 21)):
        for fi, finger in enumerate(_FINGERS):
            j1 = first + 15 * side + 3 * fi
            layout += [(f"{side}{finger}1", wrist), (f"{side}{finger}2", j1), (f"{side}{finger}3", j1 + 1)]
    return layout


def make_model_arrays(kind: str = "smpl") -> dict[str, np.ndarray]:
    """The arrays of a real-shaped SMPL (``"smpl"``), SMPL-H (``"smplh"``) or SMPL-X (``"smplx"``) model."""
    nv, nf = COUNTS[kind]
    body = BuiltinBody()
    t = _build_tubes(body, nv)
    _orient_outward(t)
    _split_faces(t, nv - len(t["v"]))
    _pad_faces(t, nf)
    v, seg = t["v"], t["seg"]
    layout = _joint_layout(kind)
    nj = len(layout)
    jreg = np.zeros((nj, nv))
    body_rows = NUM_JOINTS if kind == "smpl" else 22  # SMPL-H / SMPL-X have no joints 22 / 23 of SMPL
    for j in range(body_rows):
        jreg[j, t["ring0"][j]] = 1.0 / len(t["ring0"][j])
    weights = np.zeros((nv, nj))
    body_v = seg < body_rows
    weights[np.flatnonzero(body_v), seg[body_v]] = 1.0
    if kind != "smpl":
        names = [n for n, _ in layout]
        for side in (0, 1):
            hand = _hand_joints(body, side)
            pool = np.flatnonzero(np.isin(seg, (20 + side, 22 + side)))
            cols = []
            for key, pos in hand.items():
                col = names.index(f"{side}{key}")
                cols.append((col, pos))
                if key == "middle1":  # the knuckle: the finger tube's first ring, exactly
                    jreg[col, t["ring0"][22 + side]] = 1.0 / len(t["ring0"][22 + side])
                else:
                    ids, w = _affine_row(v, pos, pool)
                    jreg[col, ids] = w
            fingers = np.flatnonzero(seg == 22 + side)
            pos = np.stack([p for _, p in cols])
            nearest = np.argmin(np.linalg.norm(v[fingers, None] - pos[None], axis=2), axis=1)
            weights[fingers] = 0.0
            weights[fingers, np.array([c for c, _ in cols])[nearest]] = 1.0
        if kind == "smplx":
            head = body.rest_joints[15]
            pool = np.flatnonzero(seg == 15)
            for name, off in (("jaw", (0.0, 0.01, 0.04)), ("leye", (0.03, 0.07, 0.08)), ("reye", (-0.03, 0.07, 0.08))):
                ids, w = _affine_row(v, head + np.array(off), pool)
                jreg[names.index(name), ids] = w
    parents = np.array([p for _, p in layout], dtype=np.int64)
    parents[0] = 4294967295  # the official files store the root's parent as uint32 -1
    ns = NUM_SHAPE[kind]
    axis_pt = v.copy()
    for j in range(NUM_JOINTS):  # radial offsets from each segment's axis, for the girth component
        start, end = body.segment_ends(j)
        d = (end - start) / np.linalg.norm(end - start)
        m = seg == j
        rel = v[m] - start
        axis_pt[m] = start + np.outer(rel @ d, d)
    shapedirs = np.zeros((nv, 3, ns), dtype=np.float32)
    model_v = v + MODEL_SHIFT
    shapedirs[:, :, 0] = HEIGHT_PER_BETA0 * model_v
    shapedirs[:, :, 1] = 0.05 * (v - axis_pt)
    arrays = {
        "v_template": model_v.astype(np.float64),
        "shapedirs": shapedirs,
        "posedirs": np.zeros((nv, 3, 9 * (nj - 1)), dtype=np.float32),
        "J_regressor": jreg,
        "weights": weights,
        "kintree_table": np.stack([parents, np.arange(nj)]),
        "f": t["f"].astype(np.uint32),
    }
    if kind != "smpl":
        for s in "lr":
            arrays[f"hands_components{s}"] = np.eye(45)
            arrays[f"hands_mean{s}"] = np.zeros(45)
    if kind == "smplx":
        arrays["lmk_faces_idx"] = np.arange(51, dtype=np.int64) * 7
        arrays["lmk_bary_coords"] = np.full((51, 3), 1.0 / 3.0)
    return arrays


def write_model_npz(path: str | Path, kind: str = "smpl") -> Path:
    """Write a real-shaped model ``.npz`` (plain arrays, no pickle) and return its path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, **make_model_arrays(kind))
    return p


# ----------------------------------------------------------------------------------------------
# Official-style pickles


@contextlib.contextmanager
def fake_chumpy() -> Iterator[types.SimpleNamespace]:
    """A fake ``chumpy`` package in ``sys.modules`` (only for pickling; removed afterwards).

    Its ``chumpy.ch.Ch`` pickles like the real one: ``__getstate__`` returns the instance dict
    (the wrapped array under ``'x'`` plus chumpy's bookkeeping); ``chumpy.reordering.transpose``
    is an expression over another ``Ch`` (no ``'x'``).
    """
    names = ("chumpy", "chumpy.ch", "chumpy.reordering")
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}

    class Ch:
        def __init__(self, x: np.ndarray):
            self.x = np.asarray(x)
            self._dirty_vars: set = set()
            self._itr = None
            self._depends_on_deps: dict = {}
            self._make_dense = False
            self._make_sparse = False

        def __getstate__(self) -> dict:
            return dict(self.__dict__)

        def __setstate__(self, d: dict) -> None:
            self.__dict__.update(d)

    class transpose:  # noqa: N801 - the real chumpy class name
        def __init__(self, a: Ch, axes: tuple[int, ...]):
            self.a, self.axes = a, axes

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    transpose.__module__, transpose.__qualname__ = "chumpy.reordering", "transpose"
    mods["chumpy.ch"].Ch = Ch
    mods["chumpy.reordering"].transpose = transpose
    mods["chumpy"].ch = mods["chumpy.ch"]
    sys.modules.update(mods)
    try:
        yield types.SimpleNamespace(Ch=Ch, transpose=transpose)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def official_style_dict(arrays: dict[str, np.ndarray], ch: types.SimpleNamespace) -> dict:
    """The dict an official SMPL ``.pkl`` holds, built from plain model arrays."""
    jreg = scipy.sparse.csc_matrix(arrays["J_regressor"])
    return {
        "v_template": ch.Ch(arrays["v_template"]),
        "shapedirs": ch.Ch(arrays["shapedirs"].astype(np.float64)),
        "posedirs": arrays["posedirs"].astype(np.float64),
        "J_regressor": jreg,
        "J_regressor_prior": jreg.copy(),
        "weights": ch.Ch(arrays["weights"]),
        "weights_prior": arrays["weights"].copy(),
        "kintree_table": arrays["kintree_table"].astype(np.int64),
        "f": arrays["f"].astype(np.uint32),
        "J": ch.Ch(arrays["J_regressor"] @ arrays["v_template"]),
        "vert_sym_idxs": np.arange(len(arrays["v_template"]), dtype=np.int64),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "extra_expression": ch.transpose(ch.Ch(np.eye(3)), (1, 0)),
    }


def write_official_pkl(path: str | Path, kind: str = "smpl", protocol: int = 2) -> Path:
    """Write an official-style model pickle (chumpy wrappers, sparse ``J_regressor``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    arrays = make_model_arrays(kind)
    with fake_chumpy() as ch:
        data = pickle.dumps(official_style_dict(arrays, ch), protocol=protocol)
    p.write_bytes(data)
    return p


class _Exploit:
    """Pickles as a call to ``os.system`` (used to check that such pickles are refused)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def write_malicious_pkl(path: str | Path, marker: str | Path) -> Path:
    """A model-looking pickle whose ``v_template`` would run ``touch <marker>`` if unpickled naively."""
    p = Path(path)
    p.write_bytes(pickle.dumps({"v_template": _Exploit(f"touch {marker}"), "f": np.zeros((1, 3))}, protocol=2))
    return p
