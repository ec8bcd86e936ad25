"""Checkpoints: a ``.pt`` of tensors and plain values, plus a JSON sidecar that pins its sha256.

``NAME.pt`` (written with ``torch.save``) holds a dict of tensors, dicts, lists and primitives only (checked
before writing; no pickled objects), so it loads with ``torch.load(..., weights_only=True)``:

===============  ===========================================================================
key              content
===============  ===========================================================================
format, version  ``"multi3edge-checkpoint"``, :data:`FORMAT_VERSION`
kind             ``"pretrain"`` (Multi3Net) or ``"classifier"`` (HarClassifier / DeepConvLSTM)
model            the model's ``state_dict()``
model_config     what is needed to rebuild the model (plain dict)
normalizer       :meth:`toolkit.data.splits.Normalizer.to_dict` of the model's input statistics
optimizer, ...   optional resume state: ``optimizer``, ``scheduler``, ``epoch``, ``rng``
extra            anything else plain (class names, history, ...)
===============  ===========================================================================

``NAME.json`` (sidecar): ``file``, ``sha256`` of the ``.pt``, ``kind``, ``config`` (the run config), ``metrics``,
``git_commit``, ``torch_version``, ``created_unix_s``. :func:`load_checkpoint` refuses a ``.pt`` without a
sidecar or whose sha256 differs from it (:class:`CheckpointError`, one line).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from toolkit.errors import InputFileError
from toolkit.hashing import sha256_file
from toolkit.train.runtime import git_commit

FORMAT = "multi3edge-checkpoint"
FORMAT_VERSION = 1
_PRIMITIVES = (str, int, float, bool, type(None))


class CheckpointError(InputFileError):
    """A checkpoint cannot be trusted or read (missing sidecar, hash mismatch, wrong format)."""


def sidecar_path(path: str | Path) -> Path:
    """``NAME.json`` beside ``NAME.pt``."""
    return Path(path).with_suffix(".json")


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise TypeError unless ``obj`` is made of tensors, dicts (str/int keys), lists, tuples and primitives."""
    if isinstance(obj, (torch.Tensor, *_PRIMITIVES)):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise TypeError(f"{where}: dict key {k!r} is not str/int")
            check_plain(v, f"{where}.{k}")
        return
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(obj).__name__} cannot go into a weights-only checkpoint")


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_checkpoint(
    path: str | Path,
    payload: dict[str, Any],
    *,
    kind: str,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write ``path`` (.pt) atomically, then its sidecar; returns the .pt path.

    Args:
        payload: at least ``model`` (a state dict) and ``model_config``; plain values only (:func:`check_plain`).
        kind: ``"pretrain"`` or ``"classifier"``.
        config: the run config (``to_dict()``), stored in the sidecar.
        metrics: anything JSON-able, stored in the sidecar.
    """
    path = Path(path)
    data = {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind, **payload}
    check_plain(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(data, tmp)
    digest = sha256_file(tmp)
    side = {
        "file": path.name, "sha256": digest, "kind": kind, "format": FORMAT, "version": FORMAT_VERSION,
        "config": config or {}, "metrics": metrics or {}, "git_commit": git_commit(),
        "torch_version": torch.__version__, "created_unix_s": time.time(),
    }  # fmt: skip
    side_tmp = sidecar_path(path).with_name(sidecar_path(path).name + f".tmp{os.getpid()}")
    side_tmp.write_text(json.dumps(side, indent=1, default=_json_default))
    tmp.replace(path)
    side_tmp.replace(sidecar_path(path))
    return path


@dataclass
class Checkpoint:
    """A verified checkpoint: the ``.pt`` payload and its sidecar."""

    path: Path
    payload: dict[str, Any]
    sidecar: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.payload["kind"])


def read_sidecar(path: str | Path) -> dict[str, Any]:
    side = sidecar_path(path)
    try:
        data = json.loads(side.read_text())
    except FileNotFoundError:
        raise CheckpointError(path, f"no sidecar {side.name}: cannot verify its sha256, refusing to load") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(side, f"unreadable sidecar ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise CheckpointError(side, f"sidecar is a JSON {type(data).__name__}, expected an object")
    return data


def load_checkpoint(path: str | Path, kind: str | None = None, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Verify the sha256 against the sidecar, then ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: missing file or sidecar, hash mismatch, not a multi3edge checkpoint, wrong ``kind``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "checkpoint not found")
    side = read_sidecar(path)
    digest = sha256_file(path)
    if side.get("sha256") != digest:
        raise CheckpointError(
            path, f"sha256 {digest[:12]}... differs from its sidecar's {str(side.get('sha256'))[:12]}...; refusing"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling refusal becomes one line
        raise CheckpointError(path, f"not a weights-only checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, f"not a {FORMAT} file")
    if payload.get("version") != FORMAT_VERSION:
        raise CheckpointError(path, f"format version {payload.get('version')} (expected {FORMAT_VERSION})")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(path, f"is a {payload.get('kind')} checkpoint, expected {kind}")
    return Checkpoint(path=path, payload=payload, sidecar=side)


__all__ = ["Checkpoint", "CheckpointError", "check_plain", "load_checkpoint", "save_checkpoint", "sha256_file"]
