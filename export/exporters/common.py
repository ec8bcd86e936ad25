"""What every exporter shares: the missing-runtime error, parity figures, the runner interface."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import numpy as np

from toolkit.errors import ConfigError

#: target -> (module to import, pip requirement that provides it)
RUNTIMES = {
    "pte": ("executorch.runtime", "executorch==1.5.1 torchao==0.18.0"),
    "tflite": ("ai_edge_litert.interpreter", "ai-edge-litert==2.3.0 litert-torch==0.10.0 ai-edge-quantizer==0.10.0"),
    "onnx": ("onnxruntime", "onnx==1.23.2 onnxscript==0.7.2 onnxruntime==1.31.1"),
}


class MissingRuntime(ConfigError):
    """A target's converter or runtime is not installed; the message names the pip packages."""


def require(module: str, target: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingRuntime` naming the pip packages of ``target``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingRuntime(
            f"target {target!r} needs {module} (missing: {exc.name}); "
            f"install it with: pip install {RUNTIMES[target][1]}"
        ) from exc


def check_target(target: str) -> None:
    """MissingRuntime when the runtime of ``target`` cannot be imported; ConfigError for an unknown target."""
    if target not in RUNTIMES:
        raise ConfigError(f"unknown target {target!r} (choose from {', '.join(RUNTIMES)})")
    require(RUNTIMES[target][0], target)


#: A runner maps one standardised window (1, L, C) float32 to the model's float outputs [logits (1, K), ...].
Runner = Callable[[np.ndarray], list[np.ndarray]]


def run_all(runner: Runner, x: np.ndarray) -> np.ndarray:
    """(N, L, C) -> (N, K) logits, one window at a time through ``runner``."""
    return np.concatenate([runner(np.ascontiguousarray(w[None], np.float32))[0] for w in x])


def parity(reference: np.ndarray, logits: np.ndarray, y: np.ndarray | None = None) -> dict[str, float]:
    """max |delta logit|, top-1 agreement with ``reference`` (N, K) and, given labels, the artefact's macro F1."""
    from export.distill import macro_f1  # delays torch: streaming loads runtimes through here without it

    out = {
        "n_windows": int(len(logits)),
        "max_abs_delta_logit": float(np.abs(logits - reference).max()),
        "top1_agreement": float((logits.argmax(1) == reference.argmax(1)).mean()),
    }
    if y is not None:
        out["macro_f1"] = macro_f1(y, logits.argmax(1))
    return out
