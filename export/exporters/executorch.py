"""ExecuTorch ``.pte`` with the XNNPACK delegate, fp32 or int8 (PT2E), read top to bottom like aot_compiler:

1. ``torch.export.export(model, (example,))``                          -> ExportedProgram (batch 1, static shapes)
2. int8 only: PT2E ``prepare_pt2e`` + calibration + ``convert_pt2e``  (:func:`export.quantize.pt2e_int8`)
   and ``torch.export.export`` of the converted graph;
3. ``to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()])`` -> EdgeProgramManager;
4. count the delegate partitions and the operators left outside them (:func:`lowering_report`);
5. ``.to_executorch()`` and write ``.buffer`` to the ``.pte`` file (+ an ETRecord for the Inspector).

Run: ``executorch.runtime.Runtime.get().load_program(path).load_method("forward").execute([x])`` (:func:`load`).
Importable without executorch; calls raise :class:`~export.exporters.common.MissingRuntime` naming the package.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from export.exporters.common import Runner, require
from export.quantize import CalibrationSet, pt2e_int8

TARGET = "pte"
_SKIP = {"getitem"}  # tuple unpacking of delegate outputs, not an operator


def lower(program: torch.export.ExportedProgram, etrecord: bool = False) -> Any:
    """ExportedProgram -> EdgeProgramManager with everything XNNPACK accepts delegated."""
    require("executorch.exir", TARGET)
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()], generate_etrecord=etrecord)


def lowering_report(edge: Any) -> dict[str, Any]:
    """{"partitions": delegate calls, "non_delegated_ops": {op name: count}} of a lowered EdgeProgramManager."""
    graph = edge.exported_program().graph_module.graph
    partitions, outside = 0, Counter()
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if name == "executorch_call_delegate":
            partitions += 1
        elif name not in _SKIP:
            outside[name] += 1
    return {"partitions": partitions, "non_delegated_ops": dict(outside)}


def export(
    model: nn.Module, example: torch.Tensor, path: str | Path, int8: bool, cal: CalibrationSet | None = None,
    etrecord_path: str | Path | None = None,
) -> dict[str, Any]:
    """Write ``model`` as a ``.pte`` to ``path``; returns the lowering report (+ "etrecord" when written)."""
    require("executorch.exir", TARGET)
    model = model.eval()
    if int8:
        if cal is None:
            raise ValueError("int8 export needs a calibration set")
        model = pt2e_int8(model, example, cal)
    program = torch.export.export(model, (example,))
    edge = lower(program, etrecord=etrecord_path is not None)
    report = lowering_report(edge)
    et = edge.to_executorch()
    Path(path).write_bytes(et.buffer)
    if etrecord_path is not None:
        et.get_etrecord().save(str(etrecord_path))
        report["etrecord"] = Path(etrecord_path).name
    return report


def set_threads(n: int) -> None:
    """Size of the XNNPACK thread pool of the ExecuTorch Python runtime (process-wide)."""
    require("executorch.runtime", TARGET)
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(int(n))


def load(path: str | Path, threads: int | None = None, etdump: bool = False) -> Runner:
    """A runner for a ``.pte``: (1, L, C) float32 -> [logits (1, K), embedding?] as numpy."""
    rt = require("executorch.runtime", TARGET)
    if threads:
        set_threads(threads)
    program = rt.Runtime.get().load_program(Path(path), enable_etdump=etdump, debug_buffer_size=0)
    method = program.load_method("forward")

    def run(x: np.ndarray) -> list[np.ndarray]:
        return [o.numpy() for o in method.execute([torch.from_numpy(np.ascontiguousarray(x, np.float32))])]

    run.program = program  # type: ignore[attr-defined]  # for write_etdump_result_to_file
    return run


def operator_profile(pte: str | Path, etrecord: str | Path | None, x: np.ndarray, runs: int = 50,
                     workdir: str | Path = ".") -> list[dict[str, Any]]:
    """Per-operator time from ETDump + the devtools Inspector: [{"event", "count", "median_ms"}], slowest first."""
    require("executorch.devtools", TARGET)
    from executorch.devtools import Inspector

    run = load(pte, etdump=True)
    for _ in range(runs):
        run(x)
    etdp = Path(workdir) / (Path(pte).stem + ".etdp")
    run.program.write_etdump_result_to_file(str(etdp), str(Path(workdir) / (Path(pte).stem + ".debug")))
    inspector = Inspector(etdump_path=str(etdp), etrecord=str(etrecord) if etrecord else None)
    rows = []
    for block in inspector.event_blocks:
        if block.name != "Execute":
            continue
        for ev in block.events:
            if ev.perf_data is None:
                continue
            rows.append({"event": str(ev.name), "count": len(ev.perf_data.raw), "median_ms": float(ev.perf_data.p50)})
    return sorted(rows, key=lambda r: -r["median_ms"])
