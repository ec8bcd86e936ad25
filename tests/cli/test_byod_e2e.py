"""Bring your own data and device, with the command line alone (issue 12's acceptance test).

A generated accelerometer-only dataset (one file per trial, 32 Hz, the device's own axes, 6-bit codes, right wrist,
4 subjects, 3 activities; :mod:`tests.cli.byod_data`) and its device description file go through
``edge-finetune`` -> ``edge-eval`` (``stats_rf``) -> ``edge-export --int8`` -> ``edge-stream --virtual file:...``;
the streamed int8 predictions of the held-out subject's trials must equal offline inference of the same bundle on
the same files, and be right.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from export.manifest import load_artefact
from tests.cli.byod_data import LABELS, write_dataset
from toolkit.cli import evaluate as eval_cli
from toolkit.cli import export as export_cli
from toolkit.cli import finetune as finetune_cli
from toolkit.cli import stream as stream_cli
from toolkit.cli.file_replay import load_trial_file
from toolkit.cli.stream import Calibrations
from toolkit.device_profiles import resolve_profile
from toolkit.stream.offline import offline_predictions

pytestmark = pytest.mark.slow
HELD_OUT = "m2"


@pytest.fixture(scope="module")
def byod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dataset, the fine-tuned checkpoint and the exported bundles (built once for the module)."""
    base = tmp_path_factory.mktemp("byod")
    data = write_dataset(base / "data")
    profile = base / "profile.yaml"
    ft, dist = base / "runs" / "ft", base / "dist"
    rc = finetune_cli.main(["--dataset", f"folder:{data}", "--profile", str(profile), "--test-subjects", HELD_OUT,
                            "--min-steps", "150", "--out", str(ft), "--no-progress"])
    assert rc == 0
    rc = export_cli.main(["--checkpoint", str(ft), "--int8", "--out", str(dist), "--profiles", "watch",
                          "--targets", "pte", "--epochs", "10", "--quiet"])
    assert rc == 0
    return {"base": base, "data": data, "profile": profile, "ft": ft, "dist": dist}


def test_finetune_records_an_accelerometer_only_model(byod: dict[str, Path]) -> None:
    metrics = json.loads((byod["ft"] / "metrics.json").read_text())
    assert metrics["channels"] == ["acc_x", "acc_y", "acc_z"]
    assert metrics["head"] in ("moe", "mlp")  # edge-finetune's default head: auto chose one on validation
    assert metrics["test"]["macro_f1"] > 0.8, metrics["test"]
    manifest = json.loads((byod["dist"] / "watch" / "manifest.json").read_text())
    assert manifest["input"]["channels"] == ["acc_x", "acc_y", "acc_z"]
    assert manifest["classes"] == list(LABELS)
    entry = manifest["artefacts"][0]
    assert {"parity_vs_float_student", "agreement_vs_float_teacher"} <= set(entry)


def test_eval_with_the_stats_rf_baseline(byod: dict[str, Path]) -> None:
    out = byod["base"] / "eval"
    rc = eval_cli.main(["--dataset", f"folder:{byod['data']}", "--profile", str(byod["profile"]), "--methods",
                        "stats_rf", "--seeds", "0", "--no-zero-shot", "--out", str(out), "--no-progress"])
    assert rc == 0
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line.strip()]
    assert {r["fold"] for r in runs} == {"loso-f1", "loso-f2", "loso-m1", "loso-m2"}
    assert all(r["method"] == "stats_rf" for r in runs)
    assert np.mean([r["macro_f1"] for r in runs]) > 0.9


@pytest.mark.parametrize("label", LABELS)
def test_streamed_int8_predictions_match_offline(byod: dict[str, Path], label: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    trial = next((byod["data"] / label).glob(f"*-{HELD_OUT}.txt"))
    rc = stream_cli.main(["--virtual", f"file:{trial}", "--profile", str(byod["profile"]), "--model",
                          str(byod["dist"]), "--wrist", "right", "--json", "--speed", "8", "--no-record", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    preds = [r for r in records if r["type"] == "prediction"]
    summary = next(r for r in records if r["type"] == "summary")
    assert summary["model"].endswith("watch")  # the folder of bundles gave the accelerometer-only device its bundle

    # offline: the same bundle, the same file, the same conversion (device description, then the right-wrist mount)
    profile = resolve_profile(byod["profile"])
    series = load_trial_file(trial, rate_hz=profile.rate_hz)
    transform = Calibrations(None, "right", "dorsal", {}, raw_devices={"dev": profile}).for_device("dev", "imu-stream")
    artefact = load_artefact(byod["dist"] / "watch", "pte", "int8", threads=1)
    offline = offline_predictions(artefact, series.t_s, series.acc, None, transform=transform,
                                  source_rate_hz=profile.rate_hz)
    assert len(offline) >= 30
    assert [round(p["t_start_s"], 3) for p in preds] == [round(o.t_start_s, 3) for o in offline]
    same = [p["label"] == o.label for p, o in zip(preds, offline, strict=True)]
    assert np.mean(same) >= 0.95, (label, np.mean(same))
    assert np.mean([p["label"] == label for p in preds]) >= 0.8
