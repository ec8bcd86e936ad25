"""Distillation, quantisation, exporters (ExecuTorch, TFLite, ONNX) and benchmarks (issue: edge models)."""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

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

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
