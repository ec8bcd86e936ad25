"""edge-eval runs: --workers 2 gives the results of --workers 1, and a rerun resumes instead of recomputing."""

from __future__ import annotations

import io
import json

from toolkit.train.config import EvalConfig, FinetuneConfig
from toolkit.train.evaluate import JOURNAL, run_evaluation, select_heads
from toolkit.train.report import markdown


def _cfg(ckpt, out, workers: int) -> EvalConfig:
    ft = FinetuneConfig(dataset="generated", model="tiny", min_steps=6, max_steps=6, eval_every=3, batch_size=16,
                        device="cpu", progress=False)  # fmt: skip
    return EvalConfig(finetune=ft, out_dir=str(out), methods=("base", "multi3net_not_frozen", "stats_rf",
                      "probe_pretrained"), checkpoints={"multi3net": str(ckpt)}, label_fractions=(0.5,),
                      seeds=(0, 1), experts=(), max_folds=2, zero_shot=False, workers=workers)  # fmt: skip


def _scores(res):
    return [(r["method"], r["seed"], r["fold"], r["macro_f1"], r.get("steps")) for r in res["runs"]]


def test_workers_match_and_rerun_resumes(tiny_checkpoint, tmp_path):
    one = run_evaluation(_cfg(tiny_checkpoint, tmp_path / "w1", 1), log=io.StringIO())
    log = io.StringIO()
    two = run_evaluation(_cfg(tiny_checkpoint, tmp_path / "w2", 2), log=log)
    assert len(one["runs"]) == 4 * 2 * 2 and _scores(one) == _scores(two)
    assert log.getvalue().count("eval [") == 16  # one progress line per finished run
    assert all(r["steps"] == 6 for r in one["runs"] if r["method"] in ("base", "multi3net_not_frozen"))
    # the sklearn rows saw exactly the deep rows' training windows
    by = {(r["method"], r["seed"], r["fold"]): r["counts"] for r in one["runs"]}
    assert all(by[("stats_rf", s, f)] == by[("base", s, f)] for (_, s, f) in by)
    lines = (tmp_path / "w1" / JOURNAL).read_text().splitlines()
    assert len(lines) == 16
    log = io.StringIO()
    again = run_evaluation(_cfg(tiny_checkpoint, tmp_path / "w1", 1), log=log)
    assert "16 of 16 runs already" in log.getvalue() and "eval [" not in log.getvalue()
    assert _scores(again) == _scores(one) and len((tmp_path / "w1" / JOURNAL).read_text().splitlines()) == 16
    json.dumps(again["runs"])  # plain JSON (no predictions kept in the runs)
    assert "y_pred" not in again["runs"][0]


def test_rows_resume_when_a_later_command_adds_or_drops_methods(tiny_checkpoint, tmp_path):
    """A run's key holds only the checkpoint of its own method: rows without a checkpoint (base, stats_rf) resume
    whether or not the pretrained rows are in the command, and a changed checkpoint recomputes only its rows."""
    out = tmp_path / "e"
    plain = _cfg(tiny_checkpoint, out, 1).replace(methods=("base", "stats_rf"), checkpoints={})
    first = run_evaluation(plain, log=io.StringIO())
    log = io.StringIO()
    both = run_evaluation(_cfg(tiny_checkpoint, out, 1), log=log)
    assert "8 of 16 runs already" in log.getvalue() and log.getvalue().count("eval [") == 8
    assert [s for s in _scores(both) if s[0] in ("base", "stats_rf")] == _scores(first)


def test_head_grid_keeps_the_head_with_the_better_validation_f1(tiny_checkpoint, tmp_path):
    """--heads moe mlp trains every HarClassifier row once per head and keeps, per fold and seed, the run with the
    better validation macro F1; the moe runs are the ones a moe-only command makes (their journal keys are the
    pre-heads keys, so old journals resume), and a later moe-only command still resumes from the same journal."""
    out = tmp_path / "h"
    moe_only = run_evaluation(_cfg(tiny_checkpoint, out, 1), log=io.StringIO())
    old = [json.loads(x) for x in (out / JOURNAL).read_text().splitlines()]  # a journal from before heads existed
    (out / JOURNAL).write_text("".join(json.dumps({k: v for k, v in r.items() if k != "head"}) + "\n" for r in old))
    log = io.StringIO()
    res = run_evaluation(_cfg(tiny_checkpoint, out, 1).replace(heads=("moe", "mlp")), log=log)
    assert "16 of 24 runs already" in log.getvalue() and log.getvalue().count(" mlp ") == 8  # only the mlp runs
    assert len(res["runs"]) == 16 and {r["head"] for r in res["runs"] if r["method"] == "stats_rf"} == {""}
    journal = [json.loads(x) for x in (out / JOURNAL).read_text().splitlines()]
    by = {(r["method"], r["seed"], r["fold"], r.get("head", "moe")): r for r in journal}  # old lines: moe
    for r in res["runs"]:
        if r["method"] in ("base", "multi3net_not_frozen"):
            moe, mlp = by[(r["method"], r["seed"], r["fold"], "moe")], by[(r["method"], r["seed"], r["fold"], "mlp")]
            want = "mlp" if mlp["val_f1"] > moe["val_f1"] else "moe"
            assert r["head"] == want and r["macro_f1"] == by[(*_key(r), want)]["macro_f1"]
    log = io.StringIO()
    again = run_evaluation(_cfg(tiny_checkpoint, out, 1), log=log)
    assert "16 of 16 runs already" in log.getvalue() and _scores(again) == _scores(moe_only)
    heads = {(h["method"], h["head"]) for h in res["head_summary"]}
    assert heads == {(m, h) for m in ("base", "multi3net_not_frozen") for h in ("moe", "mlp")}
    text = markdown(res, "edge-eval ...")
    assert "Classifier heads (moe, mlp)" in text and "| Base (random init) |" in text.split("Classifier heads")[1]


def _key(r):
    return r["method"], r["seed"], r["fold"]


def test_select_heads_prefers_validation_then_grid_order():
    def run(head, val, f1):
        return ("base", 0.1, 4, 0, "f1", head), {"val_f1": val, "macro_f1": f1}

    kept = select_heads(dict([run("moe", 0.5, 0.9), run("mlp", 0.6, 0.1)]), ("moe", "mlp"))
    assert [k[5] for k in kept] == ["mlp"]  # validation decides, not the test score
    kept = select_heads(dict([run("mlp", 0.5, 0.1), run("moe", 0.5, 0.9)]), ("moe", "mlp"))
    assert [k[5] for k in kept] == ["moe"]  # a tie keeps the first head of the grid
    kept = select_heads(dict([run("mlp", None, 0.1), run("moe", None, 0.9)]), ("mlp", "moe"))
    assert [k[5] for k in kept] == ["mlp"]  # no validation subject: the first head of the grid
