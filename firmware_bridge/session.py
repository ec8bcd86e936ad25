"""Receive pipeline for one or many BLE IMU devices: connections -> queue -> decode -> integrity -> samples.

::

    ImuStreamConnection (one per device; notify callback only enqueues)
        -> one shared asyncio.Queue[Notification]
        -> consumer task: [RecordingWriter: every raw packet, as it arrives]
                          -> per-device decoder (DeviceProfile.decoder_factory)
                          -> per-device StreamIntegrity (duplicates, reordering, gaps, clock mapping)
                          -> ImuBatch.to_si()
        -> StreamBatch delivered to ``on_batch`` callbacks and to ``async for batch in session``

Delivered samples
    :class:`StreamBatch` wraps one :class:`~firmware_bridge.protocols.base.ImuBatch` in SI units
    (acc m/s^2, gyro rad/s) **in the device's own axes and sign convention** (see ``batch.sign``);
    rotating them into the simulator's frame is the calibration step's job, not this module's.
    ``batch.host_time_s`` holds one host timestamp per sample on the ``time.time()`` scale (device
    time mapped through the per-device :class:`~firmware_bridge.integrity.ClockMapper`, or arrival
    time spread by the sample period when the device sends no timestamps); ``batch.device_time_s``
    the device's own sample times when it sends them.

Recording
    With ``record_to`` every notification (data and extra characteristics) is appended to a
    :mod:`firmware_bridge.recording` file as it is taken off the queue, with its arrival time
    converted to ``time.time()`` scale, before decoding, so a packet the decoder rejects is still
    recorded. Start-command writes are recorded as WRITE records, (re)connections as EVENT records,
    and a ``session-start`` event (JSON) names each device's profile and the backend id
    (``"platform"``: real hardware, ``"virtual"``: the in-process radio). ``decode_recording(path,
    recording_decoders())`` reproduces the live decoded stream.

Handshake and approval
    A profile with ``start_before_subscribe`` (Touch SDK) gets its start commands written right after the
    connection and before the subscriptions (the official client's order); with ``start_write_errors_ok`` a
    failing write is logged, recorded as a ``start-write-error`` event and ignored (the watch rejects the write
    while it shows its approval dialog). Every start command is also handed to the profile
    (:meth:`~firmware_bridge.devices.DeviceProfile.on_start_command`: Polar's stream settings reach its
    decoder). A profile with ``needs_approval`` is "pending" until its first Update: :meth:`StreamSession.
    wait_approved` waits for it; a DISCONNECT signal (the wearer declined) stops that device's connection
    (no reconnect), records a ``declined`` event and raises :class:`ConnectionDeclinedError` there (and keeps
    it in :attr:`StreamSession.error`).

Shutdown
    :meth:`StreamSession.stop` disconnects every device, processes what is still queued, flushes the
    reordering buffers (declaring remaining holes lost), closes the recording (synced) and ends the
    async iteration. It is idempotent and also runs on ``async with`` exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str

from toolkit.errors import Multi3EdgeError

from .backends import BackendId, backend_id_of
from .devices import DeviceProfile, get_profile
from .e4_link import E4DeviceGoneError, E4ServerConnection, E4ServerDevice
from .integrity import StreamIntegrity
from .protocols.base import DecodeError, Decoder, ImuBatch
from .recording import WRITE, RecordingWriter
from .transport import ImuStreamConnection, Notification, RetryPolicy

logger = logging.getLogger(__name__)

_STOP = object()


class ConnectionDeclinedError(Multi3EdgeError):
    """The device refused the connection: a Touch SDK watch sent the DISCONNECT signal (the wearer declined the
    approval dialog, or the watch app quit). Attributes: ``device_id``."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"{device_id}: the watch declined the connection (DISCONNECT signal: the wearer answered "
                         "'no' on the watch's connection dialog, or the Touch SDK app was closed)")
        self.device_id = device_id


@dataclass
class DeviceSpec:
    """One device to stream from.

    Args:
        device: a :class:`BLEDevice` from a scan, an address, or an :class:`~firmware_bridge.e4_link.E4ServerDevice`.
        profile: a :class:`DeviceProfile` or its registry name.
        device_id: identifier used in counters, records and batches (default: the advertised name,
            else the address; made unique within a session by appending ``#2``, ``#3``...).
    """

    device: BLEDevice | E4ServerDevice | str
    profile: str | DeviceProfile
    device_id: str | None = None


