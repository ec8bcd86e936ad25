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
    1. sign: iOS -> Android (negate acc; :func:`toolkit.units.from_device_units`, as the profile does);
    2. static correction in device axes: ``scale * (acc - acc_bias)``, ``gyro - gyro_bias`` (when measured);
    3. rotation into the dorsal watch frame of the worn wrist: the measured ``mount_rotation`` when present,
       else the nominal ``Mount.rotation() @ profile.axes_matrix``;
    4. right wrist: the mirror map into the left wrist (:func:`toolkit.mount.mirror_acc` /
       :func:`~toolkit.mount.mirror_gyro`).
output
    (N, 3) float64 acc and gyro in the canonical (left, dorsal) watch frame, SI, Android sign: what the models
    are trained on.

The units ``apply`` expects are checked when the caller states them (``units=`` / ``sign=``, or
:meth:`DeviceCalibration.apply_batch` with a decoded batch), as imucal's ``calibrate(acc, gyr, acc_unit, gyr_unit)``.

File format (``format_version`` 2; a committed golden file pins it, ``tests/fixtures/calibration/``)::

    {"kind": "device-calibration", "format_version": 2,
     "devices": {device_id: {
         "device_id": ..., "created_utc": "2026-01-02T03:04:05Z",
         "input":  {"units": {"acc": "m/s^2", "gyro": "rad/s"}, "axes": "device", "sign": "<the profile's>"},
         "output": {"frame": "watch/left/dorsal", "units": {"acc": "m/s^2", "gyro": "rad/s"}, "sign": "android"},
         "profile": {...}, "mount": {...}, "static": {...} | null, "mount_rotation": [[...]] | null,
         "rate": {...} | null, "notes": [...], "diagnostics": {...}}}}

One version, at the top: the parts carry no ``"schema"`` of their own. ``input`` and ``output`` are derived from the
profile and checked on load. :meth:`CalibrationFile.from_dict` tells a file written by a newer program (refused,
"update") from an older one: format 1 (``"schema": 1`` at five levels, no contract) is converted by
:mod:`calibration.legacy`, and :attr:`CalibrationFile.read_format_version` says which format was read.
:class:`CalibrationFile` keeps several devices, keyed by device id, in one JSON file, saved atomically.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from calibration import legacy
from calibration.legacy import LEGACY_SCHEMA
from calibration.results import RateEstimate, StaticCalibration
from toolkit.device_profiles import RealDeviceProfile, validate_rotation
from toolkit.errors import ConfigError, InputFileError
from toolkit.mount import CANONICAL_WRIST, Mount, mirror_acc, mirror_gyro
from toolkit.units import UnitConvention, from_device_units

