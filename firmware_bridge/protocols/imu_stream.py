"""``imu-stream``: Multi3Edge's open GATT profile for streaming IMU samples from a watch or board.

Any watch app or firmware can implement it; :file:`firmware_bridge/include/imu_stream.h` is a
header-only C99 reference encoder that produces byte-identical packets to :func:`encode_packet`.

GATT
====
All UUIDs share the random 128-bit base ``dfe3xxxx-6c7a-44bc-9199-33397f39aeba``:

================  ========================================  =====================================
service           ``dfe31000-6c7a-44bc-9199-33397f39aeba``  primary service, put it in advertising
data              ``dfe31001-6c7a-44bc-9199-33397f39aeba``  notify: one packet (below) per notification
control           ``dfe31002-6c7a-44bc-9199-33397f39aeba``  write: ``01`` start, ``02`` stop streaming
================  ========================================  =====================================

The central should request an ATT MTU of 247 (244 bytes of notification payload). A packet never
exceeds :data:`MAX_PAYLOAD` = 244 bytes.

Packet, version 1 (all fields little-endian)
============================================
======  ======  ============  ==============================================================
offset  size    field         meaning
======  ======  ============  ==============================================================
0       1       magic_ver     high nibble ``0xA`` (magic), low nibble format version (``1``):
                              ``0xA1``. Decoders reject other magics (``bad_magic``) and
                              versions they do not know (``bad_version``).
1       1       flags         bit 0 ``TS64``: timestamp is u64 (else u32);
                              bit 1 ``RESTART``: first packet after the stream (re)started, the
                              receiver resets its sequence/clock state;
                              bit 2 ``OVERFLOW``: the device lost samples before this packet
                              (e.g. a FIFO overflow); bits 3-7 reserved: sent 0, ignored.
2       2       seq           u16 packet sequence number, +1 per packet, wraps 65535 -> 0.
4       1       count         u8 number of samples N in this packet, >= 1.
5       1       channels      channel mask, bit 0 ACC, bit 1 GYRO, bit 2 MAG; at least one;
                              bits 3-7 must be 0 (``bad_value``). C = number of bits set.
6       4       period_us     u32 sample period in microseconds, > 0.
10      4 or 8  t0_us         device timestamp of the FIRST sample in microseconds (u32, wraps
                              every 71.6 min, or u64 when ``TS64``); any epoch, monotonic clock.
                              Sample i was taken at ``t0_us + i * period_us``.
..      4*C     scales        float32 LSB size of each present channel, in channel-bit order:
                              ACC in m/s^2, GYRO in rad/s, MAG in uT. Finite and > 0.
..      6*C*N   samples       int16, per sample: for each present channel (bit order) x, y, z.
                              -32768 is reserved for "invalid sample" (decoded as NaN).
end-2   2       crc           CRC-16/CCITT-FALSE of all preceding bytes, little-endian.
======  ======  ============  ==============================================================

CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740): width 16, poly 0x1021, init 0xFFFF, refin false,
refout false, xorout 0x0000, check ``crc("123456789") = 0x29B1`` (Greg Cook's CRC catalogue).

Header size: 14 bytes (u32 timestamp) or 18 (u64). Total = header + 4C + 6CN + 2. Samples per
packet at MTU 247: ACC+GYRO 18 (u32 or u64 timestamp), ACC only 37, ACC+GYRO+MAG 12.

Axes, sign and units
    Axes are the device's Android sensor frame (+X right/3 o'clock, +Y up/12 o'clock, +Z out of
    the screen); ACC is specific force in m/s^2 including gravity (+9.81 on the upward axis at
    rest, the Android sign: iOS/CoreMotion values must be negated and multiplied by g before
    encoding); GYRO in rad/s, counter-clockwise positive. This is the toolkit's own convention
    (:mod:`toolkit.frames`), so decoded batches need no unit or sign conversion.

Quantisation (what :func:`quantize` and ``imu_stream_quantize`` in C do, bit-exactly)
    ``q = float32(value) / float32(scale)`` in float32 arithmetic; NaN -> -32768; ``q >= 32767``
    -> 32767; ``q <= -32767`` -> -32767; else round half away from zero (done on the exact
    float64 value of ``q``).

Evolving the format
    Incompatible changes bump the version nibble. Compatible additions may only use reserved
    flag bits; decoders ignore unknown flag bits and reject unknown channel bits.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from .base import DecodeError, DecoderBase, ImuBatch, need, unwrap_nearest

SERVICE_UUID = "dfe31000-6c7a-44bc-9199-33397f39aeba"
DATA_CHAR_UUID = "dfe31001-6c7a-44bc-9199-33397f39aeba"
CONTROL_CHAR_UUID = "dfe31002-6c7a-44bc-9199-33397f39aeba"

#: Control point commands (write to :data:`CONTROL_CHAR_UUID`).
CMD_START = b"\x01"
CMD_STOP = b"\x02"

MAGIC = 0xA
VERSION = 1
MAGIC_VERSION = (MAGIC << 4) | VERSION

FLAG_TS64 = 0x01
FLAG_RESTART = 0x02
FLAG_OVERFLOW = 0x04

CH_ACC = 0x01
CH_GYRO = 0x02
CH_MAG = 0x04
CHANNEL_BITS = (CH_ACC, CH_GYRO, CH_MAG)
CHANNEL_NAMES = {CH_ACC: "acc", CH_GYRO: "gyro", CH_MAG: "mag"}

#: Largest notification payload with ATT MTU 247.
MAX_PAYLOAD = 244
#: int16 value reserved for an invalid sample.
INVALID = -32768

#: Default LSB sizes: +-16 g accelerometer (2048 LSB/g), +-2000 deg/s gyroscope (16.4 LSB per deg/s).
DEFAULT_ACC_SCALE = 9.80665 / 2048.0
DEFAULT_GYRO_SCALE = float(np.deg2rad(1.0 / 16.4))
DEFAULT_MAG_SCALE = 0.15

_HDR = struct.Struct("<BBHBBI")  # magic_ver, flags, seq, count, channels, period_us


def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def header_size(ts64: bool) -> int:
    """Bytes before the scale factors."""
    return _HDR.size + (8 if ts64 else 4)


def packet_size(n_samples: int, n_channels: int, ts64: bool = False) -> int:
    """Total packet size in bytes."""
    return header_size(ts64) + 4 * n_channels + 6 * n_channels * n_samples + 2


def max_samples(n_channels: int, ts64: bool = False, max_payload: int = MAX_PAYLOAD) -> int:
    """Most samples that fit one packet of at most ``max_payload`` bytes."""
    room = max_payload - header_size(ts64) - 4 * n_channels - 2
    return max(0, min(255, room // (6 * n_channels)))


def quantize(values: np.ndarray | Sequence[float], scale: float) -> np.ndarray:
    """SI values -> int16 with LSB ``scale``, bit-exactly as the C reference (see module docstring)."""
    v32 = np.asarray(values, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = (v32 / np.float32(scale)).astype(np.float64)
    out = np.where(q >= 0, np.floor(q + 0.5), -np.floor(-q + 0.5))
    out = np.clip(np.nan_to_num(out, nan=0.0), -32767, 32767).astype(np.int16)
    out[np.isnan(q)] = INVALID
    return out


def encode_packet_raw(
    seq: int,
    t0_us: int,
    period_us: int,
    channels: int,
    scales: Sequence[float],
    samples: np.ndarray,
    *,
    ts64: bool | None = None,
    restart: bool = False,
    overflow: bool = False,
    max_payload: int = MAX_PAYLOAD,
) -> bytes:
    """Build a packet from already quantised samples.

    Args:
        seq: sequence number (taken modulo 2^16).
        t0_us: device time of the first sample [us]; taken modulo 2^32 unless ``ts64``.
        period_us: sample period [us], 1..2^32-1.
        channels: channel mask (:data:`CH_ACC` | :data:`CH_GYRO` | :data:`CH_MAG`).
        scales: one LSB size per present channel, in channel-bit order.
        samples: (N, 3*C) int16, per sample the channels in bit order, each x, y, z.
        ts64: force the u64 timestamp; default: u64 only when ``t0_us`` does not fit in u32.
    """
    if channels == 0 or channels & ~0x07:
        raise ValueError(f"bad channel mask 0x{channels:02x}")
    n_ch = bin(channels).count("1")
    if len(scales) != n_ch:
        raise ValueError(f"{n_ch} channels need {n_ch} scales, got {len(scales)}")
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] != 3 * n_ch:
        raise ValueError(f"samples must be (N, {3 * n_ch}), got {samples.shape}")
    n = samples.shape[0]
    if not 1 <= n <= 255:
        raise ValueError(f"a packet holds 1..255 samples, got {n}")
    if not 0 < period_us < 2**32:
        raise ValueError(f"period_us must be in 1..2^32-1, got {period_us}")
    if t0_us < 0:
        raise ValueError("t0_us must be >= 0")
    if ts64 is None:
        ts64 = t0_us >= 2**32
    flags = (FLAG_TS64 if ts64 else 0) | (FLAG_RESTART if restart else 0) | (FLAG_OVERFLOW if overflow else 0)
    size = packet_size(n, n_ch, ts64)
    if size > max_payload:
        raise ValueError(f"{n} samples x {n_ch} channels need {size} bytes > {max_payload}; use <= "
                         f"{max_samples(n_ch, ts64, max_payload)} samples per packet")
    for s in scales:
        if not (np.isfinite(np.float32(s)) and np.float32(s) > 0):
            raise ValueError(f"scale must be finite and > 0, got {s}")
    parts = [_HDR.pack(MAGIC_VERSION, flags, seq & 0xFFFF, n, channels, period_us)]
    parts.append(struct.pack("<Q", t0_us & (2**64 - 1)) if ts64 else struct.pack("<I", t0_us & 0xFFFFFFFF))
    parts.append(struct.pack(f"<{n_ch}f", *scales))
    parts.append(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    body = b"".join(parts)
    return body + struct.pack("<H", crc16_ccitt_false(body))


def encode_packet(
    seq: int,
    t0_us: int,
    period_us: int,
    acc_si: np.ndarray,
    gyro_si: np.ndarray | None = None,
    *,
    mag_uT: np.ndarray | None = None,
    acc_scale: float = DEFAULT_ACC_SCALE,
    gyro_scale: float = DEFAULT_GYRO_SCALE,
    mag_scale: float = DEFAULT_MAG_SCALE,
    ts64: bool | None = None,
    restart: bool = False,
    overflow: bool = False,
    max_payload: int = MAX_PAYLOAD,
) -> bytes:
    """Quantise SI samples (acc m/s^2 (N,3), gyro rad/s (N,3), mag uT (N,3)) and build a packet."""
    acc = np.asarray(acc_si, dtype=np.float64).reshape(-1, 3)
    cols = [quantize(acc, acc_scale)]
    channels, scales = CH_ACC, [acc_scale]
    for arr, bit, scale in ((gyro_si, CH_GYRO, gyro_scale), (mag_uT, CH_MAG, mag_scale)):
        if arr is not None:
            a = np.asarray(arr, dtype=np.float64).reshape(-1, 3)
            if a.shape[0] != acc.shape[0]:
                raise ValueError(f"{CHANNEL_NAMES[bit]} has {a.shape[0]} samples, acc has {acc.shape[0]}")
            cols.append(quantize(a, scale))
            channels |= bit
            scales.append(scale)
    return encode_packet_raw(seq, t0_us, period_us, channels, scales, np.hstack(cols), ts64=ts64,
                             restart=restart, overflow=overflow, max_payload=max_payload)


def encode_stream(
    t0_us: int, period_us: int, acc_si: np.ndarray, gyro_si: np.ndarray | None = None, *,
    first_seq: int = 0, samples_per_packet: int | None = None, **kwargs,
) -> list[bytes]:
    """Split a long recording into consecutive packets (seq +1 each, timestamps advancing)."""
    acc = np.asarray(acc_si, dtype=np.float64).reshape(-1, 3)
    n_ch = 1 + (gyro_si is not None) + (kwargs.get("mag_uT") is not None)
    per = samples_per_packet or max_samples(n_ch, bool(kwargs.get("ts64")))
    out = []
    for k, i in enumerate(range(0, acc.shape[0], per)):
        sl = slice(i, i + per)
        kw = dict(kwargs)
        if kw.get("mag_uT") is not None:
            kw["mag_uT"] = np.asarray(kw["mag_uT"]).reshape(-1, 3)[sl]
        out.append(encode_packet(first_seq + k, t0_us + i * period_us, period_us, acc[sl],
                                 None if gyro_si is None else np.asarray(gyro_si).reshape(-1, 3)[sl], **kw))
    return out


class ImuStreamDecoder(DecoderBase):
    """Stateful decoder of ``imu-stream`` packets (state: u32 timestamp unwrapping).

    Each packet becomes one :class:`ImuBatch`: acc in m/s^2, gyro in rad/s (Android sign),
    ``device_time_s`` from the unwrapped ``t0_us``; ``meta`` holds ``flags``, ``restart``,
    ``overflow``, ``t0_us`` (unwrapped), ``t0_us_raw``, ``period_us`` and ``mag`` ((N,3) uT or absent).
    """

    name: ClassVar[str] = "imu-stream"

    def __init__(self) -> None:
        super().__init__()
        self._t0_ext: int | None = None

    def reset(self) -> None:
        """Forget the clock state (e.g. after a reconnect)."""
        self._t0_ext = None

    def _decode(self, data: bytes) -> list[ImuBatch]:
        need(data, 1, "imu-stream magic")
        if data[0] >> 4 != MAGIC:
            raise DecodeError("bad_magic", f"first byte 0x{data[0]:02x}")
        if data[0] & 0x0F != VERSION:
            raise DecodeError("bad_version", f"version {data[0] & 0x0F}, this decoder knows {VERSION}")
        need(data, _HDR.size, "imu-stream header")
        _, flags, seq, n, channels, period_us = _HDR.unpack_from(data, 0)
        ts64 = bool(flags & FLAG_TS64)
        if channels == 0 or channels & ~0x07:
            raise DecodeError("bad_value", f"channel mask 0x{channels:02x}")
        n_ch = bin(channels).count("1")
        size = packet_size(n, n_ch, ts64)
        if len(data) < size:
            raise DecodeError("truncated", f"packet needs {size} bytes, have {len(data)}")
        if len(data) > size:
            raise DecodeError("bad_length", f"packet needs {size} bytes, have {len(data)}")
        crc = struct.unpack_from("<H", data, size - 2)[0]
        if crc != crc16_ccitt_false(data[: size - 2]):
            raise DecodeError("bad_crc", f"crc 0x{crc:04x}")
        if n == 0:
            raise DecodeError("bad_value", "sample count 0")
        if period_us == 0:
            raise DecodeError("bad_value", "period 0")
        off = _HDR.size
        if ts64:
            t0_raw = struct.unpack_from("<Q", data, off)[0]
            off += 8
        else:
            t0_raw = struct.unpack_from("<I", data, off)[0]
            off += 4
        scales = np.array(struct.unpack_from(f"<{n_ch}f", data, off), dtype=np.float64)
        off += 4 * n_ch
        if not np.all(np.isfinite(scales) & (scales > 0)):
            raise DecodeError("bad_value", f"scales {scales.tolist()}")
        raw = np.frombuffer(data, dtype="<i2", count=3 * n_ch * n, offset=off).reshape(n, n_ch, 3)
        values = raw.astype(np.float64) * scales[None, :, None]
        values[raw == INVALID] = np.nan

        restart = bool(flags & FLAG_RESTART)
        if restart:
            self._t0_ext = None
        t0 = t0_raw if ts64 else unwrap_nearest(self._t0_ext, t0_raw, 32)
        self._t0_ext = t0
        present = [b for b in CHANNEL_BITS if channels & b]
        by_name = {CHANNEL_NAMES[b]: values[:, k, :] for k, b in enumerate(present)}
        acc = by_name.get("acc", np.full((n, 3), np.nan))
        meta = {
            "protocol": self.name, "flags": flags, "restart": restart, "overflow": bool(flags & FLAG_OVERFLOW),
            "t0_us": t0, "t0_us_raw": t0_raw, "period_us": period_us, "channels": channels,
            "time_base": "device clock, us (any epoch)",
        }
        if "mag" in by_name:
            meta["mag"] = by_name["mag"]
            meta["mag_units"] = "uT"
        units = {"acc": "m/s^2"}
        if "gyro" in by_name:
            units["gyro"] = "rad/s"
        return [ImuBatch(
            acc=acc, gyro=by_name.get("gyro"),
            device_time_s=(t0 + np.arange(n, dtype=np.float64) * period_us) * 1e-6,
            seq=seq, units=units, sign="android", meta=meta,
        )]
