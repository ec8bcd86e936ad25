"""Texts from Bandai-style clip labels, their travel through a dataset folder, and per-window template draws."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from toolkit.data.windows import synthetic_windows
from toolkit.sim.dataset import read_manifest, write_manifest
from toolkit.sim.loaders.descriptions import bandai_label, clip_texts, describe_clip, label_texts
from toolkit.train.config import GridConfig
from toolkit.train.data import PretrainBatches, fit_synthetic_normalizer, load_synthetic, pose_groups
from toolkit.train.text import hash_embeddings


def _bandai_tree(root: Path, stem: str, content_idx: int, style_idx: int) -> Path:
    """A generated Bandai-like folder: data/<stem>.bvh (+ .json) and cfg/{content,style}_label.txt."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "cfg").mkdir(exist_ok=True)
    contents = "dataset-2_walk\ndataset-2_walk-turn-left\ndataset-2_wave-left-hand"
    (root / "cfg" / "content_label.txt").write_text(contents)
    (root / "cfg" / "style_label.txt").write_text("dataset-2_active\ndataset-2_elderly\ndataset-2_exhausted")
    clip = root / "data" / f"{stem}.bvh"
    clip.write_text("HIERARCHY\n")
    (root / "data" / f"{stem}.json").write_text(json.dumps({"content": content_idx, "style": style_idx}))
    return clip


def test_bandai_labels_give_several_natural_sentences(tmp_path):
    clip = _bandai_tree(tmp_path, "dataset-2_wave-left-hand_elderly_001", 2, 1)
    label = bandai_label(clip)
    assert (label.content, label.style, label.take) == ("wave-left-hand", "elderly", 1)
    texts = clip_texts(clip)
    assert len(texts) >= 4 and len(set(texts)) == len(texts)
    assert texts[0] == "an elderly person waves the left hand" == describe_clip(clip)
    assert all("left" in t for t in texts)  # the body part survives every template
    assert any("slowly" in t for t in texts)  # the style as an adverb
    assert any("arm" in t for t in texts)  # what the arm does


def test_label_files_win_over_the_name_and_names_alone_work(tmp_path):
    # the json says content 1 / style 2 (walk-turn-left, exhausted) although the name says walk / active
    clip = _bandai_tree(tmp_path / "a", "dataset-2_walk_active_003", 1, 2)
    assert bandai_label(clip).content == "walk-turn-left" and bandai_label(clip).style == "exhausted"
    assert any("turns left" in t for t in clip_texts(clip))
    lone = tmp_path / "dataset-1_bow_not-confident_002.bvh"
    lone.write_text("")
    assert bandai_label(lone).style == "not-confident" and "an unsure person bows" in clip_texts(lone)
    other = tmp_path / "02_01.bvh"
    other.write_text("")
    assert bandai_label(other) is None and clip_texts(other) == [] and describe_clip(other) == ""


def test_every_content_and_style_gives_four_templates():
    from toolkit.sim.loaders.descriptions import CONTENT_PHRASES, STYLE_PHRASES, ClipLabel

    for c in CONTENT_PHRASES:
        for s in STYLE_PHRASES:
            assert len(label_texts(ClipLabel("dataset-2", c, s, 1))) >= 4


def _with_texts(src: Path, dst: Path, extra: dict[str, list[str]]) -> Path:
    """Copy a dataset folder, adding a ``texts`` array to the clips named in ``extra`` and removing it from the
    others (the layout of datasets written before ``texts`` existed)."""
    shutil.copytree(src, dst)
    man = read_manifest(dst)
    for entry in man["clips"]:
        path = dst / entry["file"]
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        arrays.pop("texts", None)
        if entry["clip"] in extra:
            arrays["texts"] = np.array([str(arrays["text"])] + extra[entry["clip"]])
        np.savez_compressed(path, **arrays)
    write_manifest(dst, {k: v for k, v in man.items() if k != "format_version"})
    return dst


def test_templates_travel_into_windows_and_are_drawn_per_window(sim_dataset, tmp_path):
    grid = GridConfig(hop_s=0.5)
    clip0 = str(synthetic_windows(sim_dataset, grid.rate_hz, grid.window_s, grid.hop_s).clip[0])
    old_dir = _with_texts(sim_dataset, tmp_path / "old", {})
    old = synthetic_windows(old_dir, grid.rate_hz, grid.window_s, grid.hop_s)
    assert old.templates.shape[1] == 1 and np.array_equal(old.templates[:, 0], old.text)  # old folders still read
    alt = ["someone does the first thing", "a person moves in the first way", "moving the first way"]
    data = _with_texts(sim_dataset, tmp_path / "tpl", {clip0: alt})
    sw = load_synthetic([str(data), str(sim_dataset)], grid)  # two folders: indices remapped onto one text list
    mine = sw.clip == clip0
    assert {sw.texts[i] for i in sw.templates[mine][0] if i >= 0} == {sw.texts[sw.text[mine][0]], *alt}
    assert (sw.templates[~mine, 1:] == -1).all()
    ds = PretrainBatches(sw, fit_synthetic_normalizer(sw), 4, hash_embeddings(sw.texts), templates=True, seed=3)
    rows = list(np.flatnonzero(mine))
    emb = hash_embeddings(sw.texts)

    def drawn(epoch: int) -> list[int]:
        ds.set_epoch(epoch)
        got = ds[rows]["text_emb"].numpy()
        return [int(np.argmax(emb @ g)) for g in got]

    first = drawn(0)
    assert drawn(0) == first  # seeded
    seen = set(first) | set(drawn(1)) | set(drawn(2))
    assert len(seen) >= 3 and seen <= {int(i) for i in sw.templates[rows[0]] if i >= 0}
    batch = ds[rows]
    assert (batch["text_id"] == int(sw.text[rows[0]])).all()  # one label, whatever sentence was drawn
    groups = pose_groups(sw)
    same_pose = (sw.clip[:, None] == sw.clip[None, :]) & np.isclose(sw.start_s[:, None], sw.start_s[None, :])
    assert np.array_equal(groups[:, None] == groups[None, :], same_pose)
    assert np.allclose(sw.pose[groups == groups[0]], sw.pose[0])  # body variants share the pose tensor
