"""Helper for test_recording.py: records deterministic packets as fast as asked until killed.

Usage: python recorder_child.py PATH FLUSH_INTERVAL_S RECORDS_PER_S
Prints ``synced N`` (flushed) each time the writer has fsync'ed N records.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from firmware_bridge.protocols.imu_stream import DATA_CHAR_UUID  # noqa: E402
from firmware_bridge.recording import RecordingWriter  # noqa: E402
from tests.firmware_bridge.test_recording import DEVICE, record_payload, record_time  # noqa: E402


def main() -> None:
    path, interval, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])

    def on_sync(n: int) -> None:
        sys.stdout.write(f"synced {n}\n")
        sys.stdout.flush()

    w = RecordingWriter(path, flush_interval_s=interval, on_sync=on_sync)
    i = 0
    next_t = time.monotonic()
    while True:
        w.write(DEVICE, DATA_CHAR_UUID, record_payload(i), host_time=record_time(i))
        i += 1
        next_t += 1.0 / rate
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)


if __name__ == "__main__":
    main()
