"""Application-side BLE transport on bleak's public API only.

Works unchanged with real hardware (``backend=None``: bleak's platform backend) and with the in-process
virtual radio (``backend=BumbleClient`` / ``BumbleScanner`` from ``firmware_bridge.backends.bumble_backend``).

* :class:`DeviceProfileMatch` and :func:`scan` find devices by name prefix and / or advertised service UUID.
* :class:`ImuStreamConnection` keeps one device connected: connect with timeout, retries with capped
  exponential backoff, notifications enabled on the data characteristic, automatic reconnect after a
  disconnection, clean shutdown. Its notify callback does nothing but put
  ``(host_time_monotonic, device_id, char_uuid, bytes)`` into a bounded :class:`asyncio.Queue`
  (counting drops when the queue is full): decoding and inference belong to the consumer, never to the
  callback, which runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str

logger = logging.getLogger(__name__)


class Notification(NamedTuple):
    """One received notification, as queued by :class:`ImuStreamConnection`."""

    host_time: float
    """``time.monotonic()`` when the callback ran."""
    device_id: str
    char_uuid: str
    data: bytes


# --------------------------------------------------------------------------- discovery
@dataclass(frozen=True)
class DeviceProfileMatch:
    """Criteria that identify a device kind in advertisements; every given criterion must match.

    Args:
        label: free name of the profile (e.g. ``"polar-verity"``), reported with each match.
        name_prefix: the advertised local name (or the OS name) must start with this.
        service_uuid: this service UUID (16- or 128-bit string) must be advertised.
    """

    label: str = ""
    name_prefix: str | None = None
    service_uuid: str | None = None

    def __post_init__(self) -> None:
        if self.name_prefix is None and self.service_uuid is None:
            raise ValueError("a DeviceProfileMatch needs a name_prefix or a service_uuid")
        if self.service_uuid is not None:
            object.__setattr__(self, "service_uuid", normalize_uuid_str(self.service_uuid))

    def matches(self, device: BLEDevice, advertisement: AdvertisementData) -> bool:
        """True when ``device`` / ``advertisement`` satisfy every criterion."""
        if self.name_prefix is not None:
            name = advertisement.local_name or device.name or ""
            if not name.startswith(self.name_prefix):
                return False
        if self.service_uuid is not None:
            advertised = {normalize_uuid_str(u) for u in advertisement.service_uuids}
            if self.service_uuid not in advertised:
                return False
        return True


@dataclass(frozen=True)
class DiscoveredDevice:
    """A scan result that matched a profile."""

    device: BLEDevice
    advertisement: AdvertisementData
    profile: DeviceProfileMatch

    @property
    def address(self) -> str:
        """Device address (a UUID on macOS)."""
        return self.device.address

    @property
    def name(self) -> str | None:
        """Advertised local name, else the OS name."""
        return self.advertisement.local_name or self.device.name


async def scan(
    profiles: Sequence[DeviceProfileMatch],
    timeout: float = 5.0,
    backend: type[BaseBleakScanner] | None = None,
    *,
    expected: int | None = None,
) -> list[DiscoveredDevice]:
    """Scan for ``timeout`` seconds and return the devices matching any profile (first profile wins).

    Args:
        profiles: device profiles to look for.
        timeout: scan duration in seconds.
        backend: bleak scanner backend class (None = platform default).
        expected: return as soon as this many distinct devices matched.

    Returns:
        Matches in order of first sighting, with the latest advertisement of each device.
    """
    found: dict[str, DiscoveredDevice] = {}
    enough = asyncio.Event()

    def on_detection(device: BLEDevice, advertisement: AdvertisementData) -> None:
        for profile in profiles:
            if profile.matches(device, advertisement):
                found[device.address] = DiscoveredDevice(device, advertisement, profile)
                if expected is not None and len(found) >= expected:
                    enough.set()
                return

    scanner = BleakScanner(detection_callback=on_detection, backend=backend)
    async with scanner:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), timeout)
    return list(found.values())


# --------------------------------------------------------------------------- connection
@dataclass(frozen=True)
class RetryPolicy:
    """Connect timeout and reconnect backoff of an :class:`ImuStreamConnection`.

    The wait before attempt *k* of a series of consecutive failures (k = 0 right after a disconnection)
    is ``min(max_backoff, initial_backoff * multiplier**k)``, spread by ``± jitter`` (a fraction).
    """

    connect_timeout: float = 10.0
    initial_backoff: float = 0.2
    max_backoff: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.0
    max_failures: int | None = None
    """Give up after this many consecutive failed attempts (None = never)."""
    reconnect: bool = True
    """Reconnect after a disconnection (False: the connection ends with the first link loss)."""

    def backoff(self, failures: int, rng: random.Random | None = None) -> float:
        """Delay in seconds before the next attempt after ``failures`` consecutive failures."""
        delay = min(self.max_backoff, self.initial_backoff * (self.multiplier ** max(0, failures)))
        if self.jitter > 0:
            delay *= 1.0 + (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, delay)


@dataclass
class ConnectionStats:
    """Counters of an :class:`ImuStreamConnection`."""

    connect_attempts: int = 0
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    received: int = 0
    dropped_queue_full: int = 0
    last_error: str | None = None
    spans: list[tuple[float, float | None]] = field(default_factory=list)
    """``(connected_at, disconnected_at)`` host monotonic times of each connection (None = still up)."""


class BackgroundConnection:
    """The task side shared by the connections a session drives (BLE here, the E4 streaming server in
    :mod:`firmware_bridge.e4_link`): ``start`` runs the subclass's ``_run`` coroutine as a task named
    ``<task_prefix>-<device_id>``; subclasses set ``device_id``, ``_stop``, ``_task`` and ``error``."""

    task_prefix = "connection"
    device_id: str
    error: BaseException | None
    _stop: asyncio.Event
    _task: asyncio.Task[None] | None

    async def _run(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    @property
    def running(self) -> bool:
        """True while the connection task runs (connected or retrying)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the connection task (returns immediately; see ``wait_connected``)."""
        if self.running:
            return
        self._stop.clear()
        self.error = None
        self._task = asyncio.create_task(self._run(), name=f"{self.task_prefix}-{self.device_id}")


class ImuStreamConnection(BackgroundConnection):
    """Keep one BLE device connected and stream its notifications into a queue.

    Args:
        device: a :class:`BLEDevice` from a scan (preferred) or an address.
        data_char_uuid: characteristic to enable notifications on.
        queue: destination queue (shared by several connections if wanted); default: a new bounded one.
        queue_maxsize: size of the default queue.
        device_id: identifier put in each queued item (default: device name or address).
        backend: bleak client backend class (None = platform default).
        retry: connect timeout and backoff policy.
        extra_notify_uuids: further characteristics to subscribe to.
        on_connected: awaited after each (re)connection and subscription, e.g. to write a start
            command to a control characteristic.
        before_subscribe: awaited after each (re)connection, before the subscriptions (a device whose
            handshake writes first, e.g. the Touch SDK's client info).
        client_kwargs: extra keyword arguments for :class:`bleak.BleakClient`.
    """

    task_prefix = "imu-stream"

    def __init__(
        self,
        device: BLEDevice | str,
        data_char_uuid: str,
        *,
        queue: asyncio.Queue[Notification] | None = None,
        queue_maxsize: int = 4096,
        device_id: str | None = None,
        backend: type[BaseBleakClient] | None = None,
        retry: RetryPolicy | None = None,
        extra_notify_uuids: Sequence[str] = (),
        on_connected: Callable[[BleakClient], Awaitable[None]] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        before_subscribe: Callable[[BleakClient], Awaitable[None]] | None = None,
    ) -> None:
        self.device = device
        self.data_char_uuid = normalize_uuid_str(data_char_uuid)
        self.notify_uuids = [self.data_char_uuid] + [normalize_uuid_str(u) for u in extra_notify_uuids]
        self.queue: asyncio.Queue[Notification] = queue if queue is not None else asyncio.Queue(queue_maxsize)
        if device_id is None:
            device_id = (device.name or device.address) if isinstance(device, BLEDevice) else device
        self.device_id = device_id
        self.backend = backend
        self.retry = retry or RetryPolicy()
        self.on_connected = on_connected
        self.before_subscribe = before_subscribe
        self.client_kwargs = dict(client_kwargs or {})
        self.stats = ConnectionStats()
        self._rng = random.Random()
        self._client: BleakClient | None = None
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    # ------------------------------------------------------------ public
    @property
    def is_connected(self) -> bool:
        """True while connected and subscribed."""
        return self._connected.is_set()

    @property
    def client(self) -> BleakClient | None:
        """The current bleak client while connected."""
        return self._client if self.is_connected else None

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected and subscribed.

        Raises:
            TimeoutError: not connected within ``timeout``.
            BleakError: the connection task gave up (``max_failures`` reached).
        """
        waiter = asyncio.ensure_future(self._connected.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if self._task is not None:
            tasks.add(self._task)
        try:
            done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._connected.is_set():
            return
        if self._task is not None and self._task in done:
            raise BleakError(f"{self.device_id}: gave up connecting: {self.stats.last_error}") from self.error
        raise TimeoutError(f"{self.device_id}: not connected within {timeout} s")

    async def write(self, char_uuid: str, data: bytes, response: bool = True) -> None:
        """Write to a characteristic of the connected device (e.g. a control point)."""
        client = self.client
        if client is None:
            raise BleakError(f"{self.device_id}: not connected")
        await client.write_gatt_char(char_uuid, data, response=response)

    async def stop(self) -> None:
        """Disconnect and end the connection task (idempotent)."""
        self._stop.set()
        task = self._task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self.retry.connect_timeout + 5.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except Exception:  # the task's own error is kept in self.error
            pass
        self._task = None

    async def __aenter__(self) -> ImuStreamConnection:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ internals
    def _on_notify(self, characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        """Notify callback: enqueue only."""
        try:
            self.queue.put_nowait(Notification(time.monotonic(), self.device_id, characteristic.uuid, bytes(data)))
            self.stats.received += 1
        except asyncio.QueueFull:
            self.stats.dropped_queue_full += 1

    async def _sleep_unless_stopped(self, delay: float) -> None:
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def _connect_once(self, disconnected: asyncio.Event) -> BleakClient:
        client = BleakClient(
            self.device,
            disconnected_callback=lambda _client: disconnected.set(),
            timeout=self.retry.connect_timeout,
            backend=self.backend,
            **self.client_kwargs,
        )
        try:
            await client.connect()
            if self.before_subscribe is not None:
                await self.before_subscribe(client)
            for char_uuid in self.notify_uuids:
                await client.start_notify(char_uuid, self._on_notify)
            if self.on_connected is not None:
                await self.on_connected(client)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5.0)
            raise
        return client

    async def _run(self) -> None:
        failures = 0
        first = True
        try:
            while not self._stop.is_set():
                if not first:
                    await self._sleep_unless_stopped(self.retry.backoff(failures, self._rng))
                    if self._stop.is_set():
                        break
                first = False
                self.stats.connect_attempts += 1
                disconnected = asyncio.Event()
                try:
                    client = await self._connect_once(disconnected)
                except (BleakError, TimeoutError, OSError, EOFError) as error:
                    failures += 1
                    self.stats.connect_failures += 1
                    self.stats.last_error = f"{type(error).__name__}: {error}"
                    logger.info("%s: connect attempt failed: %s", self.device_id, self.stats.last_error)
                    if self.retry.max_failures is not None and failures >= self.retry.max_failures:
                        self.error = error
                        return
                    continue
                failures = 0
                self.stats.connects += 1
                self._client = client
                self.stats.spans.append((time.monotonic(), None))
                self._connected.set()
                try:
                    stop_waiter = asyncio.ensure_future(self._stop.wait())
                    link_waiter = asyncio.ensure_future(disconnected.wait())
                    try:
                        await asyncio.wait({stop_waiter, link_waiter}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        stop_waiter.cancel()
                        link_waiter.cancel()
                finally:
                    self._connected.clear()
                    start, _ = self.stats.spans[-1]
                    self.stats.spans[-1] = (start, time.monotonic())
                    self._client = None
                if self._stop.is_set():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.disconnect(), 5.0)
                    break
                self.stats.disconnects += 1
                logger.info("%s: disconnected; reconnecting", self.device_id)
                if not self.retry.reconnect:
                    break
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # unexpected: keep it for wait_connected / the caller
            self.error = error
            logger.exception("%s: connection task failed", self.device_id)
            raise
