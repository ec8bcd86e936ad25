"""Zero-shot recognition of real windows with a pretrained Multi3Net: no real label is used for prediction.

Each class gets several prompts (:func:`class_prompts`; the first is :func:`class_descriptions`' sentence), each
embedded by the frozen sentence model and mapped by the pretrained text encoder into the latent space; a class's
embedding is the mean of its prompts' unit latent vectors (prompt ensembling, as in CLIP). A window is
standardised with the PRETRAINING normaliser (stored in the checkpoint), embedded by the wrist encoder, and
assigned the class of highest cosine similarity (:func:`toolkit.models.zeroshot.zero_shot_predict`). Labels are only
used afterwards, to score.

The prompts are written in the words of the pretraining texts (Bandai label templates: "a person walks", "the arms
hang", "raises the left hand") as well as plainly, so that they fall inside what the text encoder saw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from toolkit.data.splits import Normalizer
from toolkit.models.multi3net import Multi3Net
from toolkit.models.zeroshot import class_text_embeddings, prompt_ensemble, zero_shot_predict
from toolkit.train.data import classifier_inputs
from toolkit.train.text import embed_texts

#: Prompts of the known datasets' classes (first = the class description); else "a person <name in lower case>".
PROMPTS: dict[str, dict[str, list[str]]] = {
    "seglearn": {
        "PEN": [
            "a person doing pendulum swings with the arm hanging down",
            "the arm hangs down and swings in circles",
            "a person lets the arm hang and swing gently",
            "swinging the hanging arm back and forth",
        ],
        "ABD": [
            "a person raising the arm sideways (shoulder abduction)",
            "a person raises the arm out to the side",
            "the arm lifts sideways up to shoulder height",
            "raising the left hand sideways",
        ],
        "FEL": [
            "a person raising the arm forward (forward elevation)",
            "a person raises the arm forward and up",
            "the arm lifts up in front of the body above the head",
            "raising the left hand forward",
        ],
        "IR": [
            "a person rotating the arm inward (internal rotation)",
            "the forearm turns in toward the belly",
            "a person rotates the bent arm inward",
            "turning the forearm inward with the elbow at the side",
        ],
        "ER": [
            "a person rotating the arm outward (external rotation)",
            "the forearm turns out away from the belly",
            "a person rotates the bent arm outward",
            "turning the forearm outward with the elbow at the side",
        ],
        "TRAP": [
            "a person pulling the arm backward (trapezius extension)",
            "the arm pulls back behind the body",
            "a person pulls the straight arm backward",
            "moving the arm backward past the hip",
        ],
        "ROW": [
            "a person lifting the arms up in front of the body (upright row)",
            "a person pulls the hands up to the chest",
            "both arms lift up in front of the body",
            "raising both hands up to the chin",
        ],
    },
    "sp-sw-har": {
        "SEATED": [
            "a person sitting still on a chair",
            "someone sits still",
            "a person is seated and does not move",
            "sitting on a chair; the arms rest",
        ],
        "STANDING_UP": [
            "a person standing up from a chair",
            "someone stands up",
            "a person rises from a seat",
            "getting up from a chair; the body leans forward and rises",
        ],
        "WALKING": [
            "a person walking",
            "a person walks",
            "someone walks: the arms swing at the sides with each step",
            "walking forward",
        ],
        "TURNING": [
            "a person turning around",
            "a person walks and turns around",
            "someone turns around on the spot",
            "walking and turning left",
        ],
        "SITTING_DOWN": [
            "a person sitting down on a chair",
            "someone sits down",
            "a person lowers onto a chair",
            "sitting down; the body bends and lowers onto a seat",
        ],
    },
}


def class_prompts(dataset: str, class_names: list[str]) -> list[list[str]]:
    """Several prompts per class of ``dataset`` (unknown classes: one, "a person <name>")."""
    known = PROMPTS.get(dataset, {})
    return [list(known.get(c, [f"a person {c.lower().replace('_', ' ')}"])) for c in class_names]


def class_descriptions(dataset: str, class_names: list[str]) -> list[str]:
    """The main prompt of every class (the first of :func:`class_prompts`)."""
    return [p[0] for p in class_prompts(dataset, class_names)]


def zero_shot(
    model: Multi3Net,
    normalizer: Normalizer,
    x: np.ndarray,
    descriptions: Sequence[str | Sequence[str]],
    text_mode: str = "minilm",
    text_cache: str | None = None,
    encoder: str = "left",
    batch_size: int = 256,
) -> np.ndarray:
    """(N, L, 6) windows -> (N,) predicted class indices into ``descriptions``.

    ``descriptions``: one entry per class, a sentence or a list of prompts (averaged, :func:`prompt_ensemble`).
    """
    prompts = [[d] if isinstance(d, str) else list(d) for d in descriptions]
    flat = [p for ps in prompts for p in ps]
    owner = torch.as_tensor([k for k, ps in enumerate(prompts) for _ in ps])
    sentence = embed_texts(flat, text_mode, text_cache)
    assert sentence is not None
    classes = prompt_ensemble(class_text_embeddings(model.text, torch.from_numpy(sentence)), owner, len(prompts))
    xt = classifier_inputs(x, normalizer)
    enc = getattr(model, f"imu_{encoder}")
    preds = [zero_shot_predict(enc, xt[i : i + batch_size], classes).argmax(1) for i in range(0, len(xt), batch_size)]
    return torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)
