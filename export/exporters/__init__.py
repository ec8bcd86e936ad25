"""Exporters, one module per target, each importable without the other targets' runtimes.

===========  ===========================  ==========================================
target       module                       runtime used to check the artefact
===========  ===========================  ==========================================
``pte``      :mod:`.executorch`           ``executorch.runtime`` (XNNPACK delegate)
``tflite``   :mod:`.tflite`               ``ai_edge_litert.interpreter.Interpreter``
``onnx``     :mod:`.onnx`                 ``onnxruntime.InferenceSession`` (CPU)
===========  ===========================  ==========================================

Every module offers ``export(model, example, path, int8, cal) -> info`` and ``load(path, threads) -> runner``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from export.exporters.common import RUNTIMES, MissingRuntime, check_target, parity, run_all

TARGETS = tuple(RUNTIMES)
EXTENSIONS = {"pte": ".pte", "tflite": ".tflite", "onnx": ".onnx"}
_MODULES = {"pte": "executorch", "tflite": "tflite", "onnx": "onnx"}


def exporter(target: str) -> ModuleType:
    """The exporter module of ``target`` (``pte``, ``tflite``, ``onnx``)."""
    check_target(target)
    return importlib.import_module(f"export.exporters.{_MODULES[target]}")


__all__ = ["EXTENSIONS", "TARGETS", "MissingRuntime", "check_target", "exporter", "parity", "run_all"]
