"""Empatica E4: TCP line protocol (parser, commands, asyncio client against a local test server) and
the UNVERIFIED direct-BLE ACC variants."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from firmware_bridge.protocols import empatica_e4 as e4
from firmware_bridge.protocols.base import DecodeError


def test_commands():
    assert e4.cmd_device_connect("9ff167") == b"device_connect 9ff167\r\n"
    assert e4.cmd_device_subscribe("acc") == b"device_subscribe acc ON\r\n"
    assert e4.cmd_device_subscribe("tmp", False) == b"device_subscribe tmp OFF\r\n"
    assert e4.cmd_device_connect_btle("9ff167", 10) == b"device_connect_btle 9ff167 10\r\n"
    assert e4.cmd_pause(True) == b"pause ON\r\n"
    assert e4.cmd_device_list() == b"device_list\r\n"
    assert e4.cmd_device_discover_list() == b"device_discover_list\r\n"
    assert e4.cmd_device_disconnect() == b"device_disconnect\r\n"
    with pytest.raises(ValueError):
        e4.cmd_device_subscribe("gyro")
    with pytest.raises(ValueError):
        e4.cmd_device_connect("a b")


def test_parse_lines():
    assert e4.parse_line("E4_Acc 123345627891.123 51 -2 -10") == e4.E4Data("acc", 123345627891.123, (51, -2, -10))
    assert e4.parse_line("E4_Temperature 1.5 31.2").stream == "temperature"
    assert e4.parse_line("E4_Temp 1.5 31.2").stream == "temperature"
    r = e4.parse_line("R device_subscribe acc OK")
    assert r == e4.E4Reply("device_subscribe", ("acc",), "OK") and r.ok
    r = e4.parse_line("R device_connect ERR The device requested for connection is not available.")
    assert r.status == "ERR" and r.text.startswith("The device")
    assert e4.parse_line("R connection lost to device 9ff167") == e4.E4Status("lost", "9ff167")
    assert e4.parse_line("R connection re-established to device 9ff167") == e4.E4Status("reestablished", "9ff167")
    assert e4.parse_line("R device_list 1 | 9ff167 Empatica_E4").status is None
    for bad, reason in (("E4_Acc 1.0 1 2", "bad_length"), ("E4_Acc x 1 2 3", "bad_value"), ("Hello 1", "bad_magic"),
                        ("E4_Acc 1.0", "truncated"), ("E4_Acc 1 nan 2 3", "bad_value")):
        with pytest.raises(DecodeError) as ei:
            e4.parse_line(bad)
        assert ei.value.reason == reason


def test_parser_partial_lines_across_chunks():
    text = b"R device_connect OK\r\nE4_Acc 10.0 1 2 64\r\nE4_Acc 10.03125 -1 0 63\r\nE4_Bvp 10.0 3.5\r\n"
    for split in range(1, len(text)):
        p = e4.E4LineParser()
        msgs = p.feed(text[:split]) + p.feed(text[split:])
        assert [type(m).__name__ for m in msgs] == ["E4Reply", "E4Data", "E4Data", "E4Data"]
    p = e4.E4LineParser()
    msgs = [m for b in text for m in p.feed(bytes([b]))]  # one byte per recv
    assert len(msgs) == 4 and p.bad_lines == 0


def test_parser_garbage_and_overlong():
    p = e4.E4LineParser()
    assert p.feed(b"garbage line\r\n\r\nE4_Acc 1 2 3 4\n") == [e4.E4Data("acc", 1.0, (2.0, 3.0, 4.0))]
    assert p.bad_lines == 1
    assert p.feed(b"x" * (e4.MAX_LINE + 10)) == []
    assert p.feed(b"yyy\r\nE4_Acc 1 2 3 4\r\n") == [e4.E4Data("acc", 1.0, (2.0, 3.0, 4.0))]
    assert p.overlong_lines == 1


def test_line_decoder():
    dec = e4.E4LineDecoder()
    assert dec.decode(b"E4_Acc 1.0 0 0 6") == []
    (b,) = dec.decode(b"4\r\nE4_Acc 1.03125 0 64 0\r\nE4_Gsr 1.0 0.5\r\n")
    assert b.acc.tolist() == [[0, 0, 64], [0, 64, 0]] and b.units["acc"] == "1/64 g"
    assert np.allclose(b.to_si().acc[0], [0, 0, 9.81])
    assert b.device_time_s.tolist() == [1.0, 1.03125]


# --- a tiny E4 streaming server on 127.0.0.1 ----------------------------------------------------


class FakeE4Server:
    """Speaks the E4 streaming server protocol for one client; streams ``n_acc`` E4_Acc lines."""

    def __init__(self, n_acc: int = 100, device_id: str = "9ff167", chunk: int = 37) -> None:
        self.n_acc, self.device_id, self.chunk = n_acc, device_id, chunk
        self.received: list[str] = []
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @staticmethod
    def acc_line(i: int) -> bytes:
        return f"E4_Acc {1600000000 + i / 32:.6f} {i % 64} {-(i % 7)} 64\r\n".encode()

    async def _send_in_pieces(self, w: asyncio.StreamWriter, data: bytes) -> None:
        for k in range(0, len(data), self.chunk):  # split lines across TCP segments
            w.write(data[k:k + self.chunk])
            await w.drain()
            await asyncio.sleep(0)

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while line := await r.readline():
                cmd = line.decode().strip()
                self.received.append(cmd)
                words = cmd.split()
                if words[0] == "device_connect":
                    ok = words[1] == self.device_id
                    w.write(b"R device_connect OK\r\n" if ok else b"R device_connect ERR The device requested "
                            b"for connection is not available.\r\n")
                elif words[:2] == ["device_subscribe", "acc"]:
                    # a data line may already be in flight before the reply
                    w.write(self.acc_line(0) + f"R device_subscribe acc {words[2]}\r\n".encode()[:-2])
                    await w.drain()
                    w.write(b"\r\n")
                    body = b"".join(self.acc_line(i) for i in range(1, self.n_acc // 2))
                    body += b"R connection lost to device 9ff167\r\nR connection re-established to device 9ff167\r\n"
                    body += b"E4_Temperature 1600000000.0 31.5\r\n"
                    body += b"".join(self.acc_line(i) for i in range(self.n_acc // 2, self.n_acc))
                    await self._send_in_pieces(w, body)
                    w.close()
                    return
                await w.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()


async def _run_client(n_acc: int = 100) -> tuple[list, e4.E4StreamingClient, FakeE4Server]:
    server = FakeE4Server(n_acc)
    port = await server.start()
    try:
        async with e4.E4StreamingClient("127.0.0.1", port, reply_timeout_s=2.0) as client:
            await client.start("9ff167")
            batches = [b async for b in client.batches()]
    finally:
        await server.stop()
    return batches, client, server


def test_client_streams_from_local_server():
    batches, client, server = asyncio.run(asyncio.wait_for(_run_client(100), 10))
    assert server.received == ["device_connect 9ff167", "device_subscribe acc ON"]
    acc = np.vstack([b.acc for b in batches])
    t = np.concatenate([b.device_time_s for b in batches])
    assert acc.shape == (100, 3)
    assert acc[:, 0].tolist() == [i % 64 for i in range(100)] and np.all(acc[:, 2] == 64)
    assert np.allclose(np.diff(t), 1 / 32)
    assert [s.kind for s in client.status_events] == ["lost", "reestablished"]
    assert any(isinstance(m, e4.E4Data) and m.stream == "temperature" for m in client.messages)
    assert client.parser.bad_lines == 0


def test_client_connect_error():
    async def go() -> None:
        server = FakeE4Server()
        port = await server.start()
        try:
            async with e4.E4StreamingClient("127.0.0.1", port, reply_timeout_s=2.0) as client:
                with pytest.raises(e4.E4CommandError, match="not available"):
                    await client.start("nosuchdevice")
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(go(), 10))


# --- direct BLE (UNVERIFIED variants) -----------------------------------------------------------


def test_ble_variants():
    (b,) = e4.E4BleAccDecoder("int8x3").decode(bytes([0, 0, 64, 0xFF, 1, 0xC0]))
    assert b.acc.tolist() == [[0, 0, 64], [-1, 1, -64]] and b.meta["verified"] is False
    (b,) = e4.E4BleAccDecoder("int16x3le").decode(struct.pack("<6h", 0, 0, 64, -1, 300, -300))
    assert b.acc.tolist() == [[0, 0, 64], [-1, 300, -300]] and b.meta["variant"] == "int16x3le"
    with pytest.raises(DecodeError) as ei:
        e4.E4BleAccDecoder("int16x3le").decode(bytes(7))
    assert ei.value.reason == "bad_length"
    with pytest.raises(ValueError):
        e4.E4BleAccDecoder("int12")  # type: ignore[arg-type]
    assert e4.build_ble_start_command(1_600_000_000) == struct.pack("<BI", 1, 1_600_000_000)
    assert e4.BLE_ACC_CHAR_UUID.startswith("00003ea3")
