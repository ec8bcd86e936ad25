"""Device protocols: pure-Python decoders/encoders of IMU packets, one module per protocol.

* :mod:`.base` - :class:`ImuBatch`, :class:`DecodeError`, the :class:`Decoder` interface.
* :mod:`.imu_stream` - Multi3Edge's own open GATT profile (with a C reference encoder).
* :mod:`.polar_pmd` - Polar Measurement Data (ACC/GYRO frames, control point).
* :mod:`.empatica_e4` - E4 streaming server TCP protocol and the (unverified) direct-BLE ACC layouts.
* :mod:`.touch_sdk` - Doublepoint Touch SDK Wear OS app (protobuf).
"""

from . import empatica_e4, imu_stream, polar_pmd, touch_sdk
from .base import DecodeError, Decoder, DecoderBase, ImuBatch

__all__ = [
    "DecodeError",
    "Decoder",
    "DecoderBase",
    "ImuBatch",
    "empatica_e4",
    "imu_stream",
    "polar_pmd",
    "touch_sdk",
]
