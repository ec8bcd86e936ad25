"""Live streaming benchmark (issue 6). Writes benchmarks/results/stream.json.

    .venv/bin/python benchmarks/bench_stream.py [--model toolkit/default_model/edge/watch] [--seconds 10] \
        [--max-devices 64]

For each runtime (ExecuTorch .pte, LiteRT .tflite, ONNX Runtime .onnx; int8 artefacts of the bundle), N virtual
imu-stream watches (100 Hz, acc + gyro, 5 samples per notification = 20 notifications/s each, paced in real time)
stream over bleak + the bumble backend into one StreamSession whose batches feed the streaming engine
(calibration transform, resampling 100 -> 30 Hz, 2 s windows every 1 s, int8 inference, smoothing), for
N = 1, 2, 4, ... until a packet or a window is lost, the event loop saturates (process CPU time / wall >= 0.9: one
core; the loop is single threaded), or --max-devices.

Reported per (runtime, N):
* end-to-end latency from notification arrival (host clock, taken in the bleak callback) to the prediction of the
  window that notification completed: p50 / p99 / max [ms] over every window of every device;
* CPU per device: process CPU seconds per second per device (includes the emulated peripherals, radio and both
  bumble host stacks: an upper bound), and the engine's own share (time inside the engine: transform, resampling,
  windowing, inference, smoothing) per device;
* windows expected / produced, packets lost, and the largest N with zero loss for that runtime.
Numbers are from the machine it runs on; a shared machine makes them noisy. Compare runtimes within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.scaling import largest_ok, sweep_devices  # noqa: E402
from export.manifest import load_artefact  # noqa: E402
from firmware_bridge.backends.bumble_backend import BumbleClient  # noqa: E402
from firmware_bridge.backends.bumble_link import close_radio  # noqa: E402
from firmware_bridge.session import DeviceSpec, StreamSession  # noqa: E402
from firmware_bridge.transport import RetryPolicy  # noqa: E402
from firmware_bridge.virtual.catalog import VirtualDeviceSpec, make_virtual_peripheral, spec_packets  # noqa: E402
from firmware_bridge.virtual.sources import generate_sine  # noqa: E402
from toolkit.stream import StreamEngine  # noqa: E402
from toolkit.stream.live import LiveRunner  # noqa: E402

RATE_HZ = 100.0
SAMPLES_PER_PACKET = 5
RUNTIMES = ("pte", "tflite", "onnx")


def expected_windows(n_samples: int, window_s: float, hop_s: float) -> int:
    duration = (n_samples - 1) / RATE_HZ
    return int(np.floor((duration - window_s) / hop_s + 1e-9)) + 1


async def run_n(model: Path, runtime: str, n: int, seconds: float) -> dict[str, object]:
    artefact = load_artefact(model, runtime, "int8", threads=1)
    engine = StreamEngine(artefact, smoothing_k=3)
    runner = LiveRunner(engine)
    engine_s = [0.0]

    def on_batch(sb: object) -> None:
        t0 = time.perf_counter()
        runner.on_batch(sb)
        engine_s[0] += time.perf_counter() - t0

    length = seconds + 2.5 + 0.05 * n  # every device streams through the measured window
    specs = [VirtualDeviceSpec(f"sine{k}", "imu-stream", generate_sine(length, RATE_HZ, freq_hz=0.5 + 0.05 * k))
             for k in range(n)]
    packets = [spec_packets(s, SAMPLES_PER_PACKET) for s in specs]
    peripherals = [make_virtual_peripheral(s, packets=p, advertised_name=f"M3E-bench-{k}")
                   for k, (s, p) in enumerate(zip(specs, packets, strict=True))]
    try:
        for p in peripherals:
            await p.start()
        session = StreamSession([DeviceSpec(p.address, "imu-stream", p.name) for p in peripherals],
                                backend=BumbleClient, retry=RetryPolicy(connect_timeout=20.0), on_batch=on_batch,
                                output_maxsize=0)
        await session.start()
        try:
            await session.wait_connected(60.0)
        except Exception as e:  # noqa: BLE001 - report any connect failure as a result
            await session.stop()
            return {"runtime": runtime, "devices": n, "error": f"{type(e).__name__}: {e}", "zero_loss": False,
                    "cpu_utilisation": 0.0}
        wall0, cpu0, eng0 = time.monotonic(), time.process_time(), engine_s[0]
        waits = [asyncio.ensure_future(p.finished.wait()) for p in peripherals]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        wall, cpu, eng = time.monotonic() - wall0, time.process_time() - cpu0, engine_s[0] - eng0
        await asyncio.gather(*(p.wait_finished(length * 2 + 30) for p in peripherals))
        await asyncio.sleep(0.3)
        await session.stop()
        runner.finish()
    finally:
        await close_radio()
    counters = session.counters()
    lost = sum(c["lost_packets"] + c["dropped"] for c in counters.values())
    want = expected_windows(len(specs[0].series), engine.window_s, engine.hop_samples / engine.rate_hz)
    got = [len(runner.predictions.get(p.name, [])) for p in peripherals]
    lat = np.array([1e3 * pr.latency_s for preds in runner.predictions.values() for pr in preds])
    inf = np.array([1e3 * pr.inference_s for preds in runner.predictions.values() for pr in preds])
    util = cpu / wall
    return {
        "runtime": runtime, "devices": n, "measured_window_s": round(wall, 3),
        "windows_expected_per_device": want, "windows_min_per_device": min(got), "lost_packets": lost,
        "zero_loss": lost == 0 and min(got) == want,
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
        "latency_ms_p99": round(float(np.percentile(lat, 99)), 3) if lat.size else None,
        "latency_ms_max": round(float(lat.max()), 3) if lat.size else None,
        "inference_ms_p50": round(float(np.percentile(inf, 50)), 4) if inf.size else None,
        "cpu_utilisation": round(util, 3),
        "cpu_s_per_device_per_s": round(util / n, 5),
        "engine_cpu_s_per_device_per_s": round(eng / wall / n, 6),
        "engine_share_of_process_cpu": round(eng / cpu, 3) if cpu > 0 else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "toolkit" / "default_model" / "edge" / "watch"),
                    help="edge-export bundle folder (default: the committed watch bundle)")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES), help="comma-separated (default: %(default)s)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per N (default: %(default)s)")
    ap.add_argument("--max-devices", type=int, default=64, help="largest N (default: %(default)s)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "stream.json"))
    args = ap.parse_args()
    started = time.monotonic()
    results: dict[str, dict[str, object]] = {}
    for runtime in args.runtimes.split(","):
        runs, reason = sweep_devices(lambda n, rt=runtime: asyncio.run(run_n(Path(args.model), rt, n, args.seconds)),
                                     args.max_devices, saturated="event loop saturated")
        results[runtime] = {"runs": runs, "stop_reason": reason,
                            "largest_zero_loss_devices": largest_ok(runs)}
    out = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "model": str(args.model),
        "setup": {"rate_hz": RATE_HZ, "axes": 6, "samples_per_packet": SAMPLES_PER_PACKET,
                  "packets_per_s_per_device": RATE_HZ / SAMPLES_PER_PACKET, "pacing": "real time (timestamps)",
                  "path": "VirtualPeripheral (bumble) -> LocalLink -> BleakClient(BumbleClient) -> StreamSession -> "
                          "LiveRunner -> StreamEngine (transform, resample, window, int8 inference, smoothing)",
                  "note": "process CPU includes the emulated peripherals, radio and both bumble host stacks"},
        "runtimes": results,
        "total_wall_s": round(time.monotonic() - started, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    for rt, r in results.items():
        print(f"{rt}: largest N with zero loss {r['largest_zero_loss_devices']} ({r['stop_reason']})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
