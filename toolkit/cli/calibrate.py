"""``edge-calibrate``: run the calibration procedure on a device (live over BLE, or from a recording) and write
the per-device calibration file that ``edge-stream --calibration`` reads.

Console script ``edge-calibrate = toolkit.cli.calibrate:main``; without it: ``python -m toolkit.cli.calibrate``.

The procedure (:mod:`calibration.procedure`): hold the arm still hanging, then stretched forward palm down (the
mount rotation from the two gravity directions), still periods for the gyroscope bias (and the accelerometer bias
and scale when they cover enough orientations), the timestamps for the true rate and clock drift.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calibration.device import FORMAT_VERSION, CalibrationFile
from calibration.procedure import PROTOCOL, calibrate_stream
from firmware_bridge.connect import (
    default_recording_path,
    e4_server_target,
    output_on_success,
    start_and_connect,
    stop_on_signals,
)
from firmware_bridge.devices import get_profile as get_ble_profile
from firmware_bridge.playback import RecordedStream, open_recording
from firmware_bridge.session import StreamSession
from firmware_bridge.transport import RetryPolicy
from firmware_bridge.virtual.catalog import NAME_FORMS, VirtualDeviceSpec
from toolkit.cli.args import positive_float
from toolkit.cli.devices import PROFILE_HELP, add_e4_option, split_profile
from toolkit.cli.replays import resolve_virtual
from toolkit.cli.sources import check_source, open_source
from toolkit.device_profiles import RealDeviceProfile, get_real_profile
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, output_file, parse_args, run_cli
from toolkit.strict_json import dumps as strict_dumps

PROG = "edge-calibrate"

EXAMPLES = f"""\
examples:
  # a virtual watch on the RIGHT wrist doing the protocol (no hardware needed)
  {PROG} --virtual protocol@right --wrist right --out calibration.json

  # a real watch running an imu-stream app: follow the instructions on screen
  {PROG} --device "Galaxy Watch" --wrist left --out calibration.json

  # an Empatica E4 through Empatica's E4 streaming server (port 28000); --device picks the E4 by id
  {PROG} --e4-server 192.168.1.20 --wrist left --out calibration.json

  # again from the recording the live run left (or any edge-record / edge-stream recording of the protocol)
  {PROG} --recording recordings/edge-calibrate-20261121-101500.m3erec --wrist left --out calibration.json

The file holds one entry per device id (the advertised name): running {PROG} for a second device adds it.
Then: edge-stream --device ... --calibration calibration.json
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Calibrate a wearable IMU into the simulator's watch frame.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("source (one of)")
    src.add_argument("--device", metavar="NAME_OR_ADDRESS", help="a real device: address or advertised name (prefix)")
    src.add_argument("--virtual", metavar="NAME", help=f"a virtual device ({NAME_FORMS}); `protocol` performs the "
                                                       "calibration protocol")
    src.add_argument("--recording", metavar="FILE", help="a .m3erec recording of the protocol")
    add_e4_option(src)
    p.add_argument("--device-id", help="with --recording: which device of the recording (default: the only one)")
    p.add_argument("--table-first", action="store_true",
                   help="with --recording: the recording starts with the optional table step (watch lying face up)")
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--wrist", choices=("left", "right"), required=True, help="the wrist wearing the device")
    p.add_argument("--face", choices=("dorsal", "palmar"), default="dorsal",
                   help="nominal face side, used to report the offset (default: %(default)s)")
    p.add_argument("--out", default="calibration.json", help="calibration file to create or update "
                                                             "(default: %(default)s)")
    rec = p.add_mutually_exclusive_group()
    rec.add_argument("--record", metavar="FILE", help="record the raw packets here (default: "
                                                      "recordings/edge-calibrate-<time>.m3erec)")
    rec.add_argument("--no-record", action="store_true", help="do not record")
    p.add_argument("--data-root", help="folder holding the datasets for --virtual replays")
    p.add_argument("--speed", type=positive_float(1e6), default=1.0, help="virtual replay speed (1 = real time)")
    p.add_argument("--timeout", type=positive_float(3600.0), default=10.0,
                   help="scan / connect timeout [s] (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the device's calibration entry as JSON on stdout")
    return p


