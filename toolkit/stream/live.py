"""Live glue: BLE batches (:mod:`firmware_bridge.session`) -> :class:`~toolkit.stream.engine.StreamEngine`.

::

    StreamSession consumer task (decoded, integrity-checked, SI, device axes)
        -> LiveRunner.on_batch(StreamBatch)
            time base: the device's own sample times when it sends them (jitter-free), else host times
            -> StreamEngine.push(device_id, t_s, acc, gyro, arrival_s=packet arrival)
                (per-device calibration transform, resampling, gap-aware windows, inference, smoothing)
            -> Prediction -> scores of labelled replays, listeners (terminal view, JSON lines, LSL outlet)

The engine runs on the session's consumer task, not in the BLE notification callback (that one only queues):
a window's inference takes well under a millisecond with the int8 artefacts, and running it here makes the
measured latency (packet arrival -> prediction) the honest end-to-end figure.

Labelled replays (a virtual device replaying a labelled recording) carry a :class:`LabelTrack` on the device
clock; each prediction is scored against the majority label of the recording's samples inside its window, as
:func:`toolkit.data.windows.majority_label` does offline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_bridge.devices import BLE_TO_REAL_PROFILE, real_profile_for
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError, Multi3EdgeError

from .engine import Prediction, StreamEngine

Transform = Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray | None]]
Listener = Callable[[Prediction, "str | None"], None]

@dataclass
class LabelTrack:
    """Per-sample labels of a replayed recording on the device clock.

    Attributes:
        t_s: (N,) increasing sample times [s], the clock the device's packets carry.
        labels: (N,) class names (strings).
    """

    t_s: np.ndarray
    labels: np.ndarray

    def label_of(self, t_start_s: float, t_end_s: float) -> str | None:
        """Majority label of the samples within [t_start_s, t_end_s] (ties: first in sorted order); None if none."""
        a, b = np.searchsorted(self.t_s, [t_start_s - 1e-6, t_end_s + 1e-6])
        if b <= a:
            return None
        names, counts = np.unique(self.labels[a:b], return_counts=True)
        return str(names[int(np.argmax(counts))])


@dataclass
class DeviceScore:
    """Running scores of one labelled device: true vs predicted (raw and smoothed) per window."""

    y_true: list[str] = field(default_factory=list)
    y_pred: list[str] = field(default_factory=list)
    y_smoothed: list[str] = field(default_factory=list)

    def add(self, true: str, pred: Prediction) -> None:
        self.y_true.append(true)
        self.y_pred.append(pred.label)
        self.y_smoothed.append(pred.smoothed_label)

    def __len__(self) -> int:
        return len(self.y_true)

    @property
    def accuracy(self) -> float:
        return float(np.mean(np.asarray(self.y_true) == np.asarray(self.y_pred))) if self.y_true else float("nan")

    def macro_f1(self, smoothed: bool = False) -> float:
        """scikit-learn macro F1 (classes in the true or predicted labels), as the offline evaluation computes it."""
        return macro_f1(self.y_true, self.y_smoothed if smoothed else self.y_pred)


def macro_f1(y_true: list[str], y_pred: list[str]) -> float:
    """Macro F1 of string labels, ``f1_score(average="macro")`` like :func:`export.distill.macro_f1` (NaN if empty)."""
    from sklearn.metrics import f1_score

    if not y_true:
        return float("nan")
    return float(f1_score(y_true, y_pred, average="macro"))


class LiveRunner:
    """Feed delivered batches of any number of devices into one :class:`StreamEngine`.

    Args:
        engine: the engine (one model for every device).
        transforms: device id -> calibration transform (``DeviceCalibration.apply``); devices without an entry use
            ``default_transform(device_id, ble_profile)`` if given, else the identity.
        labels: device id -> :class:`LabelTrack` for labelled replays.
        source_rates_hz: device id -> nominal sample rate [Hz] the resampler assumes; default: the rate the device's
            stream was started with when its batches say so (``meta["sample_rate_hz"]``: Polar PMD, from the start
            command's SAMPLE_RATE), else the nominal rate of the device's calibration profile, as the training data
            loaders do (``make_recording``).
        time_base: "device" (the device's sample times when present, else host times) or "host".
        listeners: called with ``(prediction, true_label_or_None)`` for every prediction.
    """

    def __init__(self, engine: StreamEngine, *, transforms: dict[str, Transform] | None = None,
                 default_transform: Callable[[str, str], Transform | None] | None = None,
                 labels: dict[str, LabelTrack] | None = None, source_rates_hz: dict[str, float] | None = None,
                 time_base: str = "device", listeners: list[Listener] | None = None) -> None:
        if time_base not in ("device", "host"):
            raise ConfigError(f"time_base must be 'device' or 'host', got {time_base!r}")
        self.engine = engine
        self.transforms = dict(transforms or {})
        self.default_transform = default_transform
        self.labels = dict(labels or {})
        self.source_rates_hz = dict(source_rates_hz or {})
        self.time_base = time_base
        self.listeners = list(listeners or [])
        self.scores: dict[str, DeviceScore] = {}
        self.last: dict[str, Prediction] = {}
        self.predictions: dict[str, list[Prediction]] = {}
        self._added: set[str] = set()
        self.failed: set[str] = set()
        self.error: Multi3EdgeError | None = None

    @property
    def classes(self) -> list[str]:
        return list(self.engine.classes)

    def _ensure(self, device_id: str, ble_profile: str, stream_rate_hz: float | None = None) -> None:
        if device_id in self._added:
            return
        transform = self.transforms.get(device_id)
        if transform is None and self.default_transform is not None:
            transform = self.default_transform(device_id, ble_profile)
        rate = self.source_rates_hz.get(device_id, stream_rate_hz)
        if rate is None and ble_profile in BLE_TO_REAL_PROFILE:  # what the training loaders use: the nominal rate
            rate = get_real_profile(BLE_TO_REAL_PROFILE[ble_profile]).rate_hz
        self.engine.add_device(device_id, transform, source_rate_hz=rate)
        self._added.add(device_id)
        self.predictions[device_id] = []

    def on_batch(self, sb: Any) -> None:
        """``StreamSession`` callback: push one :class:`~firmware_bridge.session.StreamBatch` into the engine.

        The session logs and swallows callback errors (one bad packet must not end a session); a
        :class:`~toolkit.errors.Multi3EdgeError` here (a wrong calibration, a model needing a gyroscope the device
        lacks) is kept in :attr:`error` for the caller to report, and that device's later batches are ignored."""
        if len(sb) == 0 or sb.device_id in self.failed:
            return
        batch = sb.batch
        t = batch.device_time_s if self.time_base == "device" and batch.device_time_s is not None else sb.host_time_s
        arrival = batch.meta.get("arrival_host_s")
        try:
            self.feed(sb.device_id, t, sb.acc, sb.gyro, arrival_s=arrival, ble_profile=sb.profile,
                      stream_rate_hz=batch.meta.get("sample_rate_hz"))
        except Multi3EdgeError as e:
            self.failed.add(sb.device_id)
            if self.error is None:
                self.error = e

    def feed(self, device_id: str, t_s: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None,
             arrival_s: float | None = None, ble_profile: str = "imu-stream",
             stream_rate_hz: float | None = None) -> list[Prediction]:
        """Push samples of one device (already in SI, device axes) and handle the predictions they complete.
        ``stream_rate_hz``: the rate the device's stream was started with, if known (see ``source_rates_hz``)."""
        self._ensure(device_id, ble_profile, stream_rate_hz)
        preds = self.engine.push(device_id, t_s, acc, gyro, arrival_s=arrival_s)
        for p in preds:
            self._handle(p)
        return preds

    def finish(self) -> list[Prediction]:
        """End of every stream: flush the engine and handle the last predictions."""
        preds = self.engine.flush()
        for p in preds:
            self._handle(p)
        return preds

    def _handle(self, p: Prediction) -> None:
        self.last[p.device_id] = p
        self.predictions.setdefault(p.device_id, []).append(p)
        true = None
        track = self.labels.get(p.device_id)
        if track is not None:
            true = track.label_of(p.t_start_s, p.t_end_s)
            if true is not None:
                self.scores.setdefault(p.device_id, DeviceScore()).add(true, p)
        for listener in self.listeners:
            listener(p, true)

    def pooled_score(self) -> DeviceScore:
        """All labelled devices' windows together."""
        pooled = DeviceScore()
        for s in self.scores.values():
            pooled.y_true += s.y_true
            pooled.y_pred += s.y_pred
            pooled.y_smoothed += s.y_smoothed
        return pooled


def prediction_record(p: Prediction, true_label: str | None = None) -> dict[str, Any]:
    """JSON-ready dict of one prediction (``edge-stream --json`` writes one per line)."""
    rec: dict[str, Any] = {
        "type": "prediction", "device": p.device_id, "index": p.index,
        "t_start_s": round(float(p.t_start_s), 6), "t_end_s": round(float(p.t_end_s), 6),
        "label": p.label, "confidence": round(float(p.confidence), 4),
        "smoothed_label": p.smoothed_label, "smoothed_confidence": round(float(p.smoothed_confidence), 4),
        "latency_ms": round(1e3 * float(p.latency_s), 3), "inference_ms": round(1e3 * float(p.inference_s), 4),
        "filled_samples": int(p.filled_samples), "flagged": bool(p.flagged),
    }
    if true_label is not None:
        rec["true_label"] = true_label
    return rec


__all__ = ["BLE_TO_REAL_PROFILE", "DeviceScore", "LabelTrack", "LiveRunner", "macro_f1", "prediction_record",
           "real_profile_for"]  # the two BLE -> real profile names are re-exported from firmware_bridge.devices
