"""Older calibration file formats, converted explicitly (as imucal's ``legacy`` module does).

Format 1 (``"schema": 1``, written before format versions existed) repeated ``"schema": 1`` at five levels (file,
device entry, profile, mount, static, rate) and did not write the input contract or the output frame. Its content
means exactly what format 2 means (the same ``apply`` steps), so the conversion only moves the version to the top,
drops the nested ``"schema"`` keys and adds the contract derived from the profile. :func:`upgrade` is called by
:meth:`calibration.device.CalibrationFile.from_dict`, which records the version it read
(:attr:`~calibration.device.CalibrationFile.read_format_version`); :meth:`~calibration.device.CalibrationFile.save`
then writes format 2.
"""

from __future__ import annotations

from typing import Any

from toolkit.errors import ConfigError

#: The last format that marked its version with ``"schema"`` keys.
LEGACY_SCHEMA = 1
#: The parts of a format-1 device entry that carried their own ``"schema": 1``.
_VERSIONED_PARTS = ("profile", "mount", "static", "rate")


def is_legacy(data: Any) -> bool:
    """Whether ``data`` (a file or a device entry) is in the schema-marked format 1 layout."""
    return isinstance(data, dict) and "schema" in data and "format_version" not in data and "kind" not in data


def _drop_schema(part: Any, where: str) -> Any:
    if not isinstance(part, dict):
        return part
    d = dict(part)
    schema = d.pop("schema", LEGACY_SCHEMA)
    if schema != LEGACY_SCHEMA:
        raise ConfigError(f"{where}: unsupported schema {schema!r} (format 1 files have schema {LEGACY_SCHEMA})")
    return d


def upgrade_entry(entry: Any) -> Any:
    """A format-1 device entry (``"schema": 1``) -> a format-2 entry without ``"schema"`` keys.

    The input contract and output frame are not added here: :meth:`DeviceCalibration.from_dict` derives them from
    the profile when an entry lacks them.
    """
    if not isinstance(entry, dict):
        return entry
    d = dict(entry)
    schema = d.pop("schema", None)
    if schema != LEGACY_SCHEMA:
        raise ConfigError(f"device calibration: unsupported schema {schema!r} (this program reads format_version 2 "
                          f"and the older schema {LEGACY_SCHEMA})")
    for key in _VERSIONED_PARTS:
        if key in d:
            d[key] = _drop_schema(d[key], f"device calibration: {key}")
    return d


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """A format-1 calibration file (``{"schema": 1, "devices": {...}}``) -> the format-2 layout.

    Raises:
        ConfigError: a schema other than 1 (the message names it), or entries that are not format 1.
    """
    d = dict(data)
    schema = d.pop("schema", None)
    if schema != LEGACY_SCHEMA:
        raise ConfigError(f"unsupported calibration file schema {schema!r} (this program reads format_version 2 "
                          f"and the older schema {LEGACY_SCHEMA})")
    devices = d.pop("devices", None)
    if d:
        raise ConfigError(f"unknown keys {', '.join(sorted(d))} (known in a schema-1 file: devices, schema)")
    if not isinstance(devices, dict):
        raise ConfigError("'devices' must be a mapping from device id to calibration")
    return {"devices": {k: upgrade_entry(v) for k, v in devices.items()}}


__all__ = ["LEGACY_SCHEMA", "is_legacy", "upgrade", "upgrade_entry"]
