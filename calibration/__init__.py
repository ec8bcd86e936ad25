"""Device profiles and the mapping of real devices into the simulator's frame (issue: calibration).

* :mod:`calibration.profiles`: :class:`~calibration.profiles.RealDeviceProfile` (units, sign, device axes -> watch
  frame, rate, range; JSON round trip with ``"schema": 1``) and the built-in real-device registry.
* :mod:`calibration.mount`: :class:`~calibration.mount.Mount` (wrist, face, rotation about the forearm) and the
  right -> left mirror map (canonical wrist: left).
"""
