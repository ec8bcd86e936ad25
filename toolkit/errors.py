"""Errors a user can act on. Command-line tools print them on one line and exit non-zero.

Every error here survives a pickle round trip, so a worker process can raise it and the parent
re-raises (or reports) the same error: an exception whose ``__init__`` takes other arguments than
``Exception.args`` must say how to rebuild itself (``__reduce__``), otherwise unpickling it in the
parent fails and ``concurrent.futures`` reports a ``BrokenProcessPool`` instead of the message.
"""

from __future__ import annotations

from pathlib import Path


class Multi3EdgeError(Exception):
    """Base class of every error the toolkit raises on bad input or bad configuration."""


class InputFileError(Multi3EdgeError):
    """A file could not be used: the message names the file and what was expected.

    Attributes:
        path: the file, as given.
        problem: what is wrong with it (one line, without the file name).
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        # rebuilt from (path, problem), not from args = (message,); subclasses with the same
        # signature inherit this
        return (type(self), (self.path, self.problem))


class ConfigError(Multi3EdgeError):
    """An option or parameter is out of its valid range or unknown."""


__all__ = [
    "ConfigError",
    "InputFileError",
    "Multi3EdgeError",
]
