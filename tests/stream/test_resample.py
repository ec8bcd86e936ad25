"""Incremental resampler against the training-time resampling (toolkit.data.windows), physics and gap handling."""

from __future__ import annotations

import numpy as np
import pytest

from tests.stream._helpers import jittered_times, random_chunks, synthetic_recording, watch_signal
from toolkit.data.recording import make_recording
from toolkit.data.windows import real_windows, resample_recording
from toolkit.errors import ConfigError
from toolkit.mount import Mount
from toolkit.stream.offline import stream_resample, stream_windows
from toolkit.stream.resample import StreamResampler, estimate_nominal_rate_hz
from toolkit.stream.windows import Windower

#: Documented residuals against resample_recording [m/s^2, rad/s]: the first ceil(half / down) outputs of a
#: segment (flat instead of line extension before the start), and the rest (running instead of segment mean).
START_TOL = 5e-3
INTERIOR_TOL = 5e-4


def _stream(res: StreamResampler, t: np.ndarray, x: np.ndarray, chunks: list[slice]) -> dict[int, tuple]:
    blocks = []
    for sl in chunks:
        blocks += res.push(t[sl], x[sl])
    blocks += res.finish()
    segs: dict[int, list] = {}
    for b in blocks:
        segs.setdefault(b.segment, []).append(b)
    return {k: (np.concatenate([b.t_s for b in bs]), np.concatenate([b.x for b in bs]),
                np.concatenate([b.filled for b in bs])) for k, bs in segs.items()}


