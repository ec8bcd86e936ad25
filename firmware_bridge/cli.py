"""``edge-devices`` and ``edge-record``: find BLE IMU devices, record their raw packets.

Entry points (console scripts): ``edge-devices = firmware_bridge.cli:devices_main`` and
``edge-record = firmware_bridge.cli:record_main``; without them: ``python -m firmware_bridge.cli
devices ...`` / ``python -m firmware_bridge.cli record ...``. Run either with ``--help`` for examples.
Errors are one line on stderr (exit 2 for bad input, 3 for a bug; ``MULTI3EDGE_DEBUG=1`` shows
tracebacks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from bleak.exc import BleakError

from toolkit.cli.args import positive_float
from toolkit.cli.common import EXIT_USAGE, output_file, parse_args, run_cli
from toolkit.errors import ConfigError, Multi3EdgeError

from .devices import get_profile, profile_for_match, profile_names, scan_matches
from .session import DeviceSpec, StreamSession
from .transport import DiscoveredDevice, RetryPolicy, scan
from .virtual.catalog import NAME_FORMS

DEVICES_PROG = "edge-devices"
RECORD_PROG = "edge-record"


class BluetoothUnavailableError(Multi3EdgeError):
    """No usable Bluetooth adapter (or the platform backend failed)."""


def _flatten(values: list[list[str]] | None) -> list[str]:
    return [v for group in (values or []) for v in group]


def _bluetooth_error(error: BaseException) -> BluetoothUnavailableError:
    return BluetoothUnavailableError(
        f"Bluetooth is not usable here ({type(error).__name__}: {error}); "
        "use --virtual NAME to try with in-process virtual devices")


def _add_virtual_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--virtual", nargs="+", action="append", metavar="NAME",
                   help=f"start these virtual devices on the in-process bumble radio ({NAME_FORMS})")
    p.add_argument("--data-root", help="folder holding sp-sw-har/ and seglearn/ (default: $MULTI3EDGE_DATA, "
                                      "else ../shared/data beside the repository)")


# --------------------------------------------------------------------------- edge-devices
DEVICES_EXAMPLES = f"""\
examples:
  # list nearby devices with a known profile ({', '.join(profile_names())})
  edge-devices --timeout 5

  # start two virtual watches (a real sp-sw-har recording and a Touch SDK emulation) and scan them
  edge-devices --virtual sp-sw-har:s05_03 touch:sine

Output: one line per device: name, address, RSSI (dBm), profile.
"""


def build_devices_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=DEVICES_PROG, description="Scan for BLE IMU devices with a known profile.",
                                epilog=DEVICES_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=positive_float(3600.0), default=5.0,
                   help="scan duration in seconds (default: %(default)s)")
    _add_virtual_options(p)
    return p


def format_devices(found: Sequence[DiscoveredDevice]) -> str:
    """The device table printed by ``edge-devices``."""
    rows = [("NAME", "ADDRESS", "RSSI", "PROFILE")]
    for d in found:
        rssi = d.advertisement.rssi
        rows.append((d.name or "?", d.address, "?" if rssi is None else str(rssi), d.profile.label))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


async def _scan_devices(timeout: float, virtual: list[str], data_root: str | None) -> list[DiscoveredDevice]:
    from .backends.bumble_backend import BumbleScanner
    from .backends.bumble_link import close_radio
    from .virtual.catalog import start_virtual_devices

    if not virtual:
        try:
            return await scan(scan_matches(), timeout=timeout)
        except (BleakError, OSError) as e:
            raise _bluetooth_error(e) from None
    try:
        peripherals = await start_virtual_devices(virtual, data_root)
        return await scan(scan_matches(), timeout=timeout, backend=BumbleScanner, expected=len(peripherals))
    finally:
        await close_radio()


def devices_main(argv: Sequence[str] | None = None) -> int:
    """``edge-devices``: print the devices with a known profile; returns the exit code."""
    args = parse_args(build_devices_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        if args.timeout <= 0:
            raise ConfigError("--timeout must be > 0")
        found = asyncio.run(_scan_devices(args.timeout, _flatten(args.virtual), args.data_root))
        print(format_devices(found))
        if not found:
            print(f"{DEVICES_PROG}: no device with a known profile found in {args.timeout:g} s", file=sys.stderr)
            return 1
        return 0

    return run_cli(DEVICES_PROG, body)


# --------------------------------------------------------------------------- edge-record
RECORD_EXAMPLES = f"""\
examples:
  # record a real device found by name (profile from the scan) for 60 s
  edge-record --device "Polar Sense" --out polar.m3erec --seconds 60

  # record two devices by address, forcing the profile; stop with Ctrl-C
  edge-record --device AA:BB:CC:DD:EE:FF --device 11:22:33:44:55:66 --profile imu-stream --out run1.m3erec

  # replay a real sp-sw-har recording and a Touch SDK emulation through the virtual radio
  edge-record --virtual sp-sw-har:s05_03 touch:sine:5 --out virt.m3erec

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
                   help="a real device: its address, or its advertised name (or a prefix of it); repeatable")
    p.add_argument("--profile", help=f"profile for every --device ({', '.join(profile_names())}); "
                                     "default: the one its advertisement matches")
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
    _add_virtual_options(p)
    return p


def _status_line(session: StreamSession, elapsed: float) -> str:
    parts = []
    for dev_id, c in session.counters().items():
        parts.append(f"{dev_id}: {c['packets']} pkt {c['samples']} smp lost {c['lost_packets']}/{c['lost_samples']} "
                     f"dup {c['duplicates']} drop {c['dropped']} rc {c['reconnects']}"
                     + ("" if c["connected"] else " (down)"))
    return f"[{elapsed:6.1f} s] " + " | ".join(parts)


