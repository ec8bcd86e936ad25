"""The side benchmarks' own logic: pseudo-label choice, augmented and simulated additions, merging split runs.

These scripts are checked end to end by their round-0 columns reproducing the tables' runs; the pieces below decide
WHAT is added to a fold's training set, so they are pinned down here on small arrays.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import columns
from benchmarks.finetune_variants import PAIRS, augmented_copies, select_pseudo_labels, simulated_draw
from toolkit.errors import Multi3EdgeError


def test_pseudo_labels_keep_confident_windows_most_confident_first_capped_per_class() -> None:
    probs = np.array([
        [0.95, 0.05], [0.99, 0.01], [0.91, 0.09], [0.97, 0.03],  # class 0, all above tau
        [0.10, 0.90], [0.40, 0.60], [0.02, 0.98],                # class 1: 0.90 and 0.98 pass, 0.60 does not
    ])  # fmt: skip
    labelled = np.array([0, 1])  # one labelled window per class -> at most ratio of each
    keep = select_pseudo_labels(probs, labelled, tau=0.9, ratio=2.0)
    assert keep.tolist() == [1, 3, 6, 4]  # class 0: 0.99, 0.97 (0.95, 0.91 cut by the cap); class 1: 0.98, 0.90
    assert select_pseudo_labels(probs, labelled, tau=0.99, ratio=10.0).tolist() == [1]


def test_pseudo_labels_give_none_to_a_class_without_labelled_windows() -> None:
    probs = np.array([[0.99, 0.01], [0.01, 0.99]])
    assert select_pseudo_labels(probs, np.array([0, 0]), tau=0.5, ratio=5.0).tolist() == [0]


def test_augmented_copies_keep_originals_first_and_perturb_like_a_turned_watch() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((3, 60, 6), np.float32)
    x[..., 1] = 9.81  # at rest, y up
    y = np.array([0, 1, 2])
    xa, ya = augmented_copies(x, y, copies=2, rng=rng)
    assert xa.shape == (9, 60, 6) and ya.tolist() == [0, 1, 2] * 3
    np.testing.assert_array_equal(xa[:3], x)
    copies = xa[3:]
    assert not np.allclose(copies, x[np.r_[0, 1, 2, 0, 1, 2]])
    # a rotation, amplitude scaling (+-15 %) and 0.2 m/s^2 noise keep gravity's size near 9.81 m/s^2
    g = np.linalg.norm(copies[..., :3].mean(axis=1), axis=-1)
    assert np.all((g > 9.81 * 0.8) & (g < 9.81 * 1.2))


def test_simulated_draw_caps_each_class_by_its_labelled_count_without_replacement() -> None:
    sim_y = np.repeat([0, 1, 2], 10)
    labelled = np.array([0, 0, 1])  # class 0: 2, class 1: 1, class 2: none
    pick = simulated_draw(sim_y, labelled, ratio=3.0, rng=np.random.default_rng(1))
    counts = np.bincount(sim_y[pick], minlength=3)
    assert counts.tolist() == [6, 3, 0]
    assert len(set(pick.tolist())) == pick.size
    again = simulated_draw(sim_y, labelled, ratio=3.0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(pick, again)
    assert simulated_draw(sim_y, labelled, ratio=100.0, rng=np.random.default_rng(1)).size == 20  # all there are


def _runs(folds: list[str], shift: float) -> list[dict]:
    return [{"fold": f, "seed": s, "added": {}, "base": 0.5 + 0.01 * i, "not_frozen": 0.5 + 0.01 * i + shift}
            for i, f in enumerate(folds) for s in (0, 1)]  # fmt: skip


def test_summarise_pairs_runs_by_fold_and_seed() -> None:
    means, paired = columns.summarise(_runs(["a", "b", "c"], 0.02), 0.1, PAIRS)
    assert means["not_frozen"] - means["base"] == pytest.approx(0.02)
    p = paired["not_frozen - base"]
    assert p["mean"] == pytest.approx(0.02) and p["wins"] == 3 and p["folds"] == 3
    assert "base+v - base" not in paired  # a pair whose columns are missing is left out


def test_merging_split_runs_equals_one_run_and_refuses_parts_of_different_runs(tmp_path) -> None:
    keys = ("dataset", "variant")
    whole = columns.summarise(_runs(["a", "b", "c", "d"], 0.03), 0.1, PAIRS)
    paths = []
    for name, folds in (("p1", ["a", "b"]), ("p2", ["c", "d"])):
        runs = [r for r in _runs(["a", "b", "c", "d"], 0.03) if r["fold"] in folds]
        part = {"dataset": "x", "variant": "v", "checkpoint": "c.pt", "label_fraction": 0.1, "runs": runs,
                "seconds": 1.0, "command": name}  # fmt: skip
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(part))
    merged = columns.merge_parts([str(p) for p in paths], keys, PAIRS)
    assert merged["folds"] == ["a", "b", "c", "d"] and merged["seconds"] == 2.0
    assert merged["means"] == pytest.approx(whole[0])
    assert merged["paired"]["not_frozen - base"]["mean"] == pytest.approx(whole[1]["not_frozen - base"]["mean"])
    other = json.loads(paths[1].read_text()) | {"variant": "w"}
    paths[1].write_text(json.dumps(other))
    with pytest.raises(Multi3EdgeError, match="not parts of one run"):
        columns.merge_parts([str(p) for p in paths], keys, PAIRS)