@pytest.mark.parametrize("rate_hz", [100.0, 50.0, 32.0, 30.0, 10.0])
def test_random_chunks_reproduce_resample_recording(rate_hz):
    t = jittered_times(30.0, rate_hz=rate_hz, seed=3, holes=((7.0, 7.06), (15.0, 15.5)))
    acc, gyro = watch_signal(t)
    rec = make_recording(subject="a", recording="b", timestamps_s=t, acc_device=acc, gyro_device=gyro,
                         labels=np.zeros(t.size, np.int64), class_names=["A"], profile="wear-os-watch",
                         mount=Mount("left"), rate_hz=rate_hz)
    ref = resample_recording(rec)
    x = np.concatenate([rec.acc, rec.gyro], axis=1)
    res = StreamResampler(6, 30.0, rate_hz)
    got = _stream(res, t, x, random_chunks(t.size, seed=int(rate_hz)))
    one_push = stream_resample(t, x, target_rate_hz=30.0, source_rate_hz=rate_hz)
    assert len(ref) == len(got) == len(one_push) == 2  # the 0.5 s hole splits the recording
    n_start = -(-res.half // res.down)
    for k, (t_ref, x_ref, _) in enumerate(ref):
        t_got, x_got, _ = got[k]
        np.testing.assert_array_equal(t_got, t_ref)  # same grid, same length (tail included)
        np.testing.assert_array_equal(x_got, one_push[k][1])  # chunking changes nothing, bit for bit
        err = np.abs(x_got - x_ref).max(axis=1)
        assert err[n_start:].max() < INTERIOR_TOL, err[n_start:].max()
        assert err[:n_start].max(initial=0.0) < START_TOL
        if res.passthrough:
            np.testing.assert_array_equal(x_got, x_ref)


def test_windows_equal_real_windows():
    rec = synthetic_recording(30.0, seed=1, holes=((11.0, 11.05), (19.0, 19.4)))
    rw = real_windows([rec])
    x = np.concatenate([rec.acc, rec.gyro], axis=1)
    sw = stream_windows(rec.timestamps_s, x, target_rate_hz=30.0, window_samples=60, hop_samples=30,
                        source_rate_hz=rec.rate_hz)
    assert len(sw) == len(rw) > 20
    np.testing.assert_allclose([w.t_s[0] - rec.timestamps_s[0] for w in sw], rw.start_s, atol=1e-9)
    err = np.abs(np.stack([w.x for w in sw]) - rw.x)  # rw.x is float32: ~1e-6 of 10 m/s^2
    assert err.max() < START_TOL
    assert np.median(err) < 1e-5


def test_constant_stays_exactly_constant():
    t = jittered_times(12.0, seed=4, holes=((5.0, 5.1),))
    c = np.array([0.3, -9.81, 1.7, 0.0, 0.05, -1e3])
    res = StreamResampler(6, 30.0, 100.0)
    out = _stream(res, t, np.tile(c, (t.size, 1)), random_chunks(t.size, seed=4))
    x = out[0][1]
    assert x.shape[0] == 360
    assert np.all(x == c)  # exact, the segment's start and end included


def test_sine_keeps_amplitude_and_phase():
    t = jittered_times(10.0, seed=5)
    sig = np.sin(2 * np.pi * 1.0 * (t - 1000.0))[:, None]
    res = StreamResampler(1, 30.0, 100.0)
    t_out, y, _ = _stream(res, t, sig, random_chunks(t.size, seed=5))[0]
    inner = (t_out > t[0] + 0.5) & (t_out < t[-1] - 0.5)  # away from the edge extensions
    phase = 2 * np.pi * (t_out[inner] - 1000.0)
    basis = np.stack([np.sin(phase), np.cos(phase)], axis=1)
    (a, b), *_ = np.linalg.lstsq(basis, y[inner, 0], rcond=None)
    assert abs(np.hypot(a, b) - 1.0) < 1e-3  # amplitude (the filter passes 1 Hz at 0 dB)
    assert abs(np.arctan2(b, a)) < 2e-3  # phase [rad]: no delay (2e-3 rad = 0.3 ms)
    assert np.abs(y[inner, 0] - np.sin(phase)).max() < 2e-3


def test_outputs_are_causal_with_the_stated_lookahead():
    t = jittered_times(6.0, seed=6, jitter_s=0.001)
    x = watch_signal(t)[0]
    res = StreamResampler(3, 30.0, 100.0)
    assert res.lookahead_s == pytest.approx(1.0 / 3.0)  # half = 100 taps at 300 Hz
    emitted = []
    for i in range(t.size):
        blocks = res.push(t[i : i + 1], x[i : i + 1])
        emitted += [tt for b in blocks for tt in b.t_s]
        if emitted:
            # everything older than the lookahead (plus a source period and the jitter) is out, nothing newer
            # (the newest grid sample used is floor((half + m * down) / up): up to one source period less)
            assert emitted[-1] <= t[i] - res.lookahead_s + 0.01 + 1e-9
            assert emitted[-1] > t[i] - res.lookahead_s - 0.012 - 1.0 / 30.0


def test_long_hole_ends_the_segment():
    rec = synthetic_recording(20.0, seed=7, holes=((9.3, 9.8),))
    t, x = rec.timestamps_s, np.concatenate([rec.acc, rec.gyro], axis=1)
    hole = (t[t < 1009.3][-1], t[t >= 1009.8][0])
    res = StreamResampler(6, 30.0, 100.0)
    win = Windower(60, 30, 6)
    windows, seg_len = [], {}
    for sl in random_chunks(t.size, seed=7):
        for b in res.push(t[sl], x[sl]):
            seg_len[b.segment] = seg_len.get(b.segment, 0) + b.t_s.size
            windows += win.feed(b)
    for b in res.finish():
        seg_len[b.segment] = seg_len.get(b.segment, 0) + b.t_s.size
        windows += win.feed(b)
    assert res.counters["gaps"] == 1 and res.counters["segments"] == 2
    assert all(w.t_s[-1] <= hole[0] or w.t_s[0] >= hole[1] for w in windows)  # no window spans the hole
    assert {w.segment for w in windows} == {0, 1}
    # hop-grid windows started in a segment but cut by its end: ceil(n / 30) - (floor((n - 60) / 30) + 1)
    cut = [-(-n // 30) - ((n - 60) // 30 + 1) for n in (seg_len[0], seg_len[1])]
    assert win.counters["windows_dropped_gap"] == cut[0] > 0
    assert win.counters["windows_incomplete_at_end"] == cut[1]
    assert win.counters["windows"] == len(windows) == sum((n - 60) // 30 + 1 for n in seg_len.values())


@pytest.mark.parametrize("hole_s", [0.05, 0.2])
def test_short_hole_is_bridged_and_flagged(hole_s):
    t = jittered_times(12.0, seed=8, holes=((6.02, 6.02 + hole_s),))
    x = watch_signal(t)[0]
    res = StreamResampler(3, 30.0, 100.0)
    win = Windower(60, 30, 3)
    windows = [w for b in res.push(t, x) + res.finish() for w in win.feed(b)]
    assert res.counters["segments"] == 1 and res.counters["holes"] == 1
    out = stream_resample(t, x, target_rate_hz=30.0, source_rate_hz=100.0)
    t_out, _, filled = out[0]
    nearest = np.min(np.abs(t_out[:, None] - t[None, :]), axis=1)  # brute force: distance to the nearest raw sample
    expected = nearest > 1.5 / 100.0
    np.testing.assert_array_equal(filled, expected)
    assert expected.sum() in ({1} if hole_s == 0.05 else {5, 6})  # (hole - 3 ms) / 33 ms
    for w in windows:
        assert w.filled_samples == int(np.sum(expected & (t_out >= w.t_s[0]) & (t_out <= w.t_s[-1])))
    assert sum(w.filled_samples > 0 for w in windows) == 2  # the hole lies in two 2 s windows (hop 1 s)
    # a window with too many filled samples is dropped and counted
    strict = Windower(60, 30, 3, max_filled_samples=0)
    kept = [w for b in StreamResampler(3, 30.0, 100.0).push(t, x) for w in strict.feed(b)]
    assert strict.counters["windows_dropped_filled"] == 2 and all(w.filled_samples == 0 for w in kept)


def test_late_duplicate_and_invalid_samples_are_dropped_and_counted():
    t = jittered_times(8.0, seed=9)
    x = watch_signal(t)[0]
    clean = stream_resample(t, x, target_rate_hz=30.0, source_rate_hz=100.0)
    extra = {100: (t[100] - 0.004, x[100] + 1.0), 200: (t[200] + 0.001, np.array([np.nan, 0.0, 0.0])),
             300: (t[300] - 0.004, x[300] + 1.0), 400: (t[400], x[400] + 5.0), 500: (t[500] - 0.009, x[500])}
    bad_t, bad_x = [], []
    for i in range(t.size):  # after sample i: a stale sample, a NaN reading, a repeated timestamp
        bad_t.append(t[i])
        bad_x.append(x[i])
        if i in extra:
            bad_t.append(extra[i][0])
            bad_x.append(extra[i][1])
    res = StreamResampler(3, 30.0, 100.0)
    got = _stream(res, np.asarray(bad_t), np.asarray(bad_x), random_chunks(len(bad_t), seed=9))
    assert res.counters["samples_dropped_order"] == 4 and res.counters["samples_dropped_invalid"] == 1
    np.testing.assert_array_equal(got[0][1], clean[0][1])


def test_rate_estimate():
    assert estimate_nominal_rate_hz(jittered_times(2.0, seed=10, holes=((0.5, 0.55), (1.0, 1.1)))) == 100.0
    assert estimate_nominal_rate_hz(jittered_times(2.0, rate_hz=52.0, seed=10)) == 52.0
    assert estimate_nominal_rate_hz(jittered_times(2.0, rate_hz=12.5, seed=10, jitter_s=0.01)) == 12.5
    with pytest.raises(ConfigError):
        estimate_nominal_rate_hz(np.array([0.0, 1.0]))
    # the resampler waits for 2 s of data, estimates 100 Hz, and then matches a resampler told the rate
    t = jittered_times(8.0, seed=11)
    x = watch_signal(t)[0]
    res = StreamResampler(3, 30.0, None)
    assert res.push(t[:150], x[:150]) == [] and res.source_rate_hz is None
    got = _stream(res, t, x, [slice(150, t.size)])
    assert res.source_rate_hz == 100.0
    np.testing.assert_array_equal(got[0][1], stream_resample(t, x, target_rate_hz=30.0, source_rate_hz=100.0)[0][1])
