"""An E4 streaming server written for the tests from Empatica's pages only, independent of
``firmware_bridge.virtual.e4_server`` and of the parser it checks.

Sources: "Message Protocol and Command Structure" (developer.empatica.com/windows-streaming-server-commands.html,
January 2019): ``device_list`` -> ``R device_list <n> | <id> <name>``; ``device_connect <id>`` -> ``R device_connect
OK``; ``device_subscribe <stream> ON`` -> ``R device_subscribe <stream> OK``; ``device_disconnect`` -> ``R
device_disconnect OK`` and the TCP connection closes; system message ``R device <id> turned off via button``.
"Data Streaming Packets" (developer.empatica.com/windows-streaming-server-data.html): ``E4_Acc <ts> <x> <y> <z>``,
``E4_Tag <ts>`` (no value). Runs in a thread with its own event loop so a command run in-process can use it.
"""

from __future__ import annotations

import asyncio
import math
import threading

DEVICE = "9ff167"


class FakeE4Server:
    """One E4 (``9ff167``) that, once ``acc`` is subscribed, sends ``seconds`` of 32 Hz ``E4_Acc`` lines (a forearm
    swinging through +-30 deg about the E4's z axis) in real time / ``speed``, ``E4_Tag`` lines at ``tags_s`` (if
    ``tag`` is subscribed), then ``R device 9ff167 turned off via button`` when ``turn_off`` else nothing more."""

    def __init__(self, seconds: float = 6.0, speed: float = 4.0, tags_s: tuple[float, ...] = (1.0, 2.5),
                 turn_off: bool = False) -> None:
        self.seconds, self.speed, self.tags_s, self.turn_off = seconds, speed, tags_s, turn_off
        self.commands: list[str] = []
        self.done = threading.Event()
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> FakeE4Server:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subs: set[str] = set()
        sender = None
        try:
            while line := await reader.readline():
                cmd = line.decode().split()
                self.commands.append(" ".join(cmd))
                if cmd == ["device_list"]:
                    writer.write(f"R device_list 1 | {DEVICE} Empatica_E4\r\n".encode())
                elif cmd[:1] == ["device_connect"]:
                    writer.write(b"R device_connect OK\r\n")
                elif cmd[:1] == ["device_subscribe"]:
                    subs.add(cmd[1])
                    writer.write(f"R device_subscribe {cmd[1]} OK\r\n".encode())
                    if sender is None:
                        sender = asyncio.ensure_future(self._send(writer, subs))
                elif cmd == ["device_disconnect"]:
                    writer.write(b"R device_disconnect OK\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(f"R {cmd[0]} ERR unknown\r\n".encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if sender is not None:
                sender.cancel()
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, subs: set[str]) -> None:
        t0 = self._loop.time()  # type: ignore[union-attr]
        ts0 = 1_700_000_000.0
        pending_tags = sorted(self.tags_s)
        n = int(self.seconds * 32)
        for i in range(0, n, 8):  # 8 samples per write, in real time / speed
            await asyncio.sleep(max(0.0, t0 + i / 32 / self.speed - self._loop.time()))  # type: ignore[union-attr]
            out = []
            for k in range(i, min(n, i + 8)):
                t = k / 32
                while pending_tags and pending_tags[0] <= t:
                    pending_tags.pop(0)
                    if "tag" in subs:
                        out.append(f"E4_Tag {ts0 + t:.3f}")
                a = math.radians(30) * math.sin(2 * math.pi * 1.0 * t)
                # gravity 64 counts, rotating in the E4's x-y plane
                out.append(f"E4_Acc {ts0 + t:.3f} {round(64 * math.sin(a))} {round(-64 * math.cos(a))} 0")
            writer.write(("\r\n".join(out) + "\r\n").encode())
            await writer.drain()
        if self.turn_off:
            writer.write(f"R device {DEVICE} turned off via button\r\n".encode())
            await writer.drain()
        self.done.set()
