"""A virtual Empatica E4 behind a virtual E4 streaming server: an asyncio TCP server on 127.0.0.1 for tests and demos.

It speaks the server's documented line protocol (Empatica, "Message Protocol and Command Structure" and "Data
Streaming Packets", developer.empatica.com, January 2019; parsed by :mod:`firmware_bridge.protocols.empatica_e4`):

* commands ``device_list`` (``R device_list 1 | <id> Empatica_E4``), ``device_discover_list`` (``R
  device_discover_list 0``: the one E4 is already connected), ``device_connect_btle``, ``device_connect <id>`` (``R
  device_connect OK`` / ``ERR The device requested for connection is not available.``), ``device_subscribe
  <stream> ON|OFF`` (``R device_subscribe <stream> OK``), ``pause ON|OFF`` (``R pause ON|OFF``), ``device_disconnect``
  (``R device_disconnect OK``, then the server closes the connection); anything else gets ``R <command> ERR ...``;
* data ``E4_Acc <unix ts> <x> <y> <z>`` at 32 Hz in E4 counts (64 = 1 g, clipped to +-2 g), sent in packets of
  ``samples_per_packet`` lines, timestamps as the real server computes them (first packet's host time + i / 32 Hz);
  ``E4_Tag <ts>`` (no value) at the ``tags_s`` times (seconds into the replay);
* system messages on a script: ``R connection lost to device <id>`` at ``lose_link_at_s`` (and ``R connection
  re-established to device <id>`` ``lost_for_s`` later, unless None: never back), ``R device <id> turned off via
  button`` at ``turn_off_at_s``.

What it replays is a :class:`~firmware_bridge.virtual.sources.SampleSeries` (SI specific force, the watch frame of a
LEFT dorsal watch, like every virtual device): converted into the E4's own axes with the inverse of the
``empatica-e4`` profile's ``axes_to_watch`` (:mod:`toolkit.device_profiles`), resampled to 32 Hz and quantised to
counts, so decoding and calibrating it with that profile gives the series back (to the counts' 0.15 m/s^2 step).
:func:`generate_wrist_activity` makes a generated one; ``edge-* --e4-server virtual:NAME`` replays a real watch
recording (:mod:`toolkit.cli.replays`). When the series ends, :attr:`VirtualE4Server.finished` is set and the
connection stays open without data (the commands stop as they do at the end of a virtual BLE replay).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from toolkit.device_profiles import get_real_profile
from toolkit.frames import G_MS2

from ..protocols import empatica_e4 as e4
from .sources import SampleSeries

DEVICE_ID = "a0e4f1"


def generate_wrist_activity(seconds: float = 60.0, rate_hz: float = 32.0, *, seed: int = 0,
                            name: str = "e4-generated") -> SampleSeries:
    """A LEFT dorsal wrist: seated with the forearm on a desk (face up), standing (arm hanging), walking (arm swing
    of +-25 deg at 0.9 Hz about the face normal, 1.8 Hz step bounce of 0.15 g), in 20 s blocks, repeated.

    Returns acc (N, 3) specific force [m/s^2] in the watch frame (Android sign: +9.81 on the axis pointing up at
    rest), no gyroscope; labels ``SEATED`` / ``STANDING`` / ``WALKING``. Generated (not a recording), white noise
    0.02 g.
    """
    rng = np.random.default_rng(seed)
    n = max(2, int(round(seconds * rate_hz)))
    t = np.arange(n) / rate_hz
    block = (t // 20.0).astype(int) % 3
    acc = np.zeros((n, 3))
    labels = np.array(["SEATED", "STANDING", "WALKING"])[block]
    acc[block == 0] = (0.0, 0.0, G_MS2)  # forearm on the desk, face up
    acc[block == 1] = (0.0, -G_MS2, 0.0)  # arm hanging: 12 o'clock (+Y) toward the fingers, i.e. down
    walk = block == 2
    theta = np.deg2rad(25.0) * np.sin(2 * np.pi * 0.9 * t[walk])  # swing about the face normal (+Z)
    bounce = 0.15 * G_MS2 * np.sin(2 * np.pi * 1.8 * t[walk])
    acc[walk, 0] = G_MS2 * np.sin(theta)
    acc[walk, 1] = -G_MS2 * np.cos(theta) - bounce
    acc += rng.normal(0.0, 0.02 * G_MS2, acc.shape)
    return SampleSeries(t, acc, None, rate_hz, name, labels=labels, meta={"source": "generated"})


def series_to_e4_counts(series: SampleSeries, rate_hz: float = e4.ACC_RATE_HZ) -> np.ndarray:
    """(M, 3) int E4 counts at ``rate_hz``: the series (watch frame, SI) in the E4's axes, 64 counts per g, +-2 g."""
    profile = get_real_profile("empatica-e4")
    a = np.asarray(profile.axes_to_watch, np.float64)  # v_watch = A @ v_device
    t = np.asarray(series.t_s, np.float64)
    m = max(2, int(np.floor((t[-1] - t[0]) * rate_hz)) + 1)
    tq = t[0] + np.arange(m) / rate_hz
    acc = np.stack([np.interp(tq, t, series.acc[:, k]) for k in range(3)], axis=1)
    device = acc @ a  # rows: v_device = A^T v_watch
    counts = np.rint(device / G_MS2 * 64.0)
    return np.clip(counts, -128, 127).astype(np.int64)


