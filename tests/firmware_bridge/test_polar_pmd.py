"""Polar PMD decoder, checked against the byte vectors of Polar's own SDK unit tests.

Vectors copied (bytes and expected values only) from polarofficial/polar-ble-sdk:

* ACC: ``sources/Android/android-communications/library/src/test/java/com/polar/androidcommunications/
  api/ble/model/gatt/client/pmd/model/AccDataTest.kt`` (raw frame type 1; compressed types 0 and 1)
* GYRO: ``.../pmd/model/GyrDataTest.kt`` (compressed types 0 and 1, factor 1 and 0.5)
* sample timestamps: ``.../pmd/model/PmdTimeStampUtilsTest.kt``
* control point responses: ``.../pmd/BlePmdClientControlPointResponseTest.kt``

The H10 start command is from ../shared/notes/ble-facts.md; the features and start-response-with-
factor vectors are constructed by hand from the layouts in ``polar_pmd``'s docstring.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from firmware_bridge.devices import get_profile, polar_start_commands
from firmware_bridge.protocols import polar_pmd as pmd
from firmware_bridge.protocols.base import DecodeError
from toolkit.device_profiles import get_real_profile

# AccDataTest.kt, `process acc raw data frame type 1`
ACC_RAW1_HEADER = bytes.fromhex("02 0094357700000000 01")
ACC_RAW1_CONTENT = bytes.fromhex(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03 F9 FF FF FF E5 03 "
    "F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03 FA FF FF FF E5 03 F8 FF FF FF E6 03 "
    "F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03 F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 "
    "F9 FF FF FF E5 03 F9 FF FF FF E5 03 FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03 "
    "F9 FF FF FF E6 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03 "
    "F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03 F7 FF FE FF E6 03"
)

# AccDataTest.kt, `process acc compressed data type 0` (previous timestamp 100, factor 2.44E-4, range 8 g)
ACC_C0_HEADER = bytes.fromhex("02 0094357700000000 80")
ACC_C0_CONTENT = bytes.fromhex(
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF EE 4B E4 B1 FB 12 "
    "B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3 CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B "
    "2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03 BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0 "
    "C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27 9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8 "
    "E0 0D FD 2D 77 4B 7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B "
    "4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F 1F CB DA E3 C7 A2 "
    "76 F9"
)

# AccDataTest.kt, `process acc compressed data type 1` (previous timestamp 100, factor 1)
ACC_C1 = bytes.fromhex("02 6500000000000000 81") + bytes.fromhex("F1 FF 14 00 F0 03 06 01 7B 0F 08")

# GyrDataTest.kt, `process gyro compressed data type 0` (previous timestamp 100, factor 1)
GYR_C0 = bytes.fromhex("05 FFFFFFFFFFFFFF7F 80") + bytes.fromhex("EA FF 08 00 0D 00 03 01 DF 00")

# GyrDataTest.kt, `process gyro compressed data type 1` (+ `... with factor`, factor 0.5)
GYR_C1 = bytes.fromhex("05 0094357700000000 81") + bytes.fromhex(
    "00 00 80 3F 00 00 20 41 00 00 A0 41 1C 01 00 00 A0 01 00 00 08 CD CC EC 0D")


def _f32_bits(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


def test_acc_raw_frame_type_1():
    assert len(ACC_RAW1_CONTENT) == 216
    dec = pmd.PolarPmdDecoder(sample_rates={pmd.ACC: 52})
    (b,) = dec.decode(ACC_RAW1_HEADER + ACC_RAW1_CONTENT)
    assert len(b) == 216 // 2 // 3
    assert b.acc[0].tolist() == [-9, -1, 999] and b.acc[1].tolist() == [-8, -2, 997]
    assert b.units["acc"] == "mG" and b.gyro is None
    assert b.meta["timestamp_ns"] == 2_000_000_000
    assert b.device_time_s[-1] * 1e9 == pytest.approx(2_000_000_000)
    assert np.diff(b.device_time_s) == pytest.approx(1 / 52)


def test_acc_compressed_type_0():
    assert len(ACC_C0_CONTENT) == 218
    factor = np.float32(2.44e-4)
    dec = pmd.PolarPmdDecoder(factors={pmd.ACC: float(factor)})
    dec.set_previous_timestamp(pmd.ACC, 100)
    (b,) = dec.decode(ACC_C0_HEADER + ACC_C0_CONTENT)
    assert len(b) == 1 + 56
    ref = np.array([1905, 27376, -29282])
    s1 = ref + [190, -105, -85]
    # the SDK asserts (factor * sample * 1000f).toInt() in float32; we keep float64 mG
    for got, raw in ((b.acc[0], ref), (b.acc[1], s1)):
        want = np.trunc(factor * raw.astype(np.float32) * np.float32(1000))
        assert np.all(np.abs(got - want) < 1.0)
    assert np.all(np.abs(b.acc) <= 8 * 1000)
    t_ns = b.device_time_s * 1e9
    delta = (2_000_000_000 - 100) / 57
    assert round(t_ns[0]) == round(100 + delta)
    assert t_ns[-1] == pytest.approx(2_000_000_000)


def test_acc_compressed_type_1():
    dec = pmd.PolarPmdDecoder()
    dec.set_previous_timestamp(pmd.ACC, 100)
    (b,) = dec.decode(ACC_C1)
    assert b.acc.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    assert [int(np.round(t * 1e9)) for t in b.device_time_s] == [100, 101]  # half-even, as Kotlin's round()


def test_gyro_compressed_type_0():
    dec = pmd.PolarPmdDecoder()
    dec.set_previous_timestamp(pmd.GYRO, 100)
    (b,) = dec.decode(GYR_C0)
    assert b.gyro.tolist() == [[-22, 8, 13], [-23, 11, 16]]
    assert b.units["gyro"] == "deg/s" and np.isnan(b.acc).all() and b.meta["channels"] == ("gyro",)
    assert b.meta["timestamp_ns"] == 9223372036854775807


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_gyro_compressed_type_1(factor):
    dec = pmd.PolarPmdDecoder(factors={pmd.GYRO: factor})
    dec.set_previous_timestamp(pmd.GYRO, 100)
    (b,) = dec.decode(GYR_C1)
    s0 = [_f32_bits(0x3F800000), _f32_bits(0x41200000), _f32_bits(0x41A00000)]
    s1 = [_f32_bits(0x3F800000 + 0x1A00000), _f32_bits(0x41200000 + 0x0800000), _f32_bits(0x41A00000 + 0xFDECCCCD)]
    assert b.gyro.tolist() == [[factor * v for v in s0], [factor * v for v in s1]]
    assert b.meta["timestamp_ns"] == 2_000_000_000
    assert b.device_time_s[1] * 1e9 == pytest.approx(2_000_000_000)


# PmdTimeStampUtilsTest.kt
@pytest.mark.parametrize(("prev", "last", "n", "rate", "want"), [
    (0, 10_000_000_000, 10, 1, [k * 1_000_000_000 for k in range(1, 11)]),
    (0, 1_000_000_000, 1, 1, [1_000_000_000]),
    (1_000_000_000, 11_000_000_000, 10, 1, [k * 1_000_000_000 for k in range(2, 12)]),
    (100, 2_000_000_000, 3, 1, [round(666666733.33), round(1333333366.66), 2_000_000_000]),
    (1_000_000_000, 2_000_000_000, 1, 1, [2_000_000_000]),
])
def test_sample_timestamps(prev, last, n, rate, want):
    got = pmd.sample_times_ns(last, n, prev, rate)
    assert [round(t) for t in got] == want


def test_sample_timestamps_unknown():
    assert pmd.sample_times_ns(100, 3, None, None) is None
    (b,) = pmd.PolarPmdDecoder().decode(ACC_C1)
    assert b.device_time_s is None and b.meta["timestamp_ns"] == 0x65


def test_previous_timestamp_carried_between_frames():
    dec = pmd.PolarPmdDecoder(sample_rates={pmd.ACC: 52})
    first = ACC_RAW1_HEADER + ACC_RAW1_CONTENT
    second = bytes([2]) + struct.pack("<Q", 2_000_000_000 + 36 * 20_000_000) + ACC_RAW1_HEADER[9:] + ACC_RAW1_CONTENT
    dec.decode(first)
    (b,) = dec.decode(second)
    assert np.diff(b.device_time_s) == pytest.approx(0.02)
    assert b.device_time_s[0] == pytest.approx(2.02)


# BlePmdClientControlPointResponseTest.kt
def test_cp_response_success():
    r = pmd.parse_cp_response(bytes.fromhex("F0 01 02 00 00 FF FF FF"))
    assert (r.op_code, r.measurement_type, r.status, r.more, r.parameters) == (1, 2, 0, False, b"\xff\xff\xff")
    assert r.ok


def test_cp_response_failure():
    r = pmd.parse_cp_response(bytes.fromhex("F0 01 06 07 00"))
    assert (r.op_code, r.measurement_type, r.status, r.more, r.parameters) == (1, 6, 7, False, b"")
    assert not r.ok and r.status_name == "invalid_resolution"


def test_start_stop_commands():
    # Polar H10 ACC start (ble-facts.md): range 8 g, 200 Hz, 16 bit, in this order
    h10 = bytes.fromhex("02 02 02 01 08 00 00 01 c8 00 01 01 10 00")
    assert pmd.build_start(pmd.ACC, {pmd.RANGE: 8, pmd.SAMPLE_RATE: 200, pmd.RESOLUTION: 16}) == h10
    assert pmd.build_start(pmd.ACC, range=8, sample_rate=200, resolution=16) == h10
    assert pmd.build_stop(pmd.ACC) == b"\x03\x02"
    assert pmd.build_get_settings(pmd.GYRO) == b"\x01\x05"
    with pytest.raises(ValueError):
        pmd.build_start(pmd.ACC, colour=3)


def test_start_response_sets_factor():
    params = bytes([pmd.FACTOR, 1]) + struct.pack("<f", 2.44e-4)
    r = pmd.parse_cp_response(bytes([0xF0, pmd.OP_START, pmd.ACC, 0, 0]) + params)
    dec = pmd.PolarPmdDecoder()
    dec.apply_start_response(r)
    assert dec.factors[pmd.ACC] == pytest.approx(2.44e-4)
    assert pmd.parse_settings(bytes.fromhex("00 02 1a 00 34 00 01 01 10 00")) == {
        "sample_rate": [26, 52], "resolution": [16]}


def test_features():
    assert pmd.parse_features(bytes([0x0F, 0x25, 0x02])) == {"ecg", "acc", "gyro", "sdk_mode"}
    assert pmd.parse_features(bytes([0x0F, 0xFF, 0x1E])) >= {"mag", "skin_temp", "location", "pressure"}
    with pytest.raises(DecodeError):
        pmd.parse_features(b"\x0e\x01")


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\x02\x00", "truncated"),
    (ACC_RAW1_HEADER + ACC_RAW1_CONTENT[:-1], "bad_length"),
    (ACC_C1[:-1], "truncated"),
    (bytes([9]) + ACC_C1[1:], "unsupported"),
    (ACC_C1[:10] + ACC_C1[10:16] + b"\x21\x01" + bytes(13), "bad_value"),  # 33-bit deltas
])
def test_errors(payload, reason):
    with pytest.raises(DecodeError) as ei:
        pmd.PolarPmdDecoder().decode(payload)
    assert ei.value.reason == reason


# ---------------------------------------------------------------------------------------------
# negative timestamps (the SDK's NegativeTimeStampError) and the stream's sample rate


def test_negative_first_frame_raises_like_the_sdk() -> None:
    # PmdTimeStampUtilsTest.kt `assert on invalid input, time stamps are negative`: previous 0, timestamp
    # 100000 ns, 100 samples at 52 Hz -> NegativeTimeStampError
    with pytest.raises(pmd.NegativeTimeStampError) as ei:
        pmd.sample_times_ns(100_000, 100, 0, 52)
    assert isinstance(ei.value, DecodeError) and ei.value.reason == "bad_value"
    # the same rule inside the decoder: 36 samples at 52 Hz need 36 / 52 s = 0.69 s before the last one
    frame = bytes([2]) + struct.pack("<Q", 500_000_000) + ACC_RAW1_HEADER[9:] + ACC_RAW1_CONTENT
    dec = pmd.PolarPmdDecoder(sample_rates={pmd.ACC: 52})
    with pytest.raises(pmd.NegativeTimeStampError):
        dec.decode(frame)
    assert dec.dropped_packets == 1 and dec.drop_reasons == {"bad_value": 1}


def test_timestamp_going_back_raises_and_costs_one_frame() -> None:
    def frame(t_ns: int) -> bytes:
        return bytes([2]) + struct.pack("<Q", t_ns) + ACC_RAW1_HEADER[9:] + ACC_RAW1_CONTENT

    dec = pmd.PolarPmdDecoder(sample_rates={pmd.ACC: 52})
    dec.decode(frame(10_000_000_000))
    for bad in (10_000_000_000, 9_000_000_000):  # equal, then earlier than the previous frame
        with pytest.raises(pmd.NegativeTimeStampError, match="not after the previous"):
            dec.decode(frame(bad))
    # as the SDK, the rejected frame's timestamp became the previous one: the next frame is fine again
    (b,) = dec.decode(frame(9_000_000_000 + 36 * 20_000_000))
    assert b.device_time_s[0] == pytest.approx(9.02) and np.diff(b.device_time_s) == pytest.approx(0.02)
    assert (dec.decoded_packets, dec.dropped_packets) == (2, 2)


def test_start_command_rate_reaches_the_decoder() -> None:
    dec = pmd.PolarPmdDecoder()
    dec.apply_start_command(bytes.fromhex("02 02 02 01 08 00 00 01 c8 00 01 01 10 00"))  # H10 ACC start, 200 Hz
    dec.apply_start_command(pmd.build_stop(pmd.ACC))  # not a start: ignored
    assert dec.sample_rates == {pmd.ACC: 200.0}
    (b,) = dec.decode(ACC_RAW1_HEADER + ACC_RAW1_CONTENT)  # the stream's FIRST frame: 36 samples, last at 2 s
    assert b.device_time_s is not None and b.meta["sample_rate_hz"] == 200.0
    assert b.device_time_s[-1] == pytest.approx(2.0) and np.diff(b.device_time_s) == pytest.approx(0.005)


def test_profile_decoder_and_session_hook_know_the_rate() -> None:
    profile = get_profile("polar-pmd")
    dec = profile.new_decoder()
    assert isinstance(dec, pmd.PolarPmdDecoder)
    # the default start commands' rates (Verity Sense 52 Hz) = the nominal rate the live runner assumes
    assert dec.sample_rates == {pmd.ACC: 52.0, pmd.GYRO: 52.0} == {
        pmd.ACC: get_real_profile("polar-verity-sense").rate_hz, pmd.GYRO: 52.0}
    (b,) = dec.decode(ACC_RAW1_HEADER + ACC_RAW1_CONTENT)
    assert b.device_time_s is not None and np.diff(b.device_time_s) == pytest.approx(1 / 52)
    # what the session does with each start command it writes: an H10 at 50 Hz, no gyro
    dec2 = profile.new_decoder()
    for char_uuid, command in polar_start_commands(acc_rate_hz=50, gyro=False):
        profile.on_start_command(dec2, char_uuid, command)
    assert dec2.sample_rates[pmd.ACC] == 50.0