@dataclass
class DeviceCounters:
    """Counters of one device in a :class:`StreamSession` (``packets``/``bytes`` count every notification)."""

    packets: int = 0
    bytes: int = 0
    data_packets: int = 0
    control_values: int = 0
    decoded: int = 0
    dropped: int = 0
    """Packets lost inside the host: rejected by the decoder + dropped because the queue was full."""
    decode_errors: int = 0
    queue_full: int = 0
    duplicates: int = 0
    reordered: int = 0
    late: int = 0
    gaps: int = 0
    lost_packets: int = 0
    lost_samples: int = 0
    samples: int = 0
    batches: int = 0
    connects: int = 0
    reconnects: int = 0
    connected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StreamBatch:
    """Decoded, integrity-checked samples of one device (SI units, device frame, host timestamps)."""

    device_id: str
    profile: str
    batch: ImuBatch

    @property
    def acc(self) -> np.ndarray:
        """(N, 3) m/s^2, device axes."""
        return self.batch.acc

    @property
    def gyro(self) -> np.ndarray | None:
        """(N, 3) rad/s, device axes, or None."""
        return self.batch.gyro

    @property
    def host_time_s(self) -> np.ndarray:
        """(N,) host time of each sample [s, time.time() scale]."""
        assert self.batch.host_time_s is not None
        return self.batch.host_time_s

    def __len__(self) -> int:
        return len(self.batch)


@dataclass
class _Device:
    device_id: str
    spec: DeviceSpec
    profile: DeviceProfile
    data_uuid: str
    decoder: Decoder
    integrity: StreamIntegrity
    connection: ImuStreamConnection
    counters: DeviceCounters = field(default_factory=DeviceCounters)
    approval: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the profile's approval state leaves "pending" (at once for profiles that need none)."""
    error: Multi3EdgeError | None = None


BatchCallback = Callable[[StreamBatch], None]


@dataclass(frozen=True)
class DeviceEvent:
    """A device event queued with the notifications (E4 server: ``{"event": "tag" | "device-status" | "connected" |
    "device-gone", ...}``), recorded as an EVENT record and handed to the event callbacks, in arrival order."""

    host_time: float
    device_id: str
    event: dict[str, Any]


EventCallback = Callable[[DeviceEvent], None]


