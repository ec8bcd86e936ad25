"""Configs: presets, dict/YAML round trips, validation, parameter counts."""

from __future__ import annotations

import pytest
import torch
import yaml

from tests.models._helpers import n_params
from toolkit.errors import ConfigError
from toolkit.models import HarClassifier, Multi3Net
from toolkit.models.config import ImuEncoderConfig, LossConfig, Multi3NetConfig, TextEncoderConfig


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_round_trip_through_yaml(preset: str) -> None:
    cfg = getattr(Multi3NetConfig, preset)()
    data = yaml.safe_load(yaml.safe_dump(cfg.to_dict()))
    assert Multi3NetConfig.from_dict(data) == cfg
    assert isinstance(Multi3NetConfig.from_dict(data).text.channels, tuple)


def test_from_dict_keeps_defaults_and_rejects_unknown_keys() -> None:
    cfg = Multi3NetConfig.from_dict({"imu": {"depth": 3}, "loss": {"pairs": ["pose-imu_left"]}})
    assert cfg.imu.depth == 3 and cfg.imu.embed_dim == 256 and cfg.loss.pairs == ("pose-imu_left",)
    with pytest.raises(ConfigError, match="unknown keys"):
        Multi3NetConfig.from_dict({"imu": {"depht": 3}})


@pytest.mark.parametrize(
    "build",
    [
        lambda: ImuEncoderConfig(embed_dim=30, num_heads=4),
        lambda: TextEncoderConfig(kernel_size=4),
        lambda: LossConfig(pairs=("pose-pose",)),
        lambda: Multi3NetConfig(imu=ImuEncoderConfig(out_dim=128)),
        lambda: Multi3NetConfig(ablation="nope"),
    ],
)
def test_invalid_configs_raise(build) -> None:
    with pytest.raises(ConfigError):
        build()


def test_parameter_counts() -> None:
    torch.manual_seed(0)
    counts = {}
    for preset in ("tiny", "default"):
        cfg = getattr(Multi3NetConfig, preset)()
        counts[f"{preset}/multi3net"] = n_params(Multi3Net(cfg))
        counts[f"{preset}/har_classifier"] = n_params(HarClassifier(cfg.imu, cfg.classifier))
    msg = f"parameter counts: {counts}"
    assert counts["tiny/multi3net"] <= 50_000, msg
    assert counts["tiny/har_classifier"] <= 10_000, msg
    assert 1_000_000 < counts["default/multi3net"] < 20_000_000, msg
    print(msg)
