"""``edge-stream``: live activity recognition on BLE IMU devices (real or virtual) with an exported model.

Pipeline: BLE (:mod:`firmware_bridge.session`, bleak; virtual devices over the bumble backend) -> per-device
calibration into the simulator's watch frame (:mod:`calibration.device`) -> :mod:`toolkit.stream` engine
(resampling, gap-aware windows, inference in ExecuTorch / LiteRT / ONNX Runtime, smoothing) -> terminal view,
``--json`` lines, optional Lab Streaming Layer outlet. Every raw packet is recorded (``--record``), so an
interrupted session (Ctrl-C) leaves a valid recording that ``edge-stream --recording`` and ``edge-calibrate
--recording`` can read again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from calibration.device import SI_UNITS, CalibrationFile, DeviceCalibration
from export.manifest import load_artefact
from firmware_bridge.connect import (
    default_recording_path,
    output_on_success,
    start_and_connect,
    stop_on_signals,
)
from firmware_bridge.devices import get_profile as get_ble_profile
from firmware_bridge.playback import open_recording
from firmware_bridge.recording import events_of
from firmware_bridge.session import StreamSession
from firmware_bridge.transport import RetryPolicy
from firmware_bridge.virtual.catalog import NAME_FORMS, VirtualDeviceSpec
from firmware_bridge.virtual.peripheral import FaultConfig
from toolkit.cli.args import (
    MAX_THREADS,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from toolkit.cli.devices import PROFILE_HELP, add_e4_option, event_line, event_record, split_profile
from toolkit.cli.replays import resolve_virtual
from toolkit.cli.sources import check_source, open_source
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError
from toolkit.mount import Mount, wear_keywords
from toolkit.programs import EXIT_USAGE, output_file, parse_args, run_cli
from toolkit.resources import default_watch_bundle
from toolkit.stream.bundles import choose_bundle
from toolkit.stream.engine import StreamEngine
from toolkit.stream.live import LabelTrack, LiveRunner, prediction_record
from toolkit.strict_json import dumps as strict_dumps

PROG = "edge-stream"
DEFAULT_MODEL = "dist"
FALLBACK_MODEL = "the packaged toolkit/default_model/edge"

EXAMPLES = f"""\
examples:
  # a virtual watch replaying a real sp-sw-har recording (no hardware needed)
  {PROG} --virtual sp-sw-har:s05_03 --model dist/watch

  # the same on the recording committed with the repository, through ONNX Runtime, JSON lines out
  {PROG} --virtual sp-sw-har:s05_03 --data-root tests/fixtures --runtime onnx --json

  # both wrists at once: the second watch is worn on the right wrist; each device gets its own mount
  {PROG} --virtual sp-sw-har:s05_03 sp-sw-har:s05_03@right --mount M3E-sp-sw-har:s05_03@right=right

  # a labelled replay of every recording of held-out subject s01 with 5 % packet loss and 20 ms jitter
  {PROG} --virtual sp-sw-har:s01 --loss 0.05 --jitter-ms 20 --speed 4

  # a real watch running an imu-stream app, calibrated with edge-calibrate beforehand
  {PROG} --device "Galaxy Watch" --calibration calibration.json --model dist/watch

  # an Empatica E4 through Empatica's E4 streaming server (port 28000) with an accelerometer-only bundle;
  # button presses show up as tags (terminal and --json lines); `--e4-server virtual` needs no hardware
  {PROG} --e4-server 192.168.1.20 --model dist/watch-acc --json
  {PROG} --e4-server virtual --model dist/watch-acc --seconds 30

  # your own trial file replayed over BLE at its real rate; the device description converts its raw values
  edge-stream --virtual file:my_data/wave/trial-07.txt --profile my_watch.yaml --wrist right --model dist

  # stream a recording (from edge-record / edge-stream) through the engine, as fast as it decodes
  {PROG} --recording recordings/run1.m3erec --json

