"""Pretraining: runs, resumes bit-identically, masks text out, and agrees across two DDP processes."""

from __future__ import annotations

import json

import torch

from tests.train.conftest import tiny_pretrain_config
from toolkit.cli.pretrain import main as pretrain_main
from toolkit.train.launch import spawn_pretrain
from toolkit.train.pretrain import load_pretrained, parameter_digest, run_pretrain


def test_resume_equals_uninterrupted(sim_dataset, tmp_path):
    full = run_pretrain(tiny_pretrain_config(sim_dataset, tmp_path / "full"), log=False)
    cfg = tiny_pretrain_config(sim_dataset, tmp_path / "cut")
    first = run_pretrain(cfg, stop_after=1, log=False)
    assert first.checkpoint is None and (tmp_path / "cut" / "last.pt").is_file()
    resumed = run_pretrain(cfg, resume=True, log=False)
    assert parameter_digest(resumed.model) == parameter_digest(full.model)
    assert [h["total"] for h in resumed.history] == [h["total"] for h in full.history]
    model, norm, ck = load_pretrained(resumed.checkpoint)
    assert parameter_digest(model) == parameter_digest(full.model)
    assert norm.mean.shape == (6,) and ck.sidecar["config"]["epochs"] == 2


def test_text_none_masks_text_and_cli_writes_config(sim_dataset, tmp_path):
    out = tmp_path / "run"
    rc = pretrain_main(["--data", str(sim_dataset), "--out", str(out), "--model", "tiny", "--epochs", "1",
                        "--text-embeddings", "none", "--batch-size", "4", "--device", "cpu", "--no-progress",
                        "--ablation", "contrastive_only"])  # fmt: skip
    assert rc == 0
    cfg = (out / "config.yaml").read_text()
    assert "text_embeddings: none" in cfg and "ablation: contrastive_only" in cfg
    hist = json.loads((out / "history.json").read_text())
    assert hist[0]["pose2imu"] == 0.0 and hist[0]["reconstruction"] == 0.0 and hist[0]["contrastive"] > 0


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert pretrain_main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "not a simulator dataset folder" in err and err.count("\n") == 1


def test_two_ddp_processes_end_with_identical_parameters(sim_dataset, tmp_path):
    cfg = tiny_pretrain_config(sim_dataset, tmp_path / "ddp", epochs=1, batch_size=4)
    ranks = spawn_pretrain(cfg, nproc=2)
    assert ranks[0]["digest"] == ranks[1]["digest"]
    torch.manual_seed(0)
    single = run_pretrain(cfg.replace(out_dir=str(tmp_path / "one")), stop_after=0, log=False)
    assert ranks[0]["digest"] != parameter_digest(single.model)  # it trained (the untrained model differs)
    h0, h1 = ranks[0]["history"][0], ranks[1]["history"][0]
    assert h0["total"] == h1["total"] and h0["windows"] >= ranks[0]["windows"]  # losses all-reduced over ranks
    assert (tmp_path / "ddp" / "pretrained.pt").is_file()


def test_corpus_options_train_and_the_checkpoint_keeps_the_shared_wrist(sim_dataset, tmp_path):
    aug = {"mirror_right": True, "twist_deg": 15.0, "tilt_deg": 5.0, "devices": ["wear-os-watch", "empatica-e4"]}
    cfg = tiny_pretrain_config(sim_dataset, tmp_path / "aug", epochs=1, augment=aug, text_templates=True,
                               text_geometry=1.0, workers=1, threads=1)  # fmt: skip
    res = run_pretrain(cfg, log=False)
    h = res.history[0]
    assert h["text_geometry"] > 0 and h["workers"] == 1 and h["threads"] == 1
    assert all(torch.isfinite(torch.tensor(h[k])) for k in ("total", "contrastive", "pose2imu", "reconstruction"))
    model, _, ck = load_pretrained(res.checkpoint)
    assert model.shared_wrists and ck.sidecar["config"]["augment"]["mirror_right"] is True
    # the right wrist runs through the LEFT encoder: its embedding equals the left encoder's on the same window
    x = torch.randn(3, cfg.grid.window_length, 6)
    out = model({"imu_left": x, "imu_right": x})
    torch.testing.assert_close(out.embeddings["imu_left"], out.embeddings["imu_right"])
    # the same run with 0 workers gives the same weights (batches are seeded by epoch and indices, not by worker)
    again = run_pretrain(cfg.replace(out_dir=str(tmp_path / "aug0"), workers=0), log=False)
    assert parameter_digest(again.model) == parameter_digest(res.model)