def _matches_target(d: DiscoveredDevice, target: str) -> bool:
    t = target.lower()
    return d.address.lower() == t or (d.name or "").lower().startswith(t)


async def _resolve_real(targets: list[str], profile: str | None, timeout: float) -> list[DeviceSpec]:
    if profile is not None:
        get_profile(profile)
    try:
        found = await scan(scan_matches(), timeout=min(timeout, 10.0))
    except (BleakError, OSError) as e:
        raise _bluetooth_error(e) from None
    specs = []
    for target in targets:
        hits = [d for d in found if _matches_target(d, target)]
        if hits:
            d = hits[0]
            specs.append(DeviceSpec(d.device, profile or profile_for_match(d.profile).name, None))
        elif profile is not None and (":" in target or (len(target) == 36 and target.count("-") == 4)):
            specs.append(DeviceSpec(target, profile, None))  # an address not heard in the scan: try anyway
        else:
            seen = ", ".join(f"{d.name} ({d.address})" for d in found) or "none"
            raise ConfigError(f"device {target!r} not found with a known profile (seen: {seen}); "
                              "give its address with --profile to connect anyway")
    return specs


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """Inside a running event loop: an event that SIGINT (Ctrl-C) or SIGTERM sets while the block runs, so a command
    can stop cleanly (sessions stopped, recordings synced) instead of dying with a traceback."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def open_devices(virtual: Sequence[str], real: Sequence[str] | None, *, profile: str | None = None,
                       timeout: float = 10.0, data_root: str | None = None, **virtual_kwargs: object,
                       ) -> AsyncIterator[tuple[list[DeviceSpec], type | None, list]]:
    """The devices a command streams from: ``(specs, bleak backend, virtual peripherals)``.

    Virtual names start peripherals on the in-process bumble radio (``virtual_kwargs`` go to
    :func:`~firmware_bridge.virtual.catalog.start_virtual_devices`: speed, faults) and use the bumble client backend;
    real names or addresses are resolved by a scan (:func:`_resolve_real`) for the platform backend. The radio is
    closed on exit: stop any session on these devices inside the block.
    """
    from .backends.bumble_backend import BumbleClient
    from .backends.bumble_link import close_radio
    from .virtual.catalog import start_virtual_devices

    peripherals: list = []
    try:
        if virtual:
            peripherals = await start_virtual_devices(virtual, data_root, **virtual_kwargs)
            specs = [DeviceSpec(p.address, p.virtual_spec.profile, p.name) for p in peripherals]
            yield specs, BumbleClient, peripherals
        else:
            yield await _resolve_real(list(real or []), profile, timeout), None, []
    finally:
        if peripherals:
            await close_radio()  # stops the peripherals (each waits for its advertising command)


async def start_and_connect(session: StreamSession, timeout: float) -> None:
    """Start ``session`` and wait until every device is connected; a failure is a one-line ConfigError."""
    await session.start()
    try:
        await session.wait_connected(timeout)
    except (TimeoutError, BleakError) as e:
        raise ConfigError(f"could not connect: {e}") from None


def default_recording_path(prog: str) -> Path:
    """``recordings/<prog>-<local time>.m3erec`` (its folder created)."""
    path = Path("recordings") / f"{prog}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.m3erec"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def _record(args: argparse.Namespace, virtual: list[str]) -> int:
    with stop_on_signals() as stop:
        async with open_devices(virtual, args.device, profile=args.profile, timeout=args.timeout,
                                data_root=args.data_root, speed=args.speed) as (specs, backend, peripherals):
            retry = RetryPolicy(connect_timeout=args.timeout)
            session = StreamSession(specs, backend=backend, record_to=args.out, flush_interval_s=args.flush_interval,
                                    retry=retry, output_maxsize=0)
            started = time.monotonic()
            try:
                await start_and_connect(session, args.timeout)
                print(f"{RECORD_PROG}: recording {len(specs)} device(s) to {args.out} "
                      f"({', '.join(session.device_ids)}); Ctrl-C stops", file=sys.stderr, flush=True)
                tty = sys.stderr.isatty()
                next_status = 1.0
                while not stop.is_set():
                    elapsed = time.monotonic() - started
                    if args.seconds is not None and elapsed >= args.seconds:
                        break
                    if peripherals and all(p.finished.is_set() for p in peripherals):
                        await asyncio.sleep(0.2)  # let the last notifications arrive
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
            print(f"{RECORD_PROG}: wrote {args.out}: {n} packets from {len(specs)} device(s)"
                  + (" (interrupted)" if stop.is_set() else ""), file=sys.stderr)
            return 0


def record_main(argv: Sequence[str] | None = None) -> int:
    """``edge-record``: record one or more devices to a recording file; returns the exit code."""
    args = parse_args(build_record_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        virtual = _flatten(args.virtual)
        if bool(virtual) == bool(args.device):
            raise ConfigError("give either --device NAME_OR_ADDRESS or --virtual NAME (one or more)")
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
        if virtual:  # resolve names before starting anything: one-line errors for bad names / missing data
            from .virtual.catalog import resolve_virtual
            for name in virtual:
                resolve_virtual(name, args.data_root)
        return asyncio.run(_record(args, virtual))

    return run_cli(RECORD_PROG, body)


# --------------------------------------------------------------------------- python -m
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m firmware_bridge.cli devices|record ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"devices": devices_main, "record": record_main}
    if not argv or argv[0] not in commands:
        print("usage: python -m firmware_bridge.cli {devices,record} [options]  (--help after a command)",
              file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
