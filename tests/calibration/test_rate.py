"""Rate calibration: a known rate and clock drift recovered through BLE jitter and packet loss."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration.rate import RateEstimate, estimate_rate, fit_lower_envelope, fit_sample_clock
from toolkit.errors import ConfigError

TRUE_HZ = 98.7  # samples per second of true (host) time; the profile says 100 Hz
DRIFT_PPM = 150.0  # the device clock gains 150 us per second


def _ble_stream(seed: int, seconds: float = 120.0, per_packet: int = 4, loss: float = 0.05):
    """Device timestamps (1 ms ticks of a clock running DRIFT_PPM fast) and host arrival times of the samples
    of the packets that arrived: packet of ``per_packet`` samples sent after its last sample, delayed by 3 ms +
    an exponential delay of mean 15 ms (capped at 200 ms), ``loss`` of the packets lost.

    Returns device_time_s, host_time_s, number of samples lost.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * TRUE_HZ)
    t_true = 1.7e9 + np.arange(n) / TRUE_HZ  # host clock = true time (unix seconds)
    dev = np.round((5000.0 + (t_true - 1.7e9) * (1.0 + DRIFT_PPM * 1e-6)) * 1e3) / 1e3
    packet = np.arange(n) // per_packet
    n_packets = int(packet[-1]) + 1
    last = np.minimum((packet + 1) * per_packet - 1, n - 1)
    delay = np.minimum(0.003 + rng.exponential(0.015, n_packets), 0.2)
    host = t_true[last] + delay[packet]
    arrived = (rng.random(n_packets) >= loss)[packet]
    arrived[0] = arrived[-1] = True
    return dev[arrived], host[arrived], int((~arrived).sum())


# Tolerances: device timestamps are 1 ms ticks, so over 2 minutes the fitted period is exact to ~1e-8 relative
# (1e-3 Hz is 10 ppm, 100x that); the drift comes from the lower envelope of arrivals whose smallest delays are
# ~3 ms, an error of ~1 ms / 120 s = 8 ppm at worst: 20 ppm tolerance. Measured: rate within 0.0003 Hz, drift
# within 3 ppm over these seeds.
RATE_TOL_HZ = 1e-3
DRIFT_TOL_PPM = 20.0


@pytest.mark.parametrize("seed", range(3))
def test_rate_and_drift_through_jitter_and_loss(seed):
    dev, host, lost = _ble_stream(seed)
    est = estimate_rate(dev, host, nominal_hz=100.0)
    assert abs(est.rate_hz - TRUE_HZ) < RATE_TOL_HZ
    assert abs(est.device_rate_hz - TRUE_HZ / (1 + DRIFT_PPM * 1e-6)) < RATE_TOL_HZ
    assert abs(est.drift_ppm - DRIFT_PPM) < DRIFT_TOL_PPM
    assert est.n_lost == lost and est.n_samples == dev.size
    assert abs(est.rate_error_ppm - (TRUE_HZ / 100.0 - 1) * 1e6) < 20.0  # -13,000 ppm: far from nominal
    assert 0.25 < est.timestamp_residual_ms < 0.35  # 1 ms ticks: uniform error, rms 1/sqrt(12) ms
    assert 0.0 <= est.delay_median_ms < est.delay_p95_ms < 200.0


def test_device_timestamps_alone_give_the_device_clock_rate():
    dev, _, lost = _ble_stream(5, seconds=60.0)
    est = estimate_rate(dev, None, nominal_hz=100.0)
    assert est.drift_ppm is None and est.n_lost == lost
    assert abs(est.rate_hz - TRUE_HZ / (1 + DRIFT_PPM * 1e-6)) < RATE_TOL_HZ
    # shuffled input (reordered packets) gives the same answer
    perm = np.random.default_rng(0).permutation(dev.size)
    assert abs(estimate_rate(dev[perm], None).rate_hz - est.rate_hz) < 1e-9


def test_host_times_alone_with_and_without_sample_index():
    dev, host, lost = _ble_stream(6, seconds=120.0)
    index = np.rint((dev - dev[0]) * TRUE_HZ / (1 + DRIFT_PPM * 1e-6)).astype(np.int64)  # e.g. from seq numbers
    est = estimate_rate(None, host, sample_index=index)
    assert abs(est.rate_hz - TRUE_HZ) < 0.01 and est.n_lost == lost  # envelope of ~2 ms over 120 s: < 2e-5
    blind = estimate_rate(None, host)  # lost samples are invisible: the rate is ~5 % low
    assert blind.n_lost is None and 0.9 * TRUE_HZ < blind.rate_hz < 0.99 * TRUE_HZ
    assert "lost samples not detectable" in blind.method


def test_fit_sample_clock_with_jittery_timestamps_and_long_gaps():
    # jitter of +-0.4 period (uniform) on every timestamp, and three gaps of 50 samples: single steps of up to
    # 1.8 periods are not losses; the gaps are
    rng = np.random.default_rng(3)
    k_true = np.delete(np.arange(12000), np.r_[2000:2050, 5000:5050, 9000:9050])
    t = 12.0 + k_true * 0.01013 + rng.uniform(-0.4, 0.4, k_true.size) * 0.01013
    clock = fit_sample_clock(t)
    assert clock.index[-1] == k_true[-1]  # 150 lost samples found
    assert abs(clock.period_s / 0.01013 - 1.0) < 1e-4
    # clean timestamps (1 ms ticks) with random single losses: every index exact
    k_true = np.sort(rng.choice(20000, size=17000, replace=False))
    t = np.round((12.0 + k_true * 0.01013) * 1e3) / 1e3
    clock = fit_sample_clock(t)
    np.testing.assert_array_equal(clock.index, k_true - k_true[0])
    assert abs(clock.period_s - 0.01013) < 1e-8


def test_lower_envelope_is_under_every_point_and_touches_the_hull():
    rng = np.random.default_rng(1)
    x = np.linspace(0, 100, 2000)
    y = 3.0 + 0.5 * x + rng.exponential(0.1, x.size)
    a, b = fit_lower_envelope(x, y)
    assert np.all(y - (a + b * x) >= -1e-9)
    assert abs(b - 0.5) < 1e-3 and abs(a - 3.0) < 0.05


def test_bad_inputs_and_json_round_trip():
    with pytest.raises(ConfigError, match="give device timestamps"):
        estimate_rate(None, None)
    with pytest.raises(ConfigError, match="non-decreasing"):
        fit_sample_clock([0.0, 0.02, 0.01, 0.03])  # estimate_rate sorts; fit_sample_clock does not
    with pytest.raises(ConfigError, match="differ in shape"):
        estimate_rate(np.arange(10) * 0.01, np.arange(9) * 0.01)
    with pytest.raises(ConfigError, match="N >= 3"):
        estimate_rate([0.0, 0.01], None)
    dev, host, _ = _ble_stream(0, seconds=20.0)
    est = estimate_rate(dev, host, nominal_hz=100.0)
    d = json.loads(json.dumps(est.to_dict()))
    assert d["schema"] == 1 and RateEstimate.from_dict(d) == est
    with pytest.raises(ConfigError, match="unknown keys"):
        RateEstimate.from_dict({**d, "jitter": 1.0})
    with pytest.raises(ConfigError, match="rate_hz"):
        RateEstimate.from_dict({**d, "rate_hz": -1.0})
