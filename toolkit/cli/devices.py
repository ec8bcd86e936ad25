"""``edge-devices``: find BLE IMU devices with a known profile (real ones, or virtual ones on the in-process radio).

Console script ``edge-devices = toolkit.cli.devices:main``; without it: ``python -m toolkit.cli.devices``. Run it
with ``--help`` for examples. Errors are one line on stderr (exit 2 for bad input, 3 for a bug;
``MULTI3EDGE_DEBUG=1`` shows tracebacks). ``--help`` loads no dataset loader and no torch: ``--virtual`` names are
resolved through :mod:`toolkit.cli.replays` only when given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from typing import Any

from firmware_bridge.connect import VIRTUAL_E4, e4_server_target, open_e4, scan_devices
from firmware_bridge.devices import profile_names
from firmware_bridge.e4_link import ServerDevices, probe_server
from firmware_bridge.transport import DiscoveredDevice
from firmware_bridge.virtual.catalog import NAME_FORMS
from toolkit.cli.args import positive_float
from toolkit.device_profiles import REAL_PROFILES, RealDeviceProfile, is_profile_path, resolve_profile
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, parse_args, run_cli

DEVICES_PROG = "edge-devices"


def flatten(values: list[list[str]] | None) -> list[str]:
    """``--virtual a b --virtual c`` -> ``[a, b, c]``."""
    return [v for group in (values or []) for v in group]


E4_SERVER_HELP = ("Empatica's E4 streaming server at HOST[:PORT] (port default 28000, the Windows server's), or "
                  f"'{VIRTUAL_E4}' (an in-process virtual E4 server on 127.0.0.1 replaying a generated wrist signal) "
                  f"or '{VIRTUAL_E4}:NAME' (replaying the virtual device NAME's recording, e.g. "
                  f"{VIRTUAL_E4}:sp-sw-har:s05_03); --device ID picks the E4 (default: the first one connected)")


#: ``--profile`` help shared by the real-device commands.
PROFILE_HELP = (f"BLE protocol of --device ({', '.join(profile_names())}; default: from its advertisement), or a "
                "device description: a built-in real-device profile name or a YAML file (toolkit/profiles/*.yaml "
                "show the schema) whose axes / units replace the protocol's defaults")


def split_profile(value: str | None) -> tuple[str | None, RealDeviceProfile | None]:
    """``--profile`` -> (BLE protocol name, None) for a protocol name, else (None, the device description).

    A device description (built-in real-device profile name or YAML file) keeps the protocol from the device's
    advertisement and replaces the axes / units that protocol's default profile would give. Raises ConfigError
    (one line) for a name that is neither, or an invalid file.
    """
    if value is None or value in profile_names():
        return value, None
    if not is_profile_path(value) and value not in REAL_PROFILES:
        raise ConfigError(f"--profile {value!r}: neither a BLE protocol ({', '.join(profile_names())}) nor a device "
                          f"description (a built-in profile: {', '.join(sorted(REAL_PROFILES))}; or a .yaml file)")
    return None, resolve_profile(value)


def add_e4_option(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--e4-server HOST[:PORT]|virtual[:NAME]``, shared by edge-devices, edge-record, edge-stream, edge-calibrate."""
    p.add_argument("--e4-server", metavar="HOST[:PORT]", help=E4_SERVER_HELP)


def event_line(event: dict[str, Any], device_id: str) -> str | None:
    """The terminal line of a device event (E4 tags and status messages); None for events not worth a line."""
    kind = event.get("event")
    if kind == "tag":
        t = event.get("device_time_s")
        when = time.strftime("%H:%M:%S", time.localtime(t)) + f"{t % 1:.3f}"[1:] if isinstance(t, float) else "?"
        return f"{device_id}: tag (button pressed) at {when}"
    if kind in ("device-status", "device-gone"):
        return str(event.get("message", kind))
    return None


