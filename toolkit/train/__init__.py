"""Pretraining, fine-tuning, evaluation protocols and reports of the Multi3Net+ learning system."""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it. Loaded on first use (PEP 562): importing one module of this package
#: does not import the others (nor their optional dependencies).
_PUBLIC = {
    "EvalConfig": "toolkit.train.config",
    "FinetuneConfig": "toolkit.train.config",
    "GridConfig": "toolkit.train.config",
    "PretrainConfig": "toolkit.train.config",
    "load_pretrained": "toolkit.train.pretrain",
    "run_pretrain": "toolkit.train.pretrain",
    "run_finetune": "toolkit.train.finetune_job",
    "run_evaluation": "toolkit.train.evaluate",
    "load_real_windows": "toolkit.train.data",
    "generated_windows": "toolkit.train.data",
    "class_descriptions": "toolkit.train.zeroshot",
    "zero_shot": "toolkit.train.zeroshot",
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