class StreamSession:
    """Stream, decode, check and (optionally) record several BLE IMU devices at once.

    Args:
        devices: what to connect to.
        backend: bleak client backend class (None: the platform's; ``BumbleClient`` for virtual devices), e.g.
            ``get_backend(...).client`` (:func:`firmware_bridge.backends.get_backend`).
        backend_id: ``"platform"`` or ``"virtual"``, written to the recording's ``session-start`` event (default:
            ``"platform"`` when ``backend`` is None, else ``"virtual"``); also :attr:`backend_id`.
        record_to: a path (a new recording is created there and closed by :meth:`stop`) or an open
            :class:`RecordingWriter` (left open) to record every raw packet.
        flush_interval_s: sync interval of a recording created from a path.
        on_batch: called (on the event loop; keep it short) with each delivered :class:`StreamBatch`.
        retry: connect timeout / reconnect policy of every connection.
        reorder_depth: packets held behind a missing one before declaring it lost.
        max_wait_s: longest host time a packet is held waiting for a missing one.
        queue_maxsize: size of the shared notification queue (a full queue drops, counted).
        output_maxsize: batches kept for ``async for`` when the consumer is slow (oldest dropped,
            counted in :attr:`output_dropped`); 0 disables the iterator buffer (callbacks only).
    """

    def __init__(
        self,
        devices: Sequence[DeviceSpec],
        *,
        backend: type[BaseBleakClient] | None = None,
        backend_id: BackendId | None = None,
        record_to: str | Path | RecordingWriter | None = None,
        flush_interval_s: float = 0.5,
        on_batch: BatchCallback | None = None,
        retry: RetryPolicy | None = None,
        reorder_depth: int = 8,
        max_wait_s: float | None = 1.0,
        queue_maxsize: int = 16384,
        output_maxsize: int = 100_000,
    ) -> None:
        if not devices:
            raise ValueError("a StreamSession needs at least one device")
        self.backend = backend
        self.backend_id: BackendId = backend_id or backend_id_of(backend)
        self.retry = retry or RetryPolicy()
        self.queue: asyncio.Queue[Any] = asyncio.Queue(queue_maxsize)
        self._record_to = record_to
        self._flush_interval_s = flush_interval_s
        self.writer: RecordingWriter | None = None
        self._owns_writer = False
        self._callbacks: list[BatchCallback] = [on_batch] if on_batch is not None else []
        self._event_callbacks: list[EventCallback] = []
        self._output: deque[StreamBatch | object] = deque()
        self._output_maxsize = output_maxsize
        self._output_event = asyncio.Event()
        self.output_dropped = 0
        self._devices: dict[str, _Device] = {}
        self._declined_tasks: set[asyncio.Future[None]] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False
        self._mono_to_unix = time.time() - time.monotonic()
        for spec in devices:
            self._add(spec, reorder_depth, max_wait_s)

    # ------------------------------------------------------------------ setup
    def _unique_id(self, spec: DeviceSpec) -> str:
        base = spec.device_id
        if base is None and isinstance(spec.device, E4ServerDevice):
            base = spec.device.device_id
        if base is None:
            base = (spec.device.name or spec.device.address) if isinstance(spec.device, BLEDevice) else spec.device
        candidate, k = base, 1
        while candidate in self._devices:
            k += 1
            candidate = f"{base}#{k}"
        return candidate

    def _add(self, spec: DeviceSpec, reorder_depth: int, max_wait_s: float | None) -> None:
        profile = get_profile(spec.profile)
        device_id = self._unique_id(spec)

        async def on_connected(client: BleakClient, device_id: str = device_id) -> None:
            await self._on_connected(device_id, client)

        early = profile.start_before_subscribe  # Touch SDK: client info, then subscribe (module docstring)
        connection: ImuStreamConnection | E4ServerConnection
        if isinstance(spec.device, E4ServerDevice):  # not BLE: Empatica's E4 streaming server over TCP
            connection = E4ServerConnection(spec.device, profile.data_char_uuid, queue=self.queue, device_id=device_id,
                                            retry=self.retry, on_event=self._on_device_event)
        else:
            connection = ImuStreamConnection(
                spec.device, profile.data_char_uuid, queue=self.queue, device_id=device_id, backend=self.backend,
                retry=self.retry, extra_notify_uuids=profile.extra_notify_uuids,
                on_connected=None if early else on_connected, before_subscribe=on_connected if early else None,
            )
        dev = _Device(
            device_id, spec, profile, normalize_uuid_str(profile.data_char_uuid), profile.new_decoder(),
            StreamIntegrity(reorder_depth=reorder_depth, max_wait_s=max_wait_s), connection,
        )
        if not profile.needs_approval:
            dev.approval.set()
        self._devices[device_id] = dev

    def add_callback(self, callback: BatchCallback) -> None:
        """Also deliver batches to ``callback``."""
        self._callbacks.append(callback)

    def add_event_callback(self, callback: EventCallback) -> None:
        """Deliver device events (:class:`DeviceEvent`: E4 tags and status messages) to ``callback`` (on the event
        loop, after the event is recorded)."""
        self._event_callbacks.append(callback)

    @property
    def device_ids(self) -> list[str]:
        return list(self._devices)

    def profile_of(self, device_id: str) -> DeviceProfile:
        return self._devices[device_id].profile

    # ------------------------------------------------------------------ lifecycle
    async def start(self, connect_timeout: float | None = None) -> None:
        """Open the recording, start every connection; with ``connect_timeout`` wait until all are connected."""
        if self._started:
            return
        self._started = True
        self._mono_to_unix = time.time() - time.monotonic()
        if isinstance(self._record_to, RecordingWriter):
            self.writer = self._record_to
        elif self._record_to is not None:
            self.writer = RecordingWriter(self._record_to, flush_interval_s=self._flush_interval_s)
            self._owns_writer = True
        if self.writer is not None:
            self.writer.write_event("", json.dumps({"event": "session-start", "backend": self.backend_id, "devices": {
                d.device_id: {"profile": d.profile.name, "address": _address(d.spec.device),
                              "data_char_uuid": d.data_uuid} for d in self._devices.values()}}))
        self._consumer = asyncio.create_task(self._consume(), name="stream-session-consumer")
        for dev in self._devices.values():
            await dev.connection.start()
        if connect_timeout is not None:
            await self.wait_connected(connect_timeout)

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until every device is connected and started (raises like ``ImuStreamConnection.wait_connected``)."""
        await asyncio.gather(*(d.connection.wait_connected(timeout) for d in self._devices.values()))

    async def wait_approved(self, timeout: float | None = None) -> None:
        """Wait until every device that needs approval (Touch SDK) has approved the connection.

        Raises:
            ConnectionDeclinedError: a device declined (its connection is already stopped).
            TimeoutError: a device neither approved nor declined within ``timeout`` s.
        """
        pending = [d for d in self._devices.values() if not d.approval.is_set()]
        if pending:
            waiters = [asyncio.ensure_future(d.approval.wait()) for d in pending]
            _, not_done = await asyncio.wait(waiters, timeout=timeout)
            for w in not_done:
                w.cancel()
        for d in self._devices.values():
            if d.error is not None:
                raise d.error
        late = [d.device_id for d in self._devices.values() if not d.approval.is_set()]
        if late:
            raise TimeoutError(f"{', '.join(late)}: the connection was not approved within {timeout} s "
                               "(answer the connection dialog on the watch)")

    @property
    def error(self) -> Multi3EdgeError | None:
        """The first device error of the session (a :class:`ConnectionDeclinedError`), or None."""
        return next((d.error for d in self._devices.values() if d.error is not None), None)

    async def stop(self) -> None:
        """Disconnect all, drain the queue, flush integrity buffers, close the recording, end iteration."""
        if self._stopped:
            return
        self._stopped = True
        await asyncio.gather(*(d.connection.stop() for d in self._devices.values()), return_exceptions=True)
        if self._consumer is not None:
            await self.queue.put(_STOP)
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        for dev in self._devices.values():
            for out in dev.integrity.flush():
                self._deliver(dev, out)
            dev.counters.connected = False
        if self.writer is not None:
            for dev in self._devices.values():
                self.writer.write_event(dev.device_id, json.dumps({"event": "session-stop",
                                                                   "counters": self.counters()[dev.device_id]}))
            if self._owns_writer:
                self.writer.close()
            else:
                self.writer.sync()
        self._output.append(_STOP)
        self._output_event.set()

    async def __aenter__(self) -> StreamSession:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def stopped(self) -> bool:
        return self._stopped

    # ------------------------------------------------------------------ output
    async def __aiter__(self) -> AsyncIterator[StreamBatch]:
        """Delivered batches in arrival order; ends after :meth:`stop` once everything was yielded."""
        while True:
            while not self._output:
                self._output_event.clear()
                await self._output_event.wait()
            item = self._output.popleft()
            if item is _STOP:
                self._output.appendleft(_STOP)  # later iterators end too
                return
            assert isinstance(item, StreamBatch)
            yield item

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per-device counters as plain dicts (device id -> counter name -> value)."""
        out = {}
        for dev in self._devices.values():
            c = dev.counters
            ic = dev.integrity.counters
            cs = dev.connection.stats
            c.duplicates, c.reordered, c.late = ic.duplicates, ic.reordered, ic.late
            c.gaps, c.lost_packets, c.lost_samples = ic.gaps, ic.lost_packets, ic.lost_samples
            c.queue_full = cs.dropped_queue_full
            c.dropped = c.decode_errors + c.queue_full
            c.connects = cs.connects
            c.reconnects = max(0, cs.connects - 1)
            c.connected = dev.connection.is_connected
            out[dev.device_id] = c.as_dict()
        return out

    def decoder_of(self, device_id: str) -> Decoder:
        return self._devices[device_id].decoder

    def integrity_of(self, device_id: str) -> StreamIntegrity:
        return self._devices[device_id].integrity

    # ------------------------------------------------------------------ internals
    async def _on_connected(self, device_id: str, client: BleakClient) -> None:
        dev = self._devices[device_id]
        if self.writer is not None:
            self.writer.write_event(device_id, json.dumps({"event": "connected", "address": client.address}))
        for char_uuid, data in dev.profile.start_commands():
            try:
                await client.write_gatt_char(char_uuid, data, response=True)
            except BleakError as e:
                if not dev.profile.start_write_errors_ok:
                    raise
                # Touch SDK: the watch rejects the client info while its approval dialog shows, yet gets it
                logger.info("%s: start command write failed (%s); ignored, as the official client does", device_id, e)
                if self.writer is not None:
                    self.writer.write_event(device_id, json.dumps({"event": "start-write-error", "error": str(e)}))
            dev.profile.on_start_command(dev.decoder, char_uuid, data)
            if self.writer is not None:
                self.writer.write(device_id, char_uuid, data, rtype=WRITE)

    async def _consume(self) -> None:
        while True:
            item = await self.queue.get()
            if item is _STOP:
                return
            try:
                self._handle(item)
            except Exception:  # one bad packet or callback must not end the session
                logger.exception("stream session: failed to handle a notification")

    def _on_device_event(self, device_id: str, event: dict[str, Any], host_time: float) -> None:
        """A connection's event (E4 server): queued behind the data that came before it."""
        try:
            self.queue.put_nowait(DeviceEvent(host_time, device_id, event))
        except asyncio.QueueFull:
            self._handle_event(DeviceEvent(host_time, device_id, event))

    def _handle_event(self, ev: DeviceEvent) -> None:
        dev = self._devices.get(ev.device_id)
        if dev is None:
            return
        if self.writer is not None:
            self.writer.write_event(ev.device_id, json.dumps(ev.event), host_time=ev.host_time)
        if ev.event.get("event") == "device-gone" and dev.error is None:
            dev.error = E4DeviceGoneError(str(ev.event.get("message", f"{ev.device_id}: the device is gone")))
        for cb in self._event_callbacks:
            try:
                cb(ev)
            except Exception:
                logger.exception("event callback failed")

    def _handle(self, n: Notification | DeviceEvent) -> None:
        if isinstance(n, DeviceEvent):
            self._handle_event(n)
            return
        dev = self._devices.get(n.device_id)
        if dev is None:
            return
        host = n.host_time + self._mono_to_unix
        c = dev.counters
        c.packets += 1
        c.bytes += len(n.data)
        if self.writer is not None:
            self.writer.write(n.device_id, n.char_uuid, n.data, host_time=host)
        if normalize_uuid_str(n.char_uuid) != dev.data_uuid:
            c.control_values += 1
            dev.profile.on_control_value(dev.decoder, n.char_uuid, n.data)
            return
        c.data_packets += 1
        try:
            batches = dev.decoder.decode(n.data)
        except DecodeError as e:
            c.decode_errors += 1
            logger.debug("%s: dropped packet: %s", dev.device_id, e)
            return
        c.decoded += 1
        if not dev.approval.is_set():
            state = dev.profile.approval_state(dev.decoder)
            if state == "declined":
                self._declined(dev)
            elif state == "approved":
                dev.approval.set()
        elif dev.profile.needs_approval and dev.error is None and dev.profile.approval_state(dev.decoder) == "declined":
            self._declined(dev)  # a DISCONNECT signal after approval: the watch app is closing
        for batch in batches:
            for out in dev.integrity.push(batch, host):
                self._deliver(dev, out)

    def _declined(self, dev: _Device) -> None:
        """The device sent the DISCONNECT signal: keep the error, record it, stop its connection (no reconnect)."""
        dev.error = ConnectionDeclinedError(dev.device_id)
        logger.warning("%s", dev.error)
        if self.writer is not None:
            self.writer.write_event(dev.device_id, json.dumps({"event": "declined"}))
        dev.approval.set()
        task = asyncio.ensure_future(dev.connection.stop())
        self._declined_tasks.add(task)
        task.add_done_callback(self._declined_tasks.discard)

    def _deliver(self, dev: _Device, batch: ImuBatch) -> None:
        sb = StreamBatch(dev.device_id, dev.profile.name, batch.to_si())
        dev.counters.samples += len(sb)
        dev.counters.batches += 1
        for cb in self._callbacks:
            try:
                cb(sb)
            except Exception:
                logger.exception("on_batch callback failed")
        if self._output_maxsize > 0:
            if len(self._output) >= self._output_maxsize:
                self._output.popleft()
                self.output_dropped += 1
            self._output.append(sb)
            self._output_event.set()


