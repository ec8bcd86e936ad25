"""Reading a versioned dict back (floor layer, standard library only).

Small objects (mounts, device profiles, calibration results) serialise to a JSON-ready dict with a ``"schema"``
version; :func:`versioned_fields` is the one check their ``from_dict`` methods share: a mapping, the right schema,
known keys only, required keys present, each failure one :class:`~toolkit.errors.ConfigError` line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from toolkit.errors import ConfigError

_NO_DEFAULT = object()


def versioned_fields(data: Any, what: str, version: int, known: Iterable[str], *, required: Iterable[str] = (),
                     missing_schema: Any = _NO_DEFAULT, reads: str | None = None) -> dict[str, Any]:
    """``data`` without its ``"schema"`` key, after checking it.

    Args:
        data: the dict read back (anything: it is checked).
        what: the object's name for messages, e.g. ``"mount"``.
        version: the schema version this program reads.
        known: the allowed keys (besides ``"schema"``).
        required: keys that must be present.
        missing_schema: the version assumed when ``"schema"`` is absent (default: absent is an error).
        reads: the versions named in the error (default ``str(version)``).

    Raises:
        ConfigError: not a mapping, another schema version, unknown or missing keys.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{what}: expected a mapping, got {type(data).__name__}")
    d = dict(data)
    schema = d.pop("schema", None if missing_schema is _NO_DEFAULT else missing_schema)
    if schema != version:
        raise ConfigError(f"{what}: unsupported schema {schema!r} (this version reads {reads or version})")
    known = set(known)
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"{what}: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for key in required:
        if key not in d:
            raise ConfigError(f"{what}: missing key {key!r}")
    return d


__all__ = ["versioned_fields"]
