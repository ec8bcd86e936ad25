"""Empatica E4: (a) the E4 streaming server's TCP line protocol, (b) the direct-BLE ACC layouts.

(a) E4 streaming server (documented by Empatica; a Windows program, default ``127.0.0.1:28000``)
------------------------------------------------------------------------------------------------
Sources: Empatica, "Message Protocol and Command Structure" (developer.empatica.com/windows-streaming-server-
commands.html, updated January 2019) and "Data Streaming Packets" (developer.empatica.com/windows-streaming-server-
data.html, updated January 2019).

ASCII lines ending ``\\r\\n`` in both directions; one ``recv`` may hold several or partial lines,
so input is buffered by line (:class:`E4LineParser`).

Commands (client -> server): ``device_discover_list``, ``device_connect_btle <id> [timeout]``,
``device_list``, ``device_connect <id>``, ``device_subscribe <acc|bvp|gsr|ibi|tmp|bat|tag> ON|OFF``,
``pause ON|OFF``, ``device_disconnect`` (:func:`build_command` and friends).

Replies (server -> client) start with ``R``: ``R <command> [args...] OK`` or
``R <command> [args...] ERR <reason text>`` (e.g. ``R device_subscribe acc OK``; the page also shows
``R device_subscribe acc ON``). Device lists: ``R device_list <n> | <id> <name> | ...`` and
``R device_discover_list <n> | <id> <name> allowed|not_allowed | ...`` (the page's manual-BTLE example answers
``device_discover_list`` with ``R device_list ...``: both are accepted, :func:`parse_device_list`). System
messages (:class:`E4Status`): ``R connection lost to device <id>``, ``R connection re-established to device
<id>`` and ``R device <id> turned off via button`` (firmware > 1.2.4.x).

Data lines: ``<stream> <unix_ts.frac> <values...>``: ``E4_Acc ts x y z`` (raw units, 64 = 1 g,
range +-2 g, 32 Hz), ``E4_Bvp``, ``E4_Gsr``, ``E4_Ibi``, ``E4_Hr``, ``E4_Battery``, ``E4_Tag ts``
(a button press: a timestamp and **no value**) and the temperature as ``E4_Temperature`` (the documentation's
list says ``E4_Temp``: both are accepted). The page's ``E4_Hr`` example writes decimal commas
(``E4_Hr 1525769423,37371 142,2156``, a Windows locale): a number with one comma and no dot is read with the
comma as the decimal separator. Timestamps are computed by the server (first packet arrival + nominal rate), so they are
host-clock times, not device-clock times. ACC axes: +x toward the USB slot, +y toward the shorter
strap, +z toward the bottom of the device; the sign of gravity is not documented (``sign="unknown"``).

(b) Direct BLE (UNVERIFIED community reverse engineering; sources disagree)
---------------------------------------------------------------------------
Sensor service 0x3EA0 with ACC characteristic 0x3EA3 (also BVP 0x3EA1, temperature 0x3EA6, EDA
0x3EA8); command service 0x3E70 with characteristic 0x3E71; start command
``struct.pack('<BI', 1, unix_time)``. UNVERIFIED: the 16-bit ids are expanded here on the Bluetooth
base UUID, which nobody here could confirm on hardware. ACC notification payload, as a named variant:

* ``"int8x3"``: consecutive int8 x, y, z triples, 1/64 g per unit (two sources);
* ``"int16x3le"``: consecutive int16 little-endian x, y, z triples (one source), 1/64 g assumed.

Both are UNVERIFIED; :class:`E4BleAccDecoder` makes the choice explicit.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from toolkit.errors import Multi3EdgeError

from .base import DecodeError, DecoderBase, ImuBatch

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 28000
ACC_RATE_HZ = 32.0
ACC_UNITS = "1/64 g"

#: Streams accepted by ``device_subscribe``.
SUBSCRIBE_STREAMS = ("acc", "bvp", "gsr", "ibi", "tmp", "bat", "tag")

#: Data line tags -> stream names.
DATA_TAGS = {
    "E4_Acc": "acc", "E4_Bvp": "bvp", "E4_Gsr": "gsr", "E4_Ibi": "ibi", "E4_Hr": "hr",
    "E4_Battery": "battery", "E4_Tag": "tag", "E4_Temperature": "temperature", "E4_Temp": "temperature",
}

#: Longest line kept (a longer one is discarded as garbage).
MAX_LINE = 4096

#: Stand-in "characteristic" UUID under which the server's TCP byte stream is recorded in ``.m3erec`` files and
#: routed through :class:`~firmware_bridge.session.StreamSession` (a TCP stream has no GATT characteristic):
#: ``uuid5(NAMESPACE_URL, "https://developer.empatica.com/windows-streaming-server-data.html")``.
TCP_STREAM_UUID = "397ce7e4-2b96-5982-9f36-7a136522a38e"


class E4CommandError(Multi3EdgeError):
    """The E4 streaming server answered a command with ERR (or not at all)."""


# ---------------------------------------------------------------------------------------------
# commands


def build_command(*words: str | int | float) -> bytes:
    """Join words into one command line ending in CRLF; words may not contain whitespace."""
    parts = [str(w) for w in words]
    for p in parts:
        if not p or any(ch.isspace() for ch in p):
            raise ValueError(f"E4 command word {p!r} is empty or contains whitespace")
    return (" ".join(parts) + "\r\n").encode("ascii")


def cmd_device_discover_list() -> bytes:
    return build_command("device_discover_list")


def cmd_device_connect_btle(device_id: str, timeout_s: int | None = None) -> bytes:
    return build_command("device_connect_btle", device_id, *([] if timeout_s is None else [int(timeout_s)]))


def cmd_device_list() -> bytes:
    return build_command("device_list")


def cmd_device_connect(device_id: str) -> bytes:
    return build_command("device_connect", device_id)


def cmd_device_subscribe(stream: str, on: bool = True) -> bytes:
    if stream not in SUBSCRIBE_STREAMS:
        raise ValueError(f"unknown E4 stream {stream!r}; known: {SUBSCRIBE_STREAMS}")
    return build_command("device_subscribe", stream, "ON" if on else "OFF")


def cmd_pause(on: bool) -> bytes:
    return build_command("pause", "ON" if on else "OFF")


def cmd_device_disconnect() -> bytes:
    return build_command("device_disconnect")


# ---------------------------------------------------------------------------------------------
# server messages


@dataclass(frozen=True)
class E4Data:
    """A data line: stream name (``"acc"``, ``"temperature"``...), server timestamp [unix s], values."""

    stream: str
    timestamp: float
    values: tuple[float, ...]


@dataclass(frozen=True)
class E4Reply:
    """``R <command> [args] OK|ERR [reason]``; ``status`` is ``"OK"``, ``"ERR"`` or None (informational)."""

    command: str
    args: tuple[str, ...]
    status: str | None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class E4Status:
    """A system message: ``R connection lost to device <id>`` (``lost``), ``R connection re-established to device
    <id>`` (``reestablished``), ``R device <id> turned off via button`` (``turned_off``)."""

    kind: Literal["lost", "reestablished", "turned_off"]
    device_id: str

    def describe(self) -> str:
        """One human line, e.g. ``E4 9ff167: turned off with its button``."""
        what = {"lost": "Bluetooth connection to the server lost (the server tries to reconnect)",
                "reestablished": "Bluetooth connection re-established",
                "turned_off": "turned off with its button"}[self.kind]
        return f"E4 {self.device_id or '?'}: {what}"


E4Message = E4Data | E4Reply | E4Status


@dataclass(frozen=True)
class E4DeviceInfo:
    """One device of a ``device_list`` / ``device_discover_list`` reply; ``allowed`` is None when not stated."""

    device_id: str
    name: str
    allowed: bool | None = None


def parse_device_list(reply: E4Reply) -> list[E4DeviceInfo]:
    """The devices of ``R device_list <n> | <id> <name> | ...`` or ``R device_discover_list <n> | <id> <name>
    allowed|not_allowed | ...``; ``R device_list 0`` is an empty list.

    Raises:
        DecodeError: the count does not match the entries, or an entry has no id.
    """
    if reply.status == "ERR":
        raise DecodeError("bad_value", f"R {reply.command} ERR {reply.text}")
    parts = [p.strip() for p in " ".join(reply.args).split("|")]
    try:
        count = int(parts[0]) if parts[0] else 0
    except ValueError:
        raise DecodeError("bad_value", f"device count {parts[0]!r} is not an integer") from None
    out = []
    for entry in parts[1:]:
        words = entry.split()
        if not words:
            continue
        allowed = {"allowed": True, "not_allowed": False}.get(words[-1]) if len(words) > 2 else None
        out.append(E4DeviceInfo(words[0], " ".join(words[1:-1] if allowed is not None else words[1:]), allowed))
    if len(out) != count:
        raise DecodeError("bad_length", f"device list announces {count} device(s) and holds {len(out)}")
    return out


def _number(token: str) -> float:
    """A float; ``"1525769423,37371"`` (one comma, no dot: a Windows decimal comma) reads as 1525769423.37371."""
    if "," in token and "." not in token and token.count(",") == 1:
        token = token.replace(",", ".")
    return float(token)


def parse_line(line: str) -> E4Message:
    """Parse one line (without its line ending); raises :class:`DecodeError` on malformed lines."""
    tokens = line.split()
    if not tokens:
        raise DecodeError("truncated", "empty line")
    head = tokens[0]
    if head == "R":
        if len(tokens) < 2:
            raise DecodeError("truncated", f"reply without command: {line!r}")
        if tokens[1] == "connection" and len(tokens) >= 3:
            rest = " ".join(tokens[2:])
            if rest.startswith("lost to device"):
                return E4Status("lost", tokens[-1] if len(tokens) > 5 else "")
            if rest.startswith("re-established to device"):
                return E4Status("reestablished", tokens[-1] if len(tokens) > 5 else "")
        if tokens[1] == "device" and len(tokens) >= 6 and tokens[3:6] == ["turned", "off", "via"]:
            return E4Status("turned_off", tokens[2])
        args = tokens[2:]
        if "ERR" in args:
            i = args.index("ERR")
            return E4Reply(tokens[1], tuple(args[:i]), "ERR", " ".join(args[i + 1:]))
        if args and args[-1] == "OK":
            return E4Reply(tokens[1], tuple(args[:-1]), "OK")
        return E4Reply(tokens[1], tuple(args), None, " ".join(args))
    stream = DATA_TAGS.get(head)
    if stream is None:
        raise DecodeError("bad_magic", f"unknown line tag {head!r}")
    if len(tokens) < (2 if stream == "tag" else 3):  # E4_Tag carries a timestamp only (Data Streaming Packets)
        raise DecodeError("truncated", f"data line without values: {line!r}")
    try:
        ts = _number(tokens[1])
        values = tuple(_number(t) for t in tokens[2:])
    except ValueError as e:
        raise DecodeError("bad_value", f"{line!r}: {e}") from None
    if stream == "acc" and len(values) != 3:
        raise DecodeError("bad_length", f"E4_Acc needs 3 values: {line!r}")
    if not np.isfinite(ts) or not all(np.isfinite(values)):
        raise DecodeError("bad_value", f"non-finite number in {line!r}")
    return E4Data(stream, ts, values)


@dataclass
class E4LineParser:
    """Line buffer: ``feed(chunk)`` returns the messages completed by that chunk.

    Lines may end in ``\\r\\n`` or ``\\n``; empty lines are skipped; malformed lines are counted in
    ``bad_lines`` (the last error in ``last_error``) and skipped; a line longer than
    :data:`MAX_LINE` without a newline is discarded (``overlong_lines``).
    """

    bad_lines: int = 0
    overlong_lines: int = 0
    last_error: DecodeError | None = None
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _skipping: bool = False

    def feed(self, chunk: bytes) -> list[E4Message]:
        self._buf += chunk
        out: list[E4Message] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    self._buf.clear()
                    if not self._skipping:
                        self.overlong_lines += 1
                    self._skipping = True
                return out
            raw = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if self._skipping:  # tail of an overlong line
                self._skipping = False
                continue
            text = raw.rstrip(b"\r").decode("ascii", errors="replace").strip()
            if not text:
                continue
            try:
                out.append(parse_line(text))
            except DecodeError as e:
                self.bad_lines += 1
                self.last_error = e


def acc_batch(lines: list[E4Data]) -> ImuBatch:
    """E4_Acc data -> one batch in raw units (1/64 g), ``device_time_s`` = server timestamps."""
    return ImuBatch(
        acc=np.array([d.values for d in lines], dtype=np.float64).reshape(-1, 3),
        device_time_s=np.array([d.timestamp for d in lines], dtype=np.float64),
        units={"acc": ACC_UNITS}, sign="unknown",
        meta={"protocol": "e4-tcp", "time_base": "unix s (E4 streaming server clock)", "rate_hz": ACC_RATE_HZ},
    )


class E4LineDecoder(DecoderBase):
    """Decoder over the TCP byte stream: ``decode(chunk)`` -> at most one batch of the chunk's E4_Acc lines.

    Other messages go to ``on_message`` (if given). Malformed lines are skipped and counted by
    ``parser.bad_lines``; a chunk never raises.
    """

    name: ClassVar[str] = "e4-tcp"

    def __init__(self, on_message: Callable[[E4Message], None] | None = None) -> None:
        super().__init__()
        self.parser = E4LineParser()
        self.on_message = on_message

    def _decode(self, data: bytes) -> list[ImuBatch]:
        acc: list[E4Data] = []
        for m in self.parser.feed(data):
            if isinstance(m, E4Data) and m.stream == "acc":
                acc.append(m)
            elif self.on_message is not None:
                self.on_message(m)
        return [acc_batch(acc)] if acc else []


class E4StreamingClient:
    """asyncio client of the E4 streaming server.

    Usage::

        async with E4StreamingClient("127.0.0.1", 28000) as client:
            await client.start("9ff167")           # device_connect + device_subscribe acc ON
            async for batch in client.batches():   # ImuBatch, acc in 1/64 g
                ...

    Status lines (connection lost / re-established) are kept in ``status_events``; other replies
    and non-ACC data in ``messages`` (bounded).
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, reply_timeout_s: float = 5.0,
                 keep_messages: int = 1000) -> None:
        self.host, self.port = host, port
        self.reply_timeout_s = reply_timeout_s
        self.parser = E4LineParser()
        self.status_events: list[E4Status] = []
        self.messages: list[E4Message] = []
        self._keep = keep_messages
        self._pending_acc: list[E4Data] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> E4StreamingClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self._writer = None

    def _route(self, m: E4Message) -> None:
        if isinstance(m, E4Data) and m.stream == "acc":
            self._pending_acc.append(m)
            return
        if isinstance(m, E4Status):
            self.status_events.append(m)
        self.messages.append(m)
        del self.messages[: max(0, len(self.messages) - self._keep)]

    async def _read_chunk(self) -> list[E4Message]:
        assert self._reader is not None, "not connected"
        chunk = await self._reader.read(4096)
        if not chunk:
            raise EOFError("E4 streaming server closed the connection")
        return self.parser.feed(chunk)

    async def command(self, line: bytes, expect: str | tuple[str, ...]) -> E4Reply:
        """Send a command line and wait for the reply whose command word is ``expect`` (or one of them)."""
        expected = (expect,) if isinstance(expect, str) else expect
        assert self._writer is not None, "not connected"
        self._writer.write(line)
        await self._writer.drain()

        async def wait() -> E4Reply:
            reply: E4Reply | None = None
            while reply is None:
                for m in await self._read_chunk():  # keep the whole chunk: data may follow the reply
                    if reply is None and isinstance(m, E4Reply) and m.command in expected:
                        reply = m
                    else:
                        self._route(m)
            return reply

        try:
            reply = await asyncio.wait_for(wait(), self.reply_timeout_s)
        except TimeoutError:
            raise E4CommandError(f"no reply to {line.decode().strip()!r} within {self.reply_timeout_s} s") from None
        if reply.status == "ERR":
            raise E4CommandError(f"{line.decode().strip()!r} failed: {reply.text}")
        return reply

    async def list_devices(self) -> list[E4DeviceInfo]:
        """``device_list``: the E4s connected to the server over Bluetooth."""
        return parse_device_list(await self.command(cmd_device_list(), "device_list"))

    async def discover_devices(self) -> list[E4DeviceInfo]:
        """``device_discover_list`` (manual BTLE): E4s in range, not yet connected (the documented example answers it
        as ``R device_list``: both accepted)."""
        return parse_device_list(await self.command(cmd_device_discover_list(), ("device_discover_list",
                                                                                 "device_list")))

    async def start(self, device_id: str, streams: tuple[str, ...] = ("acc",)) -> None:
        """``device_connect <id>`` then ``device_subscribe <stream> ON`` for each stream."""
        await self.command(cmd_device_connect(device_id), "device_connect")
        for s in streams:
            await self.command(cmd_device_subscribe(s, True), "device_subscribe")

    async def batches(self) -> AsyncIterator[ImuBatch]:
        """Yield one :class:`ImuBatch` per received chunk that held E4_Acc lines; ends at EOF.

        (The command-line programs stream through :class:`firmware_bridge.e4_link.E4ServerConnection`, which
        records the raw byte stream; this iterator is the plain-Python way.)"""
        while True:
            if self._pending_acc:
                lines, self._pending_acc = self._pending_acc, []
                yield acc_batch(lines)
            try:
                messages = await self._read_chunk()
            except EOFError:
                return
            for m in messages:
                self._route(m)


