"""Pretraining, fine-tuning, evaluation protocols and reports of the Multi3Net+ learning system."""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

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

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
