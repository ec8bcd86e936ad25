"""Distillation, quantisation, exporters (ExecuTorch, TFLite, ONNX) and benchmarks (issue: edge models)."""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it. Loaded on first use (PEP 562): importing one module of this package
#: does not import the others (nor their optional dependencies).
_PUBLIC = {
    "DistillConfig": "export.distill",
    "export_bundles": "export.pipeline",
    "Teacher": "export.teacher",
    "generated_windows": "export.teacher",
    "load_teacher": "export.teacher",
    "random_tiny_teacher": "export.teacher",
    "LoadedArtefact": "export.manifest",
    "load_artefact": "export.manifest",
    "read_manifest": "export.manifest",
    "run_bench": "export.bench",
    "LosoOptions": "export.loso",
    "run_loso": "export.loso",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