@dataclass
class VirtualE4Server:
    """The server (see the module docstring). ``async with VirtualE4Server(series) as server: server.port``.

    Args:
        series: what the E4 replays (watch frame, SI); resampled to 32 Hz.
        device_id: the E4's id.
        speed: replay speed (1 = real time); timestamps always advance by 1/32 s per sample.
        samples_per_packet: E4_Acc lines sent together.
        tags_s: button presses, seconds into the replay.
        lose_link_at_s, lost_for_s: the Bluetooth link is lost then (for that long; None: for good).
        turn_off_at_s: the E4 is turned off with its button then.
        loop: start the series again at its end (a demo that runs until Ctrl-C).
    """

    series: SampleSeries
    device_id: str = DEVICE_ID
    speed: float = 1.0
    samples_per_packet: int = 4
    tags_s: tuple[float, ...] = ()
    lose_link_at_s: float | None = None
    lost_for_s: float | None = 2.0
    turn_off_at_s: float | None = None
    loop: bool = False
    host: str = "127.0.0.1"
    received: list[str] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    sent_samples: int = 0
    sent_tags: int = 0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
        self.counts = series_to_e4_counts(self.series)
        self._server: asyncio.base_events.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, what ``--e4-server`` takes."""
        return f"{self.host}:{self.port}"

    async def start(self) -> VirtualE4Server:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def __aenter__(self) -> VirtualE4Server:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ one client
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state = {"bound": False, "paused": False, "subs": set()}
        streamer: asyncio.Task[None] | None = None

        def send(text: str) -> None:
            writer.write(text.encode("ascii") + b"\r\n")

        try:
            while line := await reader.readline():
                words = line.decode("ascii", errors="replace").split()
                if not words:
                    continue
                self.received.append(" ".join(words))
                cmd, args = words[0], words[1:]
                if cmd == "device_list":
                    send(f"R device_list 1 | {self.device_id} Empatica_E4")
                elif cmd == "device_discover_list":
                    send("R device_discover_list 0")
                elif cmd == "device_connect_btle":
                    send("R device_connect_btle OK")
                elif cmd == "device_connect":
                    if args[:1] == [self.device_id]:
                        state["bound"] = True
                        send("R device_connect OK")
                    else:
                        send("R device_connect ERR The device requested for connection is not available.")
                elif cmd == "device_subscribe" and len(args) == 2:
                    stream, onoff = args
                    if not state["bound"]:
                        send(f"R device_subscribe {stream} ERR You are not connected to any device")
                    elif stream not in e4.SUBSCRIBE_STREAMS or onoff not in ("ON", "OFF"):
                        send(f"R device_subscribe {stream} ERR unknown stream or status")
                    else:
                        (state["subs"].add if onoff == "ON" else state["subs"].discard)(stream)
                        send(f"R device_subscribe {stream} OK")
                        if streamer is None and onoff == "ON":
                            streamer = asyncio.create_task(self._stream(writer, state))
                elif cmd == "pause" and args[:1] in (["ON"], ["OFF"]):
                    if not state["bound"]:
                        send("R pause ERR You are not connected to any device")
                    else:
                        state["paused"] = args[0] == "ON"
                        send(f"R pause {args[0]}")
                elif cmd == "device_disconnect":
                    send("R device_disconnect OK" if state["bound"] else "R device_disconnect ERR No connected device.")
                    await writer.drain()
                    break
                else:
                    send(f"R {cmd} ERR unknown command")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if streamer is not None:
                streamer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await streamer
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _stream(self, writer: asyncio.StreamWriter, state: dict) -> None:
        """E4_Acc packets in real time (/ speed), tags and scripted status lines."""
        rate = e4.ACC_RATE_HZ
        t0_host = time.time()
        t0_mono = time.monotonic()
        n = len(self.counts)
        tags = sorted(self.tags_s)
        lost_until: float | None = None
        lost_done = False
        i = 0  # samples sent in total
        while True:
            k = i % n if self.loop else i
            if not self.loop and k >= n:
                self.finished.set()
                return
            t_rel = i / rate  # replay time of this packet's first sample [s]
            wait = t0_mono + t_rel / self.speed - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            lines = []
            if self.turn_off_at_s is not None and t_rel >= self.turn_off_at_s:
                writer.write(f"R device {self.device_id} turned off via button\r\n".encode())
                await writer.drain()
                self.finished.set()
                return
            if self.lose_link_at_s is not None and not lost_done and t_rel >= self.lose_link_at_s:
                lost_done = True
                lines.append(f"R connection lost to device {self.device_id}")
                lost_until = None if self.lost_for_s is None else t_rel + self.lost_for_s
                if lost_until is None:
                    writer.write(("\r\n".join(lines) + "\r\n").encode())
                    await writer.drain()
                    self.finished.set()
                    return  # never comes back: no more data
            in_gap = lost_until is not None and t_rel < lost_until
            if lost_until is not None and not in_gap:
                lines.append(f"R connection re-established to device {self.device_id}")
                lost_until = None
            m = min(self.samples_per_packet, n - k) if not self.loop else self.samples_per_packet
            if not in_gap and not state["paused"]:
                for j in range(m):
                    ts = t0_host + (i + j) / rate
                    while tags and tags[0] <= (i + j) / rate:
                        tags.pop(0)
                        if "tag" in state["subs"]:
                            lines.append(f"E4_Tag {ts:.6f}")
                            self.sent_tags += 1
                    if "acc" in state["subs"]:
                        x, y, z = self.counts[(k + j) % n]
                        lines.append(f"E4_Acc {ts:.6f} {x} {y} {z}")
                        self.sent_samples += 1
            if lines:
                writer.write(("\r\n".join(lines) + "\r\n").encode("ascii"))
                try:
                    await writer.drain()
                except ConnectionError:
                    return
            i += m


__all__ = ["DEVICE_ID", "VirtualE4Server", "generate_wrist_activity", "series_to_e4_counts"]
