"""One ``edge-bench`` measurement in a fresh process, so that its peak RSS is its own.

``python -m export.bench_worker '<json job>'`` prints one JSON line. The job: ``kind`` (pte, tflite, onnx,
eager-student, eager-teacher), ``path``, ``threads``, ``warmup``, ``runs``, ``shape`` [1, L, C], and for pte
optionally ``etrecord`` + ``profile_dir`` (per-operator profile through ETDump and the devtools Inspector).

Only the runtime under test is imported (no torch for tflite / onnx; executorch's runtime links libtorch).
Latency: wall time of one call at batch 1 (``time.perf_counter``) over ``runs`` calls after ``warmup`` calls.
Peak RSS: ``VmHWM`` of /proc/self/status at the end, and after the imports (see :func:`_rss_mb`).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _rss_mb() -> float:
    """Peak resident set of this process in MiB: VmHWM (reset at exec, unlike ru_maxrss which a forked child
    inherits from its parent), falling back to ru_maxrss where /proc is absent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _runner(job: dict):  # noqa: ANN202 - returns a zero-argument callable
    import numpy as np

    x = np.random.default_rng(0).standard_normal(job["shape"]).astype(np.float32)
    kind, path, threads = job["kind"], job["path"], int(job["threads"])
    if kind == "onnx":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return lambda: sess.run(None, {name: x})
    if kind == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=path, num_threads=threads)
        runner = interp.get_signature_runner()
        (in_name, det), = runner.get_input_details().items()
        if det["dtype"] == np.int8:
            scale, zero = det["quantization"]
            xq = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        else:
            xq = x
        return lambda: runner(**{in_name: xq})
    import torch

    torch.set_num_threads(threads)
    xt = torch.from_numpy(x)
    if kind == "pte":
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime

        portable_lib._unsafe_reset_threadpool(threads)
        method = Runtime.get().load_program(path).load_method("forward")
        return lambda: method.execute([xt])
    if kind in ("eager-student", "eager-teacher"):
        model = _eager(kind, path)

        def call():  # noqa: ANN202
            with torch.inference_mode():
                return model(xt)

        return call
    raise ValueError(f"unknown kind {kind!r}")


def _eager(kind: str, folder: str):  # noqa: ANN202 - an nn.Module
    import torch

    from export import student, teacher  # delays torch: an ONNX / TFLite benchmark's RSS must not include it

    if kind == "eager-teacher":
        return teacher.load_teacher(folder).model.eval()
    cfg = student.StudentConfig(**json.loads(open(os.path.join(folder, "student.json")).read()))
    model = student.EdgeStudent(cfg)
    model.load_state_dict(torch.load(os.path.join(folder, "student.pt"), map_location="cpu", weights_only=True))
    return model.eval()


def measure(job: dict) -> dict:
    """Run one job; returns latencies (ms) summary and RSS figures."""
    import numpy as np

    rss_start = _rss_mb()
    call = _runner(job)
    rss_loaded = _rss_mb()
    for _ in range(int(job["warmup"])):
        call()
    times = []
    for _ in range(int(job["runs"])):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    t = np.asarray(times)
    res = {
        "median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)), "p99_ms": float(np.percentile(t, 99)),
        "mean_ms": float(t.mean()), "throughput_per_s": float(1e3 / np.median(t)), "runs": len(t),
        "rss_after_imports_mb": rss_start, "rss_after_load_mb": rss_loaded, "peak_rss_mb": _rss_mb(),
    }
    if job.get("profile_dir") and job["kind"] == "pte":
        try:
            from export.exporters.executorch import operator_profile  # delays executorch (only .pte profiles)

            res["operator_profile"] = operator_profile(job["path"], job.get("etrecord"), np.random.default_rng(0)
                                                       .standard_normal(job["shape"]).astype(np.float32),
                                                       workdir=job["profile_dir"])
        except Exception as exc:  # noqa: BLE001 - a profile is optional; say why it is missing
            res["operator_profile_error"] = f"{type(exc).__name__}: {exc}"
    return res


if __name__ == "__main__":
    try:
        _result = measure(json.loads(sys.argv[1]))
    except Exception as _exc:  # noqa: BLE001 - reported to edge-bench as one line: why this row has no figures
        _msg = str(_exc).strip().splitlines()[0][:300] if str(_exc).strip() else ""
        print(json.dumps({"error": f"{type(_exc).__name__}: {_msg}"}))
        sys.exit(1)
    print(json.dumps(_result, allow_nan=False))
