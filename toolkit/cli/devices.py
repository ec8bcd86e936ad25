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
from collections.abc import Sequence

from firmware_bridge.connect import scan_devices
from firmware_bridge.devices import profile_names
from firmware_bridge.transport import DiscoveredDevice
from firmware_bridge.virtual.catalog import NAME_FORMS
from toolkit.cli.args import positive_float
from toolkit.errors import ConfigError
from toolkit.programs import EXIT_USAGE, parse_args, run_cli

DEVICES_PROG = "edge-devices"


def flatten(values: list[list[str]] | None) -> list[str]:
    """``--virtual a b --virtual c`` -> ``[a, b, c]``."""
    return [v for group in (values or []) for v in group]


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

Output: one line per device: name, address, RSSI (dBm), profile.
"""


def build_devices_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=DEVICES_PROG, description="Scan for BLE IMU devices with a known profile.",
                                epilog=DEVICES_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timeout", type=positive_float(3600.0), default=5.0,
                   help="scan duration in seconds (default: %(default)s)")
    add_virtual_options(p)
    return p


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
