"""A virtual BLE peripheral (bumble GATT server) that streams opaque packets with fault injection.

:class:`VirtualPeripheral` sits on the shared in-process radio
(:func:`firmware_bridge.backends.bumble_link.get_radio`) and looks to a bleak central like a real
IMU: it advertises its name and service UUID, serves a GATT service with one *data* characteristic
(notify) and one *control* characteristic (write / write without response / read back), and
notifies packets taken from a packet source. The packets are opaque ``bytes``; the packet protocols
live elsewhere.

Packet sources (``source=``):

* an iterable or async iterable of items, or
* a callable (sync or async) returning the next item, ``None`` meaning end of stream.

An item is ``bytes`` (or any bytes-like object) or ``(timestamp_seconds, bytes)``.

Pacing (``pacing=``):

* ``"asap"``: as fast as the stack accepts (one event-loop turn per packet); the stream pauses while
  no central is subscribed, so nothing is lost to disconnection.
* ``"rate"``: packet *i* is due ``i / (rate_hz * speed)`` s after the stream started.
* ``"timestamps"``: each item carries a timestamp; packet *i* is due ``(ts_i - ts_0) / speed`` s after
  the stream started (``speed`` 1.0 = real time, 10.0 = ten times faster).

In the timed modes the stream clock starts at the first subscription and keeps running like a sensor
that keeps sampling: packets that fall due while no central is subscribed are dropped and counted as
``dropped_disconnected`` (set ``hold_when_unsubscribed=True`` to pause the clock instead). Schedules are
absolute, so jitter does not accumulate.

Faults (:class:`FaultConfig`), all drawn from one ``random.Random(seed)`` with a fixed number of draws
per packet, so a seed reproduces the same faults:

* ``jitter_sd``: each packet is delayed by ``|N(0, jitter_sd)|`` seconds beyond its due time;
* ``loss_prob``: the packet is not sent (``dropped_loss``);
* ``duplicate_prob``: the packet is sent twice in a row (``duplicated``);
* ``reorder_prob``: the packet is held back and sent right after the next one (``reordered``);
* ``disconnect_every``: the peripheral drops the link after every N-th generated packet;
* ``disconnect_at``: the peripheral drops the link at these times (s after the stream started);
* ``readvertise_delay``: after a forced disconnect, advertising resumes after this many seconds.

MTU: a notification carries at most ``ATT_MTU - 3`` bytes. bumble would silently truncate longer
values, so the peripheral decides itself: ``oversize="refuse"`` (default) does not send such a packet
and counts it in ``oversize``; ``oversize="split"`` sends it as consecutive ``MTU - 3`` byte chunks
(only useful when the packet protocol can reassemble). Refusing is the default because splitting an
opaque packet silently changes the framing the receiver sees.

Counter invariant (``oversize="refuse"``)::

    generated == sent - duplicated + dropped_loss + dropped_disconnected + oversize
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import random
import struct
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bumble import att, gatt
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device

from firmware_bridge.backends.bumble_link import VirtualRadio, get_radio

logger = logging.getLogger(__name__)

DEFAULT_SERVICE_UUID = "9b3c0001-4d33-45ed-8a5e-6d3345000001"
DEFAULT_DATA_UUID = "9b3c0002-4d33-45ed-8a5e-6d3345000001"
DEFAULT_CONTROL_UUID = "9b3c0003-4d33-45ed-8a5e-6d3345000001"

PacketBytes = bytes | bytearray | memoryview
PacketItem = PacketBytes | tuple[float, PacketBytes]
PacketSource = (
    Iterable[PacketItem] | AsyncIterable[PacketItem] | Callable[[], PacketItem | None | Awaitable[PacketItem | None]]
)
ControlHandler = Callable[[bytes], None | Awaitable[None]]


@dataclass
class FaultConfig:
    """Fault injection settings of a :class:`VirtualPeripheral` (see the module docstring)."""

    jitter_sd: float = 0.0
    loss_prob: float = 0.0
    duplicate_prob: float = 0.0
    reorder_prob: float = 0.0
    disconnect_every: int | None = None
    disconnect_at: Sequence[float] = ()
    readvertise_delay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("loss_prob", "duplicate_prob", "reorder_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.jitter_sd < 0 or self.readvertise_delay < 0:
            raise ValueError("jitter_sd and readvertise_delay must be >= 0")
        if self.disconnect_every is not None and self.disconnect_every < 1:
            raise ValueError("disconnect_every must be >= 1")


@dataclass
class PeripheralCounters:
    """What the peripheral did with the packets of its source."""

    generated: int = 0
    sent: int = 0
    dropped_loss: int = 0
    dropped_disconnected: int = 0
    duplicated: int = 0
    reordered: int = 0
    oversize: int = 0
    split_chunks: int = 0
    forced_disconnects: int = 0
    connections: int = 0
    disconnections: int = 0
    control_writes: int = 0


@dataclass
class _Outgoing:
    payload: bytes
    index: int


class VirtualPeripheral:
    """A bumble peripheral on the shared link, streaming packets from ``source``.

    Args:
        name: advertised complete local name (also the GAP device name).
        address: random static address ``"D0:.."``; default: allocated by the radio.
        source: packet source (see module docstring); ``None`` = nothing to stream (control only).
        service_uuid, data_uuid, control_uuid: 128-bit or 16-bit UUID strings of the GATT service, the
            notify characteristic and the write characteristic.
        pacing: ``"asap"``, ``"rate"`` or ``"timestamps"``.
        rate_hz: packets per second for ``pacing="rate"``.
        speed: time scale for ``"rate"`` and ``"timestamps"`` (2.0 = twice as fast).
        faults: fault injection settings.
        oversize: ``"refuse"`` or ``"split"`` for packets longer than ``MTU - 3``.
        max_mtu: largest ATT MTU the GATT server accepts in an MTU exchange.
        hold_when_unsubscribed: pause the timed stream clock while nobody is subscribed.
        advertising_interval_ms: advertising interval (>= 20 ms; the connect latency is below this).
        record: keep every sent notification in :attr:`sent_log` (for tests).
        on_control: called with each value written to the control characteristic.
        radio: radio to join (default: the running loop's).
    """

    def __init__(
        self,
        name: str,
        address: str | None = None,
        *,
        source: PacketSource | None = None,
        service_uuid: str = DEFAULT_SERVICE_UUID,
        data_uuid: str = DEFAULT_DATA_UUID,
        control_uuid: str = DEFAULT_CONTROL_UUID,
        pacing: Literal["asap", "rate", "timestamps"] = "asap",
        rate_hz: float | None = None,
        speed: float = 1.0,
        faults: FaultConfig | None = None,
        oversize: Literal["refuse", "split"] = "refuse",
        max_mtu: int = 247,
        hold_when_unsubscribed: bool = False,
        advertising_interval_ms: float = 20.0,
        record: bool = False,
        on_control: ControlHandler | None = None,
        radio: VirtualRadio | None = None,
    ) -> None:
        if pacing == "rate" and (rate_hz is None or rate_hz <= 0):
            raise ValueError("pacing='rate' needs rate_hz > 0")
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if pacing not in ("asap", "rate", "timestamps"):
            raise ValueError(f"unknown pacing {pacing!r}")
        if oversize not in ("refuse", "split"):
            raise ValueError(f"unknown oversize policy {oversize!r}")
        self.name = name
        self._requested_address = address
        self.address = address.upper() if address else ""
        self.source = source
        self.service_uuid = service_uuid
        self.data_uuid = data_uuid
        self.control_uuid = control_uuid
        self.pacing = pacing
        self.rate_hz = rate_hz
        self.speed = speed
        self.faults = faults or FaultConfig()
        self.oversize = oversize
        self.max_mtu = max_mtu
        self.hold_when_unsubscribed = hold_when_unsubscribed or pacing == "asap"
        self.advertising_interval_ms = max(20.0, advertising_interval_ms)
        self.record = record
        self.on_control = on_control
        self._radio = radio

        self.counters = PeripheralCounters()
        self.sent_log: list[bytes] = []
        self.control_log: list[bytes] = []
        self.last_control: bytes = b""
        self.last_notified: bytes = b""
        self.finished = asyncio.Event()
        self._rng = random.Random(self.faults.seed)
        self._device: Device | None = None
        self._data_char: gatt.Characteristic[bytes] | None = None
        self._connection: Connection | None = None
        self._subscribed = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self._stream_t0: float | None = None
        self._forced_pending = False
        self._running = False
        self._readvertise_handle: asyncio.Task[None] | None = None
        self._advertising_op: asyncio.Future[None] | None = None

    # ------------------------------------------------------------ state
    @property
    def radio(self) -> VirtualRadio:
        """The radio this peripheral runs on."""
        if self._radio is None:
            raise RuntimeError("peripheral not started")
        return self._radio

    @property
    def connected(self) -> bool:
        """True while a central is connected."""
        return self._connection is not None

    @property
    def subscribed(self) -> bool:
        """True while the connected central has notifications enabled on the data characteristic."""
        return self._subscribed.is_set()

    @property
    def mtu(self) -> int:
        """ATT MTU of the current connection (23 when not connected)."""
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def advertising(self) -> bool:
        """True while advertising."""
        return bool(self._device is not None and self._device.is_advertising)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Join the radio, build the GATT database, power on, advertise and start streaming."""
        if self._running:
            return
        radio = self._radio or get_radio()
        self._radio = radio
        if not self.address:
            self.address = radio.allocate_address()
        radio.register_peripheral(self.address, self)
        device = radio.create_device(self.name, self.address)
        device.gatt_server.max_mtu = self.max_mtu

        props = gatt.Characteristic.Properties
        # bumble's GATT server does not check attribute permissions on writes: refuse them here.
        self._data_char = gatt.Characteristic(
            self.data_uuid,
            props.NOTIFY | props.READ,
            gatt.Characteristic.READABLE,
            gatt.CharacteristicValue(read=lambda _conn: self.last_notified, write=self._refuse_write),
        )
        self._data_char.on(gatt.Characteristic.EVENT_SUBSCRIPTION, self._on_subscription)
        control_char: gatt.Characteristic[bytes] = gatt.Characteristic(
            self.control_uuid,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE | props.READ,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=lambda _conn: self.last_control, write=self._on_control_write),
        )
        device.add_service(gatt.Service(self.service_uuid, [self._data_char, control_char]))
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        await device.power_on()
        self._device = device
        self._running = True
        await self._start_advertising()
        if self.source is not None:
            self._stream_task = asyncio.create_task(self._stream(), name=f"virtual-peripheral-{self.name}")

    async def stop(self) -> None:
        """Stop streaming, disconnect, stop advertising, power off and leave the radio. Idempotent."""
        if not self._running:
            return
        self._running = False
        tasks = list(self._tasks)
        if self._stream_task is not None:
            tasks.append(self._stream_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        if self._advertising_op is not None and not self._advertising_op.done():
            try:
                await asyncio.wait_for(self._advertising_op, 2.0)
            except Exception:
                logger.debug("re-advertising during stop failed", exc_info=True)
        self._advertising_op = None
        device = self._device
        if device is not None:
            if self._connection is not None:
                try:
                    await asyncio.wait_for(self._connection.disconnect(), 2.0)
                except Exception:
                    logger.debug("disconnect during stop failed", exc_info=True)
            try:
                await device.stop_advertising()
            except Exception:
                logger.debug("stop_advertising failed", exc_info=True)
            try:
                await asyncio.wait_for(device.power_off(), 2.0)
            except Exception:
                logger.debug("power_off failed", exc_info=True)
            self.radio.remove_device(device)
        self.radio.unregister_peripheral(self.address)
        self._device = None
        self._connection = None
        self._subscribed.clear()

    async def __aenter__(self) -> VirtualPeripheral:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def advertising_data(self) -> bytes:
        """The advertising payload: flags, complete list of the service UUID, complete local name.

        The emulated controller does not enforce the 31-byte legacy limit; a real one would.
        """
        service = UUID(self.service_uuid)
        uuid_type = (
            AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS
            if len(service.to_bytes()) == 2
            else AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS
        )
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.Type.FLAGS, bytes([0x06])),
                    (uuid_type, service.to_bytes()),
                    (AdvertisingData.Type.COMPLETE_LOCAL_NAME, self.name.encode("utf-8")),
                ]
            )
        )

    async def _start_advertising(self) -> None:
        if self._device is None or not self._running or self._connection is not None:
            return
        await self._device.start_advertising(
            advertising_data=self.advertising_data(),
            advertising_interval_min=self.advertising_interval_ms,
            advertising_interval_max=self.advertising_interval_ms,
            auto_restart=False,
        )

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ events
    def _on_connection(self, connection: Connection) -> None:
        if self._connection is not None:
            logger.warning("%s: second connection refused", self.name)
            self._spawn(connection.disconnect(), "refuse")
            return
        self._connection = connection
        self.counters.connections += 1
        self._connected_event.set()
        connection.on(Connection.EVENT_DISCONNECTION, lambda reason: self._on_disconnection(connection, reason))

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._connected_event.clear()
        self._subscribed.clear()
        self.counters.disconnections += 1
        delay = self.faults.readvertise_delay if self._forced_pending else 0.0
        self._forced_pending = False
        if self._running:
            self._spawn(self._readvertise_after(delay), "readvertise")

    async def _readvertise_after(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if not self._running:
            return
        # The HCI exchange runs shielded: cancelling it half-way leaves bumble with an
        # unanswered command (InvalidStateError at power-off). stop() waits for it instead.
        self._advertising_op = asyncio.ensure_future(self._start_advertising())
        try:
            await asyncio.shield(self._advertising_op)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s: failed to restart advertising", self.name)

    def _on_subscription(self, bearer: Any, notify_enabled: bool, indicate_enabled: bool) -> None:
        if bearer is not self._connection:
            return
        if notify_enabled or indicate_enabled:
            self._subscribed.set()
        else:
            self._subscribed.clear()

    def _refuse_write(self, _connection: Any, _value: bytes) -> None:
        raise att.ATT_Error(error_code=att.ATT_WRITE_NOT_PERMITTED_ERROR, message="data characteristic is notify-only")

    def _on_control_write(self, _connection: Any, value: bytes) -> None:
        data = bytes(value)
        self.last_control = data
        self.control_log.append(data)
        self.counters.control_writes += 1
        if self.on_control is not None:
            result = self.on_control(data)
            if inspect.isawaitable(result):
                self._spawn(result, "on-control")

    # ------------------------------------------------------------ control
    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until a central is connected."""
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    async def wait_subscribed(self, timeout: float | None = None) -> None:
        """Wait until the central has enabled notifications on the data characteristic."""
        await asyncio.wait_for(self._subscribed.wait(), timeout)

    async def wait_finished(self, timeout: float | None = None) -> None:
        """Wait until the source is exhausted and every packet has been handled."""
        await asyncio.wait_for(self.finished.wait(), timeout)

    async def disconnect(self, *, forced: bool = True) -> bool:
        """Drop the link from the peripheral side (a forced disconnect). Returns False if not connected."""
        connection = self._connection
        if connection is None:
            return False
        if forced:
            self._forced_pending = True
            self.counters.forced_disconnects += 1
        try:
            await asyncio.wait_for(connection.disconnect(), 2.0)
        except Exception:
            logger.debug("%s: disconnect failed", self.name, exc_info=True)
        return True

    async def notify(self, payload: PacketBytes) -> bool:
        """Send one notification now (no faults, no counters). Returns False when nobody is subscribed."""
        connection = self._connection
        if connection is None or not self._subscribed.is_set() or self._device is None or self._data_char is None:
            return False
        await self._device.notify_subscriber(connection, self._data_char, bytes(payload))
        return True

    # ------------------------------------------------------------ streaming
    async def _items(self) -> AsyncIterator[PacketItem]:
        source = self.source
        if source is None:
            return
        if isinstance(source, AsyncIterable):
            async for item in source:
                yield item
        elif isinstance(source, (bytes, bytearray, memoryview)):
            raise TypeError("source must yield packets, not be a single bytes object")
        elif isinstance(source, Iterable):
            for item in source:
                yield item
        elif callable(source):
            while True:
                item = source()
                if inspect.isawaitable(item):
                    item = await item
                if item is None:
                    return
                yield item
        else:
            raise TypeError(f"unsupported packet source {type(source).__name__}")

    @staticmethod
    def _split_item(item: PacketItem) -> tuple[float | None, bytes]:
        if isinstance(item, tuple):
            timestamp, payload = item
            return float(timestamp), bytes(payload)
        return None, bytes(item)

    async def _disconnect_schedule(self, t0: float) -> None:
        loop = asyncio.get_running_loop()
        for when in sorted(self.faults.disconnect_at):
            delay = t0 + when - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.disconnect(forced=True)

    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        faults = self.faults
        rng = self._rng
        try:
            await self._subscribed.wait()
            t0 = loop.time()
            self._stream_t0 = t0
            if faults.disconnect_at:
                self._spawn(self._disconnect_schedule(t0), "disconnect-schedule")
            ts0: float | None = None
            index = 0
            held: _Outgoing | None = None
            async for item in self._items():
                timestamp, payload = self._split_item(item)
                # A fixed number of draws per packet keeps the fault pattern a function of the seed only.
                r_loss, r_dup, r_reorder = rng.random(), rng.random(), rng.random()
                jitter = abs(rng.gauss(0.0, faults.jitter_sd)) if faults.jitter_sd > 0 else 0.0

                due: float | None = None
                if self.pacing == "rate":
                    assert self.rate_hz is not None
                    due = t0 + index / (self.rate_hz * self.speed)
                elif self.pacing == "timestamps":
                    if timestamp is None:
                        raise ValueError("pacing='timestamps' needs (timestamp, bytes) items")
                    if ts0 is None:
                        ts0 = timestamp
                    due = t0 + (timestamp - ts0) / self.speed
                if due is not None:
                    delay = due + jitter - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif jitter > 0:
                    await asyncio.sleep(jitter)
                else:
                    await asyncio.sleep(0)

                if self.hold_when_unsubscribed and not self._subscribed.is_set():
                    paused_at = loop.time()
                    await self._subscribed.wait()
                    t0 += loop.time() - paused_at

                index += 1
                self.counters.generated += 1
                current = _Outgoing(payload, index)

                if r_loss < faults.loss_prob:
                    self.counters.dropped_loss += 1
                elif held is None and r_reorder < faults.reorder_prob:
                    held = current
                else:
                    await self._emit(current)
                    if r_dup < faults.duplicate_prob:
                        if await self._emit(current, duplicate=True):
                            self.counters.duplicated += 1
                    if held is not None:
                        await self._emit(held)
                        self.counters.reordered += 1
                        held = None

                if faults.disconnect_every and self.counters.generated % faults.disconnect_every == 0:
                    if held is not None:
                        await self._emit(held)
                        held = None
                    await self.disconnect(forced=True)
            if held is not None:
                await self._emit(held)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s: streaming failed", self.name)
            raise
        finally:
            self.finished.set()

    async def _emit(self, item: _Outgoing, *, duplicate: bool = False) -> bool:
        """Send one packet; returns True when it reached the stack."""
        connection = self._connection
        if connection is None or not self._subscribed.is_set() or self._device is None or self._data_char is None:
            if not duplicate:
                self.counters.dropped_disconnected += 1
            return False
        limit = int(connection.att_mtu) - 3
        payload = item.payload
        if len(payload) > limit:
            if self.oversize == "refuse":
                if not duplicate:
                    self.counters.oversize += 1
                logger.warning(
                    "%s: packet of %d bytes exceeds MTU-3 = %d bytes, not sent", self.name, len(payload), limit
                )
                return False
            chunks = [payload[i : i + limit] for i in range(0, len(payload), limit)]
            self.counters.split_chunks += len(chunks)
        else:
            chunks = [payload]
        try:
            for chunk in chunks:
                await self._device.notify_subscriber(connection, self._data_char, chunk)
        except Exception:
            logger.debug("%s: notify failed", self.name, exc_info=True)
            if not duplicate:
                self.counters.dropped_disconnected += 1
            return False
        self.counters.sent += 1
        self.last_notified = payload
        if self.record:
            self.sent_log.append(payload)
        return True


def make_counter_source(
    count: int | None, size: int = 20, *, start: int = 0, rng_seed: int | None = None
) -> Iterable[bytes]:
    """Test helper: packets ``<seq u32 LE><filler>`` of ``size`` bytes, ``count`` of them (None = endless).

    The filler is deterministic (``rng_seed``) or the repeated low byte of the sequence number.
    """
    if size < 4:
        raise ValueError("size must be >= 4 to hold the sequence number")
    rng = random.Random(rng_seed) if rng_seed is not None else None
    numbers = itertools.count(start) if count is None else range(start, start + count)
    for seq in numbers:
        if rng is not None:
            filler = bytes(rng.getrandbits(8) for _ in range(size - 4))
        else:
            filler = bytes([seq & 0xFF]) * (size - 4)
        yield struct.pack("<I", seq) + filler


__all__ = [
    "DEFAULT_CONTROL_UUID",
    "DEFAULT_DATA_UUID",
    "DEFAULT_SERVICE_UUID",
    "FaultConfig",
    "PacketItem",
    "PacketSource",
    "PeripheralCounters",
    "VirtualPeripheral",
    "make_counter_source",
]
