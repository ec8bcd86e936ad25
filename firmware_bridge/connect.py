"""Opening and connecting devices for a program: the reusable part of ``edge-record``, ``edge-stream`` and
``edge-calibrate``.

* :func:`open_devices`: the devices a command streams from, virtual (already resolved
  :class:`~firmware_bridge.virtual.catalog.VirtualDeviceSpec` objects, served on the in-process bumble radio) or real
  (names or addresses resolved by a scan), with the backend chosen by :func:`firmware_bridge.backends.get_backend`.
* :func:`start_and_connect`: start a :class:`~firmware_bridge.session.StreamSession` and wait for every device
  (connected, and approved where the device asks its wearer: a declined Touch SDK watch raises
  :class:`~firmware_bridge.session.ConnectionDeclinedError`, a :class:`~toolkit.errors.Multi3EdgeError` that the
  commands print as one ``error:`` line with a non-zero exit).
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bleak import BleakScanner
from bleak.exc import BleakError

from toolkit.errors import ConfigError, Multi3EdgeError

from .backends import Backend, get_backend
from .backends.bumble_link import close_radio
from .devices import advertised_name, get_profile, name_matches, profile_for_match, scan_matches
from .e4_link import E4ServerAddress, E4ServerDevice, choose_device, parse_server_address, probe_server
from .recording import NOTIFICATION, read_recording
from .session import ConnectionDeclinedError, DeviceSpec, StreamSession
from .transport import DiscoveredDevice, scan
from .virtual.catalog import VirtualDeviceSpec, start_virtual_peripherals
from .virtual.e4_server import VirtualE4Server, generate_wrist_activity
from .virtual.sources import SampleSeries


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
    return name_matches(d, target)  # address, or a name prefix (Touch SDK: manufacturer data 0xFFFF first)


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
            seen = ", ".join(f"{advertised_name(d)} ({d.address})" for d in found) or "none"
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
    """Start ``session`` and wait until every device is connected and has approved the connection (Touch SDK: the
    wearer answers a dialog on the watch; up to ``timeout`` s more). A failure is a one-line ConfigError; a
    declined watch raises :class:`ConnectionDeclinedError`."""
    await session.start()
    try:
        await session.wait_connected(timeout)
        await session.wait_approved(timeout)
    except (TimeoutError, BleakError) as e:
        raise ConfigError(f"could not connect: {e}") from None


def default_recording_path(prog: str, create: bool = True) -> Path:
    """``recordings/<prog>-<local time>.m3erec`` (its folder created unless ``create`` is False: see
    :func:`output_on_success`)."""
    path = Path("recordings") / f"{prog}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.m3erec"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- checks before a model is loaded
async def check_bluetooth(timeout: float = 5.0) -> None:
    """Start and stop a scan on the platform backend: the cheapest proof that an adapter is usable, run before a
    command loads its model (seconds) so a machine without Bluetooth fails at once.

    Raises:
        BluetoothUnavailableError: no adapter, powered off, no permission, or the backend fails / hangs.
    """
    scanner = BleakScanner(backend=get_backend().scanner)
    try:
        await asyncio.wait_for(scanner.start(), timeout)
        await asyncio.wait_for(scanner.stop(), timeout)
    except TimeoutError:
        raise BluetoothUnavailableError(f"Bluetooth is not usable here (the adapter did not start a scan within "
                                        f"{timeout:g} s); use --virtual NAME to try with in-process virtual devices"
                                        ) from None
    except (BleakError, OSError, RuntimeError, ValueError, AttributeError, ImportError) as e:
        raise bluetooth_error(e) from None


@contextlib.contextmanager
def output_on_success(path: Path | None) -> Iterator[None]:
    """Around the part of a command that writes ``path`` (a recording): its folder is created on entry; when the
    block fails, a file holding no data record and a folder this created (left empty) are removed, so a failed
    connection leaves no empty ``recordings/`` behind."""
    if path is None:
        yield
        return
    path = Path(path)
    created = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        with contextlib.suppress(OSError):
            if path.is_file() and not _has_data(path):
                path.unlink()
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        raise


def _has_data(path: Path) -> bool:
    contents = read_recording(path, resync=True)
    return any(r.rtype == NOTIFICATION for r in contents.records)


# --------------------------------------------------------------------------- Empatica E4 streaming server
VIRTUAL_E4 = "virtual"


@dataclass
class E4Source:
    """What ``--e4-server`` opened: the device spec, the backend id for the recording, the virtual server (if any)."""

    spec: DeviceSpec
    backend_id: str
    virtual: VirtualE4Server | None = None


def e4_server_target(text: str) -> tuple[E4ServerAddress | None, str | None]:
    """``--e4-server`` value -> (address, None) for a real server, (None, replay name or '') for ``virtual`` /
    ``virtual:NAME``. Raises ConfigError for a malformed address."""
    if text == VIRTUAL_E4 or text.startswith(VIRTUAL_E4 + ":"):
        return None, text[len(VIRTUAL_E4) + 1:]
    return parse_server_address(text), None


async def check_e4_server(text: str, timeout: float) -> None:
    """Before a model is loaded: a real server must answer ``device_list`` (``virtual`` needs nothing).

    Raises:
        E4ServerUnreachableError: no server there.
    """
    address, _ = e4_server_target(text)
    if address is not None:
        await probe_server(address, timeout, discover=False)


@contextlib.asynccontextmanager
async def open_e4(text: str, device: str | None, timeout: float, *, series: SampleSeries | None = None,
                  speed: float = 1.0, **virtual_kwargs: object) -> AsyncIterator[E4Source]:
    """The E4 of ``--e4-server HOST[:PORT]`` (``--device ID`` or the first one the server has connected), or, for
    ``virtual[:NAME]``, a :class:`~firmware_bridge.virtual.e4_server.VirtualE4Server` on 127.0.0.1 replaying
    ``series`` (default: :func:`~firmware_bridge.virtual.e4_server.generate_wrist_activity`), closed on exit."""
    address, _ = e4_server_target(text)
    server = None
    try:
        if address is None:
            server = VirtualE4Server(series if series is not None else generate_wrist_activity(120.0), speed=speed,
                                     **virtual_kwargs)  # type: ignore[arg-type]
            await server.start()
            address = parse_server_address(server.address)
        e4_device: E4ServerDevice = await choose_device(address, device, timeout)
        yield E4Source(DeviceSpec(e4_device, "empatica-e4-server", e4_device.device_id),
                       "virtual" if server is not None else "platform", server)
    finally:
        if server is not None:
            await server.close()


__all__ = [
    "VIRTUAL_E4",
    "BluetoothUnavailableError",
    "E4Source",
    "check_bluetooth",
    "check_e4_server",
    "e4_server_target",
    "open_e4",
    "output_on_success",
    "BluetoothUnavailableReason",
    "ConnectionDeclinedError",
    "bluetooth_error",
    "default_recording_path",
    "open_devices",
    "resolve_real",
    "scan_devices",
    "start_and_connect",
    "stop_on_signals",
]
