"""Multi3Edge toolkit: simulation, models, training, streaming engine and command-line tools."""

__version__ = "0.1.0"
