"""Accelerometer-only models end to end: edge-finetune -> edge-export -> streaming engine, the watch-acc bundle of a
gyro teacher, the bundle choice for accelerometer-only devices, and NaN refusal (issues 12 and 13).

Data: toolkit.train.data.generated_windows (8 subjects, 3 classes with their oscillation on acc_x, acc_y, acc_z,
so an accelerometer-only model can learn them) in place of the ``generated`` dataset, big enough for the >= 256
int8 calibration windows; tiny students, 3 distillation epochs, ONNX only: seconds per export.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import toolkit.train.finetune_job as finetune_job
from export.manifest import load_artefact
from toolkit.cli import export as export_cli
from toolkit.cli import finetune as finetune_cli
from toolkit.errors import ConfigError
from toolkit.stream.bundles import choose_bundle
from toolkit.stream.engine import StreamEngine
from toolkit.train.data import generated_windows

ACC = ["acc_x", "acc_y", "acc_z"]


def _patch_data(monkeypatch: pytest.MonkeyPatch, nan_at: tuple[int, int] | None = None) -> None:
    def load(name: str, grid, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        w = generated_windows(subjects=8, classes=3, per_class=16, length=grid.window_length, rate_hz=grid.rate_hz)
        if nan_at is not None:
            w.x[nan_at[0], 5, nan_at[1]] = np.nan
        return w

    monkeypatch.setattr(finetune_job, "load_real_windows", load)


def _finetune(out: Path, channels: str) -> int:
    return finetune_cli.main(
        [
            "--dataset",
            "generated",
            "--method",
            "base",
            "--model",
            "tiny",
            "--channels",
            channels,
            "--epochs",
            "1",
            "--min-steps",
            "40",
            "--eval-every",
            "20",
            "--test-subjects",
            "g07",
            "--out",
            str(out),
            "--device",
            "cpu",
            "--no-progress",
        ]
    )


def _export(ckpt: Path, out: Path, *extra: str) -> int:
    return export_cli.main(
        [
            "--checkpoint",
            str(ckpt),
            "--int8",
            "--student-size",
            "tiny",
            "--epochs",
            "3",
            "--targets",
            "onnx",
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def _run(tmp_path_factory, name: str, channels: str, profiles: str) -> tuple[Path, Path]:
    """edge-finetune with ``channels`` then edge-export of ``profiles``; (checkpoint folder, dist folder)."""
    mp = pytest.MonkeyPatch()
    _patch_data(mp)
    try:
        root = tmp_path_factory.mktemp(name)
        assert _finetune(root / "ft", channels) == 0
        assert _export(root / "ft", root / "dist", "--profiles", profiles) == 0
    finally:
        mp.undo()
    return root / "ft", root / "dist"


@pytest.fixture(scope="module")
def acc_run(tmp_path_factory) -> tuple[Path, Path]:
    return _run(tmp_path_factory, "acc", "acc", "watch")


@pytest.fixture(scope="module")
def gyro_run(tmp_path_factory) -> tuple[Path, Path]:
    return _run(tmp_path_factory, "gyro", "acc+gyro", "watch,watch-acc")


def test_acc_only_checkpoint_records_channels_and_windows(acc_run) -> None:
    ft, _ = acc_run
    side = json.loads((ft / "classifier.json").read_text())
    assert side["metrics"]["channels"] == ACC
    with np.load(ft / "windows.npz", allow_pickle=False) as z:
        assert z["x"].shape[2] == 3 and z["channels"].tolist() == ACC
        assert sorted(set(z["subject"].tolist())) == [f"g{s:02d}" for s in range(8)]  # every subject, test included
    assert side["metrics"]["windows"]["n"] == 8 * 3 * 16 and len(side["metrics"]["windows"]["sha256"]) == 64


def test_acc_only_export_and_stream(acc_run) -> None:
    ft, dist = acc_run
    man = json.loads((dist / "watch" / "manifest.json").read_text())
    assert man["input"]["channels"] == ACC and len(man["input"]["normalization"]["mean"]) == 3
    assert man["student"]["config"]["in_channels"] == 3
    assert man["metrics"]["eval_subjects"] == ["g07"]  # the fine-tuning test subject stays held out
    side = json.loads((ft / "classifier.json").read_text())
    assert man["provenance"]["windows_sha256"] == side["metrics"]["windows"]["sha256"]
    art = man["artefacts"][0]
    assert 0.0 <= art["agreement_vs_float_teacher"]["top1_agreement"] <= 1.0

    model = load_artefact(dist / "watch", "onnx", "int8")
    got: list = []
    eng = StreamEngine(model, smoothing_k=1, on_prediction=got.append)
    eng.add_device("e4", source_rate_hz=30.0, has_gyro=False)  # an accelerometer-only device is accepted
    with np.load(ft / "windows.npz", allow_pickle=False) as z:
        w = z["x"][z["subject"] == "g07"][:3].astype(np.float64)
    # windows of one recording are not contiguous in time: stream each as its own burst, 1 s apart
    for i, win in enumerate(w):
        t = 100.0 * i + np.arange(len(win)) / 30.0
        eng.push("e4", t, win, None)
        eng.flush("e4")
    offline = [model.classify(win)[0] for win in w]
    assert got, "no prediction from the accelerometer-only device"
    assert [p.label for p in got] == offline  # 30 Hz in, 30 Hz model: the engine's windows are the same windows


def test_watch_acc_bundle_of_a_gyro_teacher(gyro_run) -> None:
    _, dist = gyro_run
    watch = json.loads((dist / "watch" / "manifest.json").read_text())
    acc = json.loads((dist / "watch-acc" / "manifest.json").read_text())
    assert watch["input"]["channels"][3:] == ["gyro_x", "gyro_y", "gyro_z"]
    assert acc["input"]["channels"] == ACC and acc["student"]["config"]["in_channels"] == 3
    assert acc["teacher"]["channels"] == watch["input"]["channels"]  # the teacher kept its gyroscope
    assert acc["input"]["normalization"]["mean"] == watch["input"]["normalization"]["mean"][:3]
    for m in (watch, acc):
        assert {"top1_agreement", "n_windows"} <= set(m["artefacts"][0]["agreement_vs_float_teacher"])
        assert 0.0 <= m["metrics"]["student_macro_f1"] <= 1.0


def test_bundle_choice_and_refusal(gyro_run) -> None:
    _, dist = gyro_run
    assert choose_bundle(dist, has_gyro=False) == dist / "watch-acc"
    assert choose_bundle(dist, has_gyro=True) == dist / "watch"
    assert choose_bundle(dist / "watch", has_gyro=False) == dist / "watch"  # a bundle given explicitly is kept
    eng = StreamEngine(load_artefact(dist / "watch", "onnx", "int8"))
    with pytest.raises(ConfigError, match=r"needs gyroscope but device 'e4' sends none; use --model .*watch-acc"):
        eng.add_device("e4", has_gyro=False)
    eng.add_device("e4b")
    with pytest.raises(ConfigError, match="needs gyroscope"):
        eng.push("e4b", np.arange(10) / 30.0, np.zeros((10, 3)), None)
    with pytest.raises(ConfigError, match="no edge-export bundle"):
        choose_bundle(dist / "nothing", has_gyro=False)


def test_nan_refused_in_finetune_and_export(tmp_path, monkeypatch, capsys, gyro_run) -> None:
    _patch_data(monkeypatch, nan_at=(7, 1))
    assert _finetune(tmp_path / "ft", "acc") != 0
    assert "channel acc_y has NaN values in 1 of" in capsys.readouterr().err
    ft, _ = gyro_run
    bad = tmp_path / "ck"
    bad.mkdir()
    for name in ("classifier.pt", "classifier.json"):
        (bad / name).write_bytes((ft / name).read_bytes())
    with np.load(ft / "windows.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z}
    arrays["x"] = arrays["x"].copy()
    arrays["x"][3, :, 4] = np.nan  # a device without gyroscope's windows in a gyro model's data
    np.savez(tmp_path / "w.npz", **arrays)
    assert _export(bad, tmp_path / "dist", "--data", str(tmp_path / "w.npz"), "--profiles", "watch") != 0
    assert "channel gyro_y has NaN values in 1 of" in capsys.readouterr().err
