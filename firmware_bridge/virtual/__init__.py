"""Virtual BLE peripherals that run on the in-process bumble radio (see ``firmware_bridge.backends.bumble_link``).

They take sample arrays (:class:`~firmware_bridge.virtual.sources.SampleSeries`); finding a recording by name
(``--virtual NAME``) is the command layer's job (:mod:`toolkit.cli.replays`).
"""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

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

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