# ---------------------------------------------------------------------------------------------
# direct BLE (UNVERIFIED)


def _short(uuid16: int) -> str:
    return f"0000{uuid16:04x}-0000-1000-8000-00805f9b34fb"


#: UNVERIFIED (community reverse engineering; the 128-bit base is assumed).
BLE_SENSOR_SERVICE_UUID = _short(0x3EA0)
BLE_ACC_CHAR_UUID = _short(0x3EA3)
BLE_BVP_CHAR_UUID = _short(0x3EA1)
BLE_TEMP_CHAR_UUID = _short(0x3EA6)
BLE_EDA_CHAR_UUID = _short(0x3EA8)
BLE_COMMAND_SERVICE_UUID = _short(0x3E70)
BLE_COMMAND_CHAR_UUID = _short(0x3E71)

BleAccVariant = Literal["int8x3", "int16x3le"]
BLE_ACC_VARIANTS: dict[str, tuple[str, int]] = {"int8x3": ("<i1", 1), "int16x3le": ("<i2", 2)}


def build_ble_start_command(unix_time_s: int) -> bytes:
    """UNVERIFIED start command for characteristic 0x3E71: ``struct.pack('<BI', 1, unix_time)``."""
    return struct.pack("<BI", 1, int(unix_time_s) & 0xFFFFFFFF)


