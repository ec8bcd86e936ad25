"""Hostile bundles: random artefacts, escaping paths, symlinks, malformed manifests, lying input specs."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from export import manifest as mf
from export.exporters import probe
from tests.hostile._helpers import copy_bundle, manifest, one_line_error, write_manifest
from toolkit.cli import stream as stream_cli
from toolkit.errors import InputFileError

PTE = "student_int8.pte"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return copy_bundle(tmp_path / "bundle")


def test_random_pte_with_its_hash_is_a_clear_error_not_a_native_abort(bundle: Path, capsys) -> None:
    """Issue 14 item 1: random bytes in place of the .pte, sha256 re-signed: ExecuTorch used to SIGABRT."""
    (bundle / PTE).write_bytes(np.random.default_rng(1).bytes(90_000))
    write_manifest(bundle, manifest(bundle), resign=(PTE,))
    with pytest.raises(InputFileError, match="not an ExecuTorch program"):
        mf.load_artefact(bundle, "pte")
    assert stream_cli.main(["--recording", "x.m3erec", "--model", str(bundle), "--quiet"]) == 2
    assert "not an ExecuTorch program" in one_line_error(capsys, "edge-stream")


def test_pte_with_valid_identifier_but_garbage_is_refused_by_the_trial_load(bundle: Path) -> None:
    data = bytearray((bundle / PTE).read_bytes())
    data[200:] = np.random.default_rng(2).bytes(len(data) - 200)
    (bundle / PTE).write_bytes(bytes(data))
    write_manifest(bundle, manifest(bundle), resign=(PTE,))
    with pytest.raises(InputFileError, match="runtime cannot load it|crashed"):
        mf.load_artefact(bundle, "pte")


def test_native_abort_in_the_trial_process_becomes_one_line(bundle: Path, monkeypatch) -> None:
    """Whatever still aborts natively (here: a child that calls abort()) is reported, the caller survives."""
    monkeypatch.setattr(probe, "_command", lambda *a: [sys.executable, "-c", "import os; os.abort()"])
    with pytest.raises(InputFileError, match="crashed loading it \\(SIGABRT"):
        probe.probe(bundle / PTE, "pte", "0" * 64 + "-abort-test", (1, 60, 6))


@pytest.mark.parametrize(("target", "name", "match"), [
    ("tflite", "student_int8.tflite", "not a TFLite model"),
    ("onnx", "student_int8.onnx", "not a valid ONNX model"),
])
def test_random_tflite_and_onnx_refused_before_their_runtime(bundle: Path, target: str, name: str, match: str) -> None:
    (bundle / name).write_bytes(np.random.default_rng(3).bytes(5000))
    write_manifest(bundle, manifest(bundle), resign=(name,))
    with pytest.raises(InputFileError, match=match):
        mf.load_artefact(bundle, target)


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/passwd", "sub/x.pte", "..", ""])
def test_artefact_paths_cannot_escape_the_bundle(bundle: Path, name: str) -> None:
    m = manifest(bundle)
    m["artefacts"][0]["file"] = name
    m["files"][name] = "0" * 64
    write_manifest(bundle, m)
    with pytest.raises(InputFileError, match="plain names|no 'file'"):
        mf.load_artefact(bundle, "pte")


def test_symlinked_artefact_and_manifest_are_refused(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.pte"
    (bundle / PTE).rename(outside)
    os.symlink(outside, bundle / PTE)
    with pytest.raises(InputFileError, match="symbolic link"):
        mf.load_artefact(bundle, "pte")
    other = copy_bundle(tmp_path / "other")
    (other / "manifest.json").unlink()
    os.symlink(bundle / "manifest.json", other / "manifest.json")
    with pytest.raises(InputFileError, match="symbolic link"):
        mf.read_manifest(other)


@pytest.mark.parametrize(("content", "match"), [
    (b"", "empty file"),
    (b"[1, 2, 3]", "a JSON list"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
    (b'{"schema": 1, "input": ', "not valid JSON"),
    (b"[" * 100_000, "not valid JSON|nested too deeply"),
    (b'{"schema": 1}', "no 'input' field"),
])
def test_malformed_manifest_is_one_line(bundle: Path, content: bytes, match: str, capsys) -> None:
    (bundle / "manifest.json").write_bytes(content)
    with pytest.raises(InputFileError, match=match):
        mf.read_manifest(bundle)
    assert stream_cli.main(["--recording", "x.m3erec", "--model", str(bundle), "--quiet"]) == 2
    one_line_error(capsys, "edge-stream")


def test_artefact_without_file_is_one_line(bundle: Path, capsys) -> None:
    m = manifest(bundle)
    del m["artefacts"][0]["file"]
    write_manifest(bundle, m)
    with pytest.raises(InputFileError, match="has no 'file'"):
        mf.read_manifest(bundle)


def _spec_case(m: dict, case: str) -> None:
    norm = m["input"]["normalization"]
    if case == "one channel":
        m["input"]["channels"] = ["acc_x"]
    elif case == "nan mean":
        norm["mean"][2] = float("nan")
    elif case == "zero std":
        norm["std"][0] = 0.0
    elif case == "huge window":
        m["input"]["window_samples"] = 10**12
    elif case == "string window":
        m["input"]["window_samples"] = "60"
    elif case == "no classes":
        m["classes"] = []


@pytest.mark.parametrize(("case", "match"), [
    ("one channel", "one per channel"), ("nan mean", "not a finite number"), ("zero std", "must be > 0"),
    ("huge window", "window_samples"), ("string window", "window_samples"), ("no classes", "classes"),
])
def test_input_spec_is_checked(bundle: Path, case: str, match: str) -> None:
    m = manifest(bundle)
    _spec_case(m, case)
    write_manifest(bundle, m)  # json.dumps writes a NaN mean as bare NaN, as a careless or hostile writer would
    with pytest.raises(InputFileError, match=match):
        mf.read_manifest(bundle)


def test_too_few_class_names_for_the_model_outputs(bundle: Path) -> None:
    m = manifest(bundle)
    m["classes"] = m["classes"][:3]  # the model has 5 outputs
    write_manifest(bundle, m)
    with pytest.raises(InputFileError, match="one class name per output"):
        mf.load_artefact(bundle, "pte")


def test_channels_not_matching_the_model_input(bundle: Path) -> None:
    m = manifest(bundle)
    m["input"]["channels"] = m["input"]["channels"][:3]  # consistent spec, but the model takes 6 channels
    m["input"]["normalization"]["mean"] = m["input"]["normalization"]["mean"][:3]
    m["input"]["normalization"]["std"] = m["input"]["normalization"]["std"][:3]
    write_manifest(bundle, m)
    with pytest.raises(InputFileError, match="refuses a \\(1, 60, 3\\) window"):
        mf.load_artefact(bundle, "onnx")


def test_committed_bundle_still_loads_and_classifies() -> None:
    art = mf.load_artefact(mf.Path("toolkit/default_model/edge/watch"), "onnx")
    label, logits = art.classify(np.zeros((60, 6)))
    assert label in art.classes and logits.shape == (len(art.classes),)


class _Payload:
    def __reduce__(self):  # noqa: ANN204 - a pickle that would run code if unpickled
        return (os.system, ("echo pwned",))


def test_bench_on_a_refused_student_says_why(bundle: Path, tmp_path: Path) -> None:
    from export.bench import run_bench
    from toolkit.errors import ConfigError

    dist = tmp_path / "dist"
    dist.mkdir()
    folder = bundle.rename(dist / "watch")
    (folder / "student.pt").write_bytes(pickle.dumps(_Payload()))
    m = manifest(folder)
    m["artefacts"] = []  # only the refused student is left to measure
    write_manifest(folder, m, resign=("student.pt",))
    with pytest.raises(ConfigError, match="student eager fp32: worker failed: UnpicklingError"):
        run_bench(dist, threads=[1], warmup=0, runs=1, op_profile=False, log=lambda _m: None)
