"""Multi3Edge toolkit: simulation, models, training, streaming engine and command-line tools.

Its top-level modules are the floor of the code base (numpy / scipy only): :mod:`toolkit.errors`,
:mod:`toolkit.frames`, :mod:`toolkit.units`, :mod:`toolkit.mount`, :mod:`toolkit.device_profiles`,
:mod:`toolkit.programs`, :mod:`toolkit.hashing`, :mod:`toolkit.strict_json` (README "Floor plan").
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