# --------------------------------------------------------------------------- the procedure on samples
def calibrate_arrays(arrays: dict[str, Any], device_id: str, ble_profile: str, wrist: str, face: str,
                     table_first: bool = False, description: RealDeviceProfile | None = None) -> Any:
    """Run :func:`calibration.procedure.calibrate_stream` on one device's concatenated samples (``t_s``,
    ``device_time_s`` or None, ``arrival_s``, ``acc``, ``gyro``), finding the still poses automatically.
    ``description`` (``--profile`` device description) replaces the BLE protocol's default profile."""
    profile = description if description is not None else get_real_profile(get_ble_profile(ble_profile).real_profile)
    t = np.asarray(arrays["t_s"], np.float64)
    return calibrate_stream(t, arrays["acc"], arrays["gyro"], device_id=device_id, profile=profile, wrist=wrist,
                            face=face, device_time_s=arrays.get("device_time_s"), host_time_s=arrays.get("arrival_s"),
                            table_first=table_first)


def describe(cal: Any) -> list[str]:
    """A few human lines about a calibration result."""
    d = cal.to_dict()
    lines = [f"device {cal.device_id}: profile {cal.profile.name}, wrist {cal.mount.wrist}"]
    diag = d.get("diagnostics") or d.get("notes") or {}
    if cal.mount_rotation is not None:  # calibration.orientation.estimate_mount_rotation
        rot = np.asarray(cal.mount_rotation)
        lines.append("  mount rotation (device -> dorsal wrist frame):")
        lines += [f"    [{' '.join(f'{v:+.3f}' for v in row)}]" for row in rot]
    if isinstance(diag, dict):
        for key, value in diag.items():
            if isinstance(value, int | float | str | bool):
                lines.append(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    if cal.static is not None:
        s = cal.static
        lines.append(f"  gyro bias [rad/s]: {np.round(np.asarray(s.gyro_bias_rads), 4).tolist()}; acc fit: "
                     f"{s.fitted} (bias {np.round(np.asarray(s.acc_bias_ms2), 3).tolist()} m/s^2, "
                     f"scale {np.round(np.asarray(s.acc_scale), 4).tolist()})")
    for note in cal.notes:
        lines.append(f"  note: {note}")
    if cal.rate is not None and not any(n.startswith("rate") for n in cal.notes):
        r = cal.rate
        drift = "" if r.drift_ppm is None else f", clock drift {r.drift_ppm:+.0f} ppm"
        lines.append(f"  rate {r.rate_hz:.3f} Hz (nominal {r.nominal_hz:g} Hz){drift}")
    return lines


def save(cal: Any, out: str | Path) -> Path:
    """Add or replace ``cal``'s entry in the calibration file ``out``."""
    out = Path(out)
    file = CalibrationFile.load(out) if out.exists() else CalibrationFile()
    if file.read_format_version != FORMAT_VERSION:  # never silently: say that the older file is rewritten
        print(f"{PROG}: {out}: format {file.read_format_version} file rewritten in format {FORMAT_VERSION}",
              file=sys.stderr)
    file.set(cal)
    file.save(out)
    return out


# --------------------------------------------------------------------------- sources
def from_recording(args: argparse.Namespace) -> Any:
    replay = open_recording(args.recording)
    if replay.describe():
        print(f"{PROG}: {args.recording}: {replay.describe()}", file=sys.stderr)
    args.recording_check = replay.report()
    streams = replay.streams
    if args.device_id is None:
        if len(streams) != 1:
            raise ConfigError(f"{args.recording} holds {len(streams)} devices ({', '.join(streams)}): "
                              "choose one with --device-id")
        stream = next(iter(streams.values()))
    else:
        if args.device_id not in streams:
            raise ConfigError(f"no device {args.device_id!r} in {args.recording} (it has: {', '.join(streams)})")
        stream = streams[args.device_id]
    return calibrate_arrays(stream.arrays(), stream.device_id, stream.profile, args.wrist, args.face,
                            table_first=args.table_first, description=args.description)


async def _live(args: argparse.Namespace, virtual: VirtualDeviceSpec | None) -> Any:
    virtual_specs = [virtual] if virtual is not None else []
    await check_source(args.e4_server, virtual_specs, args.timeout)  # reachable before any file or folder is made
    record = None if args.no_record else Path(args.record) if args.record else default_recording_path(PROG, False)
    batches: list[Any] = []
    with stop_on_signals() as stop, output_on_success(record):
        async with contextlib.AsyncExitStack() as stack:
            source = await open_source(stack, e4_server=args.e4_server, devices=[args.device] if args.device else [],
                                       virtual=virtual_specs, ble_profile=args.ble_profile, timeout=args.timeout,
                                       speed=args.speed, data_root=args.data_root)
            peripherals = source.peripherals
            session = StreamSession(source.specs, backend=source.backend_client,  # type: ignore[arg-type]
                                    backend_id=source.backend_id, record_to=record,
                                    on_batch=batches.append,
                                    retry=RetryPolicy(connect_timeout=args.timeout), output_maxsize=0)
            try:
                await start_and_connect(session, args.timeout)
                device_id = session.device_ids[0]
                print(f"{PROG}: connected to {device_id}; follow the steps (Ctrl-C aborts)", file=sys.stderr,
                      flush=True)
                steps = [s for s in PROTOCOL if not s.optional]  # the optional table step is for --recording only
                for i, step in enumerate(steps, 1):
                    print(f"  step {i}/{len(steps)} [{step.name}] {step.instruction} ({step.duration_s:g} s)",
                          file=sys.stderr, flush=True)
                    deadline = time.monotonic() + step.duration_s / args.speed
                    while time.monotonic() < deadline and not stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 0.1)
                    if stop.is_set():
                        raise ConfigError("interrupted before the protocol ended; nothing written")
                if peripherals:  # a virtual device follows its own script: let it finish
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(peripherals[0].finished.wait(), 60.0 / args.speed)
                    await asyncio.sleep(0.3)
            finally:
                await session.stop()
            profile = session.profile_of(device_id).name
    if not batches:
        raise ConfigError(f"no samples received from {args.device or args.virtual}")
    arrays = RecordedStream(device_id, profile, [b.batch for b in batches]).arrays()
    if (args.virtual or e4_server_target(args.e4_server or "h")[0] is None) and args.speed != 1.0:
        arrays["arrival_s"] = None  # a sped-up replay's arrival times say nothing about the device's clock
    if record is not None:
        print(f"{PROG}: raw packets recorded to {record}", file=sys.stderr)
    # the prompts run on the host clock, a person reacts late and a virtual device follows its own script: the
    # procedure finds the still poses itself
    return calibrate_arrays(arrays, device_id, profile, args.wrist, args.face, description=args.description)


