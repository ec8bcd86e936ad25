"""Virtual BLE peripherals that run on the in-process bumble radio (see ``firmware_bridge.backends.bumble_link``).

They take sample arrays (:class:`~firmware_bridge.virtual.sources.SampleSeries`); finding a recording by name
(``--virtual NAME``) is the command layer's job (:mod:`toolkit.cli.replays`).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it. Loaded on first use (PEP 562): importing one module of this package
#: does not import the others (nor their optional dependencies).
_PUBLIC = {
    "NAME_FORMS": "firmware_bridge.virtual.catalog",
    "VirtualDeviceSpec": "firmware_bridge.virtual.catalog",
    "make_virtual_peripheral": "firmware_bridge.virtual.catalog",
    "start_virtual_peripherals": "firmware_bridge.virtual.catalog",
    "FaultConfig": "firmware_bridge.virtual.peripheral",
    "VirtualPeripheral": "firmware_bridge.virtual.peripheral",
    "SampleSeries": "firmware_bridge.virtual.sources",
    "generate_protocol": "firmware_bridge.virtual.sources",
    "generate_sine": "firmware_bridge.virtual.sources",
    "generate_still": "firmware_bridge.virtual.sources",
    "worn": "firmware_bridge.virtual.sources",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
