"""Real-device profiles: how a physical wearable reports its IMU, and how to bring that into the simulator.

A :class:`RealDeviceProfile` is a small validated object (in the spirit of imucal's calibration objects): units and
sign of the accelerometer (including raw codes with an affine map to m/s^2), units of the gyroscope (or none), the
signed permutation / rotation that takes the device's own axes into the simulator's **watch frame**
(:mod:`toolkit.frames`: +X 3 o'clock, +Y 12 o'clock, +Z out of the face), its nominal rate and range.
:meth:`RealDeviceProfile.to_simulator` turns device-native samples into SI units with the Android sign (+9.81 m/s^2
on the upward axis at rest) in that watch frame. Sign and gyro unit conversion reuse
:func:`toolkit.units.from_device_units` / :func:`~toolkit.units.to_device_units` (the one units table, also read by
the simulator's :mod:`toolkit.sim.devices` and the BLE decoders), so the simulator and the real-data side share one
definition of "g" (:data:`toolkit.frames.G_MS2`) and of the iOS sign.

Where the device sits on the body (which wrist, face dorsal/palmar, rotation about the forearm) is *not* part of
the profile: it is a :class:`toolkit.mount.Mount`. The axes are those of the device worn like a watch; on the right
wrist the mount mirrors the signals into the canonical left wrist.

Device description files (YAML, ``schema: 2``)
    Every built-in profile is such a file in ``toolkit/profiles/`` (with its sources in comments); write one for
    your own device and pass its path wherever a profile name is accepted (``--profile my-watch.yaml``)::

        schema: 2                       # required: the layout version
        name: my-watch                  # optional (default: the file name without .yaml)
        description: "one line"         # optional
        wrist_worn: true                # optional (default true); false for phones
        rate_hz: 32                     # required: nominal output rate [Hz]
        sign: android                   # android (+1 g on the upward axis at rest, default) | ios (-1 g)
        axes: {x: -Y, y: +X, z: +Z}     # device axis -> the watch axis it points along (a signed permutation)
        # matrix: [[0, 1, 0], [-1, 0, 0], [0, 0, 1]]   # or a full rotation, v_watch = matrix @ v_device
        axes_source: "where the mapping comes from"
        acc: {units: counts, scale: 0.306, offset: -9.81, range_g: 2}   # value_SI = scale * code + offset
        # acc: {units: counts, counts_per_g: 64}   |   {units: g}   |   {units: m/s^2}
        gyro: null                      # accelerometer-only device; or {units: rad/s | deg/s, range_dps: 2000}

    ``scale`` [m/s^2 per code] and ``offset`` [m/s^2] are one number or one per device axis; ``offset`` may also go
    with ``counts_per_g``. Errors are one line naming the file and the key (unknown key, an ``axes`` mapping that is
    not a rotation, e.g. a watch axis used twice or a left-handed one, unknown units, no ``rate_hz``, non-finite
    numbers). :meth:`RealDeviceProfile.to_file_dict` / :meth:`~RealDeviceProfile.save` write this layout;
    :func:`load_profile_file` reads it; :func:`resolve_profile` takes a profile, a built-in name or a file path.

Serialisation inside other files: :meth:`RealDeviceProfile.to_dict` gives the flat JSON-ready dict with
``"schema": 1`` that calibration files embed (unchanged, so their golden files stay byte-identical);
:meth:`RealDeviceProfile.from_dict` reads both layouts (schema 1 flat, schema 2 file layout).

Built-in profiles (:data:`REAL_PROFILES`, loaded from ``toolkit/profiles/*.yaml`` on first use: the floor layer
imports PyYAML only then): ``wear-os-watch``, ``apple-watch``, ``empatica-e4``, ``android-phone``,
``polar-verity-sense``, ``imu-stream``, ``basicmotions-watch``. Each file states its sources and assumptions.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2
from toolkit.units import ACC_SIGNS, GYRO_UNITS, REAL_ACC_UNITS, UnitConvention, from_device_units, to_device_units
from toolkit.versioned import versioned_fields

#: Version of :meth:`RealDeviceProfile.to_dict`'s flat layout (embedded in calibration files).
SCHEMA_VERSION = 1
#: Version of the device description file layout (:meth:`RealDeviceProfile.to_file_dict`).
FILE_SCHEMA_VERSION = 2
#: Accelerometer units a real device may report (the table lives in :mod:`toolkit.units`).
ACC_UNITS = REAL_ACC_UNITS
#: Folder of the built-in device description files (package data).
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
#: File name endings of device description files.
PROFILE_SUFFIXES = (".yaml", ".yml")

_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
_AXIS_RE = re.compile(r"^([+-]?)([XYZ])$")
_FILE_KEYS = ("schema", "name", "description", "wrist_worn", "rate_hz", "sign", "axes", "matrix", "axes_source",
              "acc", "gyro")
_ACC_KEYS = ("units", "counts_per_g", "scale", "offset", "range_g")
_GYRO_KEYS = ("units", "range_dps")


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
    if not math.isfinite(v):
        raise ConfigError(f"{where}: {key} must be a finite number (got {value!r})")
    if positive and v <= 0:
        raise ConfigError(f"{where}: {key} must be a positive finite number (got {value!r})")
    return v


def _triple(value: Any, where: str, key: str, positive: bool) -> tuple[float, float, float] | None:
    """None, one number or three numbers -> a 3-tuple of finite floats (one per device axis)."""
    if value is None:
        return None
    items = list(value) if isinstance(value, list | tuple | np.ndarray) else [value]
    if len(items) == 1:
        items = items * 3
    if len(items) != 3:
        raise ConfigError(f"{where}: {key} must be one number or one per axis (3), got {len(items)}")
    return tuple(_number(v, where, key, positive=positive) for v in items)  # type: ignore[return-value]


@dataclass(frozen=True)
class RealDeviceProfile:
    """How one kind of real device reports its IMU.

    Attributes:
        name: profile name (a key of :data:`REAL_PROFILES` for the built-in ones).
        acc_units: "m/s^2", "g" (g = :data:`toolkit.frames.G_MS2`) or "counts" (raw codes: ``counts_per_g`` or
            ``acc_scale`` / ``acc_offset``).
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
        acc_scale: (3,) m/s^2 per code of each device axis (``acc_units == "counts"`` without ``counts_per_g``).
        acc_offset: (3,) m/s^2 added after scaling, per device axis (counts only): ``SI = scale * code + offset``.
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
    acc_scale: tuple[float, float, float] | None = None
    acc_offset: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"real device profile: name must be a non-empty string (got {self.name!r})")
        where = f"real device profile {self.name!r}"
        if self.acc_units not in ACC_UNITS:
            raise ConfigError(f"{where}: unknown acc_units {self.acc_units!r} (known: {', '.join(ACC_UNITS)})")
        if self.acc_sign not in ACC_SIGNS:
            raise ConfigError(f"{where}: unknown acc_sign {self.acc_sign!r} (known: {', '.join(ACC_SIGNS)})")
        object.__setattr__(self, "acc_scale", _triple(self.acc_scale, where, "acc_scale", positive=False))
        object.__setattr__(self, "acc_offset", _triple(self.acc_offset, where, "acc_offset", positive=False))
        if self.acc_units == "counts":
            if (self.counts_per_g is None) == (self.acc_scale is None):
                raise ConfigError(f"{where}: acc_units 'counts' needs exactly one of counts_per_g or acc_scale")
            if self.counts_per_g is not None:
                object.__setattr__(self, "counts_per_g", _number(self.counts_per_g, where, "counts_per_g"))
            elif any(s == 0.0 for s in self.acc_scale):  # type: ignore[union-attr]
                raise ConfigError(f"{where}: acc_scale must not be 0 (got {list(self.acc_scale)})")  # type: ignore
        else:
            for key in ("counts_per_g", "acc_scale", "acc_offset"):
                if getattr(self, key) is not None:
                    raise ConfigError(f"{where}: {key} is only meaningful with acc_units 'counts'")
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

    @property
    def channels(self) -> tuple[str, ...]:
        """The sensor channels the device has: ``("acc", "gyro")`` or ``("acc",)`` (accelerometer-only)."""
        return ("acc", "gyro") if self.has_gyro else ("acc",)

    def _unit_profile(self) -> UnitConvention:
        """The :class:`toolkit.units.UnitConvention` that carries this device's sign and gyro units, for
        accelerometer values already in m/s^2 (codes and g are converted by :meth:`_acc_codes_to_ms2`)."""
        return UnitConvention(acc_units="m/s^2", acc_sign=self.acc_sign, gyro_units=self.gyro_units or "rad/s")

    def _acc_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(3,) scale [m/s^2 per device unit] and (3,) offset [m/s^2]: ``m/s^2 = scale * value + offset``."""
        if self.acc_units == "counts":
            scale = (np.full(3, G_MS2 / float(self.counts_per_g)) if self.counts_per_g is not None
                     else np.asarray(self.acc_scale, dtype=np.float64))
        else:
            scale = np.full(3, G_MS2 if self.acc_units == "g" else 1.0)
        offset = np.zeros(3) if self.acc_offset is None else np.asarray(self.acc_offset, dtype=np.float64)
        return scale, offset

    def acc_to_si(self, acc: np.ndarray) -> np.ndarray:
        """(..., 3) device acc (device units, sign and axes) -> (..., 3) m/s^2, Android sign, watch frame."""
        scale, offset = self._acc_affine()
        a = _as_vectors(acc, "acc") * scale + offset  # device units -> m/s^2, device sign and axes
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
            gyro: (T, 3) gyroscope in the device's units and axes, or None (always None for an
                accelerometer-only device).

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
        """Inverse of :meth:`to_simulator`: watch-frame SI -> device units, sign and axes (codes not rounded)."""
        a = _as_vectors(acc_si, "acc") @ self.axes_matrix  # A^T v, row-wise
        a = to_device_units(a, self._unit_profile(), "acc")
        scale, offset = self._acc_affine()
        a = (a - offset) / scale
        w = None
        if gyro_si is not None:
            if not self.has_gyro:
                raise ConfigError(f"real device profile {self.name!r} has no gyroscope")
            w = to_device_units(_as_vectors(gyro_si, "gyro") @ self.axes_matrix, self._unit_profile(), "gyro")
        return a, w

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict with ``"schema": 1`` (axes as nested lists), as calibration files embed it.

        ``acc_scale`` / ``acc_offset`` appear only when set, so profiles without them serialise as before."""
        d = asdict(self)
        d["axes_to_watch"] = [list(row) for row in self.axes_to_watch]
        for key in ("acc_scale", "acc_offset"):
            if d[key] is None:
                del d[key]
            else:
                d[key] = list(d[key])
        return {"schema": SCHEMA_VERSION, **d}

    def to_file_dict(self) -> dict[str, Any]:
        """The device description file layout (``schema: 2``; module docstring), ready for YAML or JSON."""
        a = self.axes_matrix
        out: dict[str, Any] = {"schema": FILE_SCHEMA_VERSION, "name": self.name, "description": self.description,
                               "wrist_worn": self.wrist_worn, "rate_hz": self.rate_hz, "sign": self.acc_sign}
        if np.all(np.isin(a, (-1.0, 0.0, 1.0))):
            out["axes"] = {dev: ("+" if a[:, j].sum() > 0 else "-") + "XYZ"[int(np.argmax(np.abs(a[:, j])))]
                           for j, dev in enumerate("xyz")}
        else:
            out["matrix"] = [list(row) for row in self.axes_to_watch]
        out["axes_source"] = self.axes_source
        acc: dict[str, Any] = {"units": self.acc_units}
        if self.counts_per_g is not None:
            acc["counts_per_g"] = self.counts_per_g
        if self.acc_scale is not None:
            acc["scale"] = _compact(self.acc_scale)
        if self.acc_offset is not None:
            acc["offset"] = _compact(self.acc_offset)
        if self.acc_range_g is not None:
            acc["range_g"] = self.acc_range_g
        out["acc"] = acc
        if self.has_gyro:
            gyro: dict[str, Any] = {"units": self.gyro_units}
            if self.gyro_range_dps is not None:
                gyro["range_dps"] = self.gyro_range_dps
            out["gyro"] = gyro
        else:
            out["gyro"] = None
        return out

    @classmethod
    def from_file_dict(cls, data: Any, where: str = "device description", default_name: str | None = None
                       ) -> RealDeviceProfile:
        """Profile from the file layout (``schema: 2``). Errors: one-line :class:`ConfigError` ``"WHERE: key
        'KEY': problem"``."""
        return _parse_file_dict(data, where, default_name)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RealDeviceProfile:
        """Profile from :meth:`to_dict`'s flat output (``"schema": 1``; missing optional keys take the defaults) or
        from the file layout (``"schema": 2``, :meth:`from_file_dict`).

        Raises:
            ConfigError: not a mapping, wrong schema, unknown keys, or invalid values.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"real device profile: expected a mapping, got {type(data).__name__}")
        d = dict(data)
        if d.get("schema") == FILE_SCHEMA_VERSION:
            return _parse_file_dict(d, "real device profile", None)
        d = versioned_fields(d, "real device profile", SCHEMA_VERSION, (f.name for f in fields(cls)),
                             required=("name",), reads=f"{SCHEMA_VERSION} and {FILE_SCHEMA_VERSION}")
        if "axes_to_watch" in d:
            try:
                d["axes_to_watch"] = tuple(tuple(float(v) for v in row) for row in d["axes_to_watch"])
            except (TypeError, ValueError):
                raise ConfigError("real device profile: axes_to_watch must be 3 rows of 3 numbers") from None
        return cls(**d)

    def save(self, path: str | Path) -> Path:
        """Write the device description file (YAML, :meth:`to_file_dict`) to ``path``; returns it."""
        import yaml  # delays PyYAML: the floor layer loads only numpy / scipy at import

        p = Path(path)
        header = f"# device description ({self.name}); layout: toolkit/device_profiles.py\n"
        p.write_text(header + yaml.safe_dump(self.to_file_dict(), sort_keys=False, allow_unicode=True),
                     encoding="utf-8")
        return p


def _compact(values: tuple[float, float, float]) -> float | list[float]:
    return values[0] if values[0] == values[1] == values[2] else list(values)


def _as_vectors(x: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim < 1 or a.shape[-1] != 3:
        raise ConfigError(f"{what} must have shape (..., 3), got {a.shape}")
    return a


# ---------------------------------------------------------------------------------------------- file layout
def _key_error(where: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: key '{key}': {problem}")


def _check_keys(d: dict[str, Any], allowed: tuple[str, ...], where: str, prefix: str = "") -> None:
    for k in d:
        if k not in allowed:
            raise _key_error(where, prefix + str(k), f"unknown key (known: {', '.join(allowed)})")


def _file_number(d: dict[str, Any], key: str, where: str, label: str, positive: bool = True,
                 required: bool = False) -> float | None:
    v = d.get(key)
    if v is None:
        if required:
            raise _key_error(where, label, "missing (a positive number is required)")
        return None
    try:
        return _number(v, where, key, positive=positive)
    except ConfigError:
        kind = "a positive finite number" if positive else "a finite number"
        raise _key_error(where, label, f"must be {kind} (got {v!r})") from None


def _parse_axes(axes: Any, where: str) -> np.ndarray:
    """``{x: -Y, y: +X, z: +Z}`` -> (3, 3) A whose column j is the watch axis device axis j points along."""
    if not isinstance(axes, dict):
        raise _key_error(where, "axes", f"must be a mapping like {{x: -Y, y: +X, z: +Z}} (got {axes!r})")
    _check_keys(axes, ("x", "y", "z"), where, "axes.")
    a = np.zeros((3, 3))
    used: dict[str, str] = {}
    for j, dev in enumerate("xyz"):
        if dev not in axes:
            raise _key_error(where, f"axes.{dev}", "missing (each of x, y, z names a watch axis: +X, -Y, ...)")
        m = _AXIS_RE.match(str(axes[dev]).strip().upper())
        if m is None or isinstance(axes[dev], bool):
            raise _key_error(where, f"axes.{dev}", f"must be one of +X, -X, +Y, -Y, +Z, -Z (got {axes[dev]!r})")
        sign, watch = m.groups()
        if watch in used:
            raise _key_error(where, f"axes.{dev}", f"not a rotation: watch axis {watch} is already used by "
                             f"axes.{used[watch]} (each watch axis exactly once)")
        used[watch] = dev
        a["XYZ".index(watch), j] = -1.0 if sign == "-" else 1.0
    if np.linalg.det(a) < 0:
        raise _key_error(where, "axes", "left-handed mapping (a reflection, not a rotation): flip the sign of one "
                         "axis; a right-handed device has x cross y = z")
    return a


def _parse_file_dict(data: Any, where: str, default_name: str | None) -> RealDeviceProfile:
    """The file layout (module docstring) -> a validated :class:`RealDeviceProfile`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys (schema, rate_hz, axes, acc, ...), "
                          f"got {type(data).__name__}")
    _check_keys(data, _FILE_KEYS, where)
    if data.get("schema") != FILE_SCHEMA_VERSION:
        raise _key_error(where, "schema", f"must be {FILE_SCHEMA_VERSION} (got {data.get('schema')!r})")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise _key_error(where, "name", f"must be a non-empty string (got {name!r})")
    kw: dict[str, Any] = {"name": name}
    for key in ("description", "axes_source"):
        v = data.get(key, "")
        if not isinstance(v, str):
            raise _key_error(where, key, f"must be a string (got {v!r})")
        kw[key] = v
    wrist = data.get("wrist_worn", True)
    if not isinstance(wrist, bool):
        raise _key_error(where, "wrist_worn", f"must be true or false (got {wrist!r})")
    kw["wrist_worn"] = wrist
    kw["rate_hz"] = _file_number(data, "rate_hz", where, "rate_hz", required=True)
    sign = data.get("sign", "android")
    if sign not in ACC_SIGNS:
        raise _key_error(where, "sign", f"unknown sign {sign!r} (known: {', '.join(ACC_SIGNS)})")
    kw["acc_sign"] = sign
    if ("axes" in data) == ("matrix" in data):
        raise _key_error(where, "axes", "give exactly one of 'axes' (e.g. {x: -Y, y: +X, z: +Z}) or 'matrix'")
    if "axes" in data:
        a = _parse_axes(data["axes"], where)
    else:
        try:
            a = validate_rotation(data["matrix"], "matrix")
        except ConfigError as e:
            raise _key_error(where, "matrix", str(e).removeprefix("matrix: ")) from None
    kw["axes_to_watch"] = tuple(tuple(float(v) for v in row) for row in a)
    acc = data.get("acc")
    if not isinstance(acc, dict):
        raise _key_error(where, "acc", f"must be a mapping like {{units: m/s^2}} (got {acc!r})")
    _check_keys(acc, _ACC_KEYS, where, "acc.")
    units = acc.get("units")
    if units not in ACC_UNITS:
        raise _key_error(where, "acc.units", f"unknown units {units!r} (known: {', '.join(ACC_UNITS)})")
    kw["acc_units"] = units
    if units != "counts":
        for k in ("counts_per_g", "scale", "offset"):
            if k in acc:
                raise _key_error(where, f"acc.{k}", f"only meaningful with units: counts (units is {units!r})")
    else:
        if ("counts_per_g" in acc) == ("scale" in acc):
            raise _key_error(where, "acc", "units: counts needs exactly one of counts_per_g or scale "
                             "(value_SI = scale * code + offset)")
        kw["counts_per_g"] = _file_number(acc, "counts_per_g", where, "acc.counts_per_g")
        for k in ("scale", "offset"):
            try:
                kw[f"acc_{k}"] = _triple(acc.get(k), where, k, positive=False)
            except ConfigError:
                raise _key_error(where, f"acc.{k}", "must be one finite number or one per device axis (3), "
                                 f"got {acc.get(k)!r}") from None
        if kw["acc_scale"] is not None and 0.0 in kw["acc_scale"]:
            raise _key_error(where, "acc.scale", "must not be 0")
    kw["acc_range_g"] = _file_number(acc, "range_g", where, "acc.range_g")
    gyro = data.get("gyro")
    if gyro is None:
        kw.update(has_gyro=False, gyro_units=None)
    else:
        if not isinstance(gyro, dict):
            raise _key_error(where, "gyro", f"must be null (accelerometer-only) or a mapping like {{units: rad/s}} "
                             f"(got {gyro!r})")
        _check_keys(gyro, _GYRO_KEYS, where, "gyro.")
        if gyro.get("units") not in GYRO_UNITS:
            raise _key_error(where, "gyro.units", f"unknown units {gyro.get('units')!r} (known: "
                             f"{', '.join(GYRO_UNITS)}; gyro: null for an accelerometer-only device)")
        kw.update(has_gyro=True, gyro_units=gyro["units"],
                  gyro_range_dps=_file_number(gyro, "range_dps", where, "gyro.range_dps"))
    try:
        return RealDeviceProfile(**kw)
    except ConfigError as e:  # a check the keys above did not cover: keep the file name in front
        raise ConfigError(f"{where}: {e}") from None


