"""Fixed-length windows for learning: from real recordings and from simulator datasets, on one time grid.

Defaults (chosen here, configurable): **30 Hz** model rate, **2 s** windows (60 samples), **1 s** hop.
30 Hz is reachable from every wrist source without upsampling except BasicMotions (10 Hz): sp-sw-har and MM-Fit
100 Hz, seglearn 50 Hz, OpenPack E4 32 Hz, the simulator 60 Hz; human arm motion has little energy above the
15 Hz Nyquist frequency; 2 s holds a walking stride or one exercise repetition.

Resampling a real recording (:func:`resample_recording`):

1. the recording is split at gaps longer than ``max_gap_s`` (default 0.25 s; a window never spans a gap);
2. each segment is linearly interpolated from its jittery timestamps onto a uniform grid at its own rate
   (``rec.rate_hz``, e.g. 100 Hz: the declared rate, or the measured one when they disagree by more than 2 %,
   :func:`toolkit.data.recording.checked_rate_hz`), which removes the jitter without filtering;
3. that uniform signal goes through the polyphase FIR of :mod:`toolkit.data.resampling` (anti-aliased when
   downsampling, band-limited interpolation when upsampling, constants exact) to the model rate; the grid of
   step 3 starts at the segment's first timestamp. Steps 2 and 3 are :func:`toolkit.data.resampling.
   resample_segment`, the function whose filter the streaming path (:mod:`toolkit.stream.resample`) shares;
4. labels: each output sample takes the label of the nearest input sample in time.

Windows: a window is kept when it fits in one segment; its label is the majority of its per-sample labels
(ties -> the smallest index); windows whose majority label is -1 (unlabelled) are dropped unless
``keep_unlabelled``. A recording without gyroscope gets NaN gyro channels and ``has_gyro`` False.

Synthetic windows (:func:`synthetic_windows`) read a simulator dataset folder (:mod:`toolkit.sim.dataset`; a clip's
optional ``texts`` become the window's ``templates``, older folders give one text per clip), take
the ``left_wrist`` and ``right_wrist`` placements (zeros + ``has_left/has_right`` False when a clip lacks one),
resample IMU with the same polyphase filter and the pose (local axis-angle joint rotations) by slerp to the
model rate, and cut windows on the same grid as the real ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from toolkit.data.recording import Recording
from toolkit.data.resampling import resample_segment
from toolkit.errors import ConfigError
from toolkit.sim.dataset import iter_clips
from toolkit.sim.devices import resample_to_rate

DEFAULT_RATE_HZ = 30.0
DEFAULT_WINDOW_S = 2.0
DEFAULT_HOP_S = 1.0
DEFAULT_MAX_GAP_S = 0.25
CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")


@dataclass
class RealWindows:
    """Windows cut from real recordings.

    Attributes:
        x: (N, L, 6) float32 [acc m/s^2 (3), gyro rad/s (3)] in the watch frame; gyro NaN where ``has_gyro`` False.
        y: (N,) int64 majority class index.
        subject: (N,) str subject id.
        recording: (N,) str recording id.
        has_gyro: (N,) bool.
        wrist: (N,) str "left" / "right" / "" (non-wrist device).
        start_s: (N,) float64 window start time in its recording [s].
        class_names: names of the class indices.
        rate_hz: sample rate of ``x`` [Hz]; ``window_s``, ``hop_s`` [s].
        meta: settings and per-recording conversion info.
    """

    x: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    recording: np.ndarray
    has_gyro: np.ndarray
    wrist: np.ndarray
    start_s: np.ndarray
    class_names: list[str]
    rate_hz: float
    window_s: float
    hop_s: float
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: np.ndarray) -> RealWindows:
        """The windows at ``index`` (int indices or a boolean mask)."""
        return RealWindows(self.x[index], self.y[index], self.subject[index], self.recording[index],
                           self.has_gyro[index], self.wrist[index], self.start_s[index], list(self.class_names),
                           self.rate_hz, self.window_s, self.hop_s, dict(self.meta))  # fmt: skip

    def class_counts(self) -> dict[str, int]:
        return {c: int(np.sum(self.y == i)) for i, c in enumerate(self.class_names)}


@dataclass
class SyntheticWindows:
    """Windows cut from a simulator dataset.

    Attributes:
        imu_left, imu_right: (N, L, 6) float32 [acc m/s^2, gyro rad/s] of the left / right wrist watch.
        has_left, has_right: (N,) bool (False: the clip had no such placement; the array holds zeros).
        pose: (N, L, 24, 3) float32 local joint rotations, axis-angle [rad] (SMPL order).
        text: (N,) int64 index into ``texts`` of the clip's main description (windows with the same main text
            share a label: their template sentences are interchangeable).
        texts: the distinct texts (main descriptions and template sentences).
        clip: (N,) str clip name; variant: (N,) int64 attribute variant.
        start_s: (N,) float64 window start [s].
        rate_hz, window_s, hop_s: the grid; meta: settings and the dataset's manifest summary.
        templates: (N, K) int64 indices into ``texts`` of every sentence of the window's clip (column 0 =
            ``text``), -1 padded; None at construction = ``text[:, None]`` (one sentence per clip).
    """

    imu_left: np.ndarray
    imu_right: np.ndarray
    has_left: np.ndarray
    has_right: np.ndarray
    pose: np.ndarray
    text: np.ndarray
    texts: list[str]
    clip: np.ndarray
    variant: np.ndarray
    start_s: np.ndarray
    rate_hz: float
    window_s: float
    hop_s: float
    meta: dict[str, Any] = field(default_factory=dict)
    templates: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.templates is None:
            self.templates = np.asarray(self.text, np.int64)[:, None]

    def __len__(self) -> int:
        return int(self.imu_left.shape[0])


def _check_grid(rate_hz: float, window_s: float, hop_s: float) -> tuple[int, int]:
    for k, v in (("rate_hz", rate_hz), ("window_s", window_s), ("hop_s", hop_s)):
        if not (isinstance(v, int | float | np.integer | np.floating) and np.isfinite(v) and v > 0):
            raise ConfigError(f"windows: {k} must be a positive number (got {v!r})")
    length = int(round(window_s * rate_hz))
    hop = int(round(hop_s * rate_hz))
    if length < 1 or hop < 1:
        raise ConfigError(f"windows: window {window_s} s / hop {hop_s} s give no samples at {rate_hz} Hz")
    return length, hop


def _segments(t: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """[start, stop) index ranges of ``t`` split where the step exceeds ``max_gap_s``."""
    breaks = np.flatnonzero(np.diff(t) > max_gap_s) + 1
    edges = np.concatenate([[0], breaks, [t.size]])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a >= 2]


def resample_recording(
    rec: Recording, rate_hz: float = DEFAULT_RATE_HZ, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Resample ``rec`` onto a uniform ``rate_hz`` grid (module docstring).

    Returns:
        One ``(t (M,), sig (M, 6), labels (M,))`` per gap-free segment: times [s], [acc, gyro] float64 (gyro NaN
        without a gyroscope), int64 labels.
    """
    t_all = rec.timestamps_s
    sig_all = np.concatenate([rec.acc, rec.gyro if rec.gyro is not None else np.zeros_like(rec.acc)], axis=1)
    out = []
    src_rate = float(rec.rate_hz)
    for a, b in _segments(t_all, max_gap_s):
        t, sig, lab = t_all[a:b], sig_all[a:b], rec.labels[a:b]
        # drop repeated timestamps (keep the first) so interpolation is well defined
        keep = np.concatenate([[True], np.diff(t) > 0])
        t, sig, lab = t[keep], sig[keep], lab[keep]
        if t.size < 2:
            continue
        if int(np.floor((t[-1] - t[0]) * src_rate + 1e-9)) + 1 < 2:
            continue
        t_res, res, _ = resample_segment(t, sig, src_rate, rate_hz)
        # nearest input sample for the labels
        pos = np.clip(np.searchsorted(t, t_res), 1, t.size - 1)
        nearer_left = (t_res - t[pos - 1]) <= (t[pos] - t_res)
        lab_res = np.where(nearer_left, lab[pos - 1], lab[pos]).astype(np.int64)
        if rec.gyro is None:
            res[:, 3:] = np.nan
        out.append((t_res, res, lab_res))
    return out


