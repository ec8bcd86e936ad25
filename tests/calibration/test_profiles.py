"""Real-device profiles: validation, serialisation, unit/sign/axis conversion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit.device_profiles import REAL_PROFILES, RealDeviceProfile, get_real_profile, validate_rotation
from toolkit.errors import ConfigError
from toolkit.frames import G_MS2


@pytest.mark.parametrize("name", sorted(REAL_PROFILES))
def test_round_trip_through_json(name):
    p = get_real_profile(name)
    d = json.loads(json.dumps(p.to_dict()))
    assert d["schema"] == 1
    assert RealDeviceProfile.from_dict(d) == p


@pytest.mark.parametrize("name", sorted(REAL_PROFILES))
def test_from_simulator_inverts_to_simulator(name):
    p = get_real_profile(name)
    rng = np.random.default_rng(0)
    acc, gyro = rng.normal(size=(50, 3)) * 5, rng.normal(size=(50, 3))
    dev_acc, dev_gyro = p.from_simulator(acc, gyro if p.has_gyro else None)
    back_acc, back_gyro = p.to_simulator(dev_acc, dev_gyro)
    np.testing.assert_allclose(back_acc, acc, atol=1e-12)
    if p.has_gyro:
        np.testing.assert_allclose(back_gyro, gyro, atol=1e-12)


def test_watch_lying_face_up_reads_plus_g_on_z_for_every_wrist_profile():
    up = np.array([[0.0, 0.0, G_MS2]])  # simulator: face up at rest
    cases = {
        "wear-os-watch": [0.0, 0.0, G_MS2],
        "imu-stream": [0.0, 0.0, G_MS2],
        "apple-watch": [0.0, 0.0, -1.0],  # CoreMotion: -1 g on the upward axis
        "empatica-e4": [0.0, 0.0, -64.0],  # E4 +z points to the bottom (down): -64 counts
        "polar-verity-sense": [0.0, 0.0, 1000.0],  # mG
    }
    for name, device_reading in cases.items():
        acc, _ = get_real_profile(name).to_simulator(np.array([device_reading]))
        np.testing.assert_allclose(acc, up, atol=1e-9, err_msg=name)


def test_units_of_gyro_and_counts():
    polar = get_real_profile("polar-verity-sense")
    _, w = polar.to_simulator(np.zeros((1, 3)), np.array([[180.0, 0.0, -90.0]]))
    np.testing.assert_allclose(w, [[np.pi, 0.0, -np.pi / 2]])
    e4 = get_real_profile("empatica-e4")
    a, w = e4.to_simulator(np.array([[64.0, 32.0, 0.0]]))  # E4 x -> watch -Y, y -> -X (test_e4_axes.py)
    np.testing.assert_allclose(a, [[-G_MS2 / 2, -G_MS2, 0.0]])
    assert w is None
    with pytest.raises(ConfigError, match="no gyroscope"):
        e4.to_simulator(np.zeros((1, 3)), np.zeros((1, 3)))


def test_validation_errors():
    with pytest.raises(ConfigError, match="acc_units"):
        RealDeviceProfile(name="x", acc_units="mg")
    with pytest.raises(ConfigError, match="counts_per_g or acc_scale"):
        RealDeviceProfile(name="x", acc_units="counts")
    with pytest.raises(ConfigError, match="counts_per_g"):
        RealDeviceProfile(name="x", acc_units="g", counts_per_g=64)
    with pytest.raises(ConfigError, match="gyro_units"):
        RealDeviceProfile(name="x", gyro_units="rpm")
    with pytest.raises(ConfigError, match="acc_sign"):
        RealDeviceProfile(name="x", acc_sign="up")
    with pytest.raises(ConfigError, match="orthonormal"):
        RealDeviceProfile(name="x", axes_to_watch=((1, 0, 0), (0, 2, 0), (0, 0, 1)))
    with pytest.raises(ConfigError, match="reflection"):
        RealDeviceProfile(name="x", axes_to_watch=((-1, 0, 0), (0, 1, 0), (0, 0, 1)))
    with pytest.raises(ConfigError, match="rate_hz"):
        RealDeviceProfile(name="x", rate_hz=0)
    with pytest.raises(ConfigError, match="schema"):
        RealDeviceProfile.from_dict({"name": "x"})
    with pytest.raises(ConfigError, match="unknown keys"):
        RealDeviceProfile.from_dict({"schema": 1, "name": "x", "colour": "red"})
    with pytest.raises(ConfigError, match=r"known: wear-os-watch, apple-watch"):
        get_real_profile("fitbit")
    with pytest.raises(ConfigError, match="3x3"):
        validate_rotation(np.eye(2))
