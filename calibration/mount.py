"""Moved to :mod:`toolkit.mount` (floor layer); this re-export keeps the old import path working."""

from toolkit.mount import *  # noqa: F403
from toolkit.mount import __all__  # noqa: F401