def event_record(event: dict[str, Any], device_id: str, host_time_s: float) -> dict[str, Any] | None:
    """The ``--json`` line of a device event: ``{"type": "tag", "device", "time_s", "host_time_s"}`` or
    ``{"type": "device-status", "device", "status", "message"}``; None for other events."""
    kind = event.get("event")
    if kind == "tag":
        return {"type": "tag", "device": device_id, "time_s": event.get("device_time_s"),
                "host_time_s": round(host_time_s, 6), "source": event.get("source")}
    if kind in ("device-status", "device-gone"):
        return {"type": "device-status", "device": device_id,
                "status": event.get("status", "gone" if kind == "device-gone" else None),
                "message": event.get("message")}
    return None


def add_virtual_options(p: argparse.ArgumentParser) -> None:
    """``--virtual NAME...`` (repeatable) and ``--data-root``, shared with ``edge-record``."""
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

  # the E4s an Empatica E4 streaming server sees (connected over Bluetooth, and discovered in manual BTLE mode)
  edge-devices --e4-server 192.168.1.20            # port 28000
  edge-devices --e4-server virtual                 # an in-process virtual E4 server

Output: one line per device: name, address, RSSI (dBm), profile (with --e4-server: id, name, state, server).
"""


def build_devices_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=DEVICES_PROG, description="Scan for BLE IMU devices with a known profile.",
                                epilog=DEVICES_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=positive_float(3600.0), default=5.0,
                   help="scan duration in seconds (default: %(default)s)")
    add_virtual_options(p)
    add_e4_option(p)
    return p


def format_e4_devices(devices: ServerDevices, server: str) -> str:
    """The table of ``edge-devices --e4-server``."""
    rows = [("ID", "NAME", "STATE", "SERVER")]
    rows += [(d.device_id, d.name, "connected", server) for d in devices.connected]
    rows += [(d.device_id, d.name, "discovered" + ("" if d.allowed is None else " (allowed)" if d.allowed
                                                  else " (not allowed with the server's API key)"), server)
             for d in devices.discovered]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


async def list_e4(text: str, timeout: float) -> tuple[ServerDevices, str]:
    """What the server of ``--e4-server`` sees (a virtual one is started for the look)."""
    address, _ = e4_server_target(text)
    if address is not None:
        return await probe_server(address, timeout), str(address)
    async with open_e4(text, None, timeout) as source:
        assert source.virtual is not None
        return await probe_server(source.spec.device.server, timeout), f"{source.virtual.address} (virtual)"


def format_devices(found: Sequence[DiscoveredDevice]) -> str:
    """The device table printed by ``edge-devices``."""
    rows = [("NAME", "ADDRESS", "RSSI", "PROFILE")]
    for d in found:
        rssi = d.advertisement.rssi
        rows.append((d.name or "?", d.address, "?" if rssi is None else str(rssi), d.profile.label))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``edge-devices``: print the devices with a known profile; returns the exit code."""
    args = parse_args(build_devices_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        if args.timeout <= 0:
            raise ConfigError("--timeout must be > 0")
        names = flatten(args.virtual)
        if args.e4_server is not None:
            if names:
                raise ConfigError("give --virtual NAME or --e4-server HOST[:PORT], not both")
            e4_found, server = asyncio.run(list_e4(args.e4_server, min(args.timeout, 10.0)))
            print(format_e4_devices(e4_found, server))
            if not e4_found.connected and not e4_found.discovered:
                print(f"{DEVICES_PROG}: the E4 streaming server at {server} sees no E4", file=sys.stderr)
                return 1
            return 0
        virtual = []
        if names:
            from toolkit.cli.replays import resolve_virtual  # delays the dataset loaders: --help loads none

            virtual = [resolve_virtual(n, args.data_root) for n in names]
        found = asyncio.run(scan_devices(args.timeout, virtual))
        print(format_devices(found))
        if not found:
            print(f"{DEVICES_PROG}: no device with a known profile found in {args.timeout:g} s", file=sys.stderr)
            return 1
        return 0

    return run_cli(DEVICES_PROG, body)


#: The name this entry point had in ``firmware_bridge.cli``.
devices_main = main


if __name__ == "__main__":
    sys.exit(main())
