"""edge-eval runs: --workers 2 gives the results of --workers 1, and a rerun resumes instead of recomputing."""

from __future__ import annotations

import io
import json

from toolkit.train.config import EvalConfig, FinetuneConfig
from toolkit.train.evaluate import JOURNAL, run_evaluation


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
