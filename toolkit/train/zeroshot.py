"""Zero-shot recognition of real windows with a pretrained Multi3Net: no real label is used for prediction.

Each class gets a description (:func:`class_descriptions`), embedded by the frozen sentence model and mapped by
the pretrained text encoder into the latent space; a window is standardised with the PRETRAINING normaliser
(stored in the checkpoint), embedded by the wrist encoder, and assigned the class of highest cosine similarity
(:func:`toolkit.models.zeroshot.zero_shot_predict`). Labels are only used afterwards, to score.
"""

from __future__ import annotations

import numpy as np
import torch

from toolkit.data.splits import Normalizer
from toolkit.models.multi3net import Multi3Net
from toolkit.models.zeroshot import class_text_embeddings, zero_shot_predict
from toolkit.train.data import classifier_inputs
from toolkit.train.text import embed_texts

#: Descriptions of the known datasets' classes (else "a person <name in lower case>").
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "seglearn": {
        "PEN": "a person doing pendulum swings with the arm hanging down",
        "ABD": "a person raising the arm sideways (shoulder abduction)",
        "FEL": "a person raising the arm forward (forward elevation)",
        "IR": "a person rotating the arm inward (internal rotation)",
        "ER": "a person rotating the arm outward (external rotation)",
        "TRAP": "a person pulling the arm backward (trapezius extension)",
        "ROW": "a person lifting the arms up in front of the body (upright row)",
    },
    "sp-sw-har": {
        "SEATED": "a person sitting still on a chair",
        "STANDING_UP": "a person standing up from a chair",
        "WALKING": "a person walking",
        "TURNING": "a person turning around",
        "SITTING_DOWN": "a person sitting down on a chair",
    },
}


def class_descriptions(dataset: str, class_names: list[str]) -> list[str]:
    known = DESCRIPTIONS.get(dataset, {})
    return [known.get(c, f"a person {c.lower().replace('_', ' ')}") for c in class_names]


def zero_shot(
    model: Multi3Net,
    normalizer: Normalizer,
    x: np.ndarray,
    descriptions: list[str],
    text_mode: str = "minilm",
    text_cache: str | None = None,
    encoder: str = "left",
    batch_size: int = 256,
) -> np.ndarray:
    """(N, L, 6) windows -> (N,) predicted class indices into ``descriptions``."""
    sentence = embed_texts(descriptions, text_mode, text_cache)
    assert sentence is not None
    classes = class_text_embeddings(model.text, torch.from_numpy(sentence))
    xt = classifier_inputs(x, normalizer)
    enc = getattr(model, f"imu_{encoder}")
    preds = [zero_shot_predict(enc, xt[i : i + batch_size], classes).argmax(1) for i in range(0, len(xt), batch_size)]
    return torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)
