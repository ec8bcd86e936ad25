"""Doublepoint Touch SDK (Wear OS app): protobuf ``Update{repeated SensorFrame}`` over GATT.

Sources: UUIDs from doublepointlab/touch-sdk-py ``src/touch_sdk/uuids.py``; messages from
doublepointlab/touch-sdk-protobuf ``proto/watch_output.proto`` and ``proto/common.proto`` (proto3).
Decoded here with a small hand-written protobuf wire-format reader (no protobuf dependency).

GATT
    advertised (interaction) service ``008e74d0-7bb3-4ac5-8baf-e5e372cced76``; protobuf service
    ``f9d60370-5325-4c64-b874-a68c7c555bad``; output (notify/read) ``f9d60371-...``: one
    serialized ``Update`` per notification; input (write) ``f9d60372-...``.

Messages used (field number: type)
    ``Update``: 1 ``repeated SensorFrame sensorFrames``, 2 ``repeated Gesture gestures``,
    3 touchEvents, 4 buttonEvents, 5 rotaryEvents, 6 ``repeated Signal signals`` (enum),
    7 ``int32 deltaTime`` (ms since the last update), 8 ``int64 unixTime`` (ms, when the update was
    built), 9 ``Info info``, 10 probabilities, 16 ``float pressure`` (hPa).
    ``SensorFrame``: 1 ``Vec3 gyro`` (rad/s), 2 ``Vec3 acc`` (m/s^2), 3 ``Vec3 grav`` (m/s^2),
    4 ``Quat quat``, 5 ``int32 deltaTime`` (ms since the previous frame), 6 ``Vec3 mag`` (uT),
    7 ``Vec3 magCal`` (uT).
    ``Vec3``: 1 x, 2 y, 3 z (float). ``Quat``: 1 w, 2 x, 3 y, 4 z (float).
    ``Gesture``: 1 ``GestureType type``, 2 ``int32 deltaTime``.

Wire format (protobuf encoding): each field is a varint key ``(field_number << 3) | wire_type``;
wire types 0 varint, 1 fixed64, 2 length-delimited (varint length), 5 fixed32 (float LE); 3/4
(groups) are rejected. proto3 omits fields holding their default, so a missing float is 0.0 and a
missing ``acc``/``gyro`` message is decoded as NaN. int32 negatives are 10-byte varints.

Repeated occurrences (protobuf "last one wins" / merge rules, protobuf.dev/programming-guides/encoding,
section "Last One Wins"): a non-repeated scalar (``deltaTime``, a Vec3 component) that appears more than once
keeps the last value; a non-repeated embedded message (``acc``, ``gyro``, ``grav``, ``quat``, ``mag`` inside one
SensorFrame) that appears more than once is MERGED as if parsed into the same message: components present in a
later instance replace, components absent from it keep the earlier value; repeated fields (``sensorFrames``,
``gestures``, ``signals``) append. Checked against the official ``google.protobuf`` runtime in
``tests/firmware_bridge/test_touch_sdk.py``.

Handshake and approval (doublepointlab/touch-sdk-py ``src/touch_sdk/watch_connector.py``): the client writes
``InputUpdate{clientInfo}`` to the input characteristic, THEN subscribes to the output; while the watch shows
its approval dialog that write fails (BlueZ: ATT error 0x01 Invalid Handle; macOS: "Failed to write
characteristic") yet the watch gets the client info, so the official client ignores the error. An ``Update``
holding ``Signal.DISCONNECT`` (``signals`` field 6, value 1) means "the wearer declined the connection" (or the
watch app is exiting); any other Update means it was approved. :class:`TouchSdkDecoder` keeps both facts in
:attr:`TouchSdkDecoder.declined` / :attr:`TouchSdkDecoder.approved`; the session acts on them.

Batches: ``acc`` m/s^2 and ``gyro`` rad/s in the watch's Android sensor frame (``sign="android"``);
``device_time_s`` is the running sum of the frames' ``deltaTime`` (s since the decoder's first
frame); ``meta`` holds ``grav`` (N,3), ``quat_xyzw`` (N,4, the toolkit's scalar-last order),
``mag`` (N,3), ``delta_time_ms`` (N,), ``unix_time_ms``, ``update_delta_time_ms``, ``gestures``, ``signals``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import ClassVar

import numpy as np

from .base import DecodeError, DecoderBase, ImuBatch

INTERACTION_SERVICE_UUID = "008e74d0-7bb3-4ac5-8baf-e5e372cced76"
PROTOBUF_SERVICE_UUID = "f9d60370-5325-4c64-b874-a68c7c555bad"
PROTOBUF_OUTPUT_UUID = "f9d60371-5325-4c64-b874-a68c7c555bad"
PROTOBUF_INPUT_UUID = "f9d60372-5325-4c64-b874-a68c7c555bad"

WT_VARINT, WT_I64, WT_LEN, WT_I32 = 0, 1, 2, 5

#: ``Update.Signal`` values (watch_output.proto).
SIGNAL_NONE, SIGNAL_DISCONNECT, SIGNAL_CONNECT_APPROVED, SIGNAL_DESCRIPTION_UPDATE = 0, 1, 2, 3

# Update fields
U_SENSOR_FRAMES, U_GESTURES, U_SIGNALS, U_DELTA_TIME, U_UNIX_TIME, U_PRESSURE = 1, 2, 6, 7, 8, 16
# SensorFrame fields
SF_GYRO, SF_ACC, SF_GRAV, SF_QUAT, SF_DELTA_TIME, SF_MAG, SF_MAG_CAL = 1, 2, 3, 4, 5, 6, 7

_MAX_VARINT_BYTES = 10


# ---------------------------------------------------------------------------------------------
# wire format reader


def read_varint(data: bytes, off: int) -> tuple[int, int]:
    """Read an unsigned varint at ``off``; returns (value, new offset)."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if off + i >= len(data):
            raise DecodeError("truncated", "varint runs past the end")
        b = data[off + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, off + i + 1
    raise DecodeError("malformed", "varint longer than 10 bytes")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)``: int for varint/fixed, bytes for length-delimited."""
    off = 0
    n = len(data)
    while off < n:
        key, off = read_varint(data, off)
        field_no, wt = key >> 3, key & 7
        if field_no == 0:
            raise DecodeError("malformed", "field number 0")
        if wt == WT_VARINT:
            v, off = read_varint(data, off)
            yield field_no, wt, v
        elif wt == WT_I64:
            if off + 8 > n:
                raise DecodeError("truncated", "fixed64 runs past the end")
            yield field_no, wt, int.from_bytes(data[off:off + 8], "little")
            off += 8
        elif wt == WT_LEN:
            length, off = read_varint(data, off)
            if off + length > n:
                raise DecodeError("truncated", f"length-delimited field {field_no} needs {length} bytes")
            yield field_no, wt, data[off:off + length]
            off += length
        elif wt == WT_I32:
            if off + 4 > n:
                raise DecodeError("truncated", "fixed32 runs past the end")
            yield field_no, wt, int.from_bytes(data[off:off + 4], "little")
            off += 4
        else:
            raise DecodeError("malformed", f"wire type {wt} (field {field_no})")


def _expect(field_no: int, wt: int, want: int) -> None:
    if wt != want:
        raise DecodeError("malformed", f"field {field_no} has wire type {wt}, schema says {want}")


def _f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _int64(v: int) -> int:
    return v - (1 << 64) if v & (1 << 63) else v


def parse_floats(data: bytes, count: int, into: list[float] | None = None) -> list[float]:
    """Vec3 (count 3: x y z) or Quat (count 4: w x y z); missing fields are 0.0 (proto3).

    With ``into`` (the values of an earlier instance of the same field) the message is merged into it, as
    protobuf parsers do for a repeated occurrence of a non-repeated embedded message: fields present in
    ``data`` replace, absent ones keep their earlier value. ``into`` is updated in place and returned.
    """
    out = into if into is not None else [0.0] * count
    for f, wt, v in iter_fields(data):
        if 1 <= f <= count:
            _expect(f, wt, WT_I32)
            out[f - 1] = _f32(v)  # type: ignore[arg-type]
    return out


def parse_sensor_frame(data: bytes) -> dict[str, object]:
    """SensorFrame -> dict with keys present among gyro, acc, grav, quat (w,x,y,z), mag, mag_cal, delta_time."""
    out: dict[str, object] = {"delta_time": 0}
    names = {SF_GYRO: "gyro", SF_ACC: "acc", SF_GRAV: "grav", SF_MAG: "mag", SF_MAG_CAL: "mag_cal"}
    for f, wt, v in iter_fields(data):
        if f in names:
            _expect(f, wt, WT_LEN)  # a repeated occurrence merges into the earlier one (module docstring)
            out[names[f]] = parse_floats(v, 3, out.get(names[f]))  # type: ignore[arg-type]
        elif f == SF_QUAT:
            _expect(f, wt, WT_LEN)
            out["quat"] = parse_floats(v, 4, out.get("quat"))  # type: ignore[arg-type]
        elif f == SF_DELTA_TIME:
            _expect(f, wt, WT_VARINT)
            out["delta_time"] = _int32(v)  # type: ignore[arg-type]
    return out


# ---------------------------------------------------------------------------------------------
# wire format writer (tests, virtual devices)


def write_varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field_no: int, wt: int) -> bytes:
    return write_varint((field_no << 3) | wt)


def _len_field(field_no: int, payload: bytes) -> bytes:
    return _key(field_no, WT_LEN) + write_varint(len(payload)) + payload


def _floats(values: Sequence[float]) -> bytes:
    out = bytearray()
    for i, v in enumerate(values, start=1):
        packed = struct.pack("<f", float(v))
        if packed != b"\x00\x00\x00\x00":  # proto3 omits +0.0
            out += _key(i, WT_I32) + packed
    return bytes(out)


def encode_sensor_frame(acc: Sequence[float] | None, gyro: Sequence[float] | None, delta_time_ms: int = 0,
                        grav: Sequence[float] | None = None, quat_xyzw: Sequence[float] | None = None,
                        mag: Sequence[float] | None = None) -> bytes:
    """One serialized SensorFrame (fields in schema-number order, proto3 defaults omitted)."""
    out = bytearray()
    if gyro is not None:
        out += _len_field(SF_GYRO, _floats(gyro))
    if acc is not None:
        out += _len_field(SF_ACC, _floats(acc))
    if grav is not None:
        out += _len_field(SF_GRAV, _floats(grav))
    if quat_xyzw is not None:
        x, y, z, w = quat_xyzw
        out += _len_field(SF_QUAT, _floats((w, x, y, z)))
    if delta_time_ms:
        out += _key(SF_DELTA_TIME, WT_VARINT) + write_varint(int(delta_time_ms))
    if mag is not None:
        out += _len_field(SF_MAG, _floats(mag))
    return bytes(out)


def encode_update(acc: np.ndarray, gyro: np.ndarray | None = None, delta_time_ms: int | Sequence[int] = 10, *,
                  grav: np.ndarray | None = None, quat_xyzw: np.ndarray | None = None,
                  update_delta_time_ms: int = 0, unix_time_ms: int = 0) -> bytes:
    """Serialize an ``Update`` with one SensorFrame per row of ``acc`` (N,3) m/s^2 / ``gyro`` rad/s."""
    acc = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
    n = acc.shape[0]
    dts = np.broadcast_to(np.asarray(delta_time_ms, dtype=np.int64), (n,))
    out = bytearray()
    for i in range(n):
        frame = encode_sensor_frame(
            acc[i], None if gyro is None else np.asarray(gyro).reshape(-1, 3)[i], int(dts[i]),
            None if grav is None else np.asarray(grav).reshape(-1, 3)[i],
            None if quat_xyzw is None else np.asarray(quat_xyzw).reshape(-1, 4)[i])
        out += _len_field(U_SENSOR_FRAMES, frame)
    if update_delta_time_ms:
        out += _key(U_DELTA_TIME, WT_VARINT) + write_varint(update_delta_time_ms)
    if unix_time_ms:
        out += _key(U_UNIX_TIME, WT_VARINT) + write_varint(unix_time_ms)
    return bytes(out)


def encode_signals(signals: Sequence[int]) -> bytes:
    """A frameless ``Update`` carrying only ``signals`` (packed repeated enum, field 6), e.g.
    ``encode_signals([SIGNAL_DISCONNECT])`` == ``32 01 01``: what the watch sends when the wearer declines."""
    packed = b"".join(write_varint(int(s)) for s in signals)
    return _len_field(U_SIGNALS, packed) if packed else b""


# ---------------------------------------------------------------------------------------------
# decoder


class TouchSdkDecoder(DecoderBase):
    """Decoder of Touch SDK ``Update`` notifications (state: running device time, approval).

    Attributes:
        approved: an Update without a DISCONNECT signal has arrived (the watch accepted the connection).
        declined: an Update with a DISCONNECT signal has arrived (the wearer declined, or the watch app quit);
            set even when that Update has no sensor frames (then :meth:`decode` returns no batch).
    """

    name: ClassVar[str] = "touch-sdk"

    def __init__(self) -> None:
        super().__init__()
        self._t_ms: int | None = None
        self.approved = False
        self.declined = False

    def reset(self) -> None:
        self._t_ms = None

    def _decode(self, data: bytes) -> list[ImuBatch]:
        frames: list[dict[str, object]] = []
        meta: dict[str, object] = {"protocol": self.name, "gestures": [], "signals": [],
                                   "time_base": "s, running sum of SensorFrame.deltaTime"}
        for f, wt, v in iter_fields(data):
            if f == U_SENSOR_FRAMES:
                _expect(f, wt, WT_LEN)
                frames.append(parse_sensor_frame(v))  # type: ignore[arg-type]
            elif f == U_GESTURES:
                _expect(f, wt, WT_LEN)
                g = {"type": 0, "delta_time": 0}
                for gf, gwt, gv in iter_fields(v):  # type: ignore[arg-type]
                    if gf in (1, 2):
                        _expect(gf, gwt, WT_VARINT)
                        g["type" if gf == 1 else "delta_time"] = _int32(gv)  # type: ignore[arg-type]
                meta["gestures"].append(g)  # type: ignore[union-attr]
            elif f == U_SIGNALS:
                if wt == WT_LEN:  # packed repeated enum
                    off, buf = 0, v
                    while off < len(buf):  # type: ignore[arg-type]
                        s, off = read_varint(buf, off)  # type: ignore[arg-type]
                        meta["signals"].append(_int32(s))  # type: ignore[union-attr]
                else:
                    _expect(f, wt, WT_VARINT)
                    meta["signals"].append(_int32(v))  # type: ignore[union-attr, arg-type]
            elif f == U_DELTA_TIME:
                _expect(f, wt, WT_VARINT)
                meta["update_delta_time_ms"] = _int32(v)  # type: ignore[arg-type]
            elif f == U_UNIX_TIME:
                _expect(f, wt, WT_VARINT)
                meta["unix_time_ms"] = _int64(v)  # type: ignore[arg-type]
            elif f == U_PRESSURE:
                _expect(f, wt, WT_I32)
                meta["pressure_hPa"] = _f32(v)  # type: ignore[arg-type]
        if SIGNAL_DISCONNECT in meta["signals"]:  # type: ignore[operator]
            self.declined = True
        else:
            self.approved = True
        if not frames:
            return []

        def column(key: str, width: int = 3) -> np.ndarray:
            return np.array([fr.get(key, [float("nan")] * width) for fr in frames], dtype=np.float64)

        acc, gyro = column("acc"), column("gyro")
        quat_wxyz = column("quat", 4)
        dts = np.array([fr["delta_time"] for fr in frames], dtype=np.int64)
        t0 = self._t_ms if self._t_ms is not None else -int(dts[0])
        t_ms = t0 + np.cumsum(dts)
        self._t_ms = int(t_ms[-1])
        meta.update({
            "grav": column("grav"), "quat_xyzw": quat_wxyz[:, [1, 2, 3, 0]],
            "mag": column("mag"), "delta_time_ms": dts,
        })
        return [ImuBatch(acc=acc, gyro=gyro, device_time_s=t_ms * 1e-3, units={"acc": "m/s^2", "gyro": "rad/s"},
                         sign="android", meta=meta)]
