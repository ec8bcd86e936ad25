"""Static post-training int8 quantisation policy shared by the exporters, and optional PT2E QAT.

Every target uses static int8 with per-channel symmetric weights and per-tensor activations, calibrated on the
same representative set (:func:`calibration_set`):

- ExecuTorch: PT2E with ``XNNPACKQuantizer`` (:func:`pt2e_int8`, here);
- TFLite: ai-edge-quantizer ``static_wi8_ai8`` with GLOBAL min/max calibration (:mod:`export.exporters.tflite`);
- ONNX: onnxruntime ``quantize_static`` QDQ per-channel, MinMax calibration (:mod:`export.exporters.onnx`).

Calibration set rules: at least :data:`MIN_CALIBRATION` windows, none from an evaluation subject (the function
takes subject ids and refuses overlap). Quantisation-aware training (:func:`pt2e_qat`, ExecuTorch target) is
the fallback when post-training int8 loses more than :data:`QAT_THRESHOLD` macro F1 (:func:`needs_qat`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from toolkit.errors import ConfigError

MIN_CALIBRATION = 256
QAT_THRESHOLD = 0.01  #: macro F1 points (as a fraction) that PTQ may lose before QAT is advised

SETTINGS = {
    "scheme": "static int8, per-channel symmetric weights, per-tensor activations",
    "pte": "PT2E XNNPACKQuantizer get_symmetric_quantization_config(is_per_channel=True), int8 delegate (float I/O)",
    "tflite": "ai-edge-quantizer static_wi8_ai8, global min/max calibration, full-integer (int8 input and output)",
    "onnx": "onnxruntime quantize_static QDQ, per_channel=True, QInt8 weights and activations, MinMax",
}


@dataclass
class CalibrationSet:
    """Standardised calibration windows x (N, L, C) float32 and the subjects they come from."""

    x: np.ndarray
    subjects: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.x)

    def batches(self) -> Iterable[np.ndarray]:
        """One (1, L, C) window at a time (the exported models have batch 1)."""
        for w in self.x:
            yield w[None]


def calibration_set(
    x: np.ndarray, subject: np.ndarray, eval_subjects: Iterable[str], n: int = 512, minimum: int = MIN_CALIBRATION,
    seed: int = 0,
) -> CalibrationSet:
    """Pick up to ``n`` calibration windows from subjects outside ``eval_subjects``.

    ``x`` (N, L, C) standardised, ``subject`` (N,). Raises ConfigError when fewer than ``minimum`` windows
    remain: calibrating on a handful of windows clips activations that the evaluation then meets.
    """
    if minimum < MIN_CALIBRATION:
        raise ConfigError(f"calibration needs at least {MIN_CALIBRATION} windows; minimum={minimum} is too low")
    held = set(map(str, eval_subjects))
    subject = np.asarray(subject).astype(str)
    pool = np.flatnonzero(~np.isin(subject, list(held)))
    if len(pool) < minimum:
        raise ConfigError(
            f"calibration needs at least {minimum} windows from non-evaluation subjects, only {len(pool)} available"
        )
    pick = np.sort(np.random.default_rng(seed).permutation(pool)[: min(n, len(pool))])
    return CalibrationSet(np.ascontiguousarray(x[pick], np.float32), tuple(sorted(set(subject[pick]))))


def check_calibration(cal: CalibrationSet, eval_subjects: Iterable[str] = ()) -> None:
    """Raise ConfigError when ``cal`` is too small or shares a subject with the evaluation."""
    if len(cal) < MIN_CALIBRATION:
        raise ConfigError(f"calibration needs at least {MIN_CALIBRATION} windows, got {len(cal)}")
    overlap = set(cal.subjects) & set(map(str, eval_subjects))
    if overlap:
        raise ConfigError(f"calibration windows come from evaluation subjects {sorted(overlap)}")


def needs_qat(f1_float: float, f1_int8: float, threshold: float = QAT_THRESHOLD) -> bool:
    """True when int8 loses more than ``threshold`` macro F1 (fractions in [0, 1])."""
    return f1_float - f1_int8 > threshold


def _xnnpack_quantizer(is_qat: bool = False):  # noqa: ANN202 - XNNPACKQuantizer from executorch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))


def pt2e_int8(model: nn.Module, example: torch.Tensor, cal: CalibrationSet) -> torch.fx.GraphModule:
    """Post-training static int8 (PT2E, XNNPACK quantizer, per-channel) -> converted GraphModule (float I/O)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    check_calibration(cal)
    # Traced with a symbolic batch so that calibration runs 64 windows per call (observers see the same values
    # as one window at a time); the caller re-exports the converted module with its batch-1 example.
    sample = torch.from_numpy(cal.x[:2])
    batch = torch.export.Dim("batch", min=1, max=4096)
    graph = torch.export.export(model.eval(), (sample,), dynamic_shapes=({0: batch},)).module()
    prepared = prepare_pt2e(graph, _xnnpack_quantizer())
    with torch.no_grad():
        for chunk in torch.from_numpy(cal.x).split(64):
            prepared(chunk)
    return convert_pt2e(prepared)


