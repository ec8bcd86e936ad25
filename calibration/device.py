"""Per-device calibration: everything needed to bring one physical device's samples into the model's frame.

:class:`DeviceCalibration` bundles the device's :class:`~toolkit.device_profiles.RealDeviceProfile` (units, sign,
nominal axes), its :class:`~toolkit.mount.Mount` (wrist, face), and the results of the procedures: the
:class:`~calibration.static.StaticCalibration` (biases, scale), the measured mount rotation
(:mod:`calibration.orientation`) and the :class:`~calibration.rate.RateEstimate`. :meth:`DeviceCalibration.apply` is
the interface of the streaming engine:

input
    (N, 3) acc [m/s^2] and gyro [rad/s] in the **device's own axes**, with the **profile's sign** (what the BLE
    layer delivers after unit conversion: SI units, iOS devices still with -g up at rest).
steps
    1. sign: iOS -> Android (negate acc; :func:`toolkit.sim.devices.from_device_units`, as the profile does);
    2. static correction in device axes: ``scale * (acc - acc_bias)``, ``gyro - gyro_bias`` (when measured);
    3. rotation into the dorsal watch frame of the worn wrist: the measured ``mount_rotation`` when present,
       else the nominal ``Mount.rotation() @ profile.axes_matrix``;
    4. right wrist: the mirror map into the left wrist (:func:`toolkit.mount.mirror_acc` /
       :func:`~toolkit.mount.mirror_gyro`).
output
    (N, 3) float64 acc and gyro in the canonical (left, dorsal) watch frame, SI, Android sign: what the models
    are trained on.

Serialisation: :meth:`DeviceCalibration.to_dict` gives a JSON-ready dict with ``"schema": 1``; the profile,
mount, static and rate parts are their own versioned dicts. :meth:`DeviceCalibration.from_dict` validates
everything and refuses unknown keys. :class:`CalibrationFile` keeps several devices, keyed by device id, in one
JSON file (``{"schema": 1, "devices": {id: calibration}}``), saved atomically.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from calibration.results import RateEstimate, StaticCalibration
from toolkit.device_profiles import RealDeviceProfile, validate_rotation
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import CANONICAL_WRIST, Mount, mirror_acc, mirror_gyro
from toolkit.sim.devices import DeviceProfile, from_device_units

SCHEMA_VERSION = 1
Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


def utc_now() -> str:
    """The current UTC time as ISO 8601 with a ``Z``, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_json_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, str | bool):
        return
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: non-finite number {value!r} (not valid JSON)")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_json_value(v, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"{where}: keys must be strings (got {k!r})")
            _check_json_value(v, f"{where}.{k}")
        return
    raise ConfigError(f"{where}: {type(value).__name__} is not a JSON value")


