"""Zero-shot activity recognition in the shared latent space (AnyMo / UniMTS style).

Each class is described by a sentence or several prompts (averaged, :func:`prompt_ensemble`), embedded by the frozen
language model (:class:`~toolkit.models.text_embedding.SentenceEmbedder`, (K, 384)) and mapped
into the latent space by the pretrained text encoder (K, D). An IMU window's embedding (B, D) is
scored against every class by cosine similarity; the predicted class is the argmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from toolkit.models.text_encoder import TextEncoder


def zero_shot_logits(imu_embedding: Tensor, class_text_embeddings: Tensor) -> Tensor:
    """Cosine similarities (B, K) in [-1, 1] between (B, D) IMU and (K, D) class embeddings.

    Multiply by 1 / tau before a softmax if probabilities are wanted.
    """
    return F.normalize(imu_embedding, dim=-1) @ F.normalize(class_text_embeddings, dim=-1).T


@torch.no_grad()
def class_text_embeddings(text_encoder: TextEncoder, sentence_embeddings: Tensor) -> Tensor:
    """(K, 384) frozen sentence embeddings of the class descriptions -> (K, D) latent embeddings.

    Runs the encoder in eval mode (BatchNorm running statistics) and restores its mode afterwards.
    """
    return _eval_call(text_encoder, sentence_embeddings)


def prompt_ensemble(prompt_embeddings: Tensor, owner: Tensor, num_classes: int) -> Tensor:
    """(P, D) latent embeddings of P prompts, (P,) class of each -> (K, D) unit class embeddings.

    Each class is the normalised mean of its prompts' unit vectors (CLIP-style prompt ensembling); a class
    without a prompt raises ValueError.
    """
    counts = torch.bincount(owner, minlength=num_classes)
    if bool((counts == 0).any()):
        raise ValueError(f"prompt_ensemble: classes without a prompt: {torch.nonzero(counts == 0).flatten().tolist()}")
    unit = F.normalize(prompt_embeddings, dim=-1)
    sums = torch.zeros(num_classes, unit.shape[1], dtype=unit.dtype, device=unit.device).index_add_(0, owner, unit)
    return F.normalize(sums, dim=-1)


@torch.no_grad()
def zero_shot_predict(imu_encoder: nn.Module, imu: Tensor, class_embeddings: Tensor) -> Tensor:
    """(B, L, C) windows + (K, D) class embeddings -> (B, K) cosine logits, encoder in eval mode."""
    return zero_shot_logits(_eval_call(imu_encoder, imu).embedding, class_embeddings)


def _eval_call(module: nn.Module, x: Tensor):  # noqa: ANN202 - returns whatever the module returns
    was_training = module.training
    module.eval()
    try:
        return module(x)
    finally:
        module.train(was_training)