#: What a calibration file is (its ``kind``).
KIND = "device-calibration"
#: The format this program writes; it reads this one and converts the older ``"schema": 1`` files.
FORMAT_VERSION = 2
#: The version marker of format 1 files (kept for old imports).
SCHEMA_VERSION = LEGACY_SCHEMA
#: Units ``apply`` expects (its input contract) and returns.
SI_UNITS = {"acc": "m/s^2", "gyro": "rad/s"}
#: The output frame: the canonical watch frame (:mod:`toolkit.frames`) of the left wrist, dorsal side.
OUTPUT_FRAME = "watch/left/dorsal"
_PARTS = ("profile", "mount", "static", "rate")
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

    def _sign_profile(self) -> UnitConvention:
        return UnitConvention(acc_units="m/s^2", acc_sign=self.profile.acc_sign, gyro_units="rad/s")

    # ------------------------------------------------------------------ the contract
    def input_contract(self) -> dict[str, Any]:
        """What :meth:`apply` expects: SI units, the device's own axes, the profile's accelerometer sign."""
        units = dict(SI_UNITS) if self.profile.has_gyro else {"acc": SI_UNITS["acc"]}
        return {"units": units, "axes": "device", "sign": self.profile.acc_sign}

    @staticmethod
    def output_contract() -> dict[str, Any]:
        """What :meth:`apply` returns: the canonical left dorsal watch frame, SI units, Android sign."""
        return {"frame": OUTPUT_FRAME, "units": dict(SI_UNITS), "sign": "android"}

    def check_input(self, units: Mapping[str, str], sign: str | None = None, *, gyro: bool = True) -> None:
        """Refuse samples whose stated units (``{"acc": ..., "gyro": ...}``) or sign differ from the input contract.

        ``sign`` None or ``"unknown"`` (a protocol that does not establish it) leaves the profile's sign assumed.
        """
        where = f"device calibration {self.device_id!r}"
        for channel in ("acc", "gyro") if gyro else ("acc",):
            got = units.get(channel)
            if got != SI_UNITS[channel]:
                raise ConfigError(f"{where}: {channel} given in {got!r}, expected {SI_UNITS[channel]!r} "
                                  "(convert first, e.g. ImuBatch.to_si())")
        if sign not in (None, "unknown", self.profile.acc_sign):
            raise ConfigError(f"{where}: acc sign {sign!r} differs from the profile's {self.profile.acc_sign!r}")

    def apply(self, acc_ms2: np.ndarray, gyro_rads: np.ndarray | None = None, *,
              units: Mapping[str, str] | None = None, sign: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Device samples -> the canonical (left, dorsal) watch frame (module docstring).

        Args:
            acc_ms2: (N, 3) specific force [m/s^2] in the device's axes with the profile's sign.
            gyro_rads: (N, 3) angular velocity [rad/s] in the device's axes, or None.
            units: the units the samples are in (``{"acc": "m/s^2", "gyro": "rad/s"}``); checked against the input
                contract when given (:meth:`check_input`).
            sign: the samples' accelerometer sign convention; checked when given.

        Returns:
            ``(acc, gyro)``: (N, 3) float64 in the canonical watch frame (gyro None when not given).

        Raises:
            ConfigError: bad shapes, units or sign other than the contract's, or a gyro array for a profile without a
                gyroscope.
        """
        if units is not None or sign is not None:
            self.check_input(units if units is not None else SI_UNITS, sign, gyro=gyro_rads is not None)
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

    def apply_batch(self, batch: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`apply` on a decoded batch (an :class:`~firmware_bridge.protocols.base.ImuBatch` in SI units, or
        anything with ``acc``, ``gyro``, ``units`` and ``sign``): its units and sign are checked."""
        return self.apply(batch.acc, batch.gyro, units=batch.units, sign=getattr(batch, "sign", None))

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready device entry of a format-2 calibration file (module docstring): contract, parts without
        ``"schema"`` keys (the version is the file's ``format_version``)."""
        def part(value: Any) -> Any:
            if value is None:
                return None
            d = value.to_dict()
            d.pop("schema", None)
            return d

        return {
            "device_id": self.device_id,
            "created_utc": self.created_utc,
            "input": self.input_contract(),
            "output": self.output_contract(),
            "profile": part(self.profile),
            "mount": part(self.mount),
            "static": part(self.static),
            "mount_rotation": None if self.mount_rotation is None else [list(row) for row in self.mount_rotation],
            "rate": part(self.rate),
            "notes": list(self.notes),
            "diagnostics": self.diagnostics,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceCalibration:
        """Inverse of :meth:`to_dict`; a format-1 entry (``"schema": 1``) is converted by :mod:`calibration.legacy`.

        Raises:
            ConfigError: not a mapping, wrong schema, unknown or missing keys, invalid parts, or an ``input`` /
                ``output`` contract other than the one the profile implies.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"device calibration: expected a mapping, got {type(data).__name__}")
        if "schema" in data:
            d = legacy.upgrade_entry(data)
        else:
            d = dict(data)
            for key in _PARTS:
                if isinstance(d.get(key), dict) and "schema" in d[key]:
                    raise ConfigError(f"device calibration: {key}: unknown key 'schema' (format_version "
                                      f"{FORMAT_VERSION} has one version, at the top of the file)")
        contract = {key: d.pop(key) for key in ("input", "output") if key in d}
        for key in _PARTS:  # the parts' own readers take their (format 1) version marker
            if isinstance(d.get(key), dict):
                d[key] = {"schema": LEGACY_SCHEMA, **d[key]}
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
        cal = cls(**d)
        for key, expected in (("input", cal.input_contract()), ("output", cal.output_contract())):
            if key in contract and contract[key] != expected:
                raise ConfigError(f"device calibration {cal.device_id!r}: {key} contract {contract[key]!r} differs "
                                  f"from what this program applies ({expected!r})")
        return cal


class CalibrationFile:
    """Several :class:`DeviceCalibration` objects in one JSON file, keyed by device id.

    Layout: ``{"kind": "device-calibration", "format_version": 2, "devices": {device_id: entry}}`` (module
    docstring). :attr:`read_format_version` is the format a loaded file was in (1: converted from the older
    ``"schema": 1`` layout; :meth:`save` writes format 2).
    """

    def __init__(self, devices: dict[str, DeviceCalibration] | None = None) -> None:
        self.devices: dict[str, DeviceCalibration] = {}
        self.read_format_version = FORMAT_VERSION
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
        return {"kind": KIND, "format_version": FORMAT_VERSION,
                "devices": {k: self.devices[k].to_dict() for k in self.ids()}}

    @classmethod
    def from_dict(cls, data: Any) -> CalibrationFile:
        """Validated inverse of :meth:`to_dict` (:class:`ConfigError` on any problem)."""
        if not isinstance(data, dict):
            raise ConfigError(f"expected a JSON object, got {type(data).__name__}")
        if legacy.is_legacy(data):
            d, read_version = legacy.upgrade(data), LEGACY_SCHEMA
        else:
            d = dict(data)
            kind, version = d.pop("kind", None), d.pop("format_version", None)
            if kind != KIND:
                raise ConfigError(f"not a calibration file: kind {kind!r} (expected {KIND!r})")
            if isinstance(version, bool) or not isinstance(version, int):
                raise ConfigError(f"format_version must be an integer (got {version!r})")
            if version > FORMAT_VERSION:
                raise ConfigError(f"written by a newer program: format_version {version} (this program reads up to "
                                  f"{FORMAT_VERSION}); update multi3edge to read it")
            if version < FORMAT_VERSION:
                raise ConfigError(f"unknown older format_version {version} (this program reads {FORMAT_VERSION} and "
                                  f"converts the older schema-{LEGACY_SCHEMA} files)")
            read_version = version
        devices = d.pop("devices", None)
        if d:
            raise ConfigError(f"unknown keys {', '.join(sorted(d))} (known: devices, format_version, kind)")
        if not isinstance(devices, dict):
            raise ConfigError("'devices' must be a mapping from device id to calibration")
        out = cls()
        for key, value in devices.items():
            cal = DeviceCalibration.from_dict(value)
            if cal.device_id != key:
                raise ConfigError(f"device {key!r}: its calibration says device_id {cal.device_id!r}")
            out.set(cal)
        out.read_format_version = read_version
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


__all__ = [
    "FORMAT_VERSION",
    "KIND",
    "OUTPUT_FRAME",
    "SCHEMA_VERSION",
    "SI_UNITS",
    "CalibrationFile",
    "DeviceCalibration",
    "utc_now",
]
