"""BLE transport, device protocols, virtual devices, recording and replay (issue: firmware_bridge).

Public API (import these names from ``firmware_bridge``; each is loaded on first use, so ``import firmware_bridge``
pulls neither bleak nor bumble):

* devices and backends: :data:`~firmware_bridge.devices.PROFILES`, :func:`~firmware_bridge.devices.get_profile`,
  :func:`~firmware_bridge.devices.recording_decoders`, :func:`~firmware_bridge.backends.get_backend`
  (``"platform"`` or ``"virtual"``), :func:`~firmware_bridge.backends.bumble_link.close_radio`;
* streaming: :class:`~firmware_bridge.session.StreamSession`, :class:`~firmware_bridge.session.DeviceSpec`,
  :class:`~firmware_bridge.session.StreamBatch`, :func:`~firmware_bridge.session.concat_batches`,
  :func:`~firmware_bridge.transport.scan`;
* for programs: :func:`~firmware_bridge.connect.open_devices`, :func:`~firmware_bridge.connect.start_and_connect`,
  :func:`~firmware_bridge.connect.stop_on_signals`, :class:`~firmware_bridge.connect.BluetoothUnavailableError`;
* recordings: :class:`~firmware_bridge.recording.RecordingWriter`, :func:`~firmware_bridge.recording.decode_recording`,
  :func:`~firmware_bridge.playback.open_recording`, :func:`~firmware_bridge.playback.recorded_streams`;
* decoded data: :class:`~firmware_bridge.protocols.base.ImuBatch`,
  :class:`~firmware_bridge.protocols.base.DecodeError`;
* virtual devices: :class:`~firmware_bridge.virtual.catalog.VirtualDeviceSpec`,
  :func:`~firmware_bridge.virtual.catalog.make_virtual_peripheral`,
  :class:`~firmware_bridge.virtual.peripheral.FaultConfig`,
  :class:`~firmware_bridge.virtual.sources.SampleSeries` (finding a recording by name: :mod:`toolkit.cli.replays`).
"""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

#: Public name -> the module that defines it. Loaded on first use (PEP 562), so that importing one module of this
#: package (say, to load a calibration file) does not import every other one.
_PUBLIC = {
    "PROFILES": "firmware_bridge.devices",
    "get_profile": "firmware_bridge.devices",
    "recording_decoders": "firmware_bridge.devices",
    "Backend": "firmware_bridge.backends",
    "get_backend": "firmware_bridge.backends",
    "close_radio": "firmware_bridge.backends.bumble_link",
    "DeviceSpec": "firmware_bridge.session",
    "StreamBatch": "firmware_bridge.session",
    "StreamSession": "firmware_bridge.session",
    "concat_batches": "firmware_bridge.session",
    "RetryPolicy": "firmware_bridge.transport",
    "scan": "firmware_bridge.transport",
    "BluetoothUnavailableError": "firmware_bridge.connect",
    "open_devices": "firmware_bridge.connect",
    "start_and_connect": "firmware_bridge.connect",
    "stop_on_signals": "firmware_bridge.connect",
    "RecordingWriter": "firmware_bridge.recording",
    "decode_recording": "firmware_bridge.recording",
    "read_recording": "firmware_bridge.recording",
    "open_recording": "firmware_bridge.playback",
    "recorded_streams": "firmware_bridge.playback",
    "DecodeError": "firmware_bridge.protocols.base",
    "ImuBatch": "firmware_bridge.protocols.base",
    "VirtualDeviceSpec": "firmware_bridge.virtual.catalog",
    "make_virtual_peripheral": "firmware_bridge.virtual.catalog",
    "FaultConfig": "firmware_bridge.virtual.peripheral",
    "VirtualPeripheral": "firmware_bridge.virtual.peripheral",
    "SampleSeries": "firmware_bridge.virtual.sources",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
