"""Calibrate a watch from a recording of the calibration protocol, then use the calibration.

1. A virtual watch worn on the RIGHT wrist, face on the palmar side (the "wrong" way round), performs the protocol
   (arm hanging, arm forward palm down); its packets travel over bleak + bumble and are recorded to a .m3erec file.
2. The recording is decoded (:mod:`firmware_bridge.playback`) and the procedure (:mod:`calibration.procedure`)
   finds the two still poses, the mount rotation, the gyroscope bias and the sample rate.
3. The calibration is saved per device id (:class:`calibration.device.CalibrationFile`) and applied: the watch's
   readings land in the canonical LEFT dorsal watch frame the models were trained on.

    python examples/calibrate_from_recording.py [--out calibration.json]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np

from calibration import CalibrationFile, Mount, calibrate_stream
from firmware_bridge import (
    DeviceSpec,
    StreamSession,
    close_radio,
    get_backend,
    make_virtual_peripheral,
    recorded_streams,
)
from toolkit.cli.replays import resolve_virtual

WEARING = "protocol@right@palmar"


async def record_protocol(path: Path) -> None:
    """Record the virtual watch doing the protocol (4x real time)."""
    watch = make_virtual_peripheral(resolve_virtual(WEARING), speed=4.0)
    await watch.start()
    try:
        backend = get_backend(virtual=True)  # the in-process radio ("virtual"); real watches: get_backend()
        async with StreamSession([DeviceSpec(watch.address, "imu-stream", "my-watch")], backend=backend.client,
                                 backend_id=backend.id, record_to=path) as session:
            await session.wait_connected(5.0)
            await watch.wait_finished(30.0)
            await asyncio.sleep(0.2)
    finally:
        await close_radio()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="calibration file to write (default: a temporary file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "protocol.m3erec"
        asyncio.run(record_protocol(recording))

        stream = recorded_streams(recording)["my-watch"]
        a = stream.arrays()
        cal = calibrate_stream(a["t_s"], a["acc"], a["gyro"], device_id="my-watch", profile="imu-stream",
                               wrist="right", device_time_s=a["device_time_s"])
        truth = Mount(wrist="right", face="palmar").rotation()
        err = np.degrees(np.arccos(np.clip((np.trace(truth.T @ cal.rotation_to_wrist()) - 1) / 2, -1, 1)))
        print(f"{len(stream)} samples from {recording.name}")
        print("measured mount rotation (device -> dorsal right-wrist frame):")
        print(np.round(cal.rotation_to_wrist(), 3))
        print(f"error vs the true wearing (right wrist, palmar): {err:.2f} deg")
        print("notes:", *cal.notes, sep="\n  ")

        out = Path(args.out) if args.out else Path(tmp) / "calibration.json"
        CalibrationFile({cal.device_id: cal}).save(out)
        again = CalibrationFile.load(out).get("my-watch")

        # the first second is the arm hanging: in the canonical LEFT dorsal frame that reads (-9.81, 0, 0)
        acc, _ = again.apply(a["acc"][:100], a["gyro"][:100])
        print(f"calibration saved to {out}; hanging arm after calibration reads "
              f"{np.round(acc.mean(axis=0), 2)} m/s^2 (expected about [-9.81, 0, 0])")
        return 0 if err < 3.0 and acc.mean(axis=0)[0] < -9.0 else 1


if __name__ == "__main__":
    sys.exit(main())