Model: an edge-export bundle folder, or a folder of bundles (default {DEFAULT_MODEL}, else {FALLBACK_MODEL}):
a device without gyroscope (an E4, an accelerometer-only --profile) gets its watch-acc bundle, the others watch.
Calibration: devices listed in --calibration use their calibration; the others get their profile's axes and
--wrist/--face (or --mount DEVICE=right[,palmar][,rotDEG]). Ctrl-C stops cleanly and keeps the recording.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Run an exported activity model live on BLE IMU devices.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("source (one of)")
    src.add_argument("--device", action="append", metavar="NAME_OR_ADDRESS",
                     help="a real device: address or advertised name (prefix); repeatable; with --e4-server: the "
                          "E4's id")
    src.add_argument("--virtual", nargs="+", action="append", metavar="NAME",
                     help=f"virtual devices on the in-process bumble radio ({NAME_FORMS})")
    src.add_argument("--recording", metavar="FILE", help="a .m3erec recording to stream through the engine")
    add_e4_option(src)
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--data-root", help="folder holding sp-sw-har/ (default: $MULTI3EDGE_DATA, else ../shared/data)")
    m = p.add_argument_group("model")
    m.add_argument("--model", default=DEFAULT_MODEL, help="edge-export bundle folder (default: %(default)s)")
    m.add_argument("--runtime", choices=("pte", "tflite", "onnx"), default="pte",
                   help="pte = ExecuTorch, tflite = LiteRT, onnx = ONNX Runtime (default: %(default)s)")
    m.add_argument("--precision", choices=("int8", "fp32"), default="int8", help="default: %(default)s")
    m.add_argument("--threads", type=positive_int(MAX_THREADS), default=1,
                   help="inference threads (default: %(default)s)")
    m.add_argument("--smoothing", type=positive_int(10_000), default=3,
                   help="smooth over the last K windows (default: %(default)s)")
    c = p.add_argument_group("calibration")
    c.add_argument("--calibration", metavar="FILE", help="calibration file written by edge-calibrate")
    c.add_argument("--wrist", choices=("left", "right"), default="left",
                   help="wrist of devices not in --calibration (default: %(default)s)")
    c.add_argument("--face", choices=("dorsal", "palmar"), default="dorsal", help="default: %(default)s")
    c.add_argument("--mount", action="append", metavar="DEVICE=WRIST[,FACE][,rotDEG]",
                   help="mount of one device not in --calibration, e.g. M3E-x=right,palmar; repeatable")
    v = p.add_argument_group("virtual devices")
    v.add_argument("--speed", type=positive_float(1e6), default=1.0, help="replay speed (1 = real time)")
    v.add_argument("--loss", type=probability(), default=0.0, help="packet loss probability to inject, 0..1")
    v.add_argument("--jitter-ms", type=non_negative_float(60_000.0), default=0.0,
                   help="notification timing jitter (sd) to inject [ms]")
    v.add_argument("--seed", type=non_negative_int(), default=0, help="seed of the injected faults")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="one JSON line per prediction on stdout, a summary at the end")
    rec = o.add_mutually_exclusive_group()
    rec.add_argument("--record", metavar="FILE", help="record every raw packet here (default: "
                                                      "recordings/edge-stream-<time>.m3erec)")
    rec.add_argument("--no-record", action="store_true", help="do not record")
    o.add_argument("--seconds", type=positive_float(), help="stop after this many seconds")
    o.add_argument("--timeout", type=positive_float(3600.0), default=10.0,
                   help="scan / connect timeout [s] (default: %(default)s)")
    o.add_argument("--lsl", action="store_true", help="publish predictions as a Lab Streaming Layer outlet (pylsl)")
    o.add_argument("--quiet", action="store_true", help="no terminal view")
    return p


# --------------------------------------------------------------------------- set-up
def parse_mount(text: str) -> tuple[str, dict[str, Any]]:
    """``"DEV=right,palmar,rot30"`` -> ``("DEV", {"wrist": "right", "face": "palmar", "rotation_deg": 30.0})``."""
    dev, sep, spec = text.rpartition("=")
    if not sep or not dev or not spec:
        raise ConfigError(f"--mount {text!r}: expected DEVICE=WRIST[,FACE][,rotDEG], e.g. M3E-watch=right,palmar")
    try:
        return dev, wear_keywords(part.strip() for part in spec.split(","))
    except ValueError as e:
        part = str(e)
        if part.startswith("rot"):
            raise ConfigError(f"--mount {text!r}: {part!r} must be rotDEG, e.g. rot30") from None
        raise ConfigError(f"--mount {text!r}: unknown part {part!r} (left/right, dorsal/palmar, rotDEG)") from None


