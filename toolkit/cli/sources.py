"""The source a streaming command reads, for ``edge-record``, ``edge-stream`` and ``edge-calibrate``.

A source is either Empatica's E4 streaming server (``--e4-server HOST[:PORT]``, or ``virtual[:REPLAY]`` for the
in-process one) or BLE devices, virtual (``--virtual NAME``) or real (``--device NAME_OR_ADDRESS``).
:func:`check_source` proves it reachable before anything slow (a model load) or lasting (a recording folder) is
made; :func:`open_source` opens it inside the command's ``AsyncExitStack`` and returns what a
:class:`~firmware_bridge.session.StreamSession` needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.connect import check_bluetooth, check_e4_server, e4_server_target, open_devices, open_e4
from firmware_bridge.virtual.catalog import VirtualDeviceSpec
from toolkit.cli.replays import resolve_virtual


@dataclass
class OpenedSource:
    """What the session is built from: device specs, the backend's client class and id, the virtual BLE
    peripherals (empty for real devices and the E4 server) and the events set when a virtual replay ends."""

    specs: list[Any]
    backend_client: Any
    backend_id: str
    peripherals: list[Any] = field(default_factory=list)
    finished: list[asyncio.Event] = field(default_factory=list)


async def check_source(e4_server: str | None, virtual: Sequence[VirtualDeviceSpec], timeout: float) -> None:
    """One-line error unless the E4 server answers (``e4_server``) or Bluetooth is usable (real devices)."""
    if e4_server is not None:
        await check_e4_server(e4_server, timeout)
    elif not virtual:
        await check_bluetooth()


async def open_source(stack: contextlib.AsyncExitStack, *, e4_server: str | None, devices: Sequence[str],
                      virtual: Sequence[VirtualDeviceSpec], ble_profile: str | None, timeout: float, speed: float,
                      data_root: str | None = None, **virtual_kwargs: Any) -> OpenedSource:
    """Open the source (module docstring); it is closed when ``stack`` unwinds.

    Args:
        e4_server: ``--e4-server`` (None: BLE devices).
        devices: ``--device`` values (with the E4 server: at most the E4's id).
        virtual: resolved ``--virtual`` specs.
        ble_profile: ``--profile`` when it names a BLE protocol.
        timeout: connect / scan timeout [s]; speed: virtual replay speed; data_root: for ``virtual:REPLAY``.
        virtual_kwargs: further options of the virtual BLE peripherals (e.g. ``faults``).
    """
    if e4_server is not None:
        _, name = e4_server_target(e4_server)
        series = resolve_virtual(name, data_root).series if name else None
        e4 = await stack.enter_async_context(open_e4(e4_server, devices[0] if devices else None, timeout,
                                                     series=series, speed=speed))
        return OpenedSource([e4.spec], None, e4.backend_id,
                            finished=[e4.virtual.finished] if e4.virtual is not None else [])
    specs, backend, peripherals = await stack.enter_async_context(open_devices(
        virtual, list(devices), profile=ble_profile, timeout=timeout, speed=speed, **virtual_kwargs))
    return OpenedSource(specs, backend.client, backend.id, peripherals, [p.finished for p in peripherals])


__all__ = ["OpenedSource", "check_source", "open_source"]
