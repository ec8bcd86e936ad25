"""Doublepoint Touch SDK protobuf: hand-built wire bytes, round trips, wire-format edge cases."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from firmware_bridge.backends.bumble_backend import BumbleClient, BumbleScanner
from firmware_bridge.connect import start_and_connect
from firmware_bridge.devices import advertised_name, name_matches, scan_matches
from firmware_bridge.protocols import touch_sdk as ts
from firmware_bridge.protocols.base import DecodeError
from firmware_bridge.recording import EVENT, WRITE, read_recording
from firmware_bridge.session import ConnectionDeclinedError, DeviceSpec, StreamSession
from firmware_bridge.transport import RetryPolicy, scan
from firmware_bridge.virtual.catalog import TouchSdkVirtualPeripheral, VirtualDeviceSpec, make_virtual_peripheral
from firmware_bridge.virtual.sources import generate_sine
from toolkit.cli.record import record_main
from toolkit.errors import Multi3EdgeError

from .ble_helpers import run_async


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


# ---------------------------------------------------------------------------------------------
# protobuf merge semantics, checked against the official runtime (google.protobuf)
#
# protobuf.dev/programming-guides/encoding, "Last One Wins": a non-repeated scalar seen twice keeps the last
# value; a non-repeated embedded message seen twice is merged (fields of the later one replace, absent ones keep);
# repeated fields append. The message layouts below are those of touch-sdk-protobuf proto/common.proto and
# proto/watch_output.proto (Vec3, Quat, SensorFrame, Update with signals), built at run time.


def _official_update_class():
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # optional: the reference runtime

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="m3e_touch_test.proto", package="m3e", syntax="proto3")

    def message(name, fields):
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Vec3", [(n, i, F.TYPE_FLOAT, opt, None) for i, n in enumerate("xyz", 1)])
    message("Quat", [(n, i, F.TYPE_FLOAT, opt, None) for i, n in enumerate("wxyz", 1)])
    vec, quat = (F.TYPE_MESSAGE, opt, ".m3e.Vec3"), (F.TYPE_MESSAGE, opt, ".m3e.Quat")
    message("SensorFrame", [("gyro", 1, *vec), ("acc", 2, *vec), ("grav", 3, *vec), ("quat", 4, *quat),
                            ("deltaTime", 5, F.TYPE_INT32, opt, None)])
    message("Update", [("sensorFrames", 1, F.TYPE_MESSAGE, rep, ".m3e.SensorFrame"),
                       ("signals", 6, F.TYPE_INT32, rep, None), ("deltaTime", 7, F.TYPE_INT32, opt, None)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("m3e.Update"))


def _vec(**xyz: float) -> bytes:
    return b"".join(ts._key(i, ts.WT_I32) + _f(xyz[n]) for i, n in enumerate("xyz", 1) if n in xyz)


MERGE_CASES = {
    # acc twice in one frame: x,z from the first, then y,z from the second -> x first, y second, z second
    "acc_twice": ts._len_field(1, ts._len_field(2, _vec(x=1.0, z=3.0)) + ts._len_field(2, _vec(y=5.0, z=-2.0))),
    # gyro twice, the second one empty: nothing changes
    "gyro_then_empty": ts._len_field(1, ts._len_field(1, _vec(x=0.25, y=-0.5)) + ts._len_field(1, b"")),
    # quat twice and deltaTime twice (last one wins), acc once
    "quat_twice": ts._len_field(1, ts._len_field(4, b"\x0d" + _f(1.0) + b"\x25" + _f(0.5))
                                + b"\x28\x0a" + ts._len_field(2, _vec(z=9.81))
                                + ts._len_field(4, b"\x0d" + _f(0.5) + b"\x15" + _f(0.25)) + b"\x28\x14"),
    # a Vec3 component repeated inside one Vec3: last wins
    "component_twice": ts._len_field(1, ts._len_field(2, _vec(x=1.0) + _vec(x=7.0))),
    # two frames and two packed signal runs (repeated: append)
    "frames_and_signals": ts._len_field(1, ts._len_field(2, _vec(x=1.0))) + ts._len_field(6, b"\x00")
    + ts._len_field(1, ts._len_field(2, _vec(y=2.0))) + ts._len_field(6, b"\x02\x03"),
}


@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_repeated_fields_merge_like_the_official_runtime(case: str) -> None:
    Update = _official_update_class()
    payload = MERGE_CASES[case]
    ref = Update.FromString(payload)
    (b,) = ts.TouchSdkDecoder().decode(payload)
    assert len(b) == len(ref.sensorFrames)
    for i, fr in enumerate(ref.sensorFrames):
        for name, got in (("acc", b.acc[i]), ("gyro", b.gyro[i])):
            if fr.HasField(name):
                v = getattr(fr, name)
                assert got.tolist() == [v.x, v.y, v.z], (case, name)
            else:
                assert np.isnan(got).all()
        if fr.HasField("quat"):
            q = fr.quat
            assert b.meta["quat_xyzw"][i].tolist() == [q.x, q.y, q.z, q.w]
        assert b.meta["delta_time_ms"][i] == fr.deltaTime
    assert b.meta["signals"] == list(ref.signals)


def test_merge_keeps_earlier_components() -> None:
    # the case a "replace the whole vector" decoder gets wrong: x from the first instance survives
    (b,) = ts.TouchSdkDecoder().decode(MERGE_CASES["acc_twice"])
    assert b.acc[0].tolist() == [1.0, 5.0, -2.0]


# ---------------------------------------------------------------------------------------------
# approval / decline signals


def test_disconnect_signal_in_a_frameless_update_means_declined() -> None:
    assert ts.encode_signals([ts.SIGNAL_DISCONNECT]) == bytes.fromhex("32 01 01")  # field 6, packed, DISCONNECT
    dec = ts.TouchSdkDecoder()
    assert dec.decode(ts.encode_signals([ts.SIGNAL_DISCONNECT])) == []
    assert dec.declined and not dec.approved and dec.decoded_packets == 1
    dec2 = ts.TouchSdkDecoder()
    assert dec2.decode(b"\x30\x01") == [] and dec2.declined  # the unpacked encoding means the same
    dec3 = ts.TouchSdkDecoder()
    dec3.decode(ts.encode_update(np.ones((2, 3)), np.zeros((2, 3))))
    assert dec3.approved and not dec3.declined


# ---------------------------------------------------------------------------------------------
# the handshake against virtual watches (in-process bumble radio)

def _virtual_watch(mode: str, seconds: float = 1.0, delay_s: float = 0.3):

    spec = VirtualDeviceSpec(f"watch-{mode}", "touch-sdk", generate_sine(seconds), mode, delay_s)  # type: ignore[arg-type]
    p = make_virtual_peripheral(spec, speed=4.0)
    subscribed_at_write: list[bool] = []
    gate_on_control = p.on_control

    def on_control(data: bytes):  # note whether the client had subscribed when it wrote
        subscribed_at_write.append(p.subscribed)
        return gate_on_control(data)

    p.on_control = on_control
    return spec, p, subscribed_at_write


def _session(p, record_to=None):

    retry = RetryPolicy(connect_timeout=3.0, initial_backoff=0.02, max_backoff=0.2)
    return StreamSession([DeviceSpec(p.address, "touch-sdk", p.name)], backend=BumbleClient, retry=retry,
                         record_to=record_to)


def test_official_order_and_approval_dialog_tolerated(tmp_path) -> None:

    spec, p, subscribed_at_write = _virtual_watch("approval")
    path = tmp_path / "approval.m3erec"

    async def body():
        await p.start()
        session = _session(p, record_to=path)
        try:
            await start_and_connect(session, 5.0)  # waits through the dialog until the first Update
            await p.wait_finished(10.0)
            await asyncio.sleep(0.1)
        finally:
            await session.stop()
        return session

    session = run_async(body, timeout=30.0)
    c = session.counters()[p.name]
    assert subscribed_at_write == [False]  # client info written once, before subscribing (touch-sdk-py order)
    assert p.start_gate.write_errors == 1  # the watch answered it with an ATT error ...
    assert c["connects"] == 1 and c["reconnects"] == 0  # ... and the client neither disconnected nor retried
    assert c["samples"] == len(spec.series) and session.error is None
    records = read_recording(path).records
    assert sum(r.rtype == WRITE for r in records) == 1
    assert any(r.rtype == EVENT and b"start-write-error" in r.data for r in records)


def test_declined_connection_is_a_clear_error_without_reconnects() -> None:

    _, p, subscribed_at_write = _virtual_watch("declines")

    async def body():
        await p.start()
        session = _session(p)
        try:
            with pytest.raises(ConnectionDeclinedError, match="declined the connection") as ei:
                await start_and_connect(session, 5.0)
            await asyncio.sleep(0.5)  # would be plenty for a reconnect (backoff 0.02 s)
            counters = session.counters()[p.name]
        finally:
            await session.stop()
        return ei.value, counters, session

    error, c, session = run_async(body, timeout=30.0)
    assert isinstance(error, Multi3EdgeError) and session.error is error
    assert c["connects"] == 1 and c["reconnects"] == 0 and not c["connected"] and c["samples"] == 0
    assert p.counters.connections == 1 and subscribed_at_write == [False]


def test_cli_exits_non_zero_with_the_decline_message(tmp_path, capsys) -> None:

    rc = record_main(["--virtual", "touch-declines:sine:5", "--out", str(tmp_path / "d.m3erec"), "--quiet",
                      "--timeout", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0
    assert err[-1].startswith("edge-record: error: ") and "declined the connection" in err[-1]


def test_name_from_manufacturer_data_first() -> None:

    async def body():
        p = TouchSdkVirtualPeripheral("WearOS-1A2B", manufacturer_name="Galaxy Watch5 (1A2B)",
                                      service_uuid=ts.PROTOBUF_SERVICE_UUID, data_uuid=ts.PROTOBUF_OUTPUT_UUID,
                                      control_uuid=ts.PROTOBUF_INPUT_UUID)
        await p.start()
        try:
            return await scan(scan_matches(["touch-sdk"]), timeout=3.0, backend=BumbleScanner, expected=1)
        finally:
            await p.stop()
            await asyncio.sleep(0)

    (found,) = run_async(body)
    assert advertised_name(found) == "Galaxy Watch5 (1A2B)"
    assert name_matches(found, "Galaxy Watch") and name_matches(found, "galaxy watch5")
    assert name_matches(found, "WearOS")  # the local name still works
    assert not name_matches(found, "Watch5")  # prefixes only
