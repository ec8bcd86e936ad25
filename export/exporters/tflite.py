"""TFLite (LiteRT) ``.tflite``: fp32 via litert-torch, full-integer int8 via ai-edge-quantizer.

1. ``litert_torch.convert(model.eval(), (example,)).export(fp32_path)``  (float model, batch 1);
2. int8 only: ``Quantizer(fp32).load_quantization_recipe(recipe.static_wi8_ai8())``, calibrated with a
   ``Calibrator`` whose update rule is ``qsv_utils.min_max_update`` (GLOBAL min/max over all calibration
   windows; the default moving average of per-sample min/max clipped the logits, export-facts.md), then
   ``quantize(qsvs)`` -> int8 weights, int8 activations, int8 input and output tensors.

Run with ``ai_edge_litert.interpreter.Interpreter`` (:func:`load`): int8 inputs are quantised and int8 outputs
dequantised with the tensors' own scale / zero point, so the runner has the same float interface as the others.
Importable without litert; calls raise :class:`~export.exporters.common.MissingRuntime` naming the packages.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from export.exporters.common import Runner, require
from export.quantize import CalibrationSet, check_calibration

TARGET = "tflite"


def export(
    model: nn.Module, example: torch.Tensor, path: str | Path, int8: bool, cal: CalibrationSet | None = None
) -> dict[str, Any]:
    """Write ``model`` as ``.tflite`` to ``path`` (full-integer int8 when ``int8``)."""
    litert_torch = require("litert_torch", TARGET)
    path = Path(path)
    fp32 = path if not int8 else path.with_name(path.stem + ".float-tmp.tflite")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # progress lines
        litert_torch.convert(model.eval(), (example,)).export(str(fp32))
    if not int8:
        return {"quantization": None}
    if cal is None:
        raise ValueError("int8 export needs a calibration set")
    check_calibration(cal)
    require("ai_edge_quantizer", TARGET)
    from ai_edge_quantizer import calibrator, quantizer, recipe
    from ai_edge_quantizer.utils import qsv_utils

    try:
        qt = quantizer.Quantizer(str(fp32))
        qt.load_quantization_recipe(recipe.static_wi8_ai8())
        interp = require("ai_edge_litert.interpreter", TARGET).Interpreter(model_path=str(fp32))
        (key, sig), = interp.get_signature_list().items()
        (name,) = sig["inputs"]
        calib = calibrator.Calibrator(fp32.read_bytes(), qsv_update_func=qsv_utils.min_max_update)
        with contextlib.redirect_stderr(io.StringIO()):  # progress bar
            calib.calibrate({key: [{name: w} for w in cal.batches()]}, qt._recipe_manager)  # this quantizer's recipe
            result = qt.quantize(calib.get_model_qsvs(), enable_progress_report=False)
        result.export_model(str(path), overwrite=True)
    finally:
        fp32.unlink(missing_ok=True)
    return {"quantization": "static_wi8_ai8", "calibration": "global min/max", "calibration_windows": len(cal)}


def load(path: str | Path, threads: int | None = None) -> Runner:
    """A runner for a ``.tflite``: (1, L, C) float32 -> [logits (1, K), embedding?] float numpy."""
    mod = require("ai_edge_litert.interpreter", TARGET)
    interp = mod.Interpreter(model_path=str(path), num_threads=threads or 1)
    runner = interp.get_signature_runner()
    (in_name, in_detail), = runner.get_input_details().items()
    out_details = sorted(runner.get_output_details().items())  # output_0 (logits), output_1 (embedding)

    def run(x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, np.float32)
        if in_detail["dtype"] == np.int8:
            scale, zero = in_detail["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        out = runner(**{in_name: x})
        res = []
        for name, det in out_details:
            o = out[name]
            if det["dtype"] == np.int8:
                scale, zero = det["quantization"]
                o = (o.astype(np.float32) - zero) * scale
            res.append(np.asarray(o, np.float32))
        return res

    return run
