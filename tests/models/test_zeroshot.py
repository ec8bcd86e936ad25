"""Zero-shot scoring in the shared latent space."""

from __future__ import annotations

import torch

from toolkit.models import Multi3Net, class_text_embeddings, zero_shot_logits, zero_shot_predict
from toolkit.models.config import Multi3NetConfig


def test_zero_shot_logits_are_cosines() -> None:
    imu = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    classes = torch.tensor([[1.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])
    r = 2**-0.5
    torch.testing.assert_close(zero_shot_logits(imu, classes), torch.tensor([[1.0, 0.0, -1.0], [r, r, -r]]))


def test_zero_shot_predict_through_the_encoders() -> None:
    cfg = Multi3NetConfig.tiny()
    model = Multi3Net(cfg).train()
    classes = class_text_embeddings(model.text, torch.randn(5, 384))
    assert classes.shape == (5, cfg.embed_dim) and not classes.requires_grad
    logits = zero_shot_predict(model.imu_left, torch.randn(3, 24, 6), classes)
    assert logits.shape == (3, 5) and logits.abs().max() <= 1 + 1e-6
    assert model.text.training and model.imu_left.training  # modes restored
