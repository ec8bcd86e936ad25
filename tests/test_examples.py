"""The examples run as a newcomer would run them (as imucal's examples do in its tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / name), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_demo_writes_dataset_plot_and_summary(tmp_path):
    out = run_example("demo.py", "--out", str(tmp_path / "demo"), "--variants", "2", cwd=tmp_path)
    assert "left_wrist" in out and "right_wrist" in out
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    lw = summary["reference_body"]["placements"]["left_wrist"]
    assert 7.0 < lw["acc_mean_ms2"] < 15.0  # about g on average for everyday motion
    png = (tmp_path / "demo" / "wrist_signals.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert len(list((tmp_path / "demo" / "dataset").glob("*.npz"))) == 2


def test_simulate_cmu_clip_example(tmp_path):
    out = run_example("simulate_cmu_clip.py", cwd=tmp_path)
    assert "left_wrist" in out and "|acc| mean" in out


def test_plot_wrist_signals_example(tmp_path):
    run_example("plot_wrist_signals.py", "--png", "w.png", cwd=tmp_path)
    assert (tmp_path / "w.png").stat().st_size > 20_000


def test_sample_surface_placements_example(tmp_path):
    out = run_example("sample_surface_placements.py", "--n", "40", "--png", "p.png", cwd=tmp_path)
    assert "by segment" in out and (tmp_path / "p.png").is_file()


def test_pretrain_simulated_example(tmp_path):
    out = run_example("pretrain_simulated.py", "--text-embeddings", "hash", "--epochs", "1", cwd=tmp_path)
    assert "pretrain epoch 1/1" in out and "pretrained.pt" in out


def test_finetune_seglearn_example(tmp_path):
    out = run_example("finetune_seglearn.py", "--epochs", "2", cwd=tmp_path)
    assert "macro F1" in out and ("dataset seglearn" in out or "GENERATED" in out)


def test_zero_shot_example(tmp_path):
    out = run_example("zero_shot.py", "--text-embeddings", "hash", "--n", "4", cwd=tmp_path)
    assert "predicted" in out and "correct (chance" in out
