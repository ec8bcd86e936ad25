"""Artefact bundles: one folder per target profile with the model files and ``manifest.json``.

``manifest.json`` (schema 1) holds: ``input`` (channel order, units, frame, rate, window, hop, normalisation
mean/std), ``classes``, ``outputs``, ``artefacts`` (file, target, precision, runtime, parity figures, lowering
report), ``files`` (sha256 of EVERY file in the folder besides the manifest), ``quantization`` settings and the
calibration set, ``metrics`` (teacher / student macro F1), ``student`` (config, parameters, MACs) and
``provenance`` (checkpoint sha256, teacher source, git commit, package versions).

:func:`load_artefact` verifies the file's sha256 against the manifest and refuses a file whose hash differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ConfigError, InputFileError
from toolkit.hashing import sha256_file

SCHEMA = 1
MANIFEST = "manifest.json"
PINNED = ("torch", "executorch", "torchao", "litert-torch", "ai-edge-quantizer", "ai-edge-litert", "onnx",
          "onnxruntime", "onnxscript", "numpy")


def git_commit(repo: str | Path = ".") -> str | None:
    """HEAD commit of the repository holding ``repo`` (None outside git); ``+dirty`` when files changed."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the export stack (None when absent)."""
    out: dict[str, str | None] = {}
    for name in PINNED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_manifest(folder: str | Path, manifest: dict[str, Any]) -> Path:
    """Add ``files`` (sha256 of every file in ``folder`` but the manifest) and write ``manifest.json``."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest = {"schema": SCHEMA, **manifest, "files": {p.name: sha256_file(p) for p in files}}
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of a bundle folder; InputFileError when missing or of another schema."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InputFileError(path, "no manifest.json: not an edge-export bundle folder")
    data = json.loads(path.read_text())
    if data.get("schema") != SCHEMA:
        raise InputFileError(path, f"manifest schema {data.get('schema')!r}, this toolkit reads {SCHEMA}")
    return data


def verify_file(folder: str | Path, name: str, manifest: dict[str, Any] | None = None) -> Path:
    """Path of ``name`` in the bundle after checking its sha256 against the manifest; refuses a mismatch."""
    manifest = manifest or read_manifest(folder)
    path = Path(folder) / name
    expected = manifest.get("files", {}).get(name)
    if expected is None:
        raise InputFileError(path, "not listed in manifest.json: refusing to load an unlisted file")
    if not path.is_file():
        raise InputFileError(path, "listed in manifest.json but missing")
    actual = sha256_file(path)
    if actual != expected:
        raise InputFileError(path, f"sha256 {actual[:12]}... differs from the manifest's {expected[:12]}...: refusing "
                                   "to load a modified or corrupted file (re-export the bundle)")
    return path


@dataclass
class LoadedArtefact:
    """A verified artefact loaded in its runtime, with what is needed to feed it raw windows."""

    run: Any  #: (1, L, C) standardised float32 -> [logits (1, K), embedding (1, D)?]
    entry: dict[str, Any]  #: the manifest's ``artefacts`` entry
    manifest: dict[str, Any]
    folder: Path

    @property
    def classes(self) -> list[str]:
        return self.manifest["classes"]

    def normalise(self, window: np.ndarray) -> np.ndarray:
        """Raw (L, C) or (1, L, C) window (acc m/s^2, gyro rad/s, watch frame) -> standardised (1, L, C)."""
        spec = self.manifest["input"]
        w = np.asarray(window, np.float64).reshape(1, *np.shape(window)[-2:])
        if w.shape[1:] != (spec["window_samples"], len(spec["channels"])):
            raise ConfigError(f"wrong input spec: window {w.shape[1:]}, the model expects "
                              f"({spec['window_samples']}, {len(spec['channels'])}) = {', '.join(spec['channels'])}")
        norm = spec["normalization"]
        return ((w - np.asarray(norm["mean"])) / np.asarray(norm["std"])).astype(np.float32)

    def classify(self, window: np.ndarray) -> tuple[str, np.ndarray]:
        """Raw window -> (class name, logits (K,))."""
        logits = self.run(self.normalise(window))[0][0]
        return self.classes[int(np.argmax(logits))], logits

    def zero_shot(self, window: np.ndarray) -> tuple[str, np.ndarray] | None:
        """Raw window -> (class name, cosine scores (K,)) against the bundled class text embeddings, if any."""
        name = self.manifest.get("class_text_embeddings")
        outputs = self.run(self.normalise(window))
        if not name or len(outputs) < 2:
            return None
        text = np.load(verify_file(self.folder, name, self.manifest), allow_pickle=False)
        e = outputs[1][0] / (np.linalg.norm(outputs[1][0]) + 1e-12)
        scores = (text / (np.linalg.norm(text, axis=1, keepdims=True) + 1e-12)) @ e
        return self.classes[int(np.argmax(scores))], scores


def find_entry(manifest: dict[str, Any], target: str, precision: str) -> dict[str, Any]:
    """The ``artefacts`` entry of (target, precision); ConfigError naming what the bundle has otherwise."""
    for entry in manifest.get("artefacts", []):
        if entry["target"] == target and entry["precision"] == precision:
            return entry
    have = ", ".join(f"{e['target']}/{e['precision']}" for e in manifest.get("artefacts", [])) or "nothing"
    raise ConfigError(f"bundle has no {target}/{precision} artefact (it has: {have})")


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Hide what native libraries print on stderr while a runtime loads (ExecuTorch's cpuinfo probing, torchao's
    optional CUDA kernels): shown again only if loading fails, or always with ``MULTI3EDGE_DEBUG=1``."""
    if os.environ.get("MULTI3EDGE_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def load_artefact(folder: str | Path, target: str, precision: str = "int8", threads: int | None = None
                  ) -> LoadedArtefact:
    """Verify and load the ``target`` (pte, tflite, onnx) artefact of a bundle folder in its own runtime."""
    from export.exporters import exporter

    folder = Path(folder)
    manifest = read_manifest(folder)
    entry = find_entry(manifest, target, precision)
    path = verify_file(folder, entry["file"], manifest)
    with _native_stderr_quiet():
        run = exporter(target).load(path, threads=threads)
    return LoadedArtefact(run=run, entry=entry, manifest=manifest, folder=folder)
