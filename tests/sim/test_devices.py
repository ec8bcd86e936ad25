"""Device response models: units, signs, resampling, noise, bias, saturation, quantisation."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from toolkit.errors import ConfigError
from toolkit.frames import G_MS2
from toolkit.sim.devices import (
    PROFILES,
    DeviceProfile,
    apply_device,
    from_device_units,
    get_profile,
    resample_ratio,
    to_device_units,
)

STILL = np.array([0.0, 0.0, G_MS2])


def _random_signals(t: int = 240, p: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = STILL + rng.normal(0.0, 3.0, (t, p, 3))
    gyro = rng.normal(0.0, 2.0, (t, p, 3))
    return acc, gyro


def _still(t: int, p: int = 1) -> np.ndarray:
    return np.broadcast_to(STILL, (t, p, 3)).copy()


# --- profiles --------------------------------------------------------------------------------------


def test_registry_holds_the_documented_profiles():
    assert list(PROFILES) == ["ideal", "wear-os-watch", "apple-watch", "empatica-e4", "android-phone"]
    assert get_profile("ideal").is_ideal
    assert not any(p.is_ideal for name, p in PROFILES.items() if name != "ideal")
    e4 = get_profile("empatica-e4")
    assert (e4.rate_hz, e4.has_gyro, e4.acc_units, e4.acc_sign) == (32.0, False, "g", "android")
    assert e4.acc_range_ms2 == pytest.approx(2 * G_MS2) and e4.acc_resolution_ms2 == pytest.approx(G_MS2 / 64)
    aw = get_profile("apple-watch")
    assert (aw.rate_hz, aw.acc_units, aw.acc_sign, aw.gyro_units) == (50.0, "g", "ios", "rad/s")


def test_unknown_profile_lists_known_names():
    with pytest.raises(ConfigError) as e:
        get_profile("fitbit")
    assert str(e.value) == (
        "unknown device profile 'fitbit' (known: ideal, wear-os-watch, apple-watch, empatica-e4, android-phone)"
    )


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_dict_round_trip(name):
    prof = PROFILES[name]
    d = prof.to_dict()
    assert d["schema"] == 1
    again = DeviceProfile.from_dict(json.loads(json.dumps(d)))
    assert again == prof


def test_from_dict_rejects_unknown_keys_and_schema():
    d = PROFILES["ideal"].to_dict()
    with pytest.raises(ConfigError, match="unknown keys colour"):
        DeviceProfile.from_dict({**d, "colour": "red"})
    with pytest.raises(ConfigError, match="unsupported schema 2"):
        DeviceProfile.from_dict({**d, "schema": 2})
    with pytest.raises(ConfigError, match="missing key 'name'"):
        DeviceProfile.from_dict({"schema": 1})
    assert DeviceProfile.from_dict({"name": "bare"}) == DeviceProfile(name="bare")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"acc_noise_density": -1.0}, "device profile 'x': acc_noise_density must be >= 0 (got -1.0)"),
        ({"rate_hz": 0}, "device profile 'x': rate_hz must be > 0 or None (got 0)"),
        ({"acc_range_ms2": -5.0}, "device profile 'x': acc_range_ms2 must be > 0 or None (got -5.0)"),
        ({"gyro_bias_walk": float("nan")}, "device profile 'x': gyro_bias_walk must be finite (got nan)"),
        ({"acc_bias_sd_ms2": "0.1"}, "device profile 'x': acc_bias_sd_ms2 must be a number (got '0.1')"),
        ({"acc_units": "mg"}, "device profile 'x': unknown acc_units 'mg' (known: m/s^2, g)"),
        ({"acc_sign": "up"}, "device profile 'x': unknown acc_sign 'up' (known: android, ios)"),
        ({"gyro_units": "rpm"}, "device profile 'x': unknown gyro_units 'rpm' (known: rad/s, deg/s)"),
        ({"has_gyro": "yes"}, "device profile 'x': has_gyro must be true or false (got 'yes')"),
        (
            {"misalignment_sd_rad": 1.0},
            "device profile 'x': misalignment_sd_rad must be <= 0.5 rad, a small-angle model (got 1.0)",
        ),
        (
            {"acc_range_ms2": 1.0, "acc_resolution_ms2": 2.0},
            "device profile 'x': acc_resolution_ms2 (2.0) must be smaller than acc_range_ms2 (1.0)",
        ),
    ],
)
def test_bad_profile_values_raise_one_line_config_errors(kwargs, message):
    with pytest.raises(ConfigError) as e:
        DeviceProfile(name="x", **kwargs)
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_empty_name_is_rejected():
    with pytest.raises(ConfigError, match="name must be a non-empty string"):
        DeviceProfile(name=" ")


# --- units and signs -------------------------------------------------------------------------------


def test_ideal_profile_is_the_identity_bit_for_bit():
    acc, gyro = _random_signals()
    out = apply_device(acc, gyro, 60.0, "ideal", rng=123)
    assert out.rate_hz == 60.0 and out.resample == (1, 1)
    for got in (out.acc, out.acc_device):
        assert np.array_equal(got, acc) and got is not acc
    assert np.array_equal(out.gyro, gyro) and np.array_equal(out.gyro_device, gyro)
    ideal = get_profile("ideal")
    assert np.array_equal(to_device_units(acc, ideal), acc)
    assert np.array_equal(from_device_units(acc, ideal), acc)
    assert np.array_equal(to_device_units(gyro, ideal, "gyro"), gyro)


def test_ios_sign_and_g_units():
    aw = get_profile("apple-watch")
    np.testing.assert_allclose(to_device_units(STILL, aw), [0.0, 0.0, -1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(from_device_units([0.0, 0.0, -1.0], aw), STILL, rtol=0, atol=1e-15)


def test_still_apple_watch_reads_minus_one_g_and_converts_back():
    out = apply_device(_still(600), None, 60.0, "apple-watch", rng=7)
    assert out.rate_hz == 50.0 and out.acc.shape == (500, 1, 3) and out.gyro is None
    mean_dev = out.acc_device.mean(axis=(0, 1))
    np.testing.assert_allclose(mean_dev, [0.0, 0.0, -1.0], atol=0.05)  # bias sd 0.1 m/s^2, misalignment 0.01 rad
    back = from_device_units(out.acc_device, out.profile)
    np.testing.assert_allclose(back, out.acc, rtol=1e-14, atol=1e-14)
    assert back[..., 2].mean() == pytest.approx(G_MS2, abs=0.5)


@pytest.mark.parametrize("name", list(PROFILES))
@pytest.mark.parametrize("channel", ["acc", "gyro"])
def test_unit_conversions_are_inverses(name, channel):
    prof = PROFILES[name]
    x = np.random.default_rng(1).normal(0, 20, (50, 2, 3))
    np.testing.assert_allclose(from_device_units(to_device_units(x, prof, channel), prof, channel), x, rtol=1e-15)
    np.testing.assert_allclose(to_device_units(from_device_units(x, prof, channel), prof, channel), x, rtol=1e-15)


def test_degrees_per_second_and_bad_channel():
    prof = DeviceProfile(name="dps", gyro_units="deg/s")
    np.testing.assert_allclose(to_device_units([math.pi, 0, 0], prof, "gyro"), [180.0, 0, 0])
    with pytest.raises(ConfigError, match="unknown channel 'mag'"):
        to_device_units(STILL, prof, "mag")


# --- the E4: rate, quantisation, clipping, no gyroscope --------------------------------------------


def test_empatica_e4_rate_steps_range_and_no_gyro():
    t = np.arange(600) / 60.0
    acc = _still(600, 2)
    acc[:, 0, 0] = 30.0 * np.sin(2 * np.pi * 0.5 * t)  # +-3 g on x: beyond the +-2 g range
    gyro = np.ones_like(acc)
    out = apply_device(acc, gyro, 60.0, "empatica-e4", rng=0)
    assert out.rate_hz == 32.0 and out.resample == (8, 15)
    assert out.acc.shape == (math.ceil(600 * 8 / 15), 2, 3)
    assert out.gyro is None and out.gyro_device is None and out.instance.gyro_bias_rads is None
    counts = out.acc_device * 64  # the raw ACC.csv counts
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    assert np.abs(out.acc_device).max() == pytest.approx(2.0)  # clipped at +-2 g, and reaches it
    assert np.all(np.abs(out.acc) <= 2 * G_MS2 + 1e-12)
    assert counts[:, 0, 0].max() == pytest.approx(128) and counts[:, 0, 0].min() == pytest.approx(-128)


# --- noise, bias walk, saturation, misalignment ----------------------------------------------------


def test_white_noise_sd_matches_density():
    prof = DeviceProfile(name="noise", acc_noise_density=2e-3, gyro_noise_density=1e-4)
    rate = 100.0
    out = apply_device(_still(100_000), np.zeros((100_000, 1, 3)), rate, prof, rng=5)
    expect_acc, expect_gyro = 2e-3 * math.sqrt(rate / 2), 1e-4 * math.sqrt(rate / 2)
    np.testing.assert_allclose(out.acc.std(axis=0), expect_acc, rtol=0.03)
    np.testing.assert_allclose(out.gyro.std(axis=0), expect_gyro, rtol=0.03)
    np.testing.assert_allclose(out.acc.mean(axis=0)[0], STILL, atol=5 * expect_acc / math.sqrt(100_000))


def test_watch_noise_level_with_quantisation_and_bias():
    # the built-in watch without its bias walk: constant bias, misalignment, noise and 16-bit steps
    prof = replace(get_profile("wear-os-watch"), acc_bias_walk=0.0, gyro_bias_walk=0.0)
    out = apply_device(_still(50_000), np.zeros((50_000, 1, 3)), 100.0, prof, rng=11)
    sd_acc = 90e-6 * G_MS2 * math.sqrt(50.0)  # 90 ug/sqrt(Hz) over 50 Hz: 6.2e-3 m/s^2
    sd_gyro = math.radians(0.004) * math.sqrt(50.0)
    np.testing.assert_allclose(out.acc.std(axis=0)[0], sd_acc, rtol=0.10)
    lsb = prof.acc_resolution_ms2
    np.testing.assert_allclose(out.acc / lsb, np.round(out.acc / lsb), atol=1e-6)
    # the gyroscope's noise (0.028 dps) is below its 70 mdps LSB, as on the real watch: it only
    # toggles between neighbouring codes
    glsb = prof.gyro_resolution_rads
    assert sd_gyro < glsb
    np.testing.assert_allclose(out.gyro / glsb, np.round(out.gyro / glsb), atol=1e-6)
    assert np.all(out.gyro.std(axis=0) < glsb)


def test_bias_walk_grows_like_sqrt_t():
    walk, rate, p = 0.05, 100.0, 4000
    prof = DeviceProfile(name="walk", acc_bias_walk=walk)
    out = apply_device(np.zeros((401, p, 3)), None, rate, prof, rng=2)
    assert np.all(out.acc[0] == 0.0)  # the walk starts at 0
    sd_1s = out.acc[100].std()
    sd_4s = out.acc[400].std()
    assert sd_1s == pytest.approx(walk * 1.0, rel=0.05)
    assert sd_4s == pytest.approx(walk * 2.0, rel=0.05)
    assert sd_4s / sd_1s == pytest.approx(2.0, rel=0.07)


def test_turn_on_bias_is_constant_per_instance():
    prof = DeviceProfile(name="bias", acc_bias_sd_ms2=0.5, gyro_bias_sd_rads=0.01)
    out = apply_device(np.zeros((50, 2000, 3)), np.zeros((50, 2000, 3)), 50.0, prof, rng=3)
    np.testing.assert_array_equal(out.acc, np.broadcast_to(out.instance.acc_bias_ms2, out.acc.shape))
    assert out.instance.acc_bias_ms2.std() == pytest.approx(0.5, rel=0.05)
    assert out.instance.gyro_bias_rads.std() == pytest.approx(0.01, rel=0.05)


def test_saturation_holds_on_both_channels():
    prof = get_profile("wear-os-watch")
    acc = np.zeros((200, 2, 3))
    acc[:, 0] = [200.0, -200.0, 9.81]
    gyro = np.zeros((200, 2, 3))
    gyro[:, 1] = [100.0, -100.0, 0.0]
    out = apply_device(acc, gyro, 100.0, prof, rng=0)
    max_acc = math.floor(prof.acc_range_ms2 / prof.acc_resolution_ms2 + 1e-9) * prof.acc_resolution_ms2
    max_gyro = math.floor(prof.gyro_range_rads / prof.gyro_resolution_rads + 1e-9) * prof.gyro_resolution_rads
    assert np.abs(out.acc).max() <= prof.acc_range_ms2 and np.abs(out.gyro).max() <= prof.gyro_range_rads
    assert out.acc[:, 0, 0].min() == pytest.approx(max_acc) and out.acc[:, 0, 1].max() == pytest.approx(-max_acc)
    assert out.gyro[:, 1, 0].min() == pytest.approx(max_gyro) and out.gyro[:, 1, 1].max() == pytest.approx(-max_gyro)


def test_misalignment_is_a_rotation_per_placement():
    prof = DeviceProfile(name="mis", misalignment_sd_rad=0.05)
    acc, gyro = _random_signals(p=4)
    out = apply_device(acc, gyro, 60.0, prof, rng=9)
    np.testing.assert_allclose(np.linalg.norm(out.acc, axis=-1), np.linalg.norm(acc, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(out.gyro, axis=-1), np.linalg.norm(gyro, axis=-1), rtol=1e-12)
    rot = out.instance.misalignment_matrices()
    np.testing.assert_allclose(out.acc, np.einsum("pij,tpj->tpi", rot, acc), atol=1e-12)
    assert len({tuple(np.round(r.ravel(), 12)) for r in rot}) == 4


# --- resampling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [32.0, 50.0, 100.0])
def test_resampling_keeps_a_band_limited_signal_and_gravity_at_the_edges(target):
    rate, n = 60.0, 600
    t = np.arange(n) / rate
    wave = 3.0 * np.sin(2 * np.pi * 1.5 * t)
    acc = _still(n)
    acc[:, 0, 0] = wave
    out = apply_device(acc, None, rate, DeviceProfile(name="r", rate_hz=target), rng=0)
    up, down = resample_ratio(rate, target)
    assert out.rate_hz == target and out.acc.shape[0] == math.ceil(n * up / down)
    t_out = np.arange(out.acc.shape[0]) / out.rate_hz
    inner = (t_out > 0.5) & (t_out < t[-1] - 0.5)
    np.testing.assert_allclose(out.acc[inner, 0, 0], 3.0 * np.sin(2 * np.pi * 1.5 * t_out[inner]), atol=0.02)
    # gravity does not droop at the ends (padtype="line")
    np.testing.assert_allclose(out.acc[:, 0, 2], G_MS2, atol=1e-9)


def test_resample_ratio_is_exact_for_integer_rates():
    assert resample_ratio(60.0, 32.0) == (8, 15)
    assert resample_ratio(120, 50) == (5, 12)
    assert resample_ratio(100.0, 100.0) == (1, 1)
    with pytest.raises(ConfigError, match="rate_hz must be a positive finite number"):
        resample_ratio(0.0, 32.0)


# --- reproducibility, inputs, manifest -------------------------------------------------------------


@pytest.mark.parametrize("name", ["wear-os-watch", "apple-watch", "empatica-e4", "android-phone"])
def test_same_seed_same_output_different_seed_different(name):
    acc, gyro = _random_signals()
    a = apply_device(acc, gyro, 60.0, name, rng=42)
    b = apply_device(acc, gyro, 60.0, name, rng=np.random.default_rng(42))
    c = apply_device(acc, gyro, 60.0, name, rng=43)
    assert np.array_equal(a.acc, b.acc) and np.array_equal(a.acc_device, b.acc_device)
    assert (a.gyro is None) == (name == "empatica-e4")
    if a.gyro is not None:
        assert np.array_equal(a.gyro, b.gyro)
    assert np.array_equal(a.instance.acc_bias_ms2, b.instance.acc_bias_ms2)
    assert not np.array_equal(a.acc, c.acc)
    assert np.all(np.isfinite(a.acc))


def test_bad_inputs_raise_config_error():
    acc, gyro = _random_signals()
    with pytest.raises(ConfigError, match=r"acc must have shape \(T, P, 3\)"):
        apply_device(acc[:, 0], None, 60.0)
    with pytest.raises(ConfigError, match="gyro has shape"):
        apply_device(acc, gyro[:, :2], 60.0)
    bad = acc.copy()
    bad[3, 0, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        apply_device(bad, None, 60.0)
    with pytest.raises(ConfigError, match="rate_hz must be a positive finite number"):
        apply_device(acc, None, 0.0)
    with pytest.raises(ConfigError, match="unknown device profile"):
        apply_device(acc, None, 60.0, "nope")
    with pytest.raises(ConfigError, match="resampling: need at least 2 samples, got 1"):
        apply_device(acc[:1], None, 60.0, "empatica-e4")


def test_manifest_is_json_ready():
    acc, gyro = _random_signals(p=2)
    out = apply_device(acc, gyro, 60.0, "wear-os-watch", rng=4)
    m = json.loads(json.dumps(out.to_manifest()))
    assert m["schema"] == 1 and m["rate_hz"] == 100.0 and m["resample_up_down"] == [5, 3]
    assert m["profile"]["name"] == "wear-os-watch" and m["instance"]["seed"] == 4
    assert np.asarray(m["instance"]["acc_bias_ms2"]).shape == (2, 3)
    assert out.params == out.instance.to_dict()