def resolve_model_folder(model: str, has_gyro: bool = True) -> Path:
    """The bundle folder of ``--model`` for a device with / without gyroscope (:func:`choose_bundle`); the default
    (``dist``) falls back to the packaged default model's bundles when ``dist`` holds none."""
    if model == DEFAULT_MODEL and not Path(model).is_dir():
        packaged = default_watch_bundle(check=False).parent
        if (packaged / "watch" / "manifest.json").is_file():
            return choose_bundle(packaged, has_gyro)
    return choose_bundle(model, has_gyro)


def source_has_gyro(args: argparse.Namespace, virtual: list[Any]) -> bool:
    """Whether the stream's source has a gyroscope, as far as it is known before connecting (for the bundle choice;
    a real BLE device without ``--profile`` is assumed to have one, and the engine refuses it later if not)."""
    if args.e4_server is not None:
        return False
    if args.description is not None:
        return bool(args.description.has_gyro)
    if args.ble_profile is not None:
        return bool(get_real_profile(get_ble_profile(args.ble_profile).real_profile).has_gyro)
    if virtual:
        return all(spec.series.gyro is not None for spec in virtual)
    return True


class Calibrations:
    """Per-device transforms: the calibration file's entries, else the profile's axes and a mount."""

    def __init__(self, path: str | None, wrist: str, face: str, mounts: dict[str, dict[str, Any]],
                 raw_devices: dict[str, Any] | None = None, description: Any = None) -> None:
        self.file = CalibrationFile.load(path) if path else None
        self.wrist, self.face, self.mounts = wrist, face, mounts
        self.raw_devices = raw_devices or {}  # device id -> RealDeviceProfile of its raw values (file: replays)
        self.description = description  # --profile device description: replaces the BLE protocol's axes
        self.used: dict[str, str] = {}  # device id -> how it was calibrated (for the view / summary)

    def for_device(self, device_id: str, ble_profile: str) -> Any:
        cal = self.file.get(device_id) if self.file is not None and device_id in self.file else None
        if cal is not None:
            self.used[device_id] = "calibration file"
            return functools.partial(cal.apply, units=SI_UNITS)  # the session delivers SI: checked against the file
        mount = Mount(**{"wrist": self.wrist, "face": self.face, **self.mounts.get(device_id, {})})
        self.used[device_id] = f"profile + mount {mount.wrist}/{mount.face}" + (
            f"/{mount.rotation_deg:g}deg" if mount.rotation_deg else "")
        if device_id in self.raw_devices:  # raw device values: the --profile converts them, then the mount
            raw = self.raw_devices[device_id]
            self.used[device_id] += f", raw values through profile {raw.name}"
            mounted = DeviceCalibration.identity(device_id, get_real_profile("wear-os-watch"), mount).apply

            def from_raw(acc: np.ndarray, gyro: np.ndarray | None = None, **_: Any) -> Any:
                return mounted(*raw.to_simulator(acc, gyro), units=SI_UNITS)

            return from_raw
        if self.description is not None:
            profile = self.description
            self.used[device_id] += f", axes of profile {profile.name}"
        else:
            profile = get_real_profile(get_ble_profile(ble_profile).real_profile)
        return functools.partial(DeviceCalibration.identity(device_id, profile, mount).apply, units=SI_UNITS)


def raw_device_profile(args: argparse.Namespace) -> Any:
    """The device description that converts a ``--virtual file:PATH`` replay's raw values (``--profile``)."""
    if args.description is None:
        raise ConfigError("--virtual file:PATH sends the file's raw device values: give --profile (the device "
                          "description that converts them)")
    return args.description


