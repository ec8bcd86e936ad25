"""Device profiles and the mapping of real devices into the simulator's frame (issue: calibration)."""
