"""Offline windowed inference of a whole recording through the streaming code path.

:func:`offline_predictions` gives a whole recording to a :class:`~toolkit.stream.engine.StreamEngine` in one push
and flushes it: the same transform, resampler, windower, model call and smoother as live streaming, so streaming
the recording in chunks of any size gives the same predictions (the resampler's outputs do not depend on how the
input was chunked; ``tests/stream`` checks it). Use it to evaluate a bundle on recordings exactly as the watch
pipeline would see them. :func:`stream_resample` and :func:`stream_windows` expose the intermediate model-rate
signal and windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from toolkit.stream.engine import Prediction, StreamEngine, Transform
from toolkit.stream.resample import StreamResampler
from toolkit.stream.windows import StreamWindow, Windower


def stream_resample(t_s: np.ndarray, x: np.ndarray, *, target_rate_hz: float, source_rate_hz: float | None = None,
                    max_gap_s: float = 0.25) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(T,) times [s] and (T, C) samples -> one ``(t (M,), x (M, C), filled (M,) bool)`` per segment that produced
    model-rate samples, through :class:`~toolkit.stream.resample.StreamResampler`."""
    x = np.asarray(x, dtype=np.float64)
    res = StreamResampler(x.shape[1], target_rate_hz, source_rate_hz, max_gap_s=max_gap_s)
    segs: dict[int, list] = {}
    for b in res.push(t_s, x) + res.finish():
        segs.setdefault(b.segment, []).append(b)
    return [(np.concatenate([b.t_s for b in bs]), np.concatenate([b.x for b in bs]),
             np.concatenate([b.filled for b in bs])) for _, bs in sorted(segs.items()) if sum(b.t_s.size for b in bs)]


def stream_windows(t_s: np.ndarray, x: np.ndarray, *, target_rate_hz: float, window_samples: int, hop_samples: int,
                   source_rate_hz: float | None = None, max_gap_s: float = 0.25,
                   max_filled_samples: int | None = None) -> list[StreamWindow]:
    """The windows the engine would classify for (T,) times [s] and (T, C) samples (no model involved)."""
    x = np.asarray(x, dtype=np.float64)
    res = StreamResampler(x.shape[1], target_rate_hz, source_rate_hz, max_gap_s=max_gap_s)
    win = Windower(window_samples, hop_samples, x.shape[1], max_filled_samples=max_filled_samples)
    return [w for b in res.push(t_s, x) + res.finish() for w in win.feed(b)]


def offline_predictions(model: Any, t_s: np.ndarray, acc_ms2: np.ndarray, gyro_rads: np.ndarray | None, *,
                        transform: Transform | None = None, smoothing_k: int = 3, source_rate_hz: float | None = None,
                        max_fill_s: float | None = None, max_gap_s: float = 0.25, device_id: str = "offline",
                        stats: dict[str, Any] | None = None) -> list[Prediction]:
    """Predictions for a whole recording: (T,) times [s], (T, 3) acc [m/s^2], (T, 3) gyro [rad/s] or None in the
    device's axes, ``transform`` as in :meth:`StreamEngine.add_device`. The other arguments are the engine's;
    ``stats``, when given, is filled with :meth:`StreamEngine.stats` of the run."""
    engine = StreamEngine(model, smoothing_k=smoothing_k, max_fill_s=max_fill_s, max_gap_s=max_gap_s)
    engine.add_device(device_id, transform, source_rate_hz=source_rate_hz)
    preds = engine.push(device_id, t_s, acc_ms2, gyro_rads) + engine.flush(device_id)
    if stats is not None:
        stats.update(engine.stats(device_id))
    return preds


__all__ = ["offline_predictions", "stream_resample", "stream_windows"]
