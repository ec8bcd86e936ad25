"""Frequency response of the simulated IMU: a flat band shared by the accelerometer and the gyroscope.

A T-pose body translates (accelerometer) or turns about the vertical (gyroscope) sinusoidally; the
amplitude of the simulated signal, fitted by least squares away from the clip ends, is compared with
the analytic amplitude ``A (2 pi f)^2`` [m/s^2] or ``A 2 pi f`` [rad/s].
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from toolkit import frames
from toolkit.errors import ConfigError
from toolkit.sim.body import BuiltinBody
from toolkit.sim.imu import DEFAULT_BANDWIDTH_HZ, lowpass_kernel, simulate_imu
from toolkit.sim.motion import still_motion

BODY = BuiltinBody()
WRIST = [BODY.named_placement("left_wrist")]
EDGE_S = 0.5  # frames this close to the clip ends are left out of the fit


def _amplitude(x: np.ndarray, f_hz: float, rate_hz: float) -> float:
    """Least-squares amplitude of the ``f_hz`` sinusoid in ``x`` (T, 3), summed over the axes."""
    t = np.arange(x.shape[0]) / rate_hz
    basis = np.stack([np.sin(2 * np.pi * f_hz * t), np.cos(2 * np.pi * f_hz * t), np.ones_like(t)], axis=1)
    edge = int(EDGE_S * rate_hz)
    coef, *_ = np.linalg.lstsq(basis[edge:-edge], x[edge:-edge], rcond=None)
    return float(np.linalg.norm(coef[:2]))


def acc_gain(f_hz: float, rate_hz: float, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ, seconds: float = 4.0) -> float:
    """Accelerometer gain for the root translating along x with 1 cm amplitude at ``f_hz``."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    m = still_motion(n, rate_hz, pelvis_height_m=BODY.pelvis_height_m)
    amp = 0.01
    m.root_pos[:, 1] = BODY.pelvis_height_m
    m.root_pos[:, 0] = amp * np.sin(2 * np.pi * f_hz * t)
    sig = simulate_imu(m, BODY, WRIST, bandwidth_hz=bandwidth_hz)
    return _amplitude(sig.acc[:, 0], f_hz, rate_hz) / (amp * (2 * np.pi * f_hz) ** 2)


def gyro_gain(f_hz: float, rate_hz: float, bandwidth_hz: float = DEFAULT_BANDWIDTH_HZ, seconds: float = 4.0) -> float:
    """Gyroscope gain for the body turning about the vertical by +-0.05 rad at ``f_hz``."""
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    m = still_motion(n, rate_hz, pelvis_height_m=BODY.pelvis_height_m)
    amp = 0.05
    m.root_pos[:, 1] = BODY.pelvis_height_m
    angle = amp * np.sin(2 * np.pi * f_hz * t)
    m.local_quat[:, 0] = Rotation.from_rotvec(np.outer(angle, frames.UP_WORLD)).as_quat()
    sig = simulate_imu(m, BODY, WRIST, bandwidth_hz=bandwidth_hz)
    return _amplitude(sig.gyro[:, 0], f_hz, rate_hz) / (amp * 2 * np.pi * f_hz)


def minus_3db_point(gain, rate_hz: float, bandwidth_hz: float) -> float:
    """Frequency [Hz] where ``gain(f, rate_hz, bandwidth_hz)`` crosses 1/sqrt(2) (linear interpolation)."""
    fs = np.arange(0.6, 1.4, 0.02) * bandwidth_hz
    fs = fs[fs < 0.49 * rate_hz]
    g = np.array([gain(f, rate_hz, bandwidth_hz) for f in fs])
    i = int(np.argmax(g < 2**-0.5))
    assert i > 0, g
    return float(np.interp(2**-0.5, [g[i], g[i - 1]], [fs[i], fs[i - 1]]))


@pytest.mark.parametrize("rate_hz", [60.0, 120.0])
def test_acc_gain_is_flat_from_0_to_8_hz(rate_hz):
    gains = [acc_gain(f, rate_hz) for f in (0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8)]
    np.testing.assert_allclose(gains, 1.0, atol=0.03)  # the DONE-WHEN bound: +-3 %
    assert np.abs(np.array(gains) - 1.0).max() < 0.005  # measured: < 0.1 %


