"""Every decoder, fed random bytes, truncated and bit-flipped valid packets: it returns batches or
raises DecodeError (never another exception, never a decoder bug, never hangs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.protocols import empatica_e4 as e4
from firmware_bridge.protocols import imu_stream, polar_pmd, touch_sdk
from firmware_bridge.protocols.base import DecodeError, ImuBatch

from .test_polar_pmd import ACC_C0_CONTENT, ACC_C0_HEADER, ACC_C1, ACC_RAW1_CONTENT, ACC_RAW1_HEADER, GYR_C0, GYR_C1

_rng = np.random.default_rng(3)
VALID: dict[str, list[bytes]] = {
    "imu-stream": [
        imu_stream.encode_packet(5, 1000, 10_000, _rng.normal(0, 9, (18, 3)), _rng.normal(0, 2, (18, 3))),
        imu_stream.encode_packet(65535, 2**40, 5000, _rng.normal(0, 9, (3, 3)), mag_uT=_rng.normal(0, 40, (3, 3))),
    ],
    "polar-pmd": [ACC_RAW1_HEADER + ACC_RAW1_CONTENT, ACC_C0_HEADER + ACC_C0_CONTENT, ACC_C1, GYR_C0, GYR_C1],
    "touch-sdk": [touch_sdk.encode_update(_rng.normal(0, 9, (4, 3)), _rng.normal(0, 1, (4, 3)), 10,
                                          quat_xyzw=np.tile([0, 0, 0, 1.0], (4, 1)), unix_time_ms=1_700_000_000_000)],
    "e4-tcp": [b"R device_subscribe acc OK\r\nE4_Acc 1600000000.0 1 2 64\r\nE4_Acc 1600000000.03125 1 -2 6"],
    "e4-ble-int8x3": [bytes(range(18))],
    "e4-ble-int16x3le": [bytes(range(36))],
}
def _polar_decoder() -> polar_pmd.PolarPmdDecoder:
    """As in the SDK's tests, previous timestamp 100 ns (ACC_C1's 101 ns is negative as a first frame at 52 Hz)."""
    dec = polar_pmd.PolarPmdDecoder(factors={2: 2.44e-4}, sample_rates={2: 52, 5: 52})
    for mtype in (2, 5):
        dec.set_previous_timestamp(mtype, 100)
    return dec


FACTORIES = {
    "imu-stream": imu_stream.ImuStreamDecoder,
    "polar-pmd": _polar_decoder,
    "touch-sdk": touch_sdk.TouchSdkDecoder,
    "e4-tcp": e4.E4LineDecoder,
    "e4-ble-int8x3": lambda: e4.E4BleAccDecoder("int8x3"),
    "e4-ble-int16x3le": lambda: e4.E4BleAccDecoder("int16x3le"),
}
NAMES = sorted(FACTORIES)

FUZZ = settings(max_examples=100, deadline=500, suppress_health_check=[HealthCheck.too_slow])


def _check(name: str, payload: bytes) -> None:
    dec = FACTORIES[name]()
    try:
        out = dec.decode(payload)
    except DecodeError as e:
        assert e.reason != "internal", f"{name}: decoder bug on {payload.hex()}: {e}"
        assert dec.dropped_packets == 1
        return
    assert isinstance(out, list) and all(isinstance(b, ImuBatch) for b in out)
    for b in out:
        assert b.acc.ndim == 2 and b.acc.shape[1] == 3
    assert dec.decoded_packets == 1


@pytest.mark.parametrize("name", NAMES)
def test_valid_vectors_decode(name):
    for p in VALID[name]:
        assert FACTORIES[name]().decode(p)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(payload=st.binary(max_size=600))
def test_random_bytes(name, payload):
    _check(name, payload)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_truncated_valid(name, data):
    p = data.draw(st.sampled_from(VALID[name]))
    cut = data.draw(st.integers(0, len(p)))
    _check(name, p[:cut])


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_bit_flipped_valid(name, data):
    p = bytearray(data.draw(st.sampled_from(VALID[name])))
    for _ in range(data.draw(st.integers(1, 4))):
        bit = data.draw(st.integers(0, 8 * len(p) - 1))
        p[bit // 8] ^= 1 << (bit % 8)
    _check(name, bytes(p))


@FUZZ
@given(payload=st.binary(max_size=600))
def test_pmd_control_parsers(payload):
    for fn in (polar_pmd.parse_cp_response, polar_pmd.parse_features, polar_pmd.parse_settings):
        try:
            fn(payload)
        except DecodeError:
            pass


def test_imu_stream_flip_always_detected():
    """CRC-16 detects every 1-3 bit error in a packet of this size."""
    p = VALID["imu-stream"][0]
    rng = np.random.default_rng(0)
    for _ in range(300):
        q = bytearray(p)
        for bit in rng.choice(8 * len(p), size=rng.integers(1, 4), replace=False):
            q[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecodeError):
            imu_stream.ImuStreamDecoder().decode(bytes(q))
