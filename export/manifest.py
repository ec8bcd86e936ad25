"""Artefact bundles: one folder per target profile with the model files and ``manifest.json``.

``manifest.json`` (schema 1) holds: ``input`` (channel order, units, frame, rate, window, hop, normalisation
mean/std), ``classes``, ``outputs``, ``artefacts`` (file, target, precision, runtime, parity figures, lowering
report), ``files`` (sha256 of EVERY file in the folder besides the manifest), ``quantization`` settings and the
calibration set, ``metrics`` (teacher / student macro F1), ``student`` (config, parameters, MACs) and
``provenance`` (checkpoint sha256, teacher source, git commit, package versions).

:func:`load_artefact` verifies the file's sha256 against the manifest and refuses a file whose hash differs.

Nothing in a bundle is trusted before it is checked (:func:`read_manifest`, :func:`verify_file`,
:func:`load_artefact`):

* ``manifest.json``: a regular file (no symlink) of at most 8 MiB, UTF-8 JSON, an object of schema 1 whose fields
  have the types above (:func:`validate_manifest`); the input spec is consistent: 1..64 named channels, as many
  finite means and finite standard deviations > 0, a finite rate > 0, a window of 1..100,000 samples, 1..10,000
  class names;
* file names: plain names inside the bundle folder (no ``/``, ``..``, absolute paths), not symlinks, at most
  256 MiB, sha256 equal to the manifest's;
* artefacts: the format's identifier and a trial load in a child process first
  (:mod:`export.exporters.probe`), then the model's input must be (1, window, channels) and its logits one per
  class name.
"""

from __future__ import annotations

import contextlib
import json
import math
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

from export.exporters import exporter
from export.exporters.probe import MAX_ARTEFACT_BYTES, check_format, probe
from toolkit.errors import ConfigError, InputFileError
from toolkit.hashing import sha256_file
from toolkit.strict_json import dumps as strict_dumps

SCHEMA = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MAX_CHANNELS = 64
MAX_WINDOW_SAMPLES = 100_000
MAX_CLASSES = 10_000
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
    path.write_text(strict_dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def _bad(path: Path, problem: str) -> InputFileError:
    return InputFileError(path, f"invalid manifest: {problem}")


def _finite_list(value: Any, n: int, what: str, path: Path, positive: bool = False) -> None:
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value)} values" if isinstance(value, list) else type(value).__name__
        raise _bad(path, f"input.normalization.{what} must be a list of {n} numbers, one per channel (got {got})")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise _bad(path, f"input.normalization.{what}[{i}] = {v!r} is not a finite number")
        if positive and v <= 0:
            raise _bad(path, f"input.normalization.{what}[{i}] = {v!r} must be > 0")


