"""Round trips per target, manifests, partitions, calibration rules, distillation, command-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from export.distill import DistillConfig, distill, macro_f1, predict_logits
from export.exporters import executorch as et_exporter
from export.manifest import load_artefact, read_manifest
from export.pipeline import save_teacher
from export.quantize import MIN_CALIBRATION, CalibrationSet, calibration_set, check_calibration, pt2e_int8
from export.student import SIZES, EdgeStudent, StudentConfig, count_macs, count_params, student_config
from export.teacher import InputSpec, Teacher, generated_windows, random_tiny_teacher, split_subjects
from toolkit.cli.bench import bench_main
from toolkit.cli.export import export_main
from toolkit.errors import ConfigError, InputFileError
from toolkit.models import HarClassifier, Multi3NetConfig

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = [(t, p) for t in ("pte", "tflite", "onnx") for p in ("fp32", "int8")]


def _heldout(manifest: dict) -> tuple[np.ndarray, np.ndarray]:
    """The demo teacher's windows of the bundle's evaluation subjects, standardised with the manifest."""
    data = generated_windows(n_per_class=240, num_classes=len(manifest["classes"]), subjects=8, seed=0)
    ev = np.isin(data.subject, manifest["metrics"]["eval_subjects"])
    norm = manifest["input"]["normalization"]
    x = ((data.x[ev] - np.asarray(norm["mean"])) / np.asarray(norm["std"])).astype(np.float32)
    return x, data.y[ev]


def _student(folder: Path) -> EdgeStudent:
    model = EdgeStudent(StudentConfig(**json.loads((folder / "student.json").read_text())))
    model.load_state_dict(torch.load(folder / "student.pt", weights_only=True))
    return model.eval()


@pytest.mark.parametrize(("target", "precision"), ARTEFACTS)
def test_round_trip_matches_pytorch(tiny_bundle, target, precision):
    man = read_manifest(tiny_bundle)
    x, y = _heldout(man)
    assert len(x) >= 200
    ref = predict_logits(_student(tiny_bundle), x)
    art = load_artefact(tiny_bundle, target, precision)
    got = np.concatenate([art.run(w[None])[0] for w in x])
    delta = float(np.abs(got - ref).max())
    agree = float((got.argmax(1) == ref.argmax(1)).mean())
    print(f"{target} {precision}: max|dlogit| {delta:.2e}, top-1 agreement {agree:.4f}, "
          f"F1 {macro_f1(y, got.argmax(1)):.3f} on {len(x)} windows")
    if precision == "fp32":
        assert delta < 1e-4
    else:
        assert agree >= 0.99
        assert macro_f1(y, got.argmax(1)) >= macro_f1(y, ref.argmax(1)) - 0.01
    recorded = art.entry["parity_vs_float_student"]  # the pipeline's own figures agree with ours
    assert recorded["n_windows"] == len(x) and recorded["top1_agreement"] == pytest.approx(agree, abs=0.01)


def test_student_lowers_whole_to_xnnpack(tiny_bundle):
    man = read_manifest(tiny_bundle)
    for entry in man["artefacts"]:
        if entry["target"] == "pte":
            assert entry["export"]["partitions"] == 1, entry["export"]
            assert entry["export"]["non_delegated_ops"] == {}, entry["export"]


def test_manifest_contents(tiny_bundle):
    man = read_manifest(tiny_bundle)
    assert man["input"]["channels"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert man["input"]["window_samples"] == 60 and man["input"]["rate_hz"] == 30.0
    assert len(man["input"]["normalization"]["mean"]) == 6
    assert set(man["files"]) >= {a["file"] for a in man["artefacts"]} | {"student.pt", "student.json"}
    assert man["provenance"]["packages"]["torch"] == "2.13.0+cpu"
    assert man["quantization"]["calibration_windows"] >= MIN_CALIBRATION
    assert not set(man["quantization"]["calibration_subjects"]) & set(man["metrics"]["eval_subjects"])


def test_modified_file_is_refused(tiny_bundle, tmp_path):
    copy = tmp_path / "watch"
    shutil.copytree(tiny_bundle, copy)
    load_artefact(copy, "onnx", "int8")  # intact: loads
    blob = bytearray((copy / "student_int8.pte").read_bytes())
    blob[-1] ^= 0xFF
    (copy / "student_int8.pte").write_bytes(bytes(blob))
    with pytest.raises(InputFileError, match="sha256.*refusing"):
        load_artefact(copy, "pte", "int8")


def test_wrong_window_is_refused(tiny_bundle):
    art = load_artefact(tiny_bundle, "onnx", "fp32")
    with pytest.raises(ConfigError, match="wrong input spec"):
        art.classify(np.zeros((50, 6), np.float32))


def test_example_run_artefacts(tiny_bundle):
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "run_artefacts.py"), str(tiny_bundle)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("student_")]
    assert len(lines) == 6 and all(": activity_1" in ln for ln in lines)


@pytest.mark.parametrize("size", list(SIZES))
def test_student_within_budget(size):
    model = EdgeStudent(student_config(size, in_channels=6, window=60, num_classes=8, embed_out=256))
    assert count_params(model) <= 100_000
    assert 10_000 < count_macs(model, torch.zeros(1, 60, 6)) < 2_000_000


def test_calibration_rules():
    x = np.zeros((400, 60, 6), np.float32)
    subj = np.repeat(np.array(["a", "b", "c", "d"]), 100)
    with pytest.raises(ConfigError, match="at least 256"):
        calibration_set(x, subj, eval_subjects=["a", "b"])  # only 200 windows outside the evaluation subjects
    cal = calibration_set(x, subj, eval_subjects=["a"])
    assert len(cal) == 300 and "a" not in cal.subjects
    with pytest.raises(ConfigError, match="evaluation subjects"):
        check_calibration(cal, eval_subjects=["b"])
    with pytest.raises(ConfigError, match="at least 256"):
        pt2e_int8(EdgeStudent(StudentConfig()), torch.zeros(1, 60, 6), CalibrationSet(x[:100], ("c",)))


def test_distilled_student_reaches_teacher():
    """Noisier generated data (the teacher is not perfect): the distilled student gets within 5 F1 points of it."""
    teacher = random_tiny_teacher(seed=1, epochs=15, noise=9.0)
    data = teacher.windows
    train, held = split_subjects(data)
    tr, ev = np.isin(data.subject, train), np.isin(data.subject, held)
    x = teacher.spec.normalise(data.x)
    f1_teacher = macro_f1(data.y[ev], predict_logits(teacher.model, x[ev]).argmax(1))
    student = EdgeStudent(student_config("tiny", in_channels=6, window=60, num_classes=4, embed_out=16))
    distill(teacher.model, student, x[tr], data.y[tr], DistillConfig(epochs=15))
    f1_student = macro_f1(data.y[ev], predict_logits(student, x[ev]).argmax(1))
    print(f"teacher F1 {f1_teacher:.3f}, distilled student F1 {f1_student:.3f}")
    assert 0.5 < f1_teacher < 1.0  # a non-trivial problem
    assert f1_student >= f1_teacher - 0.05


def test_missing_runtime_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    assert export_main(["--int8", "--teacher", "random-tiny", "--targets", "onnx", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install" in err and "onnxruntime==1.31.1" in err


def test_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert export_main(["--int8", "--checkpoint", str(tmp_path / "nope"), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "random-tiny" in err and "classifier.pt" in err


def test_wrong_data_spec_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((300, 50, 6), np.float32), y=np.zeros(300, int), subject=np.array(["a", "b"] * 150))
    teacher = Teacher(HarClassifier(Multi3NetConfig.tiny().imu, Multi3NetConfig.tiny().classifier),
                      ["a", "b", "c", "d"], InputSpec(), None, None, "untrained")
    save_teacher(teacher, tmp_path / "ckpt")  # a checkpoint folder for 60-sample windows
    rc = export_main(["--int8", "--checkpoint", str(tmp_path / "ckpt"), "--data", str(bad), "--targets", "onnx",
                      "--out", str(tmp_path / "d")])
    assert rc == 2
    assert "wrong input spec" in capsys.readouterr().err


@pytest.mark.slow
def test_edge_export_int8_end_to_end_and_bench(tmp_path, capsys):
    """``edge-export --int8 --teacher random-tiny --out tmp`` (both profiles, all targets), then ``edge-bench``."""
    out = tmp_path / "dist"
    assert export_main(["--int8", "--teacher", "random-tiny", "--out", str(out), "--quiet"]) == 0
    for profile in ("phone", "watch"):
        man = read_manifest(out / profile)
        assert {a["target"] for a in man["artefacts"]} == {"pte", "tflite", "onnx"}
        assert man["student"]["parameters"] <= 100_000
        for a in man["artefacts"]:
            assert a["parity_vs_float_student"]["top1_agreement"] >= 0.99
    assert bench_main([str(out), "--runs", "20", "--warmup", "2", "--threads", "1", "--quiet"]) == 0
    res = json.loads((out / "bench" / "bench.json").read_text())
    names = {(r["profile"], r["name"]) for r in res["rows"]}
    assert ("-", "teacher eager fp32") in names and ("watch", "pte int8") in names
    assert all("median_ms" in r and r["peak_rss_mb"] > 0 for r in res["rows"])
    assert (out / "bench" / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert "watch/pte_int8_vs_teacher_eager/1t" in res["ratios"]


@pytest.mark.slow
@pytest.mark.parametrize("size", ["small", "base"])
def test_default_sized_students_lower_whole(size):
    model = EdgeStudent(student_config(size, in_channels=6, window=60, num_classes=8, embed_out=256)).eval()
    example = torch.randn(1, 60, 6)
    cal = CalibrationSet(np.random.default_rng(0).standard_normal((256, 60, 6)).astype(np.float32), ("s",))
    for graph in (model, pt2e_int8(model, example, cal)):
        report = et_exporter.lowering_report(et_exporter.lower(torch.export.export(graph, (example,))))
        assert report == {"partitions": 1, "non_delegated_ops": {}}


def test_quantisation_aware_training_exports_whole_and_tracks_the_float_student(tmp_path):
    """QAT (distilled from the float student) gives a .pte that loads at batch 1, lowers whole to XNNPACK and
    agrees with the float student on held-out windows; EdgeStudent's BatchNorm leaves no op outside."""
    from export.quantize import pt2e_qat

    teacher = random_tiny_teacher(seed=2, epochs=10, noise=6.0)
    data = teacher.windows
    train, held = split_subjects(data)
    tr, ev = np.isin(data.subject, train), np.isin(data.subject, held)
    x = teacher.spec.normalise(data.x)
    student = EdgeStudent(student_config("tiny", in_channels=6, window=60, num_classes=4, embed_out=16))
    distill(teacher.model, student, x[tr], data.y[tr], DistillConfig(epochs=8))
    ref = predict_logits(student, x[ev])
    example = torch.from_numpy(x[:1].copy())
    converted = pt2e_qat(student, example, x[tr], data.y[tr], epochs=2)
    path = tmp_path / "qat.pte"
    info = et_exporter.export(converted, example, path, False, None)
    assert info["partitions"] == 1 and sum(info["non_delegated_ops"].values()) == 0
    got = np.concatenate([et_exporter.load(path)(w[None])[0] for w in x[ev]])
    agree = float(np.mean(got.argmax(1) == ref.argmax(1)))
    f1_float, f1_qat = macro_f1(data.y[ev], ref.argmax(1)), macro_f1(data.y[ev], got.argmax(1))
    print(f"QAT: agreement {agree:.3f}, macro F1 {f1_qat:.3f} (float student {f1_float:.3f})")
    assert agree >= 0.95 and f1_qat >= f1_float - 0.03
