"""Moved to :mod:`toolkit.programs` (floor layer, so that library code such as ``export.loso`` can use it); this
re-export keeps the old import path working for the commands."""

from toolkit.programs import *  # noqa: F403
from toolkit.programs import __all__  # noqa: F401
