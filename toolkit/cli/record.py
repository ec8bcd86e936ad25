"""``edge-record``: record the raw packets of one or more BLE IMU devices (real, or virtual replays) to a .m3erec file.

Console script ``edge-record = toolkit.cli.record:main``; without it: ``python -m toolkit.cli.record``. Errors are
one line on stderr (exit 2 for bad input, 3 for a bug; ``MULTI3EDGE_DEBUG=1`` shows tracebacks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from firmware_bridge.connect import (
    output_on_success,
    start_and_connect,
    stop_on_signals,
)
from firmware_bridge.devices import profile_names
from firmware_bridge.session import StreamSession
from firmware_bridge.transport import RetryPolicy
from firmware_bridge.virtual.catalog import NAME_FORMS, VirtualDeviceSpec
from toolkit.cli.args import positive_float
from toolkit.cli.devices import add_e4_option, add_virtual_options, event_line, flatten, split_profile
from toolkit.cli.replays import resolve_virtual
from toolkit.cli.sources import check_source, open_source
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, output_file, parse_args, run_cli

RECORD_PROG = "edge-record"

RECORD_EXAMPLES = f"""\
examples:
  # record a real device found by name (profile from the scan) for 60 s
  edge-record --device "Polar Sense" --out polar.m3erec --seconds 60

  # record two devices by address, forcing the profile; stop with Ctrl-C
  edge-record --device AA:BB:CC:DD:EE:FF --device 11:22:33:44:55:66 --profile imu-stream --out run1.m3erec

  # replay a real sp-sw-har recording and a Touch SDK emulation through the virtual radio
  edge-record --virtual sp-sw-har:s05_03 touch:sine:5 --out virt.m3erec

  # an Empatica E4 through Empatica's E4 streaming server (port 28000); button tags are recorded as events
  edge-record --e4-server 192.168.1.20 --device a0e4f1 --out e4.m3erec --seconds 600
  edge-record --e4-server virtual --out e4.m3erec --seconds 20          # an in-process virtual E4

  # decode a recording afterwards (Python):
  #   from firmware_bridge.recording import decode_recording
  #   from firmware_bridge.devices import recording_decoders
  #   decoded = decode_recording("virt.m3erec", recording_decoders())

