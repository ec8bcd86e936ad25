"""export.loso end to end on a tiny generated dataset: 2 LOSO folds, leak checks on the data each stage received."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import export.pipeline as pipeline
import export.quantize as quantize
from export.loso import LosoOptions, build_parser, main, run_loso, write_summary
from toolkit.errors import ConfigError
from toolkit.train.data import generated_windows

REPO = Path(__file__).resolve().parents[2]
PRETRAINED = REPO / "toolkit" / "default_model" / "pretrained.pt"


def _rows(x: np.ndarray) -> set[bytes]:
    """One hashable key per (L, C) window (bytes of its float32 values)."""
    return {np.ascontiguousarray(w, np.float32).tobytes() for w in x}


@pytest.fixture(scope="module")
def loso_run(tmp_path_factory) -> dict:
    """run_loso on 3 generated subjects (160 windows each), first 2 folds, 1 fine-tuning and 2 distillation epochs,
    int8 .pte and .onnx (.tflite round trips are tested in test_export.py); records the windows that distillation
    and calibration actually received."""
    if not PRETRAINED.is_file():
        pytest.skip("toolkit/default_model/pretrained.pt not in this checkout")
    windows = generated_windows(subjects=3, classes=4, per_class=40)
    seen: dict[str, list] = {"distill": [], "calibration": []}
    mp = pytest.MonkeyPatch()
    real_distill, real_cal = pipeline.distill, pipeline.calibration_set

    def spy_distill(teacher, student, x, *args, **kwargs):  # noqa: ANN001, ANN202
        seen["distill"].append(np.array(x))
        return real_distill(teacher, student, x, *args, **kwargs)

    def spy_cal(x, subject, eval_subjects, *args, **kwargs):  # noqa: ANN001, ANN202
        cal = real_cal(x, subject, eval_subjects, *args, **kwargs)
        seen["calibration"].append(np.array(cal.x))
        return cal

    mp.setattr(pipeline, "distill", spy_distill)
    mp.setattr(pipeline, "calibration_set", spy_cal)
    out = tmp_path_factory.mktemp("loso")
    opts = LosoOptions(dataset="generated", out=out, pretrained=PRETRAINED, config=REPO / "reports" / "configs" /
                       "eval_loso.yaml", targets=("pte", "onnx"), distill_epochs=2, max_folds=2, qat_retry=False,
                       finetune_overrides={"epochs": 1})
    lines: list[str] = []
    try:
        summary = run_loso(opts, windows=windows, log=lines.append, command="test")
    finally:
        mp.undo()
    return {"out": out, "summary": summary, "windows": windows, "seen": seen, "lines": lines, "opts": opts}


def test_writes_fold_results_and_summary(loso_run):
    out, summary = loso_run["out"], loso_run["summary"]
    records = [json.loads(p.read_text()) for p in sorted((out / "folds").glob("*.json"))]
    assert [r["fold"] for r in records] == ["loso-g00", "loso-g01"]
    models = {"teacher fp32", "watch student fp32", "watch pte int8", "watch onnx int8"}
    for r in records:
        assert set(r["models"]) == models
        assert r["n_test_windows"] == 160 and len(r["predictions"]["y_true"]) == 160
        assert r["subjects"]["test"] == [r["fold"].removeprefix("loso-")]
        for key in models - {"teacher fp32", "watch student fp32"}:
            m = r["models"][key]
            assert {"macro_f1", "top1_agreement", "max_abs_delta_logit", "bytes"} <= set(m)
            assert 0.0 <= m["top1_agreement"] <= 1.0 and m["bytes"] > 1000
        pte = r["models"]["watch pte int8"]
        assert pte["partitions"] >= 1 and pte["ops_outside"] >= 0
        # the fine-tuned teacher scores exactly what the protocol's own prediction scored
        assert r["models"]["teacher fp32"]["macro_f1"] == pytest.approx(r["finetune"]["protocol_macro_f1"], abs=1e-9)
    assert summary["folds"] == 2 and summary["windows"] == 320
    assert set(summary["models"]) == models
    for key, m in summary["models"].items():
        assert {"mean", "std"} <= set(m["macro_f1"]) and 0 <= m["macro_f1_pooled"] <= 1
        if "int8" in key:
            assert 0 <= m["top1_agreement_pooled"] <= 1 and "folds_losing_over_1_point" in m
    saved = json.loads((out / "results.json").read_text())
    assert saved["models"].keys() == summary["models"].keys()
    md = (out / "report.md").read_text()
    assert "watch pte int8" in md and "loso-g01" in md
    assert sum(line.startswith("fold ") for line in loso_run["lines"]) == 2  # a progress line per fold


def test_recorded_figures_match_the_pipelines_own(loso_run):
    """Agreement recomputed from the reloaded artefacts equals what export_bundles wrote into the manifest."""
    for fold in ("loso-g00", "loso-g01"):
        rec = json.loads((loso_run["out"] / "folds" / f"{fold}.json").read_text())
        man = json.loads((loso_run["out"] / "folds" / fold / "watch" / "manifest.json").read_text())
        for a in man["artefacts"]:
            got = rec["models"][f"watch {a['target']} {a['precision']}"]
            assert got["top1_agreement"] == pytest.approx(a["parity_vs_float_student"]["top1_agreement"], abs=1e-9)
            assert got["macro_f1"] == pytest.approx(a["parity_vs_float_student"]["macro_f1"], abs=1e-9)


def test_held_out_subject_never_distilled_or_calibrated(loso_run):
    windows, seen, out = loso_run["windows"], loso_run["seen"], loso_run["out"]
    assert len(seen["distill"]) == 2 and len(seen["calibration"]) == 2
    for i, fold in enumerate(("loso-g00", "loso-g01")):
        rec = json.loads((out / "folds" / f"{fold}.json").read_text())
        test = rec["subjects"]["test"][0]
        # declared subjects
        for stage, subjects in rec["subjects_seen"].items():
            assert test not in subjects, stage
        for stage, subjects in rec["finetune"]["audit"].items():
            assert (test in subjects) == (stage == "test"), stage
        # the data itself: standardise every window with the fold's normaliser and look for the test windows
        norm = json.loads((out / "folds" / fold / "watch" / "manifest.json").read_text())["input"]["normalization"]
        z = ((windows.x - np.asarray(norm["mean"])) / np.asarray(norm["std"])).astype(np.float32)
        test_rows, train_rows = _rows(z[windows.subject == test]), _rows(z[windows.subject != test])
        distilled, calibrated = _rows(seen["distill"][i]), _rows(seen["calibration"][i])
        assert distilled and not distilled & test_rows and distilled <= train_rows
        assert len(seen["calibration"][i]) >= quantize.MIN_CALIBRATION
        assert not calibrated & test_rows and calibrated <= train_rows


def test_model_files_deleted_and_resume_skips(loso_run):
    out = loso_run["out"]
    left = [p for p in (out / "folds").rglob("*") if p.is_file()]
    assert left and all(p.suffix == ".json" for p in left)
    before = (out / "folds" / "loso-g00.json").read_text()
    lines: list[str] = []
    run_loso(loso_run["opts"], windows=loso_run["windows"], log=lines.append, command="test")
    assert sum("skipped" in line for line in lines) == 2
    assert (out / "folds" / "loso-g00.json").read_text() == before


def test_reports_carry_no_absolute_path_of_this_machine(loso_run):
    out = loso_run["out"]
    texts = [(out / "options.json").read_text(), *(p.read_text() for p in (out / "folds").rglob("*.json"))]
    assert all(str(REPO) not in t for t in texts)
    assert '"pretrained": "toolkit/default_model/pretrained.pt"' in texts[0]


def test_resume_refuses_folds_of_other_settings_instead_of_mixing_them(loso_run):
    out, opts = loso_run["out"], loso_run["opts"]
    before = (out / "folds" / "loso-g00.json").read_text()
    assert json.loads(before)["settings_sha256"] == json.loads((out / "options.json").read_text())["settings_sha256"]
    other = dataclasses.replace(opts, distill_epochs=opts.distill_epochs + 1)
    with pytest.raises(ConfigError, match="loso-g00.json: computed with other settings"):
        run_loso(other, windows=loso_run["windows"], log=lambda m: None, command="test")
    assert (out / "folds" / "loso-g00.json").read_text() == before  # nothing overwritten, nothing mixed
    # a fold JSON of the same settings, hash edited: the summary refuses to pool folds of different settings
    edited = out / "folds" / "loso-g01.json"
    keep = edited.read_text()
    edited.write_text(json.dumps(json.loads(keep) | {"settings_sha256": "0" * 16}))
    try:
        with pytest.raises(ConfigError, match="fold results of different settings"):
            write_summary(out, "generated")
    finally:
        edited.write_text(keep)


def test_fresh_recomputes_the_selected_fold(loso_run, tmp_path):
    out = tmp_path / "loso"
    (out / "folds").mkdir(parents=True)
    stale = {"fold": "loso-g00", "settings_sha256": "0" * 16}
    (out / "folds" / "loso-g00.json").write_text(json.dumps(stale))
    opts = dataclasses.replace(loso_run["opts"], out=out, max_folds=1, fresh=True)
    run_loso(opts, windows=loso_run["windows"], log=lambda m: None, command="test")
    rec = json.loads((out / "folds" / "loso-g00.json").read_text())
    assert rec["settings_sha256"] == json.loads((out / "options.json").read_text())["settings_sha256"] != "0" * 16
    assert "models" in rec


def test_cli_help_and_one_line_errors(capsys):
    assert "examples:" in build_parser().format_help()
    assert main(["--dataset", "seglearn", "--profiles", "tablet", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("export.loso: error:") and "tablet" in err and "\n" not in err
    assert main(["--dataset", "seglearn", "--report-only", "--out", "/nonexistent/x"]) == 2
    assert "no fold results" in capsys.readouterr().err
