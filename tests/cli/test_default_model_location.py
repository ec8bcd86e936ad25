"""The default model is package data (toolkit/default_model/, :mod:`toolkit.resources`): commands find it from any
working folder, as after ``pip install`` (issue 12 item 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)  # the installed package, not the checkout on sys.path
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_default_model_resolves_to_package_files_from_another_folder(tmp_path: Path) -> None:
    code = ("import json; from toolkit.resources import default_model_dir, default_watch_bundle, default_pretrained\n"
            "print(json.dumps([str(default_model_dir()), str(default_watch_bundle()), str(default_pretrained())]))")
    proc = _run(["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder, bundle, pretrained = map(Path, json.loads(proc.stdout.strip().splitlines()[-1]))
    assert folder.is_absolute() and folder.name == "default_model"
    assert (folder / "classifier.pt").is_file() and (folder / "classifier.json").is_file()
    assert (folder / "windows.npz").is_file() and pretrained.is_file()
    assert (bundle / "manifest.json").is_file()
    assert not list(tmp_path.iterdir()), "resolving the default model wrote into the working folder"


def test_every_default_model_file_is_package_data() -> None:
    """pyproject's package-data patterns cover every file of the folder (else a wheel would miss it)."""
    import fnmatch
    import tomllib

    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["toolkit"]
    root = REPO / "toolkit"
    files = [p.relative_to(root).as_posix() for p in (root / "default_model").rglob("*") if p.is_file()]
    assert files
    missing = [f for f in files if not any(fnmatch.fnmatchcase(f, pat) and f.count("/") == pat.count("/")
                                           for pat in patterns)]
    assert not missing, f"not listed in [tool.setuptools.package-data] toolkit: {missing}"


@pytest.mark.slow
def test_edge_export_int8_from_an_empty_folder(tmp_path: Path) -> None:
    """``edge-export --int8`` with no --checkpoint, run in an empty folder, writes ./dist (kept fast: one target,
    one profile, a tiny student, one distillation epoch)."""
    pytest.importorskip("onnxruntime")
    proc = _run(["-m", "toolkit.cli", "export", "--int8", "--targets", "onnx", "--profiles", "watch",
                 "--student-size", "tiny", "--epochs", "1", "--quiet"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "dist" / "watch" / "manifest.json").read_text())
    assert Path(manifest["provenance"]["teacher_source"]).name == "default_model"


def test_edge_stream_default_model_falls_back_to_the_package(tmp_path: Path) -> None:
    code = ("from toolkit.cli.stream import DEFAULT_MODEL, resolve_model_folder\n"
            "print(resolve_model_folder(DEFAULT_MODEL))")
    proc = _run(["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = Path(proc.stdout.strip().splitlines()[-1])
    assert folder.is_absolute() and (folder / "manifest.json").is_file()
    assert folder.parts[-3:] == ("default_model", "edge", "watch")
