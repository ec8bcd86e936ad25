"""Running a program (floor layer): one-line errors instead of tracebacks, exit codes, output paths checked up
front. Every ``edge-*`` command (:mod:`toolkit.cli`) and ``python -m export.loso`` use it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from toolkit.errors import ConfigError, Multi3EdgeError
from toolkit.quiet import VERBOSE_FLAG, set_verbose

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def run_cli(prog: str, body: Callable[[], int]) -> int:
    """Run ``body`` and turn errors into one line on stderr with a non-zero exit code.

    A :class:`Multi3EdgeError` (bad input or option) exits 2 with its message. Anything else is a
    bug: one line saying so, exit 3; set ``MULTI3EDGE_DEBUG=1`` to see the traceback.
    """
    try:
        return body()
    except Multi3EdgeError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # the file system refused: a path the user gave (unwritable, full disk, /proc, ...)
        if os.environ.get("MULTI3EDGE_DEBUG"):
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"{prog}: error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence of a command-line tool
        if os.environ.get("MULTI3EDGE_DEBUG"):
            raise
        print(
            f"{prog}: internal error: {type(e).__name__}: {e} (set MULTI3EDGE_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def output_folder(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as an output folder, created if missing; ConfigError (one line) when it is a file or cannot be
    created or written (read-only places such as /proc)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{flag} {path}: cannot create the folder ({e.strerror or e})") from None
    if not os.access(path, os.W_OK | os.X_OK) or not _can_create_in(path):
        raise ConfigError(f"{flag} {path}: the folder is not writable")
    return path


def output_file(path: str | Path, flag: str = "--out", *, may_exist: bool = True) -> Path:
    """``path`` as an output file: its folder must exist and be writable; a folder, or (without ``may_exist``) an
    existing file, is a ConfigError."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a folder, expected a file name")
    if path.exists() and not may_exist:
        raise ConfigError(f"{flag} {path}: exists")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {path}: exists and is not a regular file")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{flag} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or not _can_create_in(parent):
        raise ConfigError(f"{flag} {path}: folder {parent} is not writable")
    return path


def _can_create_in(folder: Path) -> bool:
    """A file can really be created in ``folder`` (``os.access`` says yes to root even on /proc)."""
    probe = folder / f".multi3edge-write-test-{os.getpid()}"
    try:
        probe.touch(exist_ok=False)
    except FileExistsError:
        return True
    except OSError:
        return False
    probe.unlink(missing_ok=True)
    return True


class _UsageError(Exception):
    """A command-line usage error raised by a parser under :func:`parse_args`."""


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | None:
    """``parser.parse_args(argv)``, but a usage error (unknown flag, bad number, conflicting flags) is ONE line,
    ``PROG: error: ...`` on stderr, and None is returned (the caller returns :data:`EXIT_USAGE`) instead of
    argparse's usage block and ``SystemExit``. ``--help`` still prints and exits 0."""

    def error(message: str) -> NoReturn:
        raise _UsageError(message)

    parser.error = error  # type: ignore[method-assign]
    if VERBOSE_FLAG not in parser._option_string_actions:  # every command: third-party warnings (toolkit.quiet)
        parser.add_argument(VERBOSE_FLAG, action="store_true",
                            help="show third-party warnings and log lines (hidden by default)")
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return None
    set_verbose(bool(getattr(args, "verbose", False)))
    return args


__all__ = ["EXIT_INTERNAL", "EXIT_USAGE", "output_file", "output_folder", "parse_args", "run_cli"]
