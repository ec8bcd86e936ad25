"""Errors a user can act on. Command-line tools print them on one line and exit non-zero."""

from __future__ import annotations

from pathlib import Path


class Multi3EdgeError(Exception):
    """Base class of every error the toolkit raises on bad input or bad configuration."""


class InputFileError(Multi3EdgeError):
    """A file could not be used: the message names the file and what was expected."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(Multi3EdgeError):
    """An option or parameter is out of its valid range or unknown."""