def majority_label(labels: np.ndarray, num_classes: int) -> int:
    """Most frequent label of (L,) labels in -1..num_classes-1 (ties: the smallest; -1 counts as a class)."""
    counts = np.bincount(labels + 1, minlength=num_classes + 1)
    return int(np.argmax(counts)) - 1


def real_windows(
    recordings: Iterable[Recording],
    rate_hz: float = DEFAULT_RATE_HZ,
    window_s: float = DEFAULT_WINDOW_S,
    hop_s: float = DEFAULT_HOP_S,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
    keep_unlabelled: bool = False,
) -> RealWindows:
    """Cut every recording into windows (module docstring). All recordings must share ``class_names``.

    Raises:
        ConfigError: no recordings, different class lists, bad grid settings.
    """
    length, hop = _check_grid(rate_hz, window_s, hop_s)
    recs = list(recordings)
    if not recs:
        raise ConfigError("real_windows: no recordings")
    names = recs[0].class_names
    xs, ys, subj, rid, gy, wr, st = [], [], [], [], [], [], []
    for rec in recs:
        if rec.class_names != names:
            raise ConfigError(f"real_windows: {rec.recording} has classes {rec.class_names}, expected {names}")
        for t, sig, lab in resample_recording(rec, rate_hz, max_gap_s):
            for s in range(0, sig.shape[0] - length + 1, hop):
                y = majority_label(lab[s : s + length], len(names))
                if y < 0 and not keep_unlabelled:
                    continue
                xs.append(sig[s : s + length])
                ys.append(y)
                subj.append(rec.subject)
                rid.append(rec.recording)
                gy.append(rec.has_gyro)
                wr.append(rec.wrist or "")
                st.append(t[s] - rec.timestamps_s[0])
    x = np.stack(xs).astype(np.float32) if xs else np.zeros((0, length, 6), np.float32)
    return RealWindows(
        x=x, y=np.asarray(ys, dtype=np.int64), subject=np.asarray(subj, dtype=str),
        recording=np.asarray(rid, dtype=str),
        has_gyro=np.asarray(gy, dtype=bool), wrist=np.asarray(wr, dtype=str), start_s=np.asarray(st, dtype=np.float64),
        class_names=list(names), rate_hz=float(rate_hz), window_s=float(window_s), hop_s=float(hop_s),
        meta={"channels": list(CHANNELS), "max_gap_s": max_gap_s, "num_recordings": len(recs),
              "devices": sorted({r.device for r in recs}), "mirrored_any": any(r.mirrored for r in recs)},
    )  # fmt: skip


