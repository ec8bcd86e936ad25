"""Common types of every device protocol: decoded sample batches, decode errors, the decoder interface.

A *decoder* turns the raw bytes of one notification (or one chunk of a byte stream) into zero or
more :class:`ImuBatch` objects. Decoders keep the values in the **device's own units and sign
convention** exactly as decoded (mG, 1/64 g, deg/s, ...); the batch says which, and
:meth:`ImuBatch.to_si` converts into the toolkit's SI units (m/s^2, rad/s, see
:mod:`toolkit.frames`). Axis alignment into the toolkit's frames is the job of ``calibration``,
not of the protocol layer.

Every decoder raises only :class:`DecodeError` on bad input (never ``struct.error``,
``IndexError``, ...), counts the packets it decoded and dropped, and never blocks.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from toolkit.errors import Multi3EdgeError
from toolkit.units import UNIT_TO_SI, SignConvention

#: Reason codes carried by :class:`DecodeError`.
DecodeReason = Literal[
    "truncated",  # fewer bytes than the header or the declared content needs
    "bad_magic",  # the packet does not start with the protocol's magic/type byte
    "bad_version",  # a format version this decoder does not know
    "bad_length",  # the length is inconsistent with the header (too many bytes, bad size)
    "bad_crc",  # checksum mismatch
    "bad_value",  # a field holds a value outside its valid range
    "unsupported",  # a valid but not implemented frame/measurement type
    "malformed",  # structurally invalid (e.g. a protobuf field with a wrong wire type)
    "internal",  # an unexpected exception inside a decoder (a bug), converted by DecoderBase
]

# unit names and sign conventions: the one table in toolkit.units (re-exported here)


class DecodeError(Multi3EdgeError):
    """A packet could not be decoded. ``reason`` is one of :data:`DecodeReason`."""

    def __init__(self, reason: DecodeReason, message: str = ""):
        self.reason: DecodeReason = reason
        self.message = message
        super().__init__(f"{reason}: {message}" if message else reason)


@dataclass
class ImuBatch:
    """Consecutive samples of one device decoded from one packet (or one stream chunk).

    Attributes:
        acc: (N, 3) float64 accelerometer samples in ``units["acc"]`` (device axes, device sign).
        gyro: (N, 3) float64 gyroscope samples in ``units["gyro"]``, or None when absent.
        device_time_s: (N,) float64 device timestamps [s] of each sample on the device's own clock
            (epoch is protocol specific, see ``meta["time_base"]``), or None when the device sends none.
        seq: packet sequence number as sent (e.g. u16, wraps), or None.
        units: unit of each channel, keys ``"acc"`` and (if present) ``"gyro"``; values are keys of
            :data:`UNIT_TO_SI`.
        sign: sign convention of ``acc`` (see :data:`SignConvention`).
        meta: protocol specific extras (flags, raw timestamps, sample period, ...).
        host_time_s: (N,) float64 host timestamps [s, ``time.time()`` scale] filled in by
            :mod:`firmware_bridge.integrity`; None straight out of a decoder.
    """

    acc: np.ndarray
    gyro: np.ndarray | None = None
    device_time_s: np.ndarray | None = None
    seq: int | None = None
    units: dict[str, str] = field(default_factory=lambda: {"acc": "m/s^2"})
    sign: SignConvention = "unknown"
    meta: dict[str, Any] = field(default_factory=dict)
    host_time_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.acc = np.asarray(self.acc, dtype=np.float64).reshape(-1, 3)
        n = self.acc.shape[0]
        if self.gyro is not None:
            self.gyro = np.asarray(self.gyro, dtype=np.float64).reshape(-1, 3)
            if self.gyro.shape[0] != n:
                raise ValueError(f"gyro has {self.gyro.shape[0]} samples, acc has {n}")
        for name in ("device_time_s", "host_time_s"):
            v = getattr(self, name)
            if v is not None:
                v = np.asarray(v, dtype=np.float64).reshape(-1)
                if v.shape[0] != n:
                    raise ValueError(f"{name} has {v.shape[0]} entries, acc has {n} samples")
                setattr(self, name, v)

    def __len__(self) -> int:
        return int(self.acc.shape[0])

    def to_si(self) -> ImuBatch:
        """A copy with acc in m/s^2 and gyro in rad/s (same axes and sign convention)."""
        acc = self.acc * UNIT_TO_SI[self.units["acc"]]
        gyro = None if self.gyro is None else self.gyro * UNIT_TO_SI[self.units["gyro"]]
        units = {"acc": "m/s^2"}
        if gyro is not None:
            units["gyro"] = "rad/s"
        return replace(self, acc=acc, gyro=gyro, units=units, meta=dict(self.meta))


@runtime_checkable
class Decoder(Protocol):
    """What every protocol decoder offers."""

    #: Short protocol name, e.g. ``"imu-stream"``.
    name: str
    #: Packets that produced batches (or were valid but empty).
    decoded_packets: int
    #: Packets rejected with a :class:`DecodeError`.
    dropped_packets: int

    def decode(self, payload: bytes) -> list[ImuBatch]:
        """Decode one notification payload; raise :class:`DecodeError` when it is invalid."""
        ...


class DecoderBase:
    """Counting wrapper shared by the decoders: subclasses implement :meth:`_decode`.

    ``decode`` counts every call as decoded or dropped, keeps the last error per reason in
    ``drop_reasons`` and converts an unexpected exception from ``_decode`` (a decoder bug) into
    ``DecodeError("internal")`` so that a malformed packet can never crash a stream.
    """

    name: ClassVar[str] = "base"

    def __init__(self) -> None:
        self.decoded_packets = 0
        self.dropped_packets = 0
        self.drop_reasons: dict[str, int] = {}

    def decode(self, payload: bytes | bytearray | memoryview) -> list[ImuBatch]:
        data = bytes(payload)
        try:
            out = self._decode(data)
        except DecodeError as e:
            self._drop(e.reason)
            raise
        except (struct.error, IndexError, ValueError, OverflowError, TypeError, KeyError) as e:
            self._drop("internal")
            raise DecodeError("internal", f"{type(e).__name__}: {e}") from e
        self.decoded_packets += 1
        return out

    def _drop(self, reason: str) -> None:
        self.dropped_packets += 1
        self.drop_reasons[reason] = self.drop_reasons.get(reason, 0) + 1

    def _decode(self, data: bytes) -> list[ImuBatch]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def stats(self) -> Mapping[str, int]:
        """Counters as a plain mapping (for logs and manifests)."""
        return {"decoded": self.decoded_packets, "dropped": self.dropped_packets, **self.drop_reasons}


def need(data: bytes, n: int, what: str) -> None:
    """Raise ``DecodeError("truncated")`` unless ``data`` holds at least ``n`` bytes."""
    if len(data) < n:
        raise DecodeError("truncated", f"{what}: need {n} bytes, have {len(data)}")


def unwrap_nearest(previous: int | None, raw: int, bits: int) -> int:
    """Extend a wrapping ``bits``-bit counter: the integer congruent to ``raw`` nearest ``previous``.

    ``previous`` is the last extended value (None for the first one, which maps to ``raw``). Works
    in both directions, so a late (reordered) packet from before a wrap maps below the wrap.
    """
    if previous is None:
        return raw
    mod = 1 << bits
    half = mod >> 1
    diff = (raw - previous) % mod
    if diff >= half:
        diff -= mod
    return previous + diff
