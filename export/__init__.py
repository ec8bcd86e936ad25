"""Distillation, quantisation, exporters (ExecuTorch, TFLite, ONNX) and benchmarks (issue: edge models)."""
