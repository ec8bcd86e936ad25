"""Quiet third-party output for the ``edge-*`` commands (floor layer, standard library only).

Every command hides the warnings and log chatter of the libraries it drives (torchao's "Failed to load" lines, the
``FutureWarning`` that torch's export emits per operator, TensorFlow/LiteRT C++ info lines, the torch ONNX exporter's
registration notes, ...) unless ``--verbose`` is given (or ``MULTI3EDGE_VERBOSE=1`` is set). The toolkit's own
warnings (modules ``toolkit``, ``export``, ``calibration``, ``firmware_bridge``) and errors stay visible.

One mechanism, installed by :mod:`toolkit.cli` when the command package is imported, i.e. *before* any command
module imports torch, torchao, executorch or LiteRT (their warnings fire at import time):

* a ``warnings`` filter that ignores warnings attributed to modules outside the project;
* third-party loggers (:data:`THIRD_PARTY_LOGGERS`) set to ERROR;
* environment variables read by C++ loggers when their library loads (``TF_CPP_MIN_LOG_LEVEL``, ``GLOG_minloglevel``),
  set only when the user has not set them;
* in a command process only (an ``edge-*`` script or ``python -m toolkit.cli...``; never in a test run): a line filter
  on file descriptor 2 that drops the C++ info lines no Python setting reaches (:data:`NOISE_LINES`: ExecuTorch's
  cpuinfo probe, absl/TensorFlow ``I0000 ...`` lines, LiteRT's "Created TensorFlow Lite XNNPACK delegate"). It runs in
  a small child process (so a C++ writer holding the GIL can never block it) and passes every other line unchanged.

:func:`toolkit.programs.parse_args` accepts ``--verbose`` on every command and calls :func:`set_verbose`.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Packages whose warnings are ours and always shown.
OWN_MODULES = r"(toolkit|export|calibration|firmware_bridge|examples|benchmarks|tests|__main__)(\..*)?$"
#: Loggers of the libraries the commands drive; set to ERROR unless verbose.
THIRD_PARTY_LOGGERS = (
    "torchao", "torch", "executorch", "transformers", "sentence_transformers", "huggingface_hub", "onnxscript",
    "onnx_ir", "onnxruntime", "litert_torch", "ai_edge_torch", "ai_edge_quantizer", "ai_edge_litert", "tensorflow",
    "absl", "jax", "bumble", "bleak", "matplotlib", "urllib3", "filelock", "numexpr",
)
#: Environment variables that quiet C++ loggers (read when the library loads); never overrides the user's.
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GLOG_minloglevel": "2"}
VERBOSE_FLAG = "--verbose"
VERBOSE_ENV = "MULTI3EDGE_VERBOSE"

#: C++ log lines (written straight to file descriptor 2) that the fd filter drops; errors (E/F lines) pass.
NOISE_LINES = (
    r"^\[cpuinfo_utils\.cpp:\d+\]",                                  # ExecuTorch's CPU probe
    r"^WARNING: All log messages before absl::InitializeLog\(\)",      # absl before its init
    r"^[IW]\d{4} [\d:.]+\s+\d+ [^\]]+\]",                          # absl/glog info and warning lines
    r"^INFO: Created TensorFlow Lite XNNPACK delegate",               # LiteRT interpreter
)

_FILTER_CHILD = """
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the command decides, we drain
noise = re.compile("|".join(sys.argv[1:]))
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    if not noise.match(line.decode("utf-8", "replace")):
        out.write(line)
        out.flush()
"""

_ORIGINAL_FORMAT = warnings.formatwarning
_state: dict[str, Any] = {"installed": False, "verbose": False, "filter": None}


def verbose_requested(argv: Sequence[str] | None = None) -> bool:
    """True when ``--verbose`` is among the arguments (default ``sys.argv[1:]``) or ``MULTI3EDGE_VERBOSE=1``."""
    args = sys.argv[1:] if argv is None else argv
    return VERBOSE_FLAG in args or os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def quiet_third_party(verbose: bool | None = None) -> None:
    """Hide third-party warnings and log lines (see the module docstring); ``verbose`` (default: from the command
    line and environment) leaves everything as Python and the libraries set it up."""
    verbose = verbose_requested() if verbose is None else verbose
    _state["verbose"] = verbose
    if verbose:
        return
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    if not sys.warnoptions:  # python -W ... on the command line wins
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=OWN_MODULES)
        warnings.formatwarning = _one_line_warning  # our warnings read "warning: ...", no file:line and source
    quiet_loggers()
    _state["installed"] = True
    if _is_command_process():
        filter_fd2()


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    """``warnings.formatwarning`` for the commands: one line, ``warning: <message>``."""
    return f"warning: {message}\n"


def _is_command_process() -> bool:
    """An ``edge-*`` console script, or ``python -m toolkit.cli...`` (argv[0] is ``-m`` while the package loads)."""
    argv0 = sys.argv[0] if sys.argv else ""
    return Path(argv0).name.startswith("edge-") or argv0 == "-m"


def filter_fd2() -> None:
    """Route file descriptor 2 through a child process that drops :data:`NOISE_LINES` (see the module docstring);
    restored at exit. Does nothing when already installed or when the child cannot start."""
    if _state["filter"] is not None:
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
        child = subprocess.Popen([sys.executable, "-c", _FILTER_CHILD, *NOISE_LINES], stdin=subprocess.PIPE,
                                 stdout=original, stderr=subprocess.DEVNULL, close_fds=True)
    except OSError:
        return
    assert child.stdin is not None
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()
    _state["filter"] = (child, original)
    atexit.register(_restore_fd2)


def _restore_fd2() -> None:
    """Give file descriptor 2 back and let the filter child write what it still holds."""
    item = _state["filter"]
    if item is None:
        return
    child, original = item
    _state["filter"] = None
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(original, 2)
    os.close(original)
    try:
        child.wait(timeout=2.0)  # EOF once no process holds the pipe (children of ours may still)
    except subprocess.TimeoutExpired:
        pass


def quiet_loggers() -> None:
    """Third-party loggers to ERROR (again: torch resets its loggers' levels when it is imported)."""
    if _state["verbose"]:
        return
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for name, logger in list(logging.root.manager.loggerDict.items()):  # children given their own level (torch)
        if isinstance(logger, logging.Logger) and logger.level and name.split(".")[0] in THIRD_PARTY_LOGGERS:
            logger.setLevel(max(logger.level, logging.ERROR))


def set_verbose(verbose: bool) -> None:
    """After parsing: ``--verbose`` undoes the quieting (later warnings and logs show), else the loggers are quieted
    once more (libraries imported since may have reset their levels)."""
    if verbose and _state["installed"]:
        _state["verbose"] = True
        _restore_fd2()
        warnings.resetwarnings()
        warnings.simplefilter("default")
        warnings.formatwarning = _ORIGINAL_FORMAT
        for name in THIRD_PARTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
    elif not verbose:
        quiet_loggers()


__all__ = ["NOISE_LINES", "OWN_MODULES", "QUIET_ENV", "THIRD_PARTY_LOGGERS", "VERBOSE_ENV", "VERBOSE_FLAG",
           "filter_fd2", "quiet_loggers", "quiet_third_party", "set_verbose", "verbose_requested"]
