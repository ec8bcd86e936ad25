"""Moved to :mod:`toolkit.device_profiles` (floor layer); this re-export keeps the old import path working."""

from toolkit.device_profiles import *  # noqa: F403
from toolkit.device_profiles import __all__  # noqa: F401
