"""Fine-tuning: not_frozen unfreezes after P epochs without improvement, frozen never does; label sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.data.splits import fit_normalizer
from toolkit.errors import ConfigError
from toolkit.models.config import Multi3NetConfig
from toolkit.train import finetune as ft_mod
from toolkit.train.config import FinetuneConfig
from toolkit.train.data import classifier_inputs, generated_windows
from toolkit.train.finetune import build_classifier, classifier_from_spec, classifier_spec, train_classifier
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import sample_label_fraction


def _data():
    w = generated_windows(subjects=2, classes=3, per_class=6)
    norm = fit_normalizer(w.x)
    return classifier_inputs(w.x, norm), torch.from_numpy(w.y)


class _CountingOpt:
    """Wraps the optimiser factory: counts steps and records each step's learning rates per named group."""

    def __init__(self):
        self.steps, self.lrs = 0, []

    def patch(self, monkeypatch):
        real = ft_mod.make_optimizer

        def make(*a, **k):
            opt = real(*a, **k)
            step = opt.step

            def counted(*sa, **sk):
                self.steps += 1
                self.lrs.append({g["name"]: g["lr"] for g in opt.param_groups})
                return step(*sa, **sk)

            opt.step = counted
            return opt

        monkeypatch.setattr(ft_mod, "make_optimizer", make)


@pytest.mark.parametrize("mode", ["not_frozen", "frozen"])
def test_step_budget_schedule_and_encoder_lr(mode, tiny_checkpoint, monkeypatch):
    """A 10 %-label run makes >= min_steps steps; not_frozen unfreezes at unfreeze_at of the budget; encoder lr is
    encoder_lr_scale x head lr; frozen never changes the encoder."""
    pre, _, _ = load_pretrained(tiny_checkpoint)
    w = generated_windows(subjects=3, classes=3, per_class=20)
    norm = fit_normalizer(w.x)
    idx = sample_label_fraction(w.y, 0.1, seed=0)  # 18 windows: one 16-window batch per epoch
    x, y = classifier_inputs(w.x[idx], norm), torch.from_numpy(w.y[idx])
    counter = _CountingOpt()
    counter.patch(monkeypatch)
    cfg = FinetuneConfig(freeze=mode, head="moe", min_steps=40, epochs=3, eval_every=10, unfreeze_at=0.25,
                         unfreeze_patience=100, batch_size=16, lr=1e-3, encoder_lr_scale=0.1, device="cpu",
                         progress=False)  # fmt: skip
    assert ft_mod.step_budget(len(y), cfg) == (40, 2)  # epochs * steps/epoch = 6 < the floor
    model = build_classifier(classifier_spec(cfg, 3, 1, pre.cfg), pre)
    before = {k: v.clone() for k, v in model.encoders.state_dict().items()}
    res = train_classifier(model, (x, y), (x, y), cfg, 3, torch.device("cpu"), pretrained=True)
    assert counter.steps == res.steps == 40 >= cfg.min_steps
    assert all(lr["encoder"] == pytest.approx(0.1 * lr["head"]) for lr in counter.lrs)
    changed = any(not torch.equal(before[k], v) for k, v in res.model.encoders.state_dict().items())
    frozen = [(h["step"], h["encoder_frozen"]) for h in res.history]
    if mode == "not_frozen":
        assert res.unfrozen_step == 10  # round(0.25 * 40), on schedule, not on a plateau
        assert frozen == [(10, True), (20, False), (30, False), (40, False)]
        assert all(p.requires_grad for p in res.model.encoders.parameters())
        assert changed or res.best_step <= 10
    else:
        assert res.unfrozen_step is None and all(f for _, f in frozen) and not changed


def test_plateau_unfreezes_before_the_schedule(tiny_checkpoint, monkeypatch):
    pre, _, _ = load_pretrained(tiny_checkpoint)
    x, y = _data()
    calls = iter(range(100))
    # validation loss never improves; validation F1 does, so the last evaluation is the one selected
    monkeypatch.setattr(ft_mod, "_evaluate", lambda *a, **k: (1.0, 0.01 * next(calls)))
    cfg = FinetuneConfig(head="moe", unfreeze_patience=2, unfreeze_at=0.9, min_steps=50, eval_every=5, batch_size=8,
                         device="cpu", progress=False)  # fmt: skip
    model = build_classifier(classifier_spec(cfg, 3, 1, pre.cfg), pre)
    res = train_classifier(model, (x, y), (x[:6], y[:6]), cfg, 3, torch.device("cpu"), pretrained=True)
    assert res.unfrozen_step == 15  # best loss at step 5, no improvement at 10 and 15 -> P = 2 evaluations
    assert res.best_step == 50 == res.steps


def test_base_and_dcl_get_the_same_budget():
    x, y = _data()
    from toolkit.train.modelcfg import resolve_model_config

    for method in ("base", "dcl"):
        cfg = FinetuneConfig(method=method, head="moe", model="tiny", min_steps=12, epochs=1, eval_every=4,
                             batch_size=8, device="cpu", progress=False, dcl_filters=4, dcl_units=4)  # fmt: skip
        model = build_classifier(classifier_spec(cfg, 3, 1, resolve_model_config("tiny", {}, 60)))
        res = train_classifier(model, (x, y), None, cfg, 3, torch.device("cpu"))
        assert res.steps == 12 and res.best_step == 12 and all(p.requires_grad for p in res.model.parameters())


def test_label_fraction_is_per_class_and_seeded():
    y = np.repeat(np.arange(4), [40, 20, 10, 3])
    idx = sample_label_fraction(y, 0.1, seed=5)
    assert np.bincount(y[idx], minlength=4).tolist() == [4, 2, 1, 1]  # ceil(0.1 n_k), at least one per class
    assert np.array_equal(idx, sample_label_fraction(y, 0.1, seed=5))
    assert not np.array_equal(idx, sample_label_fraction(y, 0.1, seed=6))
    assert np.array_equal(sample_label_fraction(y, 1.0, seed=0), np.arange(len(y)))
    half = sample_label_fraction(y, 0.5, seed=1)
    assert np.bincount(y[half], minlength=4).tolist() == [20, 10, 5, 2] and len(set(half)) == len(half)


def test_mlp_head_is_a_small_per_token_mlp_and_moe_stays_the_papers():
    mcfg = Multi3NetConfig.tiny()
    moe = classifier_from_spec(classifier_spec(FinetuneConfig(head="moe"), 5, 1, mcfg))
    mlp = classifier_from_spec(classifier_spec(FinetuneConfig(head="mlp", num_experts=8), 5, 1, mcfg))
    assert len(moe.head.stages) == mcfg.classifier.num_stages
    assert moe.head.cfg.num_experts == mcfg.classifier.num_experts
    assert len(mlp.head.stages) == 0 and mlp.head.cfg.num_experts == 1 and mlp.head.cfg.conv_kernel == 1
    assert sum(p.numel() for p in mlp.head.parameters()) < sum(p.numel() for p in moe.head.parameters()) / 4
    x = torch.randn(3, 60, 6)
    assert mlp(x).shape == (3, 5)


def test_head_must_be_known_and_one_head_builds_a_model():
    with pytest.raises(ConfigError, match="head"):
        FinetuneConfig(head="transformer")
    with pytest.raises(ConfigError, match="needs one head"):
        classifier_spec(FinetuneConfig(head="auto"), 5, 1, Multi3NetConfig.tiny())
