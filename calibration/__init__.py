"""Device profiles and the mapping of real devices into the simulator's frame (issue: calibration).

* :mod:`toolkit.device_profiles`: :class:`~toolkit.device_profiles.RealDeviceProfile` (units, sign, device axes -> watch
  frame, rate, range; JSON round trip with ``"schema": 1``) and the built-in real-device registry.
* :mod:`toolkit.mount`: :class:`~toolkit.mount.Mount` (wrist, face, rotation about the forearm) and the
  right -> left mirror map (canonical wrist: left).
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
