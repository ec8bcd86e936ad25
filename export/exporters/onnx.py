"""ONNX: fp32 via the dynamo exporter (opset 18), int8 as QDQ via onnxruntime.quantization.

1. ``torch.onnx.export(model, (example,), path, dynamo=True, opset_version=18)`` with input ``imu`` (1, L, C)
   and outputs ``logits`` (1, K) [+ ``embedding`` (1, D)];
2. int8 only: ``quant_pre_process`` (shape inference + graph optimisation) then ``quantize_static`` with QDQ
   format, per-channel int8 weights, int8 activations, MinMax calibration on the calibration set.

Run with ``onnxruntime.InferenceSession`` on the CPU provider (:func:`load`).
Importable without onnx/onnxruntime; calls raise :class:`~export.exporters.common.MissingRuntime`.
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

TARGET = "onnx"
INPUT = "imu"


def export(
    model: nn.Module, example: torch.Tensor, path: str | Path, int8: bool, cal: CalibrationSet | None = None
) -> dict[str, Any]:
    """Write ``model`` as ``.onnx`` to ``path`` (QDQ int8 when ``int8``)."""
    require("onnxscript", TARGET)
    require("onnx", TARGET)
    path = Path(path)
    model = model.eval()
    with torch.no_grad():
        n_out = len(out) if isinstance(out := model(example), tuple) else 1
    names = ["logits", "embedding"][:n_out]
    fp32 = path if not int8 else path.with_name(path.stem + ".float-tmp.onnx")
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its progress
        torch.onnx.export(model, (example,), str(fp32), dynamo=True, opset_version=18, input_names=[INPUT],
                          output_names=names, external_data=False)
    if not int8:
        return {"opset": 18, "quantization": None}
    if cal is None:
        raise ValueError("int8 export needs a calibration set")
    check_calibration(cal)
    require("onnxruntime", TARGET)
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(cal.batches())

        def get_next(self) -> dict[str, np.ndarray] | None:
            w = next(self._it, None)
            return None if w is None else {INPUT: w}

    pre = path.with_name(path.stem + ".pre-tmp.onnx")
    try:
        quant_pre_process(str(fp32), str(pre))
        quantize_static(str(pre), str(path), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    finally:
        fp32.unlink(missing_ok=True)
        pre.unlink(missing_ok=True)
    return {"opset": 18, "quantization": "QDQ static int8 per-channel", "calibration_windows": len(cal)}


def load(path: str | Path, threads: int | None = None) -> Runner:
    """A runner for an ``.onnx``: (1, L, C) float32 -> [logits (1, K), embedding?] float numpy."""
    ort = require("onnxruntime", TARGET)
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def run(x: np.ndarray) -> list[np.ndarray]:
        return session.run(None, {INPUT: np.ascontiguousarray(x, np.float32)})

    return run
