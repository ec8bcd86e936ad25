"""The device-count sweep shared by the BLE and streaming benchmarks: N = 1, 2, 4, ... until something gives."""

from __future__ import annotations

import json
from collections.abc import Callable

#: Process CPU time / wall at which the single-threaded event loop counts as saturated.
SATURATED = 0.9


def sweep_devices(run_n: Callable[[int], dict[str, object]], max_devices: int,
                  saturated: str = "one core saturated") -> tuple[list[dict[str, object]], str]:
    """Run ``run_n(N)`` for N = 1, 2, 4, ... up to ``max_devices``, printing each result as a JSON line.

    Stops at the first N whose result has an ``error`` (devices did not all connect), is not ``zero_loss``, or whose
    ``cpu_utilisation`` reaches :data:`SATURATED`. Returns the results and why the sweep stopped.
    """
    runs: list[dict[str, object]] = []
    n = 1
    while n <= max_devices:
        r = run_n(n)
        runs.append(r)
        print(json.dumps(r), flush=True)
        if "error" in r:
            return runs, f"could not connect all devices at N={n}: {r['error']}"
        if not r["zero_loss"]:
            return runs, f"loss at N={n}"
        if float(r["cpu_utilisation"]) >= SATURATED:  # type: ignore[arg-type]
            return runs, f"{saturated} at N={n} (CPU/wall {r['cpu_utilisation']})"
        n *= 2
    return runs, f"reached --max-devices {max_devices}"


def largest_ok(runs: list[dict[str, object]], unsaturated: bool = True) -> int:
    """Largest N with zero loss (and, with ``unsaturated``, CPU/wall below :data:`SATURATED`)."""
    ok = [r for r in runs if r.get("zero_loss") and (not unsaturated or float(r["cpu_utilisation"]) < SATURATED)]  # type: ignore[arg-type]
    return max((int(r["devices"]) for r in ok), default=0)  # type: ignore[call-overload]
