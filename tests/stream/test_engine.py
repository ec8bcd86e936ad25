"""The streaming engine on the committed watch bundle: streaming == offline == the training windows' labels."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.stream._helpers import random_chunks, replayed_recording, synthetic_recording
from toolkit.data.windows import real_windows
from toolkit.errors import ConfigError
from toolkit.mount import Mount, mirror_acc, mirror_gyro
from toolkit.stream.engine import Prediction, StreamEngine
from toolkit.stream.offline import offline_predictions, stream_windows

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "toolkit" / "default_model" / "edge" / "watch"
_LOADED: dict[str, object] = {}


@pytest.fixture(scope="module")
def artefact():
    """target -> the bundle's int8 artefact, loaded once per module."""
    from export.manifest import load_artefact

    def get(target: str):
        if target not in _LOADED:
            _LOADED[target] = load_artefact(BUNDLE, target, "int8")
        return _LOADED[target]

    return get


def _stream(engine: StreamEngine, device: str, t, acc, gyro, seed: int) -> list[Prediction]:
    out = []
    for sl in random_chunks(t.size, seed=seed):
        out += engine.push(device, t[sl], acc[sl], None if gyro is None else gyro[sl], arrival_s=time.time())
    return out + engine.flush(device)


def _same(a: list[Prediction], b: list[Prediction]) -> None:
    assert len(a) == len(b) > 0
    for p, q in zip(a, b, strict=True):
        assert (p.index, p.segment, p.label, p.smoothed_label, p.filled_samples, p.flagged) == (
            q.index, q.segment, q.label, q.smoothed_label, q.filled_samples, q.flagged)
        assert p.t_start_s == q.t_start_s and p.t_end_s == q.t_end_s
        np.testing.assert_allclose(p.probs, q.probs, atol=1e-6)
        assert p.smoothed_confidence == pytest.approx(q.smoothed_confidence, abs=1e-6)


def _classify_labels(art, rec) -> tuple[list[str], np.ndarray]:
    rw = real_windows([rec])
    logits = np.stack([art.classify(w)[1] for w in rw.x])
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return [art.classes[i] for i in logits.argmax(axis=1)], probs / probs.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("target", ["pte", "tflite", "onnx"])
def test_streaming_equals_offline_and_training_windows(artefact, target):
    art = artefact(target)
    rec = replayed_recording("s01_01", seed=2, holes=((6.0, 6.06),))  # real TUG motion, one lost packet
    engine = StreamEngine(art, smoothing_k=3)
    engine.add_device("watch", source_rate_hz=rec.rate_hz)
    streamed = _stream(engine, "watch", rec.timestamps_s, rec.acc, rec.gyro, seed=2)
    offline = offline_predictions(art, rec.timestamps_s, rec.acc, rec.gyro, source_rate_hz=rec.rate_hz)
    _same(streamed, offline)
    labels, probs = _classify_labels(art, rec)
    assert [p.label for p in streamed] == labels  # every window, the first of the segment included
    assert np.abs(np.stack([p.probs for p in streamed]) - probs).max() < 0.05  # int8 steps amplify 1e-4 inputs
    assert len({p.label for p in streamed}) >= 4  # standing up, walking, turning, sitting down, seated
    assert [p.filled_samples for p in streamed] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0]  # the 60 ms hole at 6.0 s
    st = engine.stats("watch")
    assert st["windows"] == len(streamed) == 11 and st["holes"] == 1 and st["gaps"] == 0
    assert st["windows_flagged"] == sum(p.flagged for p in streamed)


@pytest.mark.shared
def test_real_sp_sw_har_recording(artefact, shared_data):
    from toolkit.data.sp_sw_har import load_sp_sw_har

    art = artefact("tflite")
    rec = load_sp_sw_har(shared_data, subjects=["s02"])[0]
    engine = StreamEngine(art)
    engine.add_device("watch", source_rate_hz=rec.rate_hz)  # the loader's nominal 100 Hz, as in training
    streamed = _stream(engine, "watch", rec.timestamps_s, rec.acc, rec.gyro, seed=3)
    _same(streamed, offline_predictions(art, rec.timestamps_s, rec.acc, rec.gyro, source_rate_hz=rec.rate_hz))
    labels, _ = _classify_labels(art, rec)
    assert [p.label for p in streamed] == labels
    assert engine.stats("watch")["samples_dropped_order"] > 0  # the files repeat a few millisecond timestamps


