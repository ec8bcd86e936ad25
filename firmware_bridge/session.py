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
from bleak.uuids import normalize_uuid_str

from .backends import BackendId, backend_id_of
from .devices import DeviceProfile, get_profile
from .integrity import StreamIntegrity
from .protocols.base import DecodeError, Decoder, ImuBatch
from .recording import WRITE, RecordingWriter
from .transport import ImuStreamConnection, Notification, RetryPolicy

logger = logging.getLogger(__name__)

_STOP = object()


@dataclass
class DeviceSpec:
    """One device to stream from.

    Args:
        device: a :class:`BLEDevice` from a scan, or an address.
        profile: a :class:`DeviceProfile` or its registry name.
        device_id: identifier used in counters, records and batches (default: the advertised name,
            else the address; made unique within a session by appending ``#2``, ``#3``...).
    """

    device: BLEDevice | str
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


BatchCallback = Callable[[StreamBatch], None]


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
        self._output: deque[StreamBatch | object] = deque()
        self._output_maxsize = output_maxsize
        self._output_event = asyncio.Event()
        self.output_dropped = 0
        self._devices: dict[str, _Device] = {}
        self._consumer: asyncio.Task[None] | None = None
        self._started = False
        self._stopped = False
        self._mono_to_unix = time.time() - time.monotonic()
        for spec in devices:
            self._add(spec, reorder_depth, max_wait_s)

    # ------------------------------------------------------------------ setup
    def _unique_id(self, spec: DeviceSpec) -> str:
        base = spec.device_id
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

        connection = ImuStreamConnection(
            spec.device, profile.data_char_uuid, queue=self.queue, device_id=device_id, backend=self.backend,
            retry=self.retry, extra_notify_uuids=profile.extra_notify_uuids, on_connected=on_connected,
        )
        self._devices[device_id] = _Device(
            device_id, spec, profile, normalize_uuid_str(profile.data_char_uuid), profile.new_decoder(),
            StreamIntegrity(reorder_depth=reorder_depth, max_wait_s=max_wait_s), connection,
        )

    def add_callback(self, callback: BatchCallback) -> None:
        """Also deliver batches to ``callback``."""
        self._callbacks.append(callback)

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
            await client.write_gatt_char(char_uuid, data, response=True)
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

    def _handle(self, n: Notification) -> None:
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
        for batch in batches:
            for out in dev.integrity.push(batch, host):
                self._deliver(dev, out)

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


def _address(device: BLEDevice | str) -> str:
    return device.address if isinstance(device, BLEDevice) else device


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


__all__ = ["DeviceCounters", "DeviceSpec", "StreamBatch", "StreamSession", "concat_batches"]
