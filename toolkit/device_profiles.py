"""Real-device profiles: how a physical wearable reports its IMU, and how to bring that into the simulator.

A :class:`RealDeviceProfile` is a small validated object (in the spirit of imucal's calibration objects): units and
sign of the accelerometer, units of the gyroscope, the signed permutation / rotation that takes the device's own
axes into the simulator's **watch frame** (:mod:`toolkit.frames`: +X 3 o'clock, +Y 12 o'clock, +Z out of the face),
its nominal rate and range. :meth:`RealDeviceProfile.to_simulator` turns device-native samples into SI units with
the Android sign (+9.81 m/s^2 on the upward axis at rest) in that watch frame. Unit and sign conversion reuse
:func:`toolkit.units.from_device_units` / :func:`~toolkit.units.to_device_units` (the one units table, also read
by the simulator's :mod:`toolkit.sim.devices` and the BLE decoders), so the simulator and the real-data side share
one definition of "g" (:data:`toolkit.frames.G_MS2`) and of the iOS sign.

Where the device sits on the body (which wrist, face dorsal/palmar, rotation about the forearm) is *not* part of
the profile: it is a :class:`toolkit.mount.Mount`.

Serialisation: :meth:`RealDeviceProfile.to_dict` gives a JSON-ready dict with ``"schema": 1``;
:meth:`RealDeviceProfile.from_dict` validates it back (unknown keys, units or schema are errors).

Built-in profiles (:data:`REAL_PROFILES`), sources and assumptions:

``wear-os-watch``
    TicWatch / Galaxy Watch class Wear OS watch. Android ``SensorEvent`` frame = the watch frame (+X right,
    +Y toward 12 o'clock, +Z out of the screen), m/s^2 with gravity, +9.81 up at rest; gyro rad/s,
    counter-clockwise positive. Identity axes. 100 Hz nominal (sp-sw-har's TicWatch Pro 3 median), +-8 g.
``apple-watch``
    CoreMotion: acceleration in g with the iOS sign (about -1 g on the upward axis at rest), rotation rate in
    rad/s. Axes: Apple's CoreMotion documentation defines the device frame of an iPhone as +X right, +Y toward
    the top, +Z out of the screen, and the Apple Watch uses the same device frame relative to its display (+X 3
    o'clock, +Y 12 o'clock, +Z out of the face): identity. *Assumption* checked on data: in the seglearn
    recordings, arm at rest at the side, left-arm recordings read +X pointing down (toward the hand) and
    right-arm recordings +X pointing up (toward the elbow), exactly the simulator's left/right watch frames.
    50 Hz (seglearn), +-16 g assumed.
``empatica-e4``
    Raw ``ACC.csv`` counts, 64 counts per g, +-2 g, 32 Hz, no gyroscope. Device axes (Empatica support, see
    ``../shared/notes/ble-facts.md``): +x toward the USB slot, +y toward the shorter strap, +z toward the bottom
    of the device (into the skin when worn). Mapping (an **assumption to verify on a real recording**): the E4
    worn on the dorsal wrist like a watch with its USB slot toward the watch's 3 o'clock (+X) gives
    ``x_e4 = +X``, ``z_e4 = -Z`` (bottom = into the wrist), and right-handedness forces ``y_e4 = z_e4 x x_e4 =
    -Y`` (shorter strap toward 6 o'clock): ``v_watch = diag(1, -1, -1) v_e4``, a 180 deg rotation about X.
    Worn the other way round (USB toward 9 o'clock) it would be ``diag(-1, 1, -1)``; build such a profile with
    :meth:`RealDeviceProfile.from_dict`. Sign assumed Android-like (specific force), as in
    :mod:`toolkit.sim.devices`.
``android-phone``
    Android phone frame (+X right, +Y top edge, +Z out of the screen), m/s^2, rad/s, 100 Hz, +-8 g. It is not a
    wrist device: a Mount with a wrist makes no sense for it; loaders keep it as ``wrist=None``.
``polar-verity-sense``
    Polar PMD stream: acceleration in mG (``counts`` with 1000 counts per g), gyro in deg/s, 52 Hz default,
    +-8 g and +-2000 dps assumed. Axes and sign are **not documented** by Polar for the Verity Sense:
    identity and Android sign are assumptions to verify (lay it face up: +1000 mG expected on +Z).
``imu-stream``
    The project's own BLE profile (``firmware_bridge`` imu-stream): SI, Android sign, already in the watch frame;
    int16 over +-16 g / +-2000 dps. 100 Hz nominal.
``basicmotions-watch``
    The UEA BasicMotions smartwatch recordings (aeon). Units, sign and axes are **unknown** (the resting class
    reads ~0 on every axis, so gravity seems removed); identity, SI assumed. Smoke tests only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from toolkit.errors import ConfigError
from toolkit.frames import G_MS2
from toolkit.units import ACC_SIGNS, GYRO_UNITS, REAL_ACC_UNITS, UnitConvention, from_device_units, to_device_units

__all__ = [
    "ACC_SIGNS",
    "ACC_UNITS",
    "GYRO_UNITS",
    "REAL_PROFILES",
    "RealDeviceProfile",
    "SCHEMA_VERSION",
    "get_real_profile",
    "resolve_profile",
    "validate_rotation",
]

#: Version of :meth:`RealDeviceProfile.to_dict`'s layout.
SCHEMA_VERSION = 1
#: Accelerometer units a real device may report (the table lives in :mod:`toolkit.units`).
ACC_UNITS = REAL_ACC_UNITS

_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def validate_rotation(matrix: Any, what: str = "rotation") -> np.ndarray:
    """A (3, 3) float64 proper rotation (orthonormal, det +1), or a :class:`ConfigError` saying why not."""
    try:
        r = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: not a 3x3 matrix of numbers ({matrix!r})") from None
    if r.shape != (3, 3):
        raise ConfigError(f"{what}: must be 3x3, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ConfigError(f"{what}: contains NaN or infinite values")
    if not np.allclose(r @ r.T, np.eye(3), atol=1e-6):
        raise ConfigError(f"{what}: not orthonormal (R R^T != I): {r.tolist()}")
    det = float(np.linalg.det(r))
    if det < 0:
        raise ConfigError(f"{what}: determinant {det:+.3f} (a reflection); a device frame mapping must be a rotation")
    return r


def _number(value: Any, where: str, key: str, positive: bool = True, allow_none: bool = False) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise ConfigError(f"{where}: {key} is required")
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{where}: {key} must be a number (got {value!r})")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0):
        raise ConfigError(f"{where}: {key} must be a positive finite number (got {value!r})")
    return v


@dataclass(frozen=True)
class RealDeviceProfile:
    """How one kind of real device reports its IMU.

    Attributes:
        name: profile name (a key of :data:`REAL_PROFILES` for the built-in ones).
        acc_units: "m/s^2", "g" (g = :data:`toolkit.frames.G_MS2`) or "counts" (see ``counts_per_g``).
        acc_sign: "android" (specific force, +1 g up at rest) or "ios" (CoreMotion, -1 g up at rest).
        counts_per_g: raw counts per g when ``acc_units == "counts"`` (E4: 64, Polar mG: 1000); else None.
        has_gyro: whether the device has a gyroscope.
        gyro_units: "rad/s" or "deg/s" (None without a gyroscope).
        axes_to_watch: 3x3 rotation (tuple of rows), ``v_watch = A @ v_device``: its columns are the device's
            x, y, z axes written in the watch frame. Validated orthonormal with det +1.
        rate_hz: nominal output rate [Hz].
        acc_range_g: accelerometer full scale, +-g (None = unknown).
        gyro_range_dps: gyroscope full scale, +-deg/s (None = unknown or no gyro).
        wrist_worn: whether the device is worn like a watch (phones are not).
        description: one line; ``axes_source`` says where the axis mapping comes from (or that it is assumed).
    """

    name: str
    acc_units: str = "m/s^2"
    acc_sign: str = "android"
    counts_per_g: float | None = None
    has_gyro: bool = True
    gyro_units: str | None = "rad/s"
    axes_to_watch: tuple[tuple[float, float, float], ...] = _IDENTITY
    rate_hz: float = 100.0
    acc_range_g: float | None = None
    gyro_range_dps: float | None = None
    wrist_worn: bool = True
    description: str = ""
    axes_source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"real device profile: name must be a non-empty string (got {self.name!r})")
        where = f"real device profile {self.name!r}"
        if self.acc_units not in ACC_UNITS:
            raise ConfigError(f"{where}: unknown acc_units {self.acc_units!r} (known: {', '.join(ACC_UNITS)})")
        if self.acc_sign not in ACC_SIGNS:
            raise ConfigError(f"{where}: unknown acc_sign {self.acc_sign!r} (known: {', '.join(ACC_SIGNS)})")
        if self.acc_units == "counts":
            object.__setattr__(self, "counts_per_g", _number(self.counts_per_g, where, "counts_per_g"))
        elif self.counts_per_g is not None:
            raise ConfigError(f"{where}: counts_per_g is only meaningful with acc_units 'counts'")
        if not isinstance(self.has_gyro, bool | np.bool_):
            raise ConfigError(f"{where}: has_gyro must be true or false (got {self.has_gyro!r})")
        object.__setattr__(self, "has_gyro", bool(self.has_gyro))
        if self.has_gyro:
            if self.gyro_units not in GYRO_UNITS:
                raise ConfigError(f"{where}: unknown gyro_units {self.gyro_units!r} (known: {', '.join(GYRO_UNITS)})")
        elif self.gyro_units is not None:
            raise ConfigError(f"{where}: gyro_units must be None without a gyroscope")
        rot = validate_rotation(self.axes_to_watch, f"{where}: axes_to_watch")
        object.__setattr__(self, "axes_to_watch", tuple(tuple(float(v) for v in row) for row in rot))
        object.__setattr__(self, "rate_hz", _number(self.rate_hz, where, "rate_hz"))
        object.__setattr__(self, "acc_range_g", _number(self.acc_range_g, where, "acc_range_g", allow_none=True))
        object.__setattr__(
            self, "gyro_range_dps", _number(self.gyro_range_dps, where, "gyro_range_dps", allow_none=True)
        )
        if not isinstance(self.wrist_worn, bool | np.bool_):
            raise ConfigError(f"{where}: wrist_worn must be true or false (got {self.wrist_worn!r})")
        object.__setattr__(self, "wrist_worn", bool(self.wrist_worn))
        for key in ("description", "axes_source"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"{where}: {key} must be a string")

    # ------------------------------------------------------------------ conversions
    @property
    def axes_matrix(self) -> np.ndarray:
        """(3, 3) ``A`` with ``v_watch = A @ v_device``."""
        return np.array(self.axes_to_watch, dtype=np.float64)

    def _unit_profile(self) -> UnitConvention:
        """The :class:`toolkit.units.UnitConvention` that carries this device's units and sign.

        Counts are handled here (divided by ``counts_per_g`` into g) because the conversions know only m/s^2 and g.
        """
        return UnitConvention(
            acc_units="g" if self.acc_units in ("g", "counts") else "m/s^2",
            acc_sign=self.acc_sign,
            gyro_units=self.gyro_units or "rad/s",
        )

    def acc_to_si(self, acc: np.ndarray) -> np.ndarray:
        """(..., 3) device acc (device units, sign and axes) -> (..., 3) m/s^2, Android sign, watch frame."""
        a = _as_vectors(acc, "acc")
        if self.acc_units == "counts":
            a = a / float(self.counts_per_g)  # counts -> g
        a = from_device_units(a, self._unit_profile(), "acc")
        return a @ self.axes_matrix.T

    def gyro_to_si(self, gyro: np.ndarray) -> np.ndarray:
        """(..., 3) device gyro -> (..., 3) rad/s in the watch frame (a proper rotation: no axial-vector sign)."""
        if not self.has_gyro:
            raise ConfigError(f"real device profile {self.name!r} has no gyroscope")
        w = from_device_units(_as_vectors(gyro, "gyro"), self._unit_profile(), "gyro")
        return w @ self.axes_matrix.T

    def to_simulator(
        self, acc: np.ndarray, gyro: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Device-native samples -> the simulator's watch frame and SI units.

        Args:
            acc: (T, 3) accelerometer in the device's units, sign and axes.
            gyro: (T, 3) gyroscope in the device's units and axes, or None.

        Returns:
            ``(acc_si, gyro_si)``: (T, 3) float64 specific force [m/s^2, +9.81 up at rest] and (T, 3) angular
            velocity [rad/s] in the watch frame (None when ``gyro`` is None).

        Raises:
            ConfigError: wrong shapes, or a gyro array for a device without a gyroscope.
        """
        acc_si = self.acc_to_si(acc)
        gyro_si = None if gyro is None else self.gyro_to_si(gyro)
        if gyro_si is not None and gyro_si.shape != acc_si.shape:
            raise ConfigError(f"{self.name}: gyro shape {gyro_si.shape} differs from acc shape {acc_si.shape}")
        return acc_si, gyro_si

    def from_simulator(
        self, acc_si: np.ndarray, gyro_si: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Inverse of :meth:`to_simulator`: watch-frame SI -> device units, sign and axes (counts not rounded)."""
        a = _as_vectors(acc_si, "acc") @ self.axes_matrix  # A^T v, row-wise
        a = to_device_units(a, self._unit_profile(), "acc")
        if self.acc_units == "counts":
            a = a * float(self.counts_per_g)
        w = None
        if gyro_si is not None:
            if not self.has_gyro:
                raise ConfigError(f"real device profile {self.name!r} has no gyroscope")
            w = to_device_units(_as_vectors(gyro_si, "gyro") @ self.axes_matrix, self._unit_profile(), "gyro")
        return a, w

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"schema": 1`` (axes as nested lists)."""
        d = asdict(self)
        d["axes_to_watch"] = [list(row) for row in self.axes_to_watch]
        return {"schema": SCHEMA_VERSION, **d}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RealDeviceProfile:
        """Profile from :meth:`to_dict`'s output; missing optional keys take the defaults.

        Raises:
            ConfigError: not a mapping, wrong schema, unknown keys, or invalid values.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"real device profile: expected a mapping, got {type(data).__name__}")
        d = dict(data)
        schema = d.pop("schema", None)
        if schema != SCHEMA_VERSION:
            raise ConfigError(
                f"real device profile: unsupported schema {schema!r} (this version reads {SCHEMA_VERSION})"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            known_s = ", ".join(sorted(known))
            raise ConfigError(f"real device profile: unknown keys {', '.join(unknown)} (known: {known_s})")
        if "name" not in d:
            raise ConfigError("real device profile: missing key 'name'")
        if "axes_to_watch" in d:
            try:
                d["axes_to_watch"] = tuple(tuple(float(v) for v in row) for row in d["axes_to_watch"])
            except (TypeError, ValueError):
                raise ConfigError("real device profile: axes_to_watch must be 3 rows of 3 numbers") from None
        return cls(**d)


def _as_vectors(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] != 3:
        raise ConfigError(f"{what} must have shape (..., 3), got {a.shape}")
    return a


_E4_AXES = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))

#: Built-in real-device profiles by name (module docstring: sources and assumptions).
REAL_PROFILES: dict[str, RealDeviceProfile] = {
    p.name: p
    for p in (
        RealDeviceProfile(
            name="wear-os-watch",
            rate_hz=100.0,
            acc_range_g=8.0,
            gyro_range_dps=2000.0,
            description="Wear OS watch (TicWatch/Galaxy Watch): Android frame = watch frame, m/s^2, rad/s",
            axes_source="Android SensorEvent coordinate system: +X right, +Y up (12 o'clock), +Z out of the screen",
        ),
        RealDeviceProfile(
            name="apple-watch",
            acc_units="g",
            acc_sign="ios",
            rate_hz=50.0,
            acc_range_g=16.0,
            gyro_range_dps=2000.0,
            description="Apple Watch via CoreMotion: g with the iOS sign (-1 g up at rest), rad/s",
            axes_source="CoreMotion device frame relative to the display (+X 3 o'clock, +Y 12 o'clock, +Z out of "
            "the face), assumed identical to the phone's; consistent with seglearn left/right recordings",
        ),
        RealDeviceProfile(
            name="empatica-e4",
            acc_units="counts",
            counts_per_g=64.0,
            has_gyro=False,
            gyro_units=None,
            axes_to_watch=_E4_AXES,
            rate_hz=32.0,
            acc_range_g=2.0,
            description="Empatica E4: ACC.csv counts (64 = 1 g), +-2 g, 32 Hz, no gyroscope",
            axes_source="ASSUMPTION to verify: E4 +x (USB slot) = watch +X, +y (shorter strap) = -Y, +z (bottom) = "
            "-Z; worn dorsally with the USB slot toward 3 o'clock",
        ),
        RealDeviceProfile(
            name="android-phone",
            rate_hz=100.0,
            acc_range_g=8.0,
            gyro_range_dps=1000.0,
            wrist_worn=False,
            description="Android phone: Android device frame, m/s^2, rad/s (not a wrist device)",
            axes_source="Android SensorEvent coordinate system",
        ),
        RealDeviceProfile(
            name="polar-verity-sense",
            acc_units="counts",
            counts_per_g=1000.0,
            gyro_units="deg/s",
            rate_hz=52.0,
            acc_range_g=8.0,
            gyro_range_dps=2000.0,
            description="Polar Verity Sense PMD stream: mG, deg/s, 52 Hz",
            axes_source="ASSUMPTION to verify: identity axes, Android sign (Polar documents neither)",
        ),
        RealDeviceProfile(
            name="imu-stream",
            rate_hz=100.0,
            acc_range_g=16.0,
            gyro_range_dps=2000.0,
            description="Multi3Edge imu-stream BLE profile: SI, Android sign, watch frame",
            axes_source="defined by the protocol to be the watch frame",
        ),
        RealDeviceProfile(
            name="basicmotions-watch",
            rate_hz=10.0,
            description="UEA BasicMotions smartwatch: units/sign/axes unknown, gravity apparently removed; smoke tests",
            axes_source="unknown; identity assumed",
        ),
    )
}


def get_real_profile(name: str) -> RealDeviceProfile:
    """The built-in real-device profile ``name``; a one-line :class:`ConfigError` listing the known ones otherwise."""
    try:
        return REAL_PROFILES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown real device profile {name!r} (known: {', '.join(REAL_PROFILES)})") from None


def resolve_profile(profile: RealDeviceProfile | str) -> RealDeviceProfile:
    """A profile object from a profile or a built-in name."""
    if isinstance(profile, RealDeviceProfile):
        return profile
    return get_real_profile(profile)


__all__ = [
    "ACC_SIGNS",
    "ACC_UNITS",
    "G_MS2",
    "GYRO_UNITS",
    "REAL_PROFILES",
    "RealDeviceProfile",
    "get_real_profile",
    "resolve_profile",
    "validate_rotation",
]
