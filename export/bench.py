"""``edge-bench``: latency, throughput, size, peak RSS, parameters and MACs of every exported artefact.

For each profile folder of an ``edge-export`` output (``dist/phone``, ``dist/watch``): every artefact in its own
runtime, the eager PyTorch float student, and once the eager PyTorch float teacher (``dist/teacher``), each at
batch 1 with each thread count, each measured in a fresh subprocess (:mod:`export.bench_worker`) so that peak
RSS belongs to that runtime alone. Files are verified against the manifest's sha256 before they are run.
Results: ``bench.json``, ``bench.md`` (a table) and ``bench.png`` (median latency chart). All figures are measured
on the machine that runs the command, nothing is extrapolated; sub-millisecond latencies on a shared machine are
noisy, so compare ratios measured in one run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from export.exporters.probe import check_format
from export.manifest import read_manifest, verify_file
from toolkit.errors import ConfigError, InputFileError
from toolkit.strict_json import dumps as strict_dumps

REPO = Path(__file__).resolve().parents[1]


def _run_job(job: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "export.bench_worker", json.dumps(job)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if lines and proc.returncode == 1:
        reported = json.loads(lines[-1])
        if "error" in reported:
            return {"error": f"worker failed: {reported['error']}"}
    if proc.returncode < 0:
        return {"error": f"worker killed by signal {-proc.returncode} (the runtime crashed on this file)"}
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker failed ({proc.returncode}): {tail}"}
    return json.loads(lines[-1])


def _machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "note": "measured on this machine by edge-bench; not extrapolated to phones or watches"}


def run_bench(
    dist: str | Path, out: str | Path | None = None, *, profiles: Sequence[str] | None = None,
    threads: Sequence[int] = (1, 2), warmup: int = 20, runs: int = 200, op_profile: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Benchmark an edge-export output folder; writes bench.json/.md/.png into ``out`` (default ``dist/bench``)."""
    dist = Path(dist)
    if not dist.is_dir():
        raise InputFileError(dist, "no such folder: run edge-export first (e.g. edge-export --int8)")
    profiles = list(profiles) if profiles else sorted(p.name for p in dist.iterdir() if (p / "manifest.json").is_file())
    if not profiles:
        raise InputFileError(dist, "no <profile>/manifest.json inside: not an edge-export output folder")
    out = Path(out) if out else dist / "bench"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []

    def measure(label: dict[str, Any], job: dict[str, Any]) -> None:
        for n in threads:
            log(f"bench: {label['profile']:<7} {label['name']:<22} {n} thread(s) ...")
            one = {k: v for k, v in job.items() if n == threads[0] or k not in ("profile_dir", "etrecord")}
            res = _run_job({**one, "threads": n, "warmup": warmup, "runs": runs})
            rows.append({**label, "threads": n, **res})

    teacher_done = False
    for profile in profiles:
        folder = dist / profile
        man = read_manifest(folder)
        shape = [1, man["input"]["window_samples"], len(man["input"]["channels"])]
        if not teacher_done and (dist / "teacher" / "classifier.pt").is_file():
            teacher_done = True
            measure({"profile": "-", "name": "teacher eager fp32", "runtime": "pytorch eager", "precision": "fp32",
                     "bytes": (dist / "teacher" / "classifier.pt").stat().st_size,
                     "parameters": man["teacher"]["parameters"], "macs": man["teacher"]["macs"]},
                    {"kind": "eager-teacher", "path": str(dist / "teacher"), "shape": shape})
        verify_file(folder, "student.pt", man)
        stu = man["student"]
        measure({"profile": profile, "name": "student eager fp32", "runtime": "pytorch eager", "precision": "fp32",
                 "bytes": (folder / "student.pt").stat().st_size, "parameters": stu["parameters"], "macs": stu["macs"]},
                {"kind": "eager-student", "path": str(folder), "shape": shape})
        for art in man["artefacts"]:
            path = verify_file(folder, art["file"], man)
            check_format(path, art["target"])
            job = {"kind": art["target"], "path": str(path), "shape": shape}
            if (art["target"], art["precision"]) == ("pte", "int8") and op_profile and art["export"].get("etrecord"):
                etr = folder / art["export"]["etrecord"]
                job.update(etrecord=str(etr), profile_dir=str(out))
            measure({"profile": profile, "name": f"{art['target']} {art['precision']}", "runtime": art["runtime"],
                     "precision": art["precision"], "bytes": art["bytes"], "parameters": stu["parameters"],
                     "macs": stu["macs"], "partitions": art.get("export", {}).get("partitions")}, job)
    result = {"created_utc": datetime.now(UTC).isoformat(timespec="seconds"), "machine": _machine(),
              "settings": {"batch": 1, "threads": list(threads), "warmup": warmup, "runs": runs},
              "rows": rows, "ratios": ratios(rows)}
    (out / "bench.json").write_text(strict_dumps(result, indent=2) + "\n")
    (out / "bench.md").write_text(markdown(result))
    if not any("median_ms" in r for r in rows):
        reasons = list(dict.fromkeys(f"{r['name']}: {r['error']}" for r in rows if "error" in r))
        raise ConfigError("no successful measurement (" + "; ".join(reasons[:3])
                          + (f"; {len(reasons) - 3} more in {out / 'bench.json'}" if len(reasons) > 3 else "") + ")")
    chart(rows, out / "bench.png")
    log(f"bench: wrote {out}/bench.json, bench.md, bench.png")
    return result


def ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Speed-up and size ratio of each profile's int8 .pte against the eager float teacher, per thread count."""
    out: dict[str, Any] = {}
    teacher = {r["threads"]: r for r in rows if r["name"] == "teacher eager fp32" and "median_ms" in r}
    for r in rows:
        if r["name"] != "pte int8" or "median_ms" not in r or r["threads"] not in teacher:
            continue
        t = teacher[r["threads"]]
        out[f"{r['profile']}/pte_int8_vs_teacher_eager/{r['threads']}t"] = {
            "speedup_median": t["median_ms"] / r["median_ms"], "size_ratio": t["bytes"] / r["bytes"],
            "pte_kb": r["bytes"] / 1024, "teacher_checkpoint_kb": t["bytes"] / 1024,
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    """The bench table in markdown (one row per artefact x threads)."""
    m = result["machine"]
    lines = [f"Measured by edge-bench on this machine ({m['processor']}, {m['cpu_count']} CPUs, {m['platform']}), "
             f"batch 1, {result['settings']['warmup']} warm-up + {result['settings']['runs']} runs, "
             f"{result['created_utc']}.", "",
             "| profile | model | runtime | threads | median ms | p90 ms | p99 ms | windows/s | size KB | peak RSS MB "
             "| params | MACs |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r['profile']} | {r['name']} | {r['runtime']} | {r['threads']} | {r['error']} |"
                         " | | | | | | |")
            continue
        lines.append(f"| {r['profile']} | {r['name']} | {r['runtime']} | {r['threads']} | {r['median_ms']:.3f} | "
                     f"{r['p90_ms']:.3f} | {r['p99_ms']:.3f} | {r['throughput_per_s']:.0f} | {r['bytes'] / 1024:.1f} |"
                     f" {r['peak_rss_mb']:.0f} | {r['parameters']:,} | {r['macs']:,} |")
    if result["ratios"]:
        lines += ["", "| ratio | speed-up (median) | size ratio | .pte KB |", "|---|---:|---:|---:|"]
        for k, v in result["ratios"].items():
            lines.append(f"| {k} | {v['speedup_median']:.1f}x | {v['size_ratio']:.1f}x | {v['pte_kb']:.1f} |")
    profs = [r for r in result["rows"] if r.get("operator_profile")]
    for r in profs[:2]:
        lines += ["", f"ExecuTorch operator profile, {r['profile']} {r['name']}, {r['threads']} thread(s) "
                      "(ETDump + Inspector, median ms):", "", "| event | median ms |", "|---|---:|"]
        lines += [f"| {p['event']} | {p['median_ms']:.4f} |" for p in r["operator_profile"][:12]]
    return "\n".join(lines) + "\n"


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Horizontal bars of median latency (log scale), one bar per model and thread count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if "median_ms" in r]
    if not ok:
        raise ConfigError("no successful measurement to chart")
    labels = [f"{r['profile']} {r['name']} ({r['threads']}t)" for r in ok]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(ok) + 1.2))
    colors = ["tab:red" if "teacher" in r["name"] else "tab:blue" if r["threads"] == 1 else "tab:cyan" for r in ok]
    ax.barh(range(len(ok)), [r["median_ms"] for r in ok], color=colors)
    ax.set_yticks(range(len(ok)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median latency per window, batch 1 [ms] (log)")
    ax.set_title("edge-bench, measured on this machine", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
