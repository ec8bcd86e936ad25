"""Sentence embeddings of clip texts and class descriptions for training and zero-shot.

Modes:

* ``minilm``: the frozen all-MiniLM-L6-v2 model (:class:`~toolkit.models.text_embedding.SentenceEmbedder`) with
  its on-disk cache (default ``<cache>/text-embeddings``, see :func:`toolkit.data.paths.cache_dir`);
* ``hash``: a deterministic unit vector per text drawn from its sha256 (no semantics; for fast tests);
* ``none``: no text (:func:`embed_texts` returns None and pretraining masks text out).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from toolkit.data.paths import cache_dir
from toolkit.models.text_embedding import EMBED_DIM


def hash_embeddings(texts: Sequence[str], dim: int = EMBED_DIM) -> np.ndarray:
    """(N, dim) float32 unit vectors, a fixed function of each text."""
    out = np.empty((len(texts), dim), np.float32)
    for i, t in enumerate(texts):
        seed = int.from_bytes(hashlib.sha256(t.encode("utf-8")).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(dim)
        out[i] = v / np.linalg.norm(v)
    return out


def embed_texts(texts: Sequence[str], mode: str, cache: str | Path | None = None) -> np.ndarray | None:
    """(N, 384) float32 embeddings of ``texts`` in ``mode`` (module docstring); None for ``none``."""
    if mode == "none":
        return None
    if mode == "hash":
        return hash_embeddings(texts)
    from toolkit.models.text_embedding import SentenceEmbedder  # delays sentence-transformers

    folder = Path(cache) if cache is not None else cache_dir() / "text-embeddings"
    return SentenceEmbedder(folder).embed(list(texts))
