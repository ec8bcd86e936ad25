"""Channel sets (accelerometer only / acc + gyro), NaN refusal, acc-only encoders, pretraining channel dropout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.data.splits import fit_normalizer
from toolkit.errors import ConfigError
from toolkit.models import Multi3NetConfig
from toolkit.models.imu_encoder import ImuEncoder
from toolkit.train.augment import AugmentConfig, Augmenter
from toolkit.train.channels import (
    ACC_CHANNELS,
    ALL_CHANNELS,
    acc_only_state,
    check_finite,
    resolve_channels,
    select_channels,
)
from toolkit.train.data import classifier_inputs


def test_resolve_channels_auto_explicit_and_logged() -> None:
    logs: list[str] = []
    assert resolve_channels("auto", np.ones(5, bool), "d", logs.append) == ALL_CHANNELS
    assert logs == []
    assert resolve_channels("auto", np.array([True, False, False]), "d", logs.append) == ACC_CHANNELS
    assert "2 of 3 windows have no gyroscope" in logs[0] and "accelerometer-only" in logs[0]
    assert resolve_channels("acc", np.ones(3, bool), "d", logs.append) == ACC_CHANNELS
    with pytest.raises(ConfigError, match="gyro_x.*--channels acc"):
        resolve_channels("acc+gyro", np.array([True, False]), "dataset x", logs.append)


def test_check_finite_names_the_channel_and_subject() -> None:
    x = np.zeros((4, 10, 6), np.float32)
    check_finite(x, ALL_CHANNELS, "w")
    x[2, 3, 4] = np.nan
    with pytest.raises(ConfigError, match=r"w: channel gyro_y has NaN values in 1 of 4 windows, first in subject s2"):
        check_finite(x, ALL_CHANNELS, "w", np.array(["s0", "s1", "s2", "s3"]))
    x = np.zeros((2, 10, 3))
    x[1, 0, 1] = np.inf
    with pytest.raises(ConfigError, match="channel acc_y has inf"):
        check_finite(x, ACC_CHANNELS, "w")


def test_select_channels_two_wrists() -> None:
    x = np.arange(12, dtype=float)[None, None, :]
    assert select_channels(x, ACC_CHANNELS).ravel().tolist() == [0, 1, 2, 6, 7, 8]
    assert select_channels(x, ALL_CHANNELS) is x


def test_acc_only_encoder_equals_six_channel_encoder_fed_zero_gyro() -> None:
    """The 3-channel encoder made from a 6-channel one IS that encoder with gyro at its normalised mean (0)."""
    torch.manual_seed(0)
    cfg = Multi3NetConfig.tiny().imu
    six = ImuEncoder(cfg).eval()
    three = ImuEncoder(type(cfg).from_dict(cfg.to_dict() | {"in_channels": 3})).eval()
    three.load_state_dict(acc_only_state(six.state_dict()))
    acc = torch.randn(5, 60, 3)
    with torch.no_grad():
        a = three(acc).embedding
        b = six(torch.cat([acc, torch.zeros(5, 60, 3)], -1)).embedding
        c = six(torch.cat([acc, torch.ones(5, 60, 3)], -1)).embedding
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert (a - c).abs().max() > 1e-3  # the gyro columns matter when the gyro is not at its mean


def test_channel_dropout_drops_gyro_to_the_normalised_mean() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, 20, 6)).astype(np.float32) + np.array([0, 0, 9.81, 1, 1, 1], np.float32)
    off = Augmenter(AugmentConfig(), 30.0).wrist(x, np.random.default_rng(1))
    assert np.array_equal(off, x)
    aug = Augmenter(AugmentConfig(channel_dropout=0.25), 30.0).wrist(x, np.random.default_rng(1))
    dropped = np.isnan(aug[..., 3:]).all(axis=(1, 2))
    assert 0.15 < dropped.mean() < 0.35  # ~ Binomial(400, 0.25)
    assert np.array_equal(aug[~dropped], x[~dropped]) and np.array_equal(aug[..., :3], x[..., :3])
    z = classifier_inputs(aug, fit_normalizer(x)).numpy()
    assert np.all(z[dropped][..., 3:] == 0.0) and np.isfinite(z).all()
    assert np.isnan(Augmenter(AugmentConfig(channel_dropout=1.0), 30.0).wrist(x, rng)[..., 3:]).all()
    with pytest.raises(ConfigError, match="channel_dropout"):
        AugmentConfig(channel_dropout=1.5)
    assert AugmentConfig.from_dict({"channel_dropout": 0.5}).active
