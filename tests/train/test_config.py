"""Run configs: YAML round trip, CLI-style overrides, one-line validation errors."""

from __future__ import annotations

import pytest

from toolkit.errors import ConfigError
from toolkit.train.config import EvalConfig, FinetuneConfig, GridConfig, PretrainConfig


@pytest.mark.parametrize(
    "cfg",
    [
        PretrainConfig(
            data=("a", "b"), model="tiny", ablation="contrastive_only", model_overrides={"imu": {"depth": 3}}
        ),
        FinetuneConfig(dataset="sp-sw-har", freeze="frozen", test_subjects=("s01",), grid=GridConfig(hop_s=0.5)),
        EvalConfig(checkpoints={"multi3net": "x.pt"}, seeds=(0, 1), experts=(1, 2), label_fractions=(0.1, 1.0)),
    ],
)
def test_yaml_round_trip(cfg, tmp_path):
    path = cfg.save_yaml(tmp_path / "c.yaml")
    back = type(cfg).load_yaml(path)
    assert back == cfg
    assert back.to_dict() == cfg.to_dict()


def test_missing_keys_keep_defaults(tmp_path):
    (tmp_path / "c.yaml").write_text("epochs: 3\ngrid: {window_s: 4.0}\n")
    cfg = FinetuneConfig.load_yaml(tmp_path / "c.yaml")
    assert cfg.epochs == 3 and cfg.grid.window_s == 4.0 and cfg.grid.rate_hz == 30.0 and cfg.lr == 1e-3


def test_replace_ignores_unset_flags():
    cfg = PretrainConfig(epochs=7)
    assert cfg.replace(epochs=None, lr=0.5).epochs == 7
    assert cfg.replace(lr=0.5).lr == 0.5


@pytest.mark.parametrize(
    ("cls", "data", "words"),
    [
        (PretrainConfig, {"lr": -1}, "lr must be a positive"),
        (PretrainConfig, {"ablation": "half"}, "ablation must be one of"),
        (PretrainConfig, {"bogus": 1}, "unknown keys ['bogus']"),
        (FinetuneConfig, {"freeze": "melted"}, "freeze must be one of frozen, not_frozen"),
        (FinetuneConfig, {"label_fraction": 0}, "label_fraction must be in (0, 1]"),
        (FinetuneConfig, {"grid": {"window_s": 0}}, "window_s must be a positive"),
        (EvalConfig, {"methods": ["magic"]}, "method must be one of"),
        (EvalConfig, {"checkpoints": {"other": "x"}}, "checkpoints: unknown keys"),
        (EvalConfig, {"experts": [0]}, "experts must be integers >= 1"),
    ],
)
def test_validation_errors_are_one_line(cls, data, words):
    with pytest.raises(ConfigError) as e:
        cls.from_dict(data)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_bad_yaml_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_text("epochs: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML") as e:
        PretrainConfig.load_yaml(tmp_path / "c.yaml")
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="cannot read config"):
        PretrainConfig.load_yaml(tmp_path / "missing.yaml")
