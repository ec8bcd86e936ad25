"""A tiny end-to-end run through the three CLIs on generated data: pretrain -> fine-tune -> evaluate -> report."""

from __future__ import annotations

import json

from toolkit.cli.evaluate import main as eval_main
from toolkit.cli.finetune import main as finetune_main
from toolkit.train.checkpoint import load_checkpoint


def test_pretrain_finetune_evaluate(tiny_checkpoint, tmp_path):
    common = ["--device", "cpu", "--no-progress", "--epochs", "2", "--batch-size", "16", "--min-steps", "6",
              "--eval-every", "3"]
    ft_out = tmp_path / "ft"
    assert finetune_main(["--dataset", "generated", "--checkpoint", str(tiny_checkpoint), "--test-subjects", "g00",
                          "--out", str(ft_out), "--patience", "1", *common]) == 0  # fmt: skip
    m = json.loads((ft_out / "metrics.json").read_text())
    assert m["fold"]["test"] == ["g00"] and "g00" not in m["fold"]["train"] + m["fold"]["val"]
    assert 0 <= m["test"]["macro_f1"] <= 1
    ck = load_checkpoint(ft_out / "classifier.pt", kind="classifier")
    assert ck.payload["model_config"]["arch"] == "har" and ck.payload["extra"]["class_names"][0] == "class0"

    out = tmp_path / "eval"
    rc = eval_main(["--dataset", "generated", "--model", "tiny", "--checkpoint", f"multi3net={tiny_checkpoint}",
                    "--checkpoint", f"imu_recon={tiny_checkpoint}", "--checkpoint", f"contrastive={tiny_checkpoint}",
                    "--fractions", "0.5", "1.0", "--experts", "1", "2", "--max-folds", "2", "--text-embeddings",
                    "hash", "--seeds", "0", "--workers", "1", "--out", str(out), *common])  # fmt: skip
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert {s["method"] for s in res["summary"]} == {"dcl", "base", "imu_recon", "contrastive", "multi3net_frozen",
                                                       "multi3net_not_frozen", "stats_rf", "probe_random",
                                                       "probe_pretrained"}  # fmt: skip
    assert len(res["runs"]) == 9 * 2 * 2 + 2 * 2  # methods x fractions x folds + the extra experts settings
    assert res["zero_shot"]["per_subject_macro_f1"] and res["command"].startswith("edge-eval --dataset generated")
    for r in res["runs"]:
        test = set(r["subjects"]["test"])
        assert not test & set(r["audit"]["train"]) and not test & set(r["audit"]["normalizer"])
    md = (out / "report.md").read_text()
    assert "Multi3Net+ not frozen" in md and "Experts sweep" in md and "Zero-shot" in md
    assert "Paired differences vs Base" in md and "Paired differences vs Stats + random forest" in md
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert list(out.glob("confusion_*.png")) and (out / "config.yaml").is_file()
