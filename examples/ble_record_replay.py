"""Record a virtual device to a file while streaming it, then replay the file offline.

The live stream (virtual watch -> bleak + bumble -> decode -> integrity) is recorded packet by packet;
decoding the recording afterwards gives exactly the same samples and timestamps.

    python examples/ble_record_replay.py --out /tmp/demo.m3erec
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np

from firmware_bridge import (
    DeviceSpec,
    FaultConfig,
    StreamBatch,
    StreamSession,
    close_radio,
    concat_batches,
    decode_recording,
    get_backend,
    make_virtual_peripheral,
    recording_decoders,
)
from toolkit.cli.replays import resolve_virtual


async def record(path: Path, name: str, speed: float) -> list[StreamBatch]:
    spec = resolve_virtual(name)
    # a little loss, duplication and reordering, as over a real radio
    watch = make_virtual_peripheral(spec, speed=speed, faults=FaultConfig(loss_prob=0.03, duplicate_prob=0.03,
                                                                       reorder_prob=0.03, seed=1))
    await watch.start()
    try:
        backend = get_backend(virtual=True)  # the in-process radio ("virtual"); real watches: get_backend()
        async with StreamSession([DeviceSpec(watch.address, spec.profile, "watch")], backend=backend.client,
                                 backend_id=backend.id, record_to=path) as session:
            await session.wait_connected(5.0)
            await watch.wait_finished(30.0)
            await asyncio.sleep(0.1)
        print("live counters:", session.counters()["watch"])
        return [b async for b in session]
    finally:
        await close_radio()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="recording file (default: a temporary file)")
    ap.add_argument("--virtual", default="sine:2", help="virtual device name (default: %(default)s)")
    ap.add_argument("--speed", type=float, default=4.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.out) if args.out else Path(tmp) / "demo.m3erec"
        path.unlink(missing_ok=True)
        live = asyncio.run(record(path, args.virtual, args.speed))
        offline = decode_recording(path, recording_decoders(), with_integrity=True)
        a = concat_batches(live)
        b = concat_batches([rb.batch.to_si() for rb in offline.batches])
        same = all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
        print(f"{path.name}: {path.stat().st_size} bytes; live {len(a['acc'])} samples, "
              f"replayed {len(b['acc'])} samples; identical: {same}")
        return 0 if same and len(a["acc"]) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
