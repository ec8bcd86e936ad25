"""Empatica E4 through Empatica's E4 streaming server (TCP): the non-BLE source of ``--e4-server HOST[:PORT]``.

The server (a Windows program, default port 28000) holds the Bluetooth link to the E4s and forwards their data as
text lines (protocol: :mod:`firmware_bridge.protocols.empatica_e4`, from Empatica's "Message Protocol" and "Data
Streaming Packets" pages). Here it becomes one more device of a :class:`~firmware_bridge.session.StreamSession`:

* :class:`E4ServerDevice` is the ``DeviceSpec.device`` of an E4 behind a server (host, port, E4 id);
* :class:`E4ServerConnection` plays the part :class:`~firmware_bridge.transport.ImuStreamConnection` plays for BLE:
  it opens the TCP connection, sends ``device_connect <id>``, ``device_subscribe acc ON`` and ``device_subscribe tag
  ON``, and puts every received chunk, byte for byte, on the session's queue under the stand-in UUID
  :data:`~firmware_bridge.protocols.empatica_e4.TCP_STREAM_UUID` (so it is recorded raw and decoded by the
  ``empatica-e4-server`` profile's :class:`~firmware_bridge.protocols.empatica_e4.E4LineDecoder`, live and on replay);
* button tags (``E4_Tag <ts>``) and system messages (connection lost / re-established, turned off via button) become
  **events** (``on_event``): the session records them (:mod:`firmware_bridge.recording` event kinds ``tag`` and
  ``device-status``) and hands them to the commands;
* the device is **gone** (:class:`E4DeviceGoneError` in :attr:`E4ServerConnection.error`) when it was turned off with
  its button, when the server closes the TCP connection, or when a lost Bluetooth link is not re-established within
  ``give_up_after_s``;
* :func:`probe_server` asks a server for its devices (``device_list``, ``device_discover_list``): ``edge-devices``
  and the reachability check the commands run before loading a model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.errors import ConfigError, Multi3EdgeError

from .protocols import empatica_e4 as e4
from .protocols.base import DecodeError
from .transport import BackgroundConnection, ConnectionStats, Notification, RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_PORT = e4.DEFAULT_PORT

#: ``on_event(device_id, event, host_time_s)``: ``event`` is a JSON-ready dict (``{"event": "tag", ...}``).
EventCallback = Callable[[str, dict[str, Any], float], None]


class E4ServerUnreachableError(Multi3EdgeError):
    """No E4 streaming server answers at the address (refused, timed out, or it does not speak the protocol)."""


class E4DeviceGoneError(Multi3EdgeError):
    """The E4 went away during a stream (turned off, server closed, Bluetooth link not re-established)."""


@dataclass(frozen=True)
class E4ServerAddress:
    """Where an E4 streaming server listens."""

    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_server_address(text: str) -> E4ServerAddress:
    """``"HOST"`` (port 28000, the Windows server's default), ``"HOST:PORT"`` or ``"[IPv6]:PORT"``.

    Raises:
        ConfigError: empty host, a port that is not an integer in 1..65535.
    """
    t = text.strip()
    host, port_text = t, ""
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            raise ConfigError(f"--e4-server {text!r}: missing ']' after the IPv6 address")
        host, rest = t[1:end], t[end + 1:]
        if rest and not rest.startswith(":"):
            raise ConfigError(f"--e4-server {text!r}: expected [ADDRESS]:PORT")
        port_text = rest[1:]
    elif t.count(":") == 1:
        host, port_text = t.split(":")
    if not host:
        raise ConfigError(f"--e4-server {text!r}: no host (expected HOST or HOST:PORT, e.g. 192.168.1.20:28000)")
    if not port_text:
        return E4ServerAddress(host)
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"--e4-server {text!r}: port {port_text!r} is not an integer in 1..65535")
    return E4ServerAddress(host, port)


@dataclass(frozen=True)
class E4ServerDevice:
    """An E4 behind a streaming server: the ``DeviceSpec.device`` of a session (BLE devices use a BLEDevice)."""

    server: E4ServerAddress
    device_id: str
    name: str = "Empatica_E4"

    @property
    def address(self) -> str:
        """``e4-server:HOST:PORT/ID``: written as the device's address in recordings."""
        return f"e4-server:{self.server}/{self.device_id}"


async def _open(address: E4ServerAddress, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(address.host, address.port), timeout)
    except TimeoutError:
        raise E4ServerUnreachableError(f"no E4 streaming server at {address}: no answer within {timeout:g} s") from None
    except OSError as e:
        reason = ("connection refused" if isinstance(e, ConnectionRefusedError)
                  else f"unknown host {address.host!r}" if isinstance(e, socket.gaierror)
                  else e.strerror or str(e) or type(e).__name__)
        raise E4ServerUnreachableError(f"no E4 streaming server at {address}: {reason} (is Empatica's E4 streaming "
                                       "server running there? --e4-server virtual starts an in-process one)") from None


@dataclass(frozen=True)
class ServerDevices:
    """What a server sees: E4s connected over Bluetooth (``device_list``) and discovered ones (manual BTLE)."""

    connected: list[e4.E4DeviceInfo]
    discovered: list[e4.E4DeviceInfo]


async def probe_server(address: E4ServerAddress, timeout: float = 5.0, discover: bool = True) -> ServerDevices:
    """Connect, ask ``device_list`` (and ``device_discover_list``: an error reply there, e.g. a server not in manual
    BTLE mode, gives an empty list), close.

    Raises:
        E4ServerUnreachableError: nothing listens, no answer within ``timeout``, or the answer is not the protocol's.
    """
    reader, writer = await _open(address, timeout)
    client = e4.E4StreamingClient(address.host, address.port, reply_timeout_s=timeout)
    client._reader, client._writer = reader, writer  # the connection opened above (with its own timeout)
    try:
        try:
            connected = await client.list_devices()
        except (e4.E4CommandError, DecodeError, EOFError, ConnectionError) as e:
            raise E4ServerUnreachableError(f"{address} does not answer like an E4 streaming server "
                                           f"(device_list: {e})") from None
        discovered: list[e4.E4DeviceInfo] = []
        if discover:
            with contextlib.suppress(e4.E4CommandError, DecodeError, EOFError, ConnectionError):
                discovered = await client.discover_devices()
        return ServerDevices(connected, discovered)
    finally:
        await client.close()


async def choose_device(address: E4ServerAddress, wanted: str | None, timeout: float) -> E4ServerDevice:
    """The E4 to stream from: ``wanted`` (its id, case-insensitive) or the first one the server has connected.

    Raises:
        E4ServerUnreachableError: no server there.
        ConfigError: the server has no E4 connected / not the one asked for (the message lists what it sees).
    """
    devices = await probe_server(address, timeout)
    if wanted is None:
        if not devices.connected:
            seen = ", ".join(d.device_id for d in devices.discovered)
            raise ConfigError(f"the E4 streaming server at {address} has no E4 connected over Bluetooth"
                              + (f" (discovered, not connected: {seen}; connect one in the server's window)"
                                 if seen else "; switch the E4 on near the server's Bluetooth dongle"))
        info = devices.connected[0]
        return E4ServerDevice(address, info.device_id, info.name)
    for info in devices.connected:
        if info.device_id.lower() == wanted.lower():
            return E4ServerDevice(address, info.device_id, info.name)
    seen = ", ".join(d.device_id for d in devices.connected) or "none"
    raise ConfigError(f"E4 {wanted!r} is not connected to the server at {address} (connected: {seen})")


class E4ServerConnection(BackgroundConnection):
    """Stream one E4 from a streaming server into a session queue (the E4 counterpart of ``ImuStreamConnection``).

    Args:
        device: the E4 and its server.
        data_char_uuid: the UUID put on each queued chunk (the profile's, :data:`e4.TCP_STREAM_UUID`).
        queue: the session's queue of :class:`~firmware_bridge.transport.Notification` items.
        device_id: the session's id of the device.
        retry: ``connect_timeout`` bounds the TCP connect and each command reply.
        on_event: called with tag and status events (see the module docstring).
        give_up_after_s: a Bluetooth link the server reports lost and does not re-establish within this time means
            the device is gone (default: 3 x the connect timeout).
        streams: what to subscribe to.
    """

    task_prefix = "e4-server"

    def __init__(self, device: E4ServerDevice, data_char_uuid: str = e4.TCP_STREAM_UUID, *,
                 queue: asyncio.Queue[Any], device_id: str | None = None, retry: RetryPolicy | None = None,
                 on_event: EventCallback | None = None, give_up_after_s: float | None = None,
                 streams: tuple[str, ...] = ("acc", "tag")) -> None:
        self.device = device
        self.data_char_uuid = data_char_uuid
        self.queue = queue
        self.device_id = device_id or device.device_id
        self.retry = retry or RetryPolicy()
        self.on_event = on_event
        self.give_up_after_s = give_up_after_s if give_up_after_s is not None else 3 * self.retry.connect_timeout
        self.streams = streams
        self.stats = ConnectionStats()
        self.parser = e4.E4LineParser()
        self.error: BaseException | None = None
        self.tags = 0
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies: asyncio.Queue[e4.E4Reply] = asyncio.Queue()
        self._lost_since: float | None = None
        self._task_done_reading = False

    @property
    def is_connected(self) -> bool:
        """True while subscribed and the server reports the E4's Bluetooth link up."""
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until subscribed.

        Raises:
            TimeoutError: not within ``timeout``.
            Multi3EdgeError: the server refused (``E4CommandError``), is unreachable, or the device is gone.
        """
        waiter = asyncio.ensure_future(self._connected.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if self._task is not None:
            tasks.add(self._task)
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._connected.is_set():
            return
        if isinstance(self.error, Multi3EdgeError):
            raise self.error
        if self.error is not None:
            raise E4ServerUnreachableError(f"{self.device.server}: {type(self.error).__name__}: {self.error}")
        raise TimeoutError(f"{self.device_id}: not streaming from {self.device.server} within {timeout} s")

    async def stop(self) -> None:
        """Unsubscribe (``device_disconnect``), close the TCP connection, end the task (idempotent)."""
        self._stop.set()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.write(e4.cmd_device_disconnect())
                await asyncio.wait_for(self._writer.drain(), 1.0)
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), 2.0)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            except Exception:
                pass
            self._task = None

    # ------------------------------------------------------------ internals
    def _event(self, event: dict[str, Any], host_time: float | None = None) -> None:
        if self.on_event is not None:
            self.on_event(self.device_id, event, time.time() if host_time is None else host_time)

    async def _command(self, line: bytes, expect: tuple[str, ...]) -> e4.E4Reply:
        assert self._writer is not None
        self._writer.write(line)
        await self._writer.drain()
        deadline = time.monotonic() + self.retry.connect_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self._task_done_reading:
                break
            try:
                reply = await asyncio.wait_for(self._replies.get(), min(left, 0.2))
            except TimeoutError:
                continue
            if reply.command in expect:
                if reply.status == "ERR":
                    raise e4.E4CommandError(f"E4 streaming server at {self.device.server}: "
                                            f"{line.decode().strip()!r} failed: {reply.text}")
                return reply
        if isinstance(self.error, Multi3EdgeError):
            raise self.error
        raise e4.E4CommandError(f"E4 streaming server at {self.device.server}: no reply to "
                                f"{line.decode().strip()!r} within {self.retry.connect_timeout:g} s")

    def _handle_messages(self, messages: list[e4.E4Message], host: float) -> None:
        for m in messages:
            if isinstance(m, e4.E4Reply):
                self._replies.put_nowait(m)
            elif isinstance(m, e4.E4Data) and m.stream == "tag":
                self.tags += 1
                self._event({"event": "tag", "source": "e4-button", "device_time_s": m.timestamp}, host)
            elif isinstance(m, e4.E4Status):
                self._event({"event": "device-status", "status": m.kind, "device": m.device_id,
                             "message": m.describe()}, host)
                if m.kind == "lost":
                    self._connected.clear()
                    self._lost_since = time.monotonic()
                    self.stats.disconnects += 1
                    start, _ = self.stats.spans[-1] if self.stats.spans else (time.monotonic(), None)
                    if self.stats.spans:
                        self.stats.spans[-1] = (start, time.monotonic())
                elif m.kind == "reestablished":
                    if self._lost_since is not None:
                        self._lost_since = None
                        self.stats.connects += 1
                        self.stats.spans.append((time.monotonic(), None))
                    self._connected.set()
                elif m.kind == "turned_off":
                    self.error = E4DeviceGoneError(f"{m.describe()}; the stream ended")
                    self._stop.set()

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while not self._stop.is_set():
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), 0.25)
                except TimeoutError:
                    chunk = None
                if chunk is None:
                    if self._lost_since is not None and time.monotonic() - self._lost_since > self.give_up_after_s:
                        self.error = E4DeviceGoneError(
                            f"E4 {self.device.device_id}: Bluetooth link to the server lost and not re-established "
                            f"within {self.give_up_after_s:g} s")
                        return
                    continue
                if not chunk:
                    if not self._stop.is_set():
                        self.error = E4DeviceGoneError(f"the E4 streaming server at {self.device.server} closed the "
                                                       "connection")
                    return
                host_mono = time.monotonic()
                try:
                    self.queue.put_nowait(Notification(host_mono, self.device_id, self.data_char_uuid, chunk))
                    self.stats.received += 1
                except asyncio.QueueFull:
                    self.stats.dropped_queue_full += 1
                self._handle_messages(self.parser.feed(chunk), time.time())
        except (ConnectionError, OSError) as e:
            if not self._stop.is_set():
                self.error = E4DeviceGoneError(f"the connection to the E4 streaming server at {self.device.server} "
                                               f"failed: {e}")
        finally:
            self._task_done_reading = True

    async def _run(self) -> None:
        self._task_done_reading = False
        self.stats.connect_attempts += 1
        try:
            reader, writer = await _open(self.device.server, self.retry.connect_timeout)
        except Multi3EdgeError as e:
            self.error = e
            self.stats.connect_failures += 1
            self.stats.last_error = str(e)
            return
        self._writer = writer
        read_task = asyncio.create_task(self._read_loop(reader), name=f"e4-read-{self.device_id}")
        try:
            await self._command(e4.cmd_device_connect(self.device.device_id), ("device_connect",))
            for stream in self.streams:
                await self._command(e4.cmd_device_subscribe(stream, True), ("device_subscribe",))
            self.stats.connects += 1
            self.stats.spans.append((time.monotonic(), None))
            self._event({"event": "connected", "address": self.device.address})
            self._connected.set()
            stop_waiter = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait({stop_waiter, read_task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop_waiter.cancel()
        except Multi3EdgeError as e:
            self.error = e
            self.stats.connect_failures += 1
            self.stats.last_error = str(e)
        finally:
            self._connected.clear()
            if self.stats.spans and self.stats.spans[-1][1] is None:
                self.stats.spans[-1] = (self.stats.spans[-1][0], time.monotonic())
            if not read_task.done():
                # give the reader a moment to take what the server sent before closing (device_disconnect reply)
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(read_task), 0.3)
                read_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await read_task
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._writer = None
            if self.error is not None:
                self._event({"event": "device-gone", "message": str(self.error)})


__all__ = [
    "DEFAULT_PORT",
    "E4DeviceGoneError",
    "E4ServerAddress",
    "E4ServerConnection",
    "E4ServerDevice",
    "E4ServerUnreachableError",
    "ServerDevices",
    "choose_device",
    "parse_server_address",
    "probe_server",
]
