"""First contact with an artefact: format checks in this process, then a trial load in a child process.

Native runtimes trust their input: a ``.pte`` of random bytes aborts the whole process inside ExecuTorch's
program loader (SIGABRT while logging the bad header, no Python exception), and a hand-made flatbuffer or
protobuf may do worse. So before a runtime opens a file in the caller's process:

1. :func:`check_format`: size bounds and the format's own identifier, read from the first bytes:
   ``.pte`` = an ExecuTorch flatbuffer (identifier ``ET`` + two digits at bytes 4..8), ``.tflite`` = a TFLite
   flatbuffer (identifier ``TFL3`` at bytes 4..8), ``.onnx`` = a protobuf that ``onnx.load`` parses and
   ``onnx.checker.check_model`` accepts;
2. :func:`probe`: ``python -m export.exporters.probe TARGET PATH L C`` loads the file in a child process through the
   same exporter ``load`` the caller uses and runs one zero window (1, L, C); it prints the output shapes. A child
   killed by a signal (a native abort or crash) or failing is a one-line :class:`InputFileError`. Results are
   remembered per (sha256, target, runtime version) in memory and in ``$XDG_CACHE_HOME/multi3edge/probed/`` so each
   distinct file costs one child process (about 5 s for ExecuTorch) once per machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from export.exporters import exporter
from toolkit.errors import InputFileError

#: Largest artefact any loader is given (the committed ones are < 1 MiB; a phone model of 100 MB is already huge).
MAX_ARTEFACT_BYTES = 256 * 1024 * 1024
_MIN_BYTES = {"pte": 16, "tflite": 16, "onnx": 8}
_VERSION_OF = {"pte": "executorch", "tflite": "ai-edge-litert", "onnx": "onnxruntime"}
_REPO = Path(__file__).resolve().parents[2]
_PROBED: dict[str, dict[str, Any]] = {}


def check_format(path: Path, target: str) -> None:
    """InputFileError unless ``path`` is a regular file of plausible size that looks like a ``target`` artefact."""
    size = path.stat().st_size
    if size > MAX_ARTEFACT_BYTES:
        raise InputFileError(path, f"{size} bytes: larger than any edge artefact ({MAX_ARTEFACT_BYTES} bytes), "
                                   "refusing to load it")
    if size < _MIN_BYTES.get(target, 8):
        raise InputFileError(path, f"{size} bytes: too short to be a .{target} artefact")
    with open(path, "rb") as f:
        head = f.read(8)
    if target == "pte":
        if not (head[4:6] == b"ET" and head[6:8].isdigit()):
            raise InputFileError(path, "not an ExecuTorch program (no ETxx flatbuffer identifier at bytes 4..8)")
    elif target == "tflite":
        if head[4:8] != b"TFL3":
            raise InputFileError(path, "not a TFLite model (no TFL3 flatbuffer identifier at bytes 4..8)")
    elif target == "onnx":
        _check_onnx(path)


def _check_onnx(path: Path) -> None:
    try:
        import onnx
    except ImportError:
        return  # onnxruntime alone still parses it in the child probe
    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - protobuf DecodeError, ValidationError, ...: all mean "not a valid model"
        raise InputFileError(path, f"not a valid ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
                             ) from None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "multi3edge" / "probed"


def _runtime_version(target: str) -> str:
    try:
        return metadata.version(_VERSION_OF[target])
    except metadata.PackageNotFoundError:
        return "none"


def probe(path: Path, target: str, sha256: str, shape: tuple[int, int, int], timeout: float = 300.0
          ) -> dict[str, Any]:
    """Load ``path`` in a child process and run one zero window of ``shape``; returns ``{"outputs": [shapes]}``.

    Raises:
        InputFileError: the child was killed by a signal (native abort), failed, or timed out.
    """
    key = f"{sha256}-{target}-{_runtime_version(target)}-{'x'.join(map(str, shape))}"
    if key in _PROBED:
        return _PROBED[key]
    marker = _cache_dir() / f"{key}.json"
    try:
        result = json.loads(marker.read_text())
        if isinstance(result, dict) and isinstance(result.get("outputs"), list):
            _PROBED[key] = result
            return result
    except (OSError, ValueError):
        pass
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = _command(target, path, shape)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=_REPO)
    except subprocess.TimeoutExpired:
        raise InputFileError(path, f"the {target} runtime did not finish loading it in {timeout:g} s") from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name if -proc.returncode in signal.valid_signals() else "?"
        raise InputFileError(path, f"the {target} runtime crashed loading it ({name} in a trial process): a corrupt "
                                   "or hostile file, refusing it")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()] or ["no output"]
        raise InputFileError(path, f"the {target} runtime cannot load it: {tail[-1].strip()[:300]}")
    result = json.loads(lines[-1])
    _PROBED[key] = result
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(marker.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(result))
        tmp.replace(marker)
    except OSError:
        pass  # no cache: the next process probes again
    return result


def _command(target: str, path: Path, shape: tuple[int, int, int]) -> list[str]:
    """The child's command line (a seam for tests)."""
    return [sys.executable, "-m", "export.exporters.probe", target, str(path), str(shape[1]), str(shape[2])]


def _child(target: str, path: str, length: int, channels: int) -> dict[str, Any]:
    import numpy as np


    run = exporter(target).load(Path(path), threads=1)
    try:
        outputs = run(np.zeros((1, length, channels), np.float32))
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        msg = str(e).strip().splitlines()[-1][:200] if str(e).strip() else type(e).__name__
        sys.exit(f"the model refuses a (1, {length}, {channels}) window, the input the manifest declares ({msg})")
    return {"outputs": [list(np.shape(o)) for o in outputs],
            "finite": bool(all(np.isfinite(np.asarray(o, np.float64)).all() for o in outputs))}


if __name__ == "__main__":
    _t, _p, _l, _c = sys.argv[1:5]
    print(json.dumps(_child(_t, _p, int(_l), int(_c))), flush=True)