def _address(device: BLEDevice | E4ServerDevice | str) -> str:
    return device if isinstance(device, str) else device.address


def concat_batches(batches: Sequence[StreamBatch | ImuBatch]) -> dict[str, np.ndarray]:
    """Concatenate batches: ``acc`` (N,3), ``gyro`` (N,3) (NaN where absent), ``host_time_s``, ``device_time_s``."""
    bs = [b.batch if isinstance(b, StreamBatch) else b for b in batches]
    if not bs:
        empty = np.zeros((0, 3))
        return {"acc": empty, "gyro": empty.copy(), "host_time_s": np.zeros(0), "device_time_s": np.zeros(0)}

    def col(get: Callable[[ImuBatch], np.ndarray | None], width: int) -> np.ndarray:
        parts = []
        for b in bs:
            v = get(b)
            parts.append(np.full((len(b), width) if width else (len(b),), np.nan) if v is None else v)
        return np.concatenate(parts)

    return {
        "acc": col(lambda b: b.acc, 3),
        "gyro": col(lambda b: b.gyro, 3),
        "host_time_s": col(lambda b: b.host_time_s, 0),
        "device_time_s": col(lambda b: b.device_time_s, 0),
    }


__all__ = ["ConnectionDeclinedError", "DeviceCounters", "DeviceEvent", "DeviceSpec", "StreamBatch", "StreamSession",
           "concat_batches"]