def is_profile_path(value: Any) -> bool:
    """Whether ``value`` names a device description file (a path ending in .yaml / .yml)."""
    return isinstance(value, str | Path) and str(value).lower().endswith(PROFILE_SUFFIXES)


def load_profile_file(path: str | Path) -> RealDeviceProfile:
    """Read and validate a device description file (YAML, ``schema: 2``).

    Raises:
        InputFileError: missing or unreadable file, invalid YAML, or invalid content; the message is one line
            ``"PATH: key 'KEY': problem"``.
    """
    import yaml  # delays PyYAML: the floor layer loads only numpy / scipy at import

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(p, "no such device description file") from None
    except IsADirectoryError:
        raise InputFileError(p, "is a folder, not a device description file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(p, f"cannot read it ({e.__class__.__name__}: {e})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(p, f"not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
    try:
        return _parse_file_dict(data, "", p.stem)
    except ConfigError as e:
        raise InputFileError(p, str(e).removeprefix(": ")) from None


# ---------------------------------------------------------------------------------------------- built-ins
_BUILTIN: dict[str, RealDeviceProfile] | None = None


def _builtin_profiles() -> dict[str, RealDeviceProfile]:
    """The built-in profiles, read from ``toolkit/profiles/*.yaml`` once (in the order of :data:`_BUILTIN_ORDER`)."""
    global _BUILTIN
    if _BUILTIN is None:
        loaded = {}
        for path in sorted(PROFILES_DIR.glob("*.yaml")):
            prof = load_profile_file(path)
            if prof.name != path.stem:
                raise InputFileError(path, f"built-in profile name {prof.name!r} differs from the file name")
            loaded[prof.name] = prof
        order = [n for n in _BUILTIN_ORDER if n in loaded] + sorted(set(loaded) - set(_BUILTIN_ORDER))
        _BUILTIN = {n: loaded[n] for n in order}
    return _BUILTIN


#: Order of the built-in profiles in listings and error messages.
_BUILTIN_ORDER = ("wear-os-watch", "apple-watch", "empatica-e4", "android-phone", "polar-verity-sense",
                  "imu-stream", "basicmotions-watch")


def __getattr__(name: str) -> Any:
    # REAL_PROFILES is loaded from the package's YAML files on first use (PEP 562), so importing this floor module
    # does not import PyYAML.
    if name == "REAL_PROFILES":
        return _builtin_profiles()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_real_profile(name: str) -> RealDeviceProfile:
    """The built-in real-device profile ``name``; a one-line :class:`ConfigError` listing the known ones otherwise."""
    profiles = _builtin_profiles()
    try:
        return profiles[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown real device profile {name!r} (known: {', '.join(profiles)}; or a device "
                          "description file ending in .yaml)") from None


def resolve_profile(profile: RealDeviceProfile | str | Path) -> RealDeviceProfile:
    """A profile object from a profile, a built-in name, or the path of a device description file (.yaml / .yml).

    Raises:
        ConfigError: an unknown built-in name.
        InputFileError: a file that is missing or invalid (one line naming the file and key).
    """
    if isinstance(profile, RealDeviceProfile):
        return profile
    if is_profile_path(profile) or (isinstance(profile, Path)):
        return load_profile_file(profile)
    return get_real_profile(profile)


__all__ = [
    "ACC_SIGNS",
    "ACC_UNITS",
    "FILE_SCHEMA_VERSION",
    "G_MS2",
    "GYRO_UNITS",
    "PROFILES_DIR",
    "REAL_PROFILES",  # noqa: F822 - loaded on first use by the module __getattr__
    "RealDeviceProfile",
    "SCHEMA_VERSION",
    "get_real_profile",
    "is_profile_path",
    "load_profile_file",
    "resolve_profile",
    "validate_rotation",
]
