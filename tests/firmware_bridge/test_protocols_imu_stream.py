"""imu-stream: spec sizes, round trips, errors, and the C reference encoder byte for byte."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.protocols import imu_stream as m
from firmware_bridge.protocols.base import DecodeError, Decoder, ImuBatch

HERE = Path(__file__).resolve().parent
INCLUDE = HERE.parents[1] / "firmware_bridge" / "include"


def test_crc_check_value():
    assert m.crc16_ccitt_false(b"123456789") == 0x29B1  # catalogue check value of CRC-16/CCITT-FALSE


def test_sizes_fit_mtu_247():
    assert m.max_samples(2) == 18 and m.max_samples(2, ts64=True) == 18
    assert m.max_samples(1) == 37 and m.max_samples(3) == 12
    assert m.packet_size(18, 2) == 240 and m.packet_size(18, 2, ts64=True) == 244
    with pytest.raises(ValueError, match="bytes"):
        m.encode_packet(0, 0, 10_000, np.zeros((19, 3)), np.zeros((19, 3)))


def test_header_layout():
    pkt = m.encode_packet(0x1234, 0xAABBCCDD, 5000, np.zeros((2, 3)), np.zeros((2, 3)), restart=True)
    assert pkt[0] == 0xA1 and pkt[1] == m.FLAG_RESTART
    assert struct.unpack_from("<HBBII", pkt, 2) == (0x1234, 2, 0x03, 5000, 0xAABBCCDD)
    assert struct.unpack_from("<ff", pkt, 14) == pytest.approx((m.DEFAULT_ACC_SCALE, m.DEFAULT_GYRO_SCALE), rel=1e-7)
    assert len(pkt) == 14 + 8 + 2 * 12 + 2


def test_round_trip_full_packet():
    rng = np.random.default_rng(1)
    acc = rng.normal(0, 20, (18, 3))
    gyro = rng.normal(0, 5, (18, 3))
    pkt = m.encode_packet(7, 1_000_000, 10_000, acc, gyro)
    dec = m.ImuStreamDecoder()
    assert isinstance(dec, Decoder)
    (b,) = dec.decode(pkt)
    assert isinstance(b, ImuBatch) and len(b) == 18 and b.seq == 7 and b.sign == "android"
    assert np.allclose(b.acc, acc, atol=m.DEFAULT_ACC_SCALE / 2 + 1e-9)
    assert np.allclose(b.gyro, gyro, atol=m.DEFAULT_GYRO_SCALE / 2 + 1e-9)
    assert np.allclose(b.device_time_s, 1.0 + 0.01 * np.arange(18))
    assert b.units == {"acc": "m/s^2", "gyro": "rad/s"}
    assert np.allclose(b.to_si().acc, b.acc)
    assert dec.decoded_packets == 1 and dec.dropped_packets == 0


def test_acc_only_mag_and_invalid_samples():
    acc = np.array([[0.0, np.nan, 9.81]])
    mag = np.array([[30.0, -12.0, 45.0]])
    (b,) = m.ImuStreamDecoder().decode(m.encode_packet(1, 0, 20_000, acc, mag_uT=mag))
    assert b.gyro is None and np.isnan(b.acc[0, 1]) and b.acc[0, 2] == pytest.approx(9.81, abs=0.003)
    assert np.allclose(b.meta["mag"], mag, atol=0.08)


def test_quantize_rounding_and_clamp():
    q = m.quantize([1.25, -1.25, 0.75, 1e9, -1e9, np.inf, np.nan, 0.0], 0.5)
    assert q.tolist() == [3, -3, 2, 32767, -32767, 32767, -32768, 0]


def test_u32_timestamp_unwraps_and_restart_resets():
    dec = m.ImuStreamDecoder()
    t0 = 2**32 - 5_000
    p1 = m.encode_packet(0, t0, 1_000, np.zeros((5, 3)))
    p2 = m.encode_packet(1, t0 + 5_000, 1_000, np.zeros((5, 3)), ts64=False)  # wraps to 0 on the wire
    assert struct.unpack_from("<I", p2, 10)[0] == 0 and not p2[1] & m.FLAG_TS64
    (b1,), (b2,) = dec.decode(p1), dec.decode(p2)
    assert b2.meta["t0_us"] == 2**32 and b2.device_time_s[0] == pytest.approx(b1.device_time_s[-1] + 1e-3)
    (b3,) = dec.decode(m.encode_packet(2, 100, 1_000, np.zeros((1, 3)), restart=True))
    assert b3.meta["t0_us"] == 100 and b3.meta["restart"]


def test_u64_timestamp():
    (b,) = m.ImuStreamDecoder().decode(m.encode_packet(3, 2**40 + 7, 1_000, np.zeros((2, 3))))
    assert b.meta["t0_us"] == 2**40 + 7 and b.meta["flags"] & m.FLAG_TS64


def test_sequence_wraps():
    pkts = m.encode_stream(0, 10_000, np.zeros((40, 3)), np.zeros((40, 3)), first_seq=65534)
    dec = m.ImuStreamDecoder()
    assert [dec.decode(p)[0].seq for p in pkts] == [65534, 65535, 0]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: b"", "truncated"),
        (lambda p: p[:10], "truncated"),
        (lambda p: bytes([0xB1]) + p[1:], "bad_magic"),
        (lambda p: bytes([0xA2]) + p[1:], "bad_version"),
        (lambda p: p + b"\x00", "bad_length"),
        (lambda p: p[:-3] + bytes([p[-3] ^ 1]) + p[-2:], "bad_crc"),
        (lambda p: p[:-1], "truncated"),
    ],
)
def test_errors(mutate, reason):
    dec = m.ImuStreamDecoder()
    with pytest.raises(DecodeError) as ei:
        dec.decode(mutate(m.encode_packet(0, 0, 1000, np.ones((3, 3)), np.ones((3, 3)))))
    assert ei.value.reason == reason
    assert dec.dropped_packets == 1 and dec.drop_reasons == {reason: 1}


def _bad_value_packet(field_patch) -> bytes:
    body = bytearray(m.encode_packet(0, 0, 1000, np.ones((1, 3)))[:-2])
    field_patch(body)
    return bytes(body) + struct.pack("<H", m.crc16_ccitt_false(bytes(body)))


@pytest.mark.parametrize("patch", [
    lambda b: struct.pack_into("<I", b, 6, 0),  # period 0
    lambda b: struct.pack_into("<f", b, 14, float("nan")),  # scale NaN
    lambda b: struct.pack_into("<f", b, 14, -1.0),  # negative scale
])
def test_bad_values(patch):
    with pytest.raises(DecodeError) as ei:
        m.ImuStreamDecoder().decode(_bad_value_packet(patch))
    assert ei.value.reason == "bad_value"


# --- the C reference encoder --------------------------------------------------------------------


@pytest.fixture(scope="module")
def c_encoder(tmp_path_factory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not available: C reference encoder not checked")
    exe = tmp_path_factory.mktemp("cref") / "imu_stream_ref"
    subprocess.run([gcc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{INCLUDE}",
                    str(HERE / "imu_stream_ref.c"), "-o", str(exe)], check=True, capture_output=True, text=True)
    return exe


def _cases():
    rng = np.random.default_rng(42)
    cases = []

    def add(seq, t0, period, acc, gyro=None, mag=None, restart=False, overflow=False, scales=None):
        scales = scales or [m.DEFAULT_ACC_SCALE, m.DEFAULT_GYRO_SCALE, m.DEFAULT_MAG_SCALE]
        chans = [a for a in (acc, gyro, mag) if a is not None]
        mask = m.CH_ACC | (m.CH_GYRO if gyro is not None else 0) | (m.CH_MAG if mag is not None else 0)
        sc = [scales[i] for i, a in enumerate((acc, gyro, mag)) if a is not None]
        py = m.encode_packet(seq, t0, period, acc, gyro, mag_uT=mag, acc_scale=scales[0], gyro_scale=scales[1],
                             mag_scale=scales[2], restart=restart, overflow=overflow)
        flags = (m.FLAG_RESTART if restart else 0) | (m.FLAG_OVERFLOW if overflow else 0)
        vals = np.hstack(chans).reshape(-1)
        line = " ".join([str(seq), str(t0), str(period), str(flags), str(mask), str(len(acc))]
                        + [repr(float(s)) for s in sc] + [repr(float(v)) for v in vals])
        cases.append((line, py))

    add(0, 0, 10_000, np.array([[0.0, 0.0, 9.81]]), np.zeros((1, 3)))
    add(65535, 123_456, 5_000, rng.normal(0, 10, (4, 3)), rng.normal(0, 3, (4, 3)))  # last seq before wrap
    add(0, 4_294_967_295, 5_000, rng.normal(0, 10, (4, 3)), rng.normal(0, 3, (4, 3)), restart=True)  # wrap
    add(77, 2**40 + 3, 2_500, rng.normal(0, 10, (18, 3)), rng.normal(0, 3, (18, 3)))  # full 244-byte packet
    add(9, 1_000, 20_000, rng.normal(0, 10, (37, 3)), overflow=True)  # full acc-only packet
    add(10, 1_000, 20_000, rng.normal(0, 10, (12, 3)), rng.normal(0, 3, (12, 3)), rng.normal(0, 50, (12, 3)))
    add(11, 5, 1, np.array([[1.25, -1.25, 0.75], [1e9, -1e9, float("nan")], [0.0, -0.0, 2.5]]),
        scales=[0.5, 0.1, 0.1])  # ties, clamping, NaN
    add(12, 6, 100, rng.uniform(-200, 200, (10, 3)), rng.uniform(-50, 50, (10, 3)), scales=[0.0123, 0.00107, 0.2])
    return cases


def test_c_encoder_matches_python(c_encoder):
    cases = _cases()
    res = subprocess.run([str(c_encoder)], input="\n".join(c for c, _ in cases) + "\n",
                         capture_output=True, text=True, check=True, timeout=10)
    lines = res.stdout.split()
    assert len(lines) == len(cases)
    assert any(len(py) == m.MAX_PAYLOAD for _, py in cases)
    for (_, py), hexline in zip(cases, lines, strict=True):
        assert bytes.fromhex(hexline) == py
        m.ImuStreamDecoder().decode(py)  # and the packet decodes
