"""A virtual watch on the in-process BLE radio, read with the plain bleak API.

Starts a virtual imu-stream watch (a generated signal, or a real sp-sw-har recording with
``--recording s05_03``), finds it with ``BleakScanner``, connects with ``BleakClient`` (both with the
``bumble`` backend injected, nothing else differs from real hardware), subscribes, writes the start
command and prints decoded samples (acc m/s^2, gyro rad/s, device frame).

    python examples/ble_virtual_watch.py
    python examples/ble_virtual_watch.py --recording s05_03 --speed 5
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bleak import BleakClient, BleakScanner

from firmware_bridge import close_radio, get_backend, make_virtual_peripheral
from firmware_bridge.protocols import imu_stream
from toolkit.cli.replays import resolve_virtual


async def main(recording: str | None, seconds: float, speed: float, data_root: str | None) -> int:
    spec = resolve_virtual(f"sp-sw-har:{recording}" if recording else f"sine:{seconds}", data_root)
    watch = make_virtual_peripheral(spec, speed=speed)
    await watch.start()
    try:
        device = await BleakScanner.find_device_by_filter(
            lambda _d, adv: imu_stream.SERVICE_UUID in adv.service_uuids, timeout=5.0,
            backend=get_backend(virtual=True).scanner)
        if device is None:
            print("no imu-stream device found", file=sys.stderr)
            return 1
        print(f"found {device.name} at {device.address}")
        decoder = imu_stream.ImuStreamDecoder()
        count = 0

        def on_notify(_char: object, data: bytearray) -> None:
            nonlocal count
            for batch in decoder.decode(data):
                for i in range(len(batch)):
                    if count % 25 == 0:
                        a, g = batch.acc[i], batch.gyro[i]
                        print(f"seq {batch.seq:5d} t={batch.device_time_s[i]:.3f} s  "
                              f"acc=({a[0]:+7.3f},{a[1]:+7.3f},{a[2]:+7.3f}) m/s^2  "
                              f"gyro=({g[0]:+6.3f},{g[1]:+6.3f},{g[2]:+6.3f}) rad/s")
                    count += 1

        async with BleakClient(device, backend=get_backend(virtual=True).client) as client:
            print(f"connected, MTU {client.mtu_size}")
            await client.start_notify(imu_stream.DATA_CHAR_UUID, on_notify)
            await client.write_gatt_char(imu_stream.CONTROL_CHAR_UUID, imu_stream.CMD_START, response=True)
            await watch.wait_finished(timeout=len(spec.series) / spec.series.rate_hz / speed + 10)
            await asyncio.sleep(0.1)
        print(f"received {count} samples of {len(spec.series)} ({decoder.decoded_packets} packets)")
        return 0 if count == len(spec.series) else 1
    finally:
        await close_radio()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recording", help="sp-sw-har recording sXX_YY (default: a generated sine)")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of the generated signal")
    ap.add_argument("--speed", type=float, default=4.0, help="replay speed (1 = real time)")
    ap.add_argument("--data-root", help="folder holding sp-sw-har/ (default: $MULTI3EDGE_DATA or ../shared/data)")
    a = ap.parse_args()
    sys.exit(asyncio.run(main(a.recording, a.seconds, a.speed, a.data_root)))