def validate_manifest(data: Any, path: str | Path = MANIFEST) -> dict[str, Any]:
    """``data`` when it is a schema-1 manifest with the fields and types the loaders use; else InputFileError."""
    path = Path(path)
    if not isinstance(data, dict):
        raise _bad(path, f"a JSON {type(data).__name__}, expected an object")
    if data.get("schema") != SCHEMA:
        raise InputFileError(path, f"manifest schema {data.get('schema')!r}, this toolkit reads {SCHEMA}")
    for key, kind in (("input", dict), ("classes", list), ("artefacts", list), ("files", dict)):
        if key not in data:
            raise _bad(path, f"no {key!r} field")
        if not isinstance(data[key], kind):
            raise _bad(path, f"{key!r} is a {type(data[key]).__name__}, expected a {kind.__name__}")
    spec = data["input"]
    channels = spec.get("channels")
    if (not isinstance(channels, list) or not 1 <= len(channels) <= MAX_CHANNELS
            or not all(isinstance(c, str) and c for c in channels) or len(set(channels)) != len(channels)):
        raise _bad(path, f"input.channels must be 1..{MAX_CHANNELS} distinct channel names")
    ws = spec.get("window_samples")
    if isinstance(ws, bool) or not isinstance(ws, int) or not 1 <= ws <= MAX_WINDOW_SAMPLES:
        raise _bad(path, f"input.window_samples = {ws!r}: expected an integer in 1..{MAX_WINDOW_SAMPLES}")
    for key in ("rate_hz", "hop_s", "window_s"):
        v = spec.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
                              or v <= 0):
            raise _bad(path, f"input.{key} = {v!r}: expected a finite number > 0")
    if not isinstance(spec.get("rate_hz"), int | float):
        raise _bad(path, "input.rate_hz is missing")
    norm = spec.get("normalization")
    if not isinstance(norm, dict):
        raise _bad(path, "input.normalization must be an object with mean and std")
    _finite_list(norm.get("mean"), len(channels), "mean", path)
    _finite_list(norm.get("std"), len(channels), "std", path, positive=True)
    classes = data["classes"]
    if not 1 <= len(classes) <= MAX_CLASSES or not all(isinstance(c, str) and c for c in classes):
        raise _bad(path, f"classes must be 1..{MAX_CLASSES} class names")
    for name, digest in data["files"].items():
        if not isinstance(digest, str) or len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
            raise _bad(path, f"files[{name!r}] is not a sha256 hex digest")
    for i, entry in enumerate(data["artefacts"]):
        if not isinstance(entry, dict):
            raise _bad(path, f"artefacts[{i}] is a {type(entry).__name__}, expected an object")
        for key in ("file", "target", "precision"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise _bad(path, f"artefacts[{i}] has no {key!r} (a string)")
    emb = data.get("class_text_embeddings")
    if emb is not None and not isinstance(emb, str):
        raise _bad(path, "class_text_embeddings must be a file name")
    return data


def _no_symlink(path: Path) -> None:
    if path.is_symlink():
        raise InputFileError(path, "is a symbolic link: bundle files must be regular files inside the bundle")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The parsed and validated ``manifest.json`` of a bundle folder (:func:`validate_manifest`)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if folder.exists() and not folder.is_dir():
        raise InputFileError(folder, "not a folder: give the edge-export bundle folder (holding manifest.json)")
    _no_symlink(path)
    if not path.is_file():
        raise InputFileError(path, "no manifest.json: not an edge-export bundle folder")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise _bad(path, f"{size} bytes, more than any manifest ({MAX_MANIFEST_BYTES})")
    raw = path.read_bytes()
    if not raw.strip():
        raise _bad(path, "empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(path, "not UTF-8 text (a binary file?)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _bad(path, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise _bad(path, "JSON nested too deeply") from None
    return validate_manifest(data, path)


def bundle_path(folder: str | Path, name: Any) -> Path:
    """``folder / name`` for a plain file name of the bundle: no folders, no ``..``, no absolute path, no symlink."""
    folder = Path(folder)
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
            or "\x00" in name or Path(name).name != name):
        raise InputFileError(folder, f"manifest names {name!r}: bundle files must be plain names inside the bundle "
                                     "folder (no folders, '..' or absolute paths)")
    path = folder / name
    _no_symlink(path)
    if path.exists() and path.resolve().parent != folder.resolve():
        raise InputFileError(path, "resolves outside the bundle folder")
    return path


def verify_file(folder: str | Path, name: str, manifest: dict[str, Any] | None = None) -> Path:
    """Path of ``name`` in the bundle after checking its sha256 against the manifest; refuses a mismatch."""
    manifest = manifest or read_manifest(folder)
    path = bundle_path(folder, name)
    expected = manifest.get("files", {}).get(name)
    if expected is None:
        raise InputFileError(path, "not listed in manifest.json: refusing to load an unlisted file")
    if not path.is_file():
        raise InputFileError(path, "listed in manifest.json but missing" if not path.exists() else
                             "listed in manifest.json but not a regular file")
    size = path.stat().st_size
    if size > MAX_ARTEFACT_BYTES:
        raise InputFileError(path, f"{size} bytes: larger than any bundle file ({MAX_ARTEFACT_BYTES}), refusing it")
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
    entries = [e for e in manifest.get("artefacts", []) if isinstance(e, dict)]
    for entry in entries:
        if entry.get("target") == target and entry.get("precision") == precision:
            if not isinstance(entry.get("file"), str):
                raise InputFileError(MANIFEST, f"invalid manifest: the {target}/{precision} artefact has no 'file'")
            return entry
    have = ", ".join(f"{e.get('target')}/{e.get('precision')}" for e in entries) or "nothing"
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

    folder = Path(folder)
    manifest = read_manifest(folder)
    entry = find_entry(manifest, target, precision)
    with _native_stderr_quiet():
        mod = exporter(target)  # MissingRuntime before any file is opened
    path = verify_file(folder, entry["file"], manifest)
    check_format(path, target)
    spec = manifest["input"]
    shape = (1, spec["window_samples"], len(spec["channels"]))
    outputs = probe(path, target, manifest["files"][entry["file"]], shape)["outputs"]
    k = len(manifest["classes"])
    if not outputs or list(outputs[0]) != [1, k]:
        raise InputFileError(path, f"the model's logits have shape {outputs[0] if outputs else None}, the manifest "
                                   f"names {k} classes: one class name per output is required")
    with _native_stderr_quiet():
        run = mod.load(path, threads=threads)
    return LoadedArtefact(run=run, entry=entry, manifest=manifest, folder=folder)