Virtual devices: {NAME_FORMS}. A virtual replay stops by itself when its recording ends.
Ctrl-C (SIGINT) or SIGTERM stops cleanly: the recording is synced and valid. Counters are shown
once a second on stderr (packets, samples, lost packets/samples, duplicates, reconnects).
"""


def build_record_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=RECORD_PROG, description="Record raw BLE IMU packets to a .m3erec file.",
                                epilog=RECORD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", action="append", metavar="NAME_OR_ADDRESS",
                   help="a real device: its address, or its advertised name (or a prefix of it); repeatable; "
                        "with --e4-server: the E4's id")
    p.add_argument("--profile", help=f"profile for every --device ({', '.join(profile_names())}); "
                                     "default: the one its advertisement matches; for --virtual file:PATH "
                                     "a device description (name or .yaml) whose rate_hz times a file "
                                     "without a time column")
    p.add_argument("--out", required=True, help="recording file to create (.m3erec)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--seconds", type=positive_float(),
                   help="stop after this many seconds (default: until Ctrl-C or the end of every virtual replay)")
    p.add_argument("--flush-interval", type=positive_float(3600.0), default=0.5,
                   help="longest time a packet may stay unsynced on disk, in seconds (default: %(default)s)")
    p.add_argument("--timeout", type=positive_float(3600.0), default=10.0, help="scan / connect timeout in seconds "
                                                               "(default: %(default)s)")
    p.add_argument("--speed", type=positive_float(1e6), default=1.0, help="virtual replay speed (1 = real time)")
    p.add_argument("--quiet", action="store_true", help="no live counters")
    add_virtual_options(p)
    add_e4_option(p)
    return p


def _status_line(session: StreamSession, elapsed: float) -> str:
    parts = []
    for dev_id, c in session.counters().items():
        parts.append(f"{dev_id}: {c['packets']} pkt {c['samples']} smp lost {c['lost_packets']}/{c['lost_samples']} "
                     f"dup {c['duplicates']} drop {c['dropped']} rc {c['reconnects']}"
                     + ("" if c["connected"] else " (down)"))
    return f"[{elapsed:6.1f} s] " + " | ".join(parts)


async def _record(args: argparse.Namespace, virtual: list[VirtualDeviceSpec]) -> int:
    await check_source(args.e4_server, virtual, args.timeout)  # reachable before anything is created
    with stop_on_signals() as stop, output_on_success(Path(args.out)):
        async with contextlib.AsyncExitStack() as stack:
            source = await open_source(stack, e4_server=args.e4_server, devices=args.device or [], virtual=virtual,
                                       ble_profile=args.ble_profile, timeout=args.timeout, speed=args.speed,
                                       data_root=args.data_root)
            finished = source.finished
            retry = RetryPolicy(connect_timeout=args.timeout)
            session = StreamSession(source.specs, backend=source.backend_client,  # type: ignore[arg-type]
                                    backend_id=source.backend_id,
                                    record_to=args.out, flush_interval_s=args.flush_interval,
                                    retry=retry, output_maxsize=0)
            session.add_event_callback(lambda ev: _print_event(ev.event, ev.device_id))
            started = time.monotonic()
            try:
                await start_and_connect(session, args.timeout)
                print(f"{RECORD_PROG}: recording {len(source.specs)} device(s) to {args.out} "
                      f"({', '.join(session.device_ids)}); Ctrl-C stops", file=sys.stderr, flush=True)
                tty = sys.stderr.isatty()
                next_status = 1.0
                while not stop.is_set():
                    elapsed = time.monotonic() - started
                    if args.seconds is not None and elapsed >= args.seconds:
                        break
                    if finished and all(f.is_set() for f in finished):
                        await asyncio.sleep(0.2)  # let the last notifications arrive
                        break
                    if session.error is not None:  # e.g. an E4 turned off, a server gone
                        break
                    if not args.quiet and elapsed >= next_status:
                        next_status += 1.0
                        line = _status_line(session, elapsed)
                        print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 0.1)
            finally:
                await session.stop()
            if not args.quiet:
                print(("\n" if sys.stderr.isatty() else "") + _status_line(session, time.monotonic() - started),
                      file=sys.stderr)
            n = sum(c["packets"] for c in session.counters().values())
            print(f"{RECORD_PROG}: wrote {args.out}: {n} packets from {len(source.specs)} device(s)"
                  + (" (interrupted)" if stop.is_set() else ""), file=sys.stderr)
            if session.error is not None:
                print(f"{RECORD_PROG}: error: {session.error}", file=sys.stderr)
                return 1
            return 0


def _print_event(event: dict, device_id: str) -> None:
    line = event_line(event, device_id)
    if line is not None:
        print(("\n" if sys.stderr.isatty() else "") + f"{RECORD_PROG}: {line}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``edge-record``: record one or more devices to a recording file; returns the exit code."""
    args = parse_args(build_record_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        names = flatten(args.virtual)
        if args.e4_server is not None:
            if names or len(args.device or []) > 1:
                raise ConfigError("with --e4-server give at most one --device (the E4's id) and no --virtual")
        elif bool(names) == bool(args.device):
            raise ConfigError("give either --device NAME_OR_ADDRESS, --virtual NAME (one or more) or --e4-server "
                              "HOST[:PORT]")
        if args.seconds is not None and args.seconds <= 0:
            raise ConfigError("--seconds must be > 0")
        if args.flush_interval <= 0:
            raise ConfigError("--flush-interval must be > 0")
        if args.speed <= 0:
            raise ConfigError("--speed must be > 0")
        out = Path(args.out)
        if out.exists() and not args.overwrite:
            raise ConfigError(f"{out} exists (use --overwrite to replace it)")
        if not out.parent.is_dir():
            raise ConfigError(f"folder {out.parent} does not exist")
        output_file(out)
        if out.exists():
            out.unlink()
        # an unknown profile name before any Bluetooth check
        args.ble_profile, description = split_profile(getattr(args, "profile", None))
        if description is not None and not any(n.startswith("file:") for n in names):
            raise ConfigError(f"--profile {args.profile}: edge-record stores raw packets; a device description is "
                              f"only used to time --virtual file:PATH replays (give a BLE protocol: "
                              f"{', '.join(profile_names())})")
        rate = description.rate_hz if description is not None else None
        # resolve names before starting anything: one-line errors for bad names / missing data
        virtual = [resolve_virtual(name, args.data_root, rate) for name in names]
        return asyncio.run(_record(args, virtual))

    return run_cli(RECORD_PROG, body)


#: The name this entry point had in ``firmware_bridge.cli``.
record_main = main


if __name__ == "__main__":
    sys.exit(main())


