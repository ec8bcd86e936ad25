"""Domain randomisation: rotations keep magnitudes, the mirror is calibration's, device effects match profiles."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import ConfigError
from toolkit.frames import G_MS2
from toolkit.mount import Mount
from toolkit.sim.devices import get_profile
from toolkit.train.augment import (
    AugmentConfig,
    Augmenter,
    device_effects,
    mirror_windows,
    random_rotations,
    rotate_windows,
)


def _windows(n: int = 16, length: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2.0, (n, length, 6)).astype(np.float32)
    x[..., 0] -= G_MS2  # arm hanging: +X (toward the hand) points down, specific force -g on x
    return x


def test_rotation_jitter_preserves_magnitudes_and_twist_keeps_the_forearm_axis():
    x = _windows()
    rng = np.random.default_rng(1)
    y = rotate_windows(x, random_rotations(len(x), rng, twist_deg=15, tilt_deg=5))
    for sl in (slice(0, 3), slice(3, 6)):
        np.testing.assert_allclose(np.linalg.norm(y[..., sl], axis=-1), np.linalg.norm(x[..., sl], axis=-1), rtol=1e-5)
    assert np.abs(y - x).max() > 0.1  # it did rotate
    twist = rotate_windows(x, random_rotations(len(x), rng, twist_deg=15, tilt_deg=0))
    np.testing.assert_allclose(twist[..., [0, 3]], x[..., [0, 3]], atol=1e-5)  # x (forearm) components unchanged
    angles = np.degrees(np.arccos(np.clip(random_rotations(500, rng, 15, 0)[:, 1, 1], -1, 1)))
    assert angles.max() <= 15 + 1e-6 and angles.max() > 12  # within and filling +-15 deg


def test_mirror_is_the_calibration_mirror():
    x = _windows(4).astype(np.float64)
    m = mirror_windows(x)
    for w in range(len(x)):
        acc, gyro = Mount("right").to_canonical(x[w, :, :3], x[w, :, 3:])
        np.testing.assert_allclose(m[w, :, :3], acc)
        np.testing.assert_allclose(m[w, :, 3:], gyro)
    np.testing.assert_allclose(mirror_windows(m), x)  # an involution
    tpose = np.array([[[0.0, 0.0, G_MS2, 0, 0, 0]]])  # both wrists read (0, 0, +g) in the T-pose (README)
    np.testing.assert_allclose(mirror_windows(tpose), tpose)
    aug = Augmenter(AugmentConfig(mirror_right=True), 30.0)
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(aug.wrist(x, rng, right=True), m)
    np.testing.assert_allclose(aug.wrist(x, rng, right=False), x)  # the left wrist is never mirrored


def test_device_effects_follow_the_profiles():
    rng = np.random.default_rng(0)
    still = np.zeros((400, 60, 6))
    still[..., 2] = G_MS2
    e4 = device_effects(still * 3, get_profile("empatica-e4"), rng, 30.0)  # 3 g on z: beyond the E4's +-2 g
    assert np.isnan(e4[..., 3:]).all()  # no gyroscope
    lsb = G_MS2 / 64
    assert np.abs(e4[..., :3]).max() <= 2 * G_MS2 + 1e-9
    np.testing.assert_allclose(e4[..., :3] / lsb, np.round(e4[..., :3] / lsb), atol=1e-6)
    p = get_profile("wear-os-watch")
    w = device_effects(still, p, rng, 30.0)
    noise = w[..., :3] - w[..., :3].mean(axis=1, keepdims=True)
    want = p.acc_noise_density * np.sqrt(15.0)
    assert abs(noise.std() / want - 1) < 0.15  # white noise over the 15 Hz band (quantisation adds a little)
    bias = w[..., :3].mean(axis=1) - still[:, 0, :3]
    assert abs(bias.std() / p.acc_bias_sd_ms2 - 1) < 0.1


def test_augment_config_errors():
    with pytest.raises(ConfigError, match="unknown keys"):
        AugmentConfig.from_dict({"twist": 10})
    with pytest.raises(ConfigError, match="unknown device profile"):
        AugmentConfig.from_dict({"devices": ["pebble"]})
    with pytest.raises(ConfigError, match="twist_deg"):
        AugmentConfig.from_dict({"twist_deg": -1})
    assert AugmentConfig.from_dict({"devices": "apple-watch"}).devices == ("apple-watch",)
