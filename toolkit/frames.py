"""The simulator's frame and unit conventions: the one place where they are defined.

Every other module imports these names instead of restating them, and every real device is
converted *into* these conventions (see ``calibration``), never the other way round.

World frame
    Right-handed, **y up**. A body in its rest pose (SMPL T-pose) faces **+z**, its left hand
    points to **+x**. Positions in metres.

Gravity
    ``GRAVITY_WORLD = (0, -9.81, 0)`` m/s^2: it points down, along -y.

Units (SI everywhere inside the toolkit)
    length m, time s, angle rad, acceleration m/s^2, angular velocity rad/s, rate Hz.

Sensor frame
    Each placement carries a right-handed sensor frame S. ``R_ws`` is the 3x3 rotation that maps
    sensor coordinates to world coordinates (its columns are the sensor axes written in world
    coordinates). An ideal IMU measures

    * specific force    ``f_s = R_ws^T (a_w - g_w)``  [m/s^2]; at rest it reads +9.81 on whichever
      sensor axis points up (the Android convention);
    * angular velocity  ``w_s = R_ws^T w_w``          [rad/s], equivalently
      ``Log(R_ws(t)^T R_ws(t+dt)) / dt`` (body frame).

Watch frame
    A watch's sensor frame is the Android device frame of the watch: **+X toward 3 o'clock,
    +Y toward 12 o'clock, +Z out of the face**. The watch is worn on the **dorsal** side of the
    wrist (face on the back of the wrist), read the usual way:

    * left wrist:  +X points to the hand (distal), +Y to the ulnar (little-finger) side,
      +Z dorsal;
    * right wrist: +X points to the elbow (proximal), +Y to the ulnar side, +Z dorsal.

    In the T-pose with palms down, both watches therefore have the same world orientation:
    X = +x, Y = -z, Z = +y (``WATCH_ROT_TPOSE``), and at rest read (0, 0, +9.81) m/s^2.

Quaternions
    Stored as (x, y, z, w), scalar last, the order of :mod:`scipy.spatial.transform`.
"""

from __future__ import annotations

import numpy as np

#: Standard gravity [m/s^2] (magnitude).
G_MS2: float = 9.81
#: Index of the world's up axis (y).
UP_AXIS: int = 1
#: Unit vector pointing up in the world frame.
UP_WORLD = np.array([0.0, 1.0, 0.0])
#: Forward direction of a body in its rest pose (+z).
FORWARD_WORLD = np.array([0.0, 0.0, 1.0])
#: Direction of the body's left side in its rest pose (+x).
LEFT_WORLD = np.array([1.0, 0.0, 0.0])
#: Gravitational acceleration in the world frame [m/s^2].
GRAVITY_WORLD = np.array([0.0, -G_MS2, 0.0])

#: Sensor-to-world rotation of a dorsal wrist watch (either wrist) in the T-pose, palms down.
#: Columns: watch X, Y, Z in world coordinates.
WATCH_ROT_TPOSE = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, -1.0, 0.0],
    ]
)

#: Units used by the toolkit, for manifests and error messages.
UNITS = {
    "length": "m",
    "time": "s",
    "angle": "rad",
    "acc": "m/s^2",
    "gyro": "rad/s",
    "rate": "Hz",
}

#: Quaternion component order used everywhere (scalar last).
QUAT_ORDER = "xyzw"

#: Rotation that takes a z-up world (AMASS, many mocap tools) into this y-up world: Rx(-90 deg).
#: It maps +z to +y and +y to -z.
Z_UP_TO_Y_UP = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, -1.0, 0.0],
    ]
)


def specific_force(acc_world: np.ndarray, rot_ws: np.ndarray) -> np.ndarray:
    """Specific force in the sensor frame, ``f_s = R_ws^T (a_w - g_w)``.

    Args:
        acc_world: (..., 3) linear acceleration of the sensor point in the world frame [m/s^2].
        rot_ws: (..., 3, 3) sensor-to-world rotation matrices.

    Returns:
        (..., 3) specific force in the sensor frame [m/s^2].
    """
    f_world = np.asarray(acc_world) - GRAVITY_WORLD
    return np.einsum("...ji,...j->...i", rot_ws, f_world)


def world_to_sensor(vec_world: np.ndarray, rot_ws: np.ndarray) -> np.ndarray:
    """Express world vectors (..., 3) in the sensor frame: ``R_ws^T v``."""
    return np.einsum("...ji,...j->...i", rot_ws, vec_world)


__all__ = [
    "FORWARD_WORLD",
    "GRAVITY_WORLD",
    "G_MS2",
    "LEFT_WORLD",
    "QUAT_ORDER",
    "UNITS",
    "UP_AXIS",
    "UP_WORLD",
    "WATCH_ROT_TPOSE",
    "Z_UP_TO_Y_UP",
    "specific_force",
    "world_to_sensor",
]