# --------------------------------------------------------------------------- output
class JsonLines:
    """``--json``: one JSON object per prediction on ``out``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def __call__(self, p: Any, true: str | None) -> None:
        out = self.out or sys.stdout
        out.write(strict_dumps(prediction_record(p, true)) + "\n")
        out.flush()


class LslOutlet:
    """``--lsl``: one Lab Streaming Layer outlet per device (irregular rate, float32: class probabilities,
    smoothed probabilities' argmax index, latency ms)."""

    def __init__(self, classes: list[str]) -> None:
        try:
            import pylsl  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError("--lsl needs pylsl (pip install pylsl; it bundles liblsl on most platforms)") from None
        self.pylsl, self.classes, self.outlets = pylsl, classes, {}

    def __call__(self, p: Any, true: str | None) -> None:
        outlet = self.outlets.get(p.device_id)
        if outlet is None:
            n = len(self.classes) + 2
            info = self.pylsl.StreamInfo(f"multi3edge-{p.device_id}", "Activity", n, self.pylsl.IRREGULAR_RATE,
                                         "float32", f"multi3edge-{p.device_id}")
            chans = info.desc().append_child("channels")
            for name in [*self.classes, "smoothed_index", "latency_ms"]:
                chans.append_child("channel").append_child_value("label", name)
            outlet = self.outlets[p.device_id] = self.pylsl.StreamOutlet(info)
        outlet.push_sample([*map(float, p.probs), float(self.classes.index(p.smoothed_label)),
                            1e3 * float(p.latency_s)])


def _pct(values: list[float], q: float) -> float | None:
    """The q-th percentile, rounded to µs; None (JSON null) when there is nothing to measure."""
    return round(float(np.percentile(values, q)), 3) if values else None


def device_summary(runner: Any, device_id: str, counters: dict[str, Any] | None) -> dict[str, Any]:
    """Per-device figures for the terminal view and the JSON summary."""
    preds = runner.predictions.get(device_id, [])
    lat = [1e3 * p.latency_s for p in preds]
    out: dict[str, Any] = {"device": device_id, "windows": len(preds),
                           "flagged_windows": sum(1 for p in preds if p.flagged),
                           "latency_ms_p50": _pct(lat, 50), "latency_ms_p99": _pct(lat, 99)}
    with contextlib.suppress(Exception):
        st = runner.engine.stats(device_id)
        out["dropped_windows"] = int(st.get("dropped_windows", 0))
    if counters is not None:
        out.update({k: counters.get(k) for k in ("packets", "lost_packets", "lost_samples", "duplicates", "connected",
                                                 "reconnects", "device_packets") if k in counters})
    score = runner.scores.get(device_id)
    if score is not None and len(score):
        out.update({"labelled_windows": len(score), "accuracy": round(score.accuracy, 4),
                    "macro_f1": round(score.macro_f1(), 4), "macro_f1_smoothed": round(score.macro_f1(True), 4)})
    if preds:
        last = preds[-1]
        out.update({"activity": last.smoothed_label, "confidence": round(float(last.smoothed_confidence), 3)})
    return out


def render_view(runner: Any, counters: dict[str, dict[str, Any]], device_ids: list[str], header: str,
                states: dict[str, str]) -> list[str]:
    """The terminal view: one line per device."""
    rows = [("DEVICE", "STATE", "PKTS", "LOST", "ACTIVITY", "CONF", "LAT p50/p99 ms", "WINDOWS", "ACC")]
    for dev in device_ids:
        s = device_summary(runner, dev, counters.get(dev))
        pk, lost = s.get("packets"), s.get("lost_packets")
        lost_txt = "-" if lost is None else (f"{lost} ({100 * lost / max(1, (pk or 0) + lost):.1f}%)")
        acc = f"{100 * s['accuracy']:.1f}% ({s['labelled_windows']})" if "accuracy" in s else "-"
        lat = "-" if not s["windows"] else f"{s['latency_ms_p50']:.1f}/{s['latency_ms_p99']:.1f}"
        rows.append((dev, states.get(dev, "?"), "-" if pk is None else str(pk), lost_txt, s.get("activity", "..."),
                     f"{s['confidence']:.2f}" if "confidence" in s else "-", lat,
                     f"{s['windows']}" + (f" ({s['flagged_windows']} flagged)" if s["flagged_windows"] else ""), acc))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [header] + ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


class View:
    """Redraws the view in place on a terminal; elsewhere prints it every few seconds (or never with quiet)."""

    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out, self.quiet = out, quiet
        self.tty = out.isatty()
        self.lines_drawn = 0
        self.next_plain = 0.0

    def draw(self, lines: list[str], now: float, final: bool = False) -> None:
        if self.quiet and not final:
            return
        if self.tty:
            if self.lines_drawn:
                self.out.write(f"\x1b[{self.lines_drawn}F")
            self.out.write("".join(f"\x1b[2K{line}\n" for line in lines))
            self.lines_drawn = len(lines)
        elif final or now >= self.next_plain:
            self.next_plain = now + 5.0
            self.out.write("\n".join(lines) + "\n")
        self.out.flush()


def with_device_side_loss(counters: dict[str, dict[str, Any]], peripherals: dict[str, Any]
                          ) -> dict[str, dict[str, Any]]:
    """Loss from the sender's sequence numbers where the sender is known (virtual devices).

    The receiver sees a hole only between two packets that arrived: packets lost before the first or after the
    last one that arrived (with ``--loss 0.99``: all of them) are invisible to it. A virtual device numbers every
    packet it generates; ``device_packets`` counts those it put on the link while a central was subscribed (sent
    once each, or lost to the injected loss), and ``lost_packets`` = device packets - distinct packets delivered,
    when larger than what the receiver counted.
    """
    out = {}
    for dev, c in counters.items():
        c = dict(c)
        p = peripherals.get(dev)
        pc = getattr(p, "counters", None)
        if pc is not None:
            generated = int(pc.sent) - int(pc.duplicated) + int(pc.dropped_loss)
            delivered = max(0, int(c.get("data_packets", c.get("packets", 0))) - int(c.get("duplicates", 0))
                            - int(c.get("late", 0)))
            c["device_packets"] = generated
            c["lost_packets"] = max(int(c.get("lost_packets") or 0), generated - delivered)
        out[dev] = c
    return out


# --------------------------------------------------------------------------- run
def make_engine(args: argparse.Namespace, has_gyro: bool = True) -> tuple[Any, Any]:
    folder = resolve_model_folder(args.model, has_gyro)
    artefact = load_artefact(folder, args.runtime, args.precision, threads=args.threads)
    return artefact, StreamEngine(artefact, smoothing_k=args.smoothing)


def make_runner(args: argparse.Namespace, engine: Any, listeners: list[Any],
                labels: dict[str, Any] | None = None, rates: dict[str, float] | None = None,
                raw_devices: dict[str, Any] | None = None) -> Any:
    mounts = dict(parse_mount(m) for m in (args.mount or []))
    cals = Calibrations(args.calibration, args.wrist, args.face, mounts, raw_devices, args.description)
    runner = LiveRunner(engine, default_transform=cals.for_device, labels=labels, source_rates_hz=rates,
                        listeners=listeners)
    runner.calibrations = cals  # type: ignore[attr-defined]
    return runner


def _summary(runner: Any, counters: dict[str, dict[str, Any]], device_ids: list[str], artefact: Any,
             interrupted: bool, record: Path | None, elapsed_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "summary", "model": str(artefact.folder), "runtime": artefact.entry["target"],
                           "precision": artefact.entry["precision"], "elapsed_s": round(elapsed_s, 3),
                           "interrupted": interrupted, "recording": str(record) if record else None,
                           "devices": [device_summary(runner, d, counters.get(d)) for d in device_ids]}
    pooled = runner.pooled_score()
    if len(pooled):
        out.update({"labelled_windows": len(pooled), "accuracy": round(pooled.accuracy, 4),
                    "macro_f1": round(pooled.macro_f1(), 4), "macro_f1_smoothed": round(pooled.macro_f1(True), 4)})
    return out


def _print_summary(summary: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(strict_dumps(summary), flush=True)
    msg = f"{PROG}: {sum(d['windows'] for d in summary['devices'])} windows from {len(summary['devices'])} device(s)"
    if "macro_f1" in summary:
        msg += (f"; labelled replay: accuracy {100 * summary['accuracy']:.1f} %, macro F1 "
                f"{100 * summary['macro_f1']:.1f} (smoothed {100 * summary['macro_f1_smoothed']:.1f}) over "
                f"{summary['labelled_windows']} windows")
    if summary["recording"]:
        msg += f"; recording: {summary['recording']}"
    damage = summary.get("recording_check", {}).get("description")
    if damage:
        msg += f"; recording damaged: {damage}"
    lossy = [d for d in summary["devices"] if d.get("device_packets") and d.get("lost_packets")]
    for d in lossy:
        msg += (f"; {d['device']}: {d['lost_packets']} of {d['device_packets']} packets lost "
                f"({100 * d['lost_packets'] / d['device_packets']:.1f} %)")
    print(msg + (" (interrupted)" if summary["interrupted"] else ""), file=sys.stderr)


def stream_recording(args: argparse.Namespace) -> int:
    """``--recording``: every device of a recording through the engine, in recorded order."""
    # a folder of bundles: the recording says whether its devices have a gyroscope; a bundle: the model first
    replay = None if (Path(args.model) / "manifest.json").is_file() else open_recording(args.recording)
    has_gyro = replay is None or all(b.gyro is not None for st in replay.streams.values() for b in st.batches)
    artefact, engine = make_engine(args, has_gyro)
    replay = replay or open_recording(args.recording)
    streams = replay.streams
    listeners = [JsonLines()] if args.json else []
    runner = make_runner(args, engine, listeners)
    started = time.perf_counter()
    for dev, stream in streams.items():
        for b in stream.batches:
            t = b.device_time_s if b.device_time_s is not None else b.host_time_s
            runner.feed(dev, t, b.acc, b.gyro, arrival_s=None, ble_profile=stream.profile)
    runner.finish()
    tags = 0
    for ev in events_of(replay.contents, ("tag", "device-status", "device-gone")):  # E4 button tags, status lines
        tags += ev.kind == "tag"
        record = event_record(ev.event, ev.device_id, ev.host_time)
        if args.json and record is not None:
            print(strict_dumps(record), flush=True)
        line = event_line(ev.event, ev.device_id)
        if line is not None and not args.quiet:
            print(f"{PROG}: {line}", file=sys.stderr)
    summary = _summary(runner, {}, list(streams), artefact, False, None, time.perf_counter() - started)
    summary["recording_check"] = {**replay.report(), "description": replay.describe() or None}
    summary["tags"] = tags
    if not args.quiet:
        header = f"{PROG}: {args.recording}" + (f"  [{replay.describe()}]" if replay.describe() else "")
        View(sys.stderr, False).draw(render_view(runner, {}, list(streams), header,
                                                 dict.fromkeys(streams, "replayed")), 0.0, final=True)
    _print_summary(summary, args)
    return 0


class Events:
    """Device events (E4 button tags, status lines): a terminal line, a ``--json`` line, a count for the view."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines
        self.tags = 0
        self.last_tag = ""

    def __call__(self, ev: Any) -> None:
        if ev.event.get("event") == "tag":
            self.tags += 1
            self.last_tag = time.strftime("%H:%M:%S", time.localtime(ev.host_time))
        record = event_record(ev.event, ev.device_id, ev.host_time)
        if self.json_lines and record is not None:
            print(strict_dumps(record), flush=True)
        line = event_line(ev.event, ev.device_id)
        if line is not None:
            print(f"{PROG}: {line}", file=sys.stderr, flush=True)

    def header(self) -> str:
        return f"  tags: {self.tags} (last {self.last_tag})" if self.tags else ""


async def _stream_live(args: argparse.Namespace, virtual: list[VirtualDeviceSpec]) -> int:
    # the source must be reachable before the model is loaded (seconds) and before any file or folder is made
    await check_source(args.e4_server, virtual, args.timeout)
    artefact, engine = make_engine(args, source_has_gyro(args, virtual))
    listeners: list[Any] = [JsonLines()] if args.json else []
    if args.lsl:
        listeners.append(LslOutlet(list(artefact.classes)))
    record = None if args.no_record else Path(args.record) if args.record else default_recording_path(PROG, False)
    faults = FaultConfig(loss_prob=args.loss, jitter_sd=args.jitter_ms / 1e3, seed=args.seed)
    events = Events(args.json)
    with stop_on_signals() as stop, output_on_success(record):
        async with contextlib.AsyncExitStack() as stack:
            source = await open_source(stack, e4_server=args.e4_server, devices=args.device or [], virtual=virtual,
                                       ble_profile=args.ble_profile, timeout=args.timeout, speed=args.speed,
                                       data_root=args.data_root, faults=faults)
            e4_finished = source.finished if args.e4_server is not None else []  # the virtual E4's replay
            labels, rates, raw = {}, {}, {}
            for p in source.peripherals:  # labelled replays: the recording's labels and nominal rate
                series = p.virtual_spec.series
                rates[p.name] = float(series.meta.get("nominal_rate_hz", series.rate_hz))
                if series.labels is not None:
                    labels[p.name] = LabelTrack(np.asarray(series.t_s, np.float64), np.asarray(series.labels, str))
                if series.meta.get("raw_device_values"):  # file: replays send raw values; --profile converts
                    raw[p.name] = raw_device_profile(args)
            runner = make_runner(args, engine, listeners, labels, rates, raw)
            session = StreamSession(source.specs, backend=source.backend_client,  # type: ignore[arg-type]
                                    backend_id=source.backend_id, record_to=record, on_batch=runner.on_batch,
                                    retry=RetryPolicy(connect_timeout=args.timeout), output_maxsize=0)
            session.add_event_callback(events)
            view = View(sys.stderr, args.quiet)
            started = time.monotonic()
            header = (f"{PROG}: {artefact.folder} ({artefact.entry['target']} {artefact.entry['precision']}, "
                      f"{len(artefact.classes)} classes)")
            by_name = {p.name: p for p in source.peripherals}

            def states() -> dict[str, str]:
                counters = session.counters()
                return {dev: "replay ended" if dev in by_name and by_name[dev].finished.is_set()
                        else "streaming" if counters[dev]["connected"] else "connecting"
                        for dev in session.device_ids}

            interrupted = False
            try:
                await start_and_connect(session, args.timeout)
                while not stop.is_set():
                    if runner.error is not None:  # e.g. a model that needs a gyroscope the device does not have
                        raise runner.error
                    elapsed = time.monotonic() - started
                    if args.seconds is not None and elapsed >= args.seconds:
                        break
                    if source.peripherals and all(p.finished.is_set() for p in source.peripherals):
                        await asyncio.sleep(0.3)  # the last notifications
                        break
                    if e4_finished and all(f.is_set() for f in e4_finished):  # the virtual E4's replay ended
                        await asyncio.sleep(0.3)
                        break
                    if session.error is not None:  # the device is gone (an E4 turned off, its server closed)
                        break
                    view.draw(render_view(runner, session.counters(), session.device_ids,
                                          f"{header}  {elapsed:6.1f} s{events.header()}", states()), elapsed)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.25)
                interrupted = stop.is_set()
            finally:
                await session.stop()
                runner.finish()
            counters = with_device_side_loss(session.counters(), by_name)
            elapsed = time.monotonic() - started
            view.draw(render_view(runner, counters, session.device_ids, f"{header}  {elapsed:6.1f} s", states()),
                      elapsed, final=not args.quiet)
    summary = _summary(runner, counters, session.device_ids, artefact, interrupted, record, elapsed)
    if events.tags or args.e4_server is not None:
        summary["tags"] = events.tags
    _print_summary(summary, args)
    if session.error is not None:
        raise session.error  # one line, non-zero exit: the stream ended because the device is gone
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``edge-stream``; returns the exit code."""
    args = parse_args(build_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        virtual = [v for group in (args.virtual or []) for v in group]
        if args.e4_server is not None:
            if virtual or args.recording or len(args.device or []) > 1:
                raise ConfigError("with --e4-server give at most one --device (the E4's id), no --virtual or "
                                  "--recording")
        elif sum(map(bool, (virtual, args.device, args.recording))) != 1:
            raise ConfigError("give exactly one source: --device NAME_OR_ADDRESS, --virtual NAME, --e4-server "
                              "HOST[:PORT] or --recording FILE")
        for m in args.mount or []:
            parse_mount(m)
        args.ble_profile, args.description = split_profile(args.profile)
        if args.record:
            output_file(args.record, "--record", may_exist=False)
        if args.recording:
            return stream_recording(args)
        # one-line errors for bad names / missing data before anything starts
        rate = raw_device_profile(args).rate_hz if any(v.startswith("file:") for v in virtual) else None
        specs = [resolve_virtual(name, args.data_root, rate) for name in virtual]
        resolve_model_folder(args.model, source_has_gyro(args, specs))
        return asyncio.run(_stream_live(args, specs))

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