def _resample_pose(pose: np.ndarray, src_rate: float, t_new: np.ndarray) -> np.ndarray:
    """(Tp, 24, 3) axis-angle at ``src_rate`` -> (len(t_new), 24, 3) by per-joint slerp."""
    tp = pose.shape[0]
    t_src = np.arange(tp) / src_rate
    if tp == t_new.size and np.allclose(t_src, t_new):
        return pose.astype(np.float64)
    t_new = np.clip(t_new, 0.0, t_src[-1])
    out = np.empty((t_new.size, pose.shape[1], 3))
    for j in range(pose.shape[1]):
        out[:, j] = Slerp(t_src, Rotation.from_rotvec(pose[:, j]))(t_new).as_rotvec()
    return out


def synthetic_windows(
    dataset_dir: str | Path,
    rate_hz: float = DEFAULT_RATE_HZ,
    window_s: float = DEFAULT_WINDOW_S,
    hop_s: float = DEFAULT_HOP_S,
    placements: tuple[str, str] = ("left_wrist", "right_wrist"),
) -> SyntheticWindows:
    """Windows of every clip of a simulator dataset folder (module docstring).

    Args:
        dataset_dir: folder with ``manifest.json`` and clip ``.npz`` files.
        placements: the placement names used as the left and right wrist.
    """
    length, hop = _check_grid(rate_hz, window_s, hop_s)
    texts: dict[str, int] = {}
    cols: dict[str, list] = {k: [] for k in ("l", "r", "hl", "hr", "pose", "text", "clip", "variant", "start", "tpl")}
    for _, arrays in iter_clips(dataset_dir):
        src_rate = float(arrays["rate_hz"])
        names = [str(p) for p in arrays["placements"]]
        acc, gyro = arrays["acc"].astype(np.float64), arrays["gyro"].astype(np.float64)
        imu = []
        for pname in placements:
            if pname in names:
                p = names.index(pname)
                sig = np.concatenate([acc[:, p], gyro[:, p]], axis=1)
                sig, got = resample_to_rate(sig, src_rate, rate_hz) if sig.shape[0] >= 2 else (sig, src_rate)
                imu.append((sig, True))
            else:
                imu.append((None, False))
        n = min(s.shape[0] for s, ok in imu if ok) if any(ok for _, ok in imu) else 0
        if n < length:
            continue
        t_new = np.arange(n) / rate_hz
        pose = _resample_pose(arrays["pose"], float(arrays.get("pose_rate_hz", src_rate)), t_new)
        text = str(arrays["text"])
        ti = texts.setdefault(text, len(texts))
        tpl = [ti] + [texts.setdefault(str(t), len(texts)) for t in arrays.get("texts", ()) if str(t) != text]
        for s in range(0, n - length + 1, hop):
            for key, (sig, ok) in zip(("l", "r"), imu, strict=True):
                cols[key].append(sig[s : s + length] if ok else np.zeros((length, 6)))
            cols["hl"].append(imu[0][1])
            cols["hr"].append(imu[1][1])
            cols["pose"].append(pose[s : s + length])
            cols["text"].append(ti)
            cols["tpl"].append(tpl)
            cols["clip"].append(str(arrays.get("clip", "")))
            cols["variant"].append(int(arrays.get("variant", 0)))
            cols["start"].append(s / rate_hz)
    if not cols["l"]:
        raise ConfigError(f"synthetic_windows: no clip of {dataset_dir} is at least {window_s} s long")
    return SyntheticWindows(
        imu_left=np.stack(cols["l"]).astype(np.float32), imu_right=np.stack(cols["r"]).astype(np.float32),
        has_left=np.asarray(cols["hl"], bool), has_right=np.asarray(cols["hr"], bool),
        pose=np.stack(cols["pose"]).astype(np.float32), text=np.asarray(cols["text"], np.int64), texts=list(texts),
        clip=np.asarray(cols["clip"], str), variant=np.asarray(cols["variant"], np.int64),
        start_s=np.asarray(cols["start"], np.float64), rate_hz=float(rate_hz), window_s=float(window_s),
        hop_s=float(hop_s), meta={"dataset": str(dataset_dir), "placements": list(placements),
                                  "channels": list(CHANNELS)},
        templates=pad_templates(cols["tpl"]),
    )  # fmt: skip


def pad_templates(rows: list[list[int]]) -> np.ndarray:
    """Ragged per-window text-index lists -> (N, K) int64, -1 padded (K = the longest list, at least 1)."""
    k = max((len(r) for r in rows), default=1)
    out = np.full((len(rows), max(k, 1)), -1, np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


__all__ = [
    "CHANNELS",
    "DEFAULT_HOP_S",
    "DEFAULT_RATE_HZ",
    "DEFAULT_WINDOW_S",
    "RealWindows",
    "SyntheticWindows",
    "majority_label",
    "pad_templates",
    "real_windows",
    "resample_recording",
    "synthetic_windows",
]
