"""Fine-tuning: not_frozen unfreezes after P epochs without improvement, frozen never does; label sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.data.splits import fit_normalizer
from toolkit.train import finetune as ft_mod
from toolkit.train.config import FinetuneConfig
from toolkit.train.data import classifier_inputs, generated_windows
from toolkit.train.finetune import build_classifier, classifier_spec, train_classifier
from toolkit.train.pretrain import load_pretrained
from toolkit.train.protocol import sample_label_fraction


def _data():
    w = generated_windows(subjects=2, classes=3, per_class=6)
    norm = fit_normalizer(w.x)
    return classifier_inputs(w.x, norm), torch.from_numpy(w.y)


@pytest.mark.parametrize("mode", ["not_frozen", "frozen"])
def test_unfreeze_after_patience(mode, tiny_checkpoint, monkeypatch):
    pre, _, _ = load_pretrained(tiny_checkpoint)
    x, y = _data()
    calls = iter(range(100))
    # validation loss never improves; validation F1 does, so the last (unfrozen) epoch is the one selected
    monkeypatch.setattr(ft_mod, "_evaluate", lambda *a, **k: (1.0, 0.1 * next(calls)))
    cfg = FinetuneConfig(freeze=mode, unfreeze_patience=2, epochs=5, early_stop_patience=10, batch_size=8,
                         device="cpu", progress=False)  # fmt: skip
    model = build_classifier(classifier_spec(cfg, 3, 1, pre.cfg), pre)
    before = {k: v.clone() for k, v in model.encoders.state_dict().items()}
    res = train_classifier(model, (x, y), (x[:6], y[:6]), cfg, 3, torch.device("cpu"), pretrained=True)
    frozen_flags = [h["encoder_frozen"] for h in res.history]
    enc_params = list(res.model.encoders.parameters())
    changed = any(not torch.equal(before[k], v) for k, v in res.model.encoders.state_dict().items())
    if mode == "not_frozen":
        # epoch 1 sets the best loss; epochs 2 and 3 do not improve -> unfrozen after epoch 3 (P = 2)
        assert res.unfrozen_epoch == 3 and frozen_flags == [True, True, True, False, False]
        assert all(p.requires_grad for p in enc_params) and changed
    else:
        assert res.unfrozen_epoch is None and all(frozen_flags)
        assert not any(p.requires_grad for p in enc_params) and not changed  # weights AND BatchNorm statistics


def test_base_and_dcl_train_everything():
    x, y = _data()
    for method in ("base", "dcl"):
        cfg = FinetuneConfig(method=method, model="tiny", epochs=2, batch_size=8, device="cpu", progress=False,
                             dcl_filters=4, dcl_units=4)  # fmt: skip
        from toolkit.train.modelcfg import resolve_model_config

        model = build_classifier(classifier_spec(cfg, 3, 1, resolve_model_config("tiny", {}, 60)))
        res = train_classifier(model, (x, y), None, cfg, 3, torch.device("cpu"))
        assert res.best_epoch == 2 and all(p.requires_grad for p in res.model.parameters())


def test_label_fraction_is_per_class_and_seeded():
    y = np.repeat(np.arange(4), [40, 20, 10, 3])
    idx = sample_label_fraction(y, 0.1, seed=5)
    assert np.bincount(y[idx], minlength=4).tolist() == [4, 2, 1, 1]  # ceil(0.1 n_k), at least one per class
    assert np.array_equal(idx, sample_label_fraction(y, 0.1, seed=5))
    assert not np.array_equal(idx, sample_label_fraction(y, 0.1, seed=6))
    assert np.array_equal(sample_label_fraction(y, 1.0, seed=0), np.arange(len(y)))
    half = sample_label_fraction(y, 0.5, seed=1)
    assert np.bincount(y[half], minlength=4).tolist() == [20, 10, 5, 2] and len(set(half)) == len(half)
