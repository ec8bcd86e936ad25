"""Output shapes of every module on the tiny config."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.models._helpers import make_batch
from toolkit.models import (
    DeepConvLSTM,
    HarClassifier,
    ImuEncoder,
    ImuReconstructor,
    Multi3Net,
    Pose2ImuDecoder,
    PoseEncoder,
    TextEncoder,
)
from toolkit.models.attention import MultiHeadSelfAttention, TransformerBlock
from toolkit.models.config import Multi3NetConfig
from toolkit.models.ops import pool_to_tokens, token_mean

CFG = Multi3NetConfig.tiny()
D = CFG.embed_dim


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_attention_and_block_keep_shape() -> None:
    x = torch.randn(3, 7, 8)
    assert MultiHeadSelfAttention(8, 2)(x).shape == (3, 7, 8)
    assert TransformerBlock(8, 2)(x).shape == (3, 7, 8)


def test_attention_matches_reference_softmax_attention() -> None:
    attn = MultiHeadSelfAttention(8, 2).eval()
    x = torch.randn(2, 5, 8)
    q, k, v = attn.qkv(x).chunk(3, dim=-1)
    split = lambda t: t.reshape(2, 5, 2, 4).transpose(1, 2)  # noqa: E731
    ref = torch.nn.functional.scaled_dot_product_attention(split(q), split(k), split(v))
    ref = attn.proj(ref.transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(attn(x), ref)


@pytest.mark.parametrize("length", [24, 25, 7, 6])
def test_imu_encoder_any_length_gives_six_tokens(length: int) -> None:
    out = ImuEncoder(CFG.imu)(torch.randn(2, length, 6))
    assert out.tokens.shape == (2, 6, CFG.imu.embed_dim)
    assert out.embedding.shape == (2, D)


def test_imu_encoder_rejects_short_or_wrong_windows() -> None:
    enc = ImuEncoder(CFG.imu)
    with pytest.raises(ValueError, match="shorter"):
        enc(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match="IMU windows"):
        enc(torch.randn(2, 24, 3))


def test_pool_to_tokens_divisible_is_block_mean() -> None:
    x = torch.arange(12.0).reshape(1, 1, 12)
    torch.testing.assert_close(pool_to_tokens(x, 6), torch.tensor([[[0.5, 2.5, 4.5, 6.5, 8.5, 10.5]]]))
    assert pool_to_tokens(torch.randn(2, 3, 13), 6).shape == (2, 3, 6)
    y = torch.randn(2, 6, 5)
    torch.testing.assert_close(token_mean(y), y.mean(1))


@pytest.mark.parametrize("joints", [24, 52])
def test_pose_encoder(joints: int) -> None:
    cfg = dataclasses.replace(CFG.pose, num_joints=joints)
    enc = PoseEncoder(cfg)
    assert enc(torch.randn(3, cfg.num_frames, joints, 3)).shape == (3, D)
    with pytest.raises(ValueError, match="poses"):
        enc(torch.randn(3, cfg.num_frames + 1, joints, 3))


def test_text_encoder() -> None:
    assert TextEncoder(CFG.text)(torch.randn(3, 384)).shape == (3, D)


@pytest.mark.parametrize("length", [24, 30, 7])
def test_decoders_any_length(length: int) -> None:
    cfg = dataclasses.replace(CFG.decoder, window_length=length)
    assert Pose2ImuDecoder(cfg, 6)(torch.randn(2, D)).shape == (2, length, 6)
    assert ImuReconstructor(cfg, 12)(torch.randn(2, D), torch.randn(2, D)).shape == (2, length, 12)


def test_multi3net_outputs() -> None:
    out = Multi3Net(CFG)(make_batch(CFG, batch=3))
    assert set(out.embeddings) == {"text", "pose", "imu_left", "imu_right"}
    assert all(e.shape == (3, D) for e in out.embeddings.values())
    assert out.imu_tokens["imu_left"].shape == (3, 6, CFG.imu.embed_dim)
    assert out.pose2imu.shape == out.reconstruction.shape == (3, CFG.decoder.window_length, 12)


def test_multi3net_rejects_window_length_mismatch() -> None:
    batch = make_batch(CFG, batch=2)
    batch["imu_left"] = torch.randn(2, 30, 6)
    with pytest.raises(ValueError, match="window_length"):
        Multi3Net(CFG)(batch)


@pytest.mark.parametrize("wrists", [1, 2])
def test_har_classifier(wrists: int) -> None:
    clf = dataclasses.replace(CFG.classifier, wrists=wrists)
    model = HarClassifier(CFG.imu, clf)
    x = torch.randn(3, 24, 6 * wrists)
    assert model(x).shape == (3, clf.num_classes)
    details = model.forward_details(x)
    assert details.token_logits.shape == (3, 6, clf.num_classes)
    assert details.gate.shape == (3, 6, clf.num_experts)
    assert details.tokens.shape == (3, 6, wrists * CFG.imu.embed_dim)
    torch.testing.assert_close(details.logits, details.token_logits.mean(1))


def test_deep_conv_lstm() -> None:
    model = DeepConvLSTM(in_channels=6, num_classes=5, conv_filters=8, lstm_units=16)
    assert model(torch.randn(2, 24, 6)).shape == (2, 5)
    full = DeepConvLSTM()
    assert full(torch.randn(2, 40, 6)).shape == (2, 5)
    assert [m.out_channels for m in full.convs if isinstance(m, torch.nn.Conv1d)] == [64] * 4
    assert full.lstm.hidden_size == 128 and full.lstm.num_layers == 2
    with pytest.raises(ValueError, match="longer than 16"):
        full(torch.randn(2, 16, 6))