class E4BleAccDecoder(DecoderBase):
    """UNVERIFIED decoder of the E4's direct-BLE ACC notification, layout chosen by ``variant``.

    The whole payload is x, y, z triples (see module docstring); values in 1/64 g; no timestamps
    (``device_time_s`` None); ``meta["variant"]`` names the layout and ``meta["verified"]`` is False.
    """

    name: ClassVar[str] = "e4-ble-acc"

    def __init__(self, variant: BleAccVariant = "int8x3") -> None:
        super().__init__()
        if variant not in BLE_ACC_VARIANTS:
            raise ValueError(f"unknown E4 BLE ACC variant {variant!r}; known: {sorted(BLE_ACC_VARIANTS)}")
        self.variant = variant

    def _decode(self, data: bytes) -> list[ImuBatch]:
        dtype, size = BLE_ACC_VARIANTS[self.variant]
        if len(data) < 3 * size:
            raise DecodeError("truncated", f"{len(data)} bytes, one {self.variant} sample needs {3 * size}")
        if len(data) % (3 * size):
            raise DecodeError("bad_length", f"{len(data)} bytes is not a multiple of {3 * size} ({self.variant})")
        acc = np.frombuffer(data, dtype=dtype).astype(np.float64).reshape(-1, 3)
        return [ImuBatch(acc=acc, units={"acc": ACC_UNITS}, sign="unknown",
                         meta={"protocol": self.name, "variant": self.variant, "verified": False,
                               "rate_hz": ACC_RATE_HZ})]
