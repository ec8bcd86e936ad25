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


def test_prompt_ensemble_is_the_normalised_mean_of_unit_prompts() -> None:
    import pytest

    from toolkit.models.zeroshot import prompt_ensemble

    p = torch.tensor([[2.0, 0.0], [0.0, 5.0], [0.0, -1.0]])
    owner = torch.tensor([0, 0, 1])
    r = 2**-0.5
    torch.testing.assert_close(prompt_ensemble(p, owner, 2), torch.tensor([[r, r], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="without a prompt"):
        prompt_ensemble(p, owner, 3)


def test_zero_shot_averages_several_prompts_per_class() -> None:
    import numpy as np

    from toolkit.data.splits import Normalizer
    from toolkit.train.text import hash_embeddings
    from toolkit.train.zeroshot import class_descriptions, class_prompts, zero_shot

    prompts = class_prompts("sp-sw-har", ["SEATED", "WALKING", "JUGGLING"])
    assert len(prompts[0]) >= 4 and len(prompts[1]) >= 4 and prompts[2] == ["a person juggling"]
    assert class_descriptions("sp-sw-har", ["WALKING"]) == [prompts[1][0]]
    torch.manual_seed(0)
    model = Multi3Net(Multi3NetConfig.tiny()).eval()
    norm = Normalizer(mean=np.zeros(6), std=np.ones(6))
    x = np.random.default_rng(0).normal(size=(32, 24, 6)).astype(np.float32)
    single = zero_shot(model, norm, x, [p[0] for p in prompts], text_mode="hash")
    assert np.array_equal(single, zero_shot(model, norm, x, [[p[0]] for p in prompts], text_mode="hash"))
    # by hand: every prompt through the text encoder, unit-averaged per class, cosine argmax
    flat = [q for p in prompts for q in p]
    lat = class_text_embeddings(model.text, torch.from_numpy(hash_embeddings(flat)))
    lat = torch.nn.functional.normalize(lat, dim=-1)
    sizes = [len(p) for p in prompts]
    cls = torch.stack([c.mean(0) for c in torch.split(lat, sizes)])
    want = zero_shot_predict(model.imu_left, torch.from_numpy(x), cls).argmax(1).numpy()
    assert np.array_equal(zero_shot(model, norm, x, prompts, text_mode="hash"), want)
