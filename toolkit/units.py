"""The one table of unit names and accelerometer sign conventions (floor layer: numpy only).

Read by the BLE decoders (:class:`firmware_bridge.protocols.base.ImuBatch` ``units``), the real-device profiles
(:class:`toolkit.device_profiles.RealDeviceProfile` ``acc_units`` / ``gyro_units``) and the simulator's device
profiles (:class:`toolkit.sim.devices.DeviceProfile`).

The toolkit's own convention is SI with the Android sign: acceleration is specific force in m/s^2 (about +9.81 on
the upward axis at rest), angular velocity in rad/s.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import G_MS2

__all__ = [
    "ACC_SIGNS",
    "ACC_UNITS",
    "CHANNELS",
    "GYRO_UNITS",
    "REAL_ACC_UNITS",
    "SI_UNITS",
    "UNIT_TO_SI",
    "SignConvention",
    "UnitConvention",
    "check_channel",
    "from_device_units",
    "to_device_units",
]

#: Multipliers from a unit name to SI (m/s^2 for acceleration units, rad/s for angular rates).
UNIT_TO_SI: dict[str, float] = {
    "m/s^2": 1.0,
    "g": G_MS2,
    "mG": G_MS2 * 1e-3,
    "1/64 g": G_MS2 / 64.0,
    "rad/s": 1.0,
    "deg/s": math.pi / 180.0,
    "mdeg/s": math.pi / 180.0 * 1e-3,
}

#: The SI units of each channel (what :func:`from_device_units` returns and calibrations expect).
SI_UNITS: dict[str, str] = {"acc": "m/s^2", "gyro": "rad/s"}
#: Accelerometer units a simulated device can output.
ACC_UNITS = ("m/s^2", "g")
#: Accelerometer units a real device may report ("counts": raw ADC counts with a counts-per-g factor).
REAL_ACC_UNITS = ("m/s^2", "g", "counts")
#: Gyroscope units of devices (simulated or real).
GYRO_UNITS = ("rad/s", "deg/s")
#: Accelerometer sign conventions ("android": +1 g on the upward axis at rest; "ios": -1 g).
ACC_SIGNS = ("android", "ios")
#: Sign conventions a decoded batch can declare ("unknown": not established for that device/protocol).
SignConvention = Literal["android", "ios", "unknown"]
#: The two sensor channels.
CHANNELS = ("acc", "gyro")


class UnitConvention(NamedTuple):
    """Units and sign of one device's output (anything with these three attributes converts)."""

    acc_units: str = "m/s^2"
    acc_sign: str = "android"
    gyro_units: str = "rad/s"


def check_channel(channel: str) -> None:
    """Raise :class:`~toolkit.errors.ConfigError` unless ``channel`` is ``"acc"`` or ``"gyro"``."""
    if channel not in CHANNELS:
        raise ConfigError(f"unknown channel {channel!r} (known: {', '.join(CHANNELS)})")


def to_device_units(x_si: np.ndarray, profile: Any, channel: str = "acc") -> np.ndarray:
    """Simulator convention -> the device's units and sign.

    Args:
        x_si: (..., 3) acc [m/s^2, Android sign] or gyro [rad/s].
        profile: anything with ``acc_units`` ("m/s^2" or "g"), ``acc_sign`` and ``gyro_units`` (a
            :class:`UnitConvention`, a simulator :class:`~toolkit.sim.devices.DeviceProfile`).
        channel: "acc" or "gyro".

    Returns:
        (..., 3) float64 in the device's units: acc in m/s^2 or g, sign flipped for "ios"; gyro in
        rad/s or deg/s. A new array; equal to the input bit for bit when nothing changes.
    """
    check_channel(channel)
    x = np.array(x_si, dtype=np.float64, copy=True)
    if channel == "acc":
        if profile.acc_units == "g":
            x /= G_MS2
        if profile.acc_sign == "ios":
            np.negative(x, out=x)
    elif profile.gyro_units == "deg/s":
        x = np.degrees(x)
    return x


def from_device_units(x_dev: np.ndarray, profile: Any, channel: str = "acc") -> np.ndarray:
    """The device's units and sign -> simulator convention; the inverse of :func:`to_device_units`.

    Args:
        x_dev: (..., 3) values as the device reports them.
        profile: anything with ``acc_units``, ``acc_sign`` and ``gyro_units`` (see :func:`to_device_units`).
        channel: "acc" or "gyro".

    Returns:
        (..., 3) float64: acc [m/s^2, Android sign] or gyro [rad/s].
    """
    check_channel(channel)
    x = np.array(x_dev, dtype=np.float64, copy=True)
    if channel == "acc":
        if profile.acc_sign == "ios":
            np.negative(x, out=x)
        if profile.acc_units == "g":
            x *= G_MS2
    elif profile.gyro_units == "deg/s":
        x = np.radians(x)
    return x
