"""Opening and connecting devices for a program: the reusable part of ``edge-record``, ``edge-stream`` and
``edge-calibrate``.

* :func:`open_devices`: the devices a command streams from, virtual (already resolved
  :class:`~firmware_bridge.virtual.catalog.VirtualDeviceSpec` objects, served on the in-process bumble radio) or real
  (names or addresses resolved by a scan), with the backend chosen by :func:`firmware_bridge.backends.get_backend`.
* :func:`start_and_connect`: start a :class:`~firmware_bridge.session.StreamSession` and wait for every device.
* :func:`stop_on_signals`: SIGINT / SIGTERM as an :class:`asyncio.Event`, so a command stops cleanly.
* :func:`default_recording_path`: ``recordings/<prog>-<local time>.m3erec``.
* :class:`BluetoothUnavailableError`: no usable adapter, with a :class:`BluetoothUnavailableReason`.

Errors: :class:`ValueError` for programmer mistakes, :class:`toolkit.errors.Multi3EdgeError` subclasses for user input
and devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from bleak.exc import BleakError

from toolkit.errors import ConfigError, Multi3EdgeError

from .backends import Backend, get_backend
from .backends.bumble_link import close_radio
from .devices import get_profile, profile_for_match, scan_matches
from .session import DeviceSpec, StreamSession
from .transport import DiscoveredDevice, scan
from .virtual.catalog import VirtualDeviceSpec, start_virtual_peripherals


class BluetoothUnavailableReason(enum.Enum):
    """Why Bluetooth could not be used (read from the platform backend's error)."""

    NO_ADAPTER = "no-adapter"
    POWERED_OFF = "powered-off"
    PERMISSION_DENIED = "permission-denied"
    UNKNOWN = "unknown"


class BluetoothUnavailableError(Multi3EdgeError):
    """No usable Bluetooth adapter (or the platform backend failed).

    Attributes:
        reason: a :class:`BluetoothUnavailableReason`.
    """

    def __init__(self, message: str, reason: BluetoothUnavailableReason = BluetoothUnavailableReason.UNKNOWN) -> None:
        super().__init__(message)
        self.reason = reason


def _reason(error: BaseException) -> BluetoothUnavailableReason:
    text = str(error).lower()
    if isinstance(error, PermissionError) or "permission" in text or "not authorized" in text:
        return BluetoothUnavailableReason.PERMISSION_DENIED
    if "powered off" in text or "not powered" in text or "turned off" in text:
        return BluetoothUnavailableReason.POWERED_OFF
    if "adapter" in text or "no such file" in text or isinstance(error, FileNotFoundError):
        return BluetoothUnavailableReason.NO_ADAPTER
    return BluetoothUnavailableReason.UNKNOWN


def bluetooth_error(error: BaseException) -> BluetoothUnavailableError:
    """The one-line error a command shows when the platform backend fails (with a ``--virtual`` hint)."""
    return BluetoothUnavailableError(
        f"Bluetooth is not usable here ({type(error).__name__}: {error}); "
        "use --virtual NAME to try with in-process virtual devices", _reason(error))


def _matches_target(d: DiscoveredDevice, target: str) -> bool:
    t = target.lower()
    return d.address.lower() == t or (d.name or "").lower().startswith(t)


async def scan_devices(timeout: float, virtual: Sequence[VirtualDeviceSpec] = ()) -> list[DiscoveredDevice]:
    """Devices with a known profile heard in ``timeout`` s: real ones, or the ``virtual`` ones started for the scan."""
    if not virtual:
        try:
            return await scan(scan_matches(), timeout=timeout, backend=get_backend().scanner)
        except (BleakError, OSError) as e:
            raise bluetooth_error(e) from None
    backend = get_backend(virtual=True)
    try:
        peripherals = await start_virtual_peripherals(virtual)
        return await scan(scan_matches(), timeout=timeout, backend=backend.scanner, expected=len(peripherals))
    finally:
        await close_radio()


async def resolve_real(targets: list[str], profile: str | None, timeout: float) -> list[DeviceSpec]:
    """Real devices by address or advertised name (prefix), found by a scan; ``profile`` forces their profile."""
    if profile is not None:
        get_profile(profile)
    try:
        found = await scan(scan_matches(), timeout=min(timeout, 10.0))
    except (BleakError, OSError) as e:
        raise bluetooth_error(e) from None
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
async def open_devices(virtual: Sequence[VirtualDeviceSpec], real: Sequence[str] | None, *,
                       profile: str | None = None, timeout: float = 10.0, **virtual_kwargs: object,
                       ) -> AsyncIterator[tuple[list[DeviceSpec], Backend, list]]:
    """The devices a command streams from: ``(specs, backend, virtual peripherals)``.

    Virtual specs start peripherals on the in-process bumble radio (``virtual_kwargs`` go to
    :func:`~firmware_bridge.virtual.catalog.make_virtual_peripheral`: speed, faults) with the ``"virtual"`` backend;
    real names or addresses are resolved by a scan (:func:`resolve_real`) for the ``"platform"`` backend. Pass
    ``backend.client`` and ``backend.id`` to the :class:`~firmware_bridge.session.StreamSession`. The radio is
    closed on exit: stop any session on these devices inside the block.
    """
    peripherals: list = []
    try:
        if virtual:
            backend = get_backend(virtual=True)
            peripherals = await start_virtual_peripherals(virtual, **virtual_kwargs)
            specs = [DeviceSpec(p.address, p.virtual_spec.profile, p.name) for p in peripherals]
            yield specs, backend, peripherals
        else:
            yield await resolve_real(list(real or []), profile, timeout), get_backend(), []
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


__all__ = [
    "BluetoothUnavailableError",
    "BluetoothUnavailableReason",
    "bluetooth_error",
    "default_recording_path",
    "open_devices",
    "resolve_real",
    "scan_devices",
    "start_and_connect",
    "stop_on_signals",
]
