"""Polar Measurement Data (PMD) service: ACC and GYRO data frames, control point commands, features.

Sources: the layouts below were read in Polar's open-source SDK (polarofficial/polar-ble-sdk,
``sources/Android/android-communications/library/src/main/java/com/polar/androidcommunications/
api/ble/model/gatt/client/pmd/``) and are checked against the byte vectors of its unit tests
(``.../src/test/java/.../pmd/model/AccDataTest.kt``, ``GyrDataTest.kt``, ``PmdTimeStampUtilsTest.kt``,
``.../pmd/BlePmdClientControlPointResponseTest.kt``); see ``tests/firmware_bridge/test_polar_pmd.py``.
This is an independent implementation.

GATT
    service ``FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8``; control point ``FB005C81-...`` (read,
    write, indicate); data ``FB005C82-...`` (notify).

Control point
    * read -> features: ``0F b1 b2``; b1: 0x01 ECG, 0x02 PPG, 0x04 ACC, 0x08 PPI, 0x20 GYRO,
      0x40 MAG, 0x80 skin temperature; b2: 0x02 SDK mode, 0x04 location, 0x08 pressure,
      0x10 temperature (:func:`parse_features`).
    * write ``01 type`` get settings, ``02 type TLV...`` start, ``03 type`` stop. Measurement
      types: ECG 0, PPG 1, ACC 2, PPI 3, GYRO 5, MAG 6, SKIN_TEMP 7, SDK_MODE 9. A TLV is
      ``[setting u8][count u8][count values, LE]``: SAMPLE_RATE 0 (u16 Hz), RESOLUTION 1 (u16 bits),
      RANGE 2 (u16, g or deg/s), RANGE_MILLIUNIT 3 (u32), CHANNELS 4 (u8), FACTOR 5 (float32),
      SECURITY 6 (16 bytes). Polar H10 ACC start: ``02 02 02 01 08 00 00 01 c8 00 01 01 10 00``.
    * indication (response) ``F0 op type status more params...``; the start response carries the
      FACTOR setting that scales compressed frames (:func:`parse_cp_response`, :func:`parse_settings`).

Data frame (notification), little-endian
    ======  ====  ===============================================================================
    0       1     measurement type (ACC 2, GYRO 5)
    1       8     u64 timestamp of the LAST sample, ns since 2000-01-01T00:00:00 (device clock)
    9       1     frame type: bit 7 = delta compressed, bits 0-6 = frame type number
    10      ...   content
    ======  ====  ===============================================================================

    ACC raw frame types 0/1/2: x, y, z as int8 / int16 / int24 per sample, in mG.
    ACC compressed type 0: int16 channels, ``value * factor`` in g (returned here in mG, x 1000).
    ACC compressed type 1: int16 channels, ``value * factor`` in mG (factor usually 1).
    GYRO compressed type 0: int16 channels, ``value * factor`` in deg/s.
    GYRO compressed type 1: 32-bit channels holding float32 bit patterns: the deltas are added to
    the integer bit pattern (mod 2^32) and the result is reinterpreted as float32, then x factor.

Delta compression
    A reference sample (channels x resolution/8 bytes, signed LE) is the first sample. Then blocks
    ``[bit width u8][sample count u8]`` each followed by ``ceil(width*count*channels/8)`` bytes of
    deltas, packed LSB first, channel after channel, sample after sample, each a two's-complement
    number of ``width`` bits that is added to the previous sample. Blocks repeat to the end.

Sample timestamps (as in Polar's ``PmdTimeStampUtils``)
    With the previous frame's timestamp ``p`` (same measurement type): ``delta = (t - p) / n`` and
    sample i (0-based) is at ``p + (i + 1) delta``. Without it (first frame): ``delta = 1/rate``
    and sample i is at ``t - (n - 1 - i) delta``. ``ImuBatch.device_time_s`` holds these in seconds
    since 2000-01-01 (None when neither a previous frame nor a sample rate is known).

    Negative times: where the SDK throws ``NegativeTimeStampError``
    (``.../pmd/errors/BlePmdTimeStampError.kt``, thrown in ``.../pmd/model/PmdTimeStampUtils.kt``) this decoder
    raises :class:`NegativeTimeStampError` (a :class:`DecodeError`, reason ``bad_value``; the frame is dropped
    and counted): a frame whose timestamp is not after the previous frame's, and a first frame whose samples
    would start at or before the epoch (``t < n * delta``). As in the SDK (``BlePMDClient.processPmdData``
    stores the frame's timestamp before parsing it), the rejected frame's timestamp still becomes the
    "previous" one, so a device clock that jumps back costs one frame, not the rest of the stream.

    The sample rate of the first frame: the SDK takes it from the settings the measurement was started with
    (``BlePMDClient.getSampleRate``: ``currentSettings[type].selected[SAMPLE_RATE]``). Here
    :meth:`PolarPmdDecoder.apply_start_command` reads SAMPLE_RATE from the start command the host writes
    (``02 type TLV...``) and :meth:`PolarPmdDecoder.apply_start_response` from the response, so the first
    frame of each stream has device times too.

Sign: ACC at rest reads about +1000 mG on the upward axis (e.g. z = 999 mG in the SDK's raw
vector), i.e. specific force like Android; axes are the sensor's own.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .base import DecodeError, DecoderBase, ImuBatch, need

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

# Measurement types.
ECG, PPG, ACC, PPI, GYRO, MAG, SKIN_TEMP, SDK_MODE = 0, 1, 2, 3, 5, 6, 7, 9
MEASUREMENT_NAMES = {ECG: "ecg", PPG: "ppg", ACC: "acc", PPI: "ppi", GYRO: "gyro", MAG: "mag",
                     SKIN_TEMP: "skin_temp", SDK_MODE: "sdk_mode"}

# Control point op codes.
OP_GET_SETTINGS, OP_START, OP_STOP = 0x01, 0x02, 0x03
RESPONSE_CODE = 0xF0
FEATURES_CODE = 0x0F

# Settings (TLV types) and their value sizes in bytes.
SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR, SECURITY = 0, 1, 2, 3, 4, 5, 6
SETTING_SIZES = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1, FACTOR: 4, SECURITY: 16}
SETTING_NAMES = {SAMPLE_RATE: "sample_rate", RESOLUTION: "resolution", RANGE: "range",
                 RANGE_MILLIUNIT: "range_milliunit", CHANNELS: "channels", FACTOR: "factor", SECURITY: "security"}

#: Control point response status codes. 0 and 7 are confirmed by the SDK test vectors.
STATUS_NAMES = {0: "success", 1: "invalid_op_code", 2: "invalid_measurement_type", 3: "not_supported",
                4: "invalid_length", 5: "invalid_parameter", 6: "already_in_state", 7: "invalid_resolution",
                8: "invalid_sample_rate", 9: "invalid_range", 10: "invalid_mtu",
                11: "invalid_number_of_channels", 12: "invalid_state", 13: "device_in_charger"}

FEATURE_BITS_1 = {0x01: "ecg", 0x02: "ppg", 0x04: "acc", 0x08: "ppi", 0x20: "gyro", 0x40: "mag", 0x80: "skin_temp"}
FEATURE_BITS_2 = {0x02: "sdk_mode", 0x04: "location", 0x08: "pressure", 0x10: "temperature"}

#: Seconds from the Unix epoch to 2000-01-01T00:00:00Z (the PMD time base).
PMD_EPOCH_UNIX_S = 946_684_800

_FRAME_HDR = struct.Struct("<BQB")

#: Sanity bound on samples in one frame (a 512-byte notification holds far fewer real samples).
MAX_SAMPLES_PER_FRAME = 4096


# ---------------------------------------------------------------------------------------------
# control point


def build_get_settings(measurement_type: int) -> bytes:
    """``01 type``: ask for the available settings of a measurement."""
    return bytes([OP_GET_SETTINGS, measurement_type & 0xFF])


def build_stop(measurement_type: int) -> bytes:
    """``03 type``: stop a measurement."""
    return bytes([OP_STOP, measurement_type & 0xFF])


def build_start(measurement_type: int, settings: Mapping[int, int | float | Sequence[int | float]] | None = None,
                **named: int | float) -> bytes:
    """``02 type TLV...``: start a measurement.

    ``settings`` maps a setting type (:data:`SAMPLE_RATE`, ...) to one value or a list of values;
    keyword arguments use the names of :data:`SETTING_NAMES` (``sample_rate=52``) and come after
    ``settings``. TLVs are written in the given order.
    """
    items: list[tuple[int, int | float | Sequence[int | float]]] = list((settings or {}).items())
    by_name = {v: k for k, v in SETTING_NAMES.items()}
    for key, value in named.items():
        if key not in by_name:
            raise ValueError(f"unknown PMD setting {key!r}; known: {sorted(by_name)}")
        items.append((by_name[key], value))
    out = bytearray([OP_START, measurement_type & 0xFF])
    for setting, value in items:
        values = list(value) if isinstance(value, Sequence) else [value]
        out += bytes([setting, len(values)])
        for v in values:
            out += _pack_setting(setting, v)
    return bytes(out)


def _pack_setting(setting: int, value: int | float) -> bytes:
    if setting == FACTOR:
        return struct.pack("<f", value)
    if setting == SECURITY:
        raise ValueError("SECURITY settings are not supported")
    size = SETTING_SIZES.get(setting)
    if size is None:
        raise ValueError(f"unknown setting type {setting}")
    return int(value).to_bytes(size, "little")


def parse_settings(params: bytes) -> dict[str, list[int | float | bytes]]:
    """Parse a TLV list (the parameters of a get-settings or start response)."""
    out: dict[str, list[int | float | bytes]] = {}
    off = 0
    while off < len(params):
        need(params, off + 2, "PMD setting header")
        setting, count = params[off], params[off + 1]
        off += 2
        size = SETTING_SIZES.get(setting)
        if size is None:
            raise DecodeError("unsupported", f"setting type {setting}")
        need(params, off + size * count, f"PMD setting {setting} values")
        values: list[int | float | bytes] = []
        for _ in range(count):
            chunk = params[off:off + size]
            if setting == FACTOR:
                values.append(struct.unpack("<f", chunk)[0])
            elif setting == SECURITY:
                values.append(chunk)
            else:
                values.append(int.from_bytes(chunk, "little"))
            off += size
        out.setdefault(SETTING_NAMES[setting], []).extend(values)
    return out


@dataclass(frozen=True)
class PmdResponse:
    """A control point indication ``F0 op type status [more] params...``."""

    op_code: int
    measurement_type: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"status_{self.status}")


def parse_cp_response(data: bytes) -> PmdResponse:
    """Parse a control point response; raises :class:`DecodeError`."""
    need(data, 4, "PMD control point response")
    if data[0] != RESPONSE_CODE:
        raise DecodeError("bad_magic", f"response code 0x{data[0]:02x}, expected 0xF0")
    more = len(data) > 4 and data[4] != 0
    return PmdResponse(data[1], data[2], data[3], more, bytes(data[5:]))


def parse_features(data: bytes) -> set[str]:
    """Parse the control point read value ``0F b1 b2`` into feature names."""
    need(data, 2, "PMD features")
    if data[0] != FEATURES_CODE:
        raise DecodeError("bad_magic", f"features code 0x{data[0]:02x}, expected 0x0F")
    out = {name for bit, name in FEATURE_BITS_1.items() if data[1] & bit}
    if len(data) > 2:
        out |= {name for bit, name in FEATURE_BITS_2.items() if data[2] & bit}
    return out


# ---------------------------------------------------------------------------------------------
# data frames


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def decompress_deltas(content: bytes, channels: int, resolution: int) -> np.ndarray:
    """Delta-compressed PMD content -> (N, channels) int64 samples (integer accumulation).

    ``resolution`` is the bit size of the reference sample's channels (8, 16, 24 or 32). Sums are
    taken modulo 2^resolution and read back as signed, so 32-bit float patterns wrap like int32.
    """
    ref_bytes = (resolution + 7) // 8
    need(content, channels * ref_bytes, "PMD reference sample")
    ref = [_signed(int.from_bytes(content[k * ref_bytes:(k + 1) * ref_bytes], "little"), ref_bytes * 8)
           for k in range(channels)]
    rows = [ref]
    off = channels * ref_bytes
    total = 1
    mask_res = (1 << resolution) - 1
    prev = ref
    while off < len(content):
        need(content, off + 2, "PMD delta block header")
        width, count = content[off], content[off + 1]
        off += 2
        if width > 32:
            raise DecodeError("bad_value", f"delta width {width} bits")
        nbytes = (width * count * channels + 7) // 8
        need(content, off + nbytes, "PMD delta block")
        total += count
        if total > MAX_SAMPLES_PER_FRAME:
            raise DecodeError("bad_value", f"more than {MAX_SAMPLES_PER_FRAME} samples in one frame")
        bits = int.from_bytes(content[off:off + nbytes], "little")
        off += nbytes
        wmask = (1 << width) - 1
        pos = 0
        for _ in range(count):
            row = []
            for k in range(channels):
                d = _signed((bits >> pos) & wmask, width) if width else 0
                pos += width
                row.append(_signed((prev[k] + d) & mask_res, resolution))
            rows.append(row)
            prev = row
    return np.array(rows, dtype=np.int64)


def _raw_samples(content: bytes, channels: int, nbytes: int) -> np.ndarray:
    step = channels * nbytes
    if len(content) % step:
        raise DecodeError("bad_length", f"{len(content)} content bytes is not a multiple of {step}")
    n = len(content) // step
    if nbytes in (1, 2):
        return np.frombuffer(content, dtype="<i1" if nbytes == 1 else "<i2").reshape(n, channels).astype(np.int64)
    b = np.frombuffer(content, dtype=np.uint8).reshape(-1, nbytes).astype(np.int64)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    v = np.where(v & 0x800000, v - (1 << 24), v)
    return v.reshape(n, channels)


@dataclass
class PmdFrame:
    """A parsed data frame before unit conversion."""

    measurement_type: int
    timestamp_ns: int
    compressed: bool
    frame_type: int
    content: bytes = field(repr=False)


def parse_frame_header(data: bytes) -> PmdFrame:
    """Split a data notification into header fields and content."""
    need(data, _FRAME_HDR.size, "PMD data frame header")
    mtype, ts, ftype = _FRAME_HDR.unpack_from(data, 0)
    return PmdFrame(mtype, ts, bool(ftype & 0x80), ftype & 0x7F, bytes(data[_FRAME_HDR.size:]))


class NegativeTimeStampError(DecodeError):
    """Sample timestamps of a PMD frame would be negative or go backwards (the Polar SDK's
    ``NegativeTimeStampError``, see the module docstring). Attributes: ``timestamp_ns``, ``previous_ns``."""

    def __init__(self, message: str, timestamp_ns: int, previous_ns: int | None) -> None:
        super().__init__("bad_value", message)
        self.timestamp_ns = timestamp_ns
        self.previous_ns = previous_ns


def sample_times_ns(last_ns: int, n: int, previous_ns: int | None, sample_rate_hz: float | None) -> np.ndarray | None:
    """Per-sample timestamps [ns, float] following the SDK's rule (see module docstring).

    ``previous_ns`` None or 0 means "no previous frame" (the SDK's 0 too). Returns None when there is neither
    a previous frame nor a sample rate.

    Raises:
        NegativeTimeStampError: ``last_ns <= previous_ns``, or (first frame) ``last_ns < n * 1e9 / rate`` or a
            first sample at or before the epoch, as ``PmdTimeStampUtils.getTimeStamps`` throws.
    """
    if n == 0:
        return np.zeros(0)
    if previous_ns:
        if last_ns <= previous_ns:
            raise NegativeTimeStampError(f"frame timestamp {last_ns} ns is not after the previous frame's "
                                         f"{previous_ns} ns", last_ns, previous_ns)
        delta = (last_ns - previous_ns) / n
        return previous_ns + delta * np.arange(1, n + 1, dtype=np.float64)
    if sample_rate_hz and sample_rate_hz > 0:
        delta = 1e9 / sample_rate_hz
        if last_ns < delta * n or last_ns - delta * (n - 1) <= 0:
            raise NegativeTimeStampError(f"first frame: timestamp {last_ns} ns minus {n} samples at "
                                         f"{sample_rate_hz:g} Hz is negative", last_ns, None)
        return last_ns - delta * np.arange(n - 1, -1, -1, dtype=np.float64)
    return None


def start_command_settings(command: bytes) -> tuple[int, dict[str, list[int | float | bytes]]] | None:
    """``(measurement type, settings)`` of a start command ``02 type TLV...``; None for any other command.

    Raises:
        DecodeError: a start command with malformed TLVs.
    """
    data = bytes(command)
    if len(data) < 2 or data[0] != OP_START:
        return None
    return data[1] & 0x3F, parse_settings(data[2:])


class PolarPmdDecoder(DecoderBase):
    """Decoder of PMD data notifications (ACC and GYRO); state: previous timestamp per type.

    Args:
        factors: FACTOR per measurement type (from the start response), default 1.0.
        sample_rates: sample rate [Hz] per measurement type (used for the first frame's times).

    ACC batches: ``acc`` in mG, ``gyro`` None. GYRO batches: ``gyro`` in deg/s and ``acc`` all NaN
    (``meta["channels"] == ("gyro",)``). ``meta["timestamp_ns"]`` is the frame's raw timestamp,
    ``meta["sample_rate_hz"]`` the stream's configured rate when known (start command / response).
    """

    name: ClassVar[str] = "polar-pmd"

    def __init__(self, factors: Mapping[int, float] | None = None,
                 sample_rates: Mapping[int, float] | None = None) -> None:
        super().__init__()
        self.factors: dict[int, float] = dict(factors or {})
        self.sample_rates: dict[int, float] = dict(sample_rates or {})
        self._previous_ns: dict[int, int] = {}

    def set_previous_timestamp(self, measurement_type: int, timestamp_ns: int | None) -> None:
        """Set (or clear) the previous frame's timestamp used to spread the next frame's samples."""
        if timestamp_ns is None:
            self._previous_ns.pop(measurement_type, None)
        else:
            self._previous_ns[measurement_type] = int(timestamp_ns)

    def apply_start_command(self, command: bytes) -> None:
        """Take SAMPLE_RATE (and FACTOR if given) from a start command the host writes (other commands: ignored)."""
        parsed = start_command_settings(command)
        if parsed is None:
            return
        mtype, s = parsed
        if s.get("sample_rate"):
            self.sample_rates[mtype] = float(s["sample_rate"][0])  # type: ignore[arg-type]
        if s.get("factor"):
            self.factors[mtype] = float(s["factor"][0])  # type: ignore[arg-type]

    def apply_start_response(self, response: PmdResponse) -> None:
        """Take FACTOR (and SAMPLE_RATE if present) from a successful start response."""
        if response.op_code == OP_START and response.ok and response.parameters:
            s = parse_settings(response.parameters)
            if "factor" in s:
                self.factors[response.measurement_type] = float(s["factor"][0])  # type: ignore[arg-type]
            if "sample_rate" in s:
                self.sample_rates[response.measurement_type] = float(s["sample_rate"][0])  # type: ignore[arg-type]

    def _decode(self, data: bytes) -> list[ImuBatch]:
        frame = parse_frame_header(data)
        factor = float(self.factors.get(frame.measurement_type, 1.0))
        mt, ft, c = frame.measurement_type, frame.frame_type, frame.content
        if mt == ACC:
            if not frame.compressed:
                if ft not in (0, 1, 2):
                    raise DecodeError("unsupported", f"ACC raw frame type {ft}")
                values = _raw_samples(c, 3, ft + 1).astype(np.float64)
            elif ft == 0:
                values = decompress_deltas(c, 3, 16) * (factor * 1000.0)
            elif ft == 1:
                values = decompress_deltas(c, 3, 16).astype(np.float64)
                if factor != 1.0:
                    values = values * factor
            else:
                raise DecodeError("unsupported", f"ACC compressed frame type {ft}")
            units = {"acc": "mG"}
            acc, gyro = values, None
        elif mt == GYRO:
            if not frame.compressed:
                raise DecodeError("unsupported", f"GYRO raw frame type {ft}")
            if ft == 0:
                values = decompress_deltas(c, 3, 16) * factor
            elif ft == 1:
                ints = decompress_deltas(c, 3, 32)
                with np.errstate(invalid="ignore", over="ignore"):
                    values = (ints & 0xFFFFFFFF).astype("<u4").view("<f4").astype(np.float64) * factor
            else:
                raise DecodeError("unsupported", f"GYRO compressed frame type {ft}")
            units = {"acc": "mG", "gyro": "deg/s"}
            acc, gyro = np.full(values.shape, np.nan), values
        else:
            raise DecodeError("unsupported", f"measurement type {mt}")
        n = values.shape[0]
        if n == 0:
            raise DecodeError("truncated", "frame without samples")
        previous = self._previous_ns.get(mt)
        self._previous_ns[mt] = frame.timestamp_ns  # before the check, as the SDK (module docstring)
        t_ns = sample_times_ns(frame.timestamp_ns, n, previous, self.sample_rates.get(mt))
        meta = {
            "protocol": self.name, "measurement_type": mt, "measurement": MEASUREMENT_NAMES.get(mt, str(mt)),
            "compressed": frame.compressed, "frame_type": ft, "timestamp_ns": frame.timestamp_ns, "factor": factor,
            "channels": ("acc",) if mt == ACC else ("gyro",),
            "time_base": "s since 2000-01-01T00:00:00 (device clock)",
        }
        if self.sample_rates.get(mt):
            meta["sample_rate_hz"] = float(self.sample_rates[mt])  # the rate the stream was started with
        return [ImuBatch(acc=acc, gyro=gyro, device_time_s=None if t_ns is None else t_ns * 1e-9,
                         units=units, sign="android", meta=meta)]