def main(argv: Sequence[str] | None = None) -> int:
    """``edge-calibrate``; returns the exit code."""
    args = parse_args(build_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        if args.e4_server is not None:
            if args.virtual or args.recording:
                raise ConfigError("--e4-server takes no --virtual or --recording (--device ID picks the E4)")
        elif sum(map(bool, (args.device, args.virtual, args.recording))) != 1:
            raise ConfigError("give exactly one source: --device NAME_OR_ADDRESS, --virtual NAME, --e4-server "
                              "HOST[:PORT] or --recording FILE")
        if args.speed <= 0:
            raise ConfigError("--speed must be > 0")
        args.ble_profile, args.description = split_profile(args.profile)
        out = Path(args.out)
        if not out.parent.exists():
            raise ConfigError(f"folder {out.parent} does not exist")
        output_file(out)
        if args.record:
            output_file(args.record, "--record", may_exist=False)
        if args.recording:
            cal = from_recording(args)
        else:
            virtual = resolve_virtual(args.virtual, args.data_root) if args.virtual else None
            cal = asyncio.run(_live(args, virtual))
        save(cal, out)
        for line in describe(cal):
            print(line, file=sys.stderr)
        print(f"{PROG}: wrote {cal.device_id} to {out}", file=sys.stderr)
        if args.json:
            entry = cal.to_dict()
            if getattr(args, "recording_check", None) is not None:  # what the recording reader skipped
                entry["recording_check"] = args.recording_check
            print(strict_dumps(entry))
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