def test_two_devices_interleaved_equal_each_alone(artefact):
    art = artefact("tflite")
    left = synthetic_recording(20.0, seed=4)
    right = synthetic_recording(20.0, seed=5, holes=((6.0, 6.1),))
    # the right watch sends its own (mirrored) axes on its own clock; its transform maps them to the left frame
    r_t, r_acc, r_gyro = right.timestamps_s + 517.3, mirror_acc(right.acc), mirror_gyro(right.gyro)
    to_left = Mount("right").to_canonical
    engine = StreamEngine(art)
    engine.add_device("L", source_rate_hz=100.0)
    engine.add_device("R", to_left, source_rate_hz=100.0)
    got: dict[str, list[Prediction]] = {"L": [], "R": []}
    chunks = {"L": random_chunks(left.timestamps_s.size, seed=6), "R": random_chunks(r_t.size, seed=7)}
    for i in range(max(len(c) for c in chunks.values())):
        for dev, (t, acc, gyro) in (("L", (left.timestamps_s, left.acc, left.gyro)), ("R", (r_t, r_acc, r_gyro))):
            if i < len(chunks[dev]):
                sl = chunks[dev][i]
                got[dev] += engine.push(dev, t[sl], acc[sl], gyro[sl])
    for p in engine.flush():
        got[p.device_id].append(p)
    _same(got["L"], offline_predictions(art, left.timestamps_s, left.acc, left.gyro, source_rate_hz=100.0))
    alone = offline_predictions(art, r_t, r_acc, r_gyro, transform=to_left, source_rate_hz=100.0)
    _same(got["R"], alone)
    # the transform was applied: the same as the canonical signal without one
    _same(alone, offline_predictions(art, r_t, right.acc, right.gyro, source_rate_hz=100.0))
    assert all(p.device_id == "R" for p in got["R"])


def test_latency_callback_stats_and_errors(artefact):
    art = artefact("onnx")
    rec = synthetic_recording(8.0, seed=8)
    seen: list[Prediction] = []
    engine = StreamEngine(art, on_prediction=seen.append)
    engine.add_device("w")  # rate estimated from the first 2 s
    pushed = []
    for sl in random_chunks(rec.timestamps_s.size, seed=8, low=20, high=40):
        pushed += engine.push("w", rec.timestamps_s[sl], rec.acc[sl], rec.gyro[sl], arrival_s=time.time() - 5.0,
                              lost_samples=1)
    preds = pushed + engine.flush()
    assert seen == preds and [p.index for p in preds] == list(range(7))
    assert len(pushed) == 6 and all(p.latency_s >= 5.0 for p in pushed)  # measured from the given arrival times
    assert all(p.latency_s >= 0.0 for p in preds)
    assert all(0.0 < p.inference_s for p in preds)
    st = engine.stats("w")
    assert st["source_rate_hz"] == 100.0 and st["lookahead_s"] == pytest.approx(1 / 3)
    assert st["samples_in"] == rec.timestamps_s.size and st["samples_lost_reported"] > 0
    assert st["latency_p50_s"] >= 5.0 and st["inference_p99_s"] > 0.0 and st["windows_incomplete_at_end"] == 1
    assert st["dropped_windows"] == 1 and st["predictions"] == 7
    with pytest.raises(ConfigError, match="gyroscope"):
        engine.push("w", rec.timestamps_s[:3] + 100, rec.acc[:3], None)
    with pytest.raises(ConfigError, match="unknown device"):
        engine.push("nope", rec.timestamps_s[:3], rec.acc[:3], rec.gyro[:3])
    with pytest.raises(ConfigError, match="already"):
        engine.add_device("w")
    engine.add_device("bad", lambda a, g: (a[:, :2], g))
    with pytest.raises(ConfigError, match="transform"):
        engine.push("bad", rec.timestamps_s[:3], rec.acc[:3], rec.gyro[:3])


class _EchoModel:
    """A fake artefact with an accelerometer-only input in an unusual channel order; records what it is fed."""

    classes = ["low", "high"]
    manifest = {"input": {"channels": ["acc_z", "acc_x"], "rate_hz": 30.0, "window_samples": 60, "hop_s": 0.5}}

    def __init__(self) -> None:
        self.fed: list[np.ndarray] = []

    def normalise(self, window: np.ndarray) -> np.ndarray:
        return np.asarray(window, np.float32)[None]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.fed.append(x[0].astype(np.float64))
        return [np.array([[0.0, float(x[0, :, 1].mean())]])]


def test_engine_feeds_the_manifest_channels_and_hop():
    model = _EchoModel()
    rec = synthetic_recording(10.0, seed=9)
    engine = StreamEngine(model, smoothing_k=1)
    engine.add_device("acc-only", source_rate_hz=100.0)
    preds = _stream(engine, "acc-only", rec.timestamps_s, rec.acc, None, seed=9)
    windows = stream_windows(rec.timestamps_s, rec.acc[:, [2, 0]], target_rate_hz=30.0, window_samples=60,
                             hop_samples=15, source_rate_hz=100.0)
    assert len(preds) == len(windows) == len(model.fed) == 17  # (300 - 60) / 15 + 1 windows at a 0.5 s hop
    for p, w, fed in zip(preds, windows, model.fed, strict=True):
        np.testing.assert_allclose(fed, w.x, rtol=1e-6)  # float32 input
        assert p.t_start_s == w.t_s[0]
        assert p.label == ("high" if w.x[:, 1].mean() > 0 else "low")
        assert p.smoothed_label == p.label  # k = 1
