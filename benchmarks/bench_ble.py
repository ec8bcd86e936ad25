"""BLE receive-pipeline benchmark (issue 5). Writes benchmarks/results/ble.json.

    .venv/bin/python benchmarks/bench_ble.py [--seconds 5] [--max-devices 64]

N virtual imu-stream watches, each 100 Hz x 6 axes (acc + gyro int16), 5 samples per packet
(= 20 notifications/s, 78-byte packets, a realistic batching at 7.5-50 ms connection intervals),
paced in real time from their timestamps, stream through the plain bleak API with the bumble backend
(in-process emulated controllers and host stacks) into one StreamSession (queue -> imu-stream decode
-> integrity/clock mapping -> SI batches), for N = 1, 2, 4, ... until a sample is lost, the process
saturates one core (CPU time / wall >= 0.9: the event loop is single threaded) or --max-devices.

CPU is measured over the window where all N devices are connected and streaming (connects are
serialised, as in a real controller, and take ~0.05 s each), until the first replay ends.
Reported per N: samples expected / received, lost packets, CPU seconds per device per second
(process CPU time / wall / N), per-packet CPU cost, and the ratio of that cost to a plain in-memory
decode (+ integrity) of the very same packet bytes. The process CPU includes the emulated
peripherals, the emulated radio and both host stacks (bumble, pure Python): it is an upper bound
of the receive cost on a real host, where the OS Bluetooth stack does the radio part.
Packets are encoded before the clock starts (encoding is the device's job, not the receiver's).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.scaling import largest_ok, sweep_devices  # noqa: E402
from firmware_bridge.backends.bumble_backend import BumbleClient  # noqa: E402
from firmware_bridge.backends.bumble_link import close_radio  # noqa: E402
from firmware_bridge.integrity import StreamIntegrity  # noqa: E402
from firmware_bridge.protocols.imu_stream import ImuStreamDecoder  # noqa: E402
from firmware_bridge.session import DeviceSpec, StreamSession  # noqa: E402
from firmware_bridge.transport import RetryPolicy  # noqa: E402
from firmware_bridge.virtual.catalog import VirtualDeviceSpec, make_virtual_peripheral, spec_packets  # noqa: E402
from firmware_bridge.virtual.sources import generate_sine  # noqa: E402

RATE_HZ = 100.0
SAMPLES_PER_PACKET = 5


def in_memory_cost(packets: list[bytes], repeats: int = 3) -> float:
    """CPU seconds per packet of decode + integrity + to_si on the same bytes, no BLE (best of repeats)."""
    best = float("inf")
    for _ in range(repeats):
        dec, integ = ImuStreamDecoder(), StreamIntegrity()
        t0 = time.process_time()
        for i, p in enumerate(packets):
            for b in dec.decode(p):
                for out in integ.push(b, 1000.0 + i * 0.05):
                    out.to_si()
        best = min(best, (time.process_time() - t0) / len(packets))
    return best


async def run_n(n: int, seconds: float) -> dict[str, object]:
    # Each stream lasts the measured window plus time to connect everything (connects are serialised).
    length = seconds + 0.5 + 0.04 * n
    specs = [VirtualDeviceSpec(f"sine{k}", "imu-stream", generate_sine(length, RATE_HZ, freq_hz=1.0 + 0.1 * k))
             for k in range(n)]
    packets = [spec_packets(s, SAMPLES_PER_PACKET) for s in specs]
    peripherals = [make_virtual_peripheral(s, packets=p, advertised_name=f"M3E-bench-{k}")
                   for k, (s, p) in enumerate(zip(specs, packets, strict=True))]
    try:
        for p in peripherals:
            await p.start()
        session = StreamSession([DeviceSpec(p.address, "imu-stream", p.name) for p in peripherals],
                                backend=BumbleClient, retry=RetryPolicy(connect_timeout=20.0), output_maxsize=0)
        t_connect = time.monotonic()
        await session.start()
        try:
            await session.wait_connected(60.0)
        except (TimeoutError, Exception) as e:  # noqa: B014 - report any connect failure as a result
            await session.stop()
            return {"devices": n, "error": f"{type(e).__name__}: {e}", "zero_loss": False, "cpu_utilisation": 0.0}
        connect_s = time.monotonic() - t_connect
        # measured window: every device connected and streaming, until the first replay ends
        before = sum(c["packets"] for c in session.counters().values())
        wall0, cpu0 = time.monotonic(), time.process_time()
        waits = [asyncio.ensure_future(p.finished.wait()) for p in peripherals]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        window_packets = sum(c["packets"] for c in session.counters().values()) - before
        await asyncio.gather(*(p.wait_finished(length * 2 + 30) for p in peripherals))
        await asyncio.sleep(0.2)
        await session.stop()
    finally:
        await close_radio()
    counters = session.counters()
    expected = sum(len(s.series) for s in specs)
    received = sum(c["samples"] for c in counters.values())
    lost_packets = sum(c["lost_packets"] + c["dropped"] for c in counters.values())
    base = in_memory_cost([x for _, x in packets[0]])
    per_packet = cpu / max(1, window_packets)
    return {
        "devices": n, "measured_window_s": round(wall, 3), "connect_all_s": round(connect_s, 3),
        "samples_expected": expected, "samples_received": received, "packets_in_window": window_packets,
        "lost_packets": lost_packets, "zero_loss": received == expected and lost_packets == 0,
        "cpu_utilisation": round(cpu / wall, 3),
        "cpu_s_per_device_per_s": round(cpu / wall / n, 5),
        "pipeline_cpu_us_per_packet": round(per_packet * 1e6, 1),
        "in_memory_decode_us_per_packet": round(base * 1e6, 1),
        "ratio_pipeline_to_in_memory": round(per_packet / base, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="streamed seconds per N (default: %(default)s)")
    ap.add_argument("--max-devices", type=int, default=64,
                    help="largest N (default: %(default)s; N=128 does not connect within 60 s in the bumble emulation)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ble.json"))
    args = ap.parse_args()
    started = time.monotonic()
    runs, stop_reason = sweep_devices(lambda n: asyncio.run(run_n(n, args.seconds)), args.max_devices)
    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "setup": {"rate_hz": RATE_HZ, "axes": 6, "samples_per_packet": SAMPLES_PER_PACKET,
                  "packets_per_s_per_device": RATE_HZ / SAMPLES_PER_PACKET, "pacing": "real time (timestamps)",
                  "path": "VirtualPeripheral (bumble) -> LocalLink -> BleakClient(BumbleClient) -> "
                          "ImuStreamConnection queue -> StreamSession decode + integrity -> SI batches",
                  "note": "CPU includes emulated peripherals, radio and both bumble host stacks in one process"},
        "runs": runs,
        "stop_reason": stop_reason,
        "largest_zero_loss_devices": largest_ok(runs, unsaturated=False),
        "largest_zero_loss_unsaturated_devices": largest_ok(runs),
        "total_wall_s": round(time.monotonic() - started, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"largest N with zero loss: {result['largest_zero_loss_devices']} ({stop_reason}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