def pt2e_qat(
    model: nn.Module, example: torch.Tensor, x: np.ndarray, y: np.ndarray, epochs: int = 5, lr: float = 2e-4,
    batch: int = 32, seed: int = 0, temperature: float = 1.0, w_ce: float = 0.0,
) -> nn.Module:
    """Quantisation-aware training (PT2E + XNNPACK quantizer, per-channel, fake-quant) -> converted int8 module.

    The float ``model`` (the distilled student) is its own teacher: the fake-quantised copy is trained to match the
    float model's softened logits (KL at ``temperature``, scaled by T^2) plus ``w_ce`` x cross-entropy on the labels
    ``y`` (-1 = unlabelled, ignored), on standardised windows ``x`` (N, L, C). Matching the float student is what
    the int8 targets ask for (top-1 agreement, macro F1 within 1 point of it); hard labels alone pull the int8 model
    away from it. The graph is traced with a symbolic batch so the result re-exports at batch 1.

    Returns:
        The converted graph wrapped so that exporters can call ``.eval()`` on it (:class:`_Frozen`).
    """
    from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    torch.manual_seed(seed)
    xt = torch.as_tensor(np.asarray(x, np.float32))
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    with torch.no_grad():
        model.eval()
        out = model(xt)
        ref = (out[0] if isinstance(out, tuple | list) else out).detach()
    sample = xt[:batch] if len(xt) >= batch else example.expand(batch, *example.shape[1:]).contiguous()
    dim = torch.export.Dim("batch", min=1, max=65536)
    graph = torch.export.export(model.train(), (sample,), dynamic_shapes=({0: dim},)).module()
    prepared = prepare_qat_pt2e(graph, _xnnpack_quantizer(is_qat=True))
    opt = torch.optim.AdamW(prepared.parameters(), lr=lr)
    t = float(temperature)
    for _ in range(epochs):
        move_exported_model_to_train(prepared)
        for idx in torch.randperm(len(xt)).split(batch):
            if len(idx) < 2:  # BatchNorm needs two samples in training mode
                continue
            out = prepared(xt[idx])
            logits = out[0] if isinstance(out, tuple | list) else out
            loss = F.kl_div(F.log_softmax(logits / t, dim=1), F.softmax(ref[idx] / t, dim=1),
                            reduction="batchmean") * t * t
            if w_ce > 0 and bool((yt[idx] >= 0).any()):
                loss = loss + w_ce * F.cross_entropy(logits, yt[idx], ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
    move_exported_model_to_eval(prepared)
    model.eval()
    converted = convert_pt2e(prepared)
    for node in list(converted.graph.nodes):  # BatchNorm's num_batches_tracked += 1 left by the training trace
        if node.target == torch.ops.aten.add_.Tensor and "num_batches_tracked" in str(node.args[0]) and not node.users:
            converted.graph.erase_node(node)
    converted.graph.eliminate_dead_code()
    converted.recompile()
    return _Frozen(converted)


class _Frozen(nn.Module):
    """A converted PT2E graph, in eval mode for good, that exporters may call ``.eval()`` on like any module
    (torchao refuses ``.train()``/``.eval()`` on converted graphs)."""

    def __init__(self, graph: torch.fx.GraphModule) -> None:
        super().__init__()
        self.quantized = graph

    def forward(self, x: torch.Tensor) -> object:
        return self.quantized(x)

    def train(self, mode: bool = True) -> _Frozen:
        self.training = mode
        return self