def _plain(value: Any) -> Any:
    """numpy scalars / arrays and tuples -> plain Python JSON values (recursively)."""
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class DeviceCalibration:
    """The calibration of one physical device.

    Attributes:
        device_id: the device's identity (BLE address, serial number...), a non-empty string.
        profile: the device's :class:`RealDeviceProfile`.
        mount: how it is worn (:class:`Mount`); its wrist decides the mirroring.
        static: bias/scale correction in device axes, or None (not measured).
        mount_rotation: 3x3 rotation (tuple of rows), ``v_dorsal_wrist = R @ v_device``, measured by the mount
            procedure; replaces ``Mount.rotation() @ profile.axes_matrix`` when present. None: nominal.
        rate: measured sample rate and clock drift, or None.
        created_utc: when the calibration was made (ISO 8601).
        notes: human-readable remarks of the procedure.
        diagnostics: JSON-ready numbers of the procedure (angles, residuals, segment times...).
    """

    device_id: str
    profile: RealDeviceProfile
    mount: Mount = field(default_factory=Mount)
    static: StaticCalibration | None = None
    mount_rotation: Matrix3 | None = None
    rate: RateEstimate | None = None
    created_utc: str = ""
    notes: tuple[str, ...] = ()
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.device_id, str) or not self.device_id.strip():
            raise ConfigError(f"device calibration: device_id must be a non-empty string (got {self.device_id!r})")
        where = f"device calibration {self.device_id!r}"
        for key, cls in (("profile", RealDeviceProfile), ("mount", Mount)):
            if not isinstance(getattr(self, key), cls):
                raise ConfigError(f"{where}: {key} must be a {cls.__name__}")
        for key, cls in (("static", StaticCalibration), ("rate", RateEstimate)):
            v = getattr(self, key)
            if v is not None and not isinstance(v, cls):
                raise ConfigError(f"{where}: {key} must be a {cls.__name__} or None")
        if self.mount_rotation is not None:
            r = validate_rotation(self.mount_rotation, f"{where}: mount_rotation")
            object.__setattr__(self, "mount_rotation", tuple(tuple(float(v) for v in row) for row in r))
        if self.static is not None and self.static.gyro_fitted and not self.profile.has_gyro:
            raise ConfigError(f"{where}: a gyro bias for profile {self.profile.name!r}, which has no gyroscope")
        if not isinstance(self.created_utc, str):
            raise ConfigError(f"{where}: created_utc must be a string")
        if self.created_utc:
            try:
                datetime.fromisoformat(self.created_utc)
            except ValueError:
                raise ConfigError(f"{where}: created_utc is not an ISO 8601 time ({self.created_utc!r})") from None
        notes = self.notes
        if isinstance(notes, str) or not isinstance(notes, tuple | list) or not all(isinstance(n, str) for n in notes):
            raise ConfigError(f"{where}: notes must be a list of strings")
        object.__setattr__(self, "notes", tuple(notes))
        if not isinstance(self.diagnostics, dict):
            raise ConfigError(f"{where}: diagnostics must be a mapping")
        diag = _plain(self.diagnostics)
        _check_json_value(diag, f"{where}: diagnostics")
        object.__setattr__(self, "diagnostics", diag)

    # ------------------------------------------------------------------ construction
    @classmethod
    def identity(cls, device_id: str, profile: RealDeviceProfile, mount: Mount | None = None) -> DeviceCalibration:
        """The calibration of a device no procedure has been run on: profile and mount only."""
        return cls(device_id=device_id, profile=profile, mount=mount or Mount(), created_utc=utc_now(),
                   notes=("no calibration procedure run: nominal profile axes and mount",))

    def with_updates(self, **changes: Any) -> DeviceCalibration:
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ the streaming interface
    @property
    def measured_mount(self) -> bool:
        """Whether a measured mount rotation replaces the nominal one."""
        return self.mount_rotation is not None

    def rotation_to_wrist(self) -> np.ndarray:
        """(3, 3) device axes -> dorsal watch frame of the worn wrist: measured, else nominal."""
        if self.mount_rotation is not None:
            return np.array(self.mount_rotation, dtype=np.float64)
        return self.mount.rotation() @ self.profile.axes_matrix

    def _sign_profile(self) -> DeviceProfile:
        return DeviceProfile(name=f"{self.profile.name}:sign", acc_units="m/s^2", acc_sign=self.profile.acc_sign,
                             gyro_units="rad/s", has_gyro=self.profile.has_gyro)

    def apply(self, acc_ms2: np.ndarray, gyro_rads: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Device samples -> the canonical (left, dorsal) watch frame (module docstring).

        Args:
            acc_ms2: (N, 3) specific force [m/s^2] in the device's axes with the profile's sign.
            gyro_rads: (N, 3) angular velocity [rad/s] in the device's axes, or None.

        Returns:
            ``(acc, gyro)``: (N, 3) float64 in the canonical watch frame (gyro None when not given).

        Raises:
            ConfigError: bad shapes, or a gyro array for a profile without a gyroscope.
        """
        a = np.asarray(acc_ms2, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 3:
            raise ConfigError(f"device calibration: acc must have shape (N, 3), got {a.shape}")
        w = None
        if gyro_rads is not None:
            if not self.profile.has_gyro:
                raise ConfigError(f"device calibration: profile {self.profile.name!r} has no gyroscope")
            w = np.asarray(gyro_rads, dtype=np.float64)
            if w.shape != a.shape:
                raise ConfigError(f"device calibration: gyro shape {w.shape} differs from acc shape {a.shape}")
        a = from_device_units(a, self._sign_profile(), "acc")
        if self.static is not None:
            a, w = self.static.apply(a, w)
        r = self.rotation_to_wrist()
        a = a @ r.T
        w = None if w is None else w @ r.T
        if self.mount.wrist != CANONICAL_WRIST:
            a = mirror_acc(a)
            w = None if w is None else mirror_gyro(w)
        return a, w

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"schema": 1``."""
        return {
            "schema": SCHEMA_VERSION,
            "device_id": self.device_id,
            "profile": self.profile.to_dict(),
            "mount": self.mount.to_dict(),
            "static": None if self.static is None else self.static.to_dict(),
            "mount_rotation": None if self.mount_rotation is None else [list(row) for row in self.mount_rotation],
            "rate": None if self.rate is None else self.rate.to_dict(),
            "created_utc": self.created_utc,
            "notes": list(self.notes),
            "diagnostics": self.diagnostics,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceCalibration:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: not a mapping, wrong schema, unknown or missing keys, invalid parts.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"device calibration: expected a mapping, got {type(data).__name__}")
        d = dict(data)
        schema = d.pop("schema", None)
        if schema != SCHEMA_VERSION:
            raise ConfigError(
                f"device calibration: unsupported schema {schema!r} (this version reads {SCHEMA_VERSION})"
            )
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            known_s = ", ".join(sorted(known))
            raise ConfigError(f"device calibration: unknown keys {', '.join(unknown)} (known: {known_s})")
        for key in ("device_id", "profile", "mount"):
            if key not in d:
                raise ConfigError(f"device calibration: missing key {key!r}")
        d["profile"] = RealDeviceProfile.from_dict(d["profile"])
        d["mount"] = Mount.from_dict(d["mount"])
        if d.get("static") is not None:
            d["static"] = StaticCalibration.from_dict(d["static"])
        if d.get("rate") is not None:
            d["rate"] = RateEstimate.from_dict(d["rate"])
        if d.get("mount_rotation") is not None:
            m = d["mount_rotation"]
            if not isinstance(m, list | tuple) or not all(isinstance(row, list | tuple) for row in m):
                raise ConfigError("device calibration: mount_rotation must be 3 rows of 3 numbers")
            try:
                d["mount_rotation"] = tuple(tuple(float(v) for v in row) for row in m)
            except (TypeError, ValueError):
                raise ConfigError("device calibration: mount_rotation must be 3 rows of 3 numbers") from None
        if "notes" in d and not isinstance(d["notes"], list):
            raise ConfigError("device calibration: notes must be a list of strings")
        if "notes" in d:
            d["notes"] = tuple(d["notes"])
        return cls(**d)


class CalibrationFile:
    """Several :class:`DeviceCalibration` objects in one JSON file, keyed by device id.

    Layout: ``{"schema": 1, "devices": {device_id: DeviceCalibration.to_dict()}}``.
    """

    def __init__(self, devices: dict[str, DeviceCalibration] | None = None) -> None:
        self.devices: dict[str, DeviceCalibration] = {}
        for cal in (devices or {}).values():
            self.set(cal)

    def __len__(self) -> int:
        return len(self.devices)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self.devices

    def ids(self) -> list[str]:
        """The device ids, sorted."""
        return sorted(self.devices)

    def get(self, device_id: str) -> DeviceCalibration:
        """The calibration of ``device_id``; :class:`ConfigError` listing the known ids when absent."""
        try:
            return self.devices[device_id]
        except KeyError:
            known = ", ".join(self.ids()) or "none"
            raise ConfigError(f"no calibration for device {device_id!r} (calibrated: {known})") from None

    def set(self, cal: DeviceCalibration) -> None:
        """Add or replace the calibration of ``cal.device_id``."""
        if not isinstance(cal, DeviceCalibration):
            raise ConfigError(f"calibration file: expected a DeviceCalibration, got {type(cal).__name__}")
        self.devices[cal.device_id] = cal

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "devices": {k: self.devices[k].to_dict() for k in self.ids()}}

    @classmethod
    def from_dict(cls, data: Any) -> CalibrationFile:
        """Validated inverse of :meth:`to_dict` (:class:`ConfigError` on any problem)."""
        if not isinstance(data, dict):
            raise ConfigError(f"expected a JSON object, got {type(data).__name__}")
        d = dict(data)
        schema = d.pop("schema", None)
        if schema != SCHEMA_VERSION:
            raise ConfigError(f"unsupported calibration file schema {schema!r} (this version reads {SCHEMA_VERSION})")
        devices = d.pop("devices", None)
        if d:
            raise ConfigError(f"unknown keys {', '.join(sorted(d))} (known: devices, schema)")
        if not isinstance(devices, dict):
            raise ConfigError("'devices' must be a mapping from device id to calibration")
        out = cls()
        for key, value in devices.items():
            cal = DeviceCalibration.from_dict(value)
            if cal.device_id != key:
                raise ConfigError(f"device {key!r}: its calibration says device_id {cal.device_id!r}")
            out.set(cal)
        return out

    @classmethod
    def load(cls, path: str | Path, missing_ok: bool = False) -> CalibrationFile:
        """Read a calibration file; an empty one when ``missing_ok`` and the file does not exist.

        Raises:
            InputFileError: unreadable, not JSON, wrong schema, or invalid content (the message says which).
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls()
            raise InputFileError(p, "calibration file not found") from None
        except OSError as e:
            raise InputFileError(p, f"cannot read ({e.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputFileError(p, f"not valid JSON ({e.msg} at line {e.lineno})") from None
        try:
            return cls.from_dict(data)
        except ConfigError as e:
            raise InputFileError(p, f"invalid calibration file: {e}") from None

    def save(self, path: str | Path) -> Path:
        """Write the file atomically (a temporary file in the same folder, then ``os.replace``)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p


__all__ = ["CalibrationFile", "DeviceCalibration", "SCHEMA_VERSION", "utc_now"]
