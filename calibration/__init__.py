"""Device profiles and the mapping of real devices into the simulator's frame (issue: calibration).

* device descriptions live on the floor below: :mod:`toolkit.device_profiles`
  (:class:`~toolkit.device_profiles.RealDeviceProfile` and the real-device registry) and :mod:`toolkit.mount`
  (:class:`~toolkit.mount.Mount`, the right -> left mirror map); ``calibration.profiles`` and ``calibration.mount``
  re-export them under their old names.
* :mod:`calibration.results`: the result types (:class:`~calibration.results.StaticCalibration`,
  :class:`~calibration.results.RateEstimate`), data only, apart from the fitters, so that loading a calibration file
  imports no optimiser.
* :mod:`calibration.stillness`: still periods of a sample stream (:func:`~calibration.stillness.find_still_segments`).
* :mod:`calibration.static`: accelerometer bias and diagonal scale against |g|, gyroscope bias
  (:class:`~calibration.static.StaticCalibration`, :func:`~calibration.static.fit_static`), with an
  identifiability check.
* :mod:`calibration.orientation`: the mount procedure (arm hanging, arm forward palm down) and the device -> wrist
  rotation from the two gravity directions (:func:`~calibration.orientation.estimate_mount_rotation`).
* :mod:`calibration.rate`: true sample rate, lost samples and device clock drift from timestamps
  (:func:`~calibration.rate.estimate_rate`).
* :mod:`calibration.device`: :class:`~calibration.device.DeviceCalibration` (profile, mount, static, measured
  rotation, rate; ``apply`` into the canonical frame; versioned JSON) and the per-device
  :class:`~calibration.device.CalibrationFile`.
* :mod:`calibration.procedure`: the protocol and :func:`~calibration.procedure.calibrate_stream`, the whole
  procedure on one recording (for ``edge-calibrate``).
"""

from __future__ import annotations

from toolkit.lazy_exports import lazy_exports

#: Public name -> the module that defines it. Loaded on first use (PEP 562), so that importing one module of this
#: package (say, to load a calibration file) does not import every other one.
_PUBLIC = {
    "CalibrationFile": "calibration.device",
    "DeviceCalibration": "calibration.device",
    "RateEstimate": "calibration.results",
    "StaticCalibration": "calibration.results",
    "PROTOCOL": "calibration.procedure",
    "ProtocolStep": "calibration.procedure",
    "calibrate_stream": "calibration.procedure",
    "fit_static": "calibration.static",
    "estimate_rate": "calibration.rate",
    "MountEstimate": "calibration.orientation",
    "estimate_mount_rotation": "calibration.orientation",
    "StillSegment": "calibration.stillness",
    "find_still_segments": "calibration.stillness",
    "Mount": "toolkit.mount",
    "REAL_PROFILES": "toolkit.device_profiles",
    "RealDeviceProfile": "toolkit.device_profiles",
    "get_real_profile": "toolkit.device_profiles",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
