"""Stream a recording through the streaming engine, packet by packet, and compare with offline inference.

The engine (:mod:`toolkit.stream`) takes the samples of each device as they arrive (here: 5-sample packets of a
real sp-sw-har watch recording, with its jittery timestamps), applies the device's calibration, resamples to the
model rate, cuts windows as the manifest says and classifies them with the exported int8 model. The same
recording classified offline in one go gives the same predictions.

    python examples/stream_replay.py [--model toolkit/default_model/edge/watch] [--runtime tflite]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from calibration import DeviceCalibration, Mount, get_real_profile
from export import load_artefact
from toolkit.cli.replays import resolve_virtual
from toolkit.stream import LabelTrack, StreamEngine, offline_predictions

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "toolkit" / "default_model" / "edge" / "watch"))
    ap.add_argument("--runtime", choices=("pte", "tflite", "onnx"), default="pte")
    ap.add_argument("--recording", default="sp-sw-har:s05_03", help="a virtual device name (default: %(default)s)")
    ap.add_argument("--data-root", default=str(REPO / "tests" / "fixtures"))
    args = ap.parse_args()

    model = load_artefact(args.model, args.runtime, "int8")  # hash-checked against the manifest
    series = resolve_virtual(args.recording, args.data_root).series
    rate = float(series.meta.get("nominal_rate_hz", series.rate_hz))
    calibration = DeviceCalibration.identity("watch", get_real_profile("wear-os-watch"), Mount(wrist="left"))
    labels = LabelTrack(series.t_s, series.labels)

    engine = StreamEngine(model, smoothing_k=3)
    engine.add_device("watch", calibration.apply, source_rate_hz=rate)
    live = []
    for start in range(0, len(series), 5):  # one BLE packet at a time
        sl = slice(start, start + 5)
        live += engine.push("watch", series.t_s[sl], series.acc[sl], series.gyro[sl], arrival_s=time.time())
    live += engine.flush()

    print(f"{args.recording}: {len(series)} samples, {len(live)} windows of {engine.window_s:g} s "
          f"({model.entry['target']} int8)")
    print(f"{'t [s]':>6}  {'true':<13} {'predicted':<13} conf   smoothed")
    for p in live:
        true = labels.label_of(p.t_start_s, p.t_end_s)
        print(f"{p.t_start_s - series.t_s[0]:6.1f}  {true:<13} {p.label:<13} {p.confidence:.2f}   {p.smoothed_label}")

    offline = offline_predictions(model, series.t_s, series.acc, series.gyro, transform=calibration.apply,
                                  source_rate_hz=rate)
    same = [a.label for a in live] == [b.label for b in offline]
    print(f"offline inference over the whole recording gives the same {len(offline)} predictions: {same}")
    print(f"engine stats: {engine.stats('watch')}")
    return 0 if same and live else 1


if __name__ == "__main__":
    sys.exit(main())
