"""Watch recordings for the streaming tests: irregular ~100 Hz timestamps; synthetic still / swinging / shaking parts,
or real motion replayed from the committed training windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toolkit.data.recording import Recording, make_recording
from toolkit.mount import Mount

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["SEATED", "STANDING_UP", "WALKING", "TURNING", "SITTING_DOWN"]


def jittered_times(duration_s: float, rate_hz: float = 100.0, jitter_s: float = 0.003, seed: int = 0,
                   t0_s: float = 1000.0, holes: tuple[tuple[float, float], ...] = ()) -> np.ndarray:
    """(T,) increasing times [s]: a ``rate_hz`` grid plus uniform jitter of +-``jitter_s`` (< half a period);
    samples in ``[t0 + a, t0 + b)`` for each hole ``(a, b)`` removed."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate_hz))
    t = t0_s + np.arange(n) / rate_hz + rng.uniform(-jitter_s, jitter_s, n)
    for a, b in holes:
        t = t[(t < t0_s + a) | (t >= t0_s + b)]
    return t


def watch_signal(t_s: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) acc [m/s^2] and (T, 3) gyro [rad/s] of a left-wrist watch: seated (forearm on the thigh, slow drift),
    walking-like 2 Hz swinging from 8 s to 16 s, 3 Hz shaking from 20 s to 25 s, plus sensor noise."""
    rng = np.random.default_rng(seed)
    tt = t_s - t_s[0]
    still = np.stack([-3.0 + 0.5 * np.sin(2 * np.pi * 0.1 * tt), -3.0 + 0.3 * np.cos(2 * np.pi * 0.13 * tt),
                      8.0 + 0.0 * tt], axis=1)
    walk = ((tt > 8) & (tt < 16))[:, None] * np.sin(2 * np.pi * 2.0 * tt)[:, None] * np.array([4.0, 2.0, 3.0])
    shake = ((tt > 20) & (tt < 25))[:, None] * np.sin(2 * np.pi * 3.0 * tt)[:, None] * np.array([2.0, 5.0, 1.0])
    acc = still + walk + shake + rng.normal(0.0, 0.03, (tt.size, 3))
    gyro = (walk[:, [1, 2, 0]] * 0.4 + shake * 0.3 + np.array([0.0, 0.0, 0.02]) * np.sin(tt)[:, None]
            + rng.normal(0.0, 0.01, (tt.size, 3)))
    return acc, gyro


def synthetic_recording(duration_s: float = 30.0, seed: int = 0,
                        holes: tuple[tuple[float, float], ...] = ()) -> Recording:
    """A labelled :class:`Recording` (left wrist, wear-os-watch profile, identity conversion) of
    :func:`watch_signal` on :func:`jittered_times`."""
    t = jittered_times(duration_s, seed=seed, holes=holes)
    acc, gyro = watch_signal(t, seed=seed)
    tt = t - t[0]
    labels = np.where((tt > 8) & (tt < 16), 2, 0).astype(np.int64)
    return make_recording(subject="syn", recording=f"syn{seed}", timestamps_s=t, acc_device=acc, gyro_device=gyro,
                          labels=labels, class_names=CLASSES, profile="wear-os-watch", mount=Mount("left"))


def random_chunks(n: int, seed: int, low: int = 1, high: int = 50) -> list[slice]:
    """Slices covering ``range(n)`` in random sizes ``low..high``."""
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < n:
        k = int(rng.integers(low, high + 1))
        out.append(slice(i, min(n, i + k)))
        i += k
    return out


def replayed_recording(recording_id: str = "s01_01", seed: int = 0,
                       holes: tuple[tuple[float, float], ...] = ()) -> Recording:
    """A real-looking ~100 Hz jittered recording rebuilt from the committed training windows
    (``toolkit/default_model/windows.npz``, sp-sw-har at 30 Hz, consecutive windows overlap by one hop): the 30 Hz
    signal of ``recording_id`` is stitched back together and evaluated at :func:`jittered_times` by a cubic spline.
    Labels are all 0 (the tests only compare predictions)."""
    from scipy.interpolate import CubicSpline

    with np.load(REPO / "toolkit" / "default_model" / "windows.npz", allow_pickle=False) as z:
        x = z["x"][z["recording"] == recording_id].astype(np.float64)
        rate = float(z["rate_hz"])
        hop = int(round(float(z["hop_s"]) * rate))
    sig = np.concatenate([x[0]] + [w[-hop:] for w in x[1:]], axis=0)  # (T30, 6)
    duration = (sig.shape[0] - 1) / rate
    t = jittered_times(duration, seed=seed, holes=holes)
    t = t[t - 1000.0 <= duration]
    spline = CubicSpline(np.arange(sig.shape[0]) / rate, sig, axis=0)
    vals = spline(np.clip(t - 1000.0, 0.0, duration))
    return make_recording(subject=recording_id.split("_")[0], recording=f"replay_{recording_id}", timestamps_s=t,
                          acc_device=vals[:, :3], gyro_device=vals[:, 3:], labels=np.zeros(t.size, np.int64),
                          class_names=CLASSES, profile="wear-os-watch", mount=Mount("left"))
