"""MoE head, freezing, pretrained-encoder hand-over and torch.export of the downstream model."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from toolkit.models import HarClassifier, MixtureOfExperts, Multi3Net
from toolkit.models.config import Multi3NetConfig

CFG = Multi3NetConfig.tiny()
#: ops that nn.MultiheadAttention or data-dependent routing would leave outside the XNNPACK delegate
FORBIDDEN_OPS = ("nonzero", "topk", "any", "logical_not", "full_like", "where", "index_put", "masked_fill")


@pytest.mark.parametrize("experts", [1, 2, 4, 8, 16])
def test_moe_gate_sums_to_one_and_every_expert_gets_gradient(experts: int) -> None:
    moe = MixtureOfExperts(dim=8, num_classes=3, num_experts=experts, expert_hidden=4 if experts % 2 else 0)
    h = torch.randn(5, 6, 8)
    out = moe(h)
    assert out.gate.shape == (5, 6, experts) and out.token_logits.shape == (5, 6, 3)
    torch.testing.assert_close(out.gate.sum(-1), torch.ones(5, 6))
    # the mixture equals the gate-weighted sum of the experts
    ref = sum(out.gate[..., j : j + 1] * moe.experts[j](h) for j in range(experts))
    torch.testing.assert_close(out.token_logits, ref)
    torch.nn.functional.cross_entropy(out.token_logits.mean(1), torch.tensor([0, 1, 2, 0, 1])).backward()
    for j, expert in enumerate(moe.experts):
        for name, p in expert.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"expert {j} {name}"
    if experts > 1:
        assert moe.gate.weight.grad.abs().sum() > 0


def test_classifier_every_expert_gets_gradient() -> None:
    model = HarClassifier(CFG.imu, CFG.classifier)
    logits = model(torch.randn(4, 24, 6))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    for j, expert in enumerate(model.head.moe.experts):
        assert all(p.grad.abs().sum() > 0 for p in expert.parameters()), j


def _encoder_grads(model: HarClassifier) -> list[torch.Tensor | None]:
    """Gradients of the encoder parameters the classifier uses (not the pooled-embedding projection)."""
    return [p.grad for n, p in model.encoders.named_parameters() if n.split(".")[1] != "proj"]  # "0.proj.weight"


def test_freeze_and_unfreeze_encoder() -> None:
    model = HarClassifier(CFG.imu, CFG.classifier)
    x, y = torch.randn(4, 24, 6), torch.tensor([0, 1, 2, 3])
    model.freeze_encoder()
    model.train()
    assert not model.encoders[0].training and model.head.training  # BN/dropout of the encoder stay frozen
    bn = model.encoders[0].stem[1]
    stats = bn.running_mean.clone()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert all(g is None for g in _encoder_grads(model))
    assert all(p.grad is not None for p in model.head.parameters())
    torch.testing.assert_close(bn.running_mean, stats)

    model.unfreeze_encoder()
    assert model.encoders[0].training
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    grads = _encoder_grads(model)
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_from_pretrained_copies_the_wrist_encoders() -> None:
    pre = Multi3Net(CFG)
    clf = dataclasses.replace(CFG.classifier, wrists=2)
    model = HarClassifier.from_pretrained([pre.imu_left, pre.imu_right], clf)
    for mine, theirs in ((model.encoders[0], pre.imu_left), (model.encoders[1], pre.imu_right)):
        for (n, a), b in zip(mine.state_dict().items(), theirs.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, msg=n)
    assert model.encoders[0].stem[0].weight is not pre.imu_left.stem[0].weight  # a copy
    with pytest.raises(ValueError):
        HarClassifier.from_pretrained([pre.imu_left], clf)


@pytest.mark.parametrize("wrists", [1, 2])
def test_har_classifier_exports(wrists: int) -> None:
    clf = dataclasses.replace(CFG.classifier, wrists=wrists)
    model = HarClassifier(CFG.imu, clf).eval()
    x = torch.randn(2, 24, 6 * wrists)
    ep = torch.export.export(model, (x,))
    torch.testing.assert_close(ep.module()(x), model(x))
    ops = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    bad = sorted(op for op in ops if any(f"aten.{f}." in op for f in FORBIDDEN_OPS))
    assert not bad, f"masking/routing ops in the exported graph: {bad}"