@pytest.mark.parametrize("rate_hz", [60.0, 120.0])
def test_gyro_shares_the_band(rate_hz):
    for f in (1.0, 4.0, 8.0):
        assert gyro_gain(f, rate_hz) == pytest.approx(1.0, abs=0.01)
    acc_3db = minus_3db_point(acc_gain, rate_hz, DEFAULT_BANDWIDTH_HZ)
    gyro_3db = minus_3db_point(gyro_gain, rate_hz, DEFAULT_BANDWIDTH_HZ)
    assert acc_3db == pytest.approx(gyro_3db, abs=0.3)  # Hz
    assert acc_3db == pytest.approx(DEFAULT_BANDWIDTH_HZ, abs=0.5)  # the parameter is the -3 dB point


def test_bandwidth_is_a_parameter():
    assert minus_3db_point(acc_gain, 120.0, 8.0) == pytest.approx(8.0, abs=0.3)
    assert acc_gain(4.0, 120.0, bandwidth_hz=8.0) == pytest.approx(1.0, abs=0.01)
    assert acc_gain(12.0, 120.0, bandwidth_hz=8.0) < 0.01  # stop band
    with pytest.raises(ConfigError, match="bandwidth"):
        lowpass_kernel(60.0, 0.0)


def test_stop_band_rejects_motion_capture_jitter():
    """White position jitter: the acceleration noise is that of the band, not of the whole spectrum."""
    rate, sigma, n = 60.0, 1e-3, 6000
    m = still_motion(n, rate, pelvis_height_m=BODY.pelvis_height_m)
    m.root_pos[:, 1] = BODY.pelvis_height_m
    m.root_pos += np.random.default_rng(0).normal(0.0, sigma, (n, 3))
    noise = simulate_imu(m, BODY, WRIST).acc[100:-100, 0] - np.array([0.0, 0.0, frames.G_MS2])
    rms = float(np.sqrt((noise**2).sum(axis=1).mean()))
    # white noise of variance s^2 through an ideal band-B second derivative: 3 axes x s^2 (2/fs) (2 pi)^4 B^5 / 5
    band = DEFAULT_BANDWIDTH_HZ
    expected = np.sqrt(3 * sigma**2 * (2 / rate) * (2 * np.pi) ** 4 * band**5 / 5)
    full = np.sqrt(3 * sigma**2 * (2 / rate) * (2 * np.pi) ** 4 * (rate / 2) ** 5 / 5)  # no low-pass at all
    assert rms == pytest.approx(expected, rel=0.15)
    assert rms < 0.3 * full


def test_constant_acceleration_and_rate_are_exact_with_any_band():
    rate = 100.0
    t = np.arange(150) / rate
    m = still_motion(len(t), rate, pelvis_height_m=BODY.pelvis_height_m)
    m.root_pos[:, 1] = 10.0 - 0.5 * frames.G_MS2 * t**2  # free fall
    m.local_quat[:, 0] = Rotation.from_rotvec(np.outer(2.0 * t, frames.UP_WORLD)).as_quat()  # 2 rad/s spin
    for band in (3.0, 15.0, 49.0):
        sig = simulate_imu(m, BODY, WRIST, bandwidth_hz=band)
        np.testing.assert_allclose(sig.gyro[:, 0], np.broadcast_to([0.0, 0.0, 2.0], (len(t), 3)), atol=1e-9)
        # a spinning wrist feels the centripetal acceleration only: no gravity, horizontal
        assert np.abs(sig.acc[:, 0, 2]).max() < 1e-8


def response_table(rates=(60.0, 120.0), freqs=(1, 2, 4, 6, 8, 10, 12)) -> str:
    """The table in the :mod:`toolkit.sim.imu` docstring: ``python -m tests.sim.test_imu_bandwidth``."""
    lines = []
    for rate in rates:
        for name, fn in (("acc", acc_gain), ("gyro", gyro_gain)):
            lines.append(f"{name:4s} {rate:5.0f} Hz  " + "  ".join(f"{fn(f, rate):.3f}" for f in freqs))
    return "\n".join(lines)


if __name__ == "__main__":
    print(response_table())
    for r in (60.0, 120.0):
        print(r, "-3 dB acc", minus_3db_point(acc_gain, r, 15.0), "gyro", minus_3db_point(gyro_gain, r, 15.0))
