"""Doublepoint Touch SDK protobuf: hand-built wire bytes, round trips, wire-format edge cases."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from firmware_bridge.protocols import touch_sdk as ts
from firmware_bridge.protocols.base import DecodeError


def _f(v: float) -> bytes:
    return struct.pack("<f", v)


def test_hand_built_update():
    # SensorFrame{gyro{x: 0.5}, acc{x: 1.0, z: 9.81}, quat{w: 1}, deltaTime: 20}, field numbers from
    # touch-sdk-protobuf proto/watch_output.proto and proto/common.proto
    gyro = b"\x0d" + _f(0.5)
    acc = b"\x0d" + _f(1.0) + b"\x1d" + _f(9.81)
    quat = b"\x0d" + _f(1.0)
    frame = (b"\x0a" + bytes([len(gyro)]) + gyro + b"\x12" + bytes([len(acc)]) + acc
             + b"\x22" + bytes([len(quat)]) + quat + b"\x28\x14")
    update = b"\x0a" + bytes([len(frame)]) + frame + b"\x38\x14" + b"\x40" + ts.write_varint(1_700_000_000_000)
    update += b"\x85\x01" + _f(1013.25)  # field 16 (pressure), fixed32: key (16 << 3 | 5) = 0x85 0x01
    (b,) = ts.TouchSdkDecoder().decode(update)
    assert b.acc[0] == pytest.approx([1.0, 0.0, 9.81], rel=1e-6)
    assert b.gyro[0] == pytest.approx([0.5, 0.0, 0.0])
    assert b.meta["quat_xyzw"][0].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert b.meta["delta_time_ms"].tolist() == [20] and b.meta["update_delta_time_ms"] == 20
    assert b.meta["unix_time_ms"] == 1_700_000_000_000
    assert b.meta["pressure_hPa"] == pytest.approx(1013.25)
    assert np.isnan(b.meta["grav"]).all()  # absent sub-message
    assert b.units == {"acc": "m/s^2", "gyro": "rad/s"} and b.sign == "android"


def test_round_trip_and_running_time():
    rng = np.random.default_rng(0)
    acc, gyro = rng.normal(0, 5, (6, 3)), rng.normal(0, 1, (6, 3))
    acc[0, 1] = 0.0  # proto3 omits it; must decode as 0.0
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (6, 1))
    dec = ts.TouchSdkDecoder()
    (b1,) = dec.decode(ts.encode_update(acc[:3], gyro[:3], 10, quat_xyzw=quat[:3], grav=acc[:3]))
    (b2,) = dec.decode(ts.encode_update(acc[3:], gyro[3:], [10, 12, 10]))
    assert np.allclose(np.vstack([b1.acc, b2.acc]), acc.astype(np.float32))
    assert np.allclose(np.vstack([b1.gyro, b2.gyro]), gyro.astype(np.float32))
    assert np.allclose(b1.meta["quat_xyzw"], quat[:3])
    t = np.concatenate([b1.device_time_s, b2.device_time_s])
    assert np.allclose(t, np.array([0, 10, 20, 30, 42, 52]) * 1e-3)


def test_empty_update_and_unknown_fields_skipped():
    dec = ts.TouchSdkDecoder()
    assert dec.decode(b"") == []
    unknown = b"\x98\x06\x01" + b"\xa1\x06" + bytes(8)  # field 99 varint, field 100 fixed64
    (b,) = dec.decode(unknown + ts.encode_update(np.ones((1, 3)), np.ones((1, 3))))
    assert b.acc.tolist() == [[1, 1, 1]]


def test_negative_int32_and_signals():
    frame = ts._len_field(2, b"") + b"\x28" + ts.write_varint(-5)
    upd = ts._len_field(1, frame) + b"\x30\x01" + ts._len_field(6, b"\x02\x03")
    (b,) = ts.TouchSdkDecoder().decode(upd)
    assert b.meta["delta_time_ms"].tolist() == [-5] and b.meta["signals"] == [1, 2, 3]
    assert len(ts.write_varint(-5)) == 10


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\x0a\x05\x01", "truncated"),  # length past end
    (b"\x08" + b"\xff" * 11, "malformed"),  # varint too long
    (b"\x08\x80", "truncated"),
    (b"\x0b", "malformed"),  # wire type 3 (group)
    (b"\x00\x00", "malformed"),  # field 0
    (b"\x08\x01", "malformed"),  # sensorFrames as varint
    (ts._len_field(1, b"\x15\x00\x00"), "truncated"),  # a fixed32 inside a SensorFrame, cut short
])
def test_errors(payload, reason):
    with pytest.raises(DecodeError) as ei:
        ts.TouchSdkDecoder().decode(payload)
    assert ei.value.reason == reason
