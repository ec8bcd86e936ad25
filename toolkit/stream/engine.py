"""The streaming inference engine: pushed sensor chunks of several devices -> per-window predictions.

Per device (devices are independent: own transform, clock, buffers, counters): transform (calibration) ->
:class:`~toolkit.stream.resample.StreamResampler` -> :class:`~toolkit.stream.windows.Windower` -> model ->
:class:`~toolkit.stream.smoothing.ProbabilitySmoother`. See :mod:`toolkit.stream` for the diagram.

The model is any object shaped like :class:`export.manifest.LoadedArtefact` (``.manifest["input"]`` with
``channels``, ``rate_hz``, ``window_samples`` or ``window_s``, ``hop_s``; ``.classes``; ``.normalise(window (L, C))
-> (1, L, C) float32``; ``.run(x) -> [logits (1, K), ...]``), so the runtime (ExecuTorch, LiteRT, ONNX Runtime)
is whatever the caller loaded.

Source rate: pass the rate the training data was resampled from (``add_device(..., source_rate_hz=...)``, e.g. the
device profile's nominal rate) to reproduce the training windows exactly. Left to the estimate, a TicWatch of
sp-sw-har comes out at 104 Hz (its accelerometer's real output rate; the dataset's nominal rate is 100 Hz): the
windows are then very slightly different (the same label for 2180 of the dataset's 2186 windows).

Latency: a window is classified as soon as the resampler's lookahead past its last sample is in (0.33 s at
100 -> 30 Hz, :mod:`toolkit.stream.resample`); ``latency_s`` adds the processing time of the push and the model
call to that chunk's transport delay (measured on this machine: push of 10 samples ~0.15 ms without inference,
int8 inference p50 0.1 ms LiteRT, 0.4 ms ONNX Runtime, 1.2 ms ExecuTorch).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.stream.bundles import gyro_refusal
from toolkit.stream.resample import StreamResampler
from toolkit.stream.smoothing import ProbabilitySmoother, softmax
from toolkit.stream.windows import StreamWindow, Windower

#: (acc (N, 3) m/s^2, gyro (N, 3) rad/s or None) in device axes -> the same in the model's watch frame.
Transform = Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray | None]]

#: Channel names the engine can feed: name -> (source, axis).
KNOWN_CHANNELS = {f"{src}_{ax}": (src, i) for src in ("acc", "gyro") for i, ax in enumerate("xyz")}
#: Default share of a window that may be interpolated across holes before the window is dropped.
DEFAULT_MAX_FILL_FRACTION = 0.25
#: How many recent latencies each device keeps for its percentiles.
LATENCY_HISTORY = 10_000


@dataclass
class Prediction:
    """One window's prediction.

    Attributes:
        device_id: the device; index: window counter of this device (0-based, emitted windows only).
        t_start_s, t_end_s: times of the window's first / last model-rate sample on the stream's time base [s].
        label, confidence: argmax class of this window and its softmax probability.
        probs: (K,) softmax probabilities.
        smoothed_label, smoothed_confidence: after smoothing over the last k windows (:mod:`toolkit.stream.smoothing`).
        latency_s: ``time.time()`` at prediction minus the arrival time of the push that completed the window [s]
            (for windows completed by :meth:`StreamEngine.flush`: minus the time of the flush call).
        inference_s: time spent in the model call only [s].
        filled_samples: model-rate samples of the window interpolated across a short hole (0 = clean).
        flagged: True when ``filled_samples > 0``.
        segment: segment counter of this device (a gap > max_gap_s starts a new one).
    """

    device_id: str
    index: int
    t_start_s: float
    t_end_s: float
    label: str
    confidence: float
    probs: np.ndarray
    smoothed_label: str
    smoothed_confidence: float
    latency_s: float
    inference_s: float
    filled_samples: int
    flagged: bool
    segment: int = 0


@dataclass
class _Device:
    transform: Transform | None
    resampler: StreamResampler
    windower: Windower
    smoother: ProbabilitySmoother
    n_predictions: int = 0
    last_segment: int | None = None
    lost_reported: int = 0
    latencies_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))
    inferences_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_HISTORY))


def _input_spec(model: Any) -> tuple[list[str], float, int, int, float]:
    """(channels, rate_hz, window_samples, hop_samples, window_s) from ``model.manifest["input"]``."""
    try:
        spec = model.manifest["input"]
        channels = list(spec["channels"])
        rate_hz = float(spec["rate_hz"])
        window = int(spec.get("window_samples") or round(float(spec["window_s"]) * rate_hz))
        hop = int(round(float(spec["hop_s"]) * rate_hz))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"stream: the model's manifest has no usable 'input' section ({e!r})") from e
    unknown = [c for c in channels if c not in KNOWN_CHANNELS]
    if unknown:
        raise ConfigError(f"stream: the model wants channels {unknown}; the engine knows {list(KNOWN_CHANNELS)}")
    if not (math.isfinite(rate_hz) and rate_hz > 0) or window < 1 or hop < 1:
        raise ConfigError(f"stream: bad input spec: rate {rate_hz} Hz, window {window}, hop {hop} samples")
    return channels, rate_hz, window, hop, window / rate_hz


def _percentile(values: deque, q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


class StreamEngine:
    """Streaming inference for several devices at once.

    Args:
        model: a :class:`export.manifest.LoadedArtefact` (duck-typed, module docstring).
        smoothing_k: windows averaged by the smoother (1 = none).
        max_fill_s: a window with more than this much time interpolated across holes is dropped [s]; None:
            ``DEFAULT_MAX_FILL_FRACTION`` (25 %) of the window (0.5 s of a 2 s window).
        max_gap_s: a step longer than this ends a segment [s] (0.25 s, the training value).
        fill_tolerance_periods: a model-rate sample farther than this many source periods from every raw sample
            counts as filled.
        on_prediction: called with every prediction as it is made.
    """

    def __init__(self, model: Any, *, smoothing_k: int = 3, max_fill_s: float | None = None,
                 max_gap_s: float = 0.25, fill_tolerance_periods: float = 1.5,
                 on_prediction: Callable[[Prediction], None] | None = None) -> None:
        self.model = model
        self.channels, self.rate_hz, self.window_samples, self.hop_samples, self.window_s = _input_spec(model)
        self.classes = list(model.classes)
        self.needs_gyro = any(KNOWN_CHANNELS[c][0] == "gyro" for c in self.channels)
        self.smoothing_k = int(smoothing_k)
        ProbabilitySmoother(self.smoothing_k)  # validates k
        self.max_fill_s = DEFAULT_MAX_FILL_FRACTION * self.window_s if max_fill_s is None else float(max_fill_s)
        if not (math.isfinite(self.max_fill_s) and self.max_fill_s >= 0):
            raise ConfigError(f"stream: max_fill_s must be >= 0 (got {max_fill_s!r})")
        self.max_filled_samples = int(math.floor(self.max_fill_s * self.rate_hz + 1e-9))
        self.max_gap_s = float(max_gap_s)
        self.fill_tolerance_periods = float(fill_tolerance_periods)
        self.on_prediction = on_prediction
        self._devices: dict[str, _Device] = {}

    # ------------------------------------------------------------------ devices
    @property
    def devices(self) -> list[str]:
        return list(self._devices)

    def add_device(self, device_id: str, transform: Transform | None = None, *,
                   source_rate_hz: float | None = None, has_gyro: bool | None = None) -> None:
        """Register a device: ``transform`` maps its samples into the model frame (identity when None);
        ``source_rate_hz`` its nominal rate (estimated from the first samples when None); ``has_gyro`` False
        refuses a model that needs a gyroscope now (None: found out at the first push without one)."""
        if has_gyro is False and self.needs_gyro:
            raise ConfigError(gyro_refusal(getattr(self.model, "folder", None), repr(device_id)))
        if device_id in self._devices:
            raise ConfigError(f"stream: device {device_id!r} was already added")
        if transform is not None and not callable(transform):
            raise ConfigError(f"stream: the transform of {device_id!r} is not callable")
        self._devices[device_id] = _Device(
            transform=transform,
            resampler=StreamResampler(len(self.channels), self.rate_hz, source_rate_hz, max_gap_s=self.max_gap_s,
                                      fill_tolerance_periods=self.fill_tolerance_periods),
            windower=Windower(self.window_samples, self.hop_samples, len(self.channels),
                              max_filled_samples=self.max_filled_samples),
            smoother=ProbabilitySmoother(self.smoothing_k),
        )

    def _device(self, device_id: str) -> _Device:
        try:
            return self._devices[device_id]
        except KeyError:
            raise ConfigError(f"stream: unknown device {device_id!r} (add it with add_device first; "
                              f"known: {', '.join(self._devices) or 'none'})") from None

    # ------------------------------------------------------------------ data
    def _channels_of(self, device_id: str, dev: _Device, t_s: np.ndarray, acc: np.ndarray,
                     gyro: np.ndarray | None) -> np.ndarray:
        n = t_s.shape[0]
        if acc.shape != (n, 3) or (gyro is not None and gyro.shape != (n, 3)):
            raise ConfigError(f"stream: {device_id}: expected acc/gyro of shape ({n}, 3), got {acc.shape}"
                              f"/{None if gyro is None else gyro.shape}")
        if dev.transform is not None:
            acc, gyro = dev.transform(acc, gyro)
            acc = np.asarray(acc, dtype=np.float64)
            gyro = None if gyro is None else np.asarray(gyro, dtype=np.float64)
            if acc.shape != (n, 3) or (gyro is not None and gyro.shape != (n, 3)):
                raise ConfigError(f"stream: {device_id}: the transform returned shapes {acc.shape}"
                                  f"/{None if gyro is None else gyro.shape}, expected ({n}, 3)")
        if self.needs_gyro and gyro is None:
            raise ConfigError(gyro_refusal(getattr(self.model, "folder", None), repr(device_id)))
        src = {"acc": acc, "gyro": gyro}
        return np.stack([src[s][:, i] for s, i in (KNOWN_CHANNELS[c] for c in self.channels)], axis=1)

    def push(self, device_id: str, t_s: np.ndarray, acc_ms2: np.ndarray, gyro_rads: np.ndarray | None, *,
             arrival_s: float | None = None, lost_samples: int = 0) -> list[Prediction]:
        """Feed one chunk of a device: (N,) times [s], (N, 3) acc [m/s^2], (N, 3) gyro [rad/s] or None, in the
        device's axes. ``arrival_s``: ``time.time()`` when the chunk arrived (now when None), for ``latency_s``;
        ``lost_samples``: samples the transport declared lost before it (only counted).

        Returns:
            The predictions of the windows this chunk completed, oldest first.
        """
        arrival = time.time() if arrival_s is None else float(arrival_s)
        dev = self._device(device_id)
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        x = self._channels_of(device_id, dev, t, np.asarray(acc_ms2, dtype=np.float64),
                              None if gyro_rads is None else np.asarray(gyro_rads, dtype=np.float64))
        dev.lost_reported += int(lost_samples)
        return self._run_blocks(device_id, dev, dev.resampler.push(t, x), arrival)

    def flush(self, device_id: str | None = None) -> list[Prediction]:
        """End of stream for one device (all when None): emit the windows that the end completes."""
        out: list[Prediction] = []
        for d in [device_id] if device_id is not None else list(self._devices):
            dev = self._device(d)
            out += self._run_blocks(d, dev, dev.resampler.finish(), time.time())
        return out

    def _run_blocks(self, device_id: str, dev: _Device, blocks: list, arrival_s: float) -> list[Prediction]:
        out: list[Prediction] = []
        for block in blocks:
            for window in dev.windower.feed(block):
                out.append(self._predict(device_id, dev, window, arrival_s))
        return out

    def _predict(self, device_id: str, dev: _Device, window: StreamWindow, arrival_s: float) -> Prediction:
        if window.segment != dev.last_segment:
            dev.smoother.reset()
            dev.last_segment = window.segment
        x = self.model.normalise(window.x)
        t0 = time.perf_counter()
        outputs = self.model.run(x)
        inference_s = time.perf_counter() - t0
        probs = softmax(np.asarray(outputs[0]).reshape(-1))
        i = int(np.argmax(probs))
        si, sconf, _ = dev.smoother.update(probs)
        latency_s = time.time() - arrival_s
        dev.latencies_s.append(latency_s)
        dev.inferences_s.append(inference_s)
        pred = Prediction(device_id=device_id, index=dev.n_predictions, t_start_s=float(window.t_s[0]),
                          t_end_s=float(window.t_s[-1]), label=self.classes[i], confidence=float(probs[i]),
                          probs=probs, smoothed_label=self.classes[si], smoothed_confidence=sconf,
                          latency_s=latency_s, inference_s=inference_s, filled_samples=window.filled_samples,
                          flagged=window.filled_samples > 0, segment=window.segment)
        dev.n_predictions += 1
        if self.on_prediction is not None:
            self.on_prediction(pred)
        return pred

    # ------------------------------------------------------------------ diagnostics
    def stats(self, device_id: str) -> dict[str, Any]:
        """Counters of one device: samples in / accepted / dropped (order, invalid) / lost (reported) / out
        (model rate) / filled, segments, gaps, holes, windows (emitted, flagged, dropped at gaps, dropped for
        filling, incomplete at the end, ``dropped_windows`` = the three), source rate, resampler lookahead, latency
        and inference p50 / p99 / max [s]."""
        dev = self._device(device_id)
        r = dev.resampler
        out: dict[str, Any] = {"device_id": device_id, "source_rate_hz": r.source_rate_hz,
                               "model_rate_hz": self.rate_hz, "lookahead_s": r.lookahead_s}
        out.update(r.counters)
        out["samples_lost_reported"] = dev.lost_reported
        out.update(dev.windower.counters)
        c = dev.windower.counters
        out["dropped_windows"] = (c["windows_dropped_gap"] + c["windows_dropped_filled"]
                                  + c["windows_incomplete_at_end"])
        out["predictions"] = dev.n_predictions
        for name, values in (("latency", dev.latencies_s), ("inference", dev.inferences_s)):
            out[f"{name}_p50_s"] = _percentile(values, 50)
            out[f"{name}_p99_s"] = _percentile(values, 99)
            out[f"{name}_max_s"] = float(max(values)) if values else float("nan")
        return out


__all__ = ["KNOWN_CHANNELS", "Prediction", "StreamEngine", "Transform"]
